"""docs/quality.md from a run: method, machine and versions, targets, tables, plots."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from loadtest.quality.analysis import (
    AutoSpread,
    auto_spread,
    bd_rates,
    common_variants,
    operating,
    sweep_cpu_ms,
)
from loadtest.quality.corpus import GEOMETRIES
from loadtest.quality.results import Run

PEERS = ("sharp", "sharp-mozjpeg", "thumbor", "libvips")
# An earlier run's pixgate (`--baseline`): compared with like a peer, never a target's peer.
BASELINE = "pixgate-baseline"
BASELINE_LABEL = "pixgate before"
BD_TARGET = -0.10
AUTO_BYTES_TARGET = 0.85
AUTO_CPU_TARGET = 2.5
Write = Callable[[str], None]


def _text(block: str) -> str:
    """A paragraph written indented over several lines, as one markdown line."""
    return " ".join(textwrap.dedent(block).split())


INTRO = _text(
    """
    `make bench-quality` (= `python -m loadtest.quality`, after `make install`) renders every
    photo of the real-photo corpus (`loadtest/corpus/photos/`, see its README) at the
    direct-link sizes (fit inside 150, 500 and 1200 px, never enlarging) and a 300x300 cover
    crop, as JPEG, WebP and AVIF, with pixgate and its peers; scores every render with
    SSIMULACRA2 against the same system's lossless (PNG) render of the same geometry, so
    resampling differences do not count as codec loss; and writes this page and its plots.
    `--quick` is a smoke run (2 photos, fit500, 2 sweep points); `--photos`, `--formats`,
    `--geometries`, `--systems`, `--sweep` select; `--set PIXGATE_NAME=value` tries a pixgate
    setting; `--report-only` rewrites this page from `var/bench/quality/results.json`. A
    first run renders everything (about 55 minutes on the 2-core machine below, most of it
    the peers' AVIF at effort 4, then scoring); later runs reuse the peers' renders and all
    scores from `var/bench/quality` and take a few minutes (pixgate's renders only while its
    code and settings are unchanged).
    """
)
CACHED = _text(
    """
    {cached} of the renders were reused from an earlier run on this machine with the same
    versions (the peers), or the same committed code and settings (pixgate); `--fresh`
    renders everything again. Their bytes are the same; their CPU time is the one measured
    then.
    """
)
LOAD = _text(
    """
    Load average (1 / 5 / 15 min) at the start of the run {start}, at its end {end}. On a
    shared machine other work slows the run and, less, each render's CPU time (caches and
    cores are shared); the systems render one after the other, never side by side.
    """
)
BD_METHOD = _text(
    """
    BD-rate: for each variant, log(bytes) as a monotone cubic (PCHIP) function of SSIMULACRA2
    over each system's sweep; the mean difference of the two functions over the score range
    both reach, as a ratio of bytes, minus one. Negative: pixgate needs fewer bytes for the
    same score. "per variant" is the mean of the variants' BD-rates (variants whose ranges
    do not overlap are skipped and counted); "corpus curve" compares the corpus curves (total
    bytes against mean score at each sweep quality).
    """
)
DEFAULTS_METHOD = _text(
    """
    Each system asked without a quality (its default), and pixgate also at `q:auto` and at
    its configured fixed quality. Totals over the variants every listed system rendered. CPU
    is the process CPU time of one render (decode of the original held in memory, resize,
    encode), measured in the system's own process; the last column averages the sweep.
    """
)
AUTO_METHOD = _text(
    """
    Target score {target:g} (PIXGATE_QUALITY_TARGET). Per format: each variant's achieved
    score against the target; the total bytes against each peer's corpus curve at the same
    mean score (interpolated over its sweep); the CPU of a render against the
    fixed-quality one.
    """
)
AUTO_MISSING = _text(
    """
    Not measured: this tree's URL grammar does not accept `q:auto` (or there is no
    PIXGATE_QUALITY_TARGET); the renders were recorded as unavailable.
    """
)
HEADLINE = _text(
    """
    The headline figures (targets, BD-rates, defaults, `q:auto`, plots) cover the variants
    of 256 px and more on their short side (fit500, fit1200, cover300): SSIMULACRA2 looks at
    6 scales, 1:1 to 1:32, and a 150 px thumbnail has only 4 of them, where its weights no
    longer line up (the reference and libjxl's own tool both score it that way) and even
    near-lossless renders score near 0. The 150 px variants are reported on their own below:
    their BD-rates compare curves on that metric's own terms; their absolute scores do not
    mean what they mean elsewhere.
    """
)
SMALL = _text(
    """
    fit150 variants only (see above: SSIMULACRA2 at 4 scales). BD-rates compare the curves on
    the same metric, so their sign is meaningful; absolute scores, and so the `q:auto`
    spread against a target set for full-size images, are not.
    """
)
PLOTS = _text(
    """
    Total bytes (log) against mean SSIMULACRA2 over the variants every system rendered, one
    line per system over its sweep; squares mark each system's default, the star pixgate's
    `q:auto`.
    """
)
METHOD = [
    _text(
        """
        - **pixgate** renders in-process through its real code path: the imgproxy-style
        target (`/_/rs:fit:500:500/q:60/plain/photo.jpg@webp`; `rs:fill:300:300` for the
        cover crop; no `q` for the default; `q:auto`) parsed by `proxy.urlpath.parse_target`,
        then `proxy.pipeline.transform` with the configuration `proxy.app.pipeline_config`
        builds from the settings, after `configure_libvips` as the server calls it
        (PIXGATE_VIPS_THREADS threads per image, no operation cache).
        """
    ),
    _text(
        """
        - **libvips defaults**: `pyvips.Image.thumbnail_buffer(w, height=h, size=down,
        crop=centre|none)` and `write_to_buffer('.jpg'|'.webp'|'.avif', keep=none)`: no
        options but metadata stripped, as every server here strips it; libvips' default
        threads (one per core).
        """
    ),
    _text(
        """
        - **sharp** at its defaults (`resize({fit: inside|cover, withoutEnlargement: true})`,
        `toFormat(f)` with no options or `{quality}`), from ipx's node_modules, in a node
        worker; sharp's operation cache off; CPU from `process.cpuUsage()` around the render.
        """
    ),
    _text(
        """
        - **thumbor**'s own server with its Pillow engine (file loader on the corpus folder,
        no storage, no result storage, ENGINE_THREADPOOL_SIZE 0, its default), asked
        `/unsafe/[fit-in/]WxH/filters:format(f)[:quality(q)]/photo`; CPU summed over the
        server's threads from /proc/PID/task/*/schedstat around each request (this includes
        its HTTP handling, about a millisecond). thumbor keeps the source's ICC profile in its
        output (its default): 3,144 bytes (sRGB IEC61966-2.1) in every render of the camera
        photos, counted in its bytes as a browser receives them.
        """
    ),
    _text(
        """
        - **Scores**: SSIMULACRA2 of each render against the same system's PNG render of the
        same geometry, both decoded with libvips to 8-bit sRGB. The implementation is a
        vectorised numpy port (`loadtest/quality/ssimulacra2.py`) of the PyPI `ssimulacra2`
        0.3.0 reference, about 4x faster on a 1200 px image and faster still against a
        reference used several times; tests/loadtest/test_quality_scoring.py checks it
        against the reference within 0.5 on five real pairs (it agrees within 0.01). No
        faster implementation was packaged: Debian's libjxl-devtools 0.7 ships only the
        first SSIMULACRA. Scores are cached by the hashes of both images' bytes
        (`var/bench/quality/scores.sqlite`).
        """
    ),
]


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value * 100:+.1f}%"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "n/a" if value is None or math.isnan(value) else fmt.format(value)


def _met(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _label(run: Run, system: str | None) -> str:
    labels: dict[str, str] = run.meta.get("labels", {})
    return "none" if system is None else labels.get(system, system)


def _peers(run: Run, fmt: str) -> list[str]:
    return [p for p in PEERS if any(s.system == p and s.output_format == fmt for s in run.samples)]


def _baseline(run: Run, fmt: str) -> list[str]:
    present = any(s.system == BASELINE and s.output_format == fmt for s in run.samples)
    return [BASELINE] if present else []


def _target(run: Run) -> float | None:
    settings: dict[str, Any] = run.meta.get("settings", {})
    value = settings.get("quality_target")
    return None if value is None else float(value)


def _fixed(run: Run) -> dict[str, int]:
    settings: dict[str, Any] = run.meta.get("settings", {})
    return {k: int(v) for k, v in settings.get("fixed_quality", {}).items()}


def _formats(run: Run) -> list[str]:
    return [f for f in ("jpeg", "webp", "avif") if f in run.formats()]


def _versions(run: Run) -> list[str]:
    v: dict[str, Any] = run.meta.get("versions", {})
    lines = []
    if "pixgate" in v:
        lines.append(
            f"- pixgate at {run.meta.get('pixgate_commit')} on libvips "
            f"{v['pixgate'].get('libvips')} (pyvips-binary)"
        )
    if "libvips" in v:
        lines.append(f"- libvips defaults: libvips {v['libvips'].get('libvips')}")
    if v.get("sharp"):
        s = v["sharp"]
        lines.append(
            f"- sharp {s.get('sharp')} (from ipx's node_modules) on libvips {s.get('libvips')}, "
            f"mozjpeg {s.get('mozjpeg')}, libwebp {s.get('webp')}, aom {s.get('aom')}"
        )
    if v.get("thumbor"):
        t = v["thumbor"]
        lines.append(
            f"- thumbor {t.get('thumbor')} on Pillow {t.get('pillow')} (libjpeg "
            f"{t.get('libjpeg')}, libwebp {t.get('libwebp')}, libavif {t.get('libavif')})"
        )
    return lines


def spreads(run: Run) -> list[AutoSpread]:
    target = _target(run)
    if target is None:
        return []
    fixed = _fixed(run)
    found = []
    for fmt in _formats(run):
        spread = auto_spread(run.samples, fmt, target, _peers(run, fmt), fixed.get(fmt, 0))
        if spread is not None:
            found.append(spread)
    return found


def _run_section(run: Run, w: Write) -> None:
    meta = run.meta
    m = meta.get("machine", {})
    sweep = "; ".join(
        f"{f} q {', '.join(map(str, q))}"
        for f, q in meta.get("sweep", {}).items()
        if f in _formats(run)
    )
    w("## The run recorded here")
    w("")
    w(
        f"Run on {meta.get('date')}: {meta.get('variants')} variants "
        f"({len(meta.get('photos', []))} photos x {', '.join(meta.get('geometries', []))}; "
        f"fits that would not shrink a photo are left out) x {', '.join(_formats(run))}; "
        f"systems: {', '.join(_label(run, s) for s in meta.get('systems', []))}. "
        f"Sweep: {sweep}. {len(run.samples)} scored renders; rendering took "
        f"{meta.get('render_seconds')} s, the whole run {meta.get('total_seconds')} s."
    )
    cached = sum(1 for s in run.samples if s.cached)
    if cached:
        w("")
        w(CACHED.format(cached=cached))
    w("")
    w(
        f"Machine: {m.get('cores')} cores ({m.get('cpu')}), "
        f"{m.get('memory_bytes', 0) / 2**30:.1f} GiB, {m.get('os')}, Linux {m.get('kernel')}, "
        f"Python {m.get('python')}."
    )
    load = meta.get("load_average")
    if load:
        w("")
        w(LOAD.format(start=load.get("start"), end=load.get("end")))
    w("")
    for line in _versions(run):
        w(line)
    w("")
    baseline = meta.get("baseline")
    if baseline:
        w(
            f'"{BASELINE_LABEL}" is pixgate at {baseline.get("commit")} from an earlier run of '
            f"this benchmark ({baseline.get('date')}, `--baseline`), with its settings then: "
            f"{baseline.get('settings')}."
        )
        w("")
    w("pixgate's settings in force (its defaults unless `--set`):")
    w("")
    w(_row("setting", "value"))
    w(_row("---", "---"))
    for name, value in meta.get("settings", {}).items():
        w(_row(name, "auto" if value is None else value))
    parses = "yes" if meta.get("q_auto_parses") else "no: recorded as unavailable"
    w(_row("`q:auto` parsed", parses))
    w("")


def _targets_section(run: Run, w: Write) -> None:
    w("## Targets (issue 11)")
    w("")
    w(_row("target", "figure", ""))
    w(_row("---", "---", "---"))
    for fmt in _formats(run):
        name = fmt.upper()
        peers = _peers(run, fmt)
        rates = [bd_rates(run.samples, "pixgate", p, fmt) for p in peers]
        rates = [r for r in rates if r.mean_per_variant is not None]
        if not rates:
            w(_row(f"{name}: BD-rate vs the best peer <= -10%", "no peer measured", _met(None)))
            continue
        best = max(rates, key=lambda r: r.mean_per_variant or 0.0)
        variants = common_variants(run.samples, ("pixgate", best.anchor), fmt)
        cpu_p = sweep_cpu_ms(run.samples, "pixgate", fmt, variants)
        cpu_b = sweep_cpu_ms(run.samples, best.anchor, fmt, variants)
        peer = _label(run, best.anchor)
        w(
            _row(
                f"{name}: BD-rate vs the best peer ({peer}) <= -10%",
                _pct(best.mean_per_variant),
                _met((best.mean_per_variant or 0.0) <= BD_TARGET),
            )
        )
        w(
            _row(
                f"{name}: CPU per render (sweep mean) no higher than {peer}'s",
                f"{cpu_p:.1f} vs {cpu_b:.1f} ms",
                _met(cpu_p <= cpu_b),
            )
        )
    target = _target(run)
    found = spreads(run)
    if target is None or not found:
        w(_row("`q:auto`: every variant within -2/+5 of its target", "unavailable", _met(None)))
        w(_row("`q:auto`: total bytes <= 0.85x the best peer's", "unavailable", _met(None)))
        w(_row("`q:auto`: CPU per miss <= 2.5x the fixed-quality render", "", _met(None)))
    else:
        total = sum(s.renders for s in found)
        within = sum(s.within for s in found)
        low = min(s.min_delta for s in found)
        high = max(s.max_delta for s in found)
        w(
            _row(
                f"`q:auto`: every variant within -2/+5 of its target ({target:g}); "
                "150 px ones apart, below",
                f"{within}/{total} within; score - target from {low:+.1f} to {high:+.1f}",
                _met(within == total),
            )
        )
        for s in found:
            name = s.output_format.upper()
            ok_bytes = None if s.bytes_ratio is None else s.bytes_ratio <= AUTO_BYTES_TARGET
            w(
                _row(
                    f"`q:auto` {name}: total bytes <= 0.85x the best peer "
                    f"({_label(run, s.best_peer)}) at the same mean score",
                    _num(s.bytes_ratio, "{:.2f}x"),
                    _met(ok_bytes),
                )
            )
            ratio = s.cpu_auto_ms / s.cpu_fixed_ms if s.cpu_fixed_ms else float("nan")
            ok_cpu = None if math.isnan(ratio) else ratio <= AUTO_CPU_TARGET
            w(
                _row(
                    f"`q:auto` {name}: CPU per miss <= 2.5x the q{s.fixed_quality} render",
                    f"{s.cpu_auto_ms:.1f} / {s.cpu_fixed_ms:.1f} ms = {_num(ratio, '{:.2f}x')}",
                    _met(ok_cpu),
                )
            )
    w(
        _row(
            "`q:auto`: p99 of a 12 MP miss at 2 clients < 1 s; throughput of T1-T3",
            "measured by `make bench-miss` and `make bench-peers` (docs/performance.md)",
            _met(None),
        )
    )
    w("")


def _bd_section(
    run: Run, w: Write, heading: str | None = "## BD-rate of pixgate against each peer"
) -> None:
    if heading is not None:
        w(heading)
        w("")
        w(BD_METHOD)
        w("")
    w(_row("format", "pixgate vs", "per variant", "variants (skipped)", "corpus curve", "worst"))
    w(_row(*["---"] * 6))
    for fmt in _formats(run):
        for peer in _peers(run, fmt) + _baseline(run, fmt):
            r = bd_rates(run.samples, "pixgate", peer, fmt)
            w(
                _row(
                    fmt.upper(),
                    _label(run, peer),
                    _pct(r.mean_per_variant),
                    f"{r.variants} ({r.skipped})",
                    _pct(r.corpus),
                    f"{_pct(r.worst)} {r.worst_variant}",
                )
            )
    w("")


def _by_geometry_section(run: Run, w: Write) -> None:
    peers = [p for p in (*PEERS, BASELINE) if any(s.system == p for s in run.samples)]
    geometries = [g.key for g in GEOMETRIES if any(s.geometry == g.key for s in run.samples)]
    if not peers or len(geometries) < 2:
        return
    w("Per geometry (mean of the per-variant BD-rates of pixgate against each peer):")
    w("")
    w(_row("format", "geometry", *(_label(run, p) for p in peers)))
    w(_row(*["---"] * (2 + len(peers))))
    for fmt in _formats(run):
        for geometry in geometries:
            part = replace(run, samples=tuple(s for s in run.samples if s.geometry == geometry))
            cells = [
                _pct(bd_rates(part.samples, "pixgate", p, fmt).mean_per_variant)
                if p in _peers(part, fmt) + _baseline(part, fmt)
                else ""
                for p in peers
            ]
            w(_row(fmt.upper(), geometry, *cells))
    w("")


def _defaults_section(run: Run, w: Write) -> None:
    w("## At each system's defaults")
    w("")
    w(DEFAULTS_METHOD)
    w("")
    fixed = _fixed(run)
    for fmt in _formats(run):
        systems = ["pixgate", *_peers(run, fmt)]
        variants = common_variants(run.samples, systems, fmt)
        w(
            _row(
                f"{fmt.upper()} ({len(variants)} variants)",
                "quality",
                "total bytes",
                "mean SSIMULACRA2",
                "min",
                "CPU ms/render",
                "over the sweep",
            )
        )
        w(_row(*["---"] * 7))
        for system in systems:
            qualities = ["default"]
            if system == "pixgate":
                qualities += ["auto", str(fixed.get(fmt, ""))]
            for quality in qualities:
                point = operating(run.samples, system, fmt, quality, variants)
                if point is None:
                    continue
                w(
                    _row(
                        _label(run, system),
                        "q:auto" if quality == "auto" else quality,
                        f"{point.total_bytes:,}",
                        f"{point.mean_score:.1f}",
                        f"{point.min_score:.1f}",
                        f"{point.mean_cpu_ms:.1f}",
                        f"{sweep_cpu_ms(run.samples, system, fmt, variants):.1f}",
                    )
                )
        w("")


def _auto_section(run: Run, w: Write, heading: str | None = "## `q:auto`") -> None:
    target = _target(run)
    found = spreads(run)
    if heading is not None:
        w(heading)
        w("")
        if target is None or not found:
            w(AUTO_MISSING)
            w("")
            return
        w(AUTO_METHOD.format(target=target))
        w("")
    if target is None or not found:
        return
    w(
        _row(
            "format",
            "renders",
            "score - target min / max",
            "within -2/+5",
            "mean score",
            "total bytes",
            "best peer at that score",
            "ratio",
            "CPU auto / fixed ms",
        )
    )
    w(_row(*["---"] * 9))
    for s in found:
        best = "n/a"
        if s.best_peer is not None:
            best = f"{_label(run, s.best_peer)}: {s.peer_bytes[s.best_peer]:,.0f}"
        w(
            _row(
                s.output_format.upper(),
                s.renders,
                f"{s.min_delta:+.1f} / {s.max_delta:+.1f}",
                s.within,
                f"{s.mean_score:.1f}",
                f"{s.total_bytes:,}",
                best,
                _num(s.bytes_ratio, "{:.2f}x"),
                f"{s.cpu_auto_ms:.1f} / {s.cpu_fixed_ms:.1f}",
            )
        )
    w("")
    if heading is None:
        return
    determinism = run.meta.get("q_auto_determinism") or {}
    if determinism.get("checked"):
        w(
            f"Deterministic: {determinism['same']} of {determinism['checked']} `q:auto` "
            "renders, made a second time in the same run, gave the same bytes."
        )
        w("")
    _misses(run, target, w)


def _misses(run: Run, target: float, w: Write, limit: int = 15) -> None:
    misses = sorted(
        (
            s
            for s in run.samples
            if s.system == "pixgate"
            and s.quality == "auto"
            and s.score is not None
            and not -2.0 <= s.score - target <= 5.0
        ),
        key=lambda s: abs((s.score or 0.0) - target),
        reverse=True,
    )
    if not misses:
        return
    w(
        f"Variants outside -2/+5 of the target ({len(misses)}; "
        f"the {min(limit, len(misses))} furthest):"
    )
    w("")
    w(_row("variant", "format", "SSIMULACRA2", "score - target", "bytes"))
    w(_row(*["---"] * 5))
    for s in misses[:limit]:
        score = s.score or 0.0
        w(
            _row(
                s.variant,
                s.output_format.upper(),
                f"{score:.1f}",
                f"{score - target:+.1f}",
                f"{s.size_bytes:,}",
            )
        )
    w("")


def split_by_scale(run: Run) -> tuple[Run, Run]:
    """(variants SSIMULACRA2 scores at all its scales, the smaller ones)."""
    full = {g.key for g in GEOMETRIES if g.full_scale}
    return (
        replace(run, samples=tuple(s for s in run.samples if s.geometry in full)),
        replace(run, samples=tuple(s for s in run.samples if s.geometry not in full)),
    )


def _small_section(small: Run, w: Write) -> None:
    if not small.samples:
        return
    w("## 150 px thumbnails, on their own")
    w("")
    w(SMALL)
    w("")
    _bd_section(small, w, heading=None)
    _auto_section(small, w, heading=None)


def render_markdown(whole: Run, plots: list[str]) -> str:
    run, small = split_by_scale(whole)
    out: list[str] = []
    w = out.append
    w("# pixgate quality: bytes at equal perceptual quality, against its peers")
    w("")
    w(INTRO)
    w("")
    w(HEADLINE)
    w("")
    _run_section(whole, w)
    _targets_section(run, w)
    _bd_section(run, w)
    _by_geometry_section(run, w)
    _defaults_section(run, w)
    _auto_section(run, w)
    _small_section(small, w)
    if run.unavailable:
        w("## Not measured")
        w("")
        for u in run.unavailable:
            w(f"- {_label(run, u.system)}, {u.output_format}, {u.quality}: {u.reason}")
        w("")
    if plots:
        w("## Plots")
        w("")
        w(PLOTS)
        w("")
        for name in plots:
            w(f"![bytes vs SSIMULACRA2, {name}]({name})")
            w("")
    w("## Method")
    w("")
    out.extend(METHOD)
    check = run.meta.get("scorer_check")
    if check:
        worst = max(abs(a - b) for a, b in check)
        w(
            f"- In this run {len(check)} pairs were also scored with the reference package: "
            f"largest difference {worst:.4f}."
        )
    w("")
    return "\n".join(out)


def with_baseline(run: Run, baseline: Run) -> Run:
    """`run` plus an earlier run's pixgate renders as the system BASELINE, so the tables
    show what changed in pixgate between the two on the same photos."""
    earlier = tuple(replace(s, system=BASELINE) for s in baseline.samples if s.system == "pixgate")
    meta = dict(run.meta)
    meta["labels"] = {**run.meta.get("labels", {}), BASELINE: BASELINE_LABEL}
    meta["baseline"] = {
        "commit": baseline.meta.get("pixgate_commit"),
        "date": baseline.meta.get("date"),
        "settings": baseline.meta.get("settings", {}),
    }
    return replace(run, samples=run.samples + earlier, meta=meta)


def write(run: Run, docs: Path | None, baseline: Run | None = None) -> str:
    """The report's text; with `docs`, also quality.md and the plots there."""
    if baseline is not None:
        run = with_baseline(run, baseline)
    plots: list[str] = []
    if docs is not None:
        from loadtest.quality.plots import plot_all

        docs.mkdir(parents=True, exist_ok=True)
        headline, _ = split_by_scale(run)
        plots = [p.name for p in plot_all(headline, docs, run.formats())]
    text = render_markdown(run, plots)
    if docs is not None:
        (docs / "quality.md").write_text(text)
    return text
