"""The built-in MJPEG camera: valid multipart JPEG over real loopback HTTP, clean shutdown."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import requests
import simplejpeg

from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.demo.server import BOUNDARY, MjpegServer


def _grey(index: int, t_s: float) -> np.ndarray:
    """A frame whose brightness encodes its index (so order is checkable from pixels)."""
    return np.full((120, 160, 3), (index * 10) % 250, np.uint8)


def _read_raw(url: str, n_bytes: int, timeout_s: float = 5.0) -> tuple[str, bytes]:
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while len(data) < n_bytes:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def test_stream_is_valid_multipart_mjpeg() -> None:
    published = []
    with MjpegServer(_grey, fps=30.0, on_publish=lambda *a: published.append(a)) as server:
        head, body = _read_raw(server.url, 60_000)
    assert head.startswith("HTTP/1.0 200")
    assert f"Content-Type: multipart/x-mixed-replace; boundary={BOUNDARY}" in head
    parts = body.split(f"--{BOUNDARY}\r\n".encode())[1:-1]  # the last one may be cut short
    assert len(parts) >= 5
    indexes = []
    for part in parts:
        headers, _, payload = part.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in headers.decode().split("\r\n"))
        assert fields["Content-Type"] == "image/jpeg"
        length = int(fields["Content-Length"])
        assert payload[length:] == b"\r\n"
        image = simplejpeg.decode_jpeg(payload[:length], colorspace="BGR")
        index = int(fields["X-Frame-Index"])
        assert float(fields["X-Timestamp"]) == pytest.approx(index / 30.0, abs=1e-5)
        assert image.shape == (120, 160, 3)
        assert abs(int(image.mean()) - (index * 10) % 250) <= 2
        indexes.append(index)
    assert indexes == sorted(set(indexes))
    assert [p[0] for p in published][: len(indexes)] == list(range(len(published)))[: len(indexes)]


def test_snapshot_and_unknown_path() -> None:
    scene = DemoScene()
    with MjpegServer(lambda i, t: scene.render(t)[0]) as server:
        answer = requests.get(server.snapshot_url, timeout=5)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
        assert simplejpeg.decode_jpeg(answer.content).shape == (480, 640, 3)
        assert requests.get(server.url.replace("/stream", "/nope"), timeout=5).status_code == 404


def test_close_ends_the_stream_and_frees_the_port() -> None:
    server = MjpegServer(_grey).start()
    port = server.port
    answer = requests.get(server.url, stream=True, timeout=5)
    chunks = answer.iter_content(4096)
    next(chunks)
    server.close()
    for _ in chunks:  # the server ends the body: iteration stops
        pass
    answer.close()
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    server.close()  # idempotent


def test_falling_behind_skips_frames_rather_than_lagging() -> None:
    def slow(index: int, t_s: float) -> np.ndarray:
        time.sleep(0.05)
        return _grey(index, t_s)

    with MjpegServer(slow, fps=60.0) as server:
        time.sleep(0.6)
        stats = server.stats()
    assert stats.skipped > 0


def test_the_real_http_camera_source_reads_it() -> None:
    from gazefusion.fusion.camera import open_camera
    from gazefusion.fusion.config import CameraConfig

    scene = DemoScene()
    published: list[int] = []
    with MjpegServer(lambda i, t: scene.render(t)[0], on_publish=lambda i, *_: published.append(i)) as server:
        with open_camera(server.url, CameraConfig()) as camera:
            camera.start()
            first = camera.latest(timeout_s=5.0)
            assert first is not None
            frame = camera.latest(newer_than=first.index + 5, timeout_s=5.0)
            stats = camera.stats()
    assert frame is not None and frame.image.shape == (480, 640, 3)
    assert frame.jpeg is not None and frame.jpeg[:2] == b"\xff\xd8"
    assert camera.size == (640, 480)
    assert stats.corrupt == 0 and stats.frames >= 6
    # The image is the scene: the frame matches one of the last renders closely (JPEG aside).
    errors = [
        float(np.abs(scene.render(k / 30.0)[0].astype(int) - frame.image.astype(int)).mean()) for k in published[-30:]
    ]
    assert min(errors) < 3.0
    assert max(errors) > min(errors)  # the scene moves: frames differ
