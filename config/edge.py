"""Run the nginx edge of config/edge/nginx.conf on loopback, in front of a running pixgate.

python -m config.edge --listen 127.0.0.1:8081 --upstream 127.0.0.1:8080   (`make edge`)
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from config.processes import stop

NGINX_MODULES = Path("/usr/lib/nginx/modules")
# nginx's workers drop to this account when the master runs as root.
WORKER_USER = "nobody"


class EdgeError(RuntimeError):
    """nginx is missing, misconfigured, or did not start."""


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    listen: str  # host:port
    upstream: str  # host:port of pixgate
    prefix: Path  # working folder: config, cache, logs
    cache_size: str = "1g"
    max_body: str = "21m"


def render(config: EdgeConfig) -> str:
    template = resources.files("config").joinpath("edge/nginx.conf").read_text()
    as_root = os.geteuid() == 0
    values = dict(
        modules=str(NGINX_MODULES),
        user_line=_user_line() if as_root else "",
        prefix=str(config.prefix),
        listen=config.listen,
        upstream=config.upstream,
        cache_size=config.cache_size,
        max_body=config.max_body,
    )
    # nginx's own variables use `$`, so placeholders are written @name@.
    return re.sub(r"@(\w+)@", lambda match: values[match.group(1)], template)


def _user_line() -> str:
    worker = pwd.getpwnam(WORKER_USER)
    return f"user {WORKER_USER} {grp.getgrgid(worker.pw_gid).gr_name};"


def find_nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None or not (NGINX_MODULES / "ngx_http_cache_purge_module.so").exists():
        raise EdgeError(
            "nginx with the cache purge module is needed: "
            "apt-get install nginx-light libnginx-mod-http-cache-purge"
        )
    return found


def prepare(config: EdgeConfig) -> Path:
    """Write the rendered config and the folders nginx needs; return the config's path."""
    for folder in ("cache", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
        (config.prefix / folder).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _require_traversable(config.prefix)
        worker = pwd.getpwnam(WORKER_USER)
        for path in (config.prefix / "cache", *(config.prefix / "tmp").iterdir()):
            os.chown(path, worker.pw_uid, worker.pw_gid)
    conf = config.prefix / "nginx.conf"
    conf.write_text(render(config))
    return conf


def _require_traversable(folder: Path) -> None:
    """nginx's workers run as WORKER_USER: every parent of the cache must let them through."""
    for parent in (folder.resolve(), *folder.resolve().parents):
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise EdgeError(
                f"{parent} is not searchable by other users, so nginx workers "
                f"({WORKER_USER}) cannot reach the cache; choose a --prefix outside it"
            )


@contextlib.contextmanager
def run_edge(config: EdgeConfig, startup_timeout: float = 15.0) -> Iterator[int]:
    """Start nginx in the foreground; yield its PID; stop it (by PID) on exit."""
    nginx = find_nginx()
    conf = prepare(config)
    check = subprocess.run(
        [nginx, "-t", "-p", str(config.prefix), "-c", str(conf)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise EdgeError(f"nginx rejected the config:\n{check.stderr}")
    process = subprocess.Popen(
        [nginx, "-p", str(config.prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_listening(config.listen, process, startup_timeout)
        yield process.pid
    finally:
        stop(process, signum=signal.SIGQUIT)  # nginx's graceful stop: finish in-flight requests


def _wait_until_listening(listen: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EdgeError(f"nginx exited with {process.returncode}; see its error.log")
        try:
            with urllib.request.urlopen(f"http://{listen}/metrics", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # nginx answered (404 for /metrics): it is up
        except OSError:
            time.sleep(0.1)
    raise EdgeError(f"nginx did not listen on {listen} within {timeout:g}s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.edge", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:8081")
    parser.add_argument("--upstream", default="127.0.0.1:8080", help="pixgate's host:port")
    parser.add_argument("--prefix", type=Path, default=Path("var/edge"))
    parser.add_argument("--cache-size", default="1g")
    args = parser.parse_args(argv)
    config = EdgeConfig(args.listen, args.upstream, args.prefix.resolve(), args.cache_size)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        with run_edge(config) as pid:
            print(f"edge (nginx pid {pid}) on http://{config.listen} -> pixgate {config.upstream}")
            print(f"purge an image: curl http://{config.listen}/purge/<image_id>   (Ctrl-C stops)")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except EdgeError as error:
        print(f"edge: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
