"""The real-photo corpus in loadtest/corpus/photos: its files match SHA256SUMS, its
licences and README are there, and the variants never enlarge a photo."""

from __future__ import annotations

import pytest

from loadtest.quality.corpus import (
    GEOMETRIES,
    PHOTOS_DIR,
    CorpusError,
    Geometry,
    Photo,
    checksums,
    file_sha256,
    geometries_named,
    load_photos,
    variants,
)


def test_every_file_matches_sha256sums() -> None:
    sums = checksums()
    assert len(sums) == 20
    for name, digest in sorted(sums.items()):
        assert file_sha256(PHOTOS_DIR / name) == digest, name


def test_every_image_in_the_folder_is_listed_and_documented() -> None:
    images = {p.name for p in PHOTOS_DIR.iterdir() if p.suffix in (".jpg", ".png")}
    assert images == set(checksums())
    readme = (PHOTOS_DIR / "README.md").read_text()
    for name in images:
        assert f"`{name}`" in readme, name
    assert len(list(PHOTOS_DIR.glob("LICENSE-*.txt"))) == 3


def test_load_photos_reads_sizes_and_refuses_unknown_names() -> None:
    (photo,) = load_photos(["kodim04.png"])
    assert (photo.width, photo.height) == (512, 768)
    with pytest.raises(CorpusError, match="not in"):
        load_photos(["nope.jpg"])


def photo(width: int, height: int) -> Photo:
    return Photo("p.jpg", PHOTOS_DIR / "p.jpg", width, height, "")


@pytest.mark.parametrize(
    ("geometry", "size", "applies", "output"),
    [
        pytest.param("fit500", (768, 512), True, (500, 333), id="fit-landscape"),
        pytest.param("fit500", (512, 768), True, (333, 500), id="fit-portrait-box"),
        pytest.param("fit1200", (768, 512), False, None, id="no-enlarging"),
        pytest.param("fit1200", (4000, 3000), True, (1200, 900), id="fit-large"),
        pytest.param("cover300", (768, 512), True, (300, 300), id="cover"),
        pytest.param("cover300", (400, 250), False, None, id="cover-too-small"),
    ],
)
def test_geometries(
    geometry: str, size: tuple[int, int], applies: bool, output: tuple[int, int] | None
) -> None:
    (g,) = geometries_named([geometry])
    p = photo(*size)
    assert g.applies_to(p) is applies
    if output is not None:
        assert g.output_size(p) == output


def test_variants_leave_out_enlargements() -> None:
    small, large = photo(768, 512), photo(4000, 3000)
    keys = [(v.photo.width, v.geometry.key) for v in variants([small, large], GEOMETRIES)]
    assert (768, "fit1200") not in keys
    assert len(keys) == 7


def test_unknown_geometry_is_named() -> None:
    with pytest.raises(ValueError, match="'fit99'"):
        geometries_named(["fit99"])
    assert isinstance(GEOMETRIES[0], Geometry)
