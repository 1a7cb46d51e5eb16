"""`pixgate analytics ingest` and `pixgate analytics report` (registered by uploader.commands)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import start_http_server, write_to_textfile

from config import Settings, load_settings
from proxy.logs import configure_logging
from proxy.option_parsers import presets_from_setting
from uploader.analytics.attribution import Attributor
from uploader.analytics.formats import FORMATS
from uploader.analytics.ingest import CRASH_POINTS, CrashAt, IngestTotals, LogIngester
from uploader.analytics.metrics import IngestMetrics
from uploader.analytics.report import build_report, parse_window, render_table
from uploader.analytics.storage_cost import storage_cost
from uploader.analytics.store import AnalyticsStore, open_store
from uploader.db import RepositoryError, RepositoryUnavailable

log = logging.getLogger("pixgate.analytics")

STORAGE_REFRESH_SECONDS = 60.0
RETRY_FIRST_SECONDS = 1.0
RETRY_LAST_SECONDS = 30.0


def register(commands: Any) -> None:
    """Add `analytics` and its actions to `commands` (an argparse sub-parsers action)."""
    analytics = commands.add_parser("analytics", help="views and edge figures from edge logs")
    actions = analytics.add_subparsers(required=True, metavar="ACTION")

    ingest = actions.add_parser(
        "ingest", help="count views and edge figures from access logs (incrementally)"
    )
    ingest.add_argument("logs", nargs="+", type=Path, metavar="LOG", help="log file path(s)")
    ingest.add_argument("--format", choices=sorted(FORMATS), default="nginx")
    ingest.add_argument("--follow", action="store_true", help="keep reading until stopped")
    ingest.add_argument(
        "--poll", type=float, default=1.0, help="seconds between reads with --follow"
    )
    ingest.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    ingest.add_argument("--metrics-bind", default="127.0.0.1", help="address for the metrics")
    ingest.add_argument(
        "--textfile", type=Path, help="write the metrics to this file (node_exporter textfile)"
    )
    ingest.add_argument(
        "--batch-lines",
        type=int,
        help="lines per transaction (default: PIXGATE_ANALYTICS_BATCH_LINES)",
    )
    # Tests only: SIGKILL this process at POINT of its N-th commit (read, commit, committed).
    ingest.add_argument("--crash-at", type=_crash_at, help=argparse.SUPPRESS)
    ingest.set_defaults(run=_ingest)

    report = actions.add_parser("report", help="edge figures of a recent window, storage cost")
    report.add_argument("--since", type=parse_window, default=parse_window("1h"))
    report.add_argument("--json", action="store_true", help="print JSON")
    report.set_defaults(run=_report)


def _crash_at(text: str) -> CrashAt:
    point, _, batch = text.partition(":")
    if point not in CRASH_POINTS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(CRASH_POINTS)}[:N]")
    return CrashAt(point, int(batch) if batch else 1)


def _prices(settings: Settings) -> Mapping[str, float]:
    return dict(settings.storage_prices)


def _ingest(args: argparse.Namespace) -> int:
    settings = load_settings(dev=True)
    configure_logging(settings.log_level)
    attributor = Attributor(
        settings.storage_url,
        settings.allowed_sources,
        presets_from_setting(settings.presets_text),
    )
    metrics = IngestMetrics()
    stop = threading.Event()
    if args.follow:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    if args.metrics_port is not None:
        start_http_server(args.metrics_port, addr=args.metrics_bind, registry=metrics.registry)
    totals: dict[str, IngestTotals] = {}
    retry = RETRY_FIRST_SECONDS
    while not stop.is_set():
        try:
            with open_store(settings.database_url, timeout=settings.db_timeout) as store:
                ingesters = [
                    LogIngester(
                        store,
                        path,
                        FORMATS[args.format],
                        attributor.image_id,
                        batch_lines=args.batch_lines or settings.analytics_batch_lines,
                        on_commit=metrics.committed,
                        crash_at=args.crash_at,
                    )
                    for path in args.logs
                ]
                try:
                    _passes(args, settings, store, ingesters, metrics, stop)
                    break
                finally:
                    for ingester in ingesters:
                        _add(totals.setdefault(ingester.source, IngestTotals()), ingester.totals)
        except RepositoryUnavailable as error:
            # Counts and positions are committed together: trying again is always safe.
            if not args.follow:
                print(f"pixgate analytics ingest: {error}", file=sys.stderr)
                return 1
            log.warning("database unavailable, retrying", extra={"in": retry, "reason": str(error)})
            stop.wait(retry)
            retry = min(retry * 2, RETRY_LAST_SECONDS)
        except (RepositoryError, ValueError) as error:
            print(f"pixgate analytics ingest: {error}", file=sys.stderr)
            return 1
    print(json.dumps(_summary(totals), indent=2))
    return 0


def _passes(
    args: argparse.Namespace,
    settings: Settings,
    store: AnalyticsStore,
    ingesters: list[LogIngester],
    metrics: IngestMetrics,
    stop: threading.Event,
) -> None:
    """Read every log, then again every --poll seconds with --follow, until stopped."""
    refreshed = -STORAGE_REFRESH_SECONDS
    while True:
        for ingester in ingesters:
            ingester.run_once()
            metrics.lag(ingester.source, ingester.lag_bytes())
        if time.monotonic() - refreshed >= STORAGE_REFRESH_SECONDS:
            metrics.storage(storage_cost(store, _prices(settings), datetime.now(UTC)))
            refreshed = time.monotonic()
        if args.textfile is not None:
            write_to_textfile(str(args.textfile), metrics.registry)
        if not args.follow or stop.wait(args.poll):
            return


def _add(total: IngestTotals, more: IngestTotals) -> None:
    for name, value in asdict(more).items():
        setattr(total, name, getattr(total, name) + value)


def _summary(totals: Mapping[str, IngestTotals]) -> dict[str, Any]:
    total = IngestTotals()
    for source_totals in totals.values():
        _add(total, source_totals)
    return {
        "total": asdict(total),
        "sources": {source: asdict(value) for source, value in totals.items()},
    }


def _report(args: argparse.Namespace) -> int:
    settings = load_settings(dev=True)
    try:
        store: AnalyticsStore
        with open_store(settings.database_url, timeout=settings.db_timeout) as store:
            report = build_report(store, window=args.since, prices=_prices(settings))
    except RepositoryError as error:
        print(f"pixgate analytics report: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else render_table(report))
    return 0
