"""ScriptedGaze: determinism, the main sequence, blinks, noise in degrees, ground truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.script import GazeScript, ScriptedGaze, saccade_duration_s


def test_is_a_gaze_script(script: ScriptedGaze) -> None:
    assert isinstance(script, GazeScript)


def test_same_seed_same_gaze_whatever_the_call_order(geometry: ScreenGeometry) -> None:
    times = [i / 500 for i in range(2000)]
    a = ScriptedGaze(geometry, seed=3)
    b = ScriptedGaze(geometry, seed=3)
    forward = [a(t) for t in times]
    backward = [b(t) for t in reversed(times)][::-1]
    assert np.allclose(np.array(forward, dtype=float), np.array(backward, dtype=float), equal_nan=True)


def test_other_seed_other_gaze(geometry: ScreenGeometry) -> None:
    assert ScriptedGaze(geometry, seed=1)(0.1) != ScriptedGaze(geometry, seed=2)(0.1)


@pytest.mark.parametrize(
    "amplitude_deg, expected_ms", [(1.0, 23.2), (10.0, 43.0), (20.0, 65.0)], ids=["1deg", "10deg", "20deg"]
)
def test_main_sequence(amplitude_deg: float, expected_ms: float) -> None:
    assert saccade_duration_s(amplitude_deg) * 1000 == pytest.approx(expected_ms)


def test_saccades_follow_the_main_sequence(geometry: ScreenGeometry) -> None:
    script = ScriptedGaze(geometry, seed=5)
    saccades = [s for s in script.segments(20.0) if s.kind == "saccade"]
    assert len(saccades) > 10
    for s in saccades:
        amplitude = math.hypot(s.x1_deg - s.x0_deg, s.y1_deg - s.y0_deg)
        assert s.end_s - s.start_s == pytest.approx(saccade_duration_s(amplitude))


def test_blinks_are_lost_samples(geometry: ScreenGeometry) -> None:
    script = ScriptedGaze(geometry, seed=2, blink_probability=1.0)
    blinks = [s for s in script.segments(5.0) if s.kind == "blink"]
    assert blinks
    for blink in blinks:
        assert script((blink.start_s + blink.end_s) / 2)[2] is False


def test_fixational_noise_in_degrees(geometry: ScreenGeometry) -> None:
    script = ScriptedGaze(geometry, seed=4, targets=[(960, 540, 10.0)], drift_deg_s=0.0, noise_deg=0.05)
    xs, ys, _ = zip(*(script(i / 1000) for i in range(5000)))
    ax, ay = geometry.to_degrees(np.array(xs), np.array(ys))
    assert np.std(ax) == pytest.approx(0.05, rel=0.1)
    assert np.std(ay) == pytest.approx(0.05, rel=0.1)
    assert abs(np.mean(ax)) < 0.01 and abs(np.mean(ay)) < 0.01


def test_given_targets_and_durations_are_the_true_fixations(geometry: ScreenGeometry) -> None:
    targets = [(300, 200, 0.4), (1500, 800, 0.3)]
    script = ScriptedGaze(geometry, seed=0, targets=targets, blink_probability=0.0)
    truth = script.true_fixations(1.5)
    assert [(round(f.x_px), round(f.y_px)) for f in truth[:3]] == [(300, 200), (1500, 800), (300, 200)]
    assert truth[0].offset_s - truth[0].onset_s == pytest.approx(0.4)
    assert truth[1].offset_s - truth[1].onset_s == pytest.approx(0.3)
    # Mid-fixation, the gaze is on the target within noise and drift.
    x, y, valid = script((truth[1].onset_s + truth[1].offset_s) / 2)
    assert valid and math.hypot(x - 1500, y - 800) < 20


def test_pso_wobbles_after_landing(geometry: ScreenGeometry) -> None:
    kwargs = dict(targets=[(300, 540, 0.3), (1600, 540, 0.3)], blink_probability=0.0, noise_deg=0.0, drift_deg_s=0.0)
    plain = ScriptedGaze(geometry, seed=0, **kwargs)
    wobbly = ScriptedGaze(geometry, seed=0, pso_deg=0.5, **kwargs)
    landing = plain.true_fixations(1.0)[1].onset_s
    assert wobbly(landing + 0.01)[0] != pytest.approx(plain(landing + 0.01)[0], abs=1.0)
    assert wobbly(landing + 0.2)[0] == pytest.approx(plain(landing + 0.2)[0], abs=0.5)


def test_pursuit_follows_a_moving_target_with_catch_up_saccades(geometry: ScreenGeometry) -> None:
    script = ScriptedGaze(geometry, seed=9, pursuit_probability=1.0, pursuit_gain=0.8, catch_up_deg=0.5)
    segments = script.segments(30.0)
    pursuits = [s for s in segments if s.kind == "pursuit"]
    assert pursuits
    for index, seg in enumerate(segments[:-1]):
        if seg.kind != "pursuit":
            continue
        speed = math.hypot(seg.drift_x_deg_s, seg.drift_y_deg_s)
        assert 0.8 * 4.0 <= speed <= 0.8 * 15.0  # the gain times the target's speed
        moved = math.hypot(seg.x1_deg - seg.x0_deg, seg.y1_deg - seg.y0_deg)
        assert moved == pytest.approx(speed * (seg.end_s - seg.start_s), rel=1e-6)
        following = segments[index + 1]
        # A catch-up saccade when the lag reached catch_up_deg, or the target stopped: a fixation.
        assert following.kind in ("saccade", "fixation")
        if following.kind == "saccade":
            assert (1.0 - 0.8) * speed / 0.8 * (seg.end_s - seg.start_s) == pytest.approx(0.5, rel=1e-6)
        assert (following.x0_deg, following.y0_deg) == pytest.approx((seg.x1_deg, seg.y1_deg))
    truth = script.true_pursuits(30.0)
    assert [(p.onset_s, p.offset_s) for p in truth] == [(s.start_s, min(s.end_s, 30.0)) for s in pursuits]
    # The eye is where the script says, noise aside.
    first = truth[0]
    x, y, valid = script(first.onset_s + 1e-6)
    assert valid and math.hypot(x - first.start_x_px, y - first.start_y_px) < 5.0


def test_no_pursuit_unless_asked(geometry: ScreenGeometry) -> None:
    assert not [s for s in ScriptedGaze(geometry, seed=9).segments(60.0) if s.kind == "pursuit"]
    assert ScriptedGaze(geometry, seed=9).true_pursuits(60.0) == []
