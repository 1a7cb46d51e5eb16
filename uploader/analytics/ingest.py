"""Reading an edge access log incrementally, exactly once, across rotations.

A log is named by its path (the source). Its committed `Position` says which file was read
(device, inode, and a digest of its first bytes) and the offset after the last line counted;
each batch of lines is committed together with the position after it (`AnalyticsStore.commit`),
so after a crash the next run starts exactly where the last commit ended.

Rotation, found by looking at the path and its rotated names (``access.log.1``,
``access.log-20261202``; compressed ones are not read):

- rename (logrotate's default, nginx reopening on USR1): the file read last is found under
  its new name by device and inode, read to its end once a later file has a line (its
  writer has reopened the path), then the files written after it in order (modification
  time, then the rotation's number or date), the live path last;
- copytruncate: the path keeps its inode but starts again from nothing, so its first bytes no
  longer match; the copy with the matching first bytes is read from the offset to its end,
  then the live path from the start. (A new first line byte for byte the old one's would
  not be noticed; the edge's lines carry their time to the millisecond.)

If the file read last is nowhere (deleted, or compressed before it was finished), reading
goes on from the start of the live path and the loss is logged. An empty file is never made
the position (its content could be copied away and truncated before the first read, which
nothing would tell); a log never read starts with its oldest plain rotated file. Only whole
lines are counted while a file may still grow; a rotated file's last line counts even without
its newline.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import BinaryIO, cast

from uploader.analytics.batch import Batch
from uploader.analytics.formats import LogFormat
from uploader.analytics.store import AnalyticsStore, Committed, Position

__all__ = ["CRASH_POINTS", "CrashAt", "IngestTotals", "LogIngester"]

log = logging.getLogger("pixgate.analytics")

HEAD_BYTES = 1024  # first bytes whose digest tells one file's content from another
READ_BYTES = 1 << 20
MAX_LINE_BYTES = 1 << 20  # a longer "line" is garbage: skipped without being held whole
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip")
# Where a test may have the ingester kill itself (SIGKILL: no clean-up runs): after a batch
# is read and before its transaction; inside the transaction after every write; after commit.
CRASH_POINTS = ("read", "commit", "committed")


@dataclass(frozen=True, slots=True)
class CrashAt:
    point: str  # one of CRASH_POINTS
    batch: int = 1  # the n-th commit of this run


@dataclass(slots=True)
class IngestTotals:
    lines: int = 0
    requests: int = 0
    views: int = 0
    dropped_views: int = 0  # views of deleted or unknown images
    unattributed: int = 0
    skipped: int = 0
    batches: int = 0
    lost_files: int = 0  # rotations whose unread rest could not be found


@dataclass(frozen=True, slots=True)
class _File:
    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int

    @property
    def identity(self) -> tuple[int, int]:
        return (self.device, self.inode)


def _stat(path: str) -> _File | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return _File(path, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _open(path: str) -> BinaryIO:
    if path.endswith(".gz"):
        return cast(BinaryIO, gzip.open(path, "rb"))
    return open(path, "rb")


def _head_digest(handle: BinaryIO, length: int) -> str:
    handle.seek(0)
    return hashlib.sha256(handle.read(length)).hexdigest()


class LogIngester:
    """Counts one log into `store`; `run_once` reads what there is, `totals` adds up."""

    def __init__(
        self,
        store: AnalyticsStore,
        source: Path,
        log_format: LogFormat,
        image_id: Callable[[str], str | None],
        *,
        batch_lines: int,
        on_commit: Callable[[Batch, Committed], None] | None = None,
        crash_at: CrashAt | None = None,
    ) -> None:
        self._store = store
        self._source = str(source.absolute())
        self._format = log_format
        self._image_id = image_id
        self._batch_lines = batch_lines
        self._on_commit = on_commit
        self._crash_at = crash_at
        self._commits = 0
        self.totals = IngestTotals()

    @property
    def source(self) -> str:
        return self._source

    def lag_bytes(self) -> int:
        """Bytes of the live file not yet counted (0 when it is not the file being read)."""
        position = self._store.position(self._source)
        live = _stat(self._source)
        if position is None or live is None:
            return 0 if live is None else live.size
        if live.identity != (position.device, position.inode):
            return live.size
        return max(0, live.size - position.offset)

    def run_once(self) -> IngestTotals:
        """Count every complete line there is now, across rotations; return the totals."""
        position = self._store.position(self._source)
        found = self._locate(position)
        finished: set[tuple[int, int]] = set()  # rotated files read to their end, this run
        while found is not None:
            file, same_content = found
            if position is None or not same_content:
                if file.size == 0:
                    break  # nothing to start on: an empty file is not made the position
                position = self._start(position, file)  # a new file: from its start
            elif file.identity != (position.device, position.inode):
                position = self._adopt(position, file)  # the copy of the file read: same offset
            position = self._read(file, position, final=False)
            if self._is_live(file, position):
                break
            found = self._locate(position)
            if found is None or found[0].identity != file.identity or not found[1]:
                continue  # truncated after this read: its copy, or a new file from its start
            # Renamed away: once a later file has a line (its writer has moved on), finish
            # this one and go on with that one.
            following = self._next_after(file)
            if following is None or following.identity in finished:
                break
            position = self._read(file, position, final=True)
            finished.add(file.identity)
            position = self._start(position, following)
            found = following, True
        return self.totals

    def _candidates(self) -> list[_File]:
        names = [self._source]
        if not self._source.endswith(".gz"):
            pattern = glob_escape(self._source)
            rotated = glob(pattern + ".*") + glob(pattern + "-*")
            names += sorted(name for name in rotated if not name.endswith(_COMPRESSED))
        return [found for name in names if (found := _stat(name)) is not None]

    def _matches(self, file: _File, position: Position) -> bool:
        """Whether `file` holds what `position` was read from: as long, same first bytes."""
        if file.size < position.offset and not file.path.endswith(".gz"):
            return False  # (a compressed file's size says nothing of its content's length)
        try:
            with _open(file.path) as handle:
                return _head_digest(handle, position.head_bytes) == position.head_sha256
        except OSError:
            return False

    def _locate(self, position: Position | None) -> tuple[_File, bool] | None:
        """The file to read next and whether it holds `position`'s content; None: no log."""
        candidates = self._candidates()
        live = next((c for c in candidates if c.path == self._source), None)
        if position is None:  # never read: from the oldest plain file with a line
            first = next((c for c in self._in_written_order() if c.size > 0), live)
            return None if first is None else (first, False)
        identity = (position.device, position.inode)
        for candidate in candidates:
            if candidate.identity == identity and self._matches(candidate, position):
                return candidate, True
        if position.offset > 0:
            for candidate in candidates:  # copytruncate: the copy has the first bytes read
                if candidate.identity != identity and self._matches(candidate, position):
                    return candidate, True
            self.totals.lost_files += 1
            log.warning(
                "log position lost: the file read last is gone; reading the live file",
                extra={"source": self._source, "offset": position.offset},
            )
        return None if live is None else (live, False)

    def _is_live(self, file: _File, position: Position) -> bool:
        """Whether `file` is still what the source path names (not renamed, not truncated)."""
        live = _stat(self._source)
        return live is not None and live.identity == file.identity and self._matches(live, position)

    def _in_written_order(self) -> list[_File]:
        """The rotated files in the order they were written (modification time, then the
        rotation's number or date), then the live path."""
        candidates = self._candidates()
        rotated = [c for c in candidates if c.path != self._source]
        rotated.sort(key=lambda c: (c.mtime_ns, _rotation_rank(self._source, c.path)))
        return rotated + [c for c in candidates if c.path == self._source]

    def _next_after(self, file: _File) -> _File | None:
        """The first file written after `file` that has a line: a rotated file, else the
        live path. Empty ones are passed over; None if there is none yet."""
        ordered = self._in_written_order()
        index = next((i for i, c in enumerate(ordered) if c.identity == file.identity), None)
        later = ordered[index + 1 :] if index is not None else ordered[-1:]
        return next((c for c in later if c.size > 0 and c.identity != file.identity), None)

    def _start(self, position: Position | None, file: _File) -> Position:
        """Commit the start of `file` as the position (with an empty batch)."""
        start = Position(file.device, file.inode, 0, 0, _EMPTY_SHA256, 0)
        self._commit(position, start, Batch())
        return start

    def _adopt(self, position: Position | None, file: _File) -> Position:
        """Commit `file` (a copy of the file read) at the same offset."""
        assert position is not None
        moved = Position(
            file.device,
            file.inode,
            position.offset,
            position.head_bytes,
            position.head_sha256,
            position.lines,
        )
        self._commit(position, moved, Batch())
        return moved

    def _read(self, file: _File, position: Position, *, final: bool) -> Position:
        """Count `file` from `position` to its current end, a batch at a time; return the
        position after it. `final`: the file no longer grows, so its last line counts even
        without a newline."""
        parse, is_comment, image_id = self._format.parse, self._format.is_comment, self._image_id
        with _open(file.path) as handle:
            opened = os.fstat(handle.fileno())
            if (opened.st_dev, opened.st_ino) != file.identity:
                return position  # renamed between stat and open: look again next run
            handle.seek(position.offset)
            offset = position.offset
            batch = Batch()
            pending = b""
            while chunk := handle.read(READ_BYTES):
                data = pending + chunk if pending else chunk
                end = data.rfind(b"\n")
                if end < 0:
                    pending = data
                    if len(pending) > MAX_LINE_BYTES:  # garbage: skip it, never hold it whole
                        batch.lines += 1
                        batch.skipped += 1
                        offset += len(pending)
                        pending = b""
                    continue
                pending = data[end + 1 :]
                for line in data[:end].split(b"\n"):
                    offset += len(line) + 1
                    batch.lines += 1
                    if is_comment(line):
                        continue
                    request = parse(line)
                    if request is None:
                        batch.skipped += 1
                    else:
                        batch.add(request, image_id)
                    if batch.lines >= self._batch_lines:
                        position = self._commit_batch(handle, file, position, offset, batch)
                        batch = Batch()
            if final and pending:
                offset += len(pending)
                batch.lines += 1
                request = None if is_comment(pending) else parse(pending)
                if request is not None:
                    batch.add(request, image_id)
                elif not is_comment(pending):
                    batch.skipped += 1
            if batch.lines or offset != position.offset:
                position = self._commit_batch(handle, file, position, offset, batch)
        return position

    def _commit_batch(
        self, handle: BinaryIO, file: _File, position: Position, offset: int, batch: Batch
    ) -> Position:
        head_bytes = min(HEAD_BYTES, offset)
        if head_bytes == position.head_bytes:
            head_sha256 = position.head_sha256
        else:
            resume = handle.tell()
            head_sha256 = _head_digest(handle, head_bytes)
            handle.seek(resume)
        new = Position(
            file.device, file.inode, offset, head_bytes, head_sha256, position.lines + batch.lines
        )
        self._commit(position, new, batch)
        return new

    def _commit(self, expected: Position | None, new: Position, batch: Batch) -> None:
        self._commits += 1
        crash = self._crash_at if self._crash_at and self._crash_at.batch == self._commits else None
        if crash is not None and crash.point == "read":
            _die()
        committed = self._store.commit(
            self._source,
            expected,
            new,
            batch,
            before_commit=_die if crash is not None and crash.point == "commit" else None,
        )
        if crash is not None and crash.point == "committed":
            _die()
        totals = self.totals
        totals.lines += batch.lines
        totals.requests += batch.requests
        totals.views += committed.views
        totals.dropped_views += committed.dropped_views
        totals.unattributed += batch.unattributed
        totals.skipped += batch.skipped
        totals.batches += 1
        if self._on_commit is not None:
            self._on_commit(batch, committed)


def _rotation_rank(source: str, path: str) -> tuple[int, int, str]:
    """Orders rotated files written in the same clock tick: ``log.2`` before ``log.1``
    (logrotate's numbers count back), ``log-20261201`` before ``log-20261202``."""
    suffix = path[len(source) + 1 :]
    if suffix.isdigit():
        return (0, -int(suffix), "")
    return (1, 0, suffix)


def glob_escape(path: str) -> str:
    return "".join(f"[{char}]" if char in "*?[" else char for char in path)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
