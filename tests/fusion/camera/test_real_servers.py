"""Camera sources against real camera servers nobody here wrote (motion, VLC, GStreamer).

Reading, authentication, snapshots, refusals at the start, error wording, kill/restart and
SIGSTOP/SIGCONT. The servers are processes started by the `real_server` fixture.
"""

from __future__ import annotations

import logging
import re
import time

import pytest

from gazefusion.fusion.camera import open_camera
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import CameraError

from .servers import PASSWORD, USER, wait_until

# Short timeouts so outages show quickly; generous decode lag (a busy machine must not skip).
CONFIG = CameraConfig(
    connect_timeout_s=3.0, read_timeout_s=2.0, reconnect_initial_s=0.1, reconnect_max_s=1.0, max_decode_lag_s=10.0
)
CREDENTIALS = f"{USER}:{PASSWORD}"


def read_frames(source, count: int, timeout_s: float = 10.0) -> list:
    """`count` new frames as a consumer takes them (the newest each time)."""
    frames: list = []
    index = -1
    deadline = time.monotonic() + timeout_s
    while len(frames) < count and time.monotonic() < deadline:
        frame = source.latest(index, timeout_s=max(0.0, deadline - time.monotonic()))
        if frame is None:
            break
        frames.append(frame)
        index = frame.index
    return frames


def url_of(server, kind: str) -> str:
    """The URL a test reads for one server setup."""
    if kind == "motion-digest" or kind == "motion-basic":
        return server.url(server.stream_path, CREDENTIALS)
    if kind == "motion-snapshot":
        return "snapshot+" + server.url(server.snapshot_path, CREDENTIALS)
    return server.stream_url


SETUPS = {
    "motion": ("motion", {}),
    "motion-basic": ("motion", {"auth": "basic"}),
    "motion-digest": ("motion", {"auth": "digest"}),
    "motion-snapshot": ("motion", {"auth": "digest"}),
    "vlc-mjpeg": ("vlc", {}),
    "rtsp-h264": ("rtsp", {}),
    "vlc-rtsp": ("vlc-rtsp", {}),
    "tcp-multipart": ("tcp", {}),
}


@pytest.mark.parametrize("setup", list(SETUPS), ids=list(SETUPS))
def test_reads_the_real_server(real_server, setup: str) -> None:
    kind, options = SETUPS[setup]
    server = real_server(kind, **options)
    with open_camera(url_of(server, setup), CONFIG) as source:
        frames = read_frames(source, 5)
        stats = source.stats()
    assert len(frames) == 5
    assert frames[-1].image.shape == (240, 320, 3)
    assert stats.reconnects == 0
    assert PASSWORD not in source.name


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_wrong_password_is_refused_at_the_start(real_server, auth: str) -> None:
    server = real_server("motion", auth=auth)
    config = CONFIG.model_copy(update={"read_timeout_s": 6.0})  # motion answers a failed login after 2 s
    with pytest.raises(CameraError, match=r"HTTP 401 Unauthorized") as caught:
        open_camera(server.url(server.stream_path, f"{USER}:wrong"), config).start()
    assert "wrong" not in str(caught.value)


def test_wrong_camera_id_is_refused_at_the_start(real_server) -> None:
    """motion answers a wrong camera id with 200, no Content-Type and an HTML page (issue 15, item 1)."""
    server = real_server("motion")
    with pytest.raises(CameraError) as caught:
        open_camera(server.url(server.wrong_id_path), CONFIG).start()
    assert str(caught.value) == (
        f"camera {server.url(server.wrong_id_path)}: answers with no Content-Type and an HTML page "
        "(a wrong path or camera id?), not an MJPEG stream; check the URL"
    )


@pytest.mark.slow
def test_connections_that_bring_no_frame_keep_the_backoff(real_server, caplog) -> None:
    """motion comes back serving another camera id: each connection answers with an HTML page
    and brings no frame. That is one outage with a growing backoff, not a reconnect per
    connection (issue 15, item 1: 79 reconnects in 20 s before)."""
    server = real_server("motion")
    config = CONFIG.model_copy(update={"reconnect_initial_s": 0.05, "reconnect_max_s": 1.6})

    def next_waits_s() -> list[float]:  # the backoff after each attempt of the outage, as logged
        said = [r.getMessage() for r in caplog.records if r.name == "gazefusion.camera" and r.levelno == logging.DEBUG]
        return [float(m) for line in said for m in re.findall(r"; next(?: attempt)? in ([0-9.]+) s$", line)]

    with caplog.at_level(logging.DEBUG, logger="gazefusion.camera"), open_camera(server.stream_url, config) as source:
        assert len(read_frames(source, 2)) == 2
        server.camera_id += 2  # the stream path is now a wrong camera id
        server.restart()
        # Seven attempts, however long a loaded machine takes for them (3.15 s of backoff at least).
        assert wait_until(lambda: len(next_waits_s()) >= 7, 60.0), caplog.text
        during = source.stats()
        events = source.pop_events()
        server.camera_id -= 2
        server.restart()
        assert wait_until(lambda: source.stats().reconnects == 1, 60.0)
        assert read_frames(source, 2)
    assert during.reconnects == 0
    assert [kind for _, kind, _ in events] == ["outage"]
    # One outage: the wait doubles from 0.05 s to its cap at each attempt, never starting again
    # (reset by every connection that brought no frame, it was 0.05 s each time: 79 reconnects in 20 s).
    assert next_waits_s()[:7] == [0.1, 0.2, 0.4, 0.8, 1.6, 1.6, 1.6]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings  # the outage's two edges


def test_killed_server_reads_the_camera_closed_the_stream(real_server) -> None:
    """A stream that was running and is cut (issue 15, item 5: read 'cannot connect (ProtocolError)')."""
    server = real_server("motion")
    with open_camera(server.stream_url, CONFIG) as source:
        assert len(read_frames(source, 2)) == 2
        server.kill()
        assert wait_until(lambda: not source.stats().connected, 10.0)
        events = source.pop_events()
    assert events[0][1:] == ("outage", "the camera closed the stream")


def test_server_that_does_not_speak_http(real_server) -> None:
    """GStreamer's tcpserversink answers an HTTP request with raw multipart bytes (item 5)."""
    server = real_server("tcp")
    url = server.url.replace("tcp://", "http://")
    with pytest.raises(CameraError) as caught:
        open_camera(url, CONFIG).start()
    assert str(caught.value) == (
        f"camera {url}: the server at 127.0.0.1:{server.port} does not speak HTTP (an rtsp:// or tcp:// stream?)"
    )


KILLABLE = ["motion-digest", "vlc-mjpeg", "rtsp-h264", "vlc-rtsp", "tcp-multipart"]


@pytest.mark.slow
@pytest.mark.parametrize("setup", KILLABLE, ids=KILLABLE)
def test_kill_and_restart(real_server, setup: str) -> None:
    """SIGKILL the server, start it again on the same port: one outage, one reconnect, frames go on."""
    kind, options = SETUPS[setup]
    server = real_server(kind, **options)
    with open_camera(url_of(server, setup), CONFIG) as source:
        before = read_frames(source, 3)
        server.kill()
        assert wait_until(lambda: not source.stats().connected or source.stats().reconnects, 15.0)
        server.start()
        assert wait_until(lambda: source.stats().reconnects == 1, 30.0)
        after = read_frames(source, 3)
        events = source.pop_events()
    assert len(before) == 3 and len(after) == 3
    assert after[0].index > before[-1].index
    assert [kind for _, kind, _ in events] == ["outage", "reconnect"]


@pytest.mark.slow
@pytest.mark.parametrize("setup", KILLABLE, ids=KILLABLE)
def test_sigstop_and_sigcont(real_server, setup: str) -> None:
    """A stalled server (SIGSTOP for longer than the read timeout): one outage; after SIGCONT the
    frames come again, none of them from before the stall presented as new."""
    kind, options = SETUPS[setup]
    server = real_server(kind, **options)
    source = open_camera(url_of(server, setup), CONFIG)
    tap = source.tap()
    with source:
        read_frames(source, 3)
        server.pause()
        paused_at = time.monotonic()
        assert wait_until(lambda: not source.stats().connected, 15.0)
        time.sleep(max(0.0, paused_at + 4.0 - time.monotonic()))
        server.resume()
        resumed_at = time.monotonic()
        assert wait_until(lambda: source.stats().reconnects == 1, 30.0)
        after = read_frames(source, 3)
        events = source.pop_events()
        stats = source.stats()
    frames = []
    while (frame := tap.get(timeout_s=0)) is not None:
        frames.append(frame)
    kinds = [kind for _, kind, _ in events]
    assert [kind for kind in kinds if kind != "stale"] == ["outage", "reconnect"]
    outage_t = next(t for t, kind, _ in events if kind == "outage")
    assert outage_t < paused_at + 1.0  # recorded from when the stream was last good, not when noticed
    if kind in ("rtsp", "vlc-rtsp"):  # OpenCV handed back a frame buffered before the stall: dropped, counted (item 4)
        assert "stale" in kinds and stats.stale >= 1
    assert len(after) == 3
    # no frame from before the stall handed out during it as if it were new
    assert not [f.index for f in frames if paused_at + 0.5 < f.t < resumed_at]
