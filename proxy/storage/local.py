"""Originals on the local filesystem, confined to a set of root directories.

A `file` location's key is an absolute path. Every operation resolves it (symlinks included)
and refuses it unless the result lies inside one of the roots; the refusal is `NotFound`, for
reads and writes alike, so a client cannot tell "outside the roots" from "absent". The
resolved path is then opened one component at a time from the root's directory descriptor
with O_NOFOLLOW, so a symlink swapped in after resolution fails the open instead of escaping.

Only regular files are sources: directories, devices, FIFOs and sockets are `NotFound`.
Reads follow a symlink whose target stays inside a root; `put` and `delete` act on the
directory entry itself (a symlink is replaced or removed, never its target). Blocking calls
run in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import stat as stat_mode
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

from proxy.errors import NotFound, TooLarge, UpstreamError
from proxy.storage.base import SourceBlob, SourceLocation, SourceStat, StoredObject

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO that slipped past the type check must not hang the thread.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG})
_CHUNK = 1 << 20
_READ_ATTEMPTS = 3


class LocalStorage:
    """Serves `file` locations found under `roots` (absolute directory paths)."""

    __slots__ = ("_roots",)

    def __init__(self, roots: tuple[str, ...]) -> None:
        for root in roots:
            if not os.path.isabs(root):
                raise ValueError(f"storage root must be an absolute path, got {root!r}")
        # Resolved once: a root that is itself a symlink (/var -> /private/var) still works.
        self._roots = tuple(os.path.realpath(root) for root in roots)

    @property
    def roots(self) -> tuple[str, ...]:
        return self._roots

    async def stat(self, location: SourceLocation) -> SourceStat:
        return await asyncio.to_thread(self._stat_sync, location.key)

    async def fetch(self, location: SourceLocation, max_bytes: int) -> SourceBlob:
        return await asyncio.to_thread(self._fetch_sync, location.key, max_bytes)

    async def put(self, location: SourceLocation, data: bytes, content_type: str) -> SourceStat:
        # The content type is not stored: the proxy sniffs formats from the bytes.
        return await asyncio.to_thread(self._put_sync, location.key, data)

    async def delete(self, location: SourceLocation) -> None:
        await asyncio.to_thread(self._delete_sync, location.key)

    async def check(self, location: SourceLocation) -> None:
        """Readiness of the root holding `location` (which may be the root itself)."""
        await asyncio.to_thread(self._check_sync, location.key)

    async def list_objects(self, folder: SourceLocation) -> AsyncIterator[StoredObject]:
        """Regular files directly in the directory `folder` (symlinks and temporary files of
        an unfinished `put` are not objects)."""
        for name, mtime in await asyncio.to_thread(self._list_sync, folder.key):
            location = SourceLocation("file", "", os.path.join(folder.key, name))
            yield StoredObject(location, datetime.fromtimestamp(mtime, UTC))

    # -- blocking halves ------------------------------------------------------------------

    def _stat_sync(self, key: str) -> SourceStat:
        with _os_errors("read"):
            fd = self._open_source(key)
            try:
                return _source_stat(_regular(os.fstat(fd)))
            finally:
                os.close(fd)

    def _fetch_sync(self, key: str, max_bytes: int) -> SourceBlob:
        with _os_errors("read"):
            fd = self._open_source(key)
            try:
                for _ in range(_READ_ATTEMPTS):
                    before = _regular(os.fstat(fd))
                    if before.st_size > max_bytes:
                        raise _too_large(max_bytes)
                    # One byte past the expected size tells us the file grew under us.
                    data = _pread_up_to(fd, before.st_size + 1)
                    if len(data) > max_bytes:
                        raise _too_large(max_bytes)
                    after = os.fstat(fd)
                    if _unchanged(before, after) and len(data) == after.st_size:
                        return SourceBlob(data=data, version=_version(after))
            finally:
                os.close(fd)
        raise UpstreamError("source kept changing while being read")

    def _put_sync(self, key: str, data: bytes) -> SourceStat:
        with _os_errors("write"):
            dir_fd, name = self._open_parent(key, create=True)
            try:
                temp_name = f".pixgate-{secrets.token_hex(8)}.tmp"
                fd = os.open(temp_name, _TEMP_FLAGS, 0o666, dir_fd=dir_fd)
                try:
                    try:
                        _write_all(fd, data)
                        _advance_mtime(fd, dir_fd, name)
                        os.fsync(fd)
                        written = os.fstat(fd)
                    finally:
                        os.close(fd)
                    os.replace(temp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temp_name, dir_fd=dir_fd)
                    raise
                # Make the rename itself durable, not only the bytes.
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return _source_stat(written)

    def _delete_sync(self, key: str) -> None:
        with _os_errors("delete"):
            try:
                dir_fd, name = self._open_parent(key, create=False)
            except (FileNotFoundError, NotADirectoryError):
                return  # no parent directory, so no file
            try:
                try:
                    entry = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    return
                if not (stat_mode.S_ISREG(entry.st_mode) or stat_mode.S_ISLNK(entry.st_mode)):
                    raise NotFound("source not found")
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=dir_fd)
            finally:
                os.close(dir_fd)

    def _list_sync(self, key: str) -> list[tuple[str, float]]:
        placement = self._place(key)
        if placement is None:
            raise self._refuse(key)
        root, parts = placement
        found: list[tuple[str, float]] = []
        try:
            with _os_errors("list"):
                dir_fd = _open_dirs(root, parts, create=False)
                try:
                    with os.scandir(dir_fd) as entries:
                        for entry in entries:
                            if entry.name.startswith(".pixgate-"):
                                continue  # a put's temporary file
                            st = entry.stat(follow_symlinks=False)
                            if stat_mode.S_ISREG(st.st_mode):
                                found.append((entry.name, st.st_mtime))
                finally:
                    os.close(dir_fd)
        except NotFound:
            return []  # no folder yet: nothing in it
        return found

    def _check_sync(self, key: str) -> None:
        placement = self._place(key)
        if placement is None:
            raise UpstreamError("location is outside every storage root")
        root = placement[0]
        try:
            os.close(os.open(root, _DIR_FLAGS))
        except OSError:
            raise UpstreamError("storage root is not an accessible directory") from None
        if not os.access(root, os.R_OK | os.X_OK):
            raise UpstreamError("storage root is not readable")

    # -- confinement ----------------------------------------------------------------------

    def _place(self, path: str) -> tuple[str, tuple[str, ...]] | None:
        """The root holding `path` once resolved, and the components below it; else None."""
        # No file has a NUL in its name (realpath would raise); keys are absolute by contract.
        if "\0" in path or not os.path.isabs(path):
            return None
        resolved = os.path.realpath(path)
        for root in self._roots:
            if resolved == root:
                return root, ()
            relative = os.path.relpath(resolved, root)
            if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
                return root, tuple(relative.split(os.sep))
        return None

    def _refuse(self, key: str) -> NotFound:
        log.warning("event=storage_refused backend=file reason=outside_roots key=%r", key)
        return NotFound("source not found")

    def _open_source(self, key: str) -> int:
        """A read-only descriptor on the regular file `key` resolves to, inside a root."""
        placement = self._place(key)
        if placement is None or not placement[1]:
            raise self._refuse(key)
        root, parts = placement
        dir_fd = _open_dirs(root, parts[:-1], create=False)
        try:
            # Look before opening: opening a device can have side effects.
            _regular(os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False))
            fd = os.open(parts[-1], _READ_FLAGS, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        try:
            _regular(os.fstat(fd))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_parent(self, key: str, *, create: bool) -> tuple[int, str]:
        """A descriptor on the directory that holds `key`'s entry, and the entry's name."""
        name = os.path.basename(key)
        placement = self._place(os.path.dirname(key))
        if placement is None or name in ("", os.curdir, os.pardir):
            raise self._refuse(key)
        root, parts = placement
        return _open_dirs(root, parts, create=create), name


def _open_dirs(root: str, parts: tuple[str, ...], *, create: bool) -> int:
    """Walk from `root` through `parts`, refusing any symlink on the way (ELOOP/ENOTDIR)."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except NotADirectoryError:
                # Linux says ENOTDIR for a symlink too; tell "refused" apart from "absent".
                if stat_mode.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise OSError(errno.ELOOP, "symlink inside a storage path") from None
                raise
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _regular(st: os.stat_result) -> os.stat_result:
    if not stat_mode.S_ISREG(st.st_mode):
        raise NotFound("source not found")
    return st


def _pread_up_to(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = os.pread(fd, min(limit - total, _CHUNK), total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _advance_mtime(fd: int, dir_fd: int, name: str) -> None:
    """Give the new file an mtime past the one it replaces.

    The version is mtime+size, and file timestamps come from a coarse clock (a few ms):
    two same-size puts in one tick would otherwise share a version and serve stale variants.
    """
    try:
        old = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    new = os.fstat(fd)
    # Smallest step the filesystem keeps: ns on ext4/xfs/tmpfs, whole seconds on some others.
    for step_ns in (1, 1_000, 1_000_000, 1_000_000_000, 2_000_000_000):
        if new.st_mtime_ns > old.st_mtime_ns:
            return
        os.utime(fd, ns=(new.st_atime_ns, old.st_mtime_ns + step_ns))
        new = os.fstat(fd)


def _unchanged(before: os.stat_result, after: os.stat_result) -> bool:
    return (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size)


def _version(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns:x}-{st.st_size:x}"


def _source_stat(st: os.stat_result) -> SourceStat:
    return SourceStat(size=st.st_size, version=_version(st))


def _too_large(max_bytes: int) -> TooLarge:
    return TooLarge(f"source is larger than {max_bytes} bytes")


@contextlib.contextmanager
def _os_errors(action: str) -> Iterator[None]:
    """Turn OS errors into pixgate errors whose messages name no host path."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _ABSENT:
            raise NotFound("source not found") from None
        log.warning(
            "event=storage_error backend=file action=%s errno=%s",
            action,
            errno.errorcode.get(exc.errno or 0, exc.errno),
        )
        raise UpstreamError(f"could not {action} the source") from None
