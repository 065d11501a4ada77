"""Tracker specs: every form, and one clear error for a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from gazefusion.fusion.config import ScreenConfig, TrackerConfig
from gazefusion.fusion.errors import TrackerError
from gazefusion.trackers import open_tracker
from gazefusion.trackers.mock import MouseTracker, ReplayTracker, ScriptedTracker


def _open(spec: str, config: TrackerConfig | None = None):
    return open_tracker(spec, config or TrackerConfig(), ScreenConfig())


def test_mock_forms() -> None:
    tracker = _open("mock")
    assert isinstance(tracker, ScriptedTracker) and tracker.realtime and tracker.sample_rate_hz == 500
    tracker = _open("mock:12?rate=1000&eye=l&fast")
    assert (tracker.script.seed, tracker.sample_rate_hz, tracker.eye, tracker.realtime) == (12, 1000, "l", False)
    assert _open("mock", TrackerConfig(stream_rate_hz=60)).sample_rate_hz == 60


def test_replay_forms(tmp_path: Path) -> None:
    (tmp_path / "gaze.tsv").write_text("t\tx\ty\n")
    assert _open(f"replay:{tmp_path}").speed == 1.0
    assert _open(f"replay:{tmp_path}?fast").speed is None
    assert _open(f"replay:{tmp_path / 'gaze.tsv'}?speed=2.5").speed == 2.5
    assert isinstance(_open(f"replay:{tmp_path}?speed=fast"), ReplayTracker)


def test_mouse_form() -> None:
    assert isinstance(_open("mouse"), MouseTracker)


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("eyelink://1.2.3.4", "unknown tracker"),
        ("mock:abc", "seed 'abc' is not an integer"),
        ("mock?rate=-5", "must be positive"),
        ("mock?eye=x", "eye='x'"),
        ("mock?color=red", "unknown option 'color'"),
        ("replay:", "no session folder"),
        ("replay:/x?speed=0", "must be positive"),
        ("iviewx://10.0.0.2:99999", "not a port number"),
        ("iviewx://10.0.0.2:4444?listen=abc", "listen 'abc' is not a port number"),
        ("iviewx://10.0.0.2:4444?rate=5", "unknown option 'rate'"),
        ("iviewx:10.0.0.2", "expected iviewx://HOST:PORT"),
    ],
    ids=[
        "unknown",
        "bad-seed",
        "bad-rate",
        "bad-eye",
        "bad-option",
        "replay-empty",
        "replay-speed",
        "iviewx-port",
        "iviewx-listen",
        "iviewx-option",
        "iviewx-no-slashes",
    ],
)
def test_bad_specs(spec: str, fragment: str) -> None:
    with pytest.raises(TrackerError) as info:
        _open(spec)
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert "iviewx://HOST:PORT?listen=PORT" in message and "mock" in message
