"""The session folder (DESIGN.md, Files): written as a run goes, read back for replay.

A session is a folder::

    session.yaml     start time, software version, the whole configuration, calibration used
    gaze.tsv         every gaze sample fed to the core (the trackers' gaze table)
    video.mjpeg      the camera's JPEG frames as received, concatenated, not re-encoded
    frames.tsv       index, t, t_source, offset, size, fed_after (see below)
    fixations.tsv    every fixation at its end
    looks.tsv        every look (first / change / end, see fusion.core)
    events.jsonl     fixation events, looks, tracker and camera events, marks, trials

``fed_after`` in frames.tsv is the number of gaze rows fed to the core before that frame, or
-1 for a frame the core did not process (it fell behind): replay feeds the very same
sequence, so it gives the same events as the live run did.

Everything is appended and flushed at least every ``record.flush_every_s``, so a killed run
loses at most the last second. When the disk fills, the recorder stops with one clear message
and keeps what was written; the run goes on.
"""

from __future__ import annotations

import datetime as _dt
import errno
import heapq
import importlib.metadata
import json
import logging
import math
import platform
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from gazefusion.fusion.camera import redact_url
from gazefusion.fusion.camera.recorded import FRAME_COLUMNS, FrameRecord, RecordedVideo, as_jpeg_frame
from gazefusion.fusion.config import Config, validate_config
from gazefusion.fusion.core import LookEvent
from gazefusion.fusion.errors import FileFormatError, OutputError
from gazefusion.fusion.files import read_yaml, write_yaml_atomic
from gazefusion.fusion.tables import TableReader, TableWriter
from gazefusion.fusion.types import FixationEvent, Frame
from gazefusion.trackers.gazetable import GAZE_COLUMNS, read_gaze_table, sample_to_row
from gazefusion.trackers.types import GazeSample, TrackerEvent

log = logging.getLogger(__name__)

FIXATION_COLUMNS: tuple[str, ...] = (
    "id",
    "onset",
    "offset",
    "duration",
    "x",
    "y",
    "cam_x",
    "cam_y",
    "dispersion_deg",
    "n_samples",
)
LOOK_COLUMNS: tuple[str, ...] = (
    "fixation_id",
    "t",
    "marker",
    "x_m",
    "y_m",
    "z_m",
    "distance_m",
    "rx",
    "ry",
    "rz",
    "inliers",
    "kind",
    "frame_index",
    "reprojection_px",
    "pose_ambiguous",
    "contains_gaze",
    "cam_x",
    "cam_y",
    "aoi_x",
    "aoi_y",
    "aoi_w",
    "aoi_h",
    "frames_searched",
    "frames_on_marker",
)
SESSION_FILES: tuple[str, ...] = (
    "session.yaml",
    "gaze.tsv",
    "video.mjpeg",
    "frames.tsv",
    "fixations.tsv",
    "looks.tsv",
    "events.jsonl",
)


def software_version() -> str:
    """The installed gazefusion version."""
    try:
        return importlib.metadata.version("gazefusion")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def fixation_row(event: FixationEvent) -> list[Any]:
    """A fixation (at its end event) as a row of :data:`FIXATION_COLUMNS`."""
    f = event.fixation
    return [f.id, f.onset, f.offset, f.duration, f.x, f.y, f.cam_x, f.cam_y, f.dispersion_deg, f.n_samples]


def look_row(event: LookEvent) -> dict[str, Any]:
    """A look as a row of :data:`LOOK_COLUMNS` (pose columns empty for a look at nothing)."""
    look = event.look
    row: dict[str, Any] = {
        "fixation_id": look.fixation.id,
        "t": look.t,
        "marker": "",
        "kind": event.kind,
        "frame_index": look.frame_index,
        "cam_x": look.fixation.cam_x,
        "cam_y": look.fixation.cam_y,
        "aoi_x": look.aoi[0],
        "aoi_y": look.aoi[1],
        "aoi_w": look.aoi[2],
        "aoi_h": look.aoi[3],
        "frames_searched": event.frames_searched,
        "frames_on_marker": event.frames_on_marker,
    }
    hit = look.hit
    if hit is not None:
        x, y, z = (float(v) for v in np.asarray(hit.position_m, dtype=float).ravel()[:3])
        rx, ry, rz = (float(v) for v in np.asarray(hit.rotation, dtype=float).ravel()[:3])
        row.update(
            marker=hit.marker_id,
            x_m=x,
            y_m=y,
            z_m=z,
            distance_m=float(hit.distance_m),
            rx=rx,
            ry=ry,
            rz=rz,
            inliers=int(hit.inliers),
            reprojection_px=float(hit.reprojection_error_px),
            pose_ambiguous=bool(hit.pose_ambiguous),
            contains_gaze=bool(hit.contains_gaze),
        )
    return row


def event_record(item: FixationEvent | LookEvent) -> dict[str, Any]:
    """A fixation event or look as an events.jsonl record."""
    if isinstance(item, LookEvent):
        row = look_row(item)
        fields = {k: v for k, v in row.items() if k not in ("t", "kind") and v != ""}
        return {"kind": f"look_{item.kind}", "t": item.look.t, **fields}
    f = item.fixation
    return {
        "kind": f"fixation_{item.kind}",
        "t": item.t,
        "id": f.id,
        "onset": f.onset,
        "offset": f.offset,
        "x": f.x,
        "y": f.y,
        "cam_x": f.cam_x,
        "cam_y": f.cam_y,
        "dispersion_deg": f.dispersion_deg,
        "n_samples": f.n_samples,
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _json_line(record: dict[str, Any]) -> str:
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    return json.dumps(clean, default=_json_default, separators=(",", ":")) + "\n"


def _recorded_config(config: Config) -> dict[str, Any]:
    """The configuration as stored: credentials redacted, file paths absolute (replay from anywhere)."""
    data = config.to_dict()
    data["camera"]["source"] = redact_url(str(data["camera"]["source"]))
    for section, key in (("markers", "file"), ("calibration", "intrinsics"), ("calibration", "mapping")):
        if data[section][key]:
            data[section][key] = str(Path(data[section][key]).expanduser().resolve())
    return data


def _calibration_record(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        contents = read_yaml(path, "calibration")
    except FileFormatError as exc:
        contents = f"unreadable: {exc}"
    return {"path": str(path), "contents": contents}


class SessionRecorder:
    """Write a session folder as a run goes.

    Not thread-safe: one thread (the runner's core worker) writes.

    Parameters
    ----------
    directory : str or pathlib.Path
        The session folder; created, must not hold a session already.
    config : Config
        The whole configuration of the run, stored in session.yaml (credentials redacted).
    media : bool
        Write gaze.tsv, video.mjpeg and frames.tsv (False for a replay's output folder,
        which holds the derived tables only). (default: True)
    extra : dict or None
        More keys for session.yaml (e.g. the demo's true marker poses, a replay's source).
        (default: None)
    """

    def __init__(
        self,
        directory: str | Path,
        config: Config,
        media: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.directory = Path(directory)
        if (self.directory / "session.yaml").exists():
            raise OutputError(f"{self.directory} already holds a session: record into a new folder")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the session folder {self.directory}: {exc.strerror}") from None
        self.flush_every_s = config.record.flush_every_s
        self.error: str | None = None
        self.frames_written = 0
        self.samples_written = 0
        self._last_flush = time.monotonic()
        self._video_offset = 0
        self._header: dict[str, Any] = {
            "start_time": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
            "start_monotonic_s": time.monotonic(),
            "software": {
                "name": "gazefusion",
                "version": software_version(),
                "opencv": cv2.__version__,
                "python": platform.python_version(),
            },
            "config": _recorded_config(config),
            "calibration": {
                "intrinsics": _calibration_record(config.calibration.intrinsics),
                "mapping": _calibration_record(config.calibration.mapping),
            },
            **(extra or {}),
        }
        self._gaze: TableWriter | None = None
        self._frames: TableWriter | None = None
        self._video: IO[bytes] | None = None
        self._fixations: TableWriter | None = None
        self._looks: TableWriter | None = None
        self._events: IO[str] | None = None
        self._guard("session.yaml", lambda: write_yaml_atomic(self.directory / "session.yaml", self._header))
        if media:
            self._guard(
                "gaze.tsv",
                lambda: setattr(
                    self,
                    "_gaze",
                    TableWriter(self.directory / "gaze.tsv", GAZE_COLUMNS, flush_every_s=self.flush_every_s),
                ),
            )
            self._guard("video.mjpeg", lambda: setattr(self, "_video", open(self.directory / "video.mjpeg", "wb")))
            self._guard(
                "frames.tsv",
                lambda: setattr(
                    self,
                    "_frames",
                    TableWriter(self.directory / "frames.tsv", FRAME_COLUMNS, flush_every_s=self.flush_every_s),
                ),
            )
        self._guard(
            "fixations.tsv",
            lambda: setattr(
                self,
                "_fixations",
                TableWriter(self.directory / "fixations.tsv", FIXATION_COLUMNS, flush_every_s=self.flush_every_s),
            ),
        )
        self._guard(
            "looks.tsv",
            lambda: setattr(
                self,
                "_looks",
                TableWriter(self.directory / "looks.tsv", LOOK_COLUMNS, flush_every_s=self.flush_every_s),
            ),
        )
        self._guard(
            "events.jsonl",
            lambda: setattr(
                self, "_events", open(self.directory / "events.jsonl", "w", encoding="utf-8", newline="\n")
            ),
        )

    @property
    def active(self) -> bool:
        """True while recording (not closed, no write failed)."""
        return self.error is None and self._events is not None

    # --- writing -------------------------------------------------------------------------

    def _guard(self, name: str, action: Any) -> None:
        """Run one write; on an OS error stop recording with one clear message."""
        if self.error is not None:
            return
        try:
            action()
        except (OSError, OutputError) as exc:
            self._fail(name, exc)

    def _fail(self, name: str, exc: OSError | OutputError) -> None:
        if isinstance(exc, OutputError):
            reason = str(exc)
        elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = "the disk is full"
        else:
            reason = exc.strerror or str(exc)
        self.error = (
            f"recording stopped: {reason} (writing {name}); what was written so far is kept in "
            f"{self.directory}, the run goes on"
        )
        log.warning(self.error)
        self._close_files()

    def write_sample(self, sample: GazeSample) -> None:
        """Append one gaze sample (in the order it was fed to the core)."""
        if self._gaze is not None and self.error is None:
            self._guard("gaze.tsv", lambda: self._gaze.write(sample_to_row(sample)))  # type: ignore[union-attr]
            self.samples_written += 1

    def write_frame(self, frame: Frame, fed_after: int) -> None:
        """Append one frame's JPEG bytes and its row (`fed_after` -1: not processed).

        Frames without JPEG bytes (OpenCV sources) are encoded here (see :func:`as_jpeg_frame`).
        """
        if self._video is None or self._frames is None or self.error is not None:
            return
        data = frame.jpeg if frame.jpeg is not None else as_jpeg_frame(frame).jpeg or b""
        offset = self._video_offset

        def write() -> None:
            # The JPEG reaches the OS before its row does: a row never points past the video's end.
            self._video.write(data)  # type: ignore[union-attr]
            self._video.flush()  # type: ignore[union-attr]
            self._frames.write([frame.index, frame.t, frame.t_source, offset, len(data), fed_after])  # type: ignore[union-attr]

        self._guard("video.mjpeg", write)
        if self.error is None:
            self._video_offset += len(data)
            self.frames_written += 1

    def write_output(self, item: FixationEvent | LookEvent) -> None:
        """Record a core output: every one into events.jsonl, ends into fixations.tsv, looks into looks.tsv."""
        if self.error is not None:
            return
        if isinstance(item, LookEvent):
            if self._looks is not None:
                self._guard("looks.tsv", lambda: self._looks.write(look_row(item)))  # type: ignore[union-attr]
        elif item.kind == "end" and self._fixations is not None:
            self._guard("fixations.tsv", lambda: self._fixations.write(fixation_row(item)))  # type: ignore[union-attr]
        self.write_event(event_record(item))

    def write_tracker_event(self, event: TrackerEvent) -> None:
        """Record a tracker event (stall, resume, restart, message …)."""
        record = {"kind": f"tracker_{event.kind}", "t": event.t, **{k: v for k, v in event.data}}
        if event.raw:
            record["raw"] = event.raw
        self.write_event(record)

    def write_event(self, record: dict[str, Any]) -> None:
        """Append one record (a dict with at least ``kind`` and ``t``) to events.jsonl."""
        if self._events is not None and self.error is None:
            self._guard("events.jsonl", lambda: self._events.write(_json_line(record)))  # type: ignore[union-attr]
            self.tick()

    def mark(self, text: str, t: float | None = None, kind: str = "mark") -> None:
        """Record a user mark (a key press, ``Pipeline.mark``) or a trial start or end.

        Parameters
        ----------
        text : str
            The mark's text or the trial's name.
        t : float or None
            Host time, s; None: now. (default: None)
        kind : {"mark", "trial_start", "trial_end", "lsl_marker"}
            The record's ``kind``. (default: "mark")
        """
        self.write_event({"kind": kind, "t": time.monotonic() if t is None else t, "text": text})

    def annotate(self, key: str, value: Any) -> None:
        """Set a top-level key of session.yaml (written now, and again at close).

        Parameters
        ----------
        key : str
            The key (``lsl``: the LSL streams and clock offsets).
        value : Any
            Plain data.
        """
        self._header[key] = value
        if self.active:
            self._guard("session.yaml", lambda: write_yaml_atomic(self.directory / "session.yaml", self._header))

    def tick(self) -> None:
        """Flush everything if the last flush is older than ``flush_every_s``."""
        now = time.monotonic()
        if now - self._last_flush >= self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        """Flush every file to the OS."""
        self._last_flush = time.monotonic()
        for name, handle in self._handles():
            if self.error is not None:
                return
            self._guard(name, handle.flush)

    def _handles(self) -> list[tuple[str, Any]]:
        pairs = [
            ("gaze.tsv", self._gaze),
            ("video.mjpeg", self._video),
            ("frames.tsv", self._frames),
            ("fixations.tsv", self._fixations),
            ("looks.tsv", self._looks),
            ("events.jsonl", self._events),
        ]
        return [(name, handle) for name, handle in pairs if handle is not None]

    def _close_files(self) -> None:
        for _, handle in self._handles():
            try:
                handle.close()
            except OSError:
                pass  # the error that stopped recording was already reported
        self._gaze = self._frames = self._fixations = self._looks = None
        self._video = None
        self._events = None

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """Flush, close, and add the end time (and a summary) to session.yaml."""
        if self.error is None and self._events is not None:
            self.flush()
            if self.error is None:
                self._close_files()
                self._header["end_time"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")
                if summary:
                    self._header["summary"] = summary
                self._guard("session.yaml", lambda: write_yaml_atomic(self.directory / "session.yaml", self._header))
        else:
            self._close_files()


class SessionReader:
    """Read what a session folder holds; missing or truncated parts are noted, not fatal.

    Parameters
    ----------
    directory : str or pathlib.Path
        The session folder.

    Attributes
    ----------
    header : dict
        session.yaml as read ({} when missing or unreadable).
    config : Config
        The recorded configuration (defaults when none was recorded).
    problems : list[str]
        What is missing or cut off, one line each, filled as the parts are read.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileFormatError(f"session folder not found: {self.directory}")
        if not any((self.directory / name).exists() for name in SESSION_FILES[:4]):
            raise FileFormatError(
                f"{self.directory} is not a session folder (no session.yaml, gaze.tsv, video.mjpeg or frames.tsv)"
            )
        self.problems: list[str] = []
        self.video = RecordedVideo(self.directory, self.problems)
        self.header: dict[str, Any] = {}
        path = self.directory / "session.yaml"
        if not path.exists():
            self.problems.append("session.yaml is missing: using the default configuration")
        else:
            try:
                loaded = read_yaml(path, "session")
                self.header = loaded if isinstance(loaded, dict) else {}
            except FileFormatError:
                self.problems.append("session.yaml is unreadable: using the default configuration")
        recorded = self.header.get("config")
        self.config: Config = validate_config(recorded if isinstance(recorded, dict) else {}, f"{path} config")
        if not (self.directory / "gaze.tsv").exists():
            self.problems.append("gaze.tsv is missing: no gaze to replay")
        gaze_only = self.config.camera.source == "none" and "config" in self.header
        if not gaze_only and not self.has_frames:
            which = [n for n in ("frames.tsv", "video.mjpeg") if not (self.directory / n).exists()]
            self.problems.append(f"{' and '.join(which)} missing: replaying gaze without frames")

    @property
    def has_frames(self) -> bool:
        """Whether frames.tsv and video.mjpeg are both there."""
        return self.video.has_frames

    def samples(self) -> Iterator[GazeSample]:
        """The recorded gaze samples in order (none if gaze.tsv is missing)."""
        path = self.directory / "gaze.tsv"
        if not path.exists():
            return
        yield from read_gaze_table(path)

    def frame_records(self) -> Iterator[FrameRecord]:
        """frames.tsv rows whose JPEG is wholly in video.mjpeg (a cut-off tail is noted)."""
        return self.video.records()

    def frames(self, wanted: Callable[[FrameRecord], bool] | None = None) -> Iterator[tuple[FrameRecord, Frame]]:
        """The recorded frames, decoded, with their records (see :meth:`RecordedVideo.frames`)."""
        return self.video.frames(wanted)

    @property
    def has_feed_order(self) -> bool:
        """Whether frames.tsv records the live feed order (its ``fed_after`` column)."""
        return self.video.has_feed_order

    def inputs(
        self, prefetch: bool = True, wanted: Callable[[FrameRecord], bool] | None = None
    ) -> Iterator[GazeSample | Frame]:
        """The core's inputs in the order the live run fed them.

        With ``fed_after`` recorded, frames go in after exactly that many samples and frames
        the live core skipped are skipped; without it, samples and frames merge by time
        (samples first on ties).

        Parameters
        ----------
        prefetch : bool
            Read and decode frames ahead on a second thread (the order is unchanged).
            (default: True)
        wanted : callable or None
            Of the frames the live core took, only those for which this is true (others are
            not even decoded); None: all. (default: None)
        """
        samples = self.samples()
        if not self.has_feed_order:
            frames = _prefetched(self.frames()) if prefetch else self.frames()
            keyed_samples = ((s.t, 0, i, s) for i, s in enumerate(samples))
            keyed_frames = ((f.t, 1, i, f) for i, (_, f) in enumerate(frames))
            for *_, item in heapq.merge(keyed_samples, keyed_frames):
                yield item
            return

        def fed(record: FrameRecord) -> bool:
            return record.fed_after >= 0 and (wanted is None or wanted(record))

        frames = _prefetched(self.frames(fed)) if prefetch else self.frames(fed)
        count = 0
        for record, frame in frames:
            while count < record.fed_after:
                sample = next(samples, None)
                if sample is None:
                    break
                count += 1
                yield sample
            yield frame
        yield from samples

    def events(self) -> Iterator[dict[str, Any]]:
        """events.jsonl records; a cut-off last line is noted and skipped."""
        path = self.directory / "events.jsonl"
        if not path.exists():
            self.problems.append("events.jsonl is missing")
            return
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    self.problems.append("events.jsonl ends in a cut-off line (skipped)")
                    continue
                if isinstance(record, dict):
                    yield record

    def table(self, name: str) -> list[dict[str, str]]:
        """All rows of fixations.tsv or looks.tsv as dicts of strings ([] when missing)."""
        path = self.directory / name
        if not path.exists():
            self.problems.append(f"{name} is missing")
            return []
        return list(TableReader(path))


def _prefetched(items: Iterator[Any], depth: int = 8) -> Iterator[Any]:
    """Run an iterator ahead on a thread (JPEG decoding overlaps the core); same items, same order."""
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(("error", exc))

    thread = threading.Thread(target=produce, name="gazefusion-replay-frames", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=2.0)
