"""A built-in MJPEG camera: rendered frames served over HTTP on loopback, like an IP camera.

One producer thread renders and encodes frame ``k`` for scene time ``k / fps`` on a fixed
schedule (skipping ahead when it falls behind, counted), and publishes it; every client
thread sends the newest published frame as one part of a ``multipart/x-mixed-replace``
stream with ``Content-Type``, ``Content-Length`` and ``X-Timestamp`` part headers.
``/snapshot.jpg`` answers one JPEG per request.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import NamedTuple

import numpy as np
import simplejpeg

log = logging.getLogger(__name__)

BOUNDARY = "gazefusionframe"

RenderFunction = Callable[[int, float], np.ndarray]
"""``render(index, t_scene_s) -> BGR image``: the frame with this index at this scene time."""

PublishHook = Callable[[int, float, float], None]
"""``on_publish(index, t_scene_s, t_host_s)``: called once per frame as it becomes servable."""


class ServerStats(NamedTuple):
    """What the server did so far.

    Attributes
    ----------
    rendered : int
        Frames rendered and published.
    skipped : int
        Frame slots skipped because rendering fell behind the schedule.
    parts_sent : int
        Multipart parts written, over all clients.
    clients : int
        Clients connected now.
    render_s : float
        Total time spent rendering and encoding, s.
    """

    rendered: int
    skipped: int
    parts_sent: int
    clients: int
    render_s: float


class _Published(NamedTuple):
    index: int  # type: ignore[assignment]  # a field named like tuple.index
    t_scene: float
    jpeg: bytes


class MjpegServer:
    """Serve rendered frames as an MJPEG stream on ``http://HOST:PORT/stream``.

    Parameters
    ----------
    render : callable
        ``render(index, t_scene_s) -> BGR uint8 image``; frames of one stream share a size.
    fps : float
        Frame rate of the schedule, Hz. (default: 30.0)
    host : str
        Address to bind; loopback keeps the camera private. (default: "127.0.0.1")
    port : int
        TCP port; 0 picks a free one (read it from `port` after `start`). (default: 0)
    quality : int
        JPEG quality, 1..100. (default: 85)
    on_publish : callable or None
        Called with ``(index, t_scene_s, t_host_s)`` for every frame published, from the
        producer thread. (default: None)
    origin_s : float or None
        Host monotonic time of scene time 0; None takes the time of `start`. (default: None)

    Examples
    --------
    >>> with MjpegServer(lambda i, t: np.zeros((480, 640, 3), np.uint8)) as server:
    ...     url = server.url
    """

    def __init__(
        self,
        render: RenderFunction,
        fps: float = 30.0,
        host: str = "127.0.0.1",
        port: int = 0,
        quality: int = 85,
        on_publish: PublishHook | None = None,
        origin_s: float | None = None,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self._render = render
        self.fps = float(fps)
        self._host = host
        self._requested_port = port
        self._quality = int(quality)
        self._on_publish = on_publish
        self.origin_s = origin_s
        self._condition = threading.Condition()
        self._latest: _Published | None = None
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._rendered = 0
        self._skipped = 0
        self._parts_sent = 0
        self._clients = 0
        self._render_s = 0.0
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> MjpegServer:
        """Bind, publish the first frame and start serving; returns self."""
        if self._httpd is not None:
            return self
        self._httpd = _HttpServer((self._host, self._requested_port), _Handler)
        self._httpd.owner = self
        if self.origin_s is None:
            self.origin_s = time.monotonic()
        # The first frame exists before anyone can connect: a client never waits on startup.
        self._produce(0)
        producer = threading.Thread(target=self._run_producer, name="mjpeg-producer", daemon=True)
        http = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="mjpeg-http", daemon=True
        )
        self._threads = [producer, http]
        for thread in self._threads:
            thread.start()
        return self

    def close(self) -> None:
        """Stop the producer and the listener, end every client's stream; idempotent."""
        self._stop.set()
        with self._condition:
            self._condition.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._threads = []

    def __enter__(self) -> MjpegServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- facts -----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound TCP port (after `start`)."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The MJPEG stream's URL."""
        return f"http://{self._host}:{self.port}/stream"

    @property
    def snapshot_url(self) -> str:
        """One JPEG per request."""
        return f"http://{self._host}:{self.port}/snapshot.jpg"

    @property
    def error(self) -> BaseException | None:
        """The exception that stopped the producer, if any."""
        return self._error

    def stats(self) -> ServerStats:
        """Counts so far."""
        with self._condition:
            return ServerStats(self._rendered, self._skipped, self._parts_sent, self._clients, self._render_s)

    # -- producer --------------------------------------------------------------------------
    def _produce(self, index: int) -> None:
        t_scene = index / self.fps
        started = time.perf_counter()
        image = self._render(index, t_scene)
        jpeg = simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=self._quality, colorspace="BGR")
        elapsed = time.perf_counter() - started
        t_host = time.monotonic()
        with self._condition:
            self._latest = _Published(index, t_scene, jpeg)
            self._rendered += 1
            self._render_s += elapsed
            self._condition.notify_all()
        if self._on_publish is not None:
            self._on_publish(index, t_scene, t_host)

    def _run_producer(self) -> None:
        assert self.origin_s is not None
        index = 0
        try:
            while not self._stop.is_set():
                due_index = int((time.monotonic() - self.origin_s) * self.fps)
                next_index = index + 1
                if due_index > next_index:
                    # Rendering fell behind: jump to the frame that is due now, like a camera would.
                    self._skipped += due_index - next_index
                    next_index = due_index
                wait_s = self.origin_s + next_index / self.fps - time.monotonic()
                if wait_s > 0 and self._stop.wait(wait_s):
                    break
                self._produce(next_index)
                index = next_index
        except BaseException as exc:  # noqa: BLE001 - reported through `error`, the stream ends
            log.error("MJPEG server: rendering failed: %s", exc)
            self._error = exc
            self._stop.set()
            with self._condition:
                self._condition.notify_all()

    # -- clients ---------------------------------------------------------------------------
    def _next_frame(self, after_index: int, timeout_s: float = 1.0) -> _Published | None:
        """The newest frame with an index above `after_index`; None once stopping."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not self._stop.is_set():
                latest = self._latest
                if latest is not None and latest.index > after_index:
                    return latest
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)
        return None

    def _count_part(self) -> None:
        with self._condition:
            self._parts_sent += 1

    def _client(self, delta: int) -> None:
        with self._condition:
            self._clients += delta


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: MjpegServer


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.0"
    server_version = "gazefusion-demo-camera/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        log.debug("MJPEG server: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        if path in ("/", "/stream", "/video.mjpg"):
            self._stream()
        elif path == "/snapshot.jpg":
            self._snapshot()
        else:
            self.send_error(404, "try /stream or /snapshot.jpg")

    def _snapshot(self) -> None:
        frame = self.server.owner._next_frame(-1)
        if frame is None:
            self.send_error(503, "no frame")
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(frame.jpeg)))
        self.send_header("X-Timestamp", f"{frame.t_scene:.6f}")
        self.end_headers()
        self.wfile.write(frame.jpeg)

    def _stream(self) -> None:
        owner = self.server.owner
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-cache, no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        owner._client(+1)
        sent_index = -1
        try:
            while True:
                frame = owner._next_frame(sent_index)
                if frame is None:
                    if owner._stop.is_set():
                        return
                    continue
                head = (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(frame.jpeg)}\r\n"
                    f"X-Timestamp: {frame.t_scene:.6f}\r\nX-Frame-Index: {frame.index}\r\n\r\n"
                ).encode("ascii")
                self.wfile.write(head + frame.jpeg + b"\r\n")
                self.wfile.flush()
                owner._count_part()
                sent_index = frame.index
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            log.debug("MJPEG server: client %s went away", self.client_address)
        finally:
            owner._client(-1)
