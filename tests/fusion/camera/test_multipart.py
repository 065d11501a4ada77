"""The multipart parser: boundary variants, Content-Length (true, absent, lying), garbage, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gazefusion.fusion.camera.multipart import BadPart, MultipartParser, boundary_from_content_type

from .conftest import make_jpeg, multipart_body, with_exif_thumbnail

FRAMES = [make_jpeg(80, 60, seed=i) for i in range(4)]
THUMBED = [with_exif_thumbnail(make_jpeg(80, 60, seed=10 + i), make_jpeg(16, 16, seed=20 + i)) for i in range(3)]


def parse(
    body: bytes, boundary: bytes | None = b"frame", chunk: int = 1 << 16, max_part_bytes: int = 1_000_000
) -> list:
    parser = MultipartParser(boundary, max_part_bytes)
    out = []
    for i in range(0, len(body), chunk):
        out += parser.feed(body[i : i + chunk])
    return out


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("multipart/x-mixed-replace; boundary=frame", b"frame"),
        ('multipart/x-mixed-replace; boundary="frame"', b"frame"),
        ("multipart/x-mixed-replace;boundary=--frame", b"frame"),
        ('multipart/x-mixed-replace; boundary="--my boundary"', b"my boundary"),
        ("Multipart/X-Mixed-Replace; charset=x; BOUNDARY=ffmpeg", b"ffmpeg"),
        ("image/jpeg", None),
        ("multipart/x-mixed-replace", None),
    ],
    ids=["plain", "quoted", "leading-dashes", "quoted-dashes-space", "case-and-params", "not-multipart", "no-boundary"],
)
def test_boundary_from_content_type(header: str, expected: bytes | None) -> None:
    assert boundary_from_content_type(header) == expected


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("dashes", ["--", "----"], ids=["dashes-2", "dashes-4"])
@pytest.mark.parametrize("content_length", [True, False], ids=["with-length", "without-length"])
def test_boundary_variants(newline: bytes, dashes: str, content_length: bool) -> None:
    body = multipart_body(FRAMES, newline=newline, dashes=dashes, content_length=content_length)
    assert parse(body) == FRAMES


@pytest.mark.parametrize("content_length", [True, False], ids=["with-length", "without-length"])
def test_exif_thumbnails_split_correctly(content_length: bool) -> None:
    assert parse(multipart_body(THUMBED, content_length=content_length)) == THUMBED


def test_part_is_emitted_before_the_next_boundary_arrives() -> None:
    """No frame waits for the next part: it is out as soon as its last byte is in."""
    body = multipart_body(FRAMES[:1], content_length=False)
    parser = MultipartParser(b"frame")
    end_of_jpeg = body.index(FRAMES[0]) + len(FRAMES[0])
    assert parser.feed(body[:end_of_jpeg]) == [FRAMES[0]]


@pytest.mark.parametrize(
    "lengths",
    [[len(f) + 5000 for f in FRAMES], [len(f) - 100 for f in FRAMES], [len(f) + 1 for f in FRAMES], [7] * len(FRAMES)],
    ids=["too-long", "too-short", "one-over", "tiny"],
)
def test_lying_content_length_falls_back_to_markers(lengths: list[int]) -> None:
    assert parse(multipart_body(FRAMES, content_length=lengths), chunk=1000) == FRAMES


def test_content_length_counting_the_crlf() -> None:
    assert parse(multipart_body(FRAMES, content_length=[len(f) + 2 for f in FRAMES])) == FRAMES


def test_garbage_between_parts_is_skipped() -> None:
    garbage = b"\x00\xff\xd8 noise --fram not a boundary\r\n\xff\xd9" * 20
    body = b"preamble\r\n" + b"".join(garbage + multipart_body([f]) for f in FRAMES)
    assert parse(body, chunk=777) == FRAMES


@pytest.mark.parametrize("content_length", [True, False], ids=["with-length", "without-length"])
def test_oversize_part_is_refused_and_the_stream_resyncs(content_length: bool) -> None:
    big = make_jpeg(640, 480, seed=9, quality=95)
    limit = len(big) // 2
    out = parse(
        multipart_body([FRAMES[0], big, FRAMES[1]], content_length=content_length), chunk=4096, max_part_bytes=limit
    )
    assert out[0] == FRAMES[0] and out[-1] == FRAMES[1]
    assert [p.reason for p in out[1:-1]] == ["oversize"]


def test_not_a_jpeg_part_is_refused() -> None:
    out = parse(multipart_body([FRAMES[0], b"<html>camera busy</html>", FRAMES[1]], content_length=False))
    assert out[0] == FRAMES[0] and out[-1] == FRAMES[1]
    assert isinstance(out[1], BadPart) and out[1].reason == "not a JPEG"


def test_truncated_jpeg_followed_by_next_part_resyncs() -> None:
    cut = FRAMES[0][: len(FRAMES[0]) // 2]
    out = parse(multipart_body([cut, FRAMES[1], FRAMES[2]], content_length=False))
    assert out[-2:] == [FRAMES[1], FRAMES[2]]
    assert all(isinstance(p, BadPart) for p in out[:-2]) and out[:-2]


def test_stream_ending_mid_frame_reports_truncated() -> None:
    body = multipart_body(FRAMES[:2])
    parser = MultipartParser(b"frame")
    assert parser.feed(body[: len(body) - 500]) == FRAMES[:1]
    assert parser.close() == BadPart("truncated", parser.close().size)


def test_close_delimiter_ends_the_stream() -> None:
    body = multipart_body(FRAMES[:2]) + b"--frame--\r\n" + multipart_body(FRAMES[2:])
    parser = MultipartParser(b"frame")
    assert parser.feed(body) == FRAMES[:2]
    assert parser.close() is None


def test_bare_concatenated_jpegs() -> None:
    assert parse(b"junk".join(FRAMES + THUMBED), boundary=None, chunk=999) == FRAMES + THUMBED


@settings(max_examples=40, deadline=None)
@given(chunk=st.integers(min_value=1, max_value=3000), content_length=st.booleans(), lf=st.booleans())
def test_any_chunking_gives_the_same_parts(chunk: int, content_length: bool, lf: bool) -> None:
    body = multipart_body(FRAMES + THUMBED, content_length=content_length, newline=b"\n" if lf else b"\r\n")
    assert parse(body, chunk=chunk) == FRAMES + THUMBED


def test_buffer_stays_small_on_a_long_stream() -> None:
    parser = MultipartParser(b"frame")
    body = multipart_body(FRAMES)
    for _ in range(200):
        parser.feed(body)
    assert parser.buffered_bytes < len(body) + 65536
