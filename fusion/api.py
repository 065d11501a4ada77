"""The public API for experiment scripts (PsychoPy, a plain script)::

    from gazefusion.fusion.api import Pipeline

    with Pipeline("experiment.yaml", camera="http://cam/stream", tracker="iviewx://10.0.0.2:4444") as p:
        p.start_recording("sessions/p01")
        p.trial_start("1")
        for look in p.looks(timeout_s=10):
            print(look.kind, look.marker_id, look.look.hit and look.look.hit.position_m)
        p.trial_end("1")
        p.stop_recording()

The pipeline runs in the background (camera reader, tracker receiver, one core worker); looks
and fixation events arrive through iterators or callbacks.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.camera import CameraSource, CameraStats
from gazefusion.fusion.config import Config, load_config, override_config
from gazefusion.fusion.core import LookEvent, OverlayState
from gazefusion.fusion.runner import PipelineEvent, Runner
from gazefusion.fusion.types import CameraEvent, FixationEvent, Frame, Mark, MovementEvent
from gazefusion.trackers.base import Tracker
from gazefusion.trackers.types import TrackerEvent

__all__ = [
    "Pipeline",
    "PipelineEvent",
    "LookEvent",
    "FixationEvent",
    "MovementEvent",
    "TrackerEvent",
    "CameraEvent",
    "Mark",
]


class Pipeline:
    """Camera + tracker -> fixations and looks, in the background.

    Parameters
    ----------
    config : Config, str, pathlib.Path or None
        A configuration, a YAML file, or None for the defaults. (default: None)
    camera : str or None
        Overrides ``camera.source`` (URL, device index, file, session folder, ``none``).
        (default: None)
    tracker : str or None
        Overrides ``tracker.spec``. (default: None)
    record : str, pathlib.Path or None
        Overrides ``record.dir``: record from the start. (default: None)
    lsl : bool or None
        Overrides ``lsl.outlets``: send gaze, fixations, looks, frames and events to Lab
        Streaming Layer. (default: None)
    lsl_markers : str or None
        Overrides ``lsl.markers``: record the markers of this LSL stream (a name, or
        ``type=Markers``) and start and end trials by them. (default: None)
    overrides : Mapping or None
        More dotted keys, e.g. ``{"aoi.size_deg": 4}``. (default: None)
    extra_session : dict or None
        More keys for a recording's session.yaml. (default: None)
    tracker_object, camera_object : Tracker, CameraSource or None
        Objects to use instead of opening the configured specs (unopened). (default: None)
    participant, condition : str or None
        Override ``record.participant`` and ``record.condition``: who is recorded and under
        which condition (session.yaml, and every row of ``gazefusion metrics``). (default: None)
    """

    def __init__(
        self,
        config: Config | str | Path | None = None,
        camera: str | None = None,
        tracker: str | None = None,
        record: str | Path | None = None,
        lsl: bool | None = None,
        lsl_markers: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        extra_session: dict[str, Any] | None = None,
        tracker_object: Tracker | None = None,
        camera_object: CameraSource | None = None,
        participant: str | None = None,
        condition: str | None = None,
    ) -> None:
        flags: dict[str, Any] = {
            "camera.source": camera,
            "tracker.spec": tracker,
            "record.dir": None if record is None else str(record),
            "lsl.outlets": lsl,
            "lsl.markers": lsl_markers,
            "record.participant": participant,
            "record.condition": condition,
            **(overrides or {}),
        }
        if isinstance(config, Config):
            self.config = override_config(config, flags, "configuration")
        else:
            self.config = load_config(config, flags)
        self.runner = Runner(self.config, extra_session=extra_session, tracker=tracker_object, camera=camera_object)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> Pipeline:
        """Open the camera and the tracker and start the worker (a GazefusionError if one fails)."""
        self.runner.start()
        return self

    def close(self) -> None:
        """Stop everything (a recording is closed complete) without raising the worker's error.

        :meth:`stop` raises it; call that afterwards (it is cheap once closed) to learn it.
        """
        self.runner.stop()

    def stop(self) -> dict[str, Any]:
        """Stop everything (a recording is closed complete); returns the run's summary.

        Raises
        ------
        Exception
            The error the worker stopped on, if any.
        """
        self.runner.stop()
        self.runner.raise_error()
        return self.runner.summary()

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.runner.stop()
        if exc[0] is None:
            self.runner.raise_error()

    @property
    def running(self) -> bool:
        """Whether the worker still runs (False once a replayed tracker ran out)."""
        return not self.runner.finished

    @property
    def finished(self) -> bool:
        """Whether the worker has ended (a replayed tracker ran out, an error, :meth:`stop`)."""
        return self.runner.finished

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the pipeline ends by itself (a replayed tracker ran out) or the timeout.

        Parameters
        ----------
        timeout_s : float or None
            Longest wait, s; None waits until it ends. (default: None)

        Returns
        -------
        bool
            True if the pipeline ended.
        """
        return self.runner.wait(timeout_s)

    # --- events ----------------------------------------------------------------------------

    def on_look(self, callback: Callable[[LookEvent], None]) -> None:
        """Call `callback(look)` for every look.

        Parameters
        ----------
        callback : callable
            Called with each `LookEvent`, on the core's worker thread: keep it short.
        """
        self.runner.subscribe(lambda event: callback(event) if isinstance(event, LookEvent) else None)

    def on_fixation(self, callback: Callable[[FixationEvent], None]) -> None:
        """Call `callback(event)` for every fixation start, update and end.

        Parameters
        ----------
        callback : callable
            Called with each `FixationEvent`, on the core's worker thread: keep it short.
        """
        self.runner.subscribe(lambda event: callback(event) if isinstance(event, FixationEvent) else None)

    def on_movement(self, callback: Callable[[MovementEvent], None]) -> None:
        """Call `callback(event)` for every saccade, PSO, pursuit and blink event (detector ``ivdt``).

        Parameters
        ----------
        callback : callable
            Called with each `MovementEvent`, on the core's worker thread: keep it short.
        """
        self.runner.subscribe(lambda event: callback(event) if isinstance(event, MovementEvent) else None)

    def on_event(self, callback: Callable[[PipelineEvent], None]) -> None:
        """Call `callback(event)` for everything: fixation events, looks, tracker and camera events, marks.

        Parameters
        ----------
        callback : callable
            Called with each event, on the core's worker thread: keep it short.
        """
        self.runner.subscribe(callback)

    def _iterate(self, kind: type | tuple[type, ...], timeout_s: float | None) -> Iterator[Any]:
        subscriber = self.runner.event_queue()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    event = subscriber.get(timeout=remaining)
                except queue.Empty:
                    return
                if event is None:
                    return
                if isinstance(event, kind):
                    yield event
        finally:
            self.runner.drop_queue(subscriber)

    def looks(self, timeout_s: float | None = None) -> Iterator[LookEvent]:
        """Looks from now on, as they happen.

        Parameters
        ----------
        timeout_s : float or None
            Stop iterating after this long, s; None: when the pipeline ends. (default: None)

        Yields
        ------
        LookEvent
            Each look (``first``, ``change``, ``end``) of each fixation.
        """
        return self._iterate(LookEvent, timeout_s)

    def fixations(self, timeout_s: float | None = None) -> Iterator[FixationEvent]:
        """Fixation events from now on, as they happen.

        Parameters
        ----------
        timeout_s : float or None
            Stop iterating after this long, s; None: when the pipeline ends. (default: None)

        Yields
        ------
        FixationEvent
            Each fixation's start, updates and end.
        """
        return self._iterate(FixationEvent, timeout_s)

    def movements(self, timeout_s: float | None = None) -> Iterator[MovementEvent]:
        """Saccade, PSO, pursuit and blink events from now on, as they happen (detector ``ivdt``).

        Parameters
        ----------
        timeout_s : float or None
            Stop iterating after this long, s; None: when the pipeline ends. (default: None)

        Yields
        ------
        MovementEvent
            Each pursuit's start, updates and end; each saccade's, PSO's and blink's end.
        """
        return self._iterate(MovementEvent, timeout_s)

    def events(self, timeout_s: float | None = None) -> Iterator[PipelineEvent]:
        """Every event from now on: fixation events, looks, tracker and camera events, marks.

        Parameters
        ----------
        timeout_s : float or None
            Stop iterating after this long, s; None: when the pipeline ends. (default: None)

        Yields
        ------
        FixationEvent, LookEvent, TrackerEvent, CameraEvent or Mark
            Each event, in the order the worker handled them.
        """
        return self._iterate(object, timeout_s)

    # --- control ------------------------------------------------------------------------------

    def mark(self, text: str) -> None:
        """Mark an event: ``mark`` in events.jsonl and a message to the tracker (iViewX ``ET_REM``).

        Parameters
        ----------
        text : str
            What happened, e.g. ``"stimulus on"``.
        """
        self.runner.mark(text)

    def trial_start(self, name: str) -> None:
        """Mark a trial's start: ``trial_start`` in events.jsonl, a message to the tracker.

        Parameters
        ----------
        name : str
            The trial's name, e.g. ``"1"``.
        """
        self.runner.mark(name, "trial_start")

    def trial_end(self, name: str) -> None:
        """Mark a trial's end: ``trial_end`` in events.jsonl, a message to the tracker.

        Parameters
        ----------
        name : str
            The trial's name, as given to `trial_start`.
        """
        self.runner.mark(name, "trial_end")

    def start_recording(self, directory: str | Path) -> None:
        """Record into a new session folder from now on.

        Parameters
        ----------
        directory : str or pathlib.Path
            The session folder to create; it must not hold a session.

        Raises
        ------
        OutputError
            A recording is already running (`stop_recording` first), or the folder cannot be
            made or holds a session.
        """
        self.runner.start_recording(directory)

    def stop_recording(self) -> None:
        """Stop recording; the session folder is complete."""
        self.runner.stop_recording()

    # --- state ----------------------------------------------------------------------------------

    @property
    def overlay_state(self) -> OverlayState:
        """Gaze, current fixation, AOI and marker as of the newest input."""
        return self.runner.overlay_state

    def latest_frame(self, newer_than: int = -1, timeout_s: float | None = None) -> Frame | None:
        """The camera's newest frame, as the window shows it.

        Parameters
        ----------
        newer_than : int
            Only a frame with a larger index is returned. (default: -1)
        timeout_s : float or None
            Longest wait for such a frame, s; None waits until one comes or the camera
            finishes, 0 does not wait. (default: None)

        Returns
        -------
        Frame or None
            The newest frame; None without a camera, or if none newer came in time.
        """
        return self.runner.latest_frame(newer_than, timeout_s)

    def frame(self, index: int) -> Frame | None:
        """A recent frame the core took, by index (None once it is out of the short history).

        Parameters
        ----------
        index : int
            The frame's index (`Frame.index`, ``frame_index`` of a look).
        """
        return self.runner.frame(index)

    @property
    def has_camera(self) -> bool:
        """Whether a camera is open (False for ``camera.source: none`` and before :meth:`start`)."""
        return self.runner.camera is not None

    @property
    def tracker(self) -> Tracker | None:
        """The open tracker (None before :meth:`start`)."""
        return self.runner.tracker

    @property
    def recording_dir(self) -> Path | None:
        """The session folder being recorded, or None."""
        if self.runner.recorder is not None:
            return self.runner.recorder.directory
        return Path(self.config.record.dir) if self.config.record.dir else None

    def intrinsics(self, size: tuple[int, int]) -> CameraIntrinsics:
        """The camera model the marker search uses at this image size (or the assumed 60-degree camera).

        Parameters
        ----------
        size : tuple[int, int]
            The image's (width, height), px.
        """
        return self.runner.core.intrinsics_for(size)

    def camera_stats(self) -> CameraStats | None:
        """What the camera has delivered so far (None without a camera)."""
        return None if self.runner.camera is None else self.runner.camera.stats()

    @property
    def lsl_streams(self) -> dict[str, str]:
        """The LSL outlets open, by kind (``gaze`` …) to stream name; {} without ``lsl.outlets``."""
        link = self.runner.lsl
        return link.outlets.names if link is not None and link.outlets is not None else {}

    def summary(self) -> dict[str, Any]:
        """Counts so far: samples, frames, fixations, looks."""
        return self.runner.summary()
