"""The session reader: what a session folder holds, read back; missing or cut-off parts noted, not fatal."""

from __future__ import annotations

import heapq
import json
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from gazefusion.fusion.camera.recorded import FrameRecord, RecordedVideo
from gazefusion.fusion.config import Config, override_config, validate_config
from gazefusion.fusion.errors import FileFormatError
from gazefusion.fusion.files import read_yaml
from gazefusion.fusion.tables import TableReader
from gazefusion.fusion.types import Frame
from gazefusion.trackers.gazetable import read_gaze_table
from gazefusion.trackers.types import GazeSample

SESSION_FILES: tuple[str, ...] = (
    "session.yaml",
    "gaze.tsv",
    "video.mjpeg",
    "frames.tsv",
    "fixations.tsv",
    "looks.tsv",
    "events.jsonl",
    "pursuits.tsv",
    "gaze_on_markers.tsv",
    "fixations_on_markers.tsv",
    "marker_positions.tsv",
)
"""The files of a session folder (each table has a JSON sidecar beside it)."""

T = TypeVar("T")


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
        if self.header and "end_time" not in self.header:
            self.problems.append(
                "session.yaml has no end time and no summary: the run was killed or crashed, so the recording "
                "stops at its last flushed second and the fixation in progress then was never ended"
            )
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
        frames = self.frames(self._fed(wanted))
        yield from self._in_feed_order(_prefetched(frames) if prefetch else frames)

    def feed_order(self) -> Iterator[GazeSample | FrameRecord]:
        """The core's inputs as :meth:`inputs` gives them, frames as their records (nothing decoded)."""
        fed = self._fed(None)
        yield from self._in_feed_order((record, record) for record in self.frame_records() if fed(record))

    def _fed(self, wanted: Callable[[FrameRecord], bool] | None) -> Callable[[FrameRecord], bool]:
        """Which frames the core takes: with a feed order, those the live core took (and `wanted`)."""
        ordered = self.has_feed_order

        def fed(record: FrameRecord) -> bool:
            return (not ordered or record.fed_after >= 0) and (wanted is None or wanted(record))

        return fed

    def _in_feed_order(self, frames: Iterator[tuple[FrameRecord, T]]) -> Iterator[GazeSample | T]:
        """Samples, and the second item of (record, frame) pairs, in the live feed order."""
        samples = self.samples()
        if not self.has_feed_order:
            keyed_samples = ((s.t, 0, i, s) for i, s in enumerate(samples))
            keyed_frames = ((record.t, 1, i, frame) for i, (record, frame) in enumerate(frames))
            for *_, item in heapq.merge(keyed_samples, keyed_frames):
                yield cast("GazeSample | T", item)
            return
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


def relocated_config(config: Config, session: Path) -> Config:
    """Files the recording kept inside its own folder, found where the folder is now.

    A session that was moved or copied (the demo keeps its marker library and intrinsics
    inside the session) names them by the folder it was recorded into; a missing file under
    that folder is looked for at the same place under `session`.
    """
    recorded_dir = config.record.dir
    if recorded_dir is None:
        return config
    changes: dict[str, str] = {}
    for key, path in (
        ("markers.file", config.markers.file),
        ("calibration.intrinsics", config.calibration.intrinsics),
        ("calibration.mapping", config.calibration.mapping),
    ):
        if path is None or Path(path).exists():
            continue
        try:
            inside = Path(path).relative_to(recorded_dir)
        except ValueError:
            continue
        if (session / inside).exists():
            changes[key] = str(session / inside)
    return override_config(config, changes, "replay parameters") if changes else config


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
