"""The MJPEG source against ffmpeg serving a real MJPEG stream on loopback."""

from __future__ import annotations

import pytest

from gazefusion.fusion.camera import MjpegSource, open_camera
from gazefusion.fusion.config import CameraConfig


def test_reads_ffmpeg_stream(ffmpeg_camera) -> None:
    source = open_camera(ffmpeg_camera.url, CameraConfig())
    tap = source.tap()  # made before start: it sees every frame
    with source:
        assert isinstance(source, MjpegSource)
        index = -1
        for _ in range(10):
            frame = source.latest(index, timeout_s=5)
            assert frame is not None and frame.index > index
            index = frame.index
        assert frame.image.shape == (480, 640, 3)
        assert frame.jpeg is not None and frame.jpeg[:2] == b"\xff\xd8" and frame.jpeg[-2:] == b"\xff\xd9"
    stats = source.stats()
    assert (stats.width, stats.height) == (640, 480)
    assert stats.frames >= 10 and stats.corrupt == 0 and stats.reconnects == 0
    assert stats.latency_median_ms > 0
    tapped = []
    while (frame := tap.get(timeout_s=0)) is not None:
        tapped.append(frame.index)
    assert tapped == list(range(len(tapped))) and len(tapped) == stats.frames


@pytest.mark.parametrize("timeout_s", [0.0, 0.05], ids=["no-wait", "short-wait"])
def test_latest_returns_none_when_nothing_newer(ffmpeg_camera, timeout_s: float) -> None:
    with open_camera(ffmpeg_camera.url) as source:
        frame = source.latest(timeout_s=5)
        assert frame is not None
        assert source.latest(newer_than=frame.index + 10_000, timeout_s=timeout_s) is None
