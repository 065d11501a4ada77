"""The mock trackers: scripted (real time and fast), replay (fast and timed), mouse (error path, mapping)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from gazefusion.fusion.config import ScreenConfig, TrackerConfig
from gazefusion.fusion.errors import DisplayError, FileFormatError
from gazefusion.fusion.tables import TableWriter
from gazefusion.trackers import open_tracker
from gazefusion.trackers.gazetable import GAZE_COLUMNS, sample_to_row
from gazefusion.trackers.mock import MouseTracker, ReplayTracker, ScriptedTracker, window_to_screen
from gazefusion.trackers.script import ScriptedGaze


@pytest.mark.parametrize("eye", ["l", "r", "b"])
def test_scripted_fast_follows_the_script(script: ScriptedGaze, eye: str) -> None:
    with ScriptedTracker(script, rate_hz=250, eye=eye, realtime=False, duration_s=2.0) as tracker:
        tracker.start_streaming()
        samples = list(tracker.samples())
    assert len(samples) == 500 and tracker.finished
    assert [s.tracker_t for s in samples] == [i / 250 for i in range(500)]
    assert all(s.eye == eye for s in samples)
    lost = [s for s in samples if not s.valid]
    assert lost and all(math.isnan(s.x) for s in lost)  # the seed's blinks
    for s in samples[::25]:
        x, y, valid = script(s.tracker_t)
        assert s.valid == valid
        if valid:
            assert (s.x, s.y) == pytest.approx((x, y))
    assert tracker.stats().gaps == 0


def test_scripted_realtime_streams_in_order(script: ScriptedGaze) -> None:
    with ScriptedTracker(script, rate_hz=500, realtime=True, duration_s=0.2) as tracker:
        tracker.start_streaming()
        samples = list(tracker.samples(timeout_s=2.0))
    assert [s.tracker_t for s in samples] == [i / 500 for i in range(100)]
    assert all(b.t >= a.t for a, b in zip(samples, samples[1:]))


def _record(path: Path, script: ScriptedGaze, seconds: float = 0.5) -> list:
    with ScriptedTracker(script, rate_hz=200, realtime=False, duration_s=seconds) as tracker:
        tracker.start_streaming()
        samples = list(tracker.samples())
    with TableWriter(path, GAZE_COLUMNS) as writer:
        for sample in samples:
            writer.write(sample_to_row(sample))
    return samples


def test_replay_fast_gives_back_the_recording(tmp_path: Path, script: ScriptedGaze) -> None:
    recorded = _record(tmp_path / "gaze.tsv", script)
    with ReplayTracker(tmp_path) as tracker:
        tracker.start_streaming()
        replayed = list(tracker.samples())
    assert [repr(s) for s in replayed] == [repr(s) for s in recorded]
    assert tracker.sample_rate_hz == pytest.approx(200) and tracker.finished
    assert tracker.tracker_time() == recorded[-1].tracker_t


def test_replay_timed_keeps_order_and_tracker_time(tmp_path: Path, script: ScriptedGaze) -> None:
    recorded = _record(tmp_path / "gaze.tsv", script, seconds=0.25)
    with open_tracker(f"replay:{tmp_path / 'gaze.tsv'}?speed=4", TrackerConfig(), ScreenConfig()) as tracker:
        start = time.monotonic()
        tracker.start_streaming()
        replayed = list(tracker.samples(timeout_s=2.0))
    assert [s.tracker_t for s in replayed] == [s.tracker_t for s in recorded]
    assert [s.x for s in replayed[:5]] == [s.x for s in recorded[:5]]
    # Timed replay stamps host arrival, in order, from the start of streaming.
    assert replayed[0].t >= start and all(b.t >= a.t for a, b in zip(replayed, replayed[1:]))
    assert tracker.finished


def test_replay_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no gaze table"):
        ReplayTracker(tmp_path / "nothing")


def test_mouse_needs_a_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    tracker = MouseTracker((1920, 1080))
    with pytest.raises(DisplayError, match="mouse tracker needs a window"):
        tracker.open()
    tracker.close()


@pytest.mark.parametrize(
    "mouse, view, expected",
    [
        ((320, 240), (640, 480), (960, 540, True)),
        ((0, 0), (640, 480), (240, 0, True)),
        ((700, 10), (640, 480), (1815, 22.5, False)),
        ((100, 100), (1920, 1080), (100, 100, True)),
        ((0, 0), (1920, 540), (0, 270, True)),
    ],
    ids=["centre", "corner-pillarboxed", "off-image", "same-size", "letterboxed"],
)
def test_mouse_mapping(mouse: tuple, view: tuple, expected: tuple) -> None:
    assert window_to_screen(mouse[0], mouse[1], view, (1920, 1080)) == pytest.approx(expected)


def test_scripted_realtime_stop_and_restart_continue_the_clock(script: ScriptedGaze) -> None:
    with ScriptedTracker(script, rate_hz=500, realtime=True) as tracker:
        tracker.start_streaming()
        first = [tracker.get_sample(2.0) for _ in range(20)]
        tracker.stop_streaming()
        tracker.start_streaming()
        more = [tracker.get_sample(2.0) for _ in range(60)]
    times = [s.tracker_t for s in first + more]
    assert times == [i / 500 for i in range(80)]
    assert tracker.stats().gaps == 0
