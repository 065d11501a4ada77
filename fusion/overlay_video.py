"""The annotated video: real time whatever the camera's rate, and readable after a hard kill.

Each frame is written at its arrival time (millisecond timestamps, a variable frame rate), so
the video plays in real time for a 15 fps camera as for a 30 fps one; a camera outage is
held on the last picture, marked with a banner from the moment the stream was lost, and the
video ends at the moment the run stopped.

The file is a fragmented MP4 (``movflags=frag_keyframe+empty_moov``) written through PyAV,
with a keyframe, and so a fragment on disk, every ``fragment_s``: a run killed with SIGKILL
leaves a video that plays up to its last fragment. OpenCV's VideoWriter cannot do this: its
MP4 has its index at the end (a killed run leaves ``moov atom not found``; its writer options
do not reach the muxer), and its Matroska and AVI keep the last 256 KiB in a buffer
(measured in docs/benchmarks/camera.md).
"""

from __future__ import annotations

import fractions
import logging
from pathlib import Path
from typing import Final

import av
import cv2
import numpy as np

log = logging.getLogger(__name__)

_TIME_BASE: Final = fractions.Fraction(1, 1000)  # ms timestamps
_CODECS: Final[tuple[tuple[str, dict[str, str]], ...]] = (
    ("libx264", {"preset": "veryfast", "tune": "zerolatency"}),
    ("mpeg4", {}),
)


def outage_banner(image: np.ndarray, text: str) -> np.ndarray:
    """The held picture with a red band saying why it does not move.

    Parameters
    ----------
    image : numpy.ndarray
        BGR picture, (H, W, 3) uint8 (not changed).
    text : str
        What the band says.
    """
    marked = image.copy()
    height, width = marked.shape[:2]
    band = max(24, height // 14)
    cv2.rectangle(marked, (0, 0), (width, band), (0, 0, 200), -1)
    scale = band / 40.0
    cv2.putText(marked, text, (8, int(band * 0.72)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return marked


class RealTimeVideo:
    """An MP4 of frames placed at their arrival times, written as it goes and safe against a kill.

    Parameters
    ----------
    path : pathlib.Path
        The ``.mp4`` file (created; must not be open elsewhere).
    size : tuple of int
        (width, height) of every frame, px (a frame of another size is scaled to it).
    start_t : float
        Host time (``time.monotonic()``) of the video's start, s.
    fragment_s : float
        Longest stretch a kill can lose: a keyframe and fragment at least this often, s.
        (default: 1.0)
    """

    def __init__(self, path: Path, size: tuple[int, int], start_t: float, fragment_s: float = 1.0) -> None:
        self.path = Path(path)
        self.size = (int(size[0]) // 2 * 2, int(size[1]) // 2 * 2)  # yuv420p wants even sides
        self.start_t = start_t
        self.fragment_s = fragment_s
        self.frames_written = 0
        self._container = av.open(
            str(self.path),
            "w",
            format="mp4",
            options={"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"},
        )
        self._stream = self._add_stream()
        self._last_ms = -1
        self._last_key_ms = -(10**9)
        self._last_image: np.ndarray | None = None

    def _add_stream(self) -> av.video.stream.VideoStream:
        available = av.codecs_available
        for name, options in _CODECS:
            if name in available:
                stream = self._container.add_stream(name, rate=1000)
                assert isinstance(stream, av.video.stream.VideoStream)  # a video codec gives a video stream
                stream.width, stream.height = self.size
                stream.pix_fmt = "yuv420p"
                stream.time_base = _TIME_BASE
                stream.codec_context.time_base = _TIME_BASE
                stream.codec_context.gop_size = 10**6  # keyframes only where write() asks for one
                stream.codec_context.max_b_frames = 0  # no reordering: a frame is muxed when encoded
                stream.options = dict(options)
                return stream
        raise RuntimeError("no H.264 or MPEG-4 encoder in PyAV's FFmpeg")

    def write(self, image: np.ndarray, t: float) -> bool:
        """Add a frame at its arrival time.

        Parameters
        ----------
        image : numpy.ndarray
            BGR picture, (H, W, 3) uint8.
        t : float
            Host arrival time (``time.monotonic()``), s.

        Returns
        -------
        bool
            False if `t` is not after the previous frame's time (within 1 ms): skipped.
        """
        ms = round((t - self.start_t) * 1000.0)
        if ms <= self._last_ms:
            return False
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = ms
        if ms - self._last_key_ms >= self.fragment_s * 1000.0:
            frame.pict_type = av.video.frame.PictureType.I
            self._last_key_ms = ms
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_ms = ms
        self._last_image = image
        self.frames_written += 1
        return True

    def mark_gap(self, t: float, text: str) -> None:
        """From host time `t` on, the last picture is held with a banner saying `text`.

        Parameters
        ----------
        t : float
            Host time the gap began, s (moved to just after the last frame if earlier).
        text : str
            Why the picture does not move (the outage's reason).
        """
        if self._last_image is not None:
            # a stall is recorded from when the stream was last good, which may be before the last frame written
            t = max(t, self.start_t + (self._last_ms + 1) / 1000.0)
            held = self._last_image
            self.write(outage_banner(held, text), t)
            self._last_image = held  # the next hold (the end) is the clean picture

    def close(self, end_t: float | None = None) -> None:
        """Hold the last picture until `end_t`, flush and close.

        Parameters
        ----------
        end_t : float or None
            Host time the video ends (the run's stop), s; None: at the last frame. (default: None)
        """
        try:
            if end_t is not None and self._last_image is not None:
                self.write(self._last_image, end_t)
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
