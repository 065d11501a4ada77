"""Camera ingest: any camera stream into frames, fast and never stale.

``open_camera(spec, config)`` picks the source from the spec string:

=============================  ==========================================================
spec                           source
=============================  ==========================================================
``http(s)://…``                MJPEG over HTTP (multipart/x-mixed-replace), `MjpegSource`
``snapshot+http(s)://…``       one JPEG per request, polled, `SnapshotSource`
``rtsp://…``, ``tcp://…``, …  OpenCV VideoCapture (any scheme its FFmpeg back end opens), `OpenCvSource`
``0``, ``1``, …                a local camera device by index (OpenCV)
a video file path              OpenCV; plays at the file's own frame rate, then ends
``none``                       no frames (tracker-only runs), `NoneSource`
=============================  ==========================================================

Other parts add kinds with `register_source` (the recorded-session folder is added by core).
Credentials in URLs (``http://user:pass@host/…``) work and never appear in logs or errors:
use `redact_url` wherever a source string is shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Final, NamedTuple

from gazefusion.fusion.camera.base import CameraSource, CameraStats, FrameTap, SourceError
from gazefusion.fusion.camera.http import MjpegSource, SnapshotSource
from gazefusion.fusion.camera.null import NoneSource
from gazefusion.fusion.camera.opencv import OpenCvSource
from gazefusion.fusion.camera.urls import redact_url
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import UserError

__all__ = [
    "CameraSource",
    "CameraStats",
    "FrameTap",
    "MjpegSource",
    "NoneSource",
    "OpenCvSource",
    "SOURCE_KINDS",
    "SnapshotSource",
    "SourceKind",
    "StreamSource",
    "open_camera",
    "redact_url",
    "register_source",
]

KNOWN_SCHEMES: Final = ("rtsp", "rtsps", "rtmp", "rtmps", "rtp", "udp", "tcp", "srt")
"""Stream schemes known to work through OpenCV's FFmpeg back end (any other is tried all the same)."""
_URL: Final = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://")


class StreamSource(OpenCvSource):
    """A stream URL for OpenCV's FFmpeg back end; a scheme it cannot open is refused with the known ones.

    Parameters
    ----------
    url : str
        Any ``scheme://…`` URL (credentials allowed).
    config : CameraConfig
        Timeouts and backoff.
    """

    def __init__(self, url: str, config: CameraConfig) -> None:
        super().__init__(url, config)
        self.scheme = url.split("://", 1)[0].lower()

    def _connect(self, timeout_s: float) -> None:
        try:
            super()._connect(timeout_s)
        except SourceError:
            if self.scheme in KNOWN_SCHEMES or self._started:
                raise
            raise UserError(
                f"camera source {self.name!r}: unsupported scheme {self.scheme!r}, and OpenCV's FFmpeg back end "
                f"could not open it either (use http(s)://, snapshot+http(s)://, "
                f"{', '.join(s + '://' for s in KNOWN_SCHEMES)}, a device index, a video file or none)"
            ) from None


class SourceKind(NamedTuple):
    """One kind of camera source in the registry.

    Attributes
    ----------
    matches : callable
        spec -> whether this kind handles it.
    factory : callable
        (spec, config) -> an unstarted CameraSource.
    """

    matches: Callable[[str], bool]
    factory: Callable[[str, CameraConfig], CameraSource]


SOURCE_KINDS: dict[str, SourceKind] = {
    "none": SourceKind(lambda s: s.lower() == "none", lambda s, c: NoneSource(c)),
    "snapshot": SourceKind(lambda s: s.lower().startswith(("snapshot+http://", "snapshot+https://")), SnapshotSource),
    "mjpeg": SourceKind(lambda s: s.lower().startswith(("http://", "https://")), MjpegSource),
    "stream": SourceKind(lambda s: _URL.match(s) is not None, lambda s, c: StreamSource(s, c)),
    "device": SourceKind(lambda s: s.isdigit(), lambda s, c: OpenCvSource(int(s), c)),
    "file": SourceKind(
        lambda s: Path(s).expanduser().is_file(), lambda s, c: OpenCvSource(str(Path(s).expanduser()), c)
    ),
}
"""Source kinds by name, tried in order; the first whose `matches` accepts the spec opens it."""


def register_source(
    name: str, matches: Callable[[str], bool], factory: Callable[[str, CameraConfig], CameraSource]
) -> None:
    """Add a source kind, tried before the video-file fallback.

    Parameters
    ----------
    name : str
        The kind's name (replaces a kind of the same name).
    matches : callable
        spec -> whether this kind opens it.
    factory : callable
        (spec, config) -> an unstarted CameraSource.
    """
    kinds = {key: kind for key, kind in SOURCE_KINDS.items() if key not in (name, "file")}
    kinds[name] = SourceKind(matches, factory)
    kinds["file"] = SOURCE_KINDS["file"]
    SOURCE_KINDS.clear()
    SOURCE_KINDS.update(kinds)


def open_camera(spec: str, config: CameraConfig | None = None) -> CameraSource:
    """The camera source a spec string names (not started: use it as a context manager or call ``start``).

    Parameters
    ----------
    spec : str
        See the module docstring.
    config : CameraConfig or None
        Timeouts, backoff, limits; None takes the defaults. (default: None)

    Raises
    ------
    UserError
        The spec names nothing openable (one line, without credentials).
    """
    config = config or CameraConfig()
    text = spec.strip()
    for kind in SOURCE_KINDS.values():
        if kind.matches(text):
            return kind.factory(text, config)
    raise UserError(
        f"camera source {redact_url(text)!r} names nothing openable: not an existing file or folder, not a URL "
        "(http(s)://, snapshot+http(s)://, rtsp://, tcp://, …), not a device index and not 'none'"
    )
