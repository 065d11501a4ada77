"""The registered fixation detectors on synthetic gaze with known fixations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from gazefusion.fusion.errors import ConfigError
from gazefusion.fusion.fixations import DETECTORS, describe_params, make_detector
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import Fixation, FixationEvent

from .synthetic import LUND_SCREEN, Synthetic, make_gaze

METHODS = sorted(DETECTORS)
STEP_S = 1 / 500


def run(
    method: str, gaze: Synthetic, geometry: ScreenGeometry = LUND_SCREEN, params: dict[str, float] | None = None
) -> list[tuple[int, FixationEvent]]:
    """All fixation events with the index of the sample whose push returned them."""
    detector = make_detector(method, geometry, params)
    events = []
    for i, (t, x, y, v) in enumerate(zip(gaze.t.tolist(), gaze.x.tolist(), gaze.y.tolist(), gaze.valid.tolist())):
        events += [(i, e) for e in detector.push(t, x, y, v) if isinstance(e, FixationEvent)]
    events += [(len(gaze.t), e) for e in detector.flush() if isinstance(e, FixationEvent)]
    return events


def ends(events: list[tuple[int, FixationEvent]]) -> list[Fixation]:
    return [e.fixation for _, e in events if isinstance(e, FixationEvent) and e.kind == "end"]


def assert_matches_truth(found: list[Fixation], gaze: Synthetic, tolerance_s: float = 10 * STEP_S) -> None:
    assert len(found) == len(gaze.fixations)
    for fixation, (onset, offset), (cx, cy) in zip(found, gaze.fixations, gaze.centres):
        assert abs(fixation.onset - onset) <= tolerance_s
        assert abs(fixation.offset - offset) <= tolerance_s
        assert math.hypot(fixation.x - cx, fixation.y - cy) < 5


@pytest.mark.parametrize("method", METHODS)
def test_finds_every_fixation_with_onset_and_offset_within_a_few_samples(method: str) -> None:
    gaze = make_gaze(seed=3)
    found = ends(run(method, gaze))
    assert_matches_truth(found, gaze)
    for fixation in found:
        assert fixation.duration == pytest.approx(fixation.offset - fixation.onset + STEP_S, abs=1e-6)
        assert fixation.dispersion_deg < 1.0
        assert fixation.n_samples == pytest.approx(fixation.duration / STEP_S, abs=2)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("jitter", [0.3, 0.6], ids=["jitter30pct", "jitter60pct"])
def test_irregular_timestamps(method: str, jitter: float) -> None:
    gaze = make_gaze(seed=4, jitter=jitter)
    detector = make_detector(method, LUND_SCREEN)
    found = []
    for t, x, y in zip(gaze.t.tolist(), gaze.x.tolist(), gaze.y.tolist()):
        found += [e.fixation for e in detector.push(t, x, y, True) if isinstance(e, FixationEvent) and e.kind == "end"]
    found += [e.fixation for e in detector.flush() if isinstance(e, FixationEvent) and e.kind == "end"]
    assert_matches_truth(found, gaze, tolerance_s=14 * STEP_S)
    assert detector.sample_interval_s == pytest.approx(STEP_S, rel=0.25)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("rate_hz", [60.0, 120.0, 250.0, 1250.0], ids=["60Hz", "120Hz", "250Hz", "1250Hz"])
def test_sampling_rate_comes_from_the_data(method: str, rate_hz: float) -> None:
    gaze = make_gaze(seed=12, rate_hz=rate_hz)
    assert_matches_truth(ends(run(method, gaze)), gaze, tolerance_s=max(10 * STEP_S, 4 / rate_hz))


@pytest.mark.parametrize("method", METHODS)
def test_non_square_pixels_use_degrees_per_axis(method: str) -> None:
    # The same eye movements shown on a screen whose pixels are twice as tall as wide.
    square = ScreenGeometry(1024, 768, 380.0, 285.0, 670.0)
    tall = ScreenGeometry(1024, 768, 380.0, 570.0, 670.0)
    gaze = make_gaze(geometry=square, seed=6)
    ax, ay = square.to_degrees(gaze.x, gaze.y)
    x_tall, y_tall = tall.to_pixels(ax, ay)
    assert np.ptp(y_tall) < 0.6 * np.ptp(gaze.y)
    on_square = ends(run(method, gaze, geometry=square))
    on_tall = ends(run(method, Synthetic(gaze.t, x_tall, y_tall, gaze.valid, [], []), geometry=tall))
    assert_matches_truth(on_square, gaze)
    assert [(f.onset, f.offset, f.n_samples) for f in on_tall] == [(f.onset, f.offset, f.n_samples) for f in on_square]
    for a, b in zip(on_tall, on_square):
        assert a.dispersion_deg == pytest.approx(b.dispersion_deg, rel=1e-6)
    # Read as square pixels, the tall screen's gaze is squashed: the detections change.
    as_square = ends(run(method, Synthetic(gaze.t, x_tall, y_tall, gaze.valid, [], []), geometry=square))
    assert [f.dispersion_deg for f in as_square] != pytest.approx([f.dispersion_deg for f in on_square], rel=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_short_loss_pauses_a_fixation_and_a_long_loss_ends_it(method: str) -> None:
    gaze = make_gaze(seed=7, n_fixations=3, fixation_s=(0.6, 0.6))
    (on1, off1), (on2, off2), _ = gaze.fixations
    x, y, valid = gaze.x.copy(), gaze.y.copy(), gaze.valid.copy()
    short = (gaze.t > on1 + 0.2) & (gaze.t < on1 + 0.24)  # 40 ms: paused
    long = (gaze.t > on2 + 0.2) & (gaze.t < on2 + 0.35)  # 150 ms: ends the fixation
    x[short], y[short], valid[short] = 0.0, 0.0, False  # the iViewX "lost" reading
    x[long], y[long] = math.nan, math.nan
    found = ends(run(method, Synthetic(gaze.t, x, y, valid, gaze.fixations, gaze.centres)))
    assert len(found) == 4
    first, before_loss, after_loss, _ = found
    assert first.onset == pytest.approx(on1, abs=10 * STEP_S) and first.offset == pytest.approx(off1, abs=10 * STEP_S)
    assert first.n_samples < (off1 - on1) / STEP_S - 15  # the lost samples are not counted
    assert first.x == pytest.approx(gaze.centres[0][0], abs=5)  # nor used as (0, 0)
    lost_t = gaze.t[long]
    assert before_loss.offset < lost_t[0] <= before_loss.offset + 2 * STEP_S
    assert after_loss.onset >= lost_t[-1]


@pytest.mark.parametrize("method", METHODS)
def test_backwards_and_repeated_timestamps_are_skipped_and_counted(method: str) -> None:
    gaze = make_gaze(seed=8)
    clean = make_detector(method, LUND_SCREEN)
    messy = make_detector(method, LUND_SCREEN)
    clean_events, messy_events = [], []
    for i, (t, x, y) in enumerate(zip(gaze.t.tolist(), gaze.x.tolist(), gaze.y.tolist())):
        clean_events += clean.push(t, x, y, True)
        messy_events += messy.push(t, x, y, True)
        if i % 100 == 50:
            messy_events += messy.push(t, x + 300, y, True)  # repeated
            messy_events += messy.push(t - 0.5, x - 300, y, True)  # backwards
            messy_events += messy.push(math.nan, x, y, True)
    clean_events += clean.flush()
    messy_events += messy.flush()
    assert messy.skipped_samples == 3 * sum(1 for i in range(len(gaze.t)) if i % 100 == 50)
    assert clean.skipped_samples == 0
    assert messy_events == clean_events


@pytest.mark.parametrize("method", METHODS)
def test_events_are_online_ordered_and_prompt(method: str) -> None:
    gaze = make_gaze(seed=9, fixation_s=(0.5, 0.8))
    events = run(method, gaze)
    times = [e.t for _, e in events]
    assert times == sorted(times)
    by_id: dict[int, list[FixationEvent]] = {}
    for _, event in events:
        by_id.setdefault(event.fixation.id, []).append(event)
    assert sorted(by_id) == list(range(1, len(gaze.fixations) + 1))
    min_duration_s = make_detector(method, LUND_SCREEN).params["min_duration_s"]
    update_s = make_detector(method, LUND_SCREEN).params["update_interval_s"]
    for (onset, offset), fixation_events in zip(gaze.fixations, by_id.values()):
        kinds = [e.kind for e in fixation_events]
        assert kinds[0] == "start" and kinds[-1] == "end" and set(kinds[1:-1]) <= {"update"}
        start, end = fixation_events[0], fixation_events[-1]
        # The start comes once the minimum duration is reached, within a bounded lookahead.
        assert start.fixation.onset + min_duration_s <= start.t + 2 * STEP_S
        assert start.t <= onset + min_duration_s + 0.04
        assert end.t <= offset + make_detector(method, LUND_SCREEN).params.get("max_time_between_s", 0.0) + 0.05
        # Updates are throttled, and arrive while the fixation runs.
        updates = [e for e in fixation_events if e.kind == "update"]
        assert len(updates) >= int((offset - onset - min_duration_s) / update_s) - 2
        gaps = np.diff([e.fixation.offset for e in fixation_events[:-1]])
        assert np.all(gaps >= update_s - 1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_clock_far_from_zero_and_a_long_silence(method: str) -> None:
    # Tracker clocks count from boot; a silence of 20 minutes moves the detector's time base.
    gaze = make_gaze(seed=10, n_fixations=4)
    reference = ends(run(method, gaze))
    shift = 86_400.0
    t = np.concatenate([gaze.t + shift, gaze.t + shift + 1200.0])
    doubled = Synthetic(t, np.tile(gaze.x, 2), np.tile(gaze.y, 2), np.tile(gaze.valid, 2), [], [])
    found = ends(run(method, doubled))
    assert len(found) == 2 * len(reference)
    n = len(reference)
    for copy, offset_s in ((found[:n], shift), (found[n:], shift + 1200.0)):
        for got, want in zip(copy, reference):
            assert got.onset - offset_s == pytest.approx(want.onset, abs=1e-6)
            assert got.offset - offset_s == pytest.approx(want.offset, abs=1e-6)
            assert got.n_samples == want.n_samples


def all_final_events(
    method: str, t: np.ndarray, x: np.ndarray, y: np.ndarray, shift_s: float
) -> list[tuple[str, str, float, float, int]]:
    """Every final event (fixations, movements, cancels) of the gaze on a clock shifted by `shift_s`."""
    detector = make_detector(method, LUND_SCREEN)
    events = []
    for args in zip((t + shift_s).tolist(), x.tolist(), y.tolist()):
        events += detector.push(*args, True)
    found = []
    for event in events + detector.flush():
        if event.kind in ("end", "cancel"):
            what = event.fixation if isinstance(event, FixationEvent) else event.movement
            kind = "fixation" if isinstance(event, FixationEvent) else event.movement.kind
            found.append(
                (kind, event.kind, round(what.onset - shift_s, 6), round(what.offset - shift_s, 6), what.n_samples)
            )
    return found


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shift_s", [1000.0, 86_400.0, 1e6], ids=["1000s", "a-day", "1e6s"])
def test_a_pure_time_shift_changes_no_event(method: str, shift_s: float, lund_dir: Path) -> None:
    # Lund TH34 (500 Hz): spans there equal parameters (the 4 ms onset trim is two samples),
    # and rounding at a clock far from zero once moved fixation 6's onset by a sample. A
    # tracker grid at 1000 Hz puts window edges on samples too (the 10 ms median, 5 samples).
    table = np.genfromtxt(lund_dir / "TH34_img_Europe.tsv", names=True, delimiter="\t")
    gaze = make_gaze(seed=21, rate_hz=1000.0, n_fixations=12)
    for t, x, y in ((table["t"], table["x"], table["y"]), (np.arange(len(gaze.t)) / 1000.0, gaze.x, gaze.y)):
        reference = all_final_events(method, t, x, y, 0.0)
        assert len(reference) > 10
        assert all_final_events(method, t, x, y, shift_s) == reference


@pytest.mark.parametrize("method", METHODS)
def test_no_fixation_from_too_little_data(method: str) -> None:
    detector = make_detector(method, LUND_SCREEN)
    assert detector.push(0.0, 500.0, 400.0, True) == []
    assert detector.flush() == []
    all_invalid = make_detector(method, LUND_SCREEN)
    events = [e for i in range(1000) for e in all_invalid.push(i / 500, math.nan, math.nan, False)]
    assert [e for e in events + all_invalid.flush() if isinstance(e, FixationEvent)] == []


def test_unknown_method_names_it_and_lists_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match="unknown fixation method 'nope' \\(fixations.method\\); known: idt, ivt, ivdt"
    ):
        make_detector("nope", LUND_SCREEN)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_parameter_names_it_and_lists_the_known_ones(method: str) -> None:
    with pytest.raises(ConfigError, match="'bogus_s'.*min_duration_s"):
        make_detector(method, LUND_SCREEN, {"bogus_s": 1.0})


@pytest.mark.parametrize("value", [-1.0, math.nan, "fast"], ids=["negative", "nan", "text"])
def test_bad_parameter_values_are_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="min_duration_s"):
        make_detector("ivt", LUND_SCREEN, {"min_duration_s": value})  # type: ignore[dict-item]


@pytest.mark.parametrize("method", METHODS)
def test_every_parameter_is_documented_with_its_default(method: str) -> None:
    lines = describe_params(method)
    assert len(lines) == len(DETECTORS[method].all_params())
    assert all("(default: " in line and len(line.split(": ", 1)[1]) > 10 for line in lines)


def test_ivt_merges_fixations_split_by_a_short_noise_burst() -> None:
    gaze = make_gaze(seed=11, n_fixations=2, fixation_s=(0.5, 0.5))
    x = gaze.x.copy()
    burst = (gaze.t > gaze.fixations[0][0] + 0.2) & (gaze.t < gaze.fixations[0][0] + 0.22)
    x[burst] += 15.0  # 20 ms off by 0.5 deg and back
    noisy = Synthetic(gaze.t, x, gaze.y, gaze.valid, gaze.fixations, gaze.centres)
    merged = ends(run("ivt", noisy, params={"max_angle_deg": 0.5}))
    assert len(merged) == 2
    split = ends(run("ivt", noisy, params={"max_angle_deg": 0.5, "max_time_between_s": 0.0}))
    assert len(split) == 3


def test_ivt_offset_and_onset_trims_move_the_boundaries() -> None:
    gaze = make_gaze(seed=14)
    plain = ends(run("ivt", gaze, params={"onset_trim_s": 0.0}))
    trimmed = ends(run("ivt", gaze, params={"onset_trim_s": 0.02, "offset_trim_s": 0.02}))
    assert len(plain) == len(trimmed) == len(gaze.fixations)
    for a, b in zip(plain[1:-1], trimmed[1:-1]):
        assert b.onset - a.onset == pytest.approx(0.02, abs=1.5 * STEP_S)
        assert a.offset - b.offset == pytest.approx(0.02, abs=1.5 * STEP_S)
        assert b.n_samples == pytest.approx(a.n_samples - 20, abs=2)


def test_ivt_loss_trims_cut_around_a_long_loss() -> None:
    gaze = make_gaze(seed=15, n_fixations=2, fixation_s=(0.8, 0.8))
    onset = gaze.fixations[0][0]
    lost = (gaze.t > onset + 0.3) & (gaze.t < onset + 0.45)
    x, y = gaze.x.copy(), gaze.y.copy()
    x[lost] = y[lost] = math.nan
    blink = Synthetic(gaze.t, x, y, gaze.valid, gaze.fixations, gaze.centres)
    plain = ends(run("ivt", blink, params={"onset_trim_s": 0.0}))
    trimmed = ends(
        run("ivt", blink, params={"onset_trim_s": 0.0, "loss_trim_before_s": 0.05, "loss_trim_after_s": 0.08})
    )
    assert len(plain) == len(trimmed) == 3
    assert plain[0].offset - trimmed[0].offset == pytest.approx(0.05, abs=1.5 * STEP_S)
    assert trimmed[1].onset - plain[1].onset == pytest.approx(0.08, abs=1.5 * STEP_S)
    assert trimmed[0].n_samples == pytest.approx(plain[0].n_samples - 25, abs=2)


def test_ivt_adaptive_threshold_follows_the_noise() -> None:
    params = {"noise_sd_factor": 6.0, "max_threshold_deg_s": 150.0, "min_threshold_deg_s": 1.0}
    thresholds = []
    for noise_deg in (0.01, 0.04):
        gaze = make_gaze(seed=16, noise_deg=noise_deg, n_fixations=10)
        detector = make_detector("ivt", LUND_SCREEN, params)
        found = []
        for t, x, y in zip(gaze.t.tolist(), gaze.x.tolist(), gaze.y.tolist()):
            found += [
                e.fixation for e in detector.push(t, x, y, True) if isinstance(e, FixationEvent) and e.kind == "end"
            ]
        found += [e.fixation for e in detector.flush() if isinstance(e, FixationEvent) and e.kind == "end"]
        assert_matches_truth(found, gaze)
        thresholds.append(detector.threshold_deg_s)
    assert 1.0 < thresholds[0] < thresholds[1] < 150.0
    assert thresholds[1] > 2 * thresholds[0]


@pytest.mark.parametrize("rate_hz", [60.0, 500.0, 1250.0], ids=["60Hz", "500Hz", "1250Hz"])
def test_ivt_running_velocity_sums_give_the_least_squares_slope(
    rate_hz: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The velocity fit keeps running sums over its sliding window (O(1) per sample). Over a
    # recording with jittered timing, losses, a clock a day from zero and moves of the time
    # base (made frequent here), they must still give each window's least-squares slope.
    from gazefusion.fusion.fixations import ivt

    monkeypatch.setattr(ivt, "_REBASE_S", 3.0)
    checked: list[tuple[float, float]] = []

    class Checked(ivt.IVTDetector):
        def _velocity(self, p: int) -> float:
            velocity = super()._velocity(p)
            lo, hi = self._vlo - self._base, self._vhi - self._base
            assert lo <= p < hi and len(set(self._seg[lo:hi])) == 1
            assert max(abs(r - self._rt[p]) for r in self._rt[lo:hi]) <= self._velocity_half + 1e-9
            if hi - lo >= 2:
                t = np.array(self._rt[lo:hi]) - self._rt[p]
                dt = t - t.mean()
                vx = np.dot(dt, self._fx[lo:hi]) / np.dot(dt, dt)
                vy = np.dot(dt, self._fy[lo:hi]) / np.dot(dt, dt)
                checked.append((velocity, math.hypot(vx, vy)))
            return velocity

    rng = np.random.default_rng(17)
    gaze = make_gaze(seed=18, n_fixations=12)
    n = int(12.0 * rate_hz)
    t = 86_400.0 + np.cumsum(rng.uniform(0.7, 1.3, n) / rate_hz)
    source = np.linspace(0, len(gaze.t) - 1, n).astype(int)
    valid = gaze.valid[source] & (rng.uniform(0.0, 1.0, n) > 0.01)
    detector = Checked(LUND_SCREEN)
    for args in zip(t.tolist(), gaze.x[source].tolist(), gaze.y[source].tolist(), valid.tolist()):
        detector.push(*args)
    detector.flush()
    got, want = np.array(checked).T
    assert len(got) > 0.9 * n
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7)
