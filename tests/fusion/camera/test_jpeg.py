"""The JPEG end scanner: segment walking, EXIF thumbnails, stuffing, restarts, progressive scans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gazefusion.fusion.camera.jpeg import INVALID, NEED_MORE, JpegScanner, jpeg_end

from .conftest import make_jpeg, with_exif_thumbnail

BASELINE = make_jpeg(96, 64, seed=1)
THUMB = make_jpeg(16, 16, seed=2)
VARIANTS = {
    "baseline": BASELINE,
    "exif-thumbnail": with_exif_thumbnail(make_jpeg(96, 64, seed=3), THUMB),
    "restart-markers": make_jpeg(96, 64, seed=4, IMWRITE_JPEG_RST_INTERVAL=1),
    "progressive": make_jpeg(96, 64, seed=5, IMWRITE_JPEG_PROGRESSIVE=1),
    "optimized": make_jpeg(96, 64, seed=6, IMWRITE_JPEG_OPTIMIZE=1),
}


@pytest.mark.parametrize("jpeg", VARIANTS.values(), ids=VARIANTS.keys())
def test_end_is_the_frames_eoi(jpeg: bytes) -> None:
    assert jpeg_end(jpeg + b"\r\n--frame\r\n" + BASELINE) == len(jpeg)


def test_exif_thumbnail_eoi_is_not_the_end() -> None:
    jpeg = VARIANTS["exif-thumbnail"]
    first_eoi = jpeg.find(b"\xff\xd9") + 2
    assert first_eoi < len(jpeg)  # the naive search stops inside the thumbnail
    assert jpeg_end(jpeg) == len(jpeg)


def test_restart_markers_are_present_and_skipped() -> None:
    jpeg = VARIANTS["restart-markers"]
    assert b"\xff\xd0" in jpeg
    assert jpeg_end(jpeg) == len(jpeg)


def test_fill_bytes_before_a_marker() -> None:
    jpeg = BASELINE[:2] + b"\xff\xff" + BASELINE[2:]
    assert jpeg_end(jpeg) == len(jpeg)


@pytest.mark.parametrize(
    "data",
    [b"GIF89a\x00\x00", b"\xff\xd8\x00\x10JFIF", b"\xff\xd8\xff\xd8", b"\xff\xd8\xff\xe0\x00\x01"],
    ids=["not-soi", "no-marker-after-soi", "nested-soi", "length-below-two"],
)
def test_malformed_is_invalid(data: bytes) -> None:
    assert JpegScanner().scan(data) == INVALID


@pytest.mark.parametrize("cut", [1, 2, 3, 20, len(BASELINE) // 2, len(BASELINE) - 1], ids=lambda c: f"cut-at-{c}")
def test_truncated_needs_more(cut: int) -> None:
    assert JpegScanner().scan(BASELINE[:cut]) == NEED_MORE


def test_scans_from_an_offset() -> None:
    data = b"garbage" + BASELINE
    assert JpegScanner().scan(data, start=7) == len(data)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(VARIANTS)), cuts=st.lists(st.integers(min_value=1, max_value=4000), max_size=12))
def test_incremental_equals_whole(name: str, cuts: list[int]) -> None:
    """Fed in arbitrary chunks, the scanner finds the same end as when given everything at once."""
    jpeg = VARIANTS[name]
    stream = b"\x00junk" + jpeg + b"\r\n--frame\r\n"
    scanner = JpegScanner()
    result = NEED_MORE
    for end in sorted({min(c, len(stream)) for c in cuts} | {len(stream)}):
        result = scanner.scan(stream[:end], start=5)
        if result != NEED_MORE:
            break
    assert result == 5 + len(jpeg)


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=300))
def test_never_crashes_and_ends_inside_the_data(data: bytes) -> None:
    result = JpegScanner().scan(b"\xff\xd8" + data)
    assert result in (NEED_MORE, INVALID) or 4 <= result <= len(data) + 2
