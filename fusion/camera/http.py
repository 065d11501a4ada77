"""HTTP camera sources: MJPEG streams (``http(s)://``) and polled snapshots (``snapshot+http(s)://``).

requests streams the response; the reader thread takes what the socket has (up to 64 KiB at a
time, never waiting to fill a buffer), feeds the multipart parser and hands each complete JPEG
to the decoder thread. Credentials in the URL are taken out of it, sent as basic or digest
auth according to the server's challenge, and never shown: every name in a log line or error
is the redacted URL.
"""

from __future__ import annotations

import errno
import http.client
import logging
import math
import re
import socket
import time
from typing import Final
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from gazefusion.fusion.camera.base import SOURCE_KINDS, CameraSource, Decoder, SourceError
from gazefusion.fusion.camera.decode import DECODERS
from gazefusion.fusion.camera.multipart import BadPart, MultipartParser, boundary_from_content_type
from gazefusion.fusion.camera.urls import camera_credentials, redact_url
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import CameraError

CHUNK_BYTES: Final = 64 * 1024
_USER_AGENT: Final = "gazefusion-camera"
_SECRET_IN_TEXT: Final = re.compile(
    r"(?i)([?&](?:user(?:name)?|usr|login|pass(?:word)?|pwd|passwd|token|key|api_?key|auth|sig(?:nature)?|secret)=)[^&\s\"]*"
)


class _RedactFilter(logging.Filter):
    """Removes query credentials from urllib3's debug lines (which quote the request path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _SECRET_IN_TEXT.sub(r"\1***", message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactFilter())

_STATUS_HINTS: Final = {
    401: "HTTP 401 Unauthorized: the camera wants credentials (camera.username with camera.password_env, ~/.netrc, or user:password@ in the URL) or refused the ones given",
    403: "HTTP 403 Forbidden: the camera refuses this user or path",
    404: "HTTP 404 Not Found: check the stream path in the URL",
}


_BARE_JPEG_TYPES: Final = ("", "application/octet-stream", "video/x-motion-jpeg")
_MAX_BOUNDARY_LINE: Final = 200


def _describe_body(first: bytes, media: str) -> str:
    """What a body that is not a JPEG stream looks like, for the refusal."""
    what = f"{media} " if media else "no Content-Type and "
    head = first.lstrip()[:64].lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<p>", b"<?xml")) or b"<html" in head:
        return f"{what}an HTML page" if media else "no Content-Type and an HTML page (a wrong path or camera id?)"
    if not first:
        return f"{what}an empty body"
    return f"{what}a body that is not a JPEG"


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it, outermost first (requests nests urllib3's and the socket's)."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10 and cause not in chain:
        chain.append(cause)
        nxt = cause.__cause__ or cause.__context__
        if nxt is None and cause.args and isinstance(cause.args[-1], BaseException):
            nxt = cause.args[-1]
        reason = getattr(cause, "reason", None)
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        cause = nxt
    return chain


def _describe_stream_error(exc: BaseException, read_timeout_s: float) -> str:
    """Why a running stream stopped, in words (credential-free)."""
    chain = _causes(exc)
    if any(isinstance(c, (TimeoutError, socket.timeout, urllib3.exceptions.ReadTimeoutError)) for c in chain) or any(
        isinstance(c, requests.exceptions.ReadTimeout) for c in chain
    ):
        return f"the stream stalled: nothing arrived for {read_timeout_s:g} s"
    return "the camera closed the stream"


def _describe_request_error(
    exc: BaseException, connect_timeout_s: float, read_timeout_s: float, where: str = "the camera"
) -> str:
    """A one-line, credential-free reason for a failed request (never the exception text, which
    may quote the URL's query)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {connect_timeout_s:g} s (is the host reachable?)"
    if isinstance(
        exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError, socket.timeout)
    ):
        return f"connected, but nothing arrived within {read_timeout_s:g} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the TLS handshake failed (certificate not trusted?)"
    for cause in _causes(exc):
        if isinstance(cause, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            return "the host name does not resolve (check the address)"
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return "connection refused (is the camera on, and the port right?)"
        if isinstance(cause, http.client.BadStatusLine) and not isinstance(cause, http.client.RemoteDisconnected):
            return f"the server at {where} does not speak HTTP (an rtsp:// or tcp:// stream?)"
        if isinstance(cause, (http.client.RemoteDisconnected, ConnectionResetError)):
            return f"the server at {where} closed the connection without answering"
    if "Name or service not known" in str(exc) or "nodename nor servname" in str(exc) or "NameResolution" in repr(exc):
        return "the host name does not resolve (check the address)"
    if "refused" in str(exc).lower():
        return "connection refused (is the camera on, and the port right?)"
    return f"the connection to {where} failed ({type(exc).__name__})"


class _HttpClient:
    """One camera URL: a requests session, the credentials, and the auth the server asked for."""

    def __init__(self, url: str, config: CameraConfig) -> None:
        split = camera_credentials(url, config)
        self.url = split.url
        self._username = split.username
        self._password = split.password or ""
        self._auth: AuthBase | None = None
        self._config = config
        self.session = requests.Session()
        self.session.headers["User-Agent"] = _USER_AGENT
        self.session.trust_env = False  # a proxy from the environment must not see camera credentials
        parts = urlsplit(self.url)
        self.host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    def get(self, stream: bool, timeout_s: float) -> requests.Response:
        """GET the URL, answering an auth challenge once; SourceError on any failure."""
        config = self._config
        try:
            response = self._request(stream, timeout_s)
            if response.status_code == 401 and self._username is not None and self._auth is None:
                challenge = response.headers.get("WWW-Authenticate", "")
                response.close()
                if challenge.lower().lstrip().startswith("digest"):
                    self._auth = HTTPDigestAuth(self._username, self._password)
                else:
                    self._auth = HTTPBasicAuth(self._username, self._password)
                response = self._request(stream, timeout_s)
        except requests.exceptions.RequestException as exc:
            raise SourceError(_describe_request_error(exc, timeout_s, config.read_timeout_s, self.host)) from None
        if response.status_code >= 400:
            response.close()
            if response.status_code == 401 and self._username is not None:
                self._auth = None  # ask for the challenge again next time
            hint = _STATUS_HINTS.get(
                response.status_code, f"HTTP {response.status_code} {response.reason or ''}".strip()
            )
            raise SourceError(hint)
        return response

    def _request(self, stream: bool, timeout_s: float) -> requests.Response:
        return self.session.get(
            self.url,
            stream=stream,
            timeout=(timeout_s, self._config.read_timeout_s),
            auth=self._auth,
            allow_redirects=True,
        )

    def close(self) -> None:
        self.session.close()


def _shutdown(response: requests.Response | None) -> None:
    """Close a streaming response, waking a reader blocked in recv on another thread."""
    if response is None:
        return
    raw = response.raw
    connection = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:  # http.client dropped it from the connection ("Connection: close"); the file has it
        buffered = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(buffered, "raw", None), "_sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    response.close()


@SOURCE_KINDS.register("mjpeg", matches=lambda spec: spec.lower().startswith(("http://", "https://")))
class MjpegSource(CameraSource):
    """An MJPEG stream over HTTP(S): ``multipart/x-mixed-replace`` (or bare concatenated JPEGs).

    Parameters
    ----------
    url : str
        ``http://`` or ``https://`` URL, credentials allowed.
    config : CameraConfig
        Timeouts, backoff, part size limit.
    decoder : callable or None
        JPEG bytes -> BGR image; None takes ``config.decoder``. (default: None)
    """

    def __init__(self, url: str, config: CameraConfig, decoder: Decoder | None = None) -> None:
        super().__init__(redact_url(url), config, decoder or DECODERS[config.decoder])
        self._client = _HttpClient(url, config)
        self._response: requests.Response | None = None
        self._parser: MultipartParser | None = None
        self._first = b""

    def _connect(self, timeout_s: float) -> None:
        response = self._client.get(stream=True, timeout_s=timeout_s)
        content_type = response.headers.get("Content-Type", "")
        boundary = boundary_from_content_type(content_type)
        first = b""
        if boundary is None:
            media = content_type.split(";")[0].strip().lower()
            refusal = None
            if media.startswith("multipart/"):
                refusal = f"serves {media} without a boundary; not an MJPEG stream"
            elif media != "image/jpeg" and media not in _BARE_JPEG_TYPES:
                refusal = f"serves {media}, not an MJPEG stream (multipart/x-mixed-replace); check the URL"
            elif media == "image/jpeg" and "Content-Length" in response.headers:
                refusal = f"serves one JPEG per request; use snapshot+{self.name}"
            else:
                # No boundary: a bare JPEG stream must start with one. A page that is not a stream
                # (motion answers a wrong camera id with 200, no Content-Type and HTML) is refused
                # here, not taken as a stream that never yields a frame.
                first = self._first_bytes(response)
                head = first.lstrip(b"\r\n\t ")
                if head.startswith(b"--"):  # multipart without saying so (ffmpeg's mpjpeg): its first line
                    boundary = head[:_MAX_BOUNDARY_LINE].split(b"\n", 1)[0].strip().lstrip(b"-") or None
                elif not head.startswith(b"\xff\xd8"):
                    refusal = f"answers with {_describe_body(first, media)}, not an MJPEG stream; check the URL"
            if refusal is not None:
                _shutdown(response)
                raise CameraError(f"camera {self.name}: {refusal}")
        self._parser = MultipartParser(boundary, self.config.max_part_bytes)
        self._response = response
        self._first = first

    def _first_bytes(self, response: requests.Response) -> bytes:
        """The first bytes of the body (SourceError if none come within the read timeout)."""
        try:
            return response.raw.read1(CHUNK_BYTES)
        except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError, ValueError) as exc:
            _shutdown(response)
            raise SourceError(_describe_stream_error(exc, self.config.read_timeout_s)) from None

    def _read(self) -> None:
        response, parser = self._response, self._parser
        assert response is not None and parser is not None
        raw = response.raw
        chunk, self._first = self._first, b""
        last_t = time.monotonic()
        while not self._stop.is_set():
            if not chunk:
                try:
                    chunk = raw.read1(CHUNK_BYTES)
                except (
                    urllib3.exceptions.HTTPError,
                    requests.exceptions.RequestException,
                    OSError,
                    ValueError,
                    AttributeError,
                ) as exc:
                    if self._stop.is_set():
                        return
                    self._truncated(parser)
                    reason = _describe_stream_error(exc, self.config.read_timeout_s)
                    raise SourceError(reason, lost_at=last_t if "stalled" in reason else None) from None
                if not chunk:
                    if self._stop.is_set():
                        return
                    self._truncated(parser)
                    raise SourceError("the camera closed the stream")
            t = last_t = time.monotonic()
            for part in parser.feed(chunk):
                if isinstance(part, BadPart):
                    self._count_corrupt(f"{part.reason}, {part.size} bytes")
                else:
                    self._submit_jpeg(part, t)
            chunk = b""

    def _truncated(self, parser: MultipartParser) -> None:
        cut = parser.close()
        if cut is not None:
            self._count_corrupt(f"{cut.reason}, {cut.size} bytes")

    def _disconnect(self) -> None:
        response, self._response = self._response, None
        _shutdown(response)

    def close(self) -> None:
        super().close()
        self._client.close()


@SOURCE_KINDS.register(
    "snapshot", matches=lambda spec: spec.lower().startswith(("snapshot+http://", "snapshot+https://"))
)
class SnapshotSource(CameraSource):
    """A camera that returns one ``image/jpeg`` per request, polled at ``snapshot_rate_hz``.

    Parameters
    ----------
    url : str
        ``snapshot+http://…`` or ``snapshot+https://…`` (the prefix is removed), credentials allowed.
    config : CameraConfig
        Poll rate, timeouts, backoff.
    decoder : callable or None
        JPEG bytes -> BGR image; None takes ``config.decoder``. (default: None)
    """

    def __init__(self, url: str, config: CameraConfig, decoder: Decoder | None = None) -> None:
        bare = url.removeprefix("snapshot+")
        super().__init__(redact_url(url), config, decoder or DECODERS[config.decoder])
        self._client = _HttpClient(bare, config)
        self._first: tuple[bytes, float] | None = None

    def _fetch(self, timeout_s: float) -> tuple[bytes, float]:
        response = self._client.get(stream=False, timeout_s=timeout_s)
        data = response.content
        t = time.monotonic()
        media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media and not media.startswith("image/"):
            raise SourceError(f"served {media}, not an image; check the snapshot URL")
        if len(data) > self.config.max_part_bytes:
            raise SourceError(f"the snapshot is larger than max_part_bytes ({len(data)} bytes)")
        return data, t

    def _connect(self, timeout_s: float) -> None:
        self._first = self._fetch(timeout_s)

    def _read(self) -> None:
        period_s = 1.0 / self.config.snapshot_rate_hz
        due = time.monotonic()
        while not self._stop.is_set():
            if self._first is not None:
                (jpeg, t), self._first = self._first, None
            else:
                jpeg, t = self._fetch(self.config.connect_timeout_s)
            self._submit_jpeg(jpeg, t, math.nan)
            due += period_s
            now = time.monotonic()
            if due < now:
                due = now  # slower than the rate: poll back to back, never in a burst
            if self._stop.wait(due - now):
                return

    def _disconnect(self) -> None:
        self._first = None

    def close(self) -> None:
        super().close()
        self._client.close()
