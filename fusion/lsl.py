"""Lab Streaming Layer at the edge: gazefusion's outlets, the marker inlet, the clock offset.

Outlets (``run --lsl``, ``lsl.outlets``) are opened from a list of stream definitions
(:data:`STREAMS`); each stream's XML description names its channels with their units and,
where they fit, the XDF gaze meta-data types, and says how it is stamped. Stream names are
the prefix (``lsl.name``, else ``gazefusion`` and the session folder's name) and the kind:

============== ========== ========= ===================================================
stream          type       format    channels
============== ========== ========= ===================================================
PREFIX_gaze     Gaze       double64  tracker_x, tracker_y (screen px), camera_x,
                                     camera_y (camera px), valid, pupil, tracker_t (s);
                                     the tracker's nominal rate
PREFIX_fixations Fixations double64  phase (1 start, 2 end), id, onset (s, LSL clock),
                                     duration (s), camera_x, camera_y, tracker_x,
                                     tracker_y (px), dispersion (deg), samples
PREFIX_looks    Looks      string    marker ("" for none), kind (first, change, end),
                                     fixation id
PREFIX_looks_pose Looks    double64  fixation id, x, y, z, distance (m), rx, ry, rz
                                     (rad), inliers, frame index
PREFIX_frames   VideoFrames double64 frame index, t (host monotonic s), t_source (s)
PREFIX_events   Markers    string    kind, text
============== ========== ========= ===================================================

Time stamps are ``pylsl.local_clock()`` at the arrival in gazefusion of what a sample
reports: the sample's or frame's arrival time ``t`` (host monotonic) plus the offset
``local_clock() - time.monotonic()`` measured when the outlets open (the offset is measured
again when they close; both go into session.yaml). A fixation event or a look is stamped at
the arrival of the input that made it known; within a stream stamps never go back. The
video stays in the session file (``video.mjpeg``): its frames stream is the index and times
of each frame, so an XDF recording lines up with ``frames.tsv`` to the frame.

The marker inlet (``--lsl-markers NAME``) records every marker of another program's stream
(PsychoPy, a stimulus script) and hands it on with its time on the host clock; markers
matching ``lsl.trial_start`` / ``lsl.trial_end`` become trial starts and ends.
"""

from __future__ import annotations

import logging
import math
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from gazefusion.fusion.config import LslConfig
from gazefusion.fusion.core import CoreOutput, LookEvent
from gazefusion.fusion.errors import ConfigError, GazefusionError
from gazefusion.fusion.types import FixationEvent, Frame, LslMarker, MarkKind
from gazefusion.trackers.lsl import (
    ClockOffset,
    InletEventKind,
    LslInlet,
    StreamQuery,
    import_pylsl,
    measure_clock_offset,
)
from gazefusion.trackers.types import GazeSample

log = logging.getLogger(__name__)


class ChannelDef(NamedTuple):
    """One channel of an outlet.

    Attributes
    ----------
    label : str
        Its name.
    unit : str
        Its unit ("" for none), as XDF writes them (pixels, seconds, meters, degrees …).
    kind : str
        Its type: an XDF gaze meta-data type where one fits (ScreenX, Diameter …), else a
        plain word. (default: "")
    coordinate_system : str
        The frame of a position ("" when not a position). (default: "")
    """

    label: str
    unit: str
    kind: str = ""
    coordinate_system: str = ""


class StreamDef(NamedTuple):
    """One outlet: what it carries and how.

    Attributes
    ----------
    key : str
        Its kind, the end of its name (``gaze``, ``looks_pose`` …).
    content_type : str
        The LSL stream type (XDF content types where one fits: Gaze, Markers).
    channel_format : {"double64", "string"}
        The channel format.
    regular : bool
        Sent at the tracker's nominal rate (else irregular).
    channels : tuple of ChannelDef
        The channels.
    about : str
        One sentence for the description.
    can_drop_samples : bool
        LSL's synchronization hint: True for video frames (a camera drops frames).
        (default: False)
    """

    key: str
    content_type: str
    channel_format: str
    regular: bool
    channels: tuple[ChannelDef, ...]
    about: str
    can_drop_samples: bool = False


def _px(label: str, kind: str, system: str) -> ChannelDef:
    return ChannelDef(label, "pixels", kind, system)


STREAMS: dict[str, tuple[StreamDef, ...]] = {
    "gaze": (
        StreamDef(
            "gaze",
            "Gaze",
            "double64",
            True,
            (
                _px("tracker_x", "ScreenX", "screen"),
                _px("tracker_y", "ScreenY", "screen"),
                _px("camera_x", "IntersectionX", "camera"),
                _px("camera_y", "IntersectionY", "camera"),
                ChannelDef("valid", "", "Validity"),
                ChannelDef("pupil", "tracker units", "Diameter"),
                ChannelDef("tracker_t", "seconds", "TrackerTime"),
            ),
            "every gaze sample fed to the fusion core, as in gaze.tsv; camera px through the tracker-to-camera "
            "mapping (nan before the camera size is known)",
        ),
    ),
    "fixations": (
        StreamDef(
            "fixations",
            "Fixations",
            "double64",
            False,
            (
                ChannelDef("phase", "", "Phase"),
                ChannelDef("id", "", "FixationId"),
                ChannelDef("onset", "seconds", "Onset"),
                ChannelDef("duration", "seconds", "Duration"),
                _px("camera_x", "IntersectionX", "camera"),
                _px("camera_y", "IntersectionY", "camera"),
                _px("tracker_x", "ScreenX", "screen"),
                _px("tracker_y", "ScreenY", "screen"),
                ChannelDef("dispersion", "degrees", "Dispersion"),
                ChannelDef("samples", "", "SampleCount"),
            ),
            "fixation starts (phase 1) and ends (phase 2), as in fixations.tsv; onset on the LSL clock",
        ),
    ),
    "looks": (
        StreamDef(
            "looks",
            "Looks",
            "string",
            False,
            (ChannelDef("marker", ""), ChannelDef("kind", ""), ChannelDef("fixation_id", "")),
            "each look (first, change, end) with the marker looked at ('' for none), as in looks.tsv",
        ),
        StreamDef(
            "looks_pose",
            "Looks",
            "double64",
            False,
            (
                ChannelDef("fixation_id", "", "FixationId"),
                ChannelDef("x", "meters", "PositionX", "camera"),
                ChannelDef("y", "meters", "PositionY", "camera"),
                ChannelDef("z", "meters", "PositionZ", "camera"),
                ChannelDef("distance", "meters", "Distance", "camera"),
                ChannelDef("rx", "radians", "RotationX", "camera"),
                ChannelDef("ry", "radians", "RotationY", "camera"),
                ChannelDef("rz", "radians", "RotationZ", "camera"),
                ChannelDef("inliers", "", "Inliers"),
                ChannelDef("frame_index", "", "FrameNumber"),
            ),
            "the pose of the marker of each look (nan for a look at nothing), stamped as its string sample",
        ),
    ),
    "frames": (
        StreamDef(
            "frames",
            "VideoFrames",
            "double64",
            False,
            (
                ChannelDef("index", "", "FrameNumber"),
                ChannelDef("t", "seconds", "HostMonotonicTime"),
                ChannelDef("t_source", "seconds", "SourceTime"),
            ),
            "each camera frame recorded: its index in video.mjpeg and frames.tsv and its times; the video "
            "stays in the session file",
            can_drop_samples=True,
        ),
    ),
    "events": (
        StreamDef(
            "events",
            "Markers",
            "string",
            False,
            (ChannelDef("kind", ""), ChannelDef("text", "")),
            "marks, trial starts and ends, tracker and camera events, as in events.jsonl",
        ),
    ),
}
"""The outlets of each ``lsl.streams`` kind."""

_PHASES = {"start": 1.0, "end": 2.0}
_DRAIN_S = 0.5


def outlet_prefix(config: LslConfig, session_name: str | None) -> str:
    """The stream name prefix: ``lsl.name``, else ``gazefusion`` and the session folder's name."""
    if config.name:
        return config.name
    return f"gazefusion_{session_name}" if session_name else "gazefusion"


class LslOutlets:
    """gazefusion's streams on the lab network.

    Samples are buffered and sent by :meth:`flush` as one chunk per stream, each sample with
    its own stamp, at most every ``chunk_s``: a send costs a system call and a wake-up of
    liblsl's sender, far more than a 7-channel sample (LSL's FAQ advises 5-30 ms chunks for
    small samples at high rates). Not thread-safe: one thread (the core worker) pushes.

    Parameters
    ----------
    prefix : str
        Stream names are ``PREFIX_KEY``.
    streams : sequence of StreamDef
        What to open.
    rate_hz : float
        The gaze stream's nominal rate (the tracker's; 0 for irregular). (default: 0.0)
    about : dict or None
        More fields for every stream's ``<gazefusion>`` description (software version,
        session, screen). (default: None)
    offset : ClockOffset or None
        The LSL-to-monotonic offset the stamps use; None measures it now. (default: None)
    to_camera : callable or None
        (N, 2) tracker px to (N, 2) camera px, for the gaze stream's camera channels (nan
        while no mapping is known); None: nan. (default: None)
    chunk_s : float
        Send what is buffered at most this often, s: the latency the outlets add. (default: 0.03)
    """

    def __init__(
        self,
        prefix: str,
        streams: Sequence[StreamDef],
        rate_hz: float = 0.0,
        about: dict[str, Any] | None = None,
        offset: ClockOffset | None = None,
        to_camera: Callable[[np.ndarray], np.ndarray] | None = None,
        chunk_s: float = 0.03,
    ) -> None:
        self.pylsl = import_pylsl()
        self.chunk_s = chunk_s
        self._next_flush = -math.inf
        self.prefix = prefix
        self.definitions = {definition.key: definition for definition in streams}
        self.offset = offset or measure_clock_offset()
        self.pushed = dict.fromkeys(self.definitions, 0)
        self._offset = self.offset.offset_s
        self._last = dict.fromkeys(self.definitions, -math.inf)
        self._rows: dict[str, list[Any]] = {key: [] for key in self.definitions}
        self._stamps: dict[str, list[float]] = {key: [] for key in self.definitions}
        self._to_camera = to_camera
        self._outlets: dict[str, Any] = {}
        host = socket.gethostname()
        for key, definition in self.definitions.items():
            info = self.pylsl.StreamInfo(
                f"{prefix}_{key}",
                definition.content_type,
                len(definition.channels),
                rate_hz if definition.regular and rate_hz > 0 else self.pylsl.IRREGULAR_RATE,
                definition.channel_format,
                f"gazefusion:{host}:{prefix}_{key}",
            )
            self._describe(info.desc(), definition, about or {})
            self._outlets[key] = self.pylsl.StreamOutlet(info)

    @property
    def names(self) -> dict[str, str]:
        """Stream key to stream name."""
        return {key: f"{self.prefix}_{key}" for key in self.definitions}

    def _describe(self, desc: Any, definition: StreamDef, about: dict[str, Any]) -> None:
        channels = desc.append_child("channels")
        for channel in definition.channels:
            node = channels.append_child("channel")
            node.append_child_value("label", channel.label)
            if definition.content_type == "Gaze":
                node.append_child_value("eye", "both")
            if channel.kind:
                node.append_child_value("type", channel.kind)
            if channel.unit:
                node.append_child_value("unit", channel.unit)
            if channel.coordinate_system:
                node.append_child_value("coordinate_system", channel.coordinate_system)
        acquisition = desc.append_child("acquisition")
        acquisition.append_child_value("manufacturer", "gazefusion")
        acquisition.append_child_value("model", "gazefusion")
        sync = desc.append_child("synchronization")
        sync.append_child_value("offset_mean", "0")
        sync.append_child_value("can_drop_samples", "true" if definition.can_drop_samples else "false")
        own = desc.append_child("gazefusion")
        own.append_child_value("about", definition.about)
        own.append_child_value(
            "time_stamps",
            "pylsl.local_clock() at arrival in gazefusion: the host monotonic arrival time plus monotonic_offset_s",
        )
        own.append_child_value("monotonic_offset_s", repr(self.offset.offset_s))
        for key, value in about.items():
            own.append_child_value(key, str(value))

    def _push(self, key: str, values: Sequence[Any], t: float) -> None:
        rows = self._rows.get(key)
        if rows is None:
            return
        stamp = max(t + self._offset, self._last[key])
        self._last[key] = stamp
        rows.append(values)
        self._stamps[key].append(stamp)

    def push_gaze(self, sample: GazeSample) -> None:
        """One gaze sample, stamped at its time (``sample.t``); its camera px are filled at :meth:`flush`.

        Parameters
        ----------
        sample : GazeSample
            The sample as fed to the core.
        """
        rows = self._rows.get("gaze")
        if rows is None:
            return
        stamp = sample.t + self._offset
        if stamp < self._last["gaze"]:
            stamp = self._last["gaze"]
        self._last["gaze"] = stamp
        rows.append(
            (sample.x, sample.y, math.nan, math.nan, 1.0 if sample.valid else 0.0, sample.pupil, sample.tracker_t)
        )
        self._stamps["gaze"].append(stamp)

    def flush(self, force: bool = True) -> None:
        """Send what was pushed since the last flush: one chunk per stream, each sample with its stamp.

        Parameters
        ----------
        force : bool
            Send now; False sends only if ``chunk_s`` has passed since the last send.
            (default: True)
        """
        now = time.monotonic()
        if not force and now < self._next_flush:
            return
        self._next_flush = now + self.chunk_s
        for key, rows in self._rows.items():
            if not rows:
                continue
            stamps = self._stamps[key]
            outlet = self._outlets.get(key)
            if outlet is not None:
                if self.definitions[key].channel_format == "string":
                    outlet.push_chunk(rows, stamps)
                else:
                    values = np.array(rows, dtype=np.float64)
                    if key == "gaze" and self._to_camera is not None:
                        values[:, 2:4] = self._to_camera(values[:, 0:2])
                    outlet.push_chunk(values, stamps)
                self.pushed[key] += len(rows)
            self._rows[key] = []
            self._stamps[key] = []

    def push_frame(self, frame: Frame) -> None:
        """One camera frame's index and times, stamped at its arrival (``frame.t``).

        Parameters
        ----------
        frame : Frame
            The frame (its image is not sent).
        """
        self._push("frames", [float(frame.index), frame.t, frame.t_source], frame.t)

    def push_output(self, output: CoreOutput, t: float) -> None:
        """A fixation start or end, or a look (other outputs are not sent).

        Parameters
        ----------
        output : CoreOutput
            What the core made.
        t : float
            The time of the input that made it known, host monotonic s: its stamp.
        """
        if isinstance(output, LookEvent):
            look = output.look
            hit = look.hit
            self._push("looks", [hit.marker_id if hit else "", output.kind, str(look.fixation.id)], t)
            if hit is None:
                pose = [math.nan] * 8
            else:
                position = np.asarray(hit.position_m, dtype=float).ravel()[:3]
                rotation = np.asarray(hit.rotation, dtype=float).ravel()[:3]
                pose = [*map(float, position), float(hit.distance_m), *map(float, rotation), float(hit.inliers)]
            self._push("looks_pose", [float(look.fixation.id), *pose, float(look.frame_index)], t)
        elif isinstance(output, FixationEvent) and output.kind in _PHASES:
            f = output.fixation
            values = [_PHASES[output.kind], float(f.id), f.onset + self._offset, f.duration, f.cam_x, f.cam_y]
            self._push("fixations", [*values, f.x, f.y, f.dispersion_deg, float(f.n_samples)], t)

    def push_event(self, kind: str, text: str, t: float) -> None:
        """A mark, trial start or end, tracker or camera event.

        Parameters
        ----------
        kind : str
            Its kind, as events.jsonl names it (``mark``, ``trial_start``, ``camera_outage`` …).
        text : str
            Its text ("" for none).
        t : float
            When it happened, host monotonic s: its stamp.
        """
        self._push("events", [kind, text], t)

    def wait_for_consumers(self, timeout_s: float) -> list[str]:
        """Wait for every outlet to have a consumer; the names of those without one.

        Parameters
        ----------
        timeout_s : float
            Longest wait, s.
        """
        deadline = time.monotonic() + timeout_s
        for outlet in self._outlets.values():
            outlet.wait_for_consumers(max(0.0, deadline - time.monotonic()))
        return [f"{self.prefix}_{key}" for key, outlet in self._outlets.items() if not outlet.have_consumers()]

    def close(self) -> None:
        """Send what is buffered and close every outlet (safe to call more than once).

        Samples just pushed may still be on their way to a consumer; an outlet destroyed at
        once drops them, so outlets with consumers get a moment first.
        """
        self.flush()
        outlets, self._outlets = self._outlets, {}
        if any(outlet.have_consumers() for outlet in outlets.values()):
            time.sleep(_DRAIN_S)
        outlets.clear()  # pylsl closes an outlet when its last reference goes


class TrialPatterns:
    """Marker texts that start and end trials.

    Parameters
    ----------
    start, end : str
        Regular expressions; a ``name`` group (when present and not empty) is the trial's
        name, else the whole text is.
    """

    def __init__(self, start: str, end: str) -> None:
        self._patterns: tuple[tuple[MarkKind, re.Pattern[str]], ...] = (
            ("trial_start", re.compile(start)),
            ("trial_end", re.compile(end)),
        )

    def match(self, text: str) -> tuple[MarkKind, str] | None:
        """``(kind, trial name)`` for a marker that starts or ends a trial, else None.

        Parameters
        ----------
        text : str
            The marker's text.
        """
        for kind, pattern in self._patterns:
            found = pattern.search(text)
            if found is not None:
                name = found.groupdict().get("name")
                return kind, (name.strip() if name and name.strip() else text)
        return None


class MarkerInlet:
    """Receives string (or numeric) markers from another program's LSL stream, in a thread.

    Parameters
    ----------
    query : StreamQuery
        The marker stream (``--lsl-markers NAME`` or ``type=Markers``).
    on_marker : callable
        ``on_marker(marker)`` for each one, from the receiving thread.
    on_event : callable or None
        ``on_event(kind, text)`` when the stream is lost, found again, or not usable.
        (default: None)
    resolve_timeout_s : float
        How long to look for the stream at start, s. (default: 5.0)
    offset : ClockOffset or None
        The LSL-to-monotonic offset for the markers' host times; None measures it at
        :meth:`start`. (default: None)
    """

    def __init__(
        self,
        query: StreamQuery,
        on_marker: Callable[[LslMarker], None],
        on_event: Callable[[str, str], None] | None = None,
        resolve_timeout_s: float = 5.0,
        offset: ClockOffset | None = None,
    ) -> None:
        self.on_marker = on_marker
        self.on_event = on_event
        self.received = 0
        self.inlet = LslInlet(
            query, "marker stream", resolve_timeout_s, self._prepare, self._inlet_event, error=GazefusionError
        )
        self._offset = offset.offset_s if offset is not None else math.nan
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _prepare(self, info: Any) -> None:
        """Any stream can carry markers; say which one it is."""
        log.info("LSL markers from %r (%s, %d channels)", info.name(), info.type(), info.channel_count())

    def _inlet_event(self, kind: InletEventKind, data: tuple[tuple[str, object], ...]) -> None:
        if self.on_event is not None:
            fields = dict(data)
            self.on_event(f"lsl_markers_{kind}", str(fields.get("text", fields.get("stream", ""))))

    def start(self) -> MarkerInlet:
        """Find the stream and start receiving.

        Raises
        ------
        GazefusionError
            No such stream within the timeout (the message lists the streams seen).
        """
        self.inlet.open()
        if math.isnan(self._offset):
            self._offset = measure_clock_offset().offset_s
        self._thread = threading.Thread(target=self._receive, name="gazefusion-lsl-markers", daemon=True)
        self._thread.start()
        return self

    @property
    def stream_name(self) -> str:
        """The marker stream's name."""
        return self.inlet.info.name() if self.inlet.info is not None else ""

    def _receive(self) -> None:
        while not self._stop.is_set():
            rows, stamps = self.inlet.pull(0.1)
            for row, stamp in zip(rows, stamps):
                text = "\t".join(_marker_text(value) for value in row)
                self.received += 1
                try:
                    self.on_marker(LslMarker(stamp - self._offset, stamp, text, self.stream_name))
                except Exception:
                    log.exception("handling an LSL marker failed (the inlet goes on)")

    def stop(self) -> None:
        """Stop receiving and close the inlet."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.inlet.close()


def _marker_text(value: Any) -> str:
    """A marker channel as text: strings as sent, whole numbers without a decimal point."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class LslLink:
    """The LSL parts of a run: the outlets, the marker inlet, the clock offsets for session.yaml.

    Parameters
    ----------
    config : LslConfig
        ``outlets``, ``name``, ``streams``, ``markers``, the trial patterns.
    session_name : str or None
        The recording folder's name (the default stream name prefix).
    rate_hz : float
        The tracker's nominal rate (0: irregular).
    about : dict
        Fields for the streams' descriptions.
    on_marker : callable
        ``on_marker(marker, trial)`` for each received marker, from the inlet's thread;
        `trial` is ``(kind, name)`` when it starts or ends a trial, else None.
    on_event : callable
        ``on_event(kind, text)`` when the marker stream is lost, found again, not usable.
    to_camera : callable or None
        (N, 2) tracker px to camera px, for the gaze stream (see :class:`LslOutlets`).
        (default: None)

    Raises
    ------
    ConfigError
        ``lsl.markers`` is not a stream query.
    """

    def __init__(
        self,
        config: LslConfig,
        session_name: str | None,
        rate_hz: float,
        about: dict[str, Any],
        on_marker: Callable[[LslMarker, tuple[MarkKind, str] | None], None],
        on_event: Callable[[str, str], None],
        to_camera: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.config = config
        self.start_offset = measure_clock_offset()
        self.end_offset: ClockOffset | None = None
        self.trials = TrialPatterns(config.trial_start, config.trial_end)
        self._on_marker = on_marker
        self.markers: MarkerInlet | None = None
        if config.markers:
            try:
                query = StreamQuery.parse(config.markers)
            except ValueError as exc:
                raise ConfigError(f"lsl.markers (--lsl-markers) {config.markers!r}: {exc}") from None
            self.markers = MarkerInlet(query, self._marker, on_event, config.resolve_timeout_s, self.start_offset)
        self.outlets: LslOutlets | None = None
        if config.outlets:
            streams = [definition for kind in dict.fromkeys(config.streams) for definition in STREAMS[kind]]
            prefix = outlet_prefix(config, session_name)
            self.outlets = LslOutlets(prefix, streams, rate_hz, about, self.start_offset, to_camera)

    def _marker(self, marker: LslMarker) -> None:
        self._on_marker(marker, self.trials.match(marker.text))

    def start(self) -> LslLink:
        """Start receiving markers, and wait ``lsl.wait_for_consumers_s`` for the outlets' consumers.

        Raises
        ------
        GazefusionError
            The marker stream is not found within ``lsl.resolve_timeout_s``.
        """
        if self.markers is not None:
            self.markers.start()
        if self.outlets is not None:
            log.info("LSL streams: %s", ", ".join(self.outlets.names.values()))
        if self.outlets is not None and self.config.wait_for_consumers_s > 0:
            alone = self.outlets.wait_for_consumers(self.config.wait_for_consumers_s)
            if alone:
                log.warning(
                    "no consumer after %g s for LSL %s: starting anyway",
                    self.config.wait_for_consumers_s,
                    ", ".join(alone),
                )
        return self

    def close(self) -> None:
        """Stop the marker inlet, close the outlets, measure the clock offset again (idempotent)."""
        if self.markers is not None:
            self.markers.stop()
        if self.outlets is not None:
            self.outlets.close()
        if self.end_offset is None:
            self.end_offset = measure_clock_offset()

    def header(self) -> dict[str, Any]:
        """What session.yaml records: the clock offset at start (and end), the streams, the markers."""
        record: dict[str, Any] = {
            "clock_offset_start_s": self.start_offset.offset_s,
            "clock_offset_uncertainty_s": self.start_offset.uncertainty_s,
            "clock": "lsl_time = monotonic time + clock offset (pylsl.local_clock() - time.monotonic())",
        }
        if self.end_offset is not None:
            record["clock_offset_end_s"] = self.end_offset.offset_s
            record["clock_offset_drift_s"] = self.end_offset.offset_s - self.start_offset.offset_s
        if self.outlets is not None:
            record["outlets"] = self.outlets.names
            record["samples_pushed"] = dict(self.outlets.pushed)
        if self.markers is not None:
            record["markers"] = {"stream": self.markers.stream_name, "received": self.markers.received}
        return record


def offset_stability(offsets: Sequence[ClockOffset]) -> dict[str, float]:
    """Spread of repeated offset measurements: range, standard deviation, drift per hour, s.

    Parameters
    ----------
    offsets : sequence of ClockOffset
        At least two measurements, in time order.
    """
    values = [o.offset_s for o in offsets]
    span_s = offsets[-1].monotonic_s - offsets[0].monotonic_s
    slope = np.polyfit([o.monotonic_s for o in offsets], values, 1)[0] if span_s > 0 else 0.0
    return {
        "range_s": max(values) - min(values),
        "stdev_s": statistics.pstdev(values),
        "drift_s_per_hour": float(slope) * 3600.0,
        "max_uncertainty_s": max(o.uncertainty_s for o in offsets),
    }
