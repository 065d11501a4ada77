"""Constructed marker hits: a picture at a known pose before a known camera."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.analysis.mapping import MarkerShape
from gazefusion.fusion.synthetic import marker_pose
from gazefusion.fusion.types import MarkerHit

CAMERA = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])
DISTORTION = np.array([-0.25, 0.08, 0.001, -0.0015, 0.0])
SHAPE = MarkerShape("poster", (400, 300), 0.24)


def make_hit(
    shape: MarkerShape,
    intrinsics: CameraIntrinsics,
    distance_m: float = 1.0,
    tilt_deg: float = 25.0,
    roll_deg: float = 10.0,
    centre_px: tuple[float, float] = (300.0, 220.0),
) -> MarkerHit:
    """A hit as the detector reports it: pose, corners projected with distortion, a distorted-px homography."""
    rvec, tvec = marker_pose(distance_m, tilt_deg, 30.0, roll_deg, centre_px, intrinsics.camera_matrix)
    width, height = shape.image_size
    outline = np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]])
    grid = np.stack(np.meshgrid(np.linspace(0, width - 1, 9), np.linspace(0, height - 1, 7)), -1).reshape(-1, 2)
    affine = shape.to_marker_m

    def project(px: np.ndarray) -> np.ndarray:
        metres = np.column_stack([px @ affine[:2, :2].T + affine[:2, 2], np.zeros(len(px))])
        image, _ = cv2.projectPoints(metres, rvec, tvec, intrinsics.camera_matrix, intrinsics.dist_coeffs)
        return image.reshape(-1, 2)

    homography, _ = cv2.findHomography(grid, project(grid), 0)
    return MarkerHit(
        shape.marker_id,
        project(outline),
        homography,
        len(grid),
        0.1,
        tvec,
        rvec,
        float(np.linalg.norm(tvec)),
    )


@pytest.fixture
def distorted() -> CameraIntrinsics:
    """A calibrated camera with noticeable barrel distortion."""
    return CameraIntrinsics((640, 480), CAMERA, DISTORTION, 0.2)


@pytest.fixture
def pinhole() -> CameraIntrinsics:
    """A distortion-free camera."""
    return CameraIntrinsics((640, 480), CAMERA, np.zeros(5), 0.2)
