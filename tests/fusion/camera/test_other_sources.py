"""OpenCV sources (a video file), the none source, and choosing a source from the spec string."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gazefusion.fusion.camera import (
    SOURCE_KINDS,
    MjpegSource,
    NoneSource,
    OpenCvSource,
    SnapshotSource,
    open_camera,
    redact_url,
)
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import CameraError


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    """A 12-frame MJPG AVI at 200 fps whose frames carry their number as brightness."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 200.0, (64, 48))
    assert writer.isOpened()
    for i in range(12):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    return path


def test_video_file_plays_every_frame_then_ends(video_file: Path) -> None:
    source = open_camera(str(video_file))
    tap = source.tap()
    with source:
        assert isinstance(source, OpenCvSource)
        frames = []
        while (frame := tap.get(timeout_s=5)) is not None:
            frames.append(frame)
        assert source.finished
        assert source.latest(newer_than=frames[-1].index, timeout_s=1) is None
        events = source.pop_events()
    assert [f.index for f in frames] == list(range(12))
    brightness = [int(np.median(f.image)) for f in frames]
    assert all(abs(b - 20 * i) <= 3 for i, b in enumerate(brightness))
    assert frames[0].jpeg is None and frames[0].image.shape == (48, 64, 3)
    assert [kind for _, kind, _ in events] == ["end"]


def test_file_that_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a video")
    with pytest.raises(CameraError, match=r"notes\.txt: OpenCV could not open the video file"):
        open_camera(str(path)).start()


def test_tap_of_a_finished_source_does_not_wait(video_file: Path) -> None:
    source = open_camera(str(video_file))
    with source:
        pass
    tap = source.tap()
    assert tap.closed and tap.get(timeout_s=None) is None


def test_none_source_has_no_frames() -> None:
    with open_camera("none") as source:
        assert isinstance(source, NoneSource)
        assert source.latest(timeout_s=0.01) is None
        assert source.size is None
        assert source.stats().frames == 0


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("http://cam.local/video.mjpg", MjpegSource),
        ("HTTPS://user:pw@cam.local/mjpeg", MjpegSource),
        ("snapshot+http://cam.local/snap.jpg", SnapshotSource),
        ("rtsp://user:pw@cam.local:554/stream1", OpenCvSource),
        ("tcp://127.0.0.1:5000", OpenCvSource),
        ("srt://127.0.0.1:5000?mode=caller", OpenCvSource),
        ("0", OpenCvSource),
        (" none ", NoneSource),
    ],
    ids=["http", "https-credentials", "snapshot", "rtsp", "tcp", "srt", "device", "none"],
)
def test_spec_picks_the_source(spec: str, kind: type) -> None:
    source = open_camera(spec, CameraConfig())
    assert isinstance(source, kind)
    assert "pw@" not in source.name


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no/such/clip.mp4", r"^camera source 'no/such/clip\.mp4' names nothing openable"),
        ("", r"names nothing openable"),
    ],
    ids=["missing-file", "empty"],
)
def test_unopenable_spec(spec: str, message: str) -> None:
    with pytest.raises(CameraError, match=message):
        open_camera(spec)


@pytest.mark.parametrize(
    ("spec", "scheme"),
    [("foo://user:secret@cam/x", "foo"), ("gopher://127.0.0.1:9/x", "gopher")],
    ids=["unknown-with-credentials", "unknown"],
)
def test_scheme_opencv_cannot_open_either(spec: str, scheme: str) -> None:
    """Any scheme goes to OpenCV's FFmpeg back end; refused, with the known ones, only when it fails there too."""
    source = open_camera(spec, CameraConfig(connect_timeout_s=1.0))
    with pytest.raises(CameraError) as caught:
        source.start()
    message = str(caught.value)
    assert message.startswith(f"camera source '{redact_url(spec)}': unsupported scheme '{scheme}', and OpenCV")
    assert "tcp://" in message and "rtsp://" in message and "secret" not in message


def test_registered_kind_comes_before_the_file_fallback(tmp_path: Path, video_file: Path) -> None:
    try:
        SOURCE_KINDS.add("clip", lambda s, c: NoneSource(c), matches=lambda s: s.endswith(".avi"))
        assert list(SOURCE_KINDS)[-1] == "clip"  # registered after the file kind, tried before it
        assert isinstance(open_camera(str(video_file)), NoneSource)
    finally:
        SOURCE_KINDS.remove("clip")
    assert isinstance(open_camera(str(video_file)), OpenCvSource)
