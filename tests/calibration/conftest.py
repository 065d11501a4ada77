"""Rendered chessboard views shared by the calibration tests (rendered once per run), and a
small MJPEG server on loopback that shows them to the live calibration like an IP camera.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import pytest

from tests.calibration.chessboards import BoardPose, write_views

BOARD = (9, 6)
SQUARE_MM = 25.0


@pytest.fixture(scope="session")
def rendered_views(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, BoardPose]]:
    """15 views of a 9x6 board, 25 mm squares, by the known camera (PNG files and their poses)."""
    return write_views(tmp_path_factory.mktemp("chessboards"), BOARD, SQUARE_MM, 15, seed=3)


class MjpegServer:
    """multipart/x-mixed-replace JPEGs over HTTP on 127.0.0.1 (a free port), in a thread.

    Every client gets ``jpegs[0]`` `frames_per_image` times, then ``jpegs[1]`` …, looping, at
    `rate_hz`. With `frames_per_image` 1 the picture changes every frame.
    """

    def __init__(self, jpegs: list[bytes], frames_per_image: int = 12, rate_hz: float = 30.0) -> None:
        stop = self._stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                index = 0
                while not stop.is_set():
                    jpeg = jpegs[(index // frames_per_image) % len(jpegs)]
                    try:
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                            + str(len(jpeg)).encode()
                            + b"\r\n\r\n"
                            + jpeg
                            + b"\r\n"
                        )
                        self.wfile.flush()
                    except OSError:
                        return
                    index += 1
                    time.sleep(1.0 / rate_hz)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End every stream and stop listening."""
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def encode_jpegs(paths: list[Path], quality: int = 92) -> list[bytes]:
    """The images at `paths` as JPEG bytes."""
    out = []
    for path in paths:
        ok, encoded = cv2.imencode(".jpg", cv2.imread(str(path)), [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        out.append(encoded.tobytes())
    return out


@pytest.fixture
def mjpeg_server() -> Iterator[Callable[..., MjpegServer]]:
    """Start MjpegServers (arguments as MjpegServer's); all are stopped after the test."""
    servers: list[MjpegServer] = []

    def start(jpegs: list[bytes], frames_per_image: int = 12, rate_hz: float = 30.0) -> MjpegServer:
        server = MjpegServer(jpegs, frames_per_image, rate_hz)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
