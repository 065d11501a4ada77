"""I-VT: velocity-threshold identification with the Tobii I-VT filter's post-processing.

Stages, each incremental (Olsen 2012, "The Tobii I-VT Fixation Filter", with an adaptive
threshold after Nyström & Holmqvist 2010):

1. Velocity. Each valid sample's angular velocity is the least-squares slope of x and y
   (degrees, per axis) against time over the valid samples within ``velocity_window_s``
   centred on it: a Savitzky-Golay-like first derivative that needs half a window of
   lookahead, so every sample is classified ``velocity_window_s / 2`` after it arrives.
   Losses are not bridged by the window.
2. Threshold. A sample is a fixation sample when its velocity is below the threshold. With
   ``noise_sd_factor > 0`` the threshold adapts to the noise: mean + factor x SD of the
   velocity of recent fixation samples (exponential running estimates with time constant
   ``noise_tau_s``), kept between ``min_velocity_deg_s`` and ``max_velocity_deg_s``.
3. Runs. Consecutive fixation samples form a candidate. After a saccade the first
   ``onset_trim_s`` of a candidate is dropped (post-saccadic oscillation), after a long loss
   the first ``loss_trim_s`` (the eye re-opening after a blink). A loss up to ``max_gap_s``
   pauses a candidate or fixation; a longer one ends it.
4. Merge. A candidate that begins within ``max_time_between_s`` of the previous fixation's
   end and whose centroid is within ``max_angle_deg`` of it continues that fixation.
5. Minimum duration. A candidate not merged becomes a fixation once it lasts
   ``min_duration_s``; shorter ones are discarded.

Events: ``start`` when a candidate becomes a fixation (or, merged, never: the fixation
continues), ``update`` throttled by ``update_interval_s``, ``end`` once no later candidate
can merge any more (``max_time_between_s`` after its last sample, or at once when a
candidate far away is confirmed or a long loss begins).
"""

from __future__ import annotations

import math
from collections import deque

from gazefusion.fusion.fixations.base import FixationBuilder, FixationDetector, Param
from gazefusion.fusion.types import FixationEvent

# What came before a candidate: decides which onset trim applies.
_AFTER_START, _AFTER_SACCADE, _AFTER_LOSS = 0, 1, 2


class IVTDetector(FixationDetector):
    """Velocity-threshold fixation detector (I-VT) with gap fill, merging, minimum duration.

    Parameters
    ----------
    geometry : ScreenGeometry
        The tracked screen.
    params : Mapping[str, float] or None
        Overrides of `PARAMS` (see :data:`IVTDetector.PARAMS`). (default: None)
    """

    name = "ivt"
    PARAMS = {
        "velocity_window_s": Param(0.02, "span of the velocity fit centred on each sample, s", 0.0),
        "max_velocity_deg_s": Param(30.0, "velocity threshold; with an adaptive threshold its upper bound, deg/s", 0.0),
        "min_velocity_deg_s": Param(10.0, "lower bound of the adaptive threshold, deg/s", 0.0),
        "noise_sd_factor": Param(0.0, "adaptive threshold = noise mean + this x noise SD; 0 keeps it fixed", 0.0),
        "noise_tau_s": Param(2.0, "time constant of the running noise estimate, s", 0.001),
        "max_gap_s": Param(0.075, "a loss up to this long pauses a fixation, a longer one ends it, s", 0.0),
        "max_time_between_s": Param(0.075, "merge fixations separated by at most this long, s", 0.0),
        "max_angle_deg": Param(0.5, "merge fixations whose centroids are at most this far apart, deg", 0.0),
        "min_duration_s": Param(0.06, "shortest fixation kept, s", 0.0),
        "onset_trim_s": Param(0.0, "dropped from the start of a candidate after a saccade, s", 0.0),
        "loss_trim_s": Param(0.0, "dropped from the start of a candidate after a long loss, s", 0.0),
    }

    def __init__(self, geometry, params=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(geometry, params)
        p = self.params
        self._half_window = p["velocity_window_s"] / 2.0
        self._vmax = p["max_velocity_deg_s"]
        self._vmin = p["min_velocity_deg_s"]
        self._sd_factor = p["noise_sd_factor"]
        self._tau = p["noise_tau_s"]
        self._max_gap = p["max_gap_s"]
        self._max_between = p["max_time_between_s"]
        self._max_angle = p["max_angle_deg"]
        self._min_duration = p["min_duration_s"]
        self._onset_trim = p["onset_trim_s"]
        self._loss_trim = p["loss_trim_s"]
        self.threshold_deg_s = self._vmax
        self._noise_mean = math.nan
        self._noise_var = 0.0
        # Delay line: samples (t, x, y, ax, ay, valid); those before `_next` are decided and
        # kept only as the velocity window's past half.
        self._buffer: deque[tuple[float, float, float, float, float, bool]] = deque()
        self._next = 0
        self._last_valid_t = -math.inf
        self._run: FixationBuilder | None = None
        self._trims = (0.0, self._onset_trim, self._loss_trim)
        self._break_kind = _AFTER_START
        self._trim_until: float | None = None
        self._fixation: FixationBuilder | None = None
        self._fixation_open = False

    # -- stage 1 and 2: delay line, velocity, threshold --------------------------------------

    def _push(self, t: float, x: float, y: float, ax: float, ay: float, valid: bool) -> list[FixationEvent]:
        events: list[FixationEvent] = []
        buffer = self._buffer
        buffer.append((t, x, y, ax, ay, valid))
        half = self._half_window
        while self._next < len(buffer) and t - buffer[self._next][0] >= half:
            self._decide(self._next, events)
            self._next += 1
        self._trim_buffer()
        return events

    def _trim_buffer(self) -> None:
        buffer = self._buffer
        limit = (buffer[self._next][0] if self._next < len(buffer) else buffer[-1][0]) - self._half_window
        while buffer[0][0] < limit:
            buffer.popleft()
            self._next -= 1

    def _velocity(self, i: int) -> float:
        """Least-squares slope over contiguous valid samples within the window, deg/s."""
        buffer = self._buffer
        t0, _, _, ax0, ay0, _ = buffer[i]
        half = self._half_window
        n = 1
        st = sx = sy = stt = stx = sty = 0.0
        j = i - 1
        while j >= 0:
            tj, _, _, axj, ayj, validj = buffer[j]
            if not validj or t0 - tj > half:
                break
            dt, dx, dy = tj - t0, axj - ax0, ayj - ay0
            n += 1
            st += dt
            sx += dx
            sy += dy
            stt += dt * dt
            stx += dt * dx
            sty += dt * dy
            j -= 1
        j = i + 1
        end = len(buffer)
        while j < end:
            tj, _, _, axj, ayj, validj = buffer[j]
            if not validj or tj - t0 > half:
                break
            dt, dx, dy = tj - t0, axj - ax0, ayj - ay0
            n += 1
            st += dt
            sx += dx
            sy += dy
            stt += dt * dt
            stx += dt * dx
            sty += dt * dy
            j += 1
        if n < 2:
            return math.inf
        denominator = n * stt - st * st
        if denominator <= 0.0:
            return math.inf
        return math.hypot(n * stx - st * sx, n * sty - st * sy) / denominator

    def _decide(self, i: int, events: list[FixationEvent]) -> None:
        t, x, y, ax, ay, valid = self._buffer[i]
        if not valid:
            self._lost(t, events)
            return
        if t - self._last_valid_t > self._max_gap and self._last_valid_t > -math.inf:
            self._lost(t, events)
        self._last_valid_t = t
        velocity = self._velocity(i)
        if velocity < self.threshold_deg_s:
            if self._sd_factor > 0.0:
                self._track_noise(velocity)
            self._fixation_sample(t, x, y, ax, ay, events)
        else:
            self._saccade_sample(t, events)

    def _track_noise(self, velocity: float) -> None:
        mean = self._noise_mean
        if mean != mean:
            self._noise_mean = velocity
            return
        alpha = min(1.0, self._interval() / self._tau)
        delta = velocity - mean
        mean += alpha * delta
        self._noise_var = (1.0 - alpha) * (self._noise_var + alpha * delta * delta)
        self._noise_mean = mean
        threshold = mean + self._sd_factor * math.sqrt(self._noise_var)
        self.threshold_deg_s = min(self._vmax, max(self._vmin, threshold))

    # -- stages 3 to 5: runs, merging, minimum duration ------------------------------------

    def _fixation_sample(self, t: float, x: float, y: float, ax: float, ay: float, events: list[FixationEvent]) -> None:
        run = self._run
        if run is None:
            self._end_if_unmergeable(t, events)
            if self._trim_until is None:
                self._trim_until = t + self._trims[self._break_kind]
            if t < self._trim_until:
                return
            self._run = FixationBuilder(t, x, y, ax, ay)
            run = self._run
        else:
            run.add(t, x, y, ax, ay)
        if self._fixation_open:
            self._update(run, t, events)
        elif run.offset - run.onset + self._interval() >= self._min_duration:
            self._confirm(run, t, events)

    def _confirm(self, run: FixationBuilder, t: float, events: list[FixationEvent]) -> None:
        """A long enough candidate: continues the previous fixation or starts a new one."""
        fixation = self._fixation
        if fixation is not None and self._mergeable(fixation, run):
            fixation.absorb(run)
            self._run = fixation
            self._update(fixation, t, events)
        else:
            if fixation is not None:
                self._end(fixation, t, events)
            self._fixation = run
            self._start(run, t, events)
        self._fixation_open = True

    def _mergeable(self, fixation: FixationBuilder, run: FixationBuilder) -> bool:
        return run.onset - fixation.offset <= self._max_between and fixation.distance_deg(run) <= self._max_angle

    def _close_run(self, t: float, kind: int) -> None:
        """The candidate ends (a saccade sample or a long loss)."""
        run = self._run
        if run is not None:
            if not self._fixation_open and self._fixation is not None and self._mergeable(self._fixation, run):
                self._fixation.absorb(run)
            self._run = None
            self._fixation_open = False
        self._break_kind = kind
        self._trim_until = None

    def _end_if_unmergeable(self, t: float, events: list[FixationEvent]) -> None:
        fixation = self._fixation
        if fixation is not None and not self._fixation_open and self._run is None:
            if t - fixation.offset > self._max_between:
                self._end(fixation, t, events)
                self._fixation = None

    def _saccade_sample(self, t: float, events: list[FixationEvent]) -> None:
        self._close_run(t, _AFTER_SACCADE)
        self._end_if_unmergeable(t, events)

    def _lost(self, t: float, events: list[FixationEvent]) -> None:
        if t - self._last_valid_t <= self._max_gap:
            return
        self._close_run(t, _AFTER_LOSS)
        if self._fixation is not None:
            self._end(self._fixation, t, events)
            self._fixation = None

    def _flush(self) -> list[FixationEvent]:
        events: list[FixationEvent] = []
        while self._next < len(self._buffer):
            self._decide(self._next, events)
            self._next += 1
        if self._buffer:
            self._trim_buffer()
        self._close_run(self._last_t, _AFTER_LOSS)
        if self._fixation is not None:
            self._end(self._fixation, self._last_t, events)
            self._fixation = None
        return events
