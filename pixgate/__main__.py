"""`python -m pixgate`: the same as the `pixgate` command."""

from pixgate.cli import main

raise SystemExit(main())
