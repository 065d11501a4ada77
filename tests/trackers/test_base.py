"""The shared bookkeeping of every tracker: order, buffer overflow, gaps, duplicates, restarts, stalls."""

from __future__ import annotations

import math
import time

import pytest

from gazefusion.trackers.base import Tracker, binocular_sample, eye_gaze, monocular_sample


class _Fed(Tracker):
    """A tracker fed by the test itself (the producer side called directly)."""

    def feed(self, *tracker_ts: float, x: float = 100.0) -> None:
        for tt in tracker_ts:
            self._push_sample(monocular_sample(time.monotonic(), tt, "r", eye_gaze(x + tt, 50.0)))


def _drain(tracker: Tracker) -> list[float]:
    return [s.tracker_t for s in iter(lambda: tracker.get_sample(0), None)]


def test_in_order_and_stats() -> None:
    with _Fed(sample_rate_hz=1000) as tracker:
        tracker.feed(0.000, 0.001, 0.002)
        assert _drain(tracker) == [0.000, 0.001, 0.002]
        assert tracker.stats().received == 3
        assert tracker.latest_sample().tracker_t == 0.002


def test_overflow_is_counted_never_silent() -> None:
    with _Fed(sample_rate_hz=1000, queue_samples=5) as tracker:
        tracker.feed(*[i / 1000 for i in range(8)])
        assert _drain(tracker) == [i / 1000 for i in range(5)]
        stats = tracker.stats()
        assert (stats.received, stats.dropped) == (5, 3)


@pytest.mark.parametrize(
    "times, gaps",
    [([0, 0.001, 0.004], 2), ([0, 0.002, 0.003], 1), ([0, 0.001, 0.002], 0)],
    ids=["two-missing", "one-missing", "none-missing"],
)
def test_gaps_from_rate_and_clock(times: list[float], gaps: int) -> None:
    with _Fed(sample_rate_hz=1000) as tracker:
        tracker.feed(*times)
        assert tracker.stats().gaps == gaps


def test_coarse_clock_does_not_make_gaps() -> None:
    # 2000 Hz with millisecond timestamps: every other timestamp repeats.
    with _Fed(sample_rate_hz=2000, clock_resolution_s=1e-3) as tracker:
        for i in range(20):
            tracker._push_sample(monocular_sample(time.monotonic(), (i // 2) / 1000, "r", eye_gaze(100.0 + i, 50.0)))
        stats = tracker.stats()
        assert (stats.received, stats.gaps, stats.duplicates) == (20, 0, 0)


def test_duplicate_is_dropped_and_counted() -> None:
    with _Fed(sample_rate_hz=1000) as tracker:
        tracker.feed(0.0, 0.001, 0.001, 0.002)
        assert _drain(tracker) == [0.0, 0.001, 0.002]
        assert tracker.stats().duplicates == 1


def test_late_sample_is_out_of_order_and_fills_its_gap() -> None:
    with _Fed(sample_rate_hz=1000) as tracker:
        tracker.feed(0.0, 0.002, 0.001, 0.003)
        assert _drain(tracker) == [0.0, 0.002, 0.001, 0.003]
        stats = tracker.stats()
        assert (stats.out_of_order, stats.gaps, stats.restarts) == (1, 0, 0)


def test_backwards_jump_is_a_restart() -> None:
    with _Fed(sample_rate_hz=1000) as tracker:
        tracker.feed(100.0, 100.001, 0.0, 0.001)
        stats = tracker.stats()
        assert (stats.restarts, stats.out_of_order, stats.gaps) == (1, 0, 0)
        event = tracker.next_event()
        assert event.kind == "restart" and event.get("from_s") == 100.001 and event.get("to_s") == 0.0


def test_stall_reported_once_then_resume() -> None:
    with _Fed(sample_rate_hz=1000, watchdog_s=0.5) as tracker:
        tracker.start_streaming()
        tracker.feed(0.0)
        now = tracker.latest_sample().t
        tracker._check_stall(now + 0.2)
        assert tracker.next_event() is None
        tracker._check_stall(now + 0.6)
        tracker._check_stall(now + 0.9)
        assert tracker.next_event().kind == "stall"
        assert tracker.next_event() is None
        tracker.feed(0.001)
        assert tracker.next_event().kind == "resume"
        assert tracker.stats().stalls == 1


def test_close_is_idempotent_and_ends_the_stream() -> None:
    tracker = _Fed(sample_rate_hz=1000)
    tracker.close()
    tracker.close()
    assert tracker.get_sample(None) is None and tracker.finished


def test_binocular_combined_gaze_is_the_mean_of_valid_eyes() -> None:
    both = binocular_sample(0.0, 0.0, eye_gaze(100, 200, 3.0), eye_gaze(110, 210, 4.0))
    assert (both.x, both.y, both.pupil, both.valid) == (105, 205, 3.5, True)
    one = binocular_sample(0.0, 0.0, eye_gaze(math.nan, math.nan), eye_gaze(110, 210, 4.0))
    assert (one.x, one.y, one.valid, one.left.valid) == (110, 210, True, False)
    none = binocular_sample(0.0, 0.0, eye_gaze(math.nan, math.nan), eye_gaze(math.nan, math.nan))
    assert none.valid is False and math.isnan(none.x) and none.left is not None


def test_zero_is_a_place_not_lost_tracking() -> None:
    corner = eye_gaze(0.0, 0.0, 0.0)
    assert corner.valid and (corner.x, corner.y, corner.pupil) == (0.0, 0.0, 0.0)
    lost = eye_gaze(math.inf, 10.0, 3.0)
    assert not lost.valid and math.isnan(lost.pupil)
