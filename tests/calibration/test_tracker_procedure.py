"""The calibration procedure against the mock tracker sampling a simulated participant."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gazefusion.calibration.participant import SimulatedParticipant, TrueMapping
from gazefusion.calibration.tracker import CameraView, validate_mapping
from gazefusion.calibration.tracker_procedure import (
    CalibrationAborted,
    HeadlessPresenter,
    ProcedureSettings,
    Target,
    TrackerCalibration,
)
from gazefusion.fusion.errors import CalibrationError, ConfigError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.mock import ScriptedTracker

GEOMETRY = ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0)
VIEW = CameraView(GEOMETRY, (640, 480))
FAST = ProcedureSettings(dwell_s=0.5, timeout_s=2.0, sample_clock=True)
# Validation accuracy may exceed the noise floor (the same samples through the true
# inverse transform) by at most this much: the mapping's own error, degrees.
MARGIN_DEG = 0.05


def _noise_floor(run, participant: SimulatedParticipant) -> dict:
    truth = TrueMapping(participant.transform, np.linalg.inv(VIEW.display_matrix))
    checked = [c for c in run.validation if c.status != "failed"]
    return validate_mapping(
        truth,
        [c.target.name for c in checked],
        np.array([c.target.camera_px for c in checked]),
        [c.samples_px for c in checked],
        VIEW,
    ).overall()


def _calibrate(participant: SimulatedParticipant, settings: ProcedureSettings = FAST, presenter=None):
    with ScriptedTracker(participant, rate_hz=500.0, realtime=False) as tracker:
        procedure = TrackerCalibration(tracker, VIEW, presenter or HeadlessPresenter(participant), settings)
        return procedure.run()


@pytest.mark.parametrize("points", [9, 13], ids=["9-points", "13-points"])
def test_recovered_mapping_validates_near_the_noise_floor(points: int) -> None:
    participant = SimulatedParticipant(GEOMETRY, noise_deg=0.2, seed=points)
    run = _calibrate(participant, FAST._replace(points=points))
    assert run.failed_targets == []
    assert run.mapping.kind == "poly2", run.fit.reason  # the hidden transform is not projective
    overall = run.summary.overall()
    floor = _noise_floor(run, participant)
    assert overall["n_targets"] == 4 and overall["n_samples"] > 4 * 150
    assert overall["accuracy_deg"] <= floor["accuracy_deg"] + MARGIN_DEG
    assert overall["offset_of_mean_deg"] <= floor["offset_of_mean_deg"] + MARGIN_DEG
    # White noise of 0.2 deg per axis: RMS sample-to-sample 0.4 deg.
    assert overall["precision_deg"] == pytest.approx(0.4, rel=0.15)
    info = run.mapping.info
    assert info["model"]["chosen"] == "poly2" and set(info["residuals"]) == {"homography", "poly2"}
    assert len(info["calibration_targets"]) == points


def test_a_target_never_fixated_times_out_and_is_skipped_and_reported() -> None:
    participant = SimulatedParticipant(GEOMETRY, seed=2, never_fixate={"C4", "V2"})
    run = _calibrate(participant)
    assert run.failed_targets == ["C4 (no stable fixation within 2 s)", "V2 (no stable fixation within 2 s)"]
    assert [t["name"] for t in run.mapping.info["calibration_targets"] if t["status"] == "failed"] == ["C4"]
    assert run.mapping.info["validation"]["failed"] == ["V2"]
    assert run.summary.overall()["n_targets"] == 3
    assert run.mapping.kind == "poly2"  # 8 targets still fit and cross-validate the polynomial


def test_too_few_fixated_targets_are_refused() -> None:
    participant = SimulatedParticipant(GEOMETRY, seed=3, never_fixate={"C2", "C3", "C4", "C5", "C6", "C7"})
    with pytest.raises(
        CalibrationError,
        match=r"calibration refused, nothing written: 3 valid targets: a homography needs at least 4; failed targets: C2 ",
    ):
        _calibrate(participant)


def test_five_fixated_targets_fall_back_to_the_homography() -> None:
    participant = SimulatedParticipant(GEOMETRY, seed=5, never_fixate={"C3", "C5", "C6", "C8"})
    run = _calibrate(participant)
    assert run.mapping.kind == "homography"
    assert "polynomial was refused: 5 valid targets" in run.fit.reason


class _EscAfter:
    """A presenter whose user presses Esc while the n-th target is shown."""

    def __init__(self, participant: SimulatedParticipant, n: int) -> None:
        self.inner, self.n, self.shown = HeadlessPresenter(participant), n, 0

    def show(self, target: Target | None) -> None:
        self.shown += target is not None
        self.inner.show(target)

    def poll(self) -> str | None:
        return "abort" if self.shown >= self.n else None


def test_escape_aborts_with_nothing_returned() -> None:
    participant = SimulatedParticipant(GEOMETRY, seed=6)
    with pytest.raises(CalibrationAborted, match="calibration aborted by the user: nothing written"):
        _calibrate(participant, presenter=_EscAfter(participant, 3))


def test_abort_from_another_thread_stops_a_real_time_run() -> None:
    participant = SimulatedParticipant(GEOMETRY, seed=7, never_fixate={"C1"})
    with ScriptedTracker(participant, rate_hz=250.0) as tracker:
        procedure = TrackerCalibration(tracker, VIEW, HeadlessPresenter(participant), ProcedureSettings(timeout_s=30.0))
        threading.Timer(0.3, procedure.abort).start()
        with pytest.raises(CalibrationAborted):
            procedure.run()
        assert not tracker.streaming


class _SpaceOnce:
    """A presenter whose user presses space on the first target, after a moment."""

    def __init__(self, participant: SimulatedParticipant) -> None:
        self.inner, self.polls = HeadlessPresenter(participant), 0

    def show(self, target: Target | None) -> None:
        self.inner.show(target)

    def poll(self) -> str | None:
        self.polls += 1
        return "accept" if self.polls == 20 else None


def test_space_accepts_a_target_by_hand() -> None:
    participant = SimulatedParticipant(GEOMETRY, seed=8)
    with ScriptedTracker(participant, rate_hz=250.0) as tracker:
        settings = ProcedureSettings(dwell_s=30.0, timeout_s=30.0, poll_interval_s=0.03)
        procedure = TrackerCalibration(tracker, VIEW, _SpaceOnce(participant), settings)
        tracker.start_streaming()
        collected = procedure.collect(procedure.targets[0])
    assert collected.status == "manual"
    assert len(collected.samples_px) > 10


def test_unknown_fixation_method_is_refused_before_anything_is_shown() -> None:
    with ScriptedTracker(SimulatedParticipant(GEOMETRY), realtime=False) as tracker:
        with pytest.raises(ConfigError, match="unknown fixation method 'nope'"):
            TrackerCalibration(tracker, VIEW, HeadlessPresenter(), ProcedureSettings(fixation_method="nope"))


def test_the_screen_shows_the_camera_letterboxed_and_the_target_where_the_display_puts_it() -> None:
    from gazefusion.calibration.tracker_procedure import make_targets, render_screen

    image = np.full((480, 640, 3), 100, np.uint8)
    target = make_targets(9, VIEW)[0][1]  # C2, top left, camera (64, 48)
    screen = render_screen(image, VIEW, target)
    assert screen.shape == (1080, 1920, 3)
    assert screen[540, 100].tolist() == [0, 0, 0]  # pillarbox
    assert screen[540, 300].tolist() == [100, 100, 100]  # camera image
    x, y = target.screen_px.astype(int)
    assert (x, y) == (384, 108)
    assert screen[y, x].tolist() == [0, 0, 255]  # the target's red centre
