"""The HTTP sources against a scripted server on loopback: every bad input of issue 2, and auth."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import pytest

from gazefusion.fusion.camera import MjpegSource, SnapshotSource, open_camera
from gazefusion.fusion.camera.decode import decode_simplejpeg
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import CameraError
from tests.conftest import free_port

from .conftest import (
    Handler,
    Request,
    check_basic,
    check_digest,
    http_head,
    make_jpeg,
    multipart_body,
)

FRAMES = [make_jpeg(64, 48, seed=i) for i in range(12)]
# A generous decode lag: these tests compare exact frame lists, which a decoder skipping under
# a busy machine's scheduling would break (skipping has its own test).
FAST = CameraConfig(
    connect_timeout_s=2.0, read_timeout_s=2.0, reconnect_initial_s=0.05, reconnect_max_s=0.2, max_decode_lag_s=10.0
)
USER, PASSWORD = "operator", "hunter2-secret"


def stream_then_hold(
    parts: list[bytes], head: bytes | None = None, body: bytes | None = None, hold_s: float = 5.0
) -> Handler:
    """A handler that sends a head and a multipart body, then keeps the connection open."""

    def handler(request: Request) -> None:
        request.send(http_head() if head is None else head)
        request.send(body if body is not None else multipart_body(parts))
        request.sock.settimeout(hold_s)
        try:
            request.sock.recv(1)  # returns when the client closes
        except OSError:
            pass

    return handler


@contextlib.contextmanager
def tapped(spec: str, config: CameraConfig = FAST):
    """A started source and a tap made before the start, so the tap sees every frame."""
    source = open_camera(spec, config)
    tap = source.tap()
    with source:
        yield source, tap


def collect(tap, count: int, timeout_s: float = 5.0) -> list:
    """`count` frames from `tap` (or fewer if they stop coming)."""
    frames = []
    while len(frames) < count and (frame := tap.get(timeout_s)) is not None:
        frames.append(frame)
    return frames


def tap_until(tap, predicate, timeout_s: float = 5.0):
    """Frames from `tap` until one satisfies `predicate`; that frame (or None)."""
    while (frame := tap.get(timeout_s)) is not None:
        if predicate(frame):
            return frame
    return None


# -- the first connection fails: one clear line naming the URL without credentials ----------
def test_connection_refused() -> None:
    url = f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port()}/stream"
    with pytest.raises(
        CameraError, match=r"^camera http://\*\*\*@127\.0\.0\.1:\d+/stream: connection refused"
    ) as caught:
        open_camera(url, FAST).start()
    assert PASSWORD not in str(caught.value) and USER not in str(caught.value)


def test_dns_failure() -> None:
    with pytest.raises(
        CameraError, match=r"camera http://no-such-camera\.invalid/stream: the host name does not resolve"
    ):
        open_camera("http://no-such-camera.invalid/stream", FAST).start()


@pytest.mark.parametrize(
    ("status", "expected"),
    [("401 Unauthorized", "HTTP 401"), ("403 Forbidden", "HTTP 403"), ("404 Not Found", "HTTP 404")],
    ids=["401", "403", "404"],
)
def test_http_error_names_url_without_credentials(scripted_server, status: str, expected: str) -> None:
    server = scripted_server(
        lambda r: r.send(http_head(status, "text/plain", ['WWW-Authenticate: Basic realm="cam"']) + b"no")
    )
    url = server.url("/video.mjpg?resolution=vga&pwd=" + PASSWORD, userinfo=f"{USER}:{PASSWORD}")
    with pytest.raises(CameraError) as caught:
        open_camera(url, FAST).start()
    message = str(caught.value)
    assert message.startswith(
        f"camera http://***@127.0.0.1:{server.port}/video.mjpg?resolution=vga&pwd=***: {expected}"
    )
    assert PASSWORD not in message and USER not in message and "\n" not in message


def test_accepts_and_sends_nothing_times_out(scripted_server) -> None:
    server = scripted_server(lambda r: r.sock.recv(1))
    config = CameraConfig(connect_timeout_s=0.5, read_timeout_s=0.5)
    with pytest.raises(CameraError, match=r"nothing arrived within 0\.5 s"):
        open_camera(server.url(), config).start()


def test_not_an_mjpeg_stream(scripted_server) -> None:
    server = scripted_server(lambda r: r.send(http_head(content_type="text/html") + b"<html></html>"))
    with pytest.raises(CameraError, match=r"serves text/html, not an MJPEG stream"):
        open_camera(server.url(), FAST).start()


# -- bad bytes in a running stream: counted, skipped, the stream goes on ---------------------
@pytest.mark.parametrize(
    ("content_type", "newline", "dashes"),
    [
        ("multipart/x-mixed-replace; boundary=frame", b"\r\n", "--"),
        ('multipart/x-mixed-replace; boundary="frame"', b"\r\n", "--"),
        ("multipart/x-mixed-replace;boundary=--frame", b"\r\n", "--"),
        ("multipart/x-mixed-replace; boundary=--frame", b"\r\n", "----"),
        ("multipart/x-mixed-replace; boundary=frame", b"\n", "--"),
    ],
    ids=["plain", "quoted", "dashes-in-header", "dashes-in-header-and-body", "lf-only"],
)
def test_boundary_variants(scripted_server, content_type: str, newline: bytes, dashes: str) -> None:
    body = multipart_body(FRAMES[:4], newline=newline, dashes=dashes, content_length=False)
    server = scripted_server(stream_then_hold(FRAMES, http_head(content_type=content_type), body))
    with tapped(server.url(), FAST) as (source, tap):
        frames = collect(tap, 4)
    assert [f.jpeg for f in frames] == FRAMES[:4]


def test_garbage_between_parts(scripted_server) -> None:
    garbage = b"\x00\xff\xd8\xff\xd9junk--fra\r\n" * 50
    body = b"".join(garbage + multipart_body([f]) for f in FRAMES[:5])
    server = scripted_server(stream_then_hold(FRAMES, body=body))
    with tapped(server.url(), FAST) as (source, tap):
        frames = collect(tap, 5)
        assert source.stats().corrupt == 0
    assert [f.jpeg for f in frames] == FRAMES[:5]


def test_corrupt_jpeg_is_counted_and_skipped(scripted_server) -> None:
    broken = FRAMES[1][:200] + bytes(range(256)) * 4 + b"\xff\xd9"
    server = scripted_server(stream_then_hold([], body=multipart_body([FRAMES[0], broken, FRAMES[2], FRAMES[3]])))
    with tapped(server.url(), FAST) as (source, tap):
        frames = collect(tap, 3)
        stats = source.stats()
    assert [f.jpeg for f in frames] == [FRAMES[0], FRAMES[2], FRAMES[3]]
    assert [f.index for f in frames] == [0, 1, 2]
    assert stats.corrupt == 1


@pytest.mark.parametrize("content_length", [True, False], ids=["with-length", "without-length"])
def test_oversize_part_is_refused(scripted_server, content_length: bool) -> None:
    big = make_jpeg(800, 600, seed=99, quality=98)
    config = FAST.model_copy(update={"max_part_bytes": len(big) // 2})
    body = multipart_body([FRAMES[0], big, FRAMES[1]], content_length=content_length)
    server = scripted_server(stream_then_hold([], body=body))
    with tapped(server.url(), config) as (source, tap):
        frames = collect(tap, 2)
        assert source.stats().corrupt == 1
    assert [f.jpeg for f in frames] == [FRAMES[0], FRAMES[1]]


def test_lying_content_length(scripted_server) -> None:
    lengths = [len(FRAMES[0]) + 900, len(FRAMES[1]) - 300, len(FRAMES[2])]
    server = scripted_server(stream_then_hold([], body=multipart_body(FRAMES[:3], content_length=lengths)))
    with tapped(server.url(), FAST) as (source, tap):
        frames = collect(tap, 3)
        assert source.stats().corrupt == 0
    assert [f.jpeg for f in frames] == FRAMES[:3]


def test_stream_ending_mid_frame_then_reconnect(scripted_server, caplog) -> None:
    """The cut frame is counted corrupt, the source reconnects and the frame counter goes on."""

    def handler(request: Request) -> None:
        request.send(http_head())
        if request.index == 0:
            body = multipart_body(FRAMES[:3])
            request.send(body + multipart_body([FRAMES[3]])[:300])  # then the connection closes
        else:
            stream_then_hold(FRAMES[4:8])(request)

    server = scripted_server(handler)
    with caplog.at_level(logging.INFO, logger="gazefusion.camera"), tapped(server.url()) as (source, tap):
        frames = collect(tap, 7)
        stats = source.stats()
        events = source.pop_events()
    assert [f.jpeg for f in frames] == FRAMES[:3] + FRAMES[4:8]
    assert [f.index for f in frames] == list(range(7))
    assert stats.corrupt == 1 and stats.reconnects == 1
    assert [kind for _, kind, _ in events] == ["outage", "reconnect"]


def test_stalled_stream_counts_as_an_outage(scripted_server) -> None:
    """A camera that keeps the connection but stops sending: after read_timeout_s, reconnect."""

    def handler(request: Request) -> None:
        parts = FRAMES[:2] if request.index == 0 else FRAMES[2:4]
        stream_then_hold(parts)(request)

    server = scripted_server(handler)
    config = FAST.model_copy(update={"read_timeout_s": 0.3})
    with tapped(server.url(), config) as (source, tap):
        frames = collect(tap, 4)
        events = source.pop_events()
    assert [f.jpeg for f in frames] == FRAMES[:4] and [f.index for f in frames] == [0, 1, 2, 3]
    assert events[0][1:] == ("outage", "the stream stalled: nothing arrived for 0.3 s")
    assert events[1][1] == "reconnect"


def test_server_restart_reconnects_with_one_line_per_outage_edge(scripted_server, caplog) -> None:
    """The server goes away (refusing connections for a while) and comes back on the same port."""
    first = scripted_server(stream_then_hold(FRAMES[:4]))
    config = FAST.model_copy(update={"reconnect_initial_s": 0.02, "reconnect_max_s": 0.05})
    with caplog.at_level(logging.DEBUG), tapped(first.url(), config) as (source, tap):
        assert tap_until(tap, lambda f: f.jpeg == FRAMES[3]) is not None
        first.stop()
        while not source.pop_events() and not source.finished:
            time.sleep(0.01)
        time.sleep(0.4)  # refused meanwhile: several retries
        scripted_server(stream_then_hold(FRAMES[4:8]), port=first.port)
        last = tap_until(tap, lambda f: f.jpeg == FRAMES[7])
        stats = source.stats()
    assert last is not None and last.index == 7
    assert stats.reconnects == 1
    lost = [r for r in caplog.records if "connection lost" in r.getMessage()]
    back = [r for r in caplog.records if "reconnected" in r.getMessage()]
    assert len(lost) == 1 and len(back) == 1
    assert "attempts" in back[0].getMessage() and not back[0].getMessage().endswith("(1 attempts)")


# -- the newest-frame slot and the taps ----------------------------------------------------
def test_slow_consumer_gets_the_newest_frame_not_a_backlog(scripted_server) -> None:
    go = threading.Event()

    def handler(request: Request) -> None:
        request.send(http_head() + multipart_body(FRAMES[:1]))
        go.wait(5)
        stream_then_hold(FRAMES[1:10], head=b"")(request)

    server = scripted_server(handler)
    with tapped(server.url()) as (source, tap):
        first = source.latest(timeout_s=5)
        assert first is not None and first.index == 0
        go.set()  # nine frames arrive while the consumer is "busy"
        newest = tap_until(tap, lambda f: f.jpeg == FRAMES[9])
        assert newest is not None
        got = source.latest(newer_than=first.index, timeout_s=0)
        stats = source.stats()
    assert got is not None and got.index == newest.index and got.jpeg == FRAMES[9]
    assert got.index > first.index + 1  # frames in between were overwritten, not queued
    assert stats.dropped == newest.index - first.index - 1


def test_decoder_behind_skips_the_oldest_and_counts(scripted_server) -> None:
    """While the decoder is stuck, frames keep arriving; the ones older than max_decode_lag_s
    are skipped (counted), the newest is decoded, and numbering has no gaps."""
    sent = threading.Event()
    release = threading.Event()

    def handler(request: Request) -> None:
        request.send(http_head() + multipart_body(FRAMES[:1]))
        for frame in FRAMES[1:7]:
            time.sleep(0.03)  # separate reads, 30 ms apart: 150 ms from the first to the last
            request.send(multipart_body([frame]))
        sent.set()
        stream_then_hold([], head=b"", body=b"")(request)

    def stuck_decoder(jpeg: bytes):
        release.wait(5)
        return decode_simplejpeg(jpeg)

    server = scripted_server(handler)
    config = FAST.model_copy(update={"max_decode_lag_s": 0.05})
    source = MjpegSource(server.url(), config, decoder=stuck_decoder)
    tap = source.tap()
    with source:
        assert sent.wait(5)
        time.sleep(0.1)  # let the reader take the last part off the socket
        release.set()
        last = tap_until(tap, lambda f: f.jpeg == FRAMES[6])
        stats = source.stats()
    assert last is not None and stats.skipped > 0
    assert last.index == stats.frames - 1 == 6 - stats.skipped


def test_full_tap_drops_and_counts(scripted_server) -> None:
    go = threading.Event()

    def handler(request: Request) -> None:
        request.send(http_head())
        go.wait(5)
        stream_then_hold(FRAMES[:8], head=b"")(request)

    server = scripted_server(handler)
    with open_camera(server.url(), FAST) as source:
        small = source.tap(maxsize=2)
        watcher = source.tap()
        go.set()
        assert tap_until(watcher, lambda f: f.jpeg == FRAMES[7]) is not None
        stats = source.stats()
    assert len(small) == 2 and small.dropped == stats.frames - 2 > 0
    assert stats.tap_dropped == small.dropped
    assert [small.get(0).index, small.get(0).index] == [0, 1]
    assert small.get(0) is None and small.closed


# -- credentials ----------------------------------------------------------------------------
def _auth_handler(scheme: str, realm: str = "camera", nonce: str = "4f2a9c1d") -> Handler:
    def handler(request: Request) -> None:
        ok = (
            check_basic(request, USER, PASSWORD)
            if scheme == "basic"
            else check_digest(request, USER, PASSWORD, realm, nonce)
        )
        if not ok:
            challenge = (
                f'Basic realm="{realm}"'
                if scheme == "basic"
                else f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'
            )
            request.send(
                http_head(
                    "401 Unauthorized", "text/plain", [f"WWW-Authenticate: {challenge}", "Content-Length: 4"]
                ).replace(b"Connection: close\r\n", b"")
                + b"nope"
            )
            # keep-alive: the client may send its authenticated retry on this connection
            request.sock.settimeout(5)
            head = bytearray()
            while b"\r\n\r\n" not in head:
                chunk = request.sock.recv(4096)
                if not chunk:
                    return
                head += chunk
            text = head.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            request.head = bytes(head)
            request.headers = {
                k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in text.split("\r\n")[1:])
            }
            ok = (
                check_basic(request, USER, PASSWORD)
                if scheme == "basic"
                else check_digest(request, USER, PASSWORD, realm, nonce)
            )
            if not ok:
                request.send(http_head("401 Unauthorized", "text/plain") + b"nope")
                return
        stream_then_hold(FRAMES[:3])(request)

    return handler


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_auth_works_and_credentials_never_show(scripted_server, caplog, scheme: str) -> None:
    server = scripted_server(_auth_handler(scheme))
    url = server.url(userinfo=f"{USER}:{PASSWORD}")
    with caplog.at_level(logging.DEBUG), tapped(url) as (source, tap):
        frames = collect(tap, 3)
        assert USER not in source.name and PASSWORD not in source.name
    assert [f.jpeg for f in frames] == FRAMES[:3]
    assert caplog.records  # urllib3 and the camera did log at debug level
    assert not [r for r in caplog.records if PASSWORD in r.getMessage() or USER in r.getMessage()]


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_wrong_password_is_one_line_without_credentials(scripted_server, caplog, scheme: str) -> None:
    server = scripted_server(_auth_handler(scheme))
    url = server.url(userinfo=f"{USER}:wrong-{PASSWORD}")
    with caplog.at_level(logging.DEBUG), pytest.raises(CameraError, match="HTTP 401") as caught:
        open_camera(url, FAST).start()
    assert PASSWORD not in str(caught.value) and USER not in str(caught.value)
    assert not [r for r in caplog.records if PASSWORD in r.getMessage() or USER in r.getMessage()]


# -- snapshot URLs ----------------------------------------------------------------------------
def test_snapshot_source_polls_one_jpeg_per_request(scripted_server) -> None:
    def handler(request: Request) -> None:
        jpeg = FRAMES[request.index % len(FRAMES)]
        request.send(
            f"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\nConnection: close\r\n\r\n".encode()
            + jpeg
        )

    server = scripted_server(handler)
    config = FAST.model_copy(update={"snapshot_rate_hz": 50.0})
    with tapped("snapshot+" + server.url("/snap.jpg"), config) as (source, tap):
        assert isinstance(source, SnapshotSource)
        frames = collect(tap, 4)
    assert [f.jpeg for f in frames] == FRAMES[:4]
    assert [f.index for f in frames] == [0, 1, 2, 3]


def test_snapshot_404(scripted_server) -> None:
    server = scripted_server(lambda r: r.send(http_head("404 Not Found", "text/plain") + b"no"))
    with pytest.raises(CameraError, match=r"^camera snapshot\+http://127\.0\.0\.1:\d+/snap\.jpg: HTTP 404"):
        open_camera("snapshot+" + server.url("/snap.jpg"), FAST).start()
