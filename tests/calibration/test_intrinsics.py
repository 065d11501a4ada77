"""The intrinsics file: round trip, malformed and incomplete files, other image sizes."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from gazefusion.calibration.camera import find_view
from gazefusion.calibration.intrinsics import CameraIntrinsics, load_intrinsics, save_intrinsics
from gazefusion.fusion.errors import CalibrationError, FileFormatError, OutputError
from gazefusion.fusion.files import write_yaml_atomic
from tests.calibration.chessboards import TRUE_DIST, TRUE_MATRIX, TRUE_SIZE, object_points_mm
from tests.calibration.conftest import BOARD, SQUARE_MM

GOOD = {
    "image_size": [640, 480],
    "camera_matrix": [[600.0, 0.0, 320.0], [0.0, 601.0, 240.0], [0.0, 0.0, 1.0]],
    "dist_coeffs": [-0.2, 0.05, 0.0, 0.0, 0.0],
    "rms": 0.21,
}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "camera.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_keeps_values_and_extra_keys(tmp_path: Path) -> None:
    intrinsics = CameraIntrinsics(TRUE_SIZE, TRUE_MATRIX.copy(), TRUE_DIST.copy(), 0.123)
    path = tmp_path / "camera.yaml"
    save_intrinsics(
        intrinsics, path, {"board": {"cols": 9, "rows": 6, "square_mm": 25.0}, "date": "2026-01-01T00:00:00+00:00"}
    )
    loaded = load_intrinsics(path)
    assert loaded.image_size == TRUE_SIZE
    assert np.array_equal(loaded.camera_matrix, TRUE_MATRIX)
    assert np.array_equal(loaded.dist_coeffs, TRUE_DIST)
    assert loaded.rms == 0.123
    data = yaml.safe_load(path.read_text())
    assert list(data)[:4] == ["image_size", "camera_matrix", "dist_coeffs", "rms"]
    assert data["board"]["cols"] == 9 and data["date"].startswith("2026")


def test_an_assumed_camera_round_trips_its_nan_rms(tmp_path: Path) -> None:
    path = tmp_path / "camera.yaml"
    save_intrinsics(CameraIntrinsics.from_fov((640, 480), 60.0), path)
    loaded = load_intrinsics(path)
    assert math.isnan(loaded.rms)
    assert loaded.camera_matrix[0, 0] == pytest.approx(320 / math.tan(math.radians(30)))


def test_rms_is_optional(tmp_path: Path) -> None:
    data = dict(GOOD)
    del data["rms"]
    assert math.isnan(load_intrinsics(_write(tmp_path, yaml.safe_dump(data))).rms)


@pytest.mark.parametrize("key", ["image_size", "camera_matrix", "dist_coeffs"])
def test_missing_key_is_named(tmp_path: Path, key: str) -> None:
    data = {k: v for k, v in GOOD.items() if k != key}
    path = _write(tmp_path, yaml.safe_dump(data))
    with pytest.raises(FileFormatError) as error:
        load_intrinsics(path)
    assert str(error.value) == f"intrinsics file {path} lacks {key}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("image_size: [640, 480\ncamera_matrix: {", "is not valid YAML \\(line 2\\)"),
        ("", "expected a mapping"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("just a string", "expected a mapping"),
    ],
    ids=["broken-yaml", "empty", "a-list", "a-string"],
)
def test_malformed_file(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(FileFormatError, match=expected):
        load_intrinsics(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("image_size", [640], "image_size must be \\[width, height\\]"),
        ("image_size", [640, 0], "image_size must be \\[width, height\\]"),
        ("image_size", "wide", "must be numbers"),
        ("camera_matrix", [[600, 0, 320], [0, 600, 240]], "camera_matrix must be 3x3"),
        ("camera_matrix", [[0, 0, 320], [0, 600, 240], [0, 0, 1]], "positive fx and fy"),
        ("camera_matrix", [[600, 0], [0, 600, 240], [0, 0, 1]], "must be numbers"),
        ("camera_matrix", [[".nan", 0, 320], [0, 600, 240], [0, 0, 1]], "must be numbers"),
        ("dist_coeffs", [0.1, 0.2, 0.3], "dist_coeffs must hold 4, 5, 8, 12 or 14"),
        ("dist_coeffs", None, "dist_coeffs must hold"),
        ("dist_coeffs", ["a", 0, 0, 0], "must be numbers"),
    ],
    ids=[
        "size-one-number",
        "size-zero",
        "size-text",
        "matrix-2x3",
        "matrix-zero-fx",
        "matrix-ragged",
        "matrix-nan-text",
        "dist-three",
        "dist-null",
        "dist-text",
    ],
)
def test_bad_values_are_refused(tmp_path: Path, key: str, value: object, expected: str) -> None:
    path = _write(tmp_path, yaml.safe_dump(GOOD | {key: value}))
    with pytest.raises(FileFormatError, match=expected) as error:
        load_intrinsics(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="intrinsics file not found: .*nope.yaml"):
        load_intrinsics(tmp_path / "nope.yaml")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "camera.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(FileFormatError, match="not valid YAML"):
        load_intrinsics(path)


def test_other_aspect_ratio_is_refused_clearly() -> None:
    intrinsics = CameraIntrinsics(TRUE_SIZE, TRUE_MATRIX, TRUE_DIST)
    with pytest.raises(CalibrationError) as error:
        intrinsics.scaled_to((1280, 720))
    assert str(error.value) == (
        "intrinsics are for 640x480 but the images are 1280x720 (another aspect ratio): "
        "calibrate this camera at this resolution"
    )


def test_same_size_is_unchanged() -> None:
    intrinsics = CameraIntrinsics(TRUE_SIZE, TRUE_MATRIX, TRUE_DIST)
    assert intrinsics.scaled_to(TRUE_SIZE) is intrinsics


@pytest.mark.parametrize("scale", [2.0, 0.5], ids=["up-2x", "down-half"])
def test_scaled_camera_predicts_the_corners_of_a_resized_image(rendered_views, scale: float) -> None:
    """Against ground truth: the board found in a resized view sits where the scaled camera puts it."""
    path, pose = rendered_views[1]
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    size = (round(TRUE_SIZE[0] * scale), round(TRUE_SIZE[1] * scale))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    scaled = CameraIntrinsics(TRUE_SIZE, TRUE_MATRIX, TRUE_DIST).scaled_to(size)
    assert scaled.image_size == size
    assert scaled.camera_matrix[0, 0] == pytest.approx(TRUE_MATRIX[0, 0] * scale)
    assert np.array_equal(scaled.dist_coeffs, TRUE_DIST)
    view = find_view(resized, BOARD)
    assert view is not None
    predicted, _ = cv2.projectPoints(
        object_points_mm(BOARD, SQUARE_MM), pose.rvec, pose.tvec, scaled.camera_matrix, scaled.dist_coeffs
    )
    predicted = predicted.reshape(-1, 2)
    offsets = view.corners - predicted
    if np.linalg.norm(offsets, axis=1).mean() > 5:
        offsets = view.corners[::-1] - predicted
    # No systematic shift (a half-pixel convention error would show as 0.5 * |scale - 1| px).
    assert np.abs(offsets.mean(axis=0)).max() < 0.1
    assert np.sqrt((offsets**2).sum(axis=1).mean()) < 0.3 * max(scale, 1.0)


def test_atomic_write_leaves_no_temporary_and_reports_failure(tmp_path: Path) -> None:
    path = tmp_path / "out.yaml"
    write_yaml_atomic(path, {"a": 1})
    assert yaml.safe_load(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]
    with pytest.raises(OutputError, match="cannot write .*missing/out.yaml"):
        write_yaml_atomic(tmp_path / "missing" / "out.yaml", {"a": 1})
