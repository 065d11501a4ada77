"""The demo scene: markers drawn where the truth says, deterministic, a camera that sways a little."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from gazefusion.calibration.intrinsics import load_intrinsics
from gazefusion.fusion.demo.scene import TEXTURE_PX, DemoScene
from gazefusion.fusion.geometry import plane_corners_m
from gazefusion.fusion.markers import MarkerLibrary


@pytest.fixture(scope="module")
def scene() -> DemoScene:
    return DemoScene()


def _patch_correlation(image: np.ndarray, texture: np.ndarray, corners_px: np.ndarray, side_px: int = 96) -> float:
    """Normalised correlation of the image under `corners_px`, warped square, with the texture."""
    square = np.array([[0, 0], [side_px, 0], [side_px, side_px], [0, side_px]], np.float32) - 0.5
    homography = cv2.getPerspectiveTransform(corners_px.astype(np.float32), square)
    patch = cv2.warpPerspective(image, homography, (side_px, side_px), flags=cv2.INTER_AREA)
    reference = cv2.resize(texture, (side_px, side_px), interpolation=cv2.INTER_AREA)
    a = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float64)[8:-8, 8:-8]
    b = cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY).astype(np.float64)[8:-8, 8:-8]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


@pytest.mark.parametrize("t_s", [0.0, 3.7, 11.2], ids=["t0", "t3.7", "t11.2"])
def test_markers_are_drawn_where_the_truth_says(scene: DemoScene, t_s: float) -> None:
    image, truth = scene.render(t_s)
    assert image.shape == (480, 640, 3)
    for marker_id, marker in truth.items():
        on_truth = _patch_correlation(image, scene.textures[marker_id], marker.corners_px)
        shifted = _patch_correlation(image, scene.textures[marker_id], marker.corners_px + (4.0, 3.0))
        assert on_truth > 0.9, marker_id
        assert shifted < on_truth - 0.15, marker_id


def test_truth_corners_agree_with_opencv_projection(scene: DemoScene) -> None:
    for spec, marker in zip(scene.markers, scene.truth(5.0).values()):
        corners, _ = cv2.projectPoints(
            plane_corners_m(spec.width_m, spec.width_m),
            marker.rotation,
            marker.position_m,
            scene.camera_matrix,
            np.zeros(5),
        )
        np.testing.assert_allclose(marker.corners_px, corners.reshape(4, 2), atol=1e-6)
        assert 0.6 < marker.distance_m < 1.7
        assert np.all(marker.corners_px >= 0) and np.all(marker.corners_px <= (640, 480))


def test_rendering_is_deterministic(scene: DemoScene) -> None:
    first, _ = scene.render(2.5)
    again, _ = DemoScene().render(2.5)
    np.testing.assert_array_equal(first, again)


def test_camera_sways_a_little(scene: DemoScene) -> None:
    rest = scene.truth_at_rest()
    moved = [
        np.linalg.norm(scene.truth(t)["sign"].position_m - rest["sign"].position_m) for t in np.arange(0.0, 20.0, 0.5)
    ]
    assert 0.002 < max(moved) < 0.03


def test_library_and_intrinsics_files(scene: DemoScene, tmp_path: Path) -> None:
    library = scene.write_library(tmp_path / "markers")
    entries = yaml.safe_load(library.read_text())
    assert [entry["id"] for entry in entries] == [spec.id for spec in scene.markers]
    # The printed tag is a fiducial entry; the library loads both kinds.
    assert entries[-1] == {"id": "door", "aruco": {"dictionary": "DICT_APRILTAG_36h11", "tag": 7}, "width_m": 0.15}
    assert MarkerLibrary.load(library).ids == [spec.id for spec in scene.markers]
    for entry in entries[:-1]:
        picture = cv2.imread(str(library.parent / entry["image"]))
        assert picture.shape == (TEXTURE_PX, TEXTURE_PX, 3)
        np.testing.assert_array_equal(picture, scene.textures[entry["id"]])
    intrinsics = load_intrinsics(scene.write_intrinsics(tmp_path / "intrinsics.yaml"))
    np.testing.assert_allclose(intrinsics.camera_matrix, scene.camera_matrix)
    assert tuple(intrinsics.image_size) == (640, 480)
