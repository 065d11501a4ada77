"""The demo's eye: fixations land on the intended marker (or on empty background) in screen px."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gazefusion.calibration.mapping import TrackerCameraMapping
from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.demo.script import DemoGaze
from gazefusion.fusion.geometry import ScreenGeometry

GEOMETRY = ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0)


@pytest.fixture(scope="module")
def scene() -> DemoScene:
    return DemoScene()


def _inside(corners_px: np.ndarray, point: np.ndarray) -> bool:
    return (
        cv2.pointPolygonTest(corners_px.astype(np.float32).reshape(-1, 1, 2), (float(point[0]), float(point[1])), False)
        > 0
    )


@pytest.mark.parametrize("seed", [0, 5], ids=["seed0", "seed5"])
def test_fixations_land_on_the_intended_marker(scene: DemoScene, seed: int) -> None:
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), scene.size)
    gaze = DemoGaze(scene, mapping, GEOMETRY, seed=seed)
    visits = gaze.true_visits(30.0)
    labels = {visit.label for visit in visits}
    assert labels >= {spec.id for spec in scene.markers} | {None}
    for visit in visits:
        for t_s in np.linspace(visit.onset_s + 0.02, visit.offset_s - 0.02, 5):
            x, y, valid = gaze(float(t_s))
            assert valid
            camera_px = mapping.to_camera(np.array([x, y]))
            truth = scene.truth(float(t_s))
            inside = [marker_id for marker_id, marker in truth.items() if _inside(marker.corners_px, camera_px)]
            if visit.label is None:
                assert inside == [], f"look away at {t_s:.2f} s lands on {inside}"
            else:
                assert inside == [visit.label]
                # Noise and drift keep the eye within a few camera px of the moving centre.
                assert np.linalg.norm(camera_px - truth[visit.label].centre_px) < 12.0


def test_gaze_follows_the_swaying_camera(scene: DemoScene) -> None:
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), scene.size)
    still = DemoGaze(scene, mapping, GEOMETRY, seed=1, noise_deg=0.0, drift_deg_s=0.0)
    shifts = []
    for visit in [v for v in still.true_visits(20.0) if v.label is not None]:
        t_s = 0.5 * (visit.onset_s + visit.offset_s)
        camera_px = mapping.to_camera(np.array(still(t_s)[:2]))
        moved_px = scene.truth(t_s)[visit.label].centre_px
        np.testing.assert_allclose(camera_px, moved_px, atol=0.01)
        shifts.append(np.linalg.norm(moved_px - scene.truth_at_rest()[visit.label].centre_px))
    assert max(shifts) > 2.0  # the sway is visible, and followed


def test_same_seed_same_gaze(scene: DemoScene) -> None:
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), scene.size)
    first, second = DemoGaze(scene, mapping, GEOMETRY, seed=3), DemoGaze(scene, mapping, GEOMETRY, seed=3)
    times = np.arange(0.0, 8.0, 1 / 60)
    assert [first(float(t)) for t in times[::-1]] == [second(float(t)) for t in times[::-1]]


def test_polynomial_mapping_is_refused(scene: DemoScene) -> None:
    poly = TrackerCameraMapping("poly2", np.zeros((6, 2)), (1920, 1080), (640, 480))
    with pytest.raises(ValueError, match="homography"):
        DemoGaze(scene, poly, GEOMETRY)
