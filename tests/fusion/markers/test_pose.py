"""Planar pose: exact on exact points, refused when not sane, ambiguity flagged where it exists."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gazefusion.fusion.geometry import plane_corners_m
from gazefusion.fusion.markers import estimate_planar_pose
from gazefusion.fusion.synthetic import marker_pose
from tests.fusion.markers.scenes import CAMERA, rotation_error_deg

OUTLINE = plane_corners_m(0.2, 0.2)


def _points(rvec, tvec, noise_px: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    object_m = np.column_stack([rng.uniform(-0.1, 0.1, (60, 2)), np.zeros(60)])
    image, _ = cv2.projectPoints(object_m, rvec, tvec, CAMERA, np.zeros(5))
    return object_m, image.reshape(-1, 2) + rng.normal(0, noise_px, (60, 2)) if noise_px else image.reshape(-1, 2)


@pytest.mark.parametrize("refine", [True, False], ids=["lm", "ippe-only"])
def test_exact_points_give_the_exact_pose(refine: bool) -> None:
    rvec, tvec = marker_pose(0.8, 35, 20, 50, (300, 200), CAMERA)
    pose = estimate_planar_pose(*_points(rvec, tvec), CAMERA, np.zeros(5), OUTLINE, refine=refine)
    assert pose is not None and not pose.ambiguous
    np.testing.assert_allclose(pose.tvec, tvec, atol=1e-6)
    assert rotation_error_deg(pose.rvec, rvec) < 1e-4
    assert pose.reprojection_error_px < 1e-4


def test_small_distant_frontal_marker_is_flagged_ambiguous() -> None:
    rvec, tvec = marker_pose(3.0, 0, 0, 0, (320, 240), CAMERA)
    pose = estimate_planar_pose(*_points(rvec, tvec, noise_px=0.5), CAMERA, np.zeros(5), OUTLINE)
    assert pose is not None and pose.ambiguous
    assert np.linalg.norm(pose.tvec - tvec) < 0.05 * 3.0


def test_marker_seen_from_behind_is_refused() -> None:
    # The back of the picture faces the camera: the images are mirrored.
    rvec, tvec = marker_pose(0.8, 0, 0, 0, (320, 240), CAMERA)
    object_m, image = _points(rvec, tvec)
    mirrored = object_m * [-1, 1, 1]
    assert estimate_planar_pose(mirrored, image, CAMERA, np.zeros(5), OUTLINE) is None


def test_too_few_points_give_none() -> None:
    rvec, tvec = marker_pose(0.8, 0, 0, 0, (320, 240), CAMERA)
    object_m, image = _points(rvec, tvec)
    assert estimate_planar_pose(object_m[:3], image[:3], CAMERA, np.zeros(5), OUTLINE) is None
