"""Sources OpenCV's VideoCapture opens: RTSP (and other stream URLs), a device index, a video file.

VideoCapture decodes inside ``read()``, so these sources use only the reader thread. A video
file plays at its own frame rate (as a camera would deliver it, so live-run code behaves the
same on a file), and the source ends at the end of the file; a stream or a device that stops
delivering is reconnected like any other source.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import cv2

from gazefusion.fusion.camera.base import SOURCE_KINDS, CameraSource, SourceError, SourceFinished
from gazefusion.fusion.camera.urls import redact_url
from gazefusion.fusion.config import CameraConfig

_MAX_FILE_FPS = 1000.0  # a larger CAP_PROP_FPS is a container's placeholder: play unpaced


class OpenCvSource(CameraSource):
    """A VideoCapture source.

    Parameters
    ----------
    target : str or int
        A stream URL (``rtsp://…``, credentials allowed), a device index, or a file path.
    config : CameraConfig
        Timeouts and backoff.
    """

    def __init__(self, target: str | int, config: CameraConfig) -> None:
        self._target = target
        self._is_file = isinstance(target, str) and "://" not in target
        name = f"device {target}" if isinstance(target, int) else redact_url(str(target))
        super().__init__(name, config, decoder=None)
        self.reconnects_on_loss = not self._is_file
        self._capture: cv2.VideoCapture | None = None
        self._lock = threading.Lock()

    def _connect(self, timeout_s: float) -> None:
        timeout_ms = int(timeout_s * 1000)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.config.read_timeout_s * 1000),
        ]
        if isinstance(self._target, int):
            capture = cv2.VideoCapture(self._target, cv2.CAP_ANY, params)
        else:
            capture = cv2.VideoCapture(str(self._target), cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            what = (
                "the video file" if self._is_file else "the device" if isinstance(self._target, int) else "the stream"
            )
            raise SourceError(f"OpenCV could not open {what}")
        with self._lock:
            self._capture = capture

    def _read(self) -> None:
        capture = self._capture
        assert capture is not None
        fps = capture.get(cv2.CAP_PROP_FPS) if self._is_file else 0.0
        period_s = 1.0 / fps if 0.0 < fps < _MAX_FILE_FPS else 0.0
        due = time.monotonic()
        while not self._stop.is_set():
            ok, image = capture.read()
            if self._stop.is_set():
                return
            if not ok or image is None:
                if self._is_file:
                    raise SourceFinished("end of the video file")
                raise SourceError("no frame from OpenCV")
            t = time.monotonic()
            position_s = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            self._publish(image, t, position_s if position_s > 0 else math.nan)
            if period_s:
                due += period_s
                if due > t:
                    self._stop.wait(due - t)
                else:
                    due = t

    def _disconnect(self) -> None:
        # VideoCapture must not be released while another thread is inside read(): the reader
        # releases it itself; close() releases it after the reader has ended.
        reader_alive = any(thread.is_alive() and thread is not threading.current_thread() for thread in self._threads)
        if reader_alive:
            return
        with self._lock:
            capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def close(self) -> None:
        super().close()
        self._disconnect()


_STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "rtp://", "udp://", "srt://")


@SOURCE_KINDS.register("stream", matches=lambda spec: spec.lower().startswith(_STREAM_SCHEMES))
def open_stream(spec: str, config: CameraConfig) -> OpenCvSource:
    """A stream URL OpenCV's FFmpeg backend reads (RTSP and the like)."""
    return OpenCvSource(spec, config)


@SOURCE_KINDS.register("device", matches=str.isdigit)
def open_device(spec: str, config: CameraConfig) -> OpenCvSource:
    """A local camera by its device index."""
    return OpenCvSource(int(spec), config)


@SOURCE_KINDS.register("file", matches=lambda spec: Path(spec).expanduser().is_file(), fallback=True)
def open_file(spec: str, config: CameraConfig) -> OpenCvSource:
    """A video file, played at its own frame rate."""
    return OpenCvSource(str(Path(spec).expanduser()), config)
