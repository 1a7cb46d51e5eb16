"""The peer benchmark's run: make the images, start pixgate, the bare loop and the peers,
check each one's output, load them in turn, and return what was measured (`PeersRun`).
Every server started here is stopped by its PID when the run ends, however it ends."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pixgate_signing import UrlBuilder

from config.settings import variable_value
from loadtest import imageset, machine
from loadtest.checks import check
from loadtest.imageset import CUTOUT, PHOTO, SCALING
from loadtest.peer_measure import measure_cache_hits, measure_grid, measure_memory, measure_scaling
from loadtest.peer_plan import (
    COPIES,
    IMAGES,
    PIXGATE_URLS,
    SCALING_WIDTH,
    SOURCE_CACHE_TTL_S,
    PeersPlan,
    encoder_efforts,
    peer_path,
    pixgate_urls,
    write_urls,
)
from loadtest.peer_results import (
    BARE_AT_CORES,
    Check,
    PeersMeta,
    PeersRun,
    TransformInfo,
    systems,
)
from loadtest.peer_servers import (
    TRANSFORMS,
    PeerUnavailable,
    Transform,
    ensure_ipx,
    ensure_thumbor,
    peer_versions,
    pixgate_url,
    run_ipx,
    run_thumbor,
)
from loadtest.peer_targets import peer_targets
from loadtest.processes import Server, run_pixgate
from loadtest.segments import bare_segment, http_segment


def start_peers(
    stack: contextlib.ExitStack, log_dir: Path, unavailable: dict[str, str], wanted: set[str]
) -> dict[str, Server]:
    """Install (first time) and start the peers; one that fails is noted and left out."""
    servers: dict[str, Server] = {}
    install_log = log_dir / "peers-install.log"
    for key, pool in (("thumbor", machine.cores()), ("thumbor0", 0)):
        if key not in wanted:
            continue
        try:
            script = ensure_thumbor(install_log)
            servers[key] = stack.enter_context(run_thumbor(script, IMAGES, pool, log_dir))
        except PeerUnavailable as error:
            unavailable[key] = str(error)
    if "ipx" not in wanted:
        return servers
    try:
        servers["ipx"] = stack.enter_context(run_ipx(ensure_ipx(install_log), IMAGES, log_dir))
    except PeerUnavailable as error:
        unavailable["ipx"] = str(error)
    return servers


def run_checks(
    builder: UrlBuilder, servers: Mapping[str, Server], transforms: Sequence[Transform]
) -> dict[str, dict[str, Check]]:
    checks: dict[str, dict[str, Check]] = {}
    for transform in transforms:
        per_system = checks.setdefault(transform.key, {})
        for key, server in servers.items():
            if key == "pixgate":
                url = pixgate_url(builder, transform, PIXGATE_URLS)  # a cachebuster of its own
                reference = pixgate_url(builder, transform, None)
            else:
                name = transform.source.name
                url = server.base_url + peer_path(key, transform, name)
                reference = server.base_url + peer_path(key, transform, name, lossless=True)
            per_system[key] = check(url, reference, transform)
    return checks


def run(plan: PeersPlan) -> PeersRun:
    log_dir = plan.log_dir
    transforms = [t for t in TRANSFORMS if t.key in plan.transforms] if plan.grid else []
    unavailable: dict[str, str] = {}
    started = time.perf_counter()
    sizes = imageset.ensure(IMAGES, (PHOTO, CUTOUT), copies=COPIES)
    if plan.scaling or plan.memory:
        sizes |= imageset.ensure(IMAGES, SCALING)
    print(f"  images ready in {IMAGES} ({time.perf_counter() - started:.0f}s)", flush=True)
    settings = {
        **plan.settings,
        "PIXGATE_KEY": secrets.token_hex(32),
        "PIXGATE_SALT": secrets.token_hex(16),
        "PIXGATE_STORAGE_URL": f"file://{IMAGES}",
        "PIXGATE_LOG_LEVEL": "warning",
        "PIXGATE_SOURCE_CACHE_TTL": str(SOURCE_CACHE_TTL_S),
    }
    server_settings = {**settings, **plan.vips_env}
    bare_env = {**os.environ, **plan.vips_env} if plan.vips_env else None
    efforts = encoder_efforts(settings)
    with (
        tempfile.TemporaryDirectory(prefix="pixgate-peers-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        scratch = Path(tmp)
        pixgate = stack.enter_context(run_pixgate(server_settings, log_dir / "pixgate-peers.log"))
        servers = {"pixgate": pixgate}
        if transforms:
            servers |= start_peers(stack, log_dir, unavailable, set(plan.systems))
        pids = ", ".join(f"{key} {server.pid}" for key, server in servers.items())
        print(f"  servers up ({pids})", flush=True)
        builder = UrlBuilder(pixgate.base_url, settings["PIXGATE_KEY"], settings["PIXGATE_SALT"])
        checks = run_checks(builder, servers, transforms)

        bare = bare_segment(IMAGES, efforts, bare_env)
        bare_loops = {
            "bare": bare,
            BARE_AT_CORES: bare_segment(IMAGES, efforts, bare_env, machine.cores()),
        }
        segments = {key: loop for key, loop in bare_loops.items() if key in plan.systems}
        for key, server in servers.items():
            files = {}
            for transform in transforms:
                urls = (
                    pixgate_urls(builder, transform)
                    if key == "pixgate"
                    else [
                        server.base_url + peer_path(key, transform, transform.source.copy_name(i))
                        for i in range(COPIES)
                    ]
                )
                files[transform.key] = write_urls(scratch, f"{key}-{transform.key}", urls)
            segments[key] = http_segment(server, files)
        rows = measure_grid(plan, segments, checks, transforms)
        scaling = measure_scaling(plan, builder, pixgate, bare, scratch) if plan.scaling else []
        cache_hits = measure_cache_hits(plan, builder, pixgate) if plan.cache_hits else None
        stack.close()  # the peers' memory back before the memory test
        memory = measure_memory(plan, server_settings, scratch, log_dir) if plan.memory else None

    meta = PeersMeta(
        date=time.strftime("%Y-%m-%d %H:%M:%S"),
        command=plan.command,
        machine=machine.describe(),
        peers=peer_versions(),
        pixgate_overrides={k: v for k, v in settings.items() if k in plan.overrides},
        vips_env=dict(plan.vips_env),
        pixgate_concurrency=variable_value("PIXGATE_CONCURRENCY", settings),
        pixgate_vips_threads=variable_value("PIXGATE_VIPS_THREADS", settings),
        efforts=efforts,
        duration_s=plan.duration,
        rounds=plan.rounds,
        warmup_s=plan.warmup,
        concurrency=plan.concurrency,
        source_bytes=sizes,
        copies=COPIES,
        scaling_width=SCALING_WIDTH,
        elapsed_s=time.perf_counter() - started,
        loadavg_end=machine.loadavg(),
    )
    return PeersRun(
        meta=meta,
        systems={system.key: system.label for system in systems()},
        transforms=tuple(TransformInfo(t.key, t.title, t.short, t.source.name) for t in TRANSFORMS),
        unavailable=unavailable,
        checks=checks,
        rows=tuple(rows),
        targets=peer_targets(rows),
        scaling=tuple(scaling),
        memory=memory,
        cache_hits=cache_hits,
    )
