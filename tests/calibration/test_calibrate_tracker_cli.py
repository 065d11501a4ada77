"""`gazefusion calibrate tracker` end to end: a real MJPEG camera (ffmpeg on loopback), headless."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from gazefusion.calibration.mapping import TrackerCameraMapping, load_mapping, save_mapping
from gazefusion.fusion.cli import main

MARGIN_DEG = 0.05  # validation accuracy may exceed the simulated noise floor by this much


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_headless_simulated_calibration_writes_the_mapping_and_the_report(
    ffmpeg_camera, tmp_path: Path, capsys
) -> None:
    out, report = tmp_path / "mapping.yaml", tmp_path / "report.png"
    code = main(
        [
            "-q",
            "calibrate",
            "tracker",
            "--tracker",
            "mock?fast",
            "--camera",
            ffmpeg_camera.url,
            "--headless",
            "--simulate-participant",
            "--points",
            "13",
            "--dwell",
            "0.5",
            "--out",
            str(out),
            "--report",
            str(report),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "model: poly2" in printed and "noise floor" in printed and f"wrote {out} and {report}" in printed
    mapping = load_mapping(out)
    assert mapping.kind == "poly2" and mapping.camera_size_px == (640, 480) and mapping.screen_size_px == (1920, 1080)
    data = yaml.safe_load(out.read_text())
    overall = data["validation"]["overall"]
    floor = data["figures"]["noise floor (true inverse, same samples)"]
    assert overall["accuracy_deg"] <= floor["accuracy_deg"] + MARGIN_DEG
    assert data["failed_targets"] == [] and len(data["calibration_targets"]) == 13
    assert {"homography", "poly2"} == set(data["residuals"]) and data["date"]
    assert mapping.in_calibrated_area(np.array([[960.0, 540.0], [5.0, 5.0]])).tolist() == [True, False]
    image = cv2.imread(str(report))
    assert image is not None and image.shape[1] == 1280
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mapping.yaml", "report.png"]


def test_camera_none_is_refused(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "calibrate",
            "tracker",
            "--tracker",
            "mock?fast",
            "--camera",
            "none",
            "--headless",
            "--simulate-participant",
            "--out",
            str(tmp_path / "m.yaml"),
        ]
    )
    assert code == 2
    assert "camera none is not valid here" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_too_few_fixated_targets_refuse_and_write_nothing(ffmpeg_camera, tmp_path: Path, capsys) -> None:
    code = main(
        [
            "calibrate",
            "tracker",
            "--tracker",
            "mock?fast",
            "--camera",
            ffmpeg_camera.url,
            "--headless",
            "--simulate-participant",
            "--never-fixate",
            "C1,C2,C3,C5,C6,C8",
            "--target-timeout",
            "2",
            "--dwell",
            "0.5",
            "--out",
            str(tmp_path / "m.yaml"),
        ]
    )
    assert code == 2
    line = _one_error_line(capsys)
    assert "calibration refused, nothing written: 3 valid targets: a homography needs at least 4" in line
    assert "C1 (no stable fixation within 2 s)" in line
    assert list(tmp_path.iterdir()) == []


def test_targets_fixated_only_on_one_line_are_refused_as_collinear(ffmpeg_camera, tmp_path: Path, capsys) -> None:
    # 13 points; only the diagonal C2, C10, C1, C13, C9 is fixated.
    code = main(
        [
            "calibrate",
            "tracker",
            "--tracker",
            "mock?fast",
            "--camera",
            ffmpeg_camera.url,
            "--headless",
            "--simulate-participant",
            "--points",
            "13",
            "--never-fixate",
            "C3,C4,C5,C6,C7,C8,C11,C12",
            "--target-timeout",
            "2",
            "--dwell",
            "0.5",
            "--out",
            str(tmp_path / "m.yaml"),
        ]
    )
    assert code == 2
    assert "calibration refused, nothing written: the targets are collinear (a degenerate layout)" in _one_error_line(
        capsys
    )
    assert list(tmp_path.iterdir()) == []


def test_validating_a_mapping_from_another_camera_resolution_is_refused(ffmpeg_camera, tmp_path: Path, capsys) -> None:
    other = tmp_path / "hd.yaml"
    save_mapping(TrackerCameraMapping.fullscreen((1920, 1080), (1280, 720)), other)
    code = main(
        [
            "calibrate",
            "tracker",
            "--tracker",
            "mock?fast",
            "--camera",
            ffmpeg_camera.url,
            "--headless",
            "--simulate-participant",
            "--validate",
            str(other),
        ]
    )
    assert code == 2
    assert (
        f"mapping {other} was calibrated for a 1280x720 camera image but the camera gives 640x480"
        in _one_error_line(capsys)
    )


def test_validating_an_existing_mapping_prints_its_figures(ffmpeg_camera, tmp_path: Path, capsys) -> None:
    # The fullscreen default ignores the hidden distortion: its accuracy is visibly worse.
    default = tmp_path / "default.yaml"
    save_mapping(TrackerCameraMapping.fullscreen((1920, 1080), (640, 480)), default)
    code = main(
        [
            "calibrate",
            "tracker",
            "--tracker",
            "mock?fast",
            "--camera",
            ffmpeg_camera.url,
            "--headless",
            "--simulate-participant",
            "--dwell",
            "0.5",
            "--validate",
            str(default),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("validation (4 targets")
    accuracy = float(printed[0].split("accuracy ")[1].split(" deg")[0])
    floor = float(printed[-1].split("accuracy_deg ")[1].split(",")[0])
    assert printed[-1].startswith("noise floor") and accuracy > floor + 0.2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.yaml"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(
            ["--tracker", "iviewx://127.0.0.1:4444", "--simulate-participant"],
            "--simulate-participant needs --tracker mock or sim",
            id="participant-on-a-real-tracker",
        ),
        pytest.param(
            ["--tracker", "sim"],
            "--tracker sim is the iViewX simulator driven by a simulated participant",
            id="sim-without-participant",
        ),
        pytest.param(
            ["--tracker", "sim?mode=field", "--simulate-participant"],
            "tracker spec 'sim?mode=field': the simulator's form is sim[?mode=notes|real-world]",
            id="sim-unknown-mode",
        ),
        pytest.param(
            ["--tracker", "sim?rate=9", "--simulate-participant"],
            "tracker spec 'sim?rate=9': the simulator's form is sim[?mode=notes|real-world]",
            id="sim-unknown-option",
        ),
    ],
)
def test_tracker_that_cannot_take_the_participant_is_refused(
    tmp_path: Path, capsys, flags: list[str], message: str
) -> None:
    code = main(
        [
            "calibrate",
            "tracker",
            "--camera",
            "http://127.0.0.1:9/none",
            "--headless",
            "--out",
            str(tmp_path / "m.yaml"),
            *flags,
        ]
    )
    assert code == 2
    assert message in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(
            ["--out", "/nonexistent-folder/m.yaml"],
            "--out /nonexistent-folder/m.yaml: the folder /nonexistent-folder does not exist",
            id="out-folder-missing",
        ),
        pytest.param(["--dwell", "0"], "--dwell must be a positive number", id="zero-dwell"),
        pytest.param(["--margin", "0.6"], "--margin must be in [0, 0.5)", id="margin-too-big"),
        pytest.param(["--points", "5"], "argument --points: invalid choice: 5", id="points-not-9-or-13"),
        pytest.param(["--no-participant"], "--headless shows no targets", id="headless-without-participant"),
    ],
)
def test_bad_flags_are_refused_before_anything_starts(capsys, flags: list[str], message: str) -> None:
    participant = [] if "--no-participant" in flags else ["--simulate-participant"]
    flags = [flag for flag in flags if flag != "--no-participant"]
    code = main(
        [
            "calibrate",
            "tracker",
            "--tracker",
            "mock?fast",
            "--camera",
            "http://127.0.0.1:9/none",
            "--headless",
            *participant,
            *flags,
        ]
    )
    assert code == 2
    assert message in _one_error_line(capsys)
