"""Any interleaving of writes, runs of the ingester (any batch size) and logrotate's two kinds
of rotation counts every view exactly once. 25 examples in a normal run (each is a fresh
database); PIXGATE_PROPERTY_EXAMPLES=500 for a longer search."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtest.harness.edgelogs import LoggedRequest
from loadtest.ingest_bench import seed_sqlite
from tests.uploader.analytics.conftest import append, ingest, views
from uploader.ids import new_image_id
from uploader.migrate import migrate

IMAGE = new_image_id()

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 6)),
        st.tuples(st.just("ingest"), st.integers(1, 5)),
        st.tuples(st.just("rename"), st.just(0)),
        st.tuples(st.just("copytruncate"), st.just(0)),
    ),
    max_size=14,
)


def shift(log: Path) -> None:
    """logrotate's numbering: log.N becomes log.N+1, oldest first."""
    numbers = sorted(
        (int(path.name.rpartition(".")[2]) for path in log.parent.glob(f"{log.name}.*")),
        reverse=True,
    )
    for number in numbers:
        os.rename(f"{log}.{number}", f"{log}.{number + 1}")


@settings(
    max_examples=int(os.environ.get("PIXGATE_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(OPERATIONS)
def test_every_view_once_whatever_happens(operations: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory(prefix="pixgate-ingest-") as name:
        folder = Path(name)
        url = f"sqlite://{folder}/views.db"
        asyncio.run(migrate(url))
        seed_sqlite(url, [IMAGE])
        log = folder / "access.log"
        log.touch()
        written = 0
        for operation, amount in [*operations, ("append", 1), ("ingest", 4)]:
            if operation == "append":
                # Every line has its own time, as nginx's $msec gives it: copytruncate is told
                # by the first bytes changing.
                at = 1_764_648_258.0 + written / 1000
                append(
                    log, *(LoggedRequest(f"/{IMAGE}_m", at=at + n / 1000) for n in range(amount))
                )
                written += amount
            elif operation == "ingest":
                ingest(url, log, batch_lines=amount)
            elif operation == "rename":
                shift(log)
                os.rename(log, f"{log}.1")
                log.touch()
            else:
                shift(log)
                shutil.copyfile(log, f"{log}.1")
                os.truncate(log, 0)
        assert views(url).get(IMAGE, 0) == written
