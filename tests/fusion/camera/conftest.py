"""Camera test helpers: real JPEGs, multipart bodies, and a scripted HTTP server on loopback.

`ScriptedServer` is a real TCP server (127.0.0.1, port 0) whose connections are answered by a
test function that writes exact bytes, for the cases where ffmpeg cannot misbehave on purpose.
Other test folders may import it: ``from tests.fusion.camera.conftest import ScriptedServer``.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest


def make_jpeg(width: int = 64, height: int = 48, seed: int = 0, quality: int = 85, **flags: int) -> bytes:
    """A real JPEG of a seeded smooth random picture (extra flags: cv2.IMWRITE_* name -> value)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    for name, value in flags.items():
        params += [getattr(cv2, name), value]
    ok, encoded = cv2.imencode(".jpg", image, params)
    assert ok
    return encoded.tobytes()


def with_exif_thumbnail(jpeg: bytes, thumbnail: bytes) -> bytes:
    """`jpeg` with an APP1 'Exif' segment right after SOI that embeds `thumbnail` (SOI…EOI)."""
    payload = b"Exif\x00\x00" + b"II*\x00\x08\x00\x00\x00" + b"\x00\x00" + thumbnail
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


def multipart_body(
    parts: Sequence[bytes],
    boundary: str = "frame",
    newline: bytes = b"\r\n",
    content_length: bool | Sequence[int | None] = True,
    dashes: str = "--",
) -> bytes:
    """An MJPEG multipart body: each part with its delimiter line, headers and JPEG bytes.

    `content_length` True writes the true lengths, False none, a sequence gives each part's
    (possibly lying) value or None for no header.
    """
    out = bytearray()
    for i, part in enumerate(parts):
        out += f"{dashes}{boundary}".encode() + newline + b"Content-Type: image/jpeg" + newline
        length = len(part) if content_length is True else None if content_length is False else content_length[i]
        if length is not None:
            out += f"Content-Length: {length}".encode() + newline
        out += newline + part + newline
    return bytes(out)


def http_head(
    status: str = "200 OK", content_type: str = "multipart/x-mixed-replace; boundary=frame", extra: Sequence[str] = ()
) -> bytes:
    """A response head without Content-Length (the body streams until the connection closes)."""
    lines = [
        f"HTTP/1.1 {status}",
        f"Content-Type: {content_type}",
        "Connection: close",
        "Cache-Control: no-cache",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Request:
    """One accepted connection: its running number, the request head, and the socket."""

    index: int
    head: bytes
    sock: socket.socket
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, data: bytes) -> bool:
        """Send all of `data`; False if the client has gone."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False


Handler = Callable[[Request], None]


class ScriptedServer:
    """A TCP server on 127.0.0.1 whose every connection runs `handler(request)` in a thread.

    The handler writes the exact response bytes; the connection closes when it returns.
    `port` 0 takes a free port; give the port of a stopped server to "restart" it there.
    """

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self.handler = handler
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.requests: list[Request] = []
        self._connections: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, path: str = "/stream", userinfo: str = "") -> str:
        """The URL of `path` on this server, with ``user:pass@`` if given."""
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self._connections.append(sock)
            threading.Thread(target=self._serve, args=(sock, len(self._connections) - 1), daemon=True).start()

    def _serve(self, sock: socket.socket, index: int) -> None:
        head = bytearray()
        try:
            sock.settimeout(10)
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                head += chunk
            text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            headers = {}
            for line in text.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            request = Request(index, bytes(head), sock, headers)
            self.requests.append(request)
            self.handler(request)
        except OSError:
            pass
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def stop(self) -> None:
        """Stop listening and cut every open connection."""
        self._stopped.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept (close alone does not)
        except OSError:
            pass
        self.listener.close()
        for sock in self._connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_basic(request: Request, user: str, password: str) -> bool:
    """Whether the request carries these basic-auth credentials."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return request.headers.get("authorization") == expected


def check_digest(request: Request, user: str, password: str, realm: str, nonce: str) -> bool:
    """Whether the request carries a valid RFC 2617 digest (qop=auth, MD5) for these credentials."""
    value = request.headers.get("authorization", "")
    if not value.startswith("Digest "):
        return False
    fields = dict(part.strip().split("=", 1) for part in value[7:].split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    method_uri = request.head.split(b" ")[1].decode()

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"GET:{method_uri}")
    expected = md5(f"{ha1}:{nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
    return fields.get("username") == user and fields.get("response") == expected


@pytest.fixture
def scripted_server() -> Iterator[Callable[[Handler], ScriptedServer]]:
    """Start ScriptedServers for a test; all are stopped after it."""
    servers: list[ScriptedServer] = []

    def start(handler: Handler, port: int = 0) -> ScriptedServer:
        server = ScriptedServer(handler, port)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
