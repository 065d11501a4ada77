"""Camera ingest: any camera stream into frames, fast and never stale.

``open_camera(spec, config)`` picks the source from the spec string:

=============================  ==========================================================
spec                           source
=============================  ==========================================================
``http(s)://…``                MJPEG over HTTP (multipart/x-mixed-replace), `MjpegSource`
``snapshot+http(s)://…``       one JPEG per request, polled, `SnapshotSource`
``rtsp://…``, ``tcp://…``, …  OpenCV VideoCapture (any scheme its FFmpeg back end opens), `StreamSource`
``0``, ``1``, …                a local camera device by index (OpenCV)
a video file path              OpenCV; plays at the file's own frame rate, then ends
``none``                       no frames (tracker-only runs), `NoneSource`
a recorded session folder     its video at the recorded timing, `RecordedSource`
=============================  ==========================================================

Each kind registers itself in `SOURCE_KINDS` with the specs it opens; another kind is one
``@SOURCE_KINDS.register(name, matches=...)`` on a factory ``(spec, config) -> CameraSource``.
Credentials in URLs (``http://user:pass@host/…``) work and never appear in logs or errors:
use `redact_url` wherever a source string is shown.
"""

from __future__ import annotations

from gazefusion.fusion.camera.base import SOURCE_KINDS, CameraSource, CameraStats, FrameTap
from gazefusion.fusion.camera.http import MjpegSource, SnapshotSource
from gazefusion.fusion.camera.null import NoneSource
from gazefusion.fusion.camera.opencv import OpenCvSource, StreamSource
from gazefusion.fusion.camera.recorded import RecordedSource
from gazefusion.fusion.camera.urls import redact_url
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import CameraError

__all__ = [
    "CameraSource",
    "CameraStats",
    "FrameTap",
    "MjpegSource",
    "NoneSource",
    "OpenCvSource",
    "RecordedSource",
    "SOURCE_KINDS",
    "SnapshotSource",
    "StreamSource",
    "open_camera",
    "redact_url",
]


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
    CameraError
        The spec names nothing openable (one line, without credentials).
    """
    config = config or CameraConfig()
    text = spec.strip()
    kind = SOURCE_KINDS.match(text)
    if kind is not None:
        return kind.item(text, config)
    raise CameraError(
        f"camera source {redact_url(text)!r} names nothing openable: not an existing file or folder, not a URL "
        "(http(s)://, snapshot+http(s)://, rtsp://, tcp://, …), not a device index and not 'none'"
    )
