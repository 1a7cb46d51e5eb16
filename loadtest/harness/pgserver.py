"""A throwaway PostgreSQL cluster as a process helper, for the tests and the benchmarks.

Importing this module starts nothing. Code outside pytest uses the context manager::

    with run_postgres() as server:
        asyncio.run(migrate(server.url))

It runs the server binaries of the machine (``apt-get install postgresql``) from a fresh data
directory in a temporary folder, on a free loopback port, with durability off for speed, and
removes everything on exit. As root, initdb and the server run as the ``postgres`` OS user
(PostgreSQL refuses to run as root).

Fault tests that stop the server mid-run and start it again use their own cluster,
``run_restartable_postgres()`` (a `PostgresCluster` with `stop()` and `start()`).

The pytest fixtures over it (`pg_server`, `pg_url`, `repository_url`) live in
``tests/pgserver.py``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from config.processes import stop
from loadtest.harness.ports import HOST, free_port

SUPERUSER = "postgres"
SERVER_OS_USER = "postgres"
INSTALL_HINT = (
    "install the PostgreSQL server binaries (initdb, postgres): "
    "`apt-get install postgresql` on Debian/Ubuntu (`make test` does it when run as root), "
    "or put a PostgreSQL bin directory on PATH"
)
# Speed over durability: the cluster lives for one test session.
_SERVER_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


class PostgresNotInstalled(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A running cluster: `url` reaches the ``postgres`` database as the superuser."""

    url: str
    pid: int
    port: int

    def database_url(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{name}"


@contextlib.contextmanager
def run_postgres(startup_timeout: float = 30.0) -> Iterator[PostgresServer]:
    """Create a cluster in a temporary folder and start it; stop it and remove it on exit."""
    with run_restartable_postgres(startup_timeout) as cluster:
        yield PostgresServer(url=cluster.url, pid=cluster.pid, port=cluster.port)


class PostgresCluster:
    """A throwaway cluster that a test may stop and start again: same data, same port.

    For fault tests; `run_restartable_postgres` makes one and removes it on exit."""

    def __init__(
        self,
        bindir: Path,
        folder: Path,
        server_log: IO[bytes],
        process: subprocess.Popen[bytes],
        port: int,
    ) -> None:
        self._bindir = bindir
        self._folder = folder
        self._log = server_log
        self._process: subprocess.Popen[bytes] | None = process
        self.port = port

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{name}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the cluster is stopped")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Fast shutdown: open connections are terminated, new ones refused."""
        if self._process is not None:
            _stop(self._process)
            self._process = None

    def start(self, startup_timeout: float = 30.0) -> None:
        """Start again on the same port (the data survives)."""
        if self.running:
            return
        process = _spawn(self._bindir, self._folder, self._log, self.port)
        try:
            if not _wait_until_accepting(process, self.port, startup_timeout):
                raise RuntimeError(f"PostgreSQL did not restart:\n{_tail(self._log)}")
        except BaseException:
            _stop(process)
            raise
        self._process = process


@contextlib.contextmanager
def run_restartable_postgres(startup_timeout: float = 30.0) -> Iterator[PostgresCluster]:
    """Like `run_postgres`, but the cluster can be stopped and started mid-test."""
    bindir = find_bindir()
    with _cluster_folder() as folder, tempfile.TemporaryFile() as server_log:
        _run_initdb(bindir, folder, server_log)
        process, port = _start(bindir, folder, server_log, startup_timeout)
        cluster = PostgresCluster(bindir, folder, server_log, process, port)
        try:
            yield cluster
        finally:
            cluster.stop()


def find_bindir() -> Path:
    """Where initdb and postgres are: ``pg_config --bindir``, else the newest
    ``/usr/lib/postgresql/*/bin``, else PATH. PostgresNotInstalled if none has both."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        # libpq-dev ships a pg_config that names the server's bindir without the server.
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "postgres")):
            return bindir
    raise PostgresNotInstalled(f"no PostgreSQL server found; {INSTALL_HINT}")


def create_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server_url: str, name: str) -> None:
    """Drop `name`, disconnecting whatever a test left connected to it."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def _server_account() -> pwd.struct_passwd | None:
    """The OS account to run the server as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise PostgresNotInstalled(
            f"running as root needs a {SERVER_OS_USER!r} OS user to run the server; "
            f"{INSTALL_HINT} (it creates the user)"
        ) from None


@contextlib.contextmanager
def _cluster_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="pixgate-pg-"))
    try:
        account = _server_account()
        if account is not None:
            _require_reachable_by_others(folder)
            os.chown(folder, account.pw_uid, account.pw_gid)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _require_reachable_by_others(folder: Path) -> None:
    for parent in folder.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise RuntimeError(
                f"the {SERVER_OS_USER!r} user cannot reach {folder} ({parent} is closed to "
                "other users); set TMPDIR to a folder it can reach, such as /tmp"
            )


def _as_server_account() -> dict[str, Any]:
    """Popen arguments that drop root to the server's account (what setpriv would do)."""
    account = _server_account()
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _server_env() -> dict[str, str]:
    # Nothing from the caller's PG* variables; a fixed locale and time zone for the cluster.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}


def _run_initdb(bindir: Path, folder: Path, server_log: IO[bytes]) -> None:
    command = [
        str(bindir / "initdb"),
        *("-D", str(folder / "data")),
        *("-U", SUPERUSER),
        *("-A", "trust"),
        *("-E", "UTF8"),
        "--locale=C",
        "--no-sync",
    ]
    result = subprocess.run(
        command,
        cwd=folder,
        env=_server_env(),
        stdin=subprocess.DEVNULL,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        **_as_server_account(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed; its output:\n{_tail(server_log)}")


def _start(
    bindir: Path, folder: Path, server_log: IO[bytes], startup_timeout: float
) -> tuple[subprocess.Popen[bytes], int]:
    # The port is free when asked but may be taken before the server binds it: try another.
    for _ in range(3):
        port = free_port()
        process = _spawn(bindir, folder, server_log, port)
        try:
            if _wait_until_accepting(process, port, startup_timeout):
                return process, port
        except BaseException:
            _stop(process)
            raise
    raise RuntimeError(f"PostgreSQL did not start; its last output:\n{_tail(server_log)}")


def _spawn(bindir: Path, folder: Path, server_log: IO[bytes], port: int) -> subprocess.Popen[bytes]:
    settings = [f"--{name}={value}" for name, value in _SERVER_SETTINGS.items()]
    return subprocess.Popen(
        [
            str(bindir / "postgres"),
            *("-D", str(folder / "data")),
            *("-h", HOST),
            *("-p", str(port)),
            *("-k", str(folder)),  # the unix socket stays inside the folder
            *settings,
        ],
        cwd=folder,
        env=_server_env(),
        stdin=subprocess.DEVNULL,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        **_as_server_account(),
    )


def _wait_until_accepting(process: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """True once the server accepts a connection; False if it exited (port taken) first."""
    url = f"postgresql://{SUPERUSER}@{HOST}:{port}/postgres"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with psycopg.connect(url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            time.sleep(0.05)
    _stop(process)
    raise RuntimeError(f"PostgreSQL did not accept connections within {timeout:g}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT to the postmaster, as ``pg_ctl stop -m fast`` sends), then kill."""
    stop(process, signum=signal.SIGINT)


def _tail(server_log: IO[bytes]) -> str:
    server_log.seek(0)
    return server_log.read()[-3000:].decode(errors="replace")
