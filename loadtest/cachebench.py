"""Cache hits: one variant served by the nginx edge from its cache, next to nginx serving the
same bytes as a static file, under the same wrk load (part of `python -m loadtest.peers`).

The edge is config/edge's nginx (`run_edge`) in front of a running pixgate. The static
server is a second nginx with a config written here at run time (same worker count and
access log, `root` on a folder holding the variant's bytes). wrk runs with one thread, so
it takes at most one of the machine's cores; its CPU time and nginx's are both reported.
pixgate's request counter is read before and after the edge's windows: hits never reach it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import resource
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from config.edge import EdgeConfig, EdgeError, find_nginx, run_edge
from config.processes import stop
from loadtest.harness.ports import HOST, free_port
from loadtest.loadgen import parse_metrics
from loadtest.peer_results import CacheHits, CacheMode
from loadtest.processes import Server
from loadtest.procfs import family_cpu_seconds, machine_busy_seconds

ACCEPT = "image/webp,*/*"
WRK_THREADS = 1
STATIC_NAME = "variant.webp"
MODES = ("edge", "static")


class CacheBenchUnavailable(RuntimeError):
    """wrk or nginx is missing, or the edge would not serve a hit."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    wrk_cpu_s: float
    nginx_cpu_s: float
    machine_busy_s: float


def find_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise CacheBenchUnavailable("wrk is missing: apt-get install wrk (or `make wrk`)")
    return found


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests, seconds, req/s, p50/p99 and errors from `wrk --latency` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (done and rate and p50 and p99):
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests": float(done.group(1)),
        "seconds": _duration_ms(done.group(2) + done.group(3)) / 1000,
        "per_second": float(rate.group(1)),
        "p50_ms": _duration_ms(p50.group(1)),
        "p99_ms": _duration_ms(p99.group(1)),
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": float(sum(int(n) for n in sockets.groups())) if sockets else 0.0,
    }


def run_wrk(wrk: str, url: str, connections: int, seconds: float, nginx_pid: int) -> WrkResult:
    """One bounded wrk run; wrk's CPU from our children's rusage (it is the only child that
    exits meanwhile), nginx's from /proc (master and workers)."""
    argv = [
        wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
        "--timeout", "5s", "-H", f"Accept: {ACCEPT}", url,
    ]  # fmt: skip
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    nginx_before, busy_before = family_cpu_seconds(nginx_pid), machine_busy_seconds()
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + 30, stdin=subprocess.DEVNULL
    )
    nginx_after, busy_after = family_cpu_seconds(nginx_pid), machine_busy_seconds()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise CacheBenchUnavailable(f"wrk failed ({result.returncode}): {result.stderr[-500:]}")
    parsed = parse_wrk(result.stdout)
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    return WrkResult(
        requests=int(parsed["requests"]),
        seconds=parsed["seconds"],
        per_second=parsed["per_second"],
        p50_ms=parsed["p50_ms"],
        p99_ms=parsed["p99_ms"],
        non_2xx=int(parsed["non_2xx"]),
        socket_errors=int(parsed["socket_errors"]),
        wrk_cpu_s=wrk_cpu,
        nginx_cpu_s=nginx_after - nginx_before,
        machine_busy_s=busy_after - busy_before,
    )


# --- the static nginx ---------------------------------------------------------------------------


def static_config(prefix: Path, listen: str) -> str:
    user_line = ""
    if os.geteuid() == 0:  # workers drop to nobody, as the edge's do
        nobody = pwd.getpwnam("nobody")
        user_line = f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"
    return f"""# Written by loadtest/cachebench.py for one run: nginx serving one file.
{user_line}
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server_tokens off;
    types {{
        image/webp webp;
    }}
    server {{
        listen {listen};
        location / {{
            root {prefix}/root;
            add_header Cache-Control "public, max-age=31536000, immutable";
        }}
    }}
}}
"""


@contextlib.contextmanager
def run_static_nginx(prefix: Path, body: bytes) -> Iterator[tuple[int, str]]:
    """nginx serving `body` as /variant.webp; yields its PID and the file's URL."""
    nginx = find_nginx()
    for folder in ("root", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    (prefix / "root" / STATIC_NAME).write_bytes(body)
    listen = f"{HOST}:{free_port()}"
    conf = prefix / "nginx.conf"
    conf.write_text(static_config(prefix, listen))
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://{listen}/{STATIC_NAME}"
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                raise CacheBenchUnavailable(f"static nginx exited; see {prefix}/error.log")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.read() == body:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise CacheBenchUnavailable("static nginx did not answer") from None
                time.sleep(0.1)
        yield process.pid, url
    finally:
        stop(process)


# --- the measurement ------------------------------------------------------------------------------


def _get(url: str) -> tuple[bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read(), {k.lower(): v for k, v in response.headers.items()}


def _origin_requests(pixgate: Server) -> float:
    with urllib.request.urlopen(f"{pixgate.base_url}/metrics", timeout=10) as response:
        samples = parse_metrics(response.read().decode())
    return sum(
        value
        for series, value in samples.items()
        if series.startswith("pixgate_requests_total") and "/metrics" not in series
    )


def measure(
    pixgate: Server,
    variant_path: str,
    work_dir: Path,
    *,
    seconds: float,
    rounds: int,
    connections: int,
) -> CacheHits:
    """Alternate wrk on the edge (a cached variant) and on static nginx (its bytes)."""
    wrk = find_wrk()
    edge_prefix = work_dir / "edge"
    shutil.rmtree(edge_prefix / "cache", ignore_errors=True)  # nothing left from older runs
    upstream = pixgate.base_url.removeprefix("http://")
    edge_listen = f"{HOST}:{free_port()}"
    config = EdgeConfig(listen=edge_listen, upstream=upstream, prefix=edge_prefix.resolve())
    try:
        with run_edge(config) as edge_pid:
            edge_url = f"http://{edge_listen}{variant_path}"
            statuses = []
            for _ in range(3):
                body, headers = _get(edge_url)
                statuses.append(headers.get("x-cache-status", "?"))
                if statuses[-1] == "HIT":
                    break
            if statuses[-1] != "HIT":
                raise CacheBenchUnavailable(f"the edge never answered HIT: {statuses}")
            with run_static_nginx(work_dir / "static-nginx", body) as (static_pid, static_url):
                targets = {"edge": (edge_url, edge_pid), "static": (static_url, static_pid)}
                runs: dict[str, list[WrkResult]] = {mode: [] for mode in MODES}
                origin_before = _origin_requests(pixgate)
                for round_index in range(rounds):
                    order = MODES if round_index % 2 == 0 else MODES[::-1]
                    for mode in order:
                        url, pid = targets[mode]
                        runs[mode].append(run_wrk(wrk, url, connections, seconds, pid))
                origin_after = _origin_requests(pixgate)
    except EdgeError as error:
        raise CacheBenchUnavailable(str(error)) from None
    return CacheHits(
        client=f"wrk, {WRK_THREADS} thread, {connections} connections, keep-alive",
        wrk_version=_wrk_version(wrk),
        variant_bytes=len(body),
        variant_path=variant_path,
        prime_statuses=tuple(statuses),
        origin_requests_during_load=origin_after - origin_before,
        seconds_per_round=seconds,
        rounds=rounds,
        modes={mode: combine(results) for mode, results in runs.items()},
    )


def combine(results: list[WrkResult]) -> CacheMode:
    """One mode's rounds added together; wrk's percentiles as the median of the rounds'."""
    requests = sum(r.requests for r in results)
    seconds = sum(r.seconds for r in results)
    nginx_cpu = sum(r.nginx_cpu_s for r in results)
    wrk_cpu = sum(r.wrk_cpu_s for r in results)
    busy = sum(r.machine_busy_s for r in results)
    return CacheMode(
        requests=requests,
        per_second=requests / seconds if seconds else 0.0,
        round_per_second=tuple(r.per_second for r in results),
        p50_ms=sorted(r.p50_ms for r in results)[len(results) // 2],
        p99_ms=sorted(r.p99_ms for r in results)[len(results) // 2],
        non_2xx=sum(r.non_2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
        nginx_cpu_us_per_request=nginx_cpu / requests * 1e6 if requests else 0.0,
        nginx_cpu_cores=nginx_cpu / seconds if seconds else 0.0,
        wrk_cpu_cores=wrk_cpu / seconds if seconds else 0.0,
        wrk_cpu_us_per_request=wrk_cpu / requests * 1e6 if requests else 0.0,
        other_cpu_cores=max(0.0, (busy - nginx_cpu - wrk_cpu) / seconds) if seconds else 0.0,
    )


def _wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    match = re.search(r"wrk (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "?"
