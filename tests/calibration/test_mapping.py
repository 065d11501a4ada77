"""The mapping file: written and read back exactly, every bad file refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from gazefusion.calibration.mapping import TrackerCameraMapping, load_mapping, save_mapping
from gazefusion.fusion.errors import CalibrationError, FileFormatError

GOOD = {
    "kind": "homography",
    "params": [[0.5, 0.0, 10.0], [0.0, 0.5, 20.0], [0.0, 0.0, 1.0]],
    "screen_size_px": [1920, 1080],
    "camera_size_px": [640, 480],
    "calibrated_area": [[100, 100], [1800, 100], [1800, 1000], [100, 1000]],
    "validation": {"accuracy_deg": 0.4},
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_round_trip_keeps_params_area_and_info(tmp_path: Path) -> None:
    mapping = load_mapping(_write(tmp_path, GOOD))
    assert mapping.kind == "homography" and mapping.params.shape == (3, 3)
    assert mapping.screen_size_px == (1920, 1080) and mapping.camera_size_px == (640, 480)
    assert mapping.calibrated_area is not None and mapping.calibrated_area.shape == (4, 2)
    assert mapping.info == {"validation": {"accuracy_deg": 0.4}}
    save_mapping(mapping, tmp_path / "again.yaml")
    again = load_mapping(tmp_path / "again.yaml")
    assert np.array_equal(again.params, mapping.params) and again.info == mapping.info
    assert np.allclose(again.to_camera(np.array([960.0, 540.0])), [490.0, 290.0])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kind": "affine"}, "kind 'affine' is not one of homography, poly2"),
        ({"params": [[1.0, 0.0], [0.0, 1.0]]}, r"a homography needs finite params of shape \(3, 3\)"),
        ({"kind": "poly2"}, r"a poly2 needs finite params of shape \(6, 2\)"),
        ({"params": "identity"}, "params, sizes and calibrated_area must be numbers"),
        ({"screen_size_px": [1920]}, r"screen_size_px and camera_size_px must be \[width, height\] > 0"),
        ({"camera_size_px": [640, 0]}, r"screen_size_px and camera_size_px must be \[width, height\] > 0"),
        ({"calibrated_area": [[1, 2], [3]]}, "params, sizes and calibrated_area must be numbers"),
    ],
    ids=["kind", "params-shape", "poly2-shape", "params-text", "screen-one-number", "camera-zero", "area-ragged"],
)
def test_bad_values_are_refused_in_one_line(tmp_path: Path, change: dict[str, object], expected: str) -> None:
    path = _write(tmp_path, GOOD | change)
    with pytest.raises(FileFormatError, match=expected) as caught:
        load_mapping(path)
    assert str(caught.value).startswith(f"mapping file {path}: ") and "\n" not in str(caught.value)


def test_missing_keys_are_all_named(tmp_path: Path) -> None:
    path = _write(tmp_path, {k: v for k, v in GOOD.items() if k not in ("params", "camera_size_px")})
    with pytest.raises(FileFormatError) as caught:
        load_mapping(path)
    assert str(caught.value) == f"mapping file {path} lacks params, camera_size_px"


@pytest.mark.parametrize("text", ["", "- 1\n", "a string"], ids=["empty", "list", "string"])
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    with pytest.raises(FileFormatError, match="expected a mapping with kind, params, screen_size_px, camera_size_px"):
        load_mapping(path)


def test_another_camera_resolution_is_a_calibration_error() -> None:
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), (640, 480))
    with pytest.raises(CalibrationError, match="calibrated for a 640x480 camera image but the camera gives 1280x720"):
        mapping.check_camera_size((1280, 720))
