"""I-DT: dispersion-threshold identification (Salvucci & Goldberg 2000), incremental.

A fixation is a run of samples whose dispersion, ``(max x - min x) + (max y - min y)`` in
degrees, stays within ``dispersion_deg`` for at least ``min_duration_s``. Online form: the
candidate window is the longest run ending at the newest sample that keeps the dispersion
within the threshold (running minima and maxima in monotonic deques, O(1) amortised per
sample). Once it spans ``min_duration_s`` the fixation starts; it grows while the next
sample keeps the dispersion within the threshold and ends at the first sample that does not
(that sample begins the next candidate window).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from gazefusion.fusion.fixations.base import TIME_EPS_S, FixationBuilder, FixationDetector, Param
from gazefusion.fusion.fixations.registry import DETECTORS
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import DetectorEvent


class _MonotonicWindow:
    """Sliding minimum and maximum of one coordinate over a window popped from the front."""

    __slots__ = ("_min", "_max")

    def __init__(self) -> None:
        self._min: deque[tuple[int, float]] = deque()
        self._max: deque[tuple[int, float]] = deque()

    def push(self, index: int, value: float) -> None:
        mins, maxs = self._min, self._max
        while mins and mins[-1][1] >= value:
            mins.pop()
        mins.append((index, value))
        while maxs and maxs[-1][1] <= value:
            maxs.pop()
        maxs.append((index, value))

    def drop_before(self, index: int) -> None:
        while self._min[0][0] < index:
            self._min.popleft()
        while self._max[0][0] < index:
            self._max.popleft()

    def clear(self) -> None:
        self._min.clear()
        self._max.clear()

    def range_with(self, value: float) -> float:
        return max(self._max[0][1], value) - min(self._min[0][1], value)


@DETECTORS.register("idt")
class IDTDetector(FixationDetector):
    """Dispersion-threshold fixation detector (I-DT), incremental.

    Parameters
    ----------
    geometry : ScreenGeometry
        The tracked screen.
    params : Mapping[str, float] or None
        Overrides of `PARAMS` (see :data:`IDTDetector.PARAMS`). (default: None)
    """

    name = "idt"
    PARAMS = {
        "dispersion_deg": Param(1.0, "maximum (x range + y range) of a fixation, degrees", 0.0),
        "min_duration_s": Param(0.1, "shortest fixation, s", 0.0),
        "max_gap_s": Param(0.075, "a loss of tracking up to this long pauses a fixation; longer ends it, s", 0.0),
    }

    def __init__(self, geometry: ScreenGeometry, params: Mapping[str, float] | None = None) -> None:
        super().__init__(geometry, params)
        self._threshold = self.params["dispersion_deg"]
        self._min_duration = self.params["min_duration_s"]
        self._max_gap = self.params["max_gap_s"]
        # Candidate window: samples (index, t, x, y, ax, ay) and their running extents.
        self._window: deque[tuple[int, float, float, float, float, float]] = deque()
        self._wx = _MonotonicWindow()
        self._wy = _MonotonicWindow()
        self._index = 0
        self._fixation: FixationBuilder | None = None
        self._last_valid_t = float("-inf")

    def _push(self, t: float, x: float, y: float, ax: float, ay: float, valid: bool) -> list[DetectorEvent]:
        events: list[DetectorEvent] = []
        if not valid:
            if t - self._last_valid_t > self._max_gap + TIME_EPS_S:
                self._lost(t, events)
            return events
        if t - self._last_valid_t > self._max_gap + TIME_EPS_S:
            self._lost(t, events)
        self._last_valid_t = t
        fixation = self._fixation
        if fixation is not None:
            if (max(fixation.max_ax, ax) - min(fixation.min_ax, ax)) + (
                max(fixation.max_ay, ay) - min(fixation.min_ay, ay)
            ) <= self._threshold:
                fixation.add(t, x, y, ax, ay)
                self._update(fixation, t, events)
                return events
            self._end(fixation, t, events)
            self._fixation = None
        self._add_to_window(t, x, y, ax, ay, events)
        return events

    def _add_to_window(self, t: float, x: float, y: float, ax: float, ay: float, events: list[DetectorEvent]) -> None:
        window, wx, wy = self._window, self._wx, self._wy
        index = self._index
        self._index += 1
        # Drop the oldest samples until the new one fits within the threshold.
        while window and wx.range_with(ax) + wy.range_with(ay) > self._threshold:
            window.popleft()
            if window:
                wx.drop_before(window[0][0])
                wy.drop_before(window[0][0])
            else:
                wx.clear()
                wy.clear()
        window.append((index, t, x, y, ax, ay))
        wx.push(index, ax)
        wy.push(index, ay)
        if t - window[0][1] >= self._min_duration - TIME_EPS_S:
            _, t0, x0, y0, ax0, ay0 = window[0]
            fixation = FixationBuilder(t0, x0, y0, ax0, ay0)
            for i in range(1, len(window)):
                _, ti, xi, yi, axi, ayi = window[i]
                fixation.add(ti, xi, yi, axi, ayi)
            self._clear_window()
            self._fixation = fixation
            self._start(fixation, t, events)

    def _clear_window(self) -> None:
        self._window.clear()
        self._wx.clear()
        self._wy.clear()

    def _lost(self, t: float, events: list[DetectorEvent]) -> None:
        if self._fixation is not None:
            self._end(self._fixation, t, events)
            self._fixation = None
        self._clear_window()

    def _flush(self) -> list[DetectorEvent]:
        events: list[DetectorEvent] = []
        self._lost(self._last_t, events)
        return events
