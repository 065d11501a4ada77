"""Camera px onto the marker picture, against points projected from known picture positions."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.analysis.mapping import MarkerShape, local_scale, map_points, undistorted_homography
from tests.fusion.analysis.conftest import SHAPE, make_hit

PICTURE_POINTS = np.array([[200.0, 150.0], [0.0, 0.0], [399.0, 299.0], [37.5, 250.25], [350.0, 20.0]])


def _project(picture_px: np.ndarray, hit, shape: MarkerShape, intrinsics: CameraIntrinsics) -> np.ndarray:
    affine = shape.to_marker_m
    metres = np.column_stack([picture_px @ affine[:2, :2].T + affine[:2, 2], np.zeros(len(picture_px))])
    image, _ = cv2.projectPoints(metres, hit.rotation, hit.position_m, intrinsics.camera_matrix, intrinsics.dist_coeffs)
    return image.reshape(-1, 2)


@pytest.mark.parametrize("tilt_deg", [0.0, 25.0, 55.0], ids=["facing", "tilted-25", "tilted-55"])
def test_calibrated_mapping_inverts_the_projection(distorted: CameraIntrinsics, tilt_deg: float) -> None:
    hit = make_hit(SHAPE, distorted, tilt_deg=tilt_deg)
    camera_px = _project(PICTURE_POINTS, hit, SHAPE, distorted)
    mapped = map_points(camera_px, hit, SHAPE, distorted)
    np.testing.assert_allclose(mapped.picture_px, PICTURE_POINTS, atol=1e-3)
    np.testing.assert_allclose(mapped.uv, (PICTURE_POINTS + 0.5) / [400, 300], atol=1e-5)
    np.testing.assert_allclose(mapped.mm, mapped.uv * [240.0, 180.0], atol=1e-9)
    assert mapped.on_marker.all()
    # The 3D point is the picture point on the posed marker.
    affine = SHAPE.to_marker_m
    metres = np.column_stack([PICTURE_POINTS @ affine[:2, :2].T + affine[:2, 2], np.zeros(len(PICTURE_POINTS))])
    expected = metres @ cv2.Rodrigues(hit.rotation)[0].T + hit.position_m
    np.testing.assert_allclose(mapped.point_m, expected, atol=1e-6)


def test_distortion_matters(distorted: CameraIntrinsics) -> None:
    """Ignoring a real distortion misplaces points near the frame's edge by picture px."""
    hit = make_hit(SHAPE, distorted, centre_px=(520.0, 400.0), distance_m=1.4)
    camera_px = _project(PICTURE_POINTS, hit, SHAPE, distorted)
    wrong = map_points(camera_px, hit, SHAPE, distorted._replace(dist_coeffs=np.zeros(5)))
    right = map_points(camera_px, hit, SHAPE, distorted)
    assert np.max(np.abs(right.picture_px - PICTURE_POINTS)) < 1e-3
    assert np.max(np.abs(wrong.picture_px - PICTURE_POINTS)) > 2.0


def test_uncalibrated_uses_the_detectors_homography(pinhole: CameraIntrinsics) -> None:
    hit = make_hit(SHAPE, pinhole)
    camera_px = _project(PICTURE_POINTS, hit, SHAPE, pinhole)
    mapped = map_points(camera_px, hit, SHAPE, pinhole, calibrated=False)
    np.testing.assert_allclose(mapped.picture_px, PICTURE_POINTS, atol=1e-3)
    calibrated = map_points(camera_px, hit, SHAPE, pinhole)
    np.testing.assert_allclose(mapped.point_m, calibrated.point_m, atol=1e-6)


def test_off_the_marker_and_behind(pinhole: CameraIntrinsics) -> None:
    hit = make_hit(SHAPE, pinhole, tilt_deg=0.0)
    outside = _project(np.array([[-40.0, 150.0], [200.0, 330.0]]), hit, SHAPE, pinhole)
    mapped = map_points(outside, hit, SHAPE, pinhole)
    assert not mapped.on_marker.any()
    assert mapped.uv[0, 0] < 0 and mapped.uv[1, 1] > 1
    # A marker seen edge-on: the ray through a point far off it meets the plane behind the camera.
    edge_on = make_hit(SHAPE, pinhole, tilt_deg=80.0)
    frame = np.stack(np.meshgrid(np.linspace(0, 639, 9), np.linspace(0, 479, 9)), -1).reshape(-1, 2)
    result = map_points(frame, edge_on, SHAPE, pinhole)
    missed = ~np.isfinite(result.point_m[:, 2])
    assert missed.any()
    assert np.isnan(result.uv[missed]).all() and not result.on_marker[missed].any()


def test_undistorted_homography_matches_the_pose(pinhole: CameraIntrinsics) -> None:
    hit = make_hit(SHAPE, pinhole)
    homography = undistorted_homography(hit, SHAPE, pinhole)
    projected = cv2.perspectiveTransform(PICTURE_POINTS.reshape(-1, 1, 2), homography).reshape(-1, 2)
    np.testing.assert_allclose(projected, _project(PICTURE_POINTS, hit, SHAPE, pinhole), atol=1e-6)


def test_local_scale_of_an_affine_map() -> None:
    centre = np.array([[10.0, 10.0], [0.0, 0.0]])
    scale = local_scale(centre, centre + [[3.0, 0.0], [2.0, 1.0]], centre + [[0.0, 12.0], [-1.0, 2.0]])
    np.testing.assert_allclose(scale, [6.0, np.sqrt(5.0)])
