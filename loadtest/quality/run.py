"""Render every variant with every system, score each render, write results and report.

    python -m loadtest.quality [--quick] [--photos a.jpg,b.png] [--formats jpeg,webp]
                               [--systems pixgate,libvips,sharp,thumbor] [--sweep 40,60,80]

Renders run one at a time in each system's own process (so each render's CPU time is its
own); scoring then uses every core. Renders of the peers and of libvips are cached in
var/bench/quality keyed by their versions and the request (pixgate is always rendered
afresh: its code is what changes); scores are cached by the bytes' hashes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

from loadtest.peer_servers import PeerUnavailable
from loadtest.quality.corpus import (
    GEOMETRIES,
    Variant,
    geometries_named,
    load_photos,
    variants,
)
from loadtest.quality.results import Run, Sample, Unavailable
from loadtest.quality.scoring import Job, ScoreCache, digest, score_all
from loadtest.quality.systems import (
    FORMATS,
    LibvipsRenderer,
    PixgateRenderer,
    Quality,
    Rendered,
    Renderer,
    Request,
    Unsupported,
)

REPO = Path(__file__).resolve().parent.parent.parent
WORK_DIR = REPO / "var" / "bench" / "quality"
DOCS = REPO / "docs"
SYSTEMS = ("pixgate", "libvips", "sharp", "sharp-mozjpeg", "thumbor")
# Peers' renders are reused across runs (keyed by their versions); pixgate's only when the
# code it renders with is committed and unchanged (keyed by its git trees and settings).
CACHED_SYSTEMS = frozenset({"libvips", "sharp", "sharp-mozjpeg", "thumbor"})
# The sweep: the same explicit qualities for every system (their scales differ; the
# BD-rate compares curves, not numbers).
SWEEP = {
    "jpeg": (30, 45, 60, 70, 80, 90, 95),
    "webp": (30, 45, 60, 70, 80, 90, 95),
    "avif": (25, 35, 45, 55, 65, 75, 85),
}
SCORER_CHECK_PAIRS = 6
DETERMINISM_CHECKS = 4  # q:auto renders per format rendered a second time
# pixgate's fixed quality when its default is `auto`: q80, its fixed default before q:auto.
FIXED_QUALITY = 80
LABELS = {
    "pixgate": "pixgate",
    "libvips": "libvips defaults",
    "sharp": "sharp (ipx)",
    "sharp-mozjpeg": "sharp, mozjpeg",
    "thumbor": "thumbor (Pillow)",
}
QUICK_PHOTOS = ("kodim23.png", "kodim08.png")
QUICK_SWEEP = {"jpeg": (50, 85), "webp": (50, 85), "avif": (40, 70)}


@dataclass(frozen=True, slots=True)
class Plan:
    variants: tuple[Variant, ...]
    formats: tuple[str, ...]
    systems: tuple[str, ...]
    sweep: dict[str, tuple[int, ...]]
    pixgate_settings: dict[str, str]
    reuse_renders: bool


class RenderCache:
    """Renders of the systems whose code does not change here, keyed by their versions."""

    def __init__(self, path: Path, blob_dir: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS renders (key TEXT PRIMARY KEY, sha TEXT, cpu_ms REAL)"
        )
        self._blobs = blob_dir

    def get(self, key: str) -> tuple[str, float] | None:
        row = self._db.execute("SELECT sha, cpu_ms FROM renders WHERE key = ?", (key,)).fetchone()
        if row is None or not (self._blobs / row[0]).is_file():
            return None
        return str(row[0]), float(row[1])

    def put(self, key: str, sha: str, cpu_ms: float) -> None:
        self._db.execute("INSERT OR REPLACE INTO renders VALUES (?, ?, ?)", (key, sha, cpu_ms))
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def store_blob(blob_dir: Path, data: bytes) -> str:
    sha = digest(data)
    path = blob_dir / sha
    if not path.exists():
        path.write_bytes(data)
    return sha


@contextlib.contextmanager
def open_renderer(name: str, plan: Plan, work_dir: Path) -> Iterator[Renderer]:
    if name == "pixgate":
        yield PixgateRenderer(plan.pixgate_settings)
    elif name == "libvips":
        yield LibvipsRenderer()
    elif name in ("sharp", "sharp-mozjpeg"):
        from loadtest.quality.peers import run_sharp

        with run_sharp(work_dir / "sharp.log", mozjpeg=name == "sharp-mozjpeg") as sharp:
            yield sharp
    elif name == "thumbor":
        from loadtest.quality.peers import run_thumbor_renderer

        with run_thumbor_renderer(work_dir) as thumbor:
            yield thumbor
    else:
        raise ValueError(f"unknown system {name!r}")


def qualities(renderer: Renderer, output_format: str, plan: Plan) -> list[Quality]:
    wanted: list[Quality] = ["default"]
    if isinstance(renderer, PixgateRenderer):
        wanted.append("auto")
        fixed = fixed_quality(renderer, output_format)
        if fixed not in plan.sweep[output_format]:
            wanted.append(fixed)
    wanted.extend(plan.sweep[output_format])
    return wanted


def fixed_quality(renderer: PixgateRenderer, output_format: str) -> int:
    """The fixed quality q:auto is compared with for CPU: the format's configured one
    (PIXGATE_FORMAT_QUALITY, else PIXGATE_QUALITY) when it is a number, else FIXED_QUALITY."""
    settings = renderer.settings
    configured = dict(settings.format_quality).get(output_format, settings.quality)
    return configured if isinstance(configured, int) and configured > 0 else FIXED_QUALITY


def _cache_key(renderer: Renderer, versions: dict[str, Any], request: Request) -> str:
    photo = request.variant.photo
    return json.dumps(
        [renderer.name, versions, photo.sha256, request.key], sort_keys=True, default=str
    )


def render_system(
    renderer: Renderer,
    plan: Plan,
    blob_dir: Path,
    cache: RenderCache | None,
    unavailable: dict[tuple[str, str, str], Unavailable],
) -> list[tuple[Request, str, float, bool, str]]:
    """(request, blob sha, CPU ms, cached, reference sha) for every render of one system."""
    versions = renderer.versions()
    out: list[tuple[Request, str, float, bool, str]] = []
    # A configuration that exists for some formats only (sharp's mozjpeg) renders those.
    supported: tuple[str, ...] = getattr(renderer, "formats", FORMATS)
    formats = [f for f in plan.formats if f in supported]
    started = time.monotonic()
    for index, variant in enumerate(plan.variants):
        reference, _, _ = _render(
            renderer, Request(variant, "png", "default"), versions, blob_dir, cache
        )
        for output_format in formats:
            default: tuple[Request, str, float, bool, str] | None = None
            for quality in qualities(renderer, output_format, plan):
                request = Request(variant, output_format, quality)
                label = quality if isinstance(quality, str) else "explicit"
                if (
                    quality == "auto"
                    and default is not None
                    and _default_is_auto(renderer, output_format)
                ):
                    # The default already is q:auto: the same request, rendered once.
                    out.append((request, *default[1:]))
                    continue
                if (renderer.name, output_format, label) in unavailable:
                    continue
                try:
                    sha, cpu_ms, cached = _render(renderer, request, versions, blob_dir, cache)
                except Unsupported as error:
                    unavailable[renderer.name, output_format, label] = Unavailable(
                        renderer.name, output_format, label, str(error)
                    )
                    continue
                except (RuntimeError, OSError, ValueError, pyvips.Error) as error:
                    # One failed render is reported with the run, not fatal to it.
                    print(f"  {renderer.name} {request.key}: FAILED {error}", flush=True)
                    unavailable[renderer.name, output_format, f"failed {request.key}"] = (
                        Unavailable(renderer.name, output_format, request.key, str(error)[:300])
                    )
                    continue
                out.append((request, sha, cpu_ms, cached, reference))
                if quality == "default":
                    default = out[-1]
        print(
            f"  {renderer.name}: {index + 1}/{len(plan.variants)} variants "
            f"({time.monotonic() - started:.0f} s)",
            flush=True,
        )
    return out


def check_determinism(
    renderer: PixgateRenderer,
    entries: Sequence[tuple[Request, str, float, bool, str]],
    blob_dir: Path,
    per_format: int = DETERMINISM_CHECKS,
) -> dict[str, int]:
    """Render some q:auto variants again (fresh, never from a cache) and compare the bytes
    with the run's: the same URL and original must give the same bytes (ETags, the CDN)."""
    autos = [e for e in entries if e[0].quality == "auto"]
    checked = same = 0
    for output_format in dict.fromkeys(e[0].output_format for e in autos):
        chosen = [e for e in autos if e[0].output_format == output_format]
        step = max(1, len(chosen) // per_format)
        for request, sha, _, _, _ in chosen[::step][:per_format]:
            again = renderer.render(request).data
            checked += 1
            same += int(again == (blob_dir / sha).read_bytes())
    return {"checked": checked, "same": same}


def _default_is_auto(renderer: Renderer, output_format: str) -> bool:
    return isinstance(renderer, PixgateRenderer) and renderer.default_is_auto(output_format)


def _render(
    renderer: Renderer,
    request: Request,
    versions: dict[str, Any],
    blob_dir: Path,
    cache: RenderCache | None,
) -> tuple[str, float, bool]:
    key = _cache_key(renderer, versions, request)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit[0], hit[1], True
    rendered: Rendered = renderer.render(request)
    sha = store_blob(blob_dir, rendered.data)
    if cache is not None:
        cache.put(key, sha, rendered.cpu_ms)
    return sha, rendered.cpu_ms, False


def load_average() -> str:
    """The 1/5/15-minute load averages: the benchmark shares the machine with whatever runs."""
    with contextlib.suppress(OSError):
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "os": _os_name(),
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


def _git_head() -> str:
    with contextlib.suppress(OSError):
        import subprocess

        result = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        )
        if result.returncode == 0:
            return result.stdout.strip()
    return "unknown"


def execute(plan: Plan, work_dir: Path = WORK_DIR) -> Run:
    """Render, score and collect one run."""
    blob_dir = work_dir / "blobs"
    blob_dir.mkdir(parents=True, exist_ok=True)
    render_cache = RenderCache(work_dir / "renders.sqlite", blob_dir)
    unavailable: dict[tuple[str, str, str], Unavailable] = {}
    load_before = load_average()
    commit = _git_head()  # the code this run loads, before anything is committed meanwhile
    renders: dict[str, list[tuple[Request, str, float, bool, str]]] = {}
    versions: dict[str, Any] = {}
    settings_in_force: dict[str, Any] = {}
    auto_parses = False
    determinism: dict[str, int] = {}
    started = time.monotonic()
    try:
        for name in plan.systems:
            print(f"rendering with {name} ...", flush=True)
            try:
                with open_renderer(name, plan, work_dir) as renderer:
                    versions[name] = renderer.versions()
                    if isinstance(renderer, PixgateRenderer):
                        settings_in_force = renderer.settings_in_force()
                        settings_in_force["fixed_quality"] = {
                            f: fixed_quality(renderer, f) for f in plan.formats
                        }
                        auto_parses = renderer.supports_auto()
                    # pixgate's renders are reused only for committed, unchanged code.
                    reusable = name in CACHED_SYSTEMS or (
                        name == "pixgate" and versions[name].get("code") is not None
                    )
                    cache = render_cache if plan.reuse_renders and reusable else None
                    renders[name] = render_system(renderer, plan, blob_dir, cache, unavailable)
                    if isinstance(renderer, PixgateRenderer) and auto_parses:
                        determinism = check_determinism(renderer, renders[name], blob_dir)
            except PeerUnavailable as error:
                print(f"  {name}: NOT MEASURED ({error})", flush=True)
                for output_format in plan.formats:
                    unavailable[name, output_format, "all"] = Unavailable(
                        name, output_format, "all", str(error)
                    )
    finally:
        render_cache.close()
    render_seconds = time.monotonic() - started

    jobs: dict[str, list[str]] = {}
    for entries in renders.values():
        for _, sha, _, _, reference in entries:
            jobs.setdefault(reference, []).append(sha)
    print(f"scoring {sum(len(v) for v in jobs.values())} renders ...", flush=True)
    score_cache = ScoreCache(work_dir / "scores.sqlite")
    try:
        scores = score_all(
            [Job(ref, tuple(d)) for ref, d in jobs.items()],
            blob_dir,
            score_cache,
            progress=_progress,
        )
    finally:
        score_cache.close()

    scorer_check = _check_scorer(renders, scores, blob_dir)
    samples = []
    for name, entries in renders.items():
        for request, sha, cpu_ms, cached, reference in entries:
            samples.append(
                Sample(
                    system=name,
                    photo=request.variant.photo.name,
                    geometry=request.variant.geometry.key,
                    output_format=request.output_format,
                    quality=str(request.quality),
                    size_bytes=(blob_dir / sha).stat().st_size,
                    cpu_ms=round(cpu_ms, 3),
                    score=None
                    if scores[reference, sha] is None
                    else round(scores[reference, sha] or 0.0, 4),
                    cached=cached,
                )
            )
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "pixgate_commit": commit,
        "machine": machine(),
        "versions": versions,
        "settings": settings_in_force,
        "q_auto_parses": auto_parses,
        "q_auto_determinism": determinism,
        "photos": sorted({v.photo.name for v in plan.variants}),
        "geometries": sorted({v.geometry.key for v in plan.variants}),
        "variants": len(plan.variants),
        "formats": list(plan.formats),
        "systems": list(plan.systems),
        "sweep": {k: list(v) for k, v in plan.sweep.items()},
        "render_seconds": round(render_seconds, 1),
        "scorer_check": scorer_check,
        "total_seconds": round(time.monotonic() - started, 1),
        "load_average": {"start": load_before, "end": load_average()},
        "labels": LABELS,
    }
    return Run(tuple(samples), tuple(unavailable.values()), meta)


def _check_scorer(
    renders: dict[str, list[tuple[Request, str, float, bool, str]]],
    scores: dict[tuple[str, str], float | None],
    blob_dir: Path,
    pairs: int = SCORER_CHECK_PAIRS,
) -> list[tuple[float, float]]:
    """(reference package, port) for a few pairs of small renders spread over the run."""
    try:
        from loadtest.quality.scoring import reference_score
    except ImportError:
        return []
    small = [
        (sha, reference)
        for entries in renders.values()
        for request, sha, _, _, reference in entries
        if request.variant.geometry.key in ("fit150", "cover300", "fit500")
        and scores.get((reference, sha)) is not None
    ]
    step = max(1, len(small) // pairs)
    checked = []
    for sha, reference in small[::step][:pairs]:
        expected = reference_score(
            (blob_dir / reference).read_bytes(), (blob_dir / sha).read_bytes()
        )
        checked.append((round(expected, 4), round(scores[reference, sha] or 0.0, 4)))
    return checked


def _progress(done: int, total: int) -> None:
    if done == total or done % 20 == 0:
        print(f"  scored {done}/{total} references' renders", flush=True)


def _names(text: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown[0]!r}; choose from {', '.join(allowed)}")
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.quality", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 photos, fit500, 2 sweep points"
    )
    parser.add_argument("--photos", help="comma-separated corpus file names (default: all)")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument(
        "--geometries", help="comma-separated: " + ", ".join(g.key for g in GEOMETRIES)
    )
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--sweep", help="explicit qualities for every format, e.g. 40,60,80")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PIXGATE_NAME=VALUE",
        help="a pixgate setting for this run",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="render the peers and libvips again instead of reusing cached renders",
    )
    parser.add_argument("--work-dir", type=Path, default=WORK_DIR, help="renders, caches, logs")
    parser.add_argument("--output", type=Path, help="results JSON (default: WORK_DIR/results.json)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="where quality.md and the plots go")
    parser.add_argument("--no-docs", action="store_true", help="print the report, write no docs")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="an earlier run's results JSON: its pixgate renders are compared as 'pixgate before'",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from --output"
    )
    return parser.parse_args(argv)


def build_plan(args: argparse.Namespace) -> Plan:
    formats = _names(args.formats, FORMATS, "format")
    systems = _names(args.systems, SYSTEMS, "system")
    if args.photos:
        names: Sequence[str] | None = [n.strip() for n in args.photos.split(",") if n.strip()]
    elif args.quick:
        names = QUICK_PHOTOS
    else:
        names = None
    if args.geometries:
        geometries = geometries_named(n.strip() for n in args.geometries.split(","))
    elif args.quick:
        geometries = geometries_named(["fit500"])
    else:
        geometries = GEOMETRIES
    if args.sweep:
        points = tuple(int(q) for q in args.sweep.split(","))
        sweep = {f: points for f in FORMATS}
    else:
        sweep = dict(QUICK_SWEEP if args.quick else SWEEP)
    settings = {}
    for item in args.set:
        name, equals, value = item.partition("=")
        if not equals or not name.startswith("PIXGATE_"):
            raise SystemExit(f"--set {item!r}: expected PIXGATE_NAME=VALUE")
        settings[name] = value
    selected = tuple(variants(load_photos(names), geometries))
    if not selected:
        raise SystemExit("no variant: every geometry chosen would enlarge the photos chosen")
    return Plan(
        variants=selected,
        formats=formats,
        systems=systems,
        sweep=sweep,
        pixgate_settings=settings,
        reuse_renders=not args.fresh,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from loadtest.quality import report

    args = parse_args(argv)
    output: Path = args.output or args.work_dir / "results.json"
    if args.report_only:
        run = Run.from_json(output.read_text())
    else:
        plan = build_plan(args)
        print(
            f"{len(plan.variants)} variants x {len(plan.formats)} formats, systems: "
            f"{', '.join(plan.systems)}",
            flush=True,
        )
        run = execute(plan, args.work_dir)
        run.save(output)
        print(f"wrote {output}", flush=True)
    baseline = Run.from_json(args.baseline.read_text()) if args.baseline else None
    text = report.write(run, None if args.no_docs else args.docs, baseline)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
