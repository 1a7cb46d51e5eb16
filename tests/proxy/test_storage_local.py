"""LocalStorage on a real filesystem: confinement to the roots, versions, size caps, atomic put."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from proxy.errors import NotFound, TooLarge, UpstreamError
from proxy.storage.base import SourceLocation
from proxy.storage.local import LocalStorage

MIB = 1 << 20


def at(path: Path | str) -> SourceLocation:
    return SourceLocation(scheme="file", bucket="", key=str(path))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root").mkdir()
    return tmp_path / "root"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.jpg").write_bytes(b"secret")
    return tmp_path / "outside"


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage((str(root),))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xd8\xff\xe0 jpeg-ish", id="small"),
        pytest.param(bytes(range(256)) * (4 * MIB // 256) + b"!", id="several-chunks"),
    ],
)
async def test_stat_and_fetch_agree_with_the_file(
    storage: LocalStorage, root: Path, data: bytes
) -> None:
    (root / "a").mkdir()
    (root / "a" / "photo.jpg").write_bytes(data)
    info = os.stat(root / "a" / "photo.jpg")

    stat = await storage.stat(at(root / "a" / "photo.jpg"))
    blob = await storage.fetch(at(root / "a" / "photo.jpg"), max_bytes=len(data))

    assert stat.size == len(data)
    assert stat.version == f"{info.st_mtime_ns:x}-{info.st_size:x}"
    assert blob.data == data
    assert blob.version == stat.version


def make_file(path: Path, data: bytes = b"") -> Path:
    path.write_bytes(data)
    return path


def rewrite_in_place(path: Path, data: bytes) -> None:
    before = os.stat(path)
    path.write_bytes(data)
    # Written in the same clock tick, the mtime could repeat: step it as time would.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize(
    ("first", "second", "via_put"),
    [
        pytest.param(b"aaaa", b"bbbb", True, id="put-same-size"),
        pytest.param(b"aaaa", b"aaaaa", True, id="put-other-size"),
        pytest.param(b"aaaa", b"bbbb", False, id="external-rewrite-same-size"),
        pytest.param(b"aaaa", b"aaa", False, id="external-rewrite-shorter"),
    ],
)
async def test_version_changes_when_the_bytes_change(
    storage: LocalStorage, root: Path, first: bytes, second: bytes, via_put: bool
) -> None:
    target = root / "photo.jpg"
    await storage.put(at(target), first, "image/jpeg")
    before = await storage.stat(at(target))

    if via_put:
        after = await storage.put(at(target), second, "image/jpeg")
        assert after == await storage.stat(at(target))
    else:
        rewrite_in_place(target, second)
        after = await storage.stat(at(target))

    assert after.version != before.version
    assert (await storage.fetch(at(target), 100)).version == after.version


async def test_version_is_stable_while_the_file_is_untouched(
    storage: LocalStorage, root: Path
) -> None:
    (root / "photo.jpg").write_bytes(b"same")
    assert await storage.stat(at(root / "photo.jpg")) == await storage.stat(at(root / "photo.jpg"))


def make_missing(root: Path, outside: Path) -> str:
    return str(root / "missing.jpg")


def make_missing_parent(root: Path, outside: Path) -> str:
    return str(root / "no-such-dir" / "photo.jpg")


def make_directory(root: Path, outside: Path) -> str:
    (root / "album.jpg").mkdir()
    return str(root / "album.jpg")


def make_fifo(root: Path, outside: Path) -> str:
    os.mkfifo(root / "pipe.jpg")
    return str(root / "pipe.jpg")


def make_root_itself(root: Path, outside: Path) -> str:
    return str(root)


def make_file_outside(root: Path, outside: Path) -> str:
    return str(outside / "secret.jpg")


def make_dotdot_escape(root: Path, outside: Path) -> str:
    return f"{root}/../outside/secret.jpg"


def make_symlink_to_file_outside(root: Path, outside: Path) -> str:
    (root / "link.jpg").symlink_to(outside / "secret.jpg")
    return str(root / "link.jpg")


def make_symlinked_dir_outside(root: Path, outside: Path) -> str:
    (root / "linked").symlink_to(outside, target_is_directory=True)
    return str(root / "linked" / "secret.jpg")


def make_symlink_to_device(root: Path, outside: Path) -> str:
    (root / "null.jpg").symlink_to(os.devnull)
    return str(root / "null.jpg")


def make_dangling_symlink(root: Path, outside: Path) -> str:
    (root / "dangling.jpg").symlink_to(root / "gone.jpg")
    return str(root / "dangling.jpg")


def make_sibling_with_root_prefix(root: Path, outside: Path) -> str:
    # "/x/root-other" starts with "/x/root" as a string but is not inside it.
    (root.parent / "root-other").mkdir()
    (root.parent / "root-other" / "photo.jpg").write_bytes(b"x")
    return str(root.parent / "root-other" / "photo.jpg")


def make_relative_key(root: Path, outside: Path) -> str:
    return "photo.jpg"


def make_nul_in_key(root: Path, outside: Path) -> str:
    return f"{root}/photo\0.jpg"


REFUSED = [
    pytest.param(make_missing, id="missing"),
    pytest.param(make_missing_parent, id="missing-parent"),
    pytest.param(make_directory, id="directory"),
    pytest.param(make_fifo, id="fifo"),
    pytest.param(make_root_itself, id="root-itself"),
    pytest.param(make_file_outside, id="file-outside"),
    pytest.param(make_dotdot_escape, id="dotdot-escape"),
    pytest.param(make_symlink_to_file_outside, id="symlink-escapes"),
    pytest.param(make_symlinked_dir_outside, id="symlinked-dir-escapes"),
    pytest.param(make_symlink_to_device, id="symlink-to-device"),
    pytest.param(make_dangling_symlink, id="dangling-symlink"),
    pytest.param(make_sibling_with_root_prefix, id="sibling-with-root-prefix"),
    pytest.param(make_relative_key, id="relative-key"),
    pytest.param(make_nul_in_key, id="nul-in-key"),
]


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda s, location: s.stat(location), id="stat"),
        pytest.param(lambda s, location: s.fetch(location, MIB), id="fetch"),
    ],
)
@pytest.mark.parametrize("make_key", REFUSED)
async def test_reads_are_not_found_outside_regular_files_in_the_roots(
    storage: LocalStorage,
    root: Path,
    outside: Path,
    make_key: Callable[[Path, Path], str],
    read: Callable[[LocalStorage, SourceLocation], Awaitable[object]],
) -> None:
    location = at(make_key(root, outside))
    with pytest.raises(NotFound) as caught:
        await read(storage, location)
    assert str(root.parent) not in caught.value.message  # no host paths reach the client


@pytest.mark.parametrize(
    "link_target",
    [
        pytest.param("photo.jpg", id="relative"),
        pytest.param("sub/../photo.jpg", id="relative-with-dotdot"),
        pytest.param("ABSOLUTE", id="absolute"),
    ],
)
async def test_symlink_staying_inside_the_root_is_followed(
    storage: LocalStorage, root: Path, link_target: str
) -> None:
    (root / "sub").mkdir()
    (root / "photo.jpg").write_bytes(b"real")
    target = str(root / "photo.jpg") if link_target == "ABSOLUTE" else link_target
    (root / "alias.jpg").symlink_to(target)

    assert (await storage.fetch(at(root / "alias.jpg"), 10)).data == b"real"


async def test_a_root_given_through_a_symlink_works(tmp_path: Path, root: Path) -> None:
    (tmp_path / "root-link").symlink_to(root, target_is_directory=True)
    (root / "photo.jpg").write_bytes(b"real")
    storage = LocalStorage((str(tmp_path / "root-link"),))

    assert (await storage.fetch(at(tmp_path / "root-link" / "photo.jpg"), 10)).data == b"real"
    assert (await storage.fetch(at(root / "photo.jpg"), 10)).data == b"real"


async def test_second_root_serves_too(tmp_path: Path, root: Path, outside: Path) -> None:
    storage = LocalStorage((str(root), str(outside)))
    assert (await storage.fetch(at(outside / "secret.jpg"), 10)).data == b"secret"


@pytest.mark.parametrize(
    ("swap", "key_below_root"),
    [
        pytest.param("file", "photo.jpg", id="final-component"),
        pytest.param("dir", "album/secret.jpg", id="intermediate-directory"),
    ],
)
async def test_symlink_swapped_in_after_resolution_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    storage: LocalStorage,
    root: Path,
    outside: Path,
    swap: str,
    key_below_root: str,
) -> None:
    if swap == "file":
        (root / "photo.jpg").symlink_to(outside / "secret.jpg")
    else:
        (root / "album").symlink_to(outside, target_is_directory=True)
    # Resolution saw no symlink (as if the swap happened just after it): the open must refuse.
    monkeypatch.setattr(os.path, "realpath", lambda path, **_: os.path.normpath(path))

    with pytest.raises(NotFound):
        await storage.fetch(at(root / key_below_root), MIB)
    if swap == "dir":
        with pytest.raises(NotFound):
            await storage.put(at(root / "album" / "new.jpg"), b"x", "image/jpeg")
        with pytest.raises(NotFound):
            await storage.delete(at(root / "album" / "secret.jpg"))
    assert sorted(os.listdir(outside)) == ["secret.jpg"]


@pytest.mark.parametrize(
    ("size", "max_bytes", "too_large"),
    [
        pytest.param(1000, 1000, False, id="at-limit"),
        pytest.param(1001, 1000, True, id="one-over"),
        pytest.param(1 << 34, 1000, True, id="16-GiB-sparse"),
        pytest.param(1, 0, True, id="zero-limit"),
    ],
)
async def test_fetch_refuses_oversize_before_reading(
    monkeypatch: pytest.MonkeyPatch,
    storage: LocalStorage,
    root: Path,
    size: int,
    max_bytes: int,
    too_large: bool,
) -> None:
    os.truncate(make_file(root / "big.jpg"), size)  # sparse: nothing is written
    reads: list[int] = []
    real_pread = os.pread

    def counting_pread(fd: int, length: int, offset: int) -> bytes:
        reads.append(length)
        return real_pread(fd, length, offset)

    monkeypatch.setattr(os, "pread", counting_pread)

    if too_large:
        with pytest.raises(TooLarge):
            await storage.fetch(at(root / "big.jpg"), max_bytes)
        assert reads == []
    else:
        assert len((await storage.fetch(at(root / "big.jpg"), max_bytes)).data) == size


@pytest.mark.parametrize(
    ("growths", "max_bytes", "expected"),
    [
        pytest.param([b"+grown"], 100, b"original+grown", id="grows-once-within-limit"),
        pytest.param([b"+" * 50], 20, TooLarge, id="grows-past-limit"),
        pytest.param([b"+"] * 10, 1000, UpstreamError, id="never-settles"),
    ],
)
async def test_fetch_guards_against_the_file_changing_while_read(
    monkeypatch: pytest.MonkeyPatch,
    storage: LocalStorage,
    root: Path,
    growths: list[bytes],
    max_bytes: int,
    expected: bytes | type[Exception],
) -> None:
    target = root / "growing.jpg"
    target.write_bytes(b"original")
    pending = list(growths)
    real_pread = os.pread

    def pread_while_a_writer_appends(fd: int, length: int, offset: int) -> bytes:
        if pending and offset == 0:
            with open(target, "ab") as writer:
                writer.write(pending.pop(0))
            stat = os.stat(target)  # make the change visible even within one clock tick
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        return real_pread(fd, length, offset)

    monkeypatch.setattr(os, "pread", pread_while_a_writer_appends)

    if isinstance(expected, bytes):
        blob = await storage.fetch(at(target), max_bytes)
        assert blob.data == expected
        assert blob.version == (await storage.stat(at(target))).version
    else:
        with pytest.raises(expected):
            await storage.fetch(at(target), max_bytes)


@pytest.mark.parametrize(
    "relative_key",
    [
        pytest.param("photo.jpg", id="in-root"),
        pytest.param("a/b/c/photo.jpg", id="creates-parents"),
        pytest.param("a/b/c/.hidden", id="dot-name"),
    ],
)
async def test_put_writes_the_bytes_and_reports_their_stat(
    storage: LocalStorage, root: Path, relative_key: str
) -> None:
    stat = await storage.put(at(root / relative_key), b"new bytes", "image/png")

    assert (root / relative_key).read_bytes() == b"new bytes"
    assert stat == await storage.stat(at(root / relative_key))
    assert stat.size == len(b"new bytes")


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.startswith(".pixgate-")]


async def test_put_replaces_atomically(storage: LocalStorage, root: Path) -> None:
    target = root / "photo.jpg"
    await storage.put(at(target), b"old bytes", "image/jpeg")
    old_inode = os.stat(target).st_ino

    reader_opened_before = os.open(target, os.O_RDONLY)
    try:
        await storage.put(at(target), b"new bytes!", "image/jpeg")
        # A reader that opened the old file keeps reading the whole old file.
        assert os.read(reader_opened_before, 100) == b"old bytes"
    finally:
        os.close(reader_opened_before)

    assert target.read_bytes() == b"new bytes!"
    assert os.stat(target).st_ino != old_inode  # a rename, not a rewrite in place
    assert temp_files(root) == []


async def test_concurrent_readers_see_a_whole_version(storage: LocalStorage, root: Path) -> None:
    target = root / "photo.jpg"
    contents = [bytes([letter]) * (2 * MIB) for letter in b"ab"]
    await storage.put(at(target), contents[0], "image/jpeg")

    _, blobs = await asyncio.gather(
        asyncio.gather(*(storage.put(at(target), contents[i % 2], "image/jpeg") for i in range(8))),
        asyncio.gather(*(storage.fetch(at(target), 4 * MIB) for _ in range(16))),
    )

    assert all(blob.data in contents for blob in blobs)
    assert temp_files(root) == []


@pytest.mark.parametrize(
    "failing_call",
    [pytest.param("write", id="write-fails"), pytest.param("fsync", id="fsync-fails")],
)
async def test_failed_put_keeps_the_old_file_and_leaves_no_temp_file(
    monkeypatch: pytest.MonkeyPatch, storage: LocalStorage, root: Path, failing_call: str
) -> None:
    target = root / "photo.jpg"
    await storage.put(at(target), b"old bytes", "image/jpeg")

    def no_space(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing_call, no_space)

    with pytest.raises(UpstreamError) as caught:
        await storage.put(at(target), b"new bytes", "image/jpeg")

    monkeypatch.undo()
    assert str(root) not in caught.value.message
    assert target.read_bytes() == b"old bytes"
    assert temp_files(root) == []


async def test_put_over_a_symlink_replaces_the_link_not_its_target(
    storage: LocalStorage, root: Path
) -> None:
    (root / "real.jpg").write_bytes(b"real")
    (root / "alias.jpg").symlink_to("real.jpg")

    await storage.put(at(root / "alias.jpg"), b"new", "image/jpeg")

    assert not (root / "alias.jpg").is_symlink()
    assert (root / "alias.jpg").read_bytes() == b"new"
    assert (root / "real.jpg").read_bytes() == b"real"


def make_put_outside(root: Path, outside: Path) -> str:
    return str(outside / "new.jpg")


def make_put_through_symlinked_dir(root: Path, outside: Path) -> str:
    (root / "linked").symlink_to(outside, target_is_directory=True)
    return str(root / "linked" / "new.jpg")


def make_put_dotdot(root: Path, outside: Path) -> str:
    return f"{root}/../outside/new.jpg"


def make_put_over_directory(root: Path, outside: Path) -> str:
    (root / "album").mkdir()
    return str(root / "album")


@pytest.mark.parametrize(
    ("make_key", "error"),
    [
        pytest.param(make_put_outside, NotFound, id="outside"),
        pytest.param(make_put_through_symlinked_dir, NotFound, id="symlinked-dir-escapes"),
        pytest.param(make_put_dotdot, NotFound, id="dotdot-escape"),
        pytest.param(make_root_itself, NotFound, id="root-itself"),
        pytest.param(make_put_over_directory, UpstreamError, id="over-a-directory"),
    ],
)
async def test_put_is_refused_outside_the_roots(
    storage: LocalStorage,
    root: Path,
    outside: Path,
    make_key: Callable[[Path, Path], str],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await storage.put(at(make_key(root, outside)), b"x", "image/jpeg")
    assert sorted(os.listdir(outside)) == ["secret.jpg"]
    assert temp_files(root) == []


async def test_delete_removes_the_file(storage: LocalStorage, root: Path) -> None:
    await storage.put(at(root / "a" / "photo.jpg"), b"x", "image/jpeg")
    await storage.delete(at(root / "a" / "photo.jpg"))
    assert not (root / "a" / "photo.jpg").exists()
    with pytest.raises(NotFound):
        await storage.stat(at(root / "a" / "photo.jpg"))


@pytest.mark.parametrize(
    "relative_key",
    [pytest.param("missing.jpg", id="missing"), pytest.param("no/dir/x.jpg", id="missing-dirs")],
)
async def test_delete_of_a_missing_file_is_not_an_error(
    storage: LocalStorage, root: Path, relative_key: str
) -> None:
    await storage.delete(at(root / relative_key))


async def test_delete_of_a_symlink_removes_the_link_only(
    storage: LocalStorage, root: Path, outside: Path
) -> None:
    (root / "alias.jpg").symlink_to(outside / "secret.jpg")
    await storage.delete(at(root / "alias.jpg"))
    assert not (root / "alias.jpg").is_symlink()
    assert (outside / "secret.jpg").read_bytes() == b"secret"


@pytest.mark.parametrize(
    "make_key",
    [
        pytest.param(make_file_outside, id="outside"),
        pytest.param(make_dotdot_escape, id="dotdot-escape"),
        pytest.param(make_symlinked_dir_outside, id="symlinked-dir-escapes"),
        pytest.param(make_directory, id="directory"),
        pytest.param(make_fifo, id="fifo"),
    ],
)
async def test_delete_is_refused_for_what_is_not_a_source(
    storage: LocalStorage, root: Path, outside: Path, make_key: Callable[[Path, Path], str]
) -> None:
    key = make_key(root, outside)
    with pytest.raises(NotFound):
        await storage.delete(at(key))
    assert os.lstat(key)  # still there
    assert (outside / "secret.jpg").exists()


@pytest.mark.parametrize(
    "relative_key",
    [pytest.param("", id="root-itself"), pytest.param("a/b/photo.jpg", id="below-root")],
)
async def test_check_passes_for_a_readable_root(
    storage: LocalStorage, root: Path, relative_key: str
) -> None:
    await storage.check(at(os.path.join(root, relative_key).rstrip("/")))


def root_missing(tmp_path: Path) -> str:
    return str(tmp_path / "gone")


def root_is_a_file(tmp_path: Path) -> str:
    (tmp_path / "file").write_bytes(b"")
    return str(tmp_path / "file")


def root_is_a_dangling_symlink(tmp_path: Path) -> str:
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    return str(tmp_path / "link")


@pytest.mark.parametrize(
    "make_root",
    [
        pytest.param(root_missing, id="missing"),
        pytest.param(root_is_a_file, id="a-file"),
        pytest.param(root_is_a_dangling_symlink, id="dangling-symlink"),
    ],
)
async def test_check_fails_for_a_broken_root(
    tmp_path: Path, make_root: Callable[[Path], str]
) -> None:
    root = make_root(tmp_path)
    with pytest.raises(UpstreamError):
        await LocalStorage((root,)).check(at(root))


@pytest.fixture
def unreadable_root(root: Path) -> Iterator[Path]:
    root.chmod(0)
    yield root
    root.chmod(0o755)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
async def test_check_fails_for_an_unreadable_root(unreadable_root: Path) -> None:
    with pytest.raises(UpstreamError):
        await LocalStorage((str(unreadable_root),)).check(at(unreadable_root))


async def test_check_fails_for_a_location_outside_the_roots(
    storage: LocalStorage, outside: Path
) -> None:
    with pytest.raises(UpstreamError):
        await storage.check(at(outside))


@pytest.mark.parametrize(
    "roots",
    [pytest.param(("relative/dir",), id="relative"), pytest.param(("",), id="empty")],
)
def test_roots_must_be_absolute(roots: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="absolute"):
        LocalStorage(roots)
