"""The ``lsl:`` tracker: gaze from any eye tracker that streams to Lab Streaming Layer.

``lsl:NAME`` (or ``lsl:type=Gaze``, ``lsl:source_id=ID``) resolves the stream on the lab
network, reads its channel labels, types, eyes and units from the stream's XML description
(the XDF gaze meta-data conventions), and maps each sample to a
:class:`~gazefusion.trackers.types.GazeSample`:

- the layouts of common producers are known (:data:`PRODUCERS`): the Tobii Pro LSL app,
  Pupil Capture's LSL relay, gazefusion's own gaze outlet, and any stream that follows the
  XDF gaze meta-data (``ScreenX``/``ScreenY`` per eye, ``Diameter``, ``Confidence``);
- ``tracker.lsl.channels`` names the channels of any other stream (a label or a 0-based
  index per role), ``tracker.lsl.unit`` and ``origin`` say how to read them.

Gaze in normalised coordinates becomes screen px with ``screen.size_px``. ``tracker_t`` is
the sample's LSL time stamp plus the inlet's clock correction (``time_correction()``): its
time on this host's LSL clock. ``t`` is that time on the host monotonic clock (LSL's stamps
are taken where the samples are made, so this is when the sample was made, not when a chunk
of samples reached gazefusion); a stream whose stamps are not on the LSL clock gets arrival
times instead (an ``error`` event says so).

Faults are handled as the iViewX client handles them: a stream that disappears is looked
for again under the same query until it comes back (``lost`` and ``reconnect`` events,
``stats().reconnects``; the samples missed are counted as gaps from the time stamps and the
nominal rate), a silent stream is a stall. A stream that cannot be gaze (strings, too few
channels, channels that do not match their description) is one clear error at open; one
that comes back in another shape is not used (an ``error`` event) and looked for again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Literal, NamedTuple

from gazefusion.fusion.config import ScreenConfig, TrackerConfig
from gazefusion.fusion.errors import GazefusionError, TrackerError
from gazefusion.trackers.base import Tracker
from gazefusion.trackers.spec import TRACKER_KINDS, bad_spec, positive_number, spec_options
from gazefusion.trackers.types import EyeGaze, GazeSample, TrackerEvent

log = logging.getLogger(__name__)

InletEventKind = Literal["lost", "reconnect", "error"]
"""What an :class:`LslInlet` reports: its stream lost, found again, or found unusable."""

QUERY_PROPERTIES = ("name", "type", "source_id")
"""Stream properties a spec or a marker option may resolve by (``PROP=VALUE``; a bare value is a name)."""

_CORRECTION_EVERY_S = 2.0
_PULL_TIMEOUT_S = 0.05
_CHUNK_SAMPLES = 1024
# A sample's stamp on the LSL clock lies before its arrival, by the producer's latency; a
# stamp later than the arrival (beyond clock-correction noise) or this much earlier is not.
# The clock correction follows LSL's estimates at most this fast (s per s): a real drift
# between two machines' clocks is tens of ppm, while one estimate differs from the next by
# up to hundreds of µs under load, which applied at once would jolt the sample times. A
# difference beyond _CORRECTION_JUMP_S (a clock reset) is taken at once.
_CORRECTION_SLEW = 1e-4
_CORRECTION_JUMP_S = 0.01
_STAMP_WINDOW_S = 5.0
_STAMP_SLACK_S = 0.002


try:  # optional (gazefusion[lsl]): only the LSL parts need it, and they say so when it is missing
    import pylsl as _pylsl
except (ImportError, OSError, RuntimeError) as _exc:  # not installed, or its liblsl does not load
    _pylsl = None
    _PYLSL_PROBLEM = str(_exc)


def import_pylsl() -> ModuleType:
    """pylsl, or one clear error saying how to install it.

    Raises
    ------
    TrackerError
        pylsl (and the liblsl it carries) is not installed or does not load.
    """
    if _pylsl is None:
        raise TrackerError(
            f"Lab Streaming Layer needs pylsl, which does not load here ({_PYLSL_PROBLEM}): "
            "pip install 'gazefusion[lsl]'"
        )
    module: ModuleType = _pylsl
    return module


class ClockOffset(NamedTuple):
    """``pylsl.local_clock() - time.monotonic()`` at one moment.

    Attributes
    ----------
    offset_s : float
        The offset, s: a host monotonic time plus it is the same moment on the LSL clock.
    uncertainty_s : float
        Half the time the two reads took in the best of the tries, s.
    monotonic_s : float
        When it was measured, host monotonic s.
    """

    offset_s: float
    uncertainty_s: float
    monotonic_s: float


def measure_clock_offset(tries: int = 50) -> ClockOffset:
    """The offset of the LSL clock to the host's monotonic clock, from the tightest of `tries`
    bracketed reads (monotonic, local_clock, monotonic).

    Parameters
    ----------
    tries : int
        Reads to take the tightest of. (default: 50)
    """
    pylsl = import_pylsl()
    local_clock, monotonic = pylsl.local_clock, time.monotonic
    best = (math.inf, 0.0, 0.0)
    for _ in range(tries):
        before = monotonic()
        lsl = local_clock()
        after = monotonic()
        if after - before < best[0]:
            best = (after - before, lsl - (before + after) / 2.0, (before + after) / 2.0)
    return ClockOffset(best[1], best[0] / 2.0, best[2])


class StreamQuery(NamedTuple):
    """What to resolve a stream by: one property and its value.

    Attributes
    ----------
    prop : {"name", "type", "source_id"}
        The stream property.
    value : str
        Its value.
    """

    prop: str
    value: str

    @classmethod
    def parse(cls, text: str) -> StreamQuery:
        """``NAME`` or ``PROP=VALUE`` (PROP one of :data:`QUERY_PROPERTIES`).

        Parameters
        ----------
        text : str
            The query as the spec or option gives it.

        Raises
        ------
        ValueError
            Empty text, an unknown property or an empty value (the message says which).
        """
        text = text.strip()
        prop, sep, value = text.partition("=")
        if not sep:
            prop, value = "name", text
        prop, value = prop.strip(), value.strip()
        if prop not in QUERY_PROPERTIES:
            raise ValueError(f"unknown stream property {prop!r} (known: {', '.join(QUERY_PROPERTIES)})")
        if not value:
            raise ValueError("no stream name or property value")
        return cls(prop, value)

    def __str__(self) -> str:
        return f"{self.prop} {self.value!r}"

    def matches(self, info: Any) -> bool:
        """Whether a stream has this property value.

        Parameters
        ----------
        info : pylsl.StreamInfo
            The stream.
        """
        return bool(getattr(info, self.prop)() == self.value)


def _describe_stream(info: Any) -> str:
    return f"{info.name()!r} ({info.type() or 'no type'}, on {info.hostname() or '?'})"


def resolve_stream(
    query: StreamQuery,
    timeout_s: float,
    wanted: str,
    pylsl: ModuleType | None = None,
    error: type[GazefusionError] = TrackerError,
) -> Any:
    """The newest stream matching `query` on the lab network, as a ``pylsl.StreamInfo``.

    When several match, the most recently created one is taken and a warning names them
    (LSL's advice for ambiguous queries).

    Parameters
    ----------
    query : StreamQuery
        What to look for.
    timeout_s : float
        How long to look, s.
    wanted : str
        What the stream is for, for the error ("gaze stream", "marker stream").
    pylsl : module or None
        pylsl, if already imported. (default: None)
    error : type of GazefusionError
        What to raise when none is found. (default: TrackerError)

    Raises
    ------
    GazefusionError
        (`error`) No stream matched within `timeout_s`; the message lists the streams seen.
    """
    pylsl = pylsl or import_pylsl()
    found = pylsl.resolve_byprop(query.prop, query.value, minimum=1, timeout=timeout_s)
    if not found:
        seen = pylsl.resolve_streams(wait_time=min(1.0, timeout_s))
        found = [info for info in seen if query.matches(info)]  # came up just after the search
    if not found:
        listed = ", ".join(sorted(_describe_stream(info) for info in seen)) or "none"
        raise error(
            f"no LSL {wanted} with {query} found within {timeout_s:g} s (streams seen: {listed}): "
            "check that its producer runs and streams on this network, or name another stream"
        )
    found.sort(key=lambda info: info.created_at())
    if len(found) > 1:
        log.warning(
            "%d LSL streams match %s (%s): using the newest; make the query more specific (lsl:source_id=…) to choose",
            len(found),
            query,
            ", ".join(_describe_stream(info) for info in found),
        )
    return found[-1]


class Channel(NamedTuple):
    """One channel as a stream's ``<channels>`` description gives it (lower-case; "" where absent).

    Attributes
    ----------
    label, eye, kind, unit : str
        ``<label>``, ``<eye>`` (left, right, both), ``<type>`` (or ``<metatype>``), ``<unit>``.
    """

    label: str
    eye: str
    kind: str
    unit: str


def read_channels(info: Any) -> list[Channel]:
    """The ``<channels>`` of a full stream description (``inlet.info()``); [] when it has none."""
    channels: list[Channel] = []
    node = info.desc().child("channels").child("channel")
    while not node.empty():

        def value(name: str, element: Any = node) -> str:
            return str(element.child_value(name)).strip().lower()

        channels.append(Channel(value("label"), value("eye"), value("type") or value("metatype"), value("unit")))
        node = node.next_sibling("channel")
    return channels


NORMALISED_UNITS = frozenset({"normalized", "normalised", "norm", "screencoords", "fraction", "ratio"})
PIXEL_UNITS = frozenset({"pixels", "pixel", "px", "screen px"})


_ROLES = (
    "x",
    "y",
    "left_x",
    "left_y",
    "right_x",
    "right_y",
    "pupil",
    "left_pupil",
    "right_pupil",
    "valid",
    "confidence",
)


class GazeLayout(NamedTuple):
    """Where the parts of a gaze sample are in a stream's channels (0-based indices, None: absent).

    Attributes
    ----------
    producer : str
        Which mapping found it (a :data:`PRODUCERS` key, or ``"configuration"``).
    x, y : int or None
        Gaze of both eyes (or of the only eye).
    left_x, left_y, right_x, right_y : int or None
        Per-eye gaze.
    pupil, left_pupil, right_pupil : int or None
        Pupil diameters (the producer's unit, mm for the known producers).
    valid : int or None
        A channel that is non-zero for valid samples.
    confidence : int or None
        A 0-1 confidence; below ``confidence_min`` a sample is not valid.
    unit : {"px", "normalized"}
        Gaze in screen px, or normalised to the screen (0-1).
    origin : {"top-left", "bottom-left"}
        Where normalised (0, 0) is.
    """

    producer: str
    x: int | None = None
    y: int | None = None
    left_x: int | None = None
    left_y: int | None = None
    right_x: int | None = None
    right_y: int | None = None
    pupil: int | None = None
    left_pupil: int | None = None
    right_pupil: int | None = None
    valid: int | None = None
    confidence: int | None = None
    unit: str = "px"
    origin: str = "top-left"

    @classmethod
    def of(cls, producer: str, roles: dict[str, int], unit: str = "px", origin: str = "top-left") -> GazeLayout:
        """A layout from its roles' channel indices (a role not given is absent).

        Parameters
        ----------
        producer : str
            Which mapping found it.
        roles : dict
            Role (``x``, ``left_pupil`` …) to channel index.
        unit : {"px", "normalized"}
            The gaze unit. (default: "px")
        origin : {"top-left", "bottom-left"}
            Where normalised (0, 0) is. (default: "top-left")
        """
        get = roles.get
        return cls(
            producer,
            get("x"),
            get("y"),
            get("left_x"),
            get("left_y"),
            get("right_x"),
            get("right_y"),
            get("pupil"),
            get("left_pupil"),
            get("right_pupil"),
            get("valid"),
            get("confidence"),
            unit,
            origin,
        )

    @property
    def has_gaze(self) -> bool:
        """Whether a gaze position can be read: both-eye x and y, or one eye's."""
        return (
            (self.x is not None and self.y is not None)
            or (self.left_x is not None and self.left_y is not None)
            or (self.right_x is not None and self.right_y is not None)
        )


def _by_label(channels: Sequence[Channel], **roles: str) -> dict[str, int] | None:
    """Roles found by exact labels; None unless every label is there."""
    index = {channel.label: i for i, channel in enumerate(channels)}
    if not all(label in index for label in roles.values()):
        return None
    return {role: index[label] for role, label in roles.items()}


def _tobii_pro(channels: Sequence[Channel]) -> GazeLayout | None:
    """The Tobii Pro LSL app (labstreaminglayer/App-TobiiPro): six float channels
    ``left_x, left_y, left_pupil, right_x, right_y, right_pupil``; gaze on the active display
    area, normalised, origin top-left (unit ``screencoords``); NaN where an eye is invalid;
    pupil diameter in mm."""
    roles = _by_label(
        channels,
        left_x="left_x",
        left_y="left_y",
        left_pupil="left_pupil",
        right_x="right_x",
        right_y="right_y",
        right_pupil="right_pupil",
    )
    if roles is None or channels[roles["left_x"]].unit not in NORMALISED_UNITS:
        return None
    return GazeLayout.of("tobii-pro", roles, "normalized", "top-left")


def _pupil_capture(channels: Sequence[Channel]) -> GazeLayout | None:
    """Pupil Capture's LSL relay (labstreaminglayer/App-PupilLabs, stream ``pupil_capture``):
    ``confidence``, ``norm_pos_x``, ``norm_pos_y`` (gaze in the scene camera, normalised,
    origin bottom-left), …, ``diameter0_3d`` (right eye) and ``diameter1_3d`` (left eye), mm."""
    roles = _by_label(channels, confidence="confidence", x="norm_pos_x", y="norm_pos_y")
    if roles is None:
        return None
    eyes = _by_label(channels, right_pupil="diameter0_3d", left_pupil="diameter1_3d") or {}
    return GazeLayout.of("pupil-capture", {**roles, **eyes}, "normalized", "bottom-left")


def _gazefusion(channels: Sequence[Channel]) -> GazeLayout | None:
    """gazefusion's own gaze outlet (``run --lsl``): ``tracker_x, tracker_y`` (screen px),
    ``valid``, ``pupil``."""
    roles = _by_label(channels, x="tracker_x", y="tracker_y", valid="valid")
    if roles is None:
        return None
    pupil = _by_label(channels, pupil="pupil") or {}
    return GazeLayout.of("gazefusion", {**roles, **pupil})


_XDF_ROLES = {
    ("screenx", "both"): "x",
    ("screeny", "both"): "y",
    ("screenx", "left"): "left_x",
    ("screeny", "left"): "left_y",
    ("screenx", "right"): "right_x",
    ("screeny", "right"): "right_y",
    ("diameter", "both"): "pupil",
    ("diameter", "left"): "left_pupil",
    ("diameter", "right"): "right_pupil",
    ("confidence", "both"): "confidence",
}


def _xdf(channels: Sequence[Channel]) -> GazeLayout | None:
    """Any stream described by the XDF gaze meta-data (sccn/xdf wiki, Gaze Meta Data):
    channel ``<type>`` ``ScreenX``/``ScreenY`` per ``<eye>`` (left, right, both; none is
    both), ``Diameter``, ``Confidence``; ``<unit>`` pixels or normalized. Pupil Labs' Neon
    and Invisible relay (pupil-labs/lsl-relay: ``x``, ``y`` in scene-camera pixels) is one."""
    roles: dict[str, int] = {}
    for index, channel in enumerate(channels):
        role = _XDF_ROLES.get((channel.kind, channel.eye or "both"))
        if role is not None and role not in roles:
            roles[role] = index
    layout = GazeLayout.of("xdf", roles)
    if not layout.has_gaze:
        return None
    gaze_channel = channels[next(roles[r] for r in ("x", "left_x", "right_x") if r in roles)]
    return layout._replace(unit="normalized" if gaze_channel.unit in NORMALISED_UNITS else "px")


PRODUCERS: dict[str, Callable[[Sequence[Channel]], GazeLayout | None]] = {
    "tobii-pro": _tobii_pro,
    "pupil-capture": _pupil_capture,
    "gazefusion": _gazefusion,
    "xdf": _xdf,
}
"""Known stream layouts, tried in this order when ``tracker.lsl.producer`` is ``auto``."""


def gaze_layout(channels: Sequence[Channel], channel_count: int, config: TrackerConfig, stream: str) -> GazeLayout:
    """How to read gaze from a stream: the configured channels, else a known producer's layout.

    Parameters
    ----------
    channels : sequence of Channel
        The stream's channel description ([] when it has none).
    channel_count : int
        The stream's channel count.
    config : TrackerConfig
        Its ``lsl`` section: producer, channels, unit, origin.
    stream : str
        The stream, for messages.

    Raises
    ------
    TrackerError
        The description disagrees with the channel count, a configured channel is not in the
        stream, the named producer's layout is not there, or no gaze channels are found.
    """
    if channels and len(channels) != channel_count:
        raise TrackerError(
            f"LSL stream {stream} has {channel_count} channels but its description lists {len(channels)}: "
            "the producer's stream is malformed; name the gaze channels by index in tracker.lsl.channels"
        )
    labels = [channel.label for channel in channels]
    if config.lsl.channels:
        roles: dict[str, int] = {}
        for role, ref in config.lsl.channels.items():
            if isinstance(ref, int):
                if not 0 <= ref < channel_count:
                    raise TrackerError(
                        f"tracker.lsl.channels.{role}: channel {ref} does not exist: LSL stream {stream} "
                        f"has {channel_count} channels (0-{channel_count - 1})"
                    )
                roles[role] = ref
            elif ref.strip().lower() in labels:
                roles[role] = labels.index(ref.strip().lower())
            else:
                raise TrackerError(
                    f"tracker.lsl.channels.{role}: no channel labelled {ref!r} in LSL stream {stream} "
                    f"(its labels: {', '.join(labels) or 'none'})"
                )
        layout = GazeLayout.of("configuration", roles)
        gaze = next((roles[r] for r in ("x", "left_x", "right_x") if r in roles), None)
        unit = channels[gaze].unit if channels and gaze is not None else ""
        layout = layout._replace(unit="normalized" if unit in NORMALISED_UNITS else "px")
    else:
        names = list(PRODUCERS) if config.lsl.producer == "auto" else [config.lsl.producer]
        found = next((found for name in names if (found := PRODUCERS[name](channels)) is not None), None)
        if found is None:
            described = f"labels {', '.join(labels)}" if channels else "no <channels> description"
            which = "a known producer's" if config.lsl.producer == "auto" else f"the {config.lsl.producer} layout's"
            raise TrackerError(
                f"LSL stream {stream} ({channel_count} channels, {described}) does not have {which} gaze "
                "channels: name them in tracker.lsl.channels (x, y, …: a label or a 0-based index)"
            )
        layout = found
    if not layout.has_gaze:
        raise TrackerError(
            f"tracker.lsl.channels names no gaze position for LSL stream {stream}: give x and y "
            "(or left_x and left_y, or right_x and right_y)"
        )
    if config.lsl.unit != "auto":
        layout = layout._replace(unit=config.lsl.unit)
    if config.lsl.origin != "auto":
        layout = layout._replace(origin=config.lsl.origin)
    return layout


def _check_units(channels: Sequence[Channel], layout: GazeLayout, stream: str, config: TrackerConfig) -> None:
    """Refuse gaze channels in a unit gazefusion cannot read (degrees, mm on the screen …)."""
    if config.lsl.unit != "auto" or not channels:
        return
    for role in ("x", "y", "left_x", "left_y", "right_x", "right_y"):
        index = getattr(layout, role)
        unit = channels[index].unit if index is not None else ""
        if unit and unit not in NORMALISED_UNITS and unit not in PIXEL_UNITS:
            raise TrackerError(
                f"LSL stream {stream}: gaze channel {channels[index].label or index!r} is in {unit!r}; gazefusion "
                "reads screen pixels or normalised screen coordinates: set tracker.lsl.unit if it is one of those"
            )


class SampleMaker:
    """Turns one row of a stream's channels into a :class:`GazeSample` by a :class:`GazeLayout`.

    Parameters
    ----------
    layout : GazeLayout
        Where the parts are.
    screen_size_px : tuple of int
        The tracked screen, for normalised gaze.
    confidence_min : float
        Lowest confidence of a valid sample. (default: 0.6)
    """

    def __init__(self, layout: GazeLayout, screen_size_px: tuple[int, int], confidence_min: float = 0.6) -> None:
        self.layout = layout
        self.confidence_min = confidence_min
        width, height = float(screen_size_px[0]), float(screen_size_px[1])
        if layout.unit == "px":
            self._scale = (1.0, 0.0, 1.0, 0.0)
        elif layout.origin == "bottom-left":
            self._scale = (width, 0.0, -height, height)
        else:
            self._scale = (width, 0.0, height, 0.0)
        self._binocular = layout.x is None and layout.left_x is not None and layout.right_x is not None

    def _xy(self, row: Sequence[float], ix: int | None, iy: int | None) -> tuple[float, float]:
        if ix is None or iy is None:
            return math.nan, math.nan
        sx, ox, sy, oy = self._scale
        x, y = float(row[ix]) * sx + ox, float(row[iy]) * sy + oy
        return (x, y) if math.isfinite(x) and math.isfinite(y) else (math.nan, math.nan)

    @staticmethod
    def _value(row: Sequence[float], index: int | None) -> float:
        if index is None:
            return math.nan
        value = float(row[index])
        return value if math.isfinite(value) else math.nan

    def __call__(self, row: Sequence[float], t: float, tracker_t: float) -> GazeSample:
        """The sample of one row.

        Parameters
        ----------
        row : sequence of float
            The channel values.
        t : float
            Host monotonic arrival time, s.
        tracker_t : float
            The sample's time stamp on this host's LSL clock, s.
        """
        layout = self.layout
        gate = True
        if layout.valid is not None:
            gate = float(row[layout.valid]) != 0.0
        if layout.confidence is not None:
            gate = gate and float(row[layout.confidence]) >= self.confidence_min
        # Per-eye data only where the stream has that eye's gaze; its pupil alone goes into the mean.
        left = right = None
        if layout.left_x is not None:
            lx, ly = self._xy(row, layout.left_x, layout.left_y)
            left = EyeGaze(lx, ly, self._value(row, layout.left_pupil), gate and lx == lx)
        if layout.right_x is not None:
            rx, ry = self._xy(row, layout.right_x, layout.right_y)
            right = EyeGaze(rx, ry, self._value(row, layout.right_pupil), gate and rx == rx)
        pupil = self._value(row, layout.pupil)
        if pupil != pupil:
            pupils = [p for p in (self._value(row, layout.left_pupil), self._value(row, layout.right_pupil)) if p == p]
            pupil = sum(pupils) / len(pupils) if pupils else math.nan
        if layout.x is not None:
            x, y = self._xy(row, layout.x, layout.y)
        else:
            eyes = [eye for eye in (left, right) if eye is not None and eye.valid]
            x = sum(eye.x for eye in eyes) / len(eyes) if eyes else math.nan
            y = sum(eye.y for eye in eyes) / len(eyes) if eyes else math.nan
        valid = gate and x == x and y == y
        if not valid:
            x = y = math.nan
        eye = "b" if self._binocular or layout.x is not None else ("l" if left is not None else "r")
        return GazeSample(t, tracker_t, x, y, valid, pupil, eye, left, right)


class LslInlet:
    """An LSL inlet that finds its stream again when it is lost.

    The ``lsl:`` tracker and the marker inlet read through it. :meth:`open` resolves the
    stream and connects; :meth:`pull` returns the samples that came, their time stamps on
    this host's LSL clock (the inlet's ``time_correction()`` added, re-read every few
    seconds), and while the stream is lost looks for it again under the same query: a stream
    with the channel count and format it had is used again (a ``reconnect`` event), another
    shape is not (an ``error`` event, once per stream).

    Parameters
    ----------
    query : StreamQuery
        The stream.
    wanted : str
        What it is, for messages ("gaze stream").
    timeout_s : float
        How long to look for it at open, and to wait for its description, s.
    prepare : callable
        Called with the full stream description of every stream about to be used (the
        first and each one found again); raises :class:`GazefusionError` when it cannot be.
    on_event : callable
        ``on_event(kind, data)`` for ``"lost"``, ``"reconnect"`` and ``"error"``
        (data: (name, value) pairs).
    error : type of GazefusionError
        What a stream that cannot be found or used raises at open. (default: TrackerError)
    """

    def __init__(
        self,
        query: StreamQuery,
        wanted: str,
        timeout_s: float,
        prepare: Callable[[Any], None],
        on_event: Callable[[InletEventKind, tuple[tuple[str, object], ...]], None],
        error: type[GazefusionError] = TrackerError,
    ) -> None:
        self.query = query
        self.wanted = wanted
        self.timeout_s = timeout_s
        self.prepare = prepare
        self.on_event = on_event
        self.error = error
        self.info: Any = None
        self.correction_s = 0.0
        self.estimate_s = 0.0
        self._slewed_at = 0.0
        self.reconnects = 0
        self.pylsl: ModuleType | None = None
        self._inlet: Any = None
        self._shape: tuple[int, int] = (0, 0)
        self._lost_at = math.nan
        self._refused: set[str] = set()
        self._next_correction = 0.0

    def open(self) -> None:
        """Resolve the stream and connect (the error class given, with one clear line, if it cannot be used)."""
        self.pylsl = import_pylsl()
        self._inlet = self._connect(resolve_stream(self.query, self.timeout_s, self.wanted, self.pylsl, self.error))

    def _connect(self, info: Any) -> Any:
        pylsl = self.pylsl
        assert pylsl is not None
        inlet = pylsl.StreamInlet(info, max_buflen=360, recover=False)
        try:
            full = inlet.info(timeout=self.timeout_s)
            self.prepare(full)
            inlet.open_stream(timeout=self.timeout_s)
        except GazefusionError:
            inlet.close_stream()
            raise
        except Exception as exc:  # pylsl's TimeoutError / LostError while connecting
            inlet.close_stream()
            raise self.error(
                f"LSL {self.wanted} {info.name()!r} went away while being opened ({exc}): start it again"
            ) from None
        self.info = full
        self._shape = (full.channel_count(), full.channel_format())
        self.correction_s = self.estimate_s = self._correction(inlet, self.timeout_s)
        self._slewed_at = time.monotonic()
        self._next_correction = self._slewed_at + _CORRECTION_EVERY_S
        return inlet

    def _correction(self, inlet: Any, timeout_s: float) -> float:
        """The inlet's clock offset to this host's LSL clock, s (the last one when it cannot tell)."""
        try:
            value = float(inlet.time_correction(timeout=timeout_s))
        except Exception as exc:  # pylsl's TimeoutError / LostError: keep the last estimate
            log.debug("LSL time correction unavailable: %s", exc)
            return self.estimate_s
        return value if math.isfinite(value) else self.estimate_s

    def pull(self, timeout_s: float = _PULL_TIMEOUT_S) -> tuple[list[Any], list[float]]:
        """The samples that came and their corrected time stamps ([] while lost).

        Parameters
        ----------
        timeout_s : float
            Longest wait for a first sample, s. (default: 0.05)
        """
        pylsl = self.pylsl
        assert pylsl is not None
        if self._inlet is None:
            self._look_again()
            return [], []
        inlet = self._inlet
        try:
            # What is there now; else wait for one sample (a timed chunk pull would hold the
            # first sample back for the whole timeout) and take what came with it.
            rows, stamps = inlet.pull_chunk(timeout=0.0, max_samples=_CHUNK_SAMPLES)
            if not stamps:
                row, stamp = inlet.pull_sample(timeout=timeout_s)
                if stamp is None:
                    return [], []
                rows, stamps = inlet.pull_chunk(timeout=0.0, max_samples=_CHUNK_SAMPLES - 1)
                rows.insert(0, row)
                stamps.insert(0, stamp)
        except pylsl.util.LostError:
            self._lost()
            return [], []
        now = time.monotonic()
        if now >= self._next_correction:
            self.estimate_s = self._correction(self._inlet, 0.0)
            self._next_correction = now + _CORRECTION_EVERY_S
        self._slew(now)
        correction = self.correction_s
        return rows, [stamp + correction for stamp in stamps]

    def _slew(self, now: float) -> None:
        """Move the applied correction toward LSL's latest estimate, at most ``_CORRECTION_SLEW``."""
        error = self.estimate_s - self.correction_s
        step = _CORRECTION_SLEW * (now - self._slewed_at)
        self._slewed_at = now
        if abs(error) > _CORRECTION_JUMP_S or abs(error) <= step:
            self.correction_s = self.estimate_s
        else:
            self.correction_s += math.copysign(step, error)

    def _lost(self) -> None:
        self._lost_at = time.monotonic()
        name = self.info.name() if self.info is not None else self.query.value
        self.on_event("lost", (("stream", name),))
        log.warning("LSL %s %r lost: looking for it again", self.wanted, name)
        self.close()

    def _refuse(self, info: Any, text: str) -> None:
        if info.uid() not in self._refused:
            self._refused.add(info.uid())
            log.warning(text)
            self.on_event("error", (("text", text),))

    def _look_again(self) -> None:
        """Resolve the query again; use the first stream found with the shape the lost one had."""
        pylsl = self.pylsl
        assert pylsl is not None
        found = pylsl.resolve_byprop(self.query.prop, self.query.value, minimum=1, timeout=0.5)
        for info in sorted(found, key=lambda item: -item.created_at()):
            shape = (info.channel_count(), info.channel_format())
            if shape != self._shape:
                self._refuse(
                    info,
                    f"LSL {self.wanted} {info.name()!r} came back with {shape[0]} channels of format {shape[1]} "
                    f"(was {self._shape[0]} of format {self._shape[1]}): not used",
                )
                continue
            try:
                self._inlet = self._connect(info)
            except GazefusionError as exc:
                self._refuse(info, str(exc))
                continue
            lost_s = time.monotonic() - self._lost_at
            self.reconnects += 1
            self.on_event("reconnect", (("stream", info.name()), ("lost_s", lost_s)))
            log.warning("LSL %s %r back after %.1f s", self.wanted, info.name(), lost_s)
            return

    def close(self) -> None:
        """Close the inlet (safe to call more than once)."""
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            try:
                inlet.close_stream()
            except Exception as exc:  # closing must not hide the run's result
                log.debug("closing the LSL inlet failed: %s", exc)


class LslTracker(Tracker):
    """A tracker that reads a gaze stream from Lab Streaming Layer.

    Parameters
    ----------
    query : StreamQuery
        The stream to resolve.
    screen_size_px : tuple of int
        The tracked screen, px (for normalised gaze).
    config : TrackerConfig or None
        Its ``lsl`` section (timeout, producer, channels), the watchdog and the buffer size;
        None for the defaults. (default: None)
    """

    def __init__(
        self, query: StreamQuery, screen_size_px: tuple[int, int], config: TrackerConfig | None = None
    ) -> None:
        config = config or TrackerConfig()
        super().__init__(queue_samples=config.queue_samples, watchdog_s=config.watchdog_s)
        self.query = query
        self.settings = config
        self.screen_size_px = screen_size_px
        self.description = f"LSL gaze stream with {query}"
        self.layout: GazeLayout | None = None
        self._make: SampleMaker | None = None
        self.stamps_off_clock = 0
        self.inlet = LslInlet(query, "gaze stream", self.settings.lsl.resolve_timeout_s, self._prepare, self._on_inlet)

    @property
    def stream_name(self) -> str:
        """The name of the stream read ("" before it is open)."""
        return self.inlet.info.name() if self.inlet.info is not None else ""

    @property
    def correction_s(self) -> float:
        """The clock correction added to the stream's time stamps now, s."""
        return self.inlet.correction_s

    def _prepare(self, info: Any) -> None:
        """Check that a stream can be gaze and find its layout (TrackerError if not)."""
        pylsl = self.inlet.pylsl
        assert pylsl is not None
        stream = repr(info.name())
        if info.channel_format() in (pylsl.cf_string, pylsl.cf_undefined):
            raise TrackerError(
                f"LSL stream {stream} carries strings, not numbers (a marker stream?): the lsl: tracker needs a "
                "numeric gaze stream; to record markers use --lsl-markers"
            )
        if info.channel_count() < 2:
            raise TrackerError(
                f"LSL stream {stream} has {info.channel_count()} channel: gaze needs at least x and y; "
                "is it the gaze stream?"
            )
        channels = read_channels(info)
        layout = gaze_layout(channels, info.channel_count(), self.settings, stream)
        _check_units(channels, layout, stream, self.settings)
        self.layout = layout
        self._make = SampleMaker(layout, self.screen_size_px, self.settings.lsl.confidence_min)
        self.sample_rate_hz = float(info.nominal_srate())
        rate = f"{self.sample_rate_hz:g} Hz" if self.sample_rate_hz > 0 else "irregular rate"
        self.description = (
            f"LSL gaze stream {info.name()!r} ({info.type() or 'no type'}, {info.channel_count()} channels, "
            f"{rate}) from {info.hostname() or '?'}, read as {layout.producer}"
        )

    def _on_inlet(self, kind: InletEventKind, data: tuple[tuple[str, object], ...]) -> None:
        if kind == "reconnect":
            self._count_reconnect()
        self._event(TrackerEvent(time.monotonic(), kind, data))

    def _open(self) -> None:
        self.inlet.open()

    def _start(self) -> None:
        if not self._threads:
            self._spawn(self._receive, "gazefusion-lsl")

    def _close(self) -> None:
        self._closed = True
        self._join_threads()
        self.inlet.close()

    def _receive(self) -> None:
        """Pull chunks and make samples; the inlet looks for a lost stream again.

        A sample's ``t`` is its (clock-corrected) LSL time stamp on the host monotonic clock:
        when it was taken, as its producer stamped it, not when a chunk reached this thread.
        A stamp that cannot be on the LSL clock (later than its arrival, or more than
        ``_STAMP_WINDOW_S`` earlier) gives way to the arrival time, with one warning.
        """
        monotonic, push, pull = time.monotonic, self._push_sample, self.inlet.pull
        offset = measure_clock_offset().offset_s
        while not self._closed:
            rows, stamps = pull()
            now = monotonic()
            if not stamps:
                self._check_stall(now)
                continue
            make = self._make
            assert make is not None
            for row, stamp in zip(rows, stamps):
                t = stamp - offset
                if not now - _STAMP_WINDOW_S <= t <= now + _STAMP_SLACK_S:
                    self._off_clock(stamp, now)
                    t = now
                push(make(row, t, stamp))

    def _off_clock(self, stamp: float, now: float) -> None:
        self.stamps_off_clock += 1
        if self.stamps_off_clock == 1:
            text = (
                f"LSL stream {self.stream_name!r} stamps its samples {stamp - now:+.3f} s from their arrival: "
                "not on the LSL clock; sample times are arrival times"
            )
            log.warning(text)
            self._event(TrackerEvent(now, "error", (("text", text),)))


@TRACKER_KINDS.register("lsl", help="lsl:NAME|lsl:type=TYPE|lsl:source_id=ID[?timeout=S&producer=P]")
def open_lsl(spec: str, rest: str, config: TrackerConfig, screen: ScreenConfig) -> LslTracker:
    """The ``lsl:`` tracker a spec names (its query options override ``tracker.lsl``)."""
    head, _, query = rest.partition("?")
    try:
        stream = StreamQuery.parse(head)
    except ValueError as exc:
        raise bad_spec(spec, str(exc)) from None
    options = spec_options(spec, query, ("timeout", "producer"))
    updates: dict[str, Any] = {}
    if "timeout" in options:
        updates["resolve_timeout_s"] = positive_number(spec, "timeout", options["timeout"])
    if "producer" in options:
        if options["producer"] not in ("auto", *PRODUCERS):
            raise bad_spec(spec, f"producer={options['producer']!r} is not one of auto, {', '.join(PRODUCERS)}")
        updates["producer"] = options["producer"]
    if updates:
        config = config.model_copy(update={"lsl": config.lsl.model_copy(update=updates)})
    return LslTracker(stream, (int(screen.size_px[0]), int(screen.size_px[1])), config)
