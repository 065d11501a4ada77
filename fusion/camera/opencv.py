"""Sources OpenCV's VideoCapture opens: stream URLs (RTSP, TCP, …), a device index, a video file.

VideoCapture decodes inside ``read()``, so these sources use only the reader thread. A video
file plays at its own frame rate (as a camera would deliver it, so live-run code behaves the
same on a file), and the source ends at the end of the file; a stream or a device that stops
delivering is reconnected like any other source.

After a stall, OpenCV's FFmpeg back end hands back frames it buffered before the stall, each
after another read timeout. A stream is therefore judged by its own timestamps where it has
them (`StreamClock`): a frame later than the stream's pace allows by more than
``stale_after_s`` is stale, dropped and counted. A read that blocked for the whole read
timeout is a stall: the frame it returns is stale too, and the capture is reopened, which
drains whatever OpenCV still buffers.
"""

from __future__ import annotations

import collections
import math
import re
import threading
import time
from pathlib import Path
from typing import Final

import cv2

from gazefusion.fusion.camera.base import SOURCE_KINDS, CameraSource, SourceError, SourceFinished
from gazefusion.fusion.camera.urls import camera_credentials, redact_url, with_credentials
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import CameraError

_MAX_FILE_FPS = 1000.0  # a larger CAP_PROP_FPS is a container's placeholder: play unpaced
_CLOCK_WINDOW: Final = 256  # frames over which the stream's pace against the host clock is tracked
_STALL_FRACTION: Final = 0.9  # a read that blocked this share of the read timeout hit OpenCV's timeout


class StreamClock:
    """How late frames arrive against the stream's own timestamps.

    The stream time of a frame (``CAP_PROP_POS_MSEC``) and its host arrival time differ by the
    transport and decoding delay plus a constant. The smallest difference over recent frames is
    the fastest path; a frame whose difference exceeds it by more than the limit was held back
    (buffered during a stall) by that much.

    Parameters
    ----------
    window : int
        Frames the smallest difference is taken over. (default: 256)
    """

    def __init__(self, window: int = _CLOCK_WINDOW) -> None:
        self._offsets: collections.deque[float] = collections.deque(maxlen=window)
        self._last_stream_s = -math.inf

    def reset(self) -> None:
        """Forget the stream's pace (a new connection: its timestamps may start anew)."""
        self._offsets.clear()
        self._last_stream_s = -math.inf

    def lateness_s(self, t: float, stream_s: float) -> float:
        """How much later than the stream's pace this frame arrived, s (0 without timestamps).

        Parameters
        ----------
        t : float
            Host arrival time, s.
        stream_s : float
            The frame's stream timestamp, s (nan or not positive: none).
        """
        if not stream_s > 0:
            return 0.0
        if stream_s < self._last_stream_s:  # the stream restarted its clock (a loop, a new session)
            self.reset()
        self._last_stream_s = stream_s
        offset = t - stream_s
        self._offsets.append(offset)
        return offset - min(self._offsets)


class OpenCvSource(CameraSource):
    """A VideoCapture source.

    Parameters
    ----------
    target : str or int
        A stream URL (``rtsp://…``, ``tcp://…``, any scheme OpenCV's FFmpeg back end opens;
        credentials allowed), a device index, or a file path.
    config : CameraConfig
        Timeouts, backoff, ``stale_after_s``.
    """

    def __init__(self, target: str | int, config: CameraConfig) -> None:
        self._target = target
        self._is_file = isinstance(target, str) and "://" not in target
        name = f"device {target}" if isinstance(target, int) else redact_url(str(target))
        super().__init__(name, config, decoder=None)
        self.reconnects_on_loss = not self._is_file
        self._capture: cv2.VideoCapture | None = None
        self._lock = threading.Lock()
        self._clock = StreamClock()

    def _open(self, timeout_s: float) -> cv2.VideoCapture:
        """A VideoCapture of the target (may be not opened)."""
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self.config.read_timeout_s * 1000),
        ]
        if isinstance(self._target, int):
            return cv2.VideoCapture(self._target, cv2.CAP_ANY, params)
        target = str(self._target)
        if not self._is_file:  # credentials from the config or ~/.netrc go into the URL, in this process only
            target = with_credentials(camera_credentials(target, self.config))
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)

    def _connect(self, timeout_s: float) -> None:
        capture = self._open(timeout_s)
        if not capture.isOpened():
            capture.release()
            what = (
                "the video file" if self._is_file else "the device" if isinstance(self._target, int) else "the stream"
            )
            raise SourceError(f"OpenCV could not open {what}")
        self._clock.reset()
        with self._lock:
            self._capture = capture

    def _read(self) -> None:
        capture = self._capture
        assert capture is not None
        fps = capture.get(cv2.CAP_PROP_FPS) if self._is_file else 0.0
        period_s = 1.0 / fps if 0.0 < fps < _MAX_FILE_FPS else 0.0
        stall_s = self.config.read_timeout_s * _STALL_FRACTION
        due = last_t = time.monotonic()
        while not self._stop.is_set():
            ok, image = capture.read()
            t = time.monotonic()
            if self._stop.is_set():
                return
            if not ok or image is None:
                if self._is_file:
                    raise SourceFinished("end of the video file")
                if t - last_t >= stall_s:
                    raise SourceError(f"the stream stalled: nothing arrived for {t - last_t:.1f} s", lost_at=last_t)
                raise SourceError("the stream ended or broke (OpenCV read no frame)")
            stream_s = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not self._is_file:
                if t - last_t >= stall_s:
                    # OpenCV's read timeout fired and it handed back what it had buffered
                    self._count_stale(1, f"returned after a {t - last_t:.1f} s stall")
                    raise SourceError(f"the stream stalled: nothing arrived for {t - last_t:.1f} s", lost_at=last_t)
                late_s = self._clock.lateness_s(t, stream_s)
                last_t = t
                if late_s > self.config.stale_after_s:
                    self._count_stale(1, f"{late_s:.1f} s behind the stream's timestamps")
                    continue
            self._publish(image, t, stream_s if stream_s > 0 else math.nan)
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
            raise CameraError(
                f"camera source {self.name!r}: unsupported scheme {self.scheme!r}, and OpenCV's FFmpeg back end "
                f"could not open it either (use http(s)://, snapshot+http(s)://, "
                f"{', '.join(s + '://' for s in KNOWN_SCHEMES)}, a device index, a video file or none)"
            ) from None


@SOURCE_KINDS.register("stream", matches=lambda spec: _URL.match(spec) is not None)
def open_stream(spec: str, config: CameraConfig) -> OpenCvSource:
    """A stream URL of any scheme OpenCV's FFmpeg back end opens (rtsp://, tcp://, …); after http(s)://."""
    return StreamSource(spec, config)


@SOURCE_KINDS.register("device", matches=str.isdigit)
def open_device(spec: str, config: CameraConfig) -> OpenCvSource:
    """A local camera by its device index."""
    return OpenCvSource(int(spec), config)


@SOURCE_KINDS.register("file", matches=lambda spec: Path(spec).expanduser().is_file(), fallback=True)
def open_file(spec: str, config: CameraConfig) -> OpenCvSource:
    """A video file, played at its own frame rate."""
    return OpenCvSource(str(Path(spec).expanduser()), config)
