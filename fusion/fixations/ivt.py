"""I-VT: velocity-threshold identification with the Tobii I-VT filter's post-processing.

Stages, each incremental (Olsen 2012, "The Tobii I-VT Fixation Filter", with an optional
adaptive threshold after Nyström & Holmqvist 2010):

1. Noise reduction. A moving median over ``median_window_s`` (centred) of the positions in
   degrees, per axis, removes single-sample spikes before the velocity is taken.
2. Velocity. Each valid sample's angular velocity is the least-squares slope of the filtered
   x and y against time over ``velocity_window_s`` centred on it: a Savitzky-Golay-like
   first derivative. Windows do not bridge losses; at low sampling rates the velocity window
   widens to reach the neighbouring samples (1.5 sampling intervals). Both windows need
   lookahead, so a sample is classified ``(median_window_s + velocity_window_s) / 2`` after
   it arrives (12 ms with the defaults).
3. Threshold. A sample is a fixation sample when its velocity is below the threshold. By
   default the threshold adapts to the noise of the recording: mean + ``noise_sd_factor`` x
   SD of the velocity of recent fixation samples (running estimates with time constant
   ``noise_tau_s``), kept between ``min_threshold_deg_s`` and ``max_threshold_deg_s``; it is
   ``velocity_threshold_deg_s`` until 20 fixation samples have been seen, and always with
   ``noise_sd_factor = 0`` (the fixed threshold of the Tobii filter).
4. Candidates. Consecutive fixation samples form a candidate. The first ``onset_trim_s``
   after a saccade is dropped (the post-saccadic oscillation, which coders do not count as
   fixation), and so is the last ``offset_trim_s`` before one; around a long loss (a blink)
   ``loss_trim_before_s`` and ``loss_trim_after_s``. A loss up to ``max_gap_s`` pauses a
   candidate or fixation (gap fill); a longer one ends it at its last valid sample.
5. Merge. A candidate that begins within ``max_time_between_s`` of the previous fixation's
   end and whose centroid is within ``max_angle_deg`` of it continues that fixation.
6. Minimum duration. A candidate not merged becomes a fixation once it lasts
   ``min_duration_s``; shorter ones are discarded.

Events: ``start`` when a candidate becomes a fixation (a merged candidate continues the
previous fixation instead), ``update`` throttled by ``update_interval_s``, ``end`` once no
later candidate can merge any more (``max_time_between_s`` after its last sample, or at
once when a far-away candidate is confirmed or a long loss begins). Trims taken off the end
of a fixation leave its extent (``dispersion_deg``) as it was.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from operator import mul

from gazefusion.fusion.fixations.base import TIME_EPS_S, FixationBuilder, FixationDetector, Param
from gazefusion.fusion.fixations.registry import DETECTORS
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import DetectorEvent

_COMPACT_AT = 1024  # list length that triggers dropping samples behind every window
_REBASE_S = 600.0  # relative times are kept below this, s
_NOISE_WARMUP = 20  # fixation samples seen before the threshold adapts


@DETECTORS.register("ivt")
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
        "median_window_s": Param(0.01, "span of the moving median on positions before the velocity, s; 0: none", 0.0),
        "velocity_window_s": Param(0.014, "span of the velocity fit centred on each sample, s", 0.0),
        "velocity_threshold_deg_s": Param(
            30.0, "velocity threshold when not adaptive, and the start value when adaptive, deg/s", 0.0
        ),
        "noise_sd_factor": Param(4.0, "adaptive threshold = noise mean + this x noise SD; 0: fixed threshold", 0.0),
        "min_threshold_deg_s": Param(25.0, "lower bound of the adaptive threshold, deg/s", 0.0),
        "max_threshold_deg_s": Param(100.0, "upper bound of the adaptive threshold, deg/s", 0.0),
        "noise_tau_s": Param(2.0, "time constant of the running noise estimate, s", 0.001),
        "max_gap_s": Param(0.075, "a loss up to this long pauses a fixation, a longer one ends it, s", 0.0),
        "max_time_between_s": Param(0.075, "merge fixations separated by at most this long, s", 0.0),
        "max_angle_deg": Param(0.25, "merge fixations whose centroids are at most this far apart, deg", 0.0),
        "min_duration_s": Param(0.06, "shortest fixation kept, s", 0.0),
        "onset_trim_s": Param(0.004, "dropped from the start of a candidate after a saccade, s", 0.0),
        "offset_trim_s": Param(0.0, "dropped from the end of a candidate before a saccade, s", 0.0),
        "loss_trim_after_s": Param(0.0, "dropped after a long loss before a candidate may begin, s", 0.0),
        "loss_trim_before_s": Param(0.0, "dropped from the end of a candidate before a long loss, s", 0.0),
    }

    def __init__(self, geometry: ScreenGeometry, params: Mapping[str, float] | None = None) -> None:
        super().__init__(geometry, params)
        p = self.params
        self._half_window = p["velocity_window_s"] / 2.0
        self._velocity_half = self._half_window
        self._vmax = p["max_threshold_deg_s"]
        self._vmin = p["min_threshold_deg_s"]
        self._sd_factor = p["noise_sd_factor"]
        self._tau = p["noise_tau_s"]
        self._max_gap = p["max_gap_s"]
        self._max_between = p["max_time_between_s"]
        self._max_angle = p["max_angle_deg"]
        self._min_duration = p["min_duration_s"]
        self._onset_trim = p["onset_trim_s"]
        self._offset_trim = p["offset_trim_s"]
        self._loss_trim_after = p["loss_trim_after_s"]
        self._loss_trim_before = p["loss_trim_before_s"]
        self.threshold_deg_s = p["velocity_threshold_deg_s"]
        self._noise_mean = 0.0
        self._noise_var = 0.0
        self._noise_n = 0
        # Delay line (stages 1 to 3): see the comment above _push.
        self._median_half = p["median_window_s"] / 2.0
        self._samples: list[tuple[float, float, float, float, float]] = []  # t, x, y, ax, ay
        self._rt: list[float] = []  # t - epoch, for a well-conditioned velocity fit
        self._ax: list[float] = []
        self._ay: list[float] = []
        self._valid: list[bool] = []
        self._seg: list[int] = []  # first sample number of the valid run each sample is in
        self._fx: list[float] = []  # median-filtered ax, ay
        self._fy: list[float] = []
        self._epoch = 0.0
        self._base = 0
        self._count = 0
        self._mnext = self._mlo = self._mhi = self._vnext = self._vlo = self._vhi = 0
        # Running sums of the velocity window [_vlo, _vhi): times relative to _vref.
        self._vref = 0.0
        self._vsums = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # t, t*t, x, y, t*x, t*y
        self._last_valid_t = -math.inf
        self._run: FixationBuilder | None = None
        self._trim_until: float | None = None
        self._loss_end_t = -math.inf
        self._in_loss = False
        # The candidate's newest samples, as far back as an offset trim may reach.
        self._tail: deque[tuple[float, float, float, float, float]] = deque()
        self._tail_s = max(self._offset_trim, self._loss_trim_before)
        self._fixation: FixationBuilder | None = None
        self._fixation_open = False
        self._now = -math.inf

    # -- stages 1 to 3: delay line, median, velocity, threshold -----------------------------
    # Samples live in parallel lists indexed by absolute sample number minus `_base`; those
    # before `_mnext` are filtered, before `_vnext` classified. The lists are compacted now
    # and then, so memory stays bounded by the windows.

    def _push(self, t: float, x: float, y: float, ax: float, ay: float, valid: bool) -> list[DetectorEvent]:
        events: list[DetectorEvent] = []
        count = self._count
        if count == 0:
            self._epoch = t
        rel = t - self._epoch
        if rel > _REBASE_S:
            self._rebase(rel)
            rel = t - self._epoch
        valids, seg = self._valid, self._seg
        seg.append(seg[-1] if valid and count and valids[-1] else count)
        valids.append(valid)
        self._samples.append((t, x, y, ax, ay))
        self._rt.append(rel)
        self._ax.append(ax)
        self._ay.append(ay)
        self._count = count + 1
        self._advance(rel, t, events)
        if len(valids) > _COMPACT_AT:
            self._compact()
        return events

    def _advance(self, rel: float, t: float, events: list[DetectorEvent]) -> None:
        """Filter and classify every sample whose lookahead is complete at relative time `rel`."""
        rt, base, count = self._rt, self._base, self._count
        ready = rel - self._median_half + TIME_EPS_S  # samples up to this have their lookahead
        mnext = self._mnext
        while mnext < count and rt[mnext - base] <= ready:
            self._filter(mnext - base)
            mnext += 1
        self._mnext = mnext
        if mnext == 0:
            return
        # At the end of input (rel = inf) every filtered sample is decided.
        newest = rt[mnext - 1 - base] if rel < math.inf else math.inf
        # At low sampling rates the window still reaches the neighbouring samples.
        half_v = 1.5 * self._interval_s  # nan before the second sample: compares false
        if not half_v > self._half_window:
            half_v = self._half_window
        self._velocity_half = half_v
        ready = newest - half_v + TIME_EPS_S
        vnext = self._vnext
        while vnext < mnext and rt[vnext - base] <= ready:
            self._decide(vnext - base, t, events)
            vnext += 1
        self._vnext = vnext

    def _filter(self, p: int) -> None:
        """Median of the contiguous valid positions within ``median_window_s / 2`` of `p`."""
        if not self._valid[p]:
            self._fx.append(math.nan)
            self._fy.append(math.nan)
            return
        ax, ay = self._ax, self._ay
        half = self._median_half
        if half <= 0.0:
            self._fx.append(ax[p])
            self._fy.append(ay[p])
            return
        rt, seg, base = self._rt, self._seg, self._base
        t0, segment = rt[p], seg[p]
        # Both ends only move forward; a new valid run begins past the old window.
        lo = self._mlo if self._mlo > segment else segment
        lo -= base
        first = t0 - half - TIME_EPS_S
        while rt[lo] < first:
            lo += 1
        self._mlo = lo + base
        hi, end = self._mhi - base, len(rt)
        if hi <= p:
            hi = p + 1
        last = t0 + half + TIME_EPS_S
        while hi < end and seg[hi] == segment and rt[hi] <= last:
            hi += 1
        self._mhi = hi + base
        xs = sorted(ax[lo:hi])
        ys = sorted(ay[lo:hi])
        middle = len(xs) >> 1
        if len(xs) & 1:
            self._fx.append(xs[middle])
            self._fy.append(ys[middle])
        else:
            self._fx.append(0.5 * (xs[middle - 1] + xs[middle]))
            self._fy.append(0.5 * (ys[middle - 1] + ys[middle]))

    def _velocity(self, p: int) -> float:
        """Least-squares slope of the filtered positions within ``velocity_window_s / 2`` of `p`, deg/s.

        The window [_vlo, _vhi) slides with `p` and its sums are kept running (O(1) per
        sample at any rate). They are taken again from scratch when a new valid run begins,
        when the window emptied or shrank at its end (a low rate's half window follows the
        interval estimate), and when their reference time is a second old, so rounding
        cannot build up.
        """
        rt, seg, base = self._rt, self._seg, self._base
        fx, fy = self._fx, self._fy
        half = self._velocity_half
        t0, segment = rt[p], seg[p]
        old_lo, old_hi = self._vlo, self._vhi
        again = old_lo < segment or t0 - self._vref > 1.0
        lo = (old_lo if old_lo > segment else segment) - base
        first, last = t0 - half - TIME_EPS_S, t0 + half + TIME_EPS_S
        while rt[lo] < first:
            lo += 1
        hi = old_hi - base
        if lo >= hi:  # the window emptied
            hi = lo
            again = True
        while hi > p + 1 and rt[hi - 1] > last:
            hi -= 1
            again = True
        end = self._mnext - base
        while hi < end and seg[hi] == segment and rt[hi] <= last:
            hi += 1
        if again:
            self._vref = t0
            ts = [rt[q] - t0 for q in range(lo, hi)]
            xs, ys = fx[lo:hi], fy[lo:hi]
            st, stt = sum(ts), sum(map(mul, ts, ts))
            sx, sy = sum(xs), sum(ys)
            stx, sty = sum(map(mul, ts, xs)), sum(map(mul, ts, ys))
        else:
            ref = self._vref
            st, stt, sx, sy, stx, sty = self._vsums
            for q in range(old_lo - base, lo):
                r, x, y = rt[q] - ref, fx[q], fy[q]
                st -= r
                stt -= r * r
                sx -= x
                sy -= y
                stx -= r * x
                sty -= r * y
            for q in range(old_hi - base, hi):
                r, x, y = rt[q] - ref, fx[q], fy[q]
                st += r
                stt += r * r
                sx += x
                sy += y
                stx += r * x
                sty += r * y
        self._vsums = (st, stt, sx, sy, stx, sty)
        self._vlo, self._vhi = lo + base, hi + base
        n = hi - lo
        if n < 2:
            return math.inf
        denominator = n * stt - st * st
        if denominator <= 0.0:
            return math.inf
        return float(math.hypot(n * stx - st * sx, n * sty - st * sy) / denominator)

    def _compact(self) -> None:
        """Drop list entries no window can reach any more."""
        keep_from = min(self._mlo, self._vlo, self._vnext) - self._base
        if keep_from <= 0:
            return
        for values in (self._samples, self._rt, self._ax, self._ay, self._valid, self._seg, self._fx, self._fy):
            del values[:keep_from]
        self._base += keep_from

    def _rebase(self, rel: float) -> None:
        """Move the epoch of the relative times forward (keeps the velocity fit precise)."""
        self._epoch += rel
        self._vref -= rel
        self._rt[:] = [value - rel for value in self._rt]

    def _decide(self, p: int, now: float, events: list[DetectorEvent]) -> None:
        """Classify sample at list position `p`; `now` is the newest sample's time."""
        t, x, y, ax, ay = self._samples[p]
        valid = self._valid[p]
        self._now = now
        if not valid:
            self._invalid(t, events)
            return
        if t - self._last_valid_t > self._max_gap + TIME_EPS_S and self._last_valid_t > -math.inf:
            self._lost(t, events)
        if self._in_loss:
            self._in_loss = False
            self._loss_end_t = t
        self._last_valid_t = t
        velocity = self._velocity(p)
        if velocity < self.threshold_deg_s:
            if self._sd_factor > 0.0:
                # Running mean and variance of fixation-sample velocity (written out: this
                # runs for nearly every sample): a cumulative average at first, then
                # exponential with time constant noise_tau_s; the threshold follows them.
                n = self._noise_n = self._noise_n + 1
                alpha = self._interval_s / self._tau
                if not alpha * n > 1.0:  # also when the interval is still nan
                    alpha = 1.0 / n
                delta = velocity - self._noise_mean
                self._noise_mean += alpha * delta
                self._noise_var = (1.0 - alpha) * (self._noise_var + alpha * delta * delta)
                if n >= _NOISE_WARMUP:
                    threshold = self._noise_mean + self._sd_factor * math.sqrt(self._noise_var)
                    self.threshold_deg_s = (
                        self._vmin if threshold < self._vmin else self._vmax if threshold > self._vmax else threshold
                    )
            self._slow(t, x, y, ax, ay, velocity, events)
        else:
            self._fast(t, x, y, ax, ay, velocity, events)

    # -- stages 4 to 6: candidates, merging, minimum duration ------------------------------------
    # _slow and _fast take each valid sample once classified: subclasses that tell more
    # movements apart (fusion.fixations.ivdt) hook in there.

    def _slow(
        self, t: float, x: float, y: float, ax: float, ay: float, velocity: float, events: list[DetectorEvent]
    ) -> None:
        """A sample below the velocity threshold (`velocity` in deg/s)."""
        run = self._run
        if run is not None and self._fixation_open and not self._tail_s:
            # The common case, kept short: one more sample of a running fixation.
            run.add(t, x, y, ax, ay)
            if t - self._last_event_t >= self._update_interval_s:
                self._update(run, self._now, events)
            return
        self._fixation_sample(t, x, y, ax, ay, events)

    def _fast(
        self, t: float, x: float, y: float, ax: float, ay: float, velocity: float, events: list[DetectorEvent]
    ) -> None:
        """A sample at or above the velocity threshold (`velocity` in deg/s)."""
        self._saccade_sample(t, events)

    def _fixation_sample(self, t: float, x: float, y: float, ax: float, ay: float, events: list[DetectorEvent]) -> None:
        run = self._run
        if run is None:
            self._end_if_unmergeable(t, events)
            if self._trim_until is None:
                self._trim_until = max(t + self._onset_trim, self._loss_end_t + self._loss_trim_after)
            if t < self._trim_until - TIME_EPS_S:
                return
            self._run = FixationBuilder(t, x, y, ax, ay)
            run = self._run
            self._tail.clear()
        else:
            run.add(t, x, y, ax, ay)
        if self._tail_s > 0.0:
            tail = self._tail
            tail.append((t, x, y, ax, ay))
            # Keep one sample older than the trim reach: it becomes the offset after a trim.
            while len(tail) > 2 and t - tail[1][0] > self._tail_s + TIME_EPS_S:
                tail.popleft()
        if self._fixation_open:
            self._update(run, self._now, events)
        elif run.offset - run.onset + self._interval() >= self._min_duration - TIME_EPS_S:
            self._confirm(run, t, events)

    def _confirm(self, run: FixationBuilder, t: float, events: list[DetectorEvent]) -> None:
        """A long enough candidate: continues the previous fixation or starts a new one."""
        fixation = self._fixation
        if fixation is not None and self._mergeable(fixation, run):
            fixation.absorb(run)
            self._run = fixation
            self._update(fixation, self._now, events)
        else:
            if fixation is not None:
                self._end(fixation, self._now, events)
            self._fixation = run
            self._start(run, self._now, events)
        self._fixation_open = True

    def _mergeable(self, fixation: FixationBuilder, run: FixationBuilder) -> bool:
        return (
            run.onset - fixation.offset <= self._max_between + TIME_EPS_S
            and fixation.distance_deg(run) <= self._max_angle
        )

    def _close_run(self, trim_s: float) -> None:
        """The candidate ends (a saccade sample or a long loss); its last `trim_s` is dropped."""
        run = self._run
        if run is not None:
            if trim_s > 0.0:
                self._trim_tail(run, run.offset - trim_s)
            if (
                run.n > 0
                and not self._fixation_open
                and self._fixation is not None
                and self._mergeable(self._fixation, run)
            ):
                self._fixation.absorb(run)
            self._run = None
            self._fixation_open = False
        self._trim_until = None

    def _trim_tail(self, run: FixationBuilder, keep_until: float) -> None:
        tail = self._tail
        while tail and tail[-1][0] > keep_until + TIME_EPS_S and run.n > 1:
            sample = tail.pop()
            run.remove(*sample, tail[-1][0] if tail else run.onset)
        tail.clear()

    def _end_if_unmergeable(self, t: float, events: list[DetectorEvent]) -> None:
        fixation = self._fixation
        if fixation is not None and not self._fixation_open and self._run is None:
            if t - fixation.offset > self._max_between + TIME_EPS_S:
                self._end(fixation, self._now, events)
                self._fixation = None

    def _saccade_sample(self, t: float, events: list[DetectorEvent]) -> None:
        self._close_run(self._offset_trim)
        self._end_if_unmergeable(t, events)

    def _invalid(self, t: float, events: list[DetectorEvent]) -> None:
        """A lost sample (invalid, or x or y not finite)."""
        self._lost(t, events)

    def _lost(self, t: float, events: list[DetectorEvent]) -> None:
        if t - self._last_valid_t <= self._max_gap + TIME_EPS_S:
            return
        self._in_loss = True
        self._close_run(self._loss_trim_before)
        if self._fixation is not None:
            self._end(self._fixation, self._now, events)
            self._fixation = None

    def _flush(self) -> list[DetectorEvent]:
        events: list[DetectorEvent] = []
        self._advance(math.inf, self._last_t, events)
        self._close_run(0.0)
        if self._fixation is not None:
            self._end(self._fixation, self._last_t, events)
            self._fixation = None
        return events
