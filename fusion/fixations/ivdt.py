"""I-VDT: fixations, saccades, post-saccadic oscillations, smooth pursuit and blinks, online.

Velocity first, then a displacement test for pursuit (Komogortsev & Karpov 2013's I-VDT,
with the displacement and signal-to-noise features of Larsson et al. 2015 that the Lund
group recommends for dynamic scenes). Every sample goes through the I-VT stages of
:mod:`fusion.fixations.ivt` (moving median, velocity fit, adaptive threshold), so on a still
scene the fixations are the I-VT's; then:

- Saccades. A run of samples above the velocity threshold. It is reported (``end``) once
  what follows is decided: dropped when the candidate after it merges back into the
  fixation before it (a noise burst or a tiny step inside one fixation), reported before
  the next fixation or pursuit starts, or before a blink.
- Post-saccadic oscillation (PSO). The samples between a saccade and the start of the next
  fixation or pursuit when that gap is at most ``max_pso_s``, including fast runs that begin
  within ``max_pso_s`` of the saccade's end (the overshoot and its return).
- Smooth pursuit. Between saccades, the slow samples of the current stretch (since the last
  saccade or long loss, at most ``pursuit_window_s`` back) are fitted with a straight line
  by least squares (running sums, O(1) per sample). The stretch is a pursuit when the fitted
  speed exceeds ``pursuit_speed_deg_s``, the displacement along the line over the stretch
  exceeds ``pursuit_displacement_deg`` and ``pursuit_snr`` times the RMS distance of the
  samples from the line (moving steadily, not drifting in noise). Optional tests, off by
  default: the dispersion of the window (the classic I-VDT) and the consistency of the
  sample-to-sample directions (I-VMP). The test is made at every sample and once more on
  the whole stretch when a saccade or a loss ends it, so a pursuit is never missed for want
  of time. The pursuit starts at the window's first sample: the fixation that the I-VT
  stages had begun there is cut at that point; when nothing of at least ``min_duration_s``
  is left of a fixation already reported, it is cancelled (a ``cancel`` event).
- A pursuit ends at a saccade, at a long loss, or when the eye stops: a straight-line fit
  over the last ``stop_window_s`` slower than ``stop_speed_deg_s``; the samples of that
  window then begin a fixation candidate.
- Blinks. A loss of tracking longer than ``max_gap_s`` (shorter losses are bridged).

Events: fixations as the I-VT's (start, update, end; cancel as above); pursuits start,
update (throttled) and end; saccades, PSOs and blinks are reported at their end. The delay
of a pursuit's start is the time its test needs (with the defaults, until the eye has
moved ``pursuit_displacement_deg``); of a pursuit's end, ``stop_window_s``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

from gazefusion.fusion.fixations.base import TIME_EPS_S, FixationBuilder, Param
from gazefusion.fusion.fixations.ivt import IVTDetector
from gazefusion.fusion.fixations.registry import DETECTORS
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import DetectorEvent, FixationEvent, Movement, MovementEvent, MovementKind

_NONE, _FIXATION, _PURSUIT = 0, 1, 2
_REBASE_S = 60.0  # window times are kept relative to a reference at most this old, s

Sample = tuple[float, float, float, float, float, float]  # t, x, y, ax, ay, velocity


class _MovementBuilder:
    """Running figures of one saccade, PSO or pursuit."""

    __slots__ = ("kind", "onset", "offset", "first", "last", "n", "sum_v", "peak_v")

    def __init__(self, kind: MovementKind, sample: Sample) -> None:
        self.kind = kind
        self.onset = self.offset = sample[0]
        self.first = self.last = sample
        self.n = 1
        self.sum_v = self.peak_v = sample[5]

    def add(self, sample: Sample) -> None:
        self.offset = sample[0]
        self.last = sample
        self.n += 1
        self.sum_v += sample[5]
        if sample[5] > self.peak_v:
            self.peak_v = sample[5]

    def movement(self, movement_id: int, interval_s: float) -> Movement:
        _, x0, y0, ax0, ay0, _ = self.first
        _, x1, y1, ax1, ay1, _ = self.last
        dx, dy = ax1 - ax0, ay1 - ay0
        return Movement(
            kind=self.kind,
            id=movement_id,
            onset=self.onset,
            offset=self.offset,
            duration=self.offset - self.onset + interval_s,
            start_x=x0,
            start_y=y0,
            end_x=x1,
            end_y=y1,
            amplitude_deg=math.hypot(dx, dy),
            peak_velocity_deg_s=self.peak_v,
            mean_velocity_deg_s=self.sum_v / self.n,
            direction_deg=math.degrees(math.atan2(-dy, dx)) % 360.0,  # screen y points down
            n_samples=self.n,
        )


class _LineFit:
    """Least-squares line through the (t, ax, ay) samples of a window, by running sums.

    Samples are added at the back and dropped from the front in O(1); times are taken
    relative to a reference moved forward now and then, so the sums stay well conditioned.
    """

    __slots__ = ("samples", "ref", "n", "st", "stt", "sx", "sy", "stx", "sty", "sxx", "syy", "sdx", "sdy")

    def __init__(self) -> None:
        self.samples: deque[Sample] = deque()
        self.clear()

    def clear(self) -> None:
        self.samples.clear()
        self.ref = 0.0
        self.n = 0
        self.st = self.stt = self.sx = self.sy = self.stx = self.sty = self.sxx = self.syy = 0.0
        self.sdx = self.sdy = 0.0  # sums of the unit step directions (I-VMP)

    def add(self, sample: Sample, directions: bool) -> None:
        t, _, _, x, y, _ = sample
        if not self.n:
            self.ref = t
        elif t - self.ref > _REBASE_S:
            self._rebase(t)
        r = t - self.ref
        if directions and self.samples:
            previous = self.samples[-1]
            step = math.hypot(x - previous[3], y - previous[4])
            if step > 0.0:
                self.sdx += (x - previous[3]) / step
                self.sdy += (y - previous[4]) / step
        self.samples.append(sample)
        self.n += 1
        self.st += r
        self.stt += r * r
        self.sx += x
        self.sy += y
        self.stx += r * x
        self.sty += r * y
        self.sxx += x * x
        self.syy += y * y

    def pop(self, directions: bool) -> Sample:
        sample = self.samples.popleft()
        t, _, _, x, y, _ = sample
        r = t - self.ref
        if directions and self.samples:
            following = self.samples[0]
            step = math.hypot(following[3] - x, following[4] - y)
            if step > 0.0:
                self.sdx -= (following[3] - x) / step
                self.sdy -= (following[4] - y) / step
        self.n -= 1
        self.st -= r
        self.stt -= r * r
        self.sx -= x
        self.sy -= y
        self.stx -= r * x
        self.sty -= r * y
        self.sxx -= x * x
        self.syy -= y * y
        return sample

    def _rebase(self, t: float) -> None:
        kept = list(self.samples)
        sdx, sdy = self.sdx, self.sdy
        self.clear()
        for sample in kept:
            self.add(sample, False)
        self.sdx, self.sdy = sdx, sdy

    def span(self) -> float:
        return self.samples[-1][0] - self.samples[0][0] if self.n else 0.0

    def slope(self) -> tuple[float, float]:
        """Velocity of the fitted line, deg/s per axis ((0, 0) when it is undetermined)."""
        n = self.n
        denominator = n * self.stt - self.st * self.st
        if n < 3 or denominator <= 0.0:
            return 0.0, 0.0
        return (n * self.stx - self.st * self.sx) / denominator, (n * self.sty - self.st * self.sy) / denominator

    def residual_rms(self, bx: float, by: float) -> float:
        """RMS distance of the samples from the fitted line, degrees."""
        n = self.n
        mean_t = self.st / n
        sxx = self.sxx - self.sx * self.sx / n - bx * (self.stx - mean_t * self.sx)
        syy = self.syy - self.sy * self.sy / n - by * (self.sty - mean_t * self.sy)
        return math.sqrt(max(0.0, (sxx + syy) / n))

    def dispersion(self) -> float:
        """(max x - min x) + (max y - min y) over the window, degrees (O(n): optional test only)."""
        xs = [sample[3] for sample in self.samples]
        ys = [sample[4] for sample in self.samples]
        return max(xs) - min(xs) + max(ys) - min(ys)

    def consistency(self) -> float:
        """Length of the mean unit step direction, 0 (random) to 1 (straight)."""
        return math.hypot(self.sdx, self.sdy) / (self.n - 1) if self.n > 1 else 0.0


@DETECTORS.register("ivdt")
class IVDTDetector(IVTDetector):
    """Online detector of fixations, saccades, PSOs, smooth pursuit and blinks (I-VDT).

    Parameters
    ----------
    geometry : ScreenGeometry
        The tracked screen.
    params : Mapping[str, float] or None
        Overrides of `PARAMS` (the I-VT's and the pursuit ones). (default: None)
    """

    name = "ivdt"
    PARAMS = {
        **IVTDetector.PARAMS,
        "pursuit_window_s": Param(1.2, "longest stretch of slow samples the pursuit test looks back over, s", 0.01),
        "min_pursuit_s": Param(0.15, "shortest stretch the pursuit test may call a pursuit, s", 0.0),
        "pursuit_skip_s": Param(
            0.004, "the first this much after a saccade or loss is left out of the pursuit test (PSO), s", 0.0
        ),
        "pursuit_speed_deg_s": Param(1.0, "pursuit: speed of the fitted line above this, deg/s", 0.0),
        "pursuit_displacement_deg": Param(1.2, "pursuit: displacement along the fitted line above this, deg", 0.0),
        "pursuit_snr": Param(3.0, "pursuit: displacement above this x the RMS distance from the line", 0.0),
        "pursuit_dispersion_deg": Param(
            0.0, "pursuit: window dispersion (x range + y range) above this, deg; 0: no such test", 0.0
        ),
        "pursuit_consistency": Param(
            0.0, "pursuit: mean unit step direction longer than this (0..1); 0: no such test", 0.0
        ),
        "pursuit_resume_factor": Param(
            0.5,
            "a stretch that begins within pursuit_resume_s of a pursuit's end and moves its way "
            "needs this fraction of the minimum duration and displacement (catch-up saccades)",
            0.0,
        ),
        "pursuit_resume_s": Param(0.15, "see pursuit_resume_factor, s", 0.0),
        "pursuit_onset_gain": Param(
            0.2,
            "a pursuit that began in a fixation starts where a still-then-moving fit leaves at most "
            "this fraction of one line's squared error; otherwise at the window's start",
            0.0,
        ),
        "stop_window_s": Param(0.2, "a pursuit ends when the line fitted over this last span is slow, s", 0.01),
        "stop_speed_deg_s": Param(1.5, "a pursuit ends below this speed over stop_window_s, deg/s", 0.0),
        "max_pso_s": Param(0.04, "longest post-saccadic oscillation after a saccade, s", 0.0),
    }

    def __init__(self, geometry: ScreenGeometry, params: Mapping[str, float] | None = None) -> None:
        super().__init__(geometry, params)
        p = self.params
        self._pursuit_window = p["pursuit_window_s"]
        self._min_pursuit = p["min_pursuit_s"]
        self._pursuit_skip = p["pursuit_skip_s"]
        self._stretch_t = -math.inf  # first sample of the current stretch of slow samples
        self._pursuit_speed = p["pursuit_speed_deg_s"]
        self._pursuit_displacement = p["pursuit_displacement_deg"]
        self._pursuit_snr = p["pursuit_snr"]
        self._pursuit_dispersion = p["pursuit_dispersion_deg"]
        self._pursuit_consistency = p["pursuit_consistency"]
        self._directions = self._pursuit_consistency > 0.0
        self._resume_factor = p["pursuit_resume_factor"]
        self._resume_s = p["pursuit_resume_s"]
        self._shortest_pursuit = self._min_pursuit * min(self._resume_factor, 1.0) - TIME_EPS_S
        self._onset_gain = p["pursuit_onset_gain"]
        self._last_pursuit_end = -math.inf
        self._last_pursuit_direction = (0.0, 0.0)  # unit vector, degrees per axis
        self._resuming = False
        self._stop_window = p["stop_window_s"]
        self._stop_speed = p["stop_speed_deg_s"]
        self._max_pso = p["max_pso_s"]
        self._phase = _NONE
        self._window = _LineFit()
        self._segment_run_t = math.inf  # time of the first sample this stretch gave the I-VT run
        self._pursuit: _MovementBuilder | None = None
        self._pursuit_id = 0
        self._last_pursuit_event_t = -math.inf
        self._fast_run: _MovementBuilder | None = None
        self._fast_is_pso = False
        self._saccade: _MovementBuilder | None = None  # ended, waiting for what follows
        self._after_saccade: list[Sample] = []  # samples since it ended, up to max_pso_s
        self._ids: dict[str, int] = {}
        self._popped_t = -math.inf  # the newest sample dropped from the front of the window
        self._offset_before_merge = -math.inf  # a merged fixation's offset before this stretch
        self._blink: _MovementBuilder | None = None
        self._blink_long = False

    # -- hooks from the I-VT stages ----------------------------------------------------------

    def _slow(
        self, t: float, x: float, y: float, ax: float, ay: float, velocity: float, events: list[DetectorEvent]
    ) -> None:
        sample = (t, x, y, ax, ay, velocity)
        if self._blink is not None:
            self._end_blink(events)
        if self._fast_run is not None:
            self._close_fast_run()
        if self._saccade is not None and t - self._saccade.offset <= self._max_pso + TIME_EPS_S:
            self._after_saccade.append(sample)
        if self._phase == _PURSUIT:
            self._pursuit_sample(sample, events)
            return
        if self._phase == _NONE:
            self._phase = _FIXATION
            self._stretch_t = t
            self._resuming = t - self._last_pursuit_end <= self._resume_s + TIME_EPS_S
        had_run = self._run is not None
        IVTDetector._slow(self, t, x, y, ax, ay, velocity, events)
        if not had_run and self._run is not None:
            self._segment_run_t = t
        if t - self._stretch_t < self._pursuit_skip - TIME_EPS_S:
            return
        window = self._window
        window.add(sample, self._directions)
        samples = window.samples
        while t - samples[0][0] > self._pursuit_window + TIME_EPS_S:
            self._popped_t = window.pop(self._directions)[0]
        # The pursuit test's first condition, here: the start of every stretch skips the call.
        if t - samples[0][0] >= self._shortest_pursuit and self._is_pursuit(window):
            self._begin_pursuit(events)

    def _fast(
        self, t: float, x: float, y: float, ax: float, ay: float, velocity: float, events: list[DetectorEvent]
    ) -> None:
        sample = (t, x, y, ax, ay, velocity)
        if self._blink is not None:
            self._end_blink(events)
        self._end_stretch(events)
        super()._fast(t, x, y, ax, ay, velocity, events)
        if velocity == math.inf:
            # Too few neighbours for a velocity (an isolated sample between losses): no movement.
            if self._fast_run is not None:
                self._close_fast_run()
            return
        run = self._fast_run
        if run is not None:
            run.add(sample)
            if self._fast_is_pso:
                self._after_saccade.append(sample)
            return
        saccade = self._saccade
        if saccade is not None:
            if t - saccade.offset <= self._max_pso + TIME_EPS_S:
                # A fast run soon after a saccade: its overshoot and return, part of the PSO.
                self._fast_is_pso = True
                self._after_saccade.append(sample)
                self._fast_run = _MovementBuilder("saccade", sample)
                return
            self._report_saccade(t, events)
        self._fast_is_pso = False
        self._fast_run = _MovementBuilder("saccade", sample)

    def _invalid(self, t: float, events: list[DetectorEvent]) -> None:
        blink = self._blink
        if blink is None:
            self._blink = _MovementBuilder("blink", (t, math.nan, math.nan, math.nan, math.nan, math.nan))
            self._blink_long = False
        else:
            blink.add((t, math.nan, math.nan, math.nan, math.nan, math.nan))
        super()._invalid(t, events)

    def _lost(self, t: float, events: list[DetectorEvent]) -> None:
        if t - self._last_valid_t > self._max_gap + TIME_EPS_S and not self._in_loss:
            # The loss is too long to bridge: whatever ran ends at its last valid sample.
            self._end_stretch(events)
            if self._fast_run is not None:
                self._close_fast_run()
            if self._saccade is not None:
                self._report_saccade(t, events)
            if self._blink is not None:
                self._blink_long = True
        super()._lost(t, events)

    def _confirm(self, run: FixationBuilder, t: float, events: list[DetectorEvent]) -> None:
        fixation = self._fixation
        merged = fixation is not None and self._mergeable(fixation, run)
        if merged:
            assert fixation is not None
            self._offset_before_merge = fixation.offset
        super()._confirm(run, t, events)
        if merged:
            self._drop_saccade()
        elif self._saccade is not None:
            start = events.pop()  # the new fixation's start comes after the saccade before it
            self._report_saccade(run.onset, events)
            events.append(start)

    def _close_run(self, trim_s: float) -> None:
        fixation = self._fixation
        before = fixation.n if fixation is not None else 0
        super()._close_run(trim_s)
        if fixation is not None and fixation.n > before:
            self._drop_saccade()  # the candidate after the saccade merged back: no saccade

    def _flush(self) -> list[DetectorEvent]:
        events: list[DetectorEvent] = []
        self._advance(math.inf, self._last_t, events)
        self._now = self._last_t
        self._end_stretch(events)
        if self._fast_run is not None:
            self._close_fast_run()
        events += super()._flush()
        if self._saccade is not None:
            self._report_saccade(math.inf, events)
        if self._blink is not None:
            self._end_blink(events)
        events.sort(key=_onset)
        return events

    # -- pursuit ---------------------------------------------------------------------------

    def _is_pursuit(self, window: _LineFit) -> bool:
        if window.n < 3:
            return False
        span = window.span()
        if span < self._shortest_pursuit:
            return False
        bx, by = window.slope()
        speed = math.hypot(bx, by)
        if speed <= self._pursuit_speed:
            return False
        scale = 1.0
        if self._resuming:
            ux, uy = self._last_pursuit_direction
            if (bx * ux + by * uy) / speed >= 0.5:  # within 60 degrees: the same target, caught up
                scale = self._resume_factor
            if span < self._min_pursuit * scale - TIME_EPS_S:
                return False
        elif span < self._min_pursuit - TIME_EPS_S:
            return False
        displacement = speed * span
        if displacement <= self._pursuit_displacement * scale:
            return False
        if displacement <= self._pursuit_snr * window.residual_rms(bx, by):
            return False
        if self._pursuit_dispersion > 0.0 and window.dispersion() <= self._pursuit_dispersion:
            return False
        return not (self._directions and window.consistency() <= self._pursuit_consistency)

    def _begin_pursuit(self, events: list[DetectorEvent]) -> None:
        """The window holds a pursuit: cut the fixation where it began, start the pursuit."""
        samples = list(self._window.samples)
        first = _onset_index(
            samples,
            *self._window.slope(),
            max(3, int((self._min_pursuit / 2 + TIME_EPS_S) / self._interval())),
            self._min_duration,
            self._onset_gain,
        )
        onset = samples[first][0]
        self._cut_fixation(onset, events)
        if self._saccade is not None:
            self._report_saccade(onset, events)
        pursuit = _MovementBuilder("pursuit", samples[first])
        for sample in samples[first + 1 :]:
            pursuit.add(sample)
        self._pursuit = pursuit
        self._pursuit_id = self._next("pursuit")
        self._last_pursuit_event_t = pursuit.offset
        events.append(MovementEvent("start", pursuit.movement(self._pursuit_id, self._interval()), self._now))
        self._window.clear()
        self._phase = _PURSUIT

    def _cut_fixation(self, onset: float, events: list[DetectorEvent]) -> None:
        """Take this stretch's samples from `onset` on out of the I-VT's run; end or cancel what is left."""
        run = self._run
        if run is not None:
            as_reported = run.fixation(self._current_id, self._interval())
            first = max(onset, self._segment_run_t)
            samples = self._window.samples
            removed = [sample for sample in samples if sample[0] >= first]
            kept = [sample[0] for sample in samples if sample[0] < first]
            if kept:
                before = kept[-1]
            elif self._popped_t >= self._segment_run_t:
                before = self._popped_t
            else:
                before = self._offset_before_merge
            emptied = False
            for k in range(len(removed) - 1, -1, -1):
                if run.n <= 1:
                    emptied = True
                    break
                t, x, y, ax, ay, _ = removed[k]
                run.remove(t, x, y, ax, ay, removed[k - 1][0] if k > 0 else before)
            if self._fixation_open:
                if emptied or run.offset - run.onset + self._interval() < self._min_duration - TIME_EPS_S:
                    events.append(FixationEvent("cancel", as_reported, self._now))
                else:
                    self._end(run, self._now, events)
                self._fixation = None
            self._run = None
            self._fixation_open = False
        if self._fixation is not None:
            self._end(self._fixation, self._now, events)
            self._fixation = None
        self._trim_until = None

    def _pursuit_sample(self, sample: Sample, events: list[DetectorEvent]) -> None:
        window = self._window
        pursuit = self._pursuit
        assert pursuit is not None
        window.add(sample, False)
        t = sample[0]
        while t - window.samples[0][0] > self._stop_window + TIME_EPS_S:
            pursuit.add(window.pop(False))
        if pursuit.offset - self._last_pursuit_event_t >= self._update_interval_s:
            self._last_pursuit_event_t = pursuit.offset
            events.append(MovementEvent("update", pursuit.movement(self._pursuit_id, self._interval()), self._now))
        if window.span() >= self._stop_window - 0.5 * self._interval():
            bx, by = window.slope()
            if math.hypot(bx, by) < self._stop_speed:
                self._end_pursuit(events)
                # The still window begins a fixation candidate.
                self._phase = _FIXATION
                self._stretch_t = -math.inf
                self._popped_t = -math.inf
                for kept in list(window.samples):
                    window.pop(False)
                    had_run = self._run is not None
                    IVTDetector._slow(self, *kept, events)
                    if not had_run and self._run is not None:
                        self._segment_run_t = kept[0]
                    window.add(kept, self._directions)

    def _end_pursuit(self, events: list[DetectorEvent]) -> None:
        pursuit = self._pursuit
        assert pursuit is not None
        _, _, _, ax0, ay0, _ = pursuit.first
        _, _, _, ax1, ay1, _ = pursuit.last
        length = math.hypot(ax1 - ax0, ay1 - ay0)
        if length > 0.0:
            self._last_pursuit_end = pursuit.offset
            self._last_pursuit_direction = ((ax1 - ax0) / length, (ay1 - ay0) / length)
        events.append(MovementEvent("end", pursuit.movement(self._pursuit_id, self._interval()), self._now))
        self._pursuit = None

    def _end_stretch(self, events: list[DetectorEvent]) -> None:
        """A saccade or a long loss ends the stretch of slow samples: decide it as a whole."""
        if self._phase == _PURSUIT:
            pursuit = self._pursuit
            assert pursuit is not None
            for sample in self._window.samples:
                pursuit.add(sample)
            self._end_pursuit(events)
        elif self._phase == _FIXATION and self._is_pursuit(self._window):
            self._begin_pursuit(events)
            self._end_stretch(events)
            return
        self._window.clear()
        self._phase = _NONE
        self._segment_run_t = math.inf
        self._popped_t = -math.inf

    # -- saccades, PSOs, blinks ------------------------------------------------------------

    def _next(self, kind: str) -> int:
        number = self._ids.get(kind, 0) + 1
        self._ids[kind] = number
        return number

    def _close_fast_run(self) -> None:
        run = self._fast_run
        assert run is not None
        self._fast_run = None
        if self._fast_is_pso:
            return
        self._saccade = run
        self._after_saccade = []

    def _drop_saccade(self) -> None:
        self._saccade = None
        self._after_saccade = []

    def _report_saccade(self, next_onset: float, events: list[DetectorEvent]) -> None:
        """Report the waiting saccade, and its PSO: the samples before `next_onset` when close enough."""
        saccade = self._saccade
        assert saccade is not None
        interval = self._interval()
        events.append(MovementEvent("end", saccade.movement(self._next("saccade"), interval), self._now))
        if next_onset - saccade.offset <= self._max_pso + interval + TIME_EPS_S:
            pso_samples = [sample for sample in self._after_saccade if sample[0] < next_onset]
            if pso_samples:
                pso = _MovementBuilder("pso", pso_samples[0])
                for sample in pso_samples[1:]:
                    pso.add(sample)
                events.append(MovementEvent("end", pso.movement(self._next("pso"), interval), self._now))
        self._drop_saccade()

    def _end_blink(self, events: list[DetectorEvent]) -> None:
        blink = self._blink
        assert blink is not None
        self._blink = None
        if self._blink_long:
            events.append(MovementEvent("end", blink.movement(self._next("blink"), self._interval()), self._now))


def _onset_index(samples: list[Sample], bx: float, by: float, min_moving: int, min_still_s: float, gain: float) -> int:
    """Where in `samples` the movement along (bx, by) began: still before, moving after.

    Least squares over the position along the direction of movement: a constant before the
    onset, a straight line from it on; the onset minimising the summed squared error, with
    at least `min_moving` samples moving and at least `min_still_s` still. 0 (the whole
    window moves) unless that split leaves at most `gain` of the one line's squared error.
    """
    n = len(samples)
    speed = math.hypot(bx, by)
    if n <= min_moving or speed == 0.0:
        return 0
    ux, uy = bx / speed, by / speed
    t0 = samples[0][0]
    ts = [sample[0] - t0 for sample in samples]
    ss = [sample[3] * ux + sample[4] * uy for sample in samples]
    # Suffix sums for the line after the onset, prefix sums for the constant before it.
    st = stt = s1 = sts = sss = 0.0
    suffix = [(0.0, 0.0, 0.0, 0.0, 0.0)] * (n + 1)
    for k in range(n - 1, -1, -1):
        t, v = ts[k], ss[k]
        st += t
        stt += t * t
        s1 += v
        sts += t * v
        sss += v * v
        suffix[k] = (st, stt, s1, sts, sss)
    whole = best = math.inf
    best_k = 0
    left_s = left_ss = 0.0
    for k in range(n - min_moving + 1):
        if k == 0 or ts[k - 1] >= min_still_s - TIME_EPS_S:
            m = n - k
            st, stt, s1, sts, sss = suffix[k]
            denominator = m * stt - st * st
            line = sss - s1 * s1 / m - ((m * sts - st * s1) ** 2 / (m * denominator) if denominator > 0.0 else 0.0)
            error = line + (left_ss - left_s * left_s / k if k else 0.0)
            if k == 0:
                whole = error
            if error < best:
                best, best_k = error, k
        left_s += ss[k]
        left_ss += ss[k] * ss[k]
    return best_k if best <= gain * whole else 0


def _onset(event: DetectorEvent) -> float:
    return event.fixation.onset if isinstance(event, FixationEvent) else event.movement.onset
