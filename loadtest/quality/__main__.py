"""`python -m loadtest.quality`: the quality benchmark (see loadtest.quality.run)."""

from __future__ import annotations

import sys

from loadtest.quality.run import main

sys.exit(main())
