"""The peer benchmark's report: its typed results (`PeersRun`) as blocks of
`loadtest.report`, printed as text and written as markdown."""

from __future__ import annotations

import math
from collections.abc import Mapping

from loadtest.imageset import SCALING
from loadtest.peer_results import (
    BARE_LOOPS,
    CACHE_MODE_LABELS,
    CacheMode,
    CacheSkipped,
    Check,
    PeersMeta,
    PeersRun,
    cells,
)
from loadtest.peer_servers import TRANSFORMS, Transform
from loadtest.report import (
    BUSY_MACHINE_CORES,
    Block,
    Column,
    lines,
    mib,
    ratio,
    table,
    targets_table,
)


def report(run: PeersRun) -> list[Block]:
    blocks = [_header(run)]
    for transform in TRANSFORMS:
        if any(row.transform == transform.key for row in run.rows):
            blocks += _transform(run, transform)
    blocks.append(
        lines(
            "",
            "targets (issue 5), at every concurrency: pixgate req/s over the peer's; and by CPU, "
            "the peer's CPU ms per request over pixgate's",
        )
    )
    blocks.append(targets_table(run.targets))
    return blocks + _scaling(run) + _memory(run) + _cache_hits(run)


def _header(run: PeersRun) -> Block:
    meta, box = run.meta, run.meta.machine
    out = [
        "",
        f"pixgate vs peers  {meta.date}   ({meta.command})",
        f"  machine: {box.cores} cores ({box.cpu_model}), {box.memory_gib} GiB, "
        f"{box.platform}, Python {box.python}, libvips {box.libvips}; pixgate at {box.git}",
        "  bare pyvips: thumbnail + save from bytes in memory, one thread per client, libvips' "
        "defaults (threads per image = cores) unless --set gives VIPS_*; pixgate's encoder efforts",
        f"  bare, {meta.machine.cores} threads: the same loop with no more threads than cores, as "
        "pixgate runs no more transforms than PIXGATE_CONCURRENCY; only where clients > cores",
        *_peer_lines(meta),
        f"  pixgate: PIXGATE_CONCURRENCY={meta.pixgate_concurrency}, "
        f"PIXGATE_VIPS_THREADS={meta.pixgate_vips_threads}, WebP effort "
        f"{meta.efforts['webp']}, AVIF effort {meta.efforts['avif']}, file storage, source "
        f"cache on (holds the original, as the bare loop holds its bytes)"
        + (f"; --set {dict(meta.pixgate_overrides)}" if meta.pixgate_overrides else "")
        + (f"; env {dict(meta.vips_env)}" if meta.vips_env else ""),
        f"  load: closed-loop aiohttp client (loadtest.loadgen) in its own process; "
        f"{meta.duration_s:g}s measured per system per row in {meta.rounds} alternating "
        f"rounds, {meta.warmup_s:g}s warm-up each; every request a distinct URL "
        f"(pixgate cb:N, peers one of {meta.copies} hard links of the source): each one transforms",
    ]
    out += [
        f"  {run.systems[key]}: NOT MEASURED: {reason.splitlines()[0]}"
        for key, reason in run.unavailable.items()
    ]
    return lines(*out)


def _peer_lines(meta: PeersMeta) -> list[str]:
    out = []
    if "thumbor" in meta.peers:
        t = meta.peers["thumbor"]
        out.append(
            f"  thumbor {t['thumbor']} (Pillow {t['pillow']}, libjpeg {t['libjpeg']}, "
            f"libwebp {t['libwebp']}, libavif {t['libavif']}): file loader, no storage, "
            f"no result storage; ENGINE_THREADPOOL_SIZE {meta.machine.cores} and 0"
        )
    if "ipx" in meta.peers:
        i = meta.peers["ipx"]
        out.append(
            f"  ipx {i['ipx']} (sharp {i['sharp']}, libvips {i['libvips']}, Node "
            f"{i['node']}; sharp.concurrency {i['sharp_concurrency']}, libuv pool "
            f"{i['uv_threadpool']}): `ipx serve --dir`, defaults"
        )
    return out


_SYSTEM_COLUMNS = (
    Column("system", 18, "<"),
    Column("conc", 5),
    Column("req/s", 8),
    Column("p50 ms", 9),
    Column("p99 ms", 9),
    Column("errors", 7),
    Column("CPU ms/req", 11),
    Column("out bytes", 10),
    Column("PSNR dB", 8),
    Column("peak RSS", 10),
)
_RATIO_COLUMNS = (
    Column("ratio pixgate/peer", 24, "<"),
    Column("req/s (per round)", 24, "<"),
    Column("CPU/req peer/pg", 16),
    Column("bytes pg/peer", 15),
)


def _transform(run: PeersRun, transform: Transform) -> list[Block]:
    grid = {key: row for key, row in cells(run.rows).items() if key[0] == transform.key}
    labels, checks = run.systems, run.checks.get(transform.key, {})
    source_bytes = run.meta.source_bytes.get(transform.source.name, 0)
    measured = [
        (
            labels[system],
            str(concurrency),
            f"{m.per_second:.1f}",
            f"{m.summary.p50_ms:.0f}",
            f"{m.summary.p99_ms:.0f}",
            str(m.summary.errors),
            f"{m.cpu_ms_per_request:.1f}",
            f"{m.output_bytes:,.0f}",
            "(=pg)" if system in BARE_LOOPS else f"{_psnr(checks, system):.1f}",
            mib(m.peak_rss_bytes),
        )
        for (_, concurrency), systems in grid.items()
        for system, m in systems.items()
    ]
    failed = [f"  {labels[s]}: {c.detail}" for s, c in checks.items() if not c.ok]
    ratios = []
    for (_, concurrency), systems in grid.items():
        pixgate = systems.get("pixgate")
        if pixgate is None:
            continue
        for system, m in systems.items():
            if system == "pixgate":
                continue
            rounds = [
                ratio(p, o)
                for p, o in zip(pixgate.segment_per_second, m.segment_per_second, strict=True)
            ]
            per_second = ratio(pixgate.per_second, m.per_second)
            ratios.append(
                (
                    f"{labels[system]} x{concurrency}",
                    f"{per_second:.2f} ({min(rounds):.2f}-{max(rounds):.2f})",
                    f"{ratio(m.cpu_ms_per_request, pixgate.cpu_ms_per_request):.2f}",
                    f"{ratio(pixgate.output_bytes, m.output_bytes):.2f}",
                )
            )
    everything = [m for systems in grid.values() for m in systems.values()]
    noise = max((m.other_cpu_cores for m in everything), default=0.0)
    client = [
        m.client_cpu_ms_per_request
        for systems in grid.values()
        for s, m in systems.items()
        if s not in BARE_LOOPS
    ]
    warning = "  WARNING: busy machine, ratios less reliable" if noise > BUSY_MACHINE_CORES else ""
    loop = [
        f"x{c} {systems['pixgate'].main_thread_cpu_ms_per_request:.1f}"
        for (_, c), systems in grid.items()
        if "pixgate" in systems
    ]
    return [
        lines("", f"{transform.key}  {transform.title}   (source {source_bytes:,} bytes)"),
        table(measured, _SYSTEM_COLUMNS, rule=True),
        lines(*failed),
        table(ratios, _RATIO_COLUMNS),
        lines(
            f"  pixgate's event-loop thread, CPU ms per request: {', '.join(loop)}",
            f"  load client CPU {min(client, default=math.nan):.1f}-"
            f"{max(client, default=math.nan):.1f} ms/request; other processes on the machine "
            f"up to {noise:.2f} cores{warning}",
        ),
    ]


def _psnr(checks: Mapping[str, Check], system: str) -> float:
    return checks[system].psnr_db if system in checks else math.nan


_SCALING_COLUMNS = (
    Column("source", 12, "<"),
    Column("MP", 5),
    Column("bytes", 12),
    Column("bare ms", 9),
    Column("pixgate ms", 11),
    Column("ratio", 7),
    Column("bare CPU", 10),
    Column("pg CPU", 8),
    Column("x of 1 MP (pg)", 15),
)


def _scaling(run: PeersRun) -> list[Block]:
    if not run.scaling:
        return []
    modes = {(row.source, row.mode): row.measured for row in run.scaling}
    rows = []
    first: float | None = None
    for source in SCALING:
        if (source.name, "pixgate") not in modes:
            continue
        bare, pixgate = modes[source.name, "bare"], modes[source.name, "pixgate"]
        pixgate_ms, bare_ms = pixgate.summary.mean_ms, bare.summary.mean_ms
        first = first or pixgate_ms
        rows.append(
            (
                f"{source.width}x{source.height}",
                f"{source.megapixels:.1f}",
                f"{run.meta.source_bytes.get(source.name, 0):,}",
                f"{bare_ms:.0f}",
                f"{pixgate_ms:.0f}",
                f"{ratio(pixgate_ms, bare_ms):.2f}",
                f"{bare.cpu_ms_per_request:.0f}",
                f"{pixgate.cpu_ms_per_request:.0f}",
                f"{ratio(pixgate_ms, first):.2f}",
            )
        )
    return [
        lines(
            "",
            f"scaling: source size -> {run.meta.scaling_width}px WebP q80, one client "
            "(closed loop)",
        ),
        table(rows, _SCALING_COLUMNS),
        lines("  (ms = mean time per request; CPU = CPU ms per request of the server/loop)"),
    ]


def _memory(run: PeersRun) -> list[Block]:
    memory = run.memory
    if memory is None:
        return []
    status = "MET" if memory.met else "MISSED"
    return [
        lines(
            "",
            f"memory: a fresh pixgate (PIXGATE_CONCURRENCY={memory.server_concurrency}), "
            f"{memory.clients} clients on distinct URLs of the {memory.megapixels:.0f} MP "
            f"source for {memory.seconds:g}s",
            f"  peak RSS (VmHWM) {memory.peak_rss_bytes / 1e6:.0f} MB "
            f"({mib(memory.peak_rss_bytes)}); after start-up "
            f"{mib(memory.rss_after_start_bytes)}, at the end {mib(memory.rss_at_end_bytes)}; "
            f"target < 300 MB: {status}",
            f"  {memory.completed} requests, {memory.errors} errors {dict(memory.statuses)}, "
            f"p50 {memory.p50_ms:.0f} ms, p99 {memory.p99_ms:.0f} ms",
        )
    ]


_CACHE_COLUMNS = (
    Column("", 38, "<"),
    Column("req/s", 9),
    Column("p50 ms", 8),
    Column("p99 ms", 8),
    Column("nginx µs/req", 13),
    Column("nginx cores", 12),
    Column("wrk cores", 10),
    Column("errors", 7),
)


def _cache_hits(run: PeersRun) -> list[Block]:
    cache = run.cache_hits
    if cache is None:
        return []
    if isinstance(cache, CacheSkipped):
        return [lines("", f"cache hits: skipped: {cache.skipped}")]
    rows = [_cache_row(label, cache.modes[mode]) for mode, label in CACHE_MODE_LABELS.items()]
    edge, static = cache.modes["edge"], cache.modes["static"]
    by_cpu = ratio(edge.nginx_cpu_us_per_request, static.nginx_cpu_us_per_request)
    return [
        lines(
            "",
            f"cache hits: one {cache.variant_bytes:,}-byte WebP variant; {cache.client} "
            f"(wrk {cache.wrk_version}), {cache.seconds_per_round:g}s x {cache.rounds} "
            f"alternating rounds each",
        ),
        table(rows, _CACHE_COLUMNS),
        lines(
            f"  edge/static: {ratio(edge.per_second, static.per_second):.2f} by req/s, "
            f"{by_cpu:.2f} by nginx CPU per request; requests that reached pixgate during the "
            f"edge load: {cache.origin_requests_during_load:.0f} "
            f"(first requests: {list(cache.prime_statuses)})"
        ),
    ]


def _cache_row(label: str, m: CacheMode) -> tuple[str, ...]:
    return (
        label,
        f"{m.per_second:,.0f}",
        f"{m.p50_ms:.2f}",
        f"{m.p99_ms:.2f}",
        f"{m.nginx_cpu_us_per_request:.0f}",
        f"{m.nginx_cpu_cores:.2f}",
        f"{m.wrk_cpu_cores:.2f}",
        str(m.non_2xx + m.socket_errors),
    )
