"""The live pipeline: a camera source and a tracker feeding one fusion core, recording as it goes.

Threads live at the edges only: the camera's reader, the tracker's receiver, and one core
worker here that merges their outputs in host-time order (a short reorder buffer), feeds the
core and the recorder, and hands the core's outputs to subscribers. The caller's thread runs
the display, or waits.

Replay determinism: the worker writes, for every frame, how many gaze samples it fed before
it (``fed_after`` in frames.tsv; -1 for a frame it skipped because it fell behind). Replay feeds
the same sequence, so it gives the same fixations and looks.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from gazefusion.fusion.analysis.join import FixationOnMarker, GazeOnMarker
from gazefusion.fusion.camera import CameraSource, open_camera
from gazefusion.fusion.camera.recorded import as_jpeg_frame
from gazefusion.fusion.config import Config
from gazefusion.fusion.core import CoreOutput, LookEvent, OutputCounts, OverlayState, make_core, mapping_note
from gazefusion.fusion.errors import OutputError
from gazefusion.fusion.lsl import LslLink
from gazefusion.fusion.session import SessionRecorder
from gazefusion.fusion.sources import Inbox, Lane
from gazefusion.fusion.types import (
    CameraEvent,
    FixationEvent,
    Frame,
    LslMarker,
    Mark,
    MarkKind,
    MovementEvent,
    SearchedFrame,
)
from gazefusion.fusion.version import software_version
from gazefusion.trackers import Tracker, open_tracker
from gazefusion.trackers.types import GazeSample, TrackerEvent

log = logging.getLogger(__name__)


class _Control(NamedTuple):
    """A request to the worker: a mark, an LSL marker (with the trial it starts or ends), an
    event record of the LSL parts, a recorder to start recording into, or stop recording (set
    when done)."""

    value: Mark | tuple[LslMarker, tuple[MarkKind, str] | None] | dict[str, Any] | SessionRecorder | threading.Event


PipelineEvent = (
    FixationEvent
    | MovementEvent
    | LookEvent
    | SearchedFrame
    | GazeOnMarker
    | FixationOnMarker
    | TrackerEvent
    | CameraEvent
    | Mark
    | LslMarker
)


class Runner:
    """Run camera + tracker through a fusion core in a background worker.

    Parameters
    ----------
    config : Config
        The whole configuration; ``camera.source``, ``tracker.spec`` and ``record.dir`` say
        what to open and where to record.
    hold_s : float
        The reorder buffer holds an input at most this long waiting for the other stream,
        s. (default: 0.1)
    max_pending_frames : int
        Frames waiting in the reorder buffer beyond which older ones are skipped during a
        fixation (the core fell behind the camera; skipped frames are recorded as such).
        (default: 4)
    extra_session : dict or None
        More keys for session.yaml (the demo's true poses). (default: None)
    tracker : Tracker or None
        An unopened tracker object to use instead of opening ``tracker.spec`` (e.g. a
        ``ScriptedTracker`` with a script of one's own). (default: None)
    camera : CameraSource or None
        An unstarted camera source to use instead of opening ``camera.source``. (default: None)
    """

    def __init__(
        self,
        config: Config,
        hold_s: float = 0.1,
        max_pending_frames: int = 4,
        extra_session: dict[str, Any] | None = None,
        tracker: Tracker | None = None,
        camera: CameraSource | None = None,
    ) -> None:
        self.config = config
        self._given_tracker = tracker
        self._given_camera = camera
        self.hold_s = hold_s
        self.max_pending_frames = max_pending_frames
        self.extra_session = extra_session
        self.core = make_core(config)
        self.camera: CameraSource | None = None
        self.tracker: Tracker | None = None
        self.recorder: SessionRecorder | None = None
        self.lsl: LslLink | None = None
        self.error: BaseException | None = None
        self.frames_skipped = 0
        self.outputs = OutputCounts()
        self.started_at = math.nan
        self._inbox: Inbox[GazeSample | Frame | TrackerEvent | CameraEvent | _Control] = Inbox()
        self._control = self._inbox.lane("control", 100_000)
        self._tracker_lane: Lane[GazeSample] | None = None
        self._frame_lane: Lane[Frame] | None = None
        self._frames_dropped = 0
        self._stop = threading.Event()
        self._done = threading.Event()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[PipelineEvent], None]] = []
        self._queues: list[queue.Queue[PipelineEvent | None]] = []
        self._frames_by_index: dict[int, Frame] = {}
        self._tracker_ended_at: float | None = None
        self._input_t = math.nan

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> Runner:
        """Open the tracker and the camera, start recording if configured, start the worker.

        Raises
        ------
        GazefusionError
            A bad camera or tracker spec, a source that does not answer, a recording folder
            that cannot be made.
        """
        try:
            self.tracker = self._given_tracker or open_tracker(
                self.config.tracker.spec, self.config.tracker, self.config.screen
            )
            self.tracker.open()
            self._tracker_lane = self.tracker.attach(self._inbox)
            if self._given_camera is not None or self.config.camera.source != "none":
                self.camera = self._given_camera or open_camera(self.config.camera.source, self.config.camera)
                # Attached before the start: not even the first frame is missed.
                self._frame_lane = self.camera.attach(
                    self._inbox, self.config.camera.recorder_queue_frames, events=True
                )
                self.camera.start()
                if self.camera.size is not None:
                    self.core.set_camera_size(self.camera.size)
            if self.config.lsl.outlets or self.config.lsl.markers:
                self.lsl = self._open_lsl(self.tracker)
            if self.config.record.dir:
                self.recorder = SessionRecorder(self.config.record.dir, self.config, extra=self.extra_session)
                self._note_lsl(self.recorder)
            if self.lsl is not None:
                self.lsl.start()
            self.tracker.start_streaming()
        except BaseException:
            self._close_sources()
            raise
        self.started_at = time.monotonic()
        note = mapping_note(self.config)
        if note is not None:
            log.warning(note)
        self._worker = threading.Thread(target=self._work, name="gazefusion-core", daemon=True)
        self._worker.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the worker (it feeds what is buffered, ends the fixation in progress), close all."""
        self._stop.set()
        self._inbox.wake()
        if self._worker is not None:
            self._worker.join(timeout_s)
        self._close_sources()

    def _open_lsl(self, tracker: Tracker) -> LslLink:
        """The run's LSL outlets and marker inlet (``lsl`` section)."""
        session = Path(self.config.record.dir).name if self.config.record.dir else None
        (width, height), (width_mm, height_mm) = self.config.screen.size_px, self.config.screen.size_mm
        about = {
            "software": f"gazefusion {software_version()}",
            "session": session or "",
            "tracker": tracker.description,
            "screen_px": f"{width}x{height}",
            "screen_mm": f"{width_mm}x{height_mm}",
        }
        return LslLink(
            self.config.lsl,
            session,
            float(tracker.sample_rate_hz),
            about,
            self._on_lsl_marker,
            self._on_lsl_event,
            self.core.points_to_camera,
        )

    def _on_lsl_marker(self, marker: LslMarker, trial: tuple[MarkKind, str] | None) -> None:
        """A marker from the LSL marker stream (its thread): to the worker, in order with the marks."""
        self._control.put(_Control((marker, trial)))

    def _on_lsl_event(self, kind: str, text: str) -> None:
        """The marker stream lost, found again or unusable (its thread): into events.jsonl."""
        self._control.put(_Control({"kind": kind, "t": time.monotonic(), "text": text}))

    def _note_lsl(self, recorder: SessionRecorder) -> None:
        """Put the LSL streams and clock offsets into session.yaml."""
        if self.lsl is not None:
            recorder.annotate("lsl", self.lsl.header())

    def _close_sources(self) -> None:
        if self.lsl is not None:
            try:
                self.lsl.close()
            except Exception as exc:  # closing must not hide the run's result
                log.debug("closing the LSL streams failed: %s", exc)
        for part in (self.tracker, self.camera):
            if part is not None:
                try:
                    part.close()
                except Exception as exc:  # closing must not hide the run's result
                    log.debug("closing %s failed: %s", part, exc)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker ends (the tracker's replay ran out, an error) or the timeout.

        Returns True if it ended.
        """
        return self._done.wait(timeout_s)

    @property
    def finished(self) -> bool:
        """Whether the worker has ended."""
        return self._done.is_set()

    def raise_error(self) -> None:
        """Re-raise an error the worker stopped on (in the caller's thread)."""
        if self.error is not None:
            raise self.error

    # --- subscribers ---------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[PipelineEvent], None]) -> None:
        """Call `callback(event)` from the worker for every fixation event, look, tracker and camera event, mark.

        Keep it short: it runs on the worker thread.
        """
        with self._lock:
            self._callbacks.append(callback)

    def unsubscribe(self, callback: Callable[[PipelineEvent], None]) -> None:
        """Stop calling `callback`."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def event_queue(self) -> queue.Queue[PipelineEvent | None]:
        """A new queue receiving every event from now on; None is put when the worker ends."""
        subscriber: queue.Queue[PipelineEvent | None] = queue.Queue()
        with self._lock:
            self._queues.append(subscriber)
            if self._done.is_set():
                subscriber.put(None)
        return subscriber

    def drop_queue(self, subscriber: queue.Queue[PipelineEvent | None]) -> None:
        """Stop feeding a queue from :meth:`event_queue`."""
        with self._lock:
            if subscriber in self._queues:
                self._queues.remove(subscriber)

    def _emit(self, event: PipelineEvent) -> None:
        with self._lock:
            callbacks, queues = list(self._callbacks), list(self._queues)
        for callback in callbacks:
            try:
                callback(event)
            except Exception:
                log.exception("a pipeline callback failed (it stays subscribed)")
        for subscriber in queues:
            subscriber.put(event)

    # --- control from other threads ----------------------------------------------------------

    def mark(self, text: str, kind: MarkKind = "mark") -> None:
        """Mark an event: into events.jsonl, and to the tracker as a message (``send_message``).

        Parameters
        ----------
        text : str
            The mark's text (a trial's name for trial starts and ends).
        kind : {"mark", "trial_start", "trial_end"}
            What it marks. (default: "mark")
        """
        self._control.put(_Control(Mark(time.monotonic(), text, kind)))

    def start_recording(self, directory: str | Path) -> None:
        """Start recording into a new session folder (replacing no running recording).

        Raises
        ------
        OutputError
            A recording is already running, or the folder cannot be made or holds a session.
        """
        if self.recorder is not None and self.recorder.active:
            raise OutputError(f"already recording into {self.recorder.directory}: stop_recording() first")
        recorder = SessionRecorder(directory, self.config, extra=self.extra_session)
        self._control.put(_Control(recorder))

    def stop_recording(self, timeout_s: float = 5.0) -> None:
        """Stop the running recording (its files are closed and complete)."""
        done = threading.Event()
        self._control.put(_Control(done))
        if self._worker is not None and self._worker.is_alive():
            done.wait(timeout_s)
        elif self.recorder is not None:
            self.recorder.close()

    @property
    def overlay_state(self) -> OverlayState:
        """What the overlay draws, as of the newest input the core took."""
        return self.core.state

    def frame(self, index: int) -> Frame | None:
        """A recent frame fed to the core, by index (for look snapshots)."""
        return self._frames_by_index.get(index)

    def latest_frame(self, newer_than: int = -1, timeout_s: float | None = None) -> Frame | None:
        """The camera's newest frame (None without a camera)."""
        if self.camera is None:
            return None
        return self.camera.latest(newer_than=newer_than, timeout_s=timeout_s)

    # --- the worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        samples: deque[GazeSample] = deque()
        frames: deque[Frame] = deque()
        last_sample_t = last_frame_t = -math.inf
        last_fed_t = -math.inf
        try:
            while True:
                stopping = self._stop.is_set()
                item = self._inbox.get(timeout_s=0 if stopping else self._wait_s(samples, frames))
                while item is not None:
                    if isinstance(item, GazeSample):
                        samples.append(item)
                        last_sample_t = item.t
                    elif isinstance(item, Frame):
                        frames.append(item)
                        last_frame_t = item.t
                    else:
                        self._side_event(item)
                    item = self._inbox.get(timeout_s=0)
                self._count_dropped_frames()
                ended = self._ended(samples, frames)
                horizon = math.inf
                if self._frame_lane is not None and not (stopping or ended):
                    horizon = max(time.monotonic() - self.hold_s, min(last_sample_t, last_frame_t))
                while samples or frames:
                    take_sample = bool(samples) and (not frames or samples[0].t <= frames[0].t)
                    head_t = samples[0].t if take_sample else frames[0].t
                    if head_t > horizon:
                        break
                    if take_sample:
                        sample = samples.popleft()
                        self._feed_sample(sample)
                        last_fed_t = max(last_fed_t, sample.t)
                    else:
                        frame = frames.popleft()
                        # Behind the camera: skip a frame that would be searched (others cost nothing).
                        behind = len(frames) >= self.max_pending_frames and self.core.searching
                        late = frame.t < last_fed_t
                        self._feed_frame(frame, skip=behind or late)
                        last_fed_t = max(last_fed_t, frame.t)
                if self.recorder is not None:
                    self.recorder.tick()
                if self.lsl is not None and self.lsl.outlets is not None:
                    self.lsl.outlets.flush(force=False)  # a chunk per stream, every chunk_s at most
                if stopping or ended:
                    break
            for output in self.core.finish():
                self._output(output)
        except BaseException as exc:  # reported in the caller's thread by raise_error()
            self.error = exc
        finally:
            if self.lsl is not None:
                self.lsl.close()  # no more pushes; the clock offset at the end goes into session.yaml
            self._close_recorder()
            self._done.set()
            with self._lock:
                queues = list(self._queues)
            for subscriber in queues:
                subscriber.put(None)

    def _wait_s(self, samples: deque[GazeSample], frames: deque[Frame]) -> float | None:
        """How long the worker may block on the inbox: until the oldest held input is due, the
        recorder's next flush, or a look whether the inputs ended; None: until something comes."""
        waits: list[float] = []
        heads = [queue[0].t for queue in (samples, frames) if queue]
        if heads:
            waits.append(max(0.0, min(heads) + self.hold_s - time.monotonic()))
        if self.recorder is not None:
            waits.append(max(0.05, self.config.record.flush_every_s))
        if self.lsl is not None and self.lsl.outlets is not None:
            waits.append(self.lsl.outlets.chunk_s)
        if self._tracker_lane is not None and self._tracker_lane.closed:
            waits.append(0.1)  # the tracker ended: the camera's end or its silence ends the run
        return min(waits) if waits else None

    def _ended(self, samples: deque[GazeSample], frames: deque[Frame]) -> bool:
        """Whether the inputs have run out: the tracker ended (a replay), and the camera too
        (a finite source) or has sent nothing for a second since."""
        if self._tracker_lane is None or not self._tracker_lane.finished or samples:
            return False
        now = time.monotonic()
        if self._tracker_ended_at is None:
            self._tracker_ended_at = now
        if self.camera is None or self._frame_lane is None:
            return True
        if self.camera.finished:
            return self._frame_lane.finished
        return now - max(self._tracker_ended_at, frames[-1].t if frames else -math.inf) > 1.0

    def _feed_sample(self, sample: GazeSample) -> None:
        self._input_t = sample.t
        if self.recorder is not None:
            self.recorder.write(sample)
        if self.lsl is not None and self.lsl.outlets is not None:
            self.lsl.outlets.push_gaze(sample)
        for output in self.core.feed_sample(sample):
            self._output(output)

    def _feed_frame(self, frame: Frame, skip: bool) -> None:
        recorder = self.recorder
        if self.lsl is not None and self.lsl.outlets is not None:
            self.lsl.outlets.push_frame(frame)
        if skip:
            self.frames_skipped += 1
            if recorder is not None:
                recorder.write_frame(frame, -1)
            return
        if recorder is not None:
            frame = as_jpeg_frame(frame)  # an OpenCV source's frame: the core sees what replay will
            recorder.write_frame(frame, recorder.samples_written)
        self._input_t = frame.t
        self._frames_by_index[frame.index] = frame
        if len(self._frames_by_index) > 64:
            for index in sorted(self._frames_by_index)[:-32]:
                del self._frames_by_index[index]
        for output in self.core.feed_frame(frame):
            self._output(output)

    def _output(self, output: CoreOutput) -> None:
        self.outputs.add(output)
        if self.recorder is not None:
            self.recorder.write(output)
        if self.lsl is not None and self.lsl.outlets is not None:
            self.lsl.outlets.push_output(output, self._input_t)
        self._emit(output)

    def _side_event(self, item: TrackerEvent | CameraEvent | _Control) -> None:
        """A tracker or camera event, a mark or a recording request: recorded and passed on, in order."""
        recorder = self.recorder
        outlets = self.lsl.outlets if self.lsl is not None else None
        if isinstance(item, TrackerEvent | CameraEvent):
            if isinstance(item, TrackerEvent) and item.kind in ("stall", "resume", "restart"):
                log.warning("tracker %s%s", item.kind, f": {item.raw}" if item.raw else "")
            if recorder is not None:
                recorder.write(item)
            if outlets is not None and isinstance(item, CameraEvent):
                outlets.push_event(f"camera_{item.kind}", item.text, item.t)
            elif outlets is not None and isinstance(item, TrackerEvent) and item.kind not in ("raw", "message"):
                outlets.push_event(f"tracker_{item.kind}", item.raw or str(item.get("text", "")), item.t)
            self._emit(item)
        elif isinstance(item.value, Mark):
            mark = item.value
            self._mark(mark, mark.text if mark.kind == "mark" else f"{mark.kind} {mark.text}")
        elif isinstance(item.value, tuple):
            # An LSL marker is recorded and passed on; one that starts or ends a trial is that mark too.
            marker, trial = item.value
            self._mark(marker, marker.text)
            if trial is not None:
                self._mark(Mark(marker.t, trial[1], trial[0]), f"{trial[0]} {trial[1]}")
        elif isinstance(item.value, dict):
            if recorder is not None:
                recorder.write_event(item.value)
        elif isinstance(item.value, SessionRecorder):
            self._close_recorder()
            self.recorder = item.value
            self._note_lsl(item.value)
        else:
            self._close_recorder()
            self.recorder = None
            item.value.set()

    def _count_dropped_frames(self) -> None:
        """Frames the camera's lane refused since the last look (the worker fell behind): recorded."""
        lane = self._frame_lane
        if lane is None or lane.dropped <= self._frames_dropped:
            return
        if self.recorder is not None:
            self.recorder.write_event(
                {
                    "kind": "frames_dropped",
                    "t": time.monotonic(),
                    "count": lane.dropped - self._frames_dropped,
                    "text": "the core worker fell behind the camera; these frames are in neither the recording nor the core",
                }
            )
        self._frames_dropped = lane.dropped

    def _mark(self, mark: Mark | LslMarker, message: str) -> None:
        """A mark or LSL marker: to the tracker as `message`, into the recording, to the events
        outlet (an LSL marker is on LSL already) and to subscribers."""
        try:
            assert self.tracker is not None
            self.tracker.send_message(message)
        except Exception as exc:  # a mark must never stop the run
            log.debug("send_message failed: %s", exc)
        if self.recorder is not None:
            self.recorder.write(mark)
        if self.lsl is not None and self.lsl.outlets is not None and isinstance(mark, Mark):
            self.lsl.outlets.push_event(mark.kind, mark.text, mark.t)
        self._emit(mark)

    def _close_recorder(self) -> None:
        if self.recorder is not None:
            self._note_lsl(self.recorder)
            self.recorder.close(self.summary())

    def summary(self) -> dict[str, Any]:
        """Counts of the run so far (for session.yaml and the CLI's last lines)."""
        stats = self.core.stats
        summary: dict[str, Any] = {
            "samples": stats.samples,
            "frames": stats.frames,
            "frames_skipped": self.frames_skipped,
            "fixations": self.outputs.fixations,
            "looks": self.outputs.looks,
            "samples_outside_calibrated": stats.samples_outside_calibrated,
        }
        if self.camera is not None:
            camera = self.camera.stats()
            summary["camera_reconnects"] = camera.reconnects
            summary["frames_dropped"] = self._frame_lane.dropped if self._frame_lane is not None else 0
        if self.tracker is not None:
            tracker = self.tracker.stats()
            summary["tracker_stalls"] = tracker.stalls
            summary["tracker_reconnects"] = tracker.reconnects
            summary["samples_dropped"] = tracker.dropped
        if self.recorder is not None and self.recorder.error:
            summary["recording_error"] = self.recorder.error
        return summary
