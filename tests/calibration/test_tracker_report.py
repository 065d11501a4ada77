"""The report PNG and the figures printed: drawn from a calibration built without a tracker."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gazefusion.calibration.participant import SimulatedParticipant
from gazefusion.calibration.tracker import CameraView, fit_and_choose, select_samples, validate_mapping
from gazefusion.calibration.tracker_procedure import (
    CalibrationRun,
    Collected,
    ProcedureSettings,
    make_targets,
    result_info,
)
from gazefusion.calibration.tracker_report import draw_report, report_lines, write_png_atomic
from gazefusion.fusion.errors import OutputError
from gazefusion.fusion.geometry import ScreenGeometry

GEOMETRY = ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0)
VIEW = CameraView(GEOMETRY, (640, 480))


def _look(
    participant: SimulatedParticipant, target, t0: float, rate_hz: float = 500.0, seconds: float = 0.6
) -> np.ndarray:
    """The participant's valid samples on `target` after the saccade, from the script itself."""
    participant.show(target.name, target.screen_px)
    samples = [participant(t0 + i / rate_hz) for i in range(int(seconds * rate_hz))]
    settled = [(x, y) for i, (x, y, valid) in enumerate(samples) if valid and i / rate_hz > 0.3]
    return np.array(settled).reshape(-1, 2)


@pytest.fixture(scope="module")
def calibration_run() -> CalibrationRun:
    participant = SimulatedParticipant(GEOMETRY, seed=4)
    targets, checks = make_targets(9, VIEW)
    t = 0.0
    collected = []
    for target in targets:
        samples = _look(participant, target, t)
        t += 1.0
        collected.append(
            Collected(target, samples, "fixation")
            if target.name != "C4"
            else Collected(target, np.empty((0, 2)), "failed", "no stable fixation within 6 s")
        )
    ok = [c for c in collected if c.status != "failed"]
    fit = fit_and_choose(
        np.array([select_samples(c.samples_px, GEOMETRY).centre_px for c in ok]),
        np.array([c.target.camera_px for c in ok]),
        VIEW,
    )
    checked = []
    for target in checks:
        checked.append(Collected(target, _look(participant, target, t), "fixation"))
        t += 1.0
    summary = validate_mapping(
        fit.mapping,
        [c.target.name for c in checked],
        np.array([c.target.camera_px for c in checked]),
        [c.samples_px for c in checked],
        VIEW,
    )
    run = CalibrationRun(fit.mapping, fit, collected, checked, summary, VIEW)
    return run._replace(mapping=fit.mapping._replace(info=result_info(run, ProcedureSettings())))


def test_report_lines_state_the_choice_the_validation_and_the_failed_target(calibration_run: CalibrationRun) -> None:
    lines = report_lines(calibration_run, {"noise floor": {"accuracy_deg": 0.25}})
    text = "\n".join(lines)
    assert lines[0].startswith("model: poly2") or lines[0].startswith("model: homography")
    assert "leave-one-out RMS" in text
    assert "validation (4 targets" in text
    assert "failed targets: C4 (no stable fixation within 6 s)" in text
    assert "noise floor: accuracy_deg 0.250" in text


def test_report_png_is_drawn_over_the_camera_frame(calibration_run: CalibrationRun, tmp_path: Path) -> None:
    frame = np.full((480, 640, 3), 200, np.uint8)
    image = draw_report(frame, calibration_run)
    assert image.shape[1] == 1280 and image.shape[0] > 960  # scaled up, figures below
    path = tmp_path / "report.png"
    write_png_atomic(path, image)
    read = cv2.imread(str(path))
    assert read.shape == image.shape
    # The failed target C4 (top right) is crossed out in red.
    x, y = (calibration_run.calibration[3].target.camera_px * 2).astype(int)
    patch = read[y - 12 : y + 13, x - 12 : x + 13].reshape(-1, 3).astype(int)
    assert np.any((patch[:, 2] > 200) & (patch[:, 1] < 100))
    assert [p.name for p in tmp_path.iterdir()] == ["report.png"]


def test_report_to_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_png_atomic(tmp_path / "nope" / "report.png", np.zeros((4, 4, 3), np.uint8))


def test_result_info_is_plain_data(calibration_run: CalibrationRun) -> None:
    import yaml

    info = calibration_run.mapping.info
    text = yaml.safe_dump(calibration_run.mapping.to_dict())
    assert "failed_targets" in info and info["failed_targets"] == ["C4 (no stable fixation within 6 s)"]
    assert yaml.safe_load(text)["validation"]["overall"]["n_targets"] == 4


def test_long_figure_lines_are_wrapped_to_the_image_width() -> None:
    from gazefusion.calibration.tracker_report import wrap_line

    line = ", ".join(f"figure_{i} 0.123" for i in range(40))
    parts = wrap_line(line, 600)
    assert len(parts) > 1
    assert all(cv2.getTextSize(part, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0][0] <= 600 for part in parts)
    assert "".join(parts).replace(",    ", ", ") == line
