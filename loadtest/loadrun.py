"""`make loadtest`: Locust, headless and bounded, against pixgate alone and through the edge.

    python -m loadtest.loadrun [--duration 30] [--users 12] [--scenario mixed] [--target both]

Starts pixgate (local storage and SQLite in a temporary folder, upload rate limit off) on a
free loopback port and, for the edge target, the nginx edge of config/edge in front of it;
runs loadtest/locustfile.py for a fixed time; writes Locust's CSV and HTML reports under
var/loadtest/; and exits non-zero when the error rate is above --max-error-rate or the p99
above --max-p99-ms, so it can gate a release. Everything it starts is stopped by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from config.edge import EdgeConfig, run_edge
from loadtest.harness.ports import HOST, free_port
from loadtest.processes import REPO, run_pixgate
from loadtest.upload_bench import make_photo

KEY, SALT = "6c6f6164746573742d6b6579", "6c6f61642d73616c74"
SCENARIOS = {
    "pageviews": ["PageViewUser"],
    "uploads": ["UploaderUser"],
    "mixed": ["PageViewUser", "UploaderUser"],
}
REPORTS = REPO / "var" / "loadtest"


@dataclass(frozen=True, slots=True)
class Outcome:
    target: str
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    requests_per_s: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 1.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest.loadrun", description=__doc__)
    parser.add_argument("--duration", type=int, default=30, help="seconds per target")
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--spawn-rate", type=float, default=6.0)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="mixed")
    parser.add_argument("--target", choices=["pixgate", "edge", "both"], default="both")
    parser.add_argument("--max-error-rate", type=float, default=0.001)
    parser.add_argument("--max-p99-ms", type=float, default=5000.0)
    parser.add_argument("--images", type=int, default=12, help="images uploaded before load")
    return parser.parse_args(argv)


@contextlib.contextmanager
def pixgate_stack(folder: Path, with_edge: bool) -> Iterator[str]:
    """pixgate, and the edge in front of it when asked; yield the URL load goes to."""
    (folder / "storage").mkdir()
    settings = {
        "PIXGATE_KEY": KEY,
        "PIXGATE_SALT": SALT,
        "PIXGATE_STORAGE_URL": f"file://{folder}/storage",
        "PIXGATE_DATABASE_URL": f"sqlite:///{folder}/pixgate.db",
        "PIXGATE_MIGRATE_ON_START": "true",
        "PIXGATE_UPLOAD_RATE": "0",
        "PIXGATE_LOG_LEVEL": "warning",
    }
    with run_pixgate(settings, folder / "pixgate.log") as server:
        if not with_edge:
            yield server.base_url
            return
        edge_port = free_port()
        edge = EdgeConfig(
            f"{HOST}:{edge_port}", server.base_url.removeprefix("http://"), folder / "edge"
        )
        with run_edge(edge):
            yield f"http://{HOST}:{edge_port}"


def run_locust(host: str, target: str, args: argparse.Namespace, photo: Path) -> Outcome:
    REPORTS.mkdir(parents=True, exist_ok=True)
    prefix = REPORTS / f"{target}-{args.scenario}"
    env = dict(
        os.environ,
        PIXGATE_KEY=KEY,
        PIXGATE_SALT=SALT,
        PIXGATE_LOAD_PHOTO=str(photo),
        PIXGATE_LOAD_IMAGES=str(args.images),
    )
    command = [
        sys.executable, "-m", "locust",
        "-f", str(REPO / "loadtest" / "locustfile.py"),
        "--headless", "--only-summary",
        "--host", host,
        "--users", str(args.users),
        "--spawn-rate", str(args.spawn_rate),
        "--run-time", f"{args.duration}s",
        "--stop-timeout", "10",
        "--csv", str(prefix),
        "--html", f"{prefix}.html",
        *SCENARIOS[args.scenario],
    ]  # fmt: skip
    # Locust's own exit code only says whether anything failed; the gate is ours below.
    subprocess.run(command, env=env, cwd=REPO, timeout=args.duration + 120, check=False)
    return read_outcome(target, Path(f"{prefix}_stats.csv"))


def read_outcome(target: str, stats_csv: Path) -> Outcome:
    with stats_csv.open(newline="") as handle:
        total = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    return Outcome(
        target=target,
        requests=int(total["Request Count"]),
        failures=int(total["Failure Count"]),
        p50_ms=float(total["50%"] or 0),
        p99_ms=float(total["99%"] or 0),
        requests_per_s=float(total["Requests/s"] or 0),
    )


def verdict(outcome: Outcome, args: argparse.Namespace) -> list[str]:
    """Why this outcome fails the gate; empty when it passes."""
    problems = []
    if outcome.requests == 0:
        problems.append("no request completed")
    if outcome.error_rate > args.max_error_rate:
        problems.append(f"error rate {outcome.error_rate:.3%} > {args.max_error_rate:.3%}")
    if outcome.p99_ms > args.max_p99_ms:
        problems.append(f"p99 {outcome.p99_ms:.0f} ms > {args.max_p99_ms:.0f} ms")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    targets = ["pixgate", "edge"] if args.target == "both" else [args.target]
    failed = False
    with tempfile.TemporaryDirectory(prefix="pixgate-load-") as work:
        os.chmod(work, 0o755)  # nginx workers run as another user when started by root
        photo = Path(work) / "photo.jpg"
        photo.write_bytes(make_photo())
        for target in targets:
            folder = Path(work) / target
            folder.mkdir()
            with pixgate_stack(folder, with_edge=target == "edge") as host:
                outcome = run_locust(host, target, args, photo)
            problems = verdict(outcome, args)
            failed |= bool(problems)
            result = "FAIL: " + "; ".join(problems) if problems else "ok"
            print(
                f"{target:8} {args.scenario}: {outcome.requests} requests, "
                f"{outcome.failures} failed ({outcome.error_rate:.3%}), "
                f"{outcome.requests_per_s:.1f} req/s, p50 {outcome.p50_ms:.0f} ms, "
                f"p99 {outcome.p99_ms:.0f} ms -> {result}"
            )
    print(f"reports: {REPORTS}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
