"""The session recorder: one writer for every record, by its type (see :mod:`.tables`).

Not thread-safe: one thread (the runner's core worker, or a replay) writes. Everything is
appended and flushed at least every ``record.flush_every_s``, so a killed run loses at most
the last second. When the disk fills, the recorder stops with one clear message and keeps
what was written; the run goes on.
"""

from __future__ import annotations

import datetime as _dt
import errno
import functools
import json
import logging
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from gazefusion.fusion.camera import redact_url
from gazefusion.fusion.camera.recorded import as_jpeg_frame
from gazefusion.fusion.camera.urls import REDACTED
from gazefusion.fusion.config import Config
from gazefusion.fusion.errors import FileFormatError, OutputError
from gazefusion.fusion.files import read_yaml, write_yaml_atomic
from gazefusion.fusion.session.tables import EVENTS, FRAMES, TABLES, Table, tables_for
from gazefusion.fusion.tables import TableWriter
from gazefusion.fusion.types import Frame, Mark, MarkKind
from gazefusion.fusion.version import software_version

log = logging.getLogger(__name__)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def json_line(record: dict[str, Any]) -> str:
    """One events.jsonl line: compact JSON, nan as null, numpy values as plain numbers."""
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    return json.dumps(clean, default=_json_default, separators=(",", ":")) + "\n"


def _recorded_config(config: Config) -> dict[str, Any]:
    """The configuration as stored: credentials redacted, file paths absolute (replay from anywhere)."""
    data = config.to_dict()
    data["camera"]["source"] = redact_url(str(data["camera"]["source"]))
    if data["camera"].get("password") is not None:
        data["camera"]["password"] = REDACTED
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

    Parameters
    ----------
    directory : str or pathlib.Path
        The session folder; created, must not hold a session already.
    config : Config
        The whole configuration of the run, stored in session.yaml (credentials redacted).
    media : bool
        Write the live run's media too: gaze.tsv, video.mjpeg and frames.tsv (False for a
        replay's output folder, which holds the derived tables only). (default: True)
    extra : dict or None
        More keys for session.yaml (e.g. the demo's true marker poses, a replay's source).
        (default: None)

    Attributes
    ----------
    error : str or None
        Why recording stopped (a full disk), or None while it goes on.
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
            "participant": config.record.participant,
            "condition": config.record.condition,
            "config": _recorded_config(config),
            "calibration": {
                "intrinsics": _calibration_record(config.calibration.intrinsics),
                "mapping": _calibration_record(config.calibration.mapping),
            },
            **(extra or {}),
        }
        self._tables: dict[str, TableWriter] = {}
        self._video: IO[bytes] | None = None
        self._events: IO[str] | None = None
        self._guard("session.yaml", lambda: write_yaml_atomic(self.directory / "session.yaml", self._header))
        for spec in TABLES.values():
            if media or not spec.media:
                self._guard(spec.file, functools.partial(self._open_table, spec))
            if spec is FRAMES and media:
                self._guard("video.mjpeg", self._open_video)
        self._guard("events.jsonl", self._open_events)

    def _open_table(self, spec: Table) -> None:
        self._tables[spec.file] = TableWriter(self.directory / spec.file, spec.names, self.flush_every_s)
        spec.write_sidecar(self.directory)

    def _open_video(self) -> None:
        self._video = open(self.directory / "video.mjpeg", "wb")

    def _open_events(self) -> None:
        self._events = open(self.directory / "events.jsonl", "w", encoding="utf-8", newline="\n")

    @property
    def active(self) -> bool:
        """True while recording (not closed, no write failed)."""
        return self.error is None and self._events is not None

    @property
    def samples_written(self) -> int:
        """Gaze rows written so far."""
        gaze = self._tables.get("gaze.tsv")
        return 0 if gaze is None else gaze.rows_written

    # --- writing -------------------------------------------------------------------------

    def _guard(self, name: str, action: Callable[[], object]) -> None:
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

    def write(self, record: object) -> None:
        """Record anything: its row into every table declared for its type, and its events.jsonl line.

        A gaze sample goes to gaze.tsv, a fixation's end to fixations.tsv, a look to looks.tsv,
        each of them and tracker and camera events and marks to events.jsonl (see
        :mod:`gazefusion.fusion.session.tables`).
        """
        if self.error is not None:
            return
        for spec in tables_for(type(record)):
            writer = self._tables.get(spec.file)
            row = spec.row(record) if writer is not None and spec.row is not None else None
            if writer is None or row is None:
                continue
            for one in row if spec.many else (row,):
                self._guard(spec.file, functools.partial(writer.write, one))
        to_event = next((make for kind, make in EVENTS.items() if isinstance(record, kind)), None)
        if to_event is not None:
            self.write_event(to_event(record))

    def write_frame(self, frame: Frame, fed_after: int) -> None:
        """Append one frame's JPEG bytes and its frames.tsv row (`fed_after` -1: not processed).

        Frames without JPEG bytes (OpenCV sources) are encoded here (see :func:`as_jpeg_frame`).
        """
        video, frames = self._video, self._tables.get(FRAMES.file)
        if video is None or frames is None or self.error is not None:
            return
        data = frame.jpeg if frame.jpeg is not None else as_jpeg_frame(frame).jpeg or b""
        offset = self._video_offset

        def write() -> None:
            # The JPEG reaches the OS before its row does: a row never points past the video's end.
            video.write(data)
            video.flush()
            frames.write([frame.index, frame.t, frame.t_source, offset, len(data), fed_after])

        self._guard("video.mjpeg", write)
        if self.error is None:
            self._video_offset += len(data)
            self.frames_written += 1

    def write_event(self, record: dict[str, Any]) -> None:
        """Append one record (a dict with at least ``kind`` and ``t``) to events.jsonl."""
        events = self._events
        if events is not None and self.error is None:
            self._guard("events.jsonl", lambda: events.write(json_line(record)))
            self.tick()

    def mark(self, text: str, t: float | None = None, kind: MarkKind = "mark") -> None:
        """Record a user mark (a key press, ``Pipeline.mark``) or a trial start or end.

        Parameters
        ----------
        text : str
            The mark's text or the trial's name.
        t : float or None
            Host time, s; None: now. (default: None)
        kind : {"mark", "trial_start", "trial_end"}
            The record's ``kind``. (default: "mark")
        """
        self.write(Mark(time.monotonic() if t is None else t, text, kind))

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

    def _handles(self) -> list[tuple[str, TableWriter | IO[bytes] | IO[str]]]:
        handles: list[tuple[str, TableWriter | IO[bytes] | IO[str]]] = list(self._tables.items())
        if self._video is not None:
            handles.append(("video.mjpeg", self._video))
        if self._events is not None:
            handles.append(("events.jsonl", self._events))
        return handles

    def _close_files(self) -> None:
        for _, handle in self._handles():
            try:
                handle.close()
            except OSError:
                pass  # the error that stopped recording was already reported
        self._tables = {}
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
