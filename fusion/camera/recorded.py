"""A recorded camera: the JPEG frames of a session folder, and the source that plays them.

A session records its camera as two files: ``video.mjpeg`` (the JPEG frames as received,
concatenated, never re-encoded) and ``frames.tsv`` (one row per frame: ``index, t, t_source,
offset, size, fed_after``; ``fed_after`` is the session's business, see
:mod:`gazefusion.fusion.session`). :class:`RecordedVideo` reads them back, a cut-off tail
noted, not fatal; :class:`RecordedSource` plays them as a camera at their original timing,
so ``--camera SESSION_DIR`` works wherever a camera does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

import cv2

from gazefusion.fusion.camera.base import SOURCE_KINDS, CameraSource, SourceError, SourceFinished
from gazefusion.fusion.camera.decode import decode_jpeg
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.tables import TableReader, parse_float
from gazefusion.fusion.types import Frame

FRAME_COLUMNS: tuple[str, ...] = ("index", "t", "t_source", "offset", "size", "fed_after")
"""The columns of frames.tsv."""


class FrameRecord(NamedTuple):
    """One row of frames.tsv.

    Attributes
    ----------
    index : int
        The frame's index from its source.
    t, t_source : float
        Host arrival time and the camera's own time (nan where none), s.
    offset, size : int
        Where its JPEG bytes are in video.mjpeg.
    fed_after : int
        Gaze samples fed before it; -1 for a frame not processed, -2 where not recorded.
    """

    index: int  # type: ignore[assignment]  # a field named like tuple.index
    t: float
    t_source: float
    offset: int
    size: int
    fed_after: int


def as_jpeg_frame(frame: Frame, quality: int = 95) -> Frame:
    """A frame of a non-JPEG source as it will be recorded and replayed: JPEG-encoded, decoded back.

    The live core takes this frame instead of the original, so a replay, which can only
    decode the recorded JPEG, sees the very same pixels.

    Parameters
    ----------
    frame : Frame
        A frame; returned unchanged if it has JPEG bytes already.
    quality : int
        JPEG quality. (default: 95)
    """
    if frame.jpeg is not None:
        return frame
    ok, encoded = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    data = encoded.tobytes() if ok else b""
    image = decode_jpeg(data)
    return frame._replace(image=frame.image if image is None else image, jpeg=data)


class RecordedVideo:
    """The frames.tsv and video.mjpeg of a folder, read back.

    Parameters
    ----------
    directory : str or pathlib.Path
        The session folder.
    problems : list[str] or None
        Where to note what is cut off or does not decode, one line each; None: a new list.
        (default: None)
    """

    def __init__(self, directory: str | Path, problems: list[str] | None = None) -> None:
        self.directory = Path(directory)
        self.problems: list[str] = [] if problems is None else problems

    @property
    def has_frames(self) -> bool:
        """Whether frames.tsv and video.mjpeg are both there."""
        return (self.directory / "frames.tsv").exists() and (self.directory / "video.mjpeg").exists()

    @property
    def has_feed_order(self) -> bool:
        """Whether frames.tsv records the live feed order (its ``fed_after`` column)."""
        if not self.has_frames:
            return False
        reader = TableReader(self.directory / "frames.tsv")
        reader.close()
        return "fed_after" in reader.columns

    def records(self) -> Iterator[FrameRecord]:
        """frames.tsv rows whose JPEG is wholly in video.mjpeg (a cut-off tail is noted)."""
        if not self.has_frames:
            return
        video_size = (self.directory / "video.mjpeg").stat().st_size
        reader = TableReader(self.directory / "frames.tsv", required=FRAME_COLUMNS[:5])
        has_fed = "fed_after" in reader.columns
        for number, row in enumerate(reader, start=2):
            where = f"frames.tsv line {number}"
            offset = int(parse_float(row["offset"], "offset", where))
            size = int(parse_float(row["size"], "size", where))
            if offset + size > video_size:
                self.problems.append(f"video.mjpeg is cut off: frames from index {row['index']} on are missing")
                reader.close()
                return
            yield FrameRecord(
                int(parse_float(row["index"], "index", where)),
                parse_float(row["t"], "t", where),
                parse_float(row["t_source"], "t_source", where),
                offset,
                size,
                int(parse_float(row["fed_after"], "fed_after", where)) if has_fed else -2,
            )
        if reader.truncated_rows:
            self.problems.append("frames.tsv ends in a cut-off line (skipped)")

    def read_jpeg(self, record: FrameRecord, video: IO[bytes] | None = None) -> bytes:
        """The JPEG bytes of one frame (from an open video.mjpeg, or opening it)."""
        if video is not None:
            video.seek(record.offset)
            return video.read(record.size)
        with open(self.directory / "video.mjpeg", "rb") as handle:
            handle.seek(record.offset)
            return handle.read(record.size)

    def frames(self, wanted: Callable[[FrameRecord], bool] | None = None) -> Iterator[tuple[FrameRecord, Frame]]:
        """The recorded frames, decoded, with their records.

        Parameters
        ----------
        wanted : callable or None
            Only records for which this is true are read and decoded; None: all.
            (default: None)
        """
        if not self.has_frames:
            return
        with open(self.directory / "video.mjpeg", "rb") as video:
            for record in self.records():
                if wanted is not None and not wanted(record):
                    continue
                data = self.read_jpeg(record, video)
                image = decode_jpeg(data)
                if image is None:
                    self.problems.append(f"frame {record.index} does not decode (skipped)")
                    continue
                yield record, Frame(record.index, record.t, record.t_source, image, data)


def is_session_folder(spec: str) -> bool:
    """Whether a camera spec names a recorded session folder."""
    path = Path(spec).expanduser()
    return path.is_dir() and ((path / "frames.tsv").exists() or (path / "session.yaml").exists())


@SOURCE_KINDS.register("session", matches=is_session_folder)
class RecordedSource(CameraSource):
    """A recorded session's video as a camera source, at its original frame timing.

    Frames get new arrival times (this run's clock); the recorded source time is kept as
    ``t_source``. The source ends after the last frame.

    Parameters
    ----------
    spec : str
        The session folder.
    config : CameraConfig
        Timeouts (unused: a folder connects at once).
    """

    reconnects_on_loss = False

    def __init__(self, spec: str, config: CameraConfig) -> None:
        super().__init__(f"session {spec}", config)
        self.video = RecordedVideo(Path(spec).expanduser())

    def _connect(self, timeout_s: float) -> None:
        if not self.video.has_frames:
            raise SourceError("the session has no frames.tsv and video.mjpeg")

    def _read(self) -> None:
        start_wall = time.monotonic()
        first_t: float | None = None
        for record, frame in self.video.frames():
            if first_t is None:
                first_t = record.t
            if self._stop.wait(max(0.0, start_wall + (record.t - first_t) - time.monotonic())):
                return
            self._publish(frame.image, time.monotonic(), record.t, frame.jpeg)
        raise SourceFinished("end of the recorded session")

    def _disconnect(self) -> None:
        """Nothing held open between frames."""
