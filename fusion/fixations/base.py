"""The incremental fixation detector: the base every registered algorithm builds on.

A detector takes gaze samples one at a time (:meth:`FixationDetector.push`) and returns the
fixation events that became decidable with that sample; :meth:`FixationDetector.flush` ends
the input. The same object serves a live tracker and a file, so there is one implementation.

Rules shared by every algorithm
-------------------------------
- Invalid samples (``valid=False`` or a non-finite x or y) are never used as positions. A
  loss shorter than the method's ``max_gap_s`` pauses a fixation (it may continue after the
  loss); a longer loss ends it at the last valid sample before the loss.
- Timestamps must increase. A sample whose ``t`` is not larger than the previous accepted
  one (backwards, repeated or non-finite) is skipped and counted in
  :attr:`FixationDetector.skipped_samples`; the detector state is not changed by it.
- The sampling interval is a running estimate from the data (an exponential average of
  the intervals between consecutive samples, ignoring jumps longer than five intervals).
- Updates of a running fixation are throttled: at most one ``update`` event per
  ``update_interval_s`` of fixation time (every method has that parameter).
- Time spans are compared with the parameters within :data:`TIME_EPS_S`: a span equal to a
  parameter (a 4 ms trim is two samples at 500 Hz) decides alike however the rounding of
  the timestamps fell, so the same gaze on a clock shifted by up to about 10^6 s (a tracker
  or LSL clock counting from boot) gives the same events. (Seconds since 1970 are resolved
  to 0.24 us only: there a span within that of a parameter may decide either way.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from math import atan
from typing import ClassVar, NamedTuple

from gazefusion.fusion.errors import ConfigError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import DetectorEvent, Fixation, FixationEvent


class Param(NamedTuple):
    """A documented detector parameter (degrees, seconds or a plain number).

    Attributes
    ----------
    default : float
        Its value unless given.
    doc : str
        One line: what it does, with its unit.
    minimum : float
        Smallest allowed value (inclusive).
    """

    default: float
    doc: str
    minimum: float = 0.0


_DEG_PER_RAD = 180.0 / math.pi
TIME_EPS_S = 1e-9  # slack of time-span comparisons, s: above the rounding of spans at clocks below 1e6 s

COMMON_PARAMS: dict[str, Param] = {
    "update_interval_s": Param(0.1, "at most one update event per this much fixation time, s", 0.0),
}


class FixationBuilder:
    """Running sums of one fixation: centroid, extent in degrees, sample count; O(1) per sample.

    Parameters
    ----------
    t : float
        Time of the first sample, s.
    x, y : float
        Its position, tracker px.
    ax, ay : float
        Its position, degrees.
    """

    __slots__ = ("onset", "offset", "n", "sx", "sy", "sax", "say", "min_ax", "max_ax", "min_ay", "max_ay")

    def __init__(self, t: float, x: float, y: float, ax: float, ay: float) -> None:
        self.onset = self.offset = t
        self.n = 1
        self.sx, self.sy = x, y
        self.sax, self.say = ax, ay
        self.min_ax = self.max_ax = ax
        self.min_ay = self.max_ay = ay

    def add(self, t: float, x: float, y: float, ax: float, ay: float) -> None:
        """Append one valid sample."""
        self.offset = t
        self.n += 1
        self.sx += x
        self.sy += y
        self.sax += ax
        self.say += ay
        if ax < self.min_ax:
            self.min_ax = ax
        elif ax > self.max_ax:
            self.max_ax = ax
        if ay < self.min_ay:
            self.min_ay = ay
        elif ay > self.max_ay:
            self.max_ay = ay

    def absorb(self, other: FixationBuilder) -> None:
        """Merge a later fixation into this one."""
        self.offset = other.offset
        self.n += other.n
        self.sx += other.sx
        self.sy += other.sy
        self.sax += other.sax
        self.say += other.say
        self.min_ax = min(self.min_ax, other.min_ax)
        self.max_ax = max(self.max_ax, other.max_ax)
        self.min_ay = min(self.min_ay, other.min_ay)
        self.max_ay = max(self.max_ay, other.max_ay)

    def remove(self, t: float, x: float, y: float, ax: float, ay: float, previous_t: float) -> None:
        """Take the newest sample back out (its extent stays: the range is not undone)."""
        self.offset = previous_t
        self.n -= 1
        self.sx -= x
        self.sy -= y
        self.sax -= ax
        self.say -= ay

    def distance_deg(self, other: FixationBuilder) -> float:
        """Angle between the two centroids, degrees (per-axis degrees, small-angle sum)."""
        return math.hypot(self.sax / self.n - other.sax / other.n, self.say / self.n - other.say / other.n)

    def fixation(self, fixation_id: int, interval_s: float) -> Fixation:
        """The fixation as known now."""
        return Fixation(
            id=fixation_id,
            onset=self.onset,
            offset=self.offset,
            duration=self.offset - self.onset + interval_s,
            x=self.sx / self.n,
            y=self.sy / self.n,
            dispersion_deg=max(self.max_ax - self.min_ax, self.max_ay - self.min_ay),
            n_samples=self.n,
        )


class FixationDetector:
    """Base of the incremental detectors: validation, clocks, degrees and event bookkeeping.

    Subclasses set `name`, `PARAMS` and implement :meth:`_push` and :meth:`_flush`.

    Parameters
    ----------
    geometry : ScreenGeometry
        The tracked screen, for degrees of visual angle per axis.
    params : Mapping[str, float] or None
        Parameter overrides by name (see `PARAMS`); None uses the defaults. (default: None)

    Attributes
    ----------
    params : dict[str, float]
        Every parameter with its effective value.
    skipped_samples : int
        Samples skipped because their timestamp did not increase.
    samples : int
        Samples accepted.
    fixations : int
        Fixations ended so far.
    """

    name: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, Param]] = {}

    def __init__(self, geometry: ScreenGeometry, params: Mapping[str, float] | None = None) -> None:
        self.geometry = geometry.validate()
        self.params = self.resolve_params(params)
        mx, my = geometry.mm_per_px
        self._kx = mx / geometry.distance_mm
        self._ky = my / geometry.distance_mm
        self._cx = geometry.width_px / 2.0
        self._cy = geometry.height_px / 2.0
        # Less the slack, as every span compared with a parameter (see TIME_EPS_S).
        self._update_interval_s = self.params["update_interval_s"] - TIME_EPS_S
        self._last_t = -math.inf
        self._interval_s = math.nan
        self.skipped_samples = 0
        self.samples = 0
        self.fixations = 0
        self._next_id = 1
        self._current_id = 0
        self._last_event_t = -math.inf

    @classmethod
    def all_params(cls) -> dict[str, Param]:
        """Every parameter of this method, its own first, then the common ones."""
        return {**cls.PARAMS, **COMMON_PARAMS}

    @classmethod
    def resolve_params(cls, params: Mapping[str, float] | None) -> dict[str, float]:
        """The method's parameters: its defaults overridden by `params`.

        Parameters
        ----------
        params : Mapping[str, float] or None
            Parameters to override, by name (degrees, seconds).

        Raises
        ------
        ConfigError
            An unknown name or a value that is not a number.
        """
        known = cls.all_params()
        resolved = {key: spec.default for key, spec in known.items()}
        for key, value in (params or {}).items():
            if key not in known:
                raise ConfigError(
                    f"fixation method {cls.name!r} has no parameter {key!r}; known: {', '.join(sorted(known))}"
                )
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"fixation parameter {key}: {value!r} is not a number") from None
            if not math.isfinite(number) or number < known[key].minimum:
                raise ConfigError(f"fixation parameter {key}: {value!r} must be a number >= {known[key].minimum:g}")
            resolved[key] = number
        return resolved

    @property
    def sample_interval_s(self) -> float:
        """Running estimate of the sampling interval, s (nan before the second sample)."""
        return self._interval_s

    def push(self, t: float, x: float, y: float, valid: bool = True) -> list[DetectorEvent]:
        """Feed one sample; returns the events it made decidable (often none).

        Parameters
        ----------
        t : float
            Sample time, s, increasing (see the module's rules for other timestamps).
        x, y : float
            Gaze, tracker screen px; ignored when the sample is invalid.
        valid : bool
            False for lost tracking; non-finite x or y count as invalid too. (default: True)
        """
        if not t > self._last_t or t == math.inf:
            self.skipped_samples += 1
            return []
        dt = t - self._last_t
        interval = self._interval_s
        if interval != interval:  # nan: first interval
            if dt != math.inf:
                self._interval_s = dt
        elif dt < 5.0 * interval:
            self._interval_s = interval + 0.05 * (dt - interval)
        self._last_t = t
        self.samples += 1
        if valid and x - x == 0.0 and y - y == 0.0:  # finite
            return self._push(
                t,
                x,
                y,
                _DEG_PER_RAD * atan((x - self._cx) * self._kx),
                _DEG_PER_RAD * atan((y - self._cy) * self._ky),
                True,
            )
        return self._push(t, math.nan, math.nan, math.nan, math.nan, False)

    def flush(self) -> list[DetectorEvent]:
        """End of input: decide everything still pending and end a running fixation."""
        return self._flush()

    # -- for subclasses -------------------------------------------------------------------

    def _push(self, t: float, x: float, y: float, ax: float, ay: float, valid: bool) -> list[DetectorEvent]:
        raise NotImplementedError

    def _flush(self) -> list[DetectorEvent]:
        raise NotImplementedError

    def _interval(self) -> float:
        interval = self._interval_s
        return 0.0 if interval != interval else interval

    def _start(self, fixation: FixationBuilder, t: float, events: list[DetectorEvent]) -> None:
        self._current_id = self._next_id
        self._next_id += 1
        self._last_event_t = fixation.offset
        events.append(FixationEvent("start", fixation.fixation(self._current_id, self._interval()), t))

    def _update(self, fixation: FixationBuilder, t: float, events: list[DetectorEvent]) -> None:
        if fixation.offset - self._last_event_t >= self._update_interval_s:
            self._last_event_t = fixation.offset
            events.append(FixationEvent("update", fixation.fixation(self._current_id, self._interval()), t))

    def _end(self, fixation: FixationBuilder, t: float, events: list[DetectorEvent]) -> None:
        self.fixations += 1
        events.append(FixationEvent("end", fixation.fixation(self._current_id, self._interval()), t))
