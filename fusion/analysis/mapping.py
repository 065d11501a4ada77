"""Camera px onto a marker picture: picture px, u/v on 0-1, mm on the marker, the 3D point.

With calibrated intrinsics, a camera-px point is undistorted into a ray and met with the
marker's plane from the hit's pose (the pose is refined on every inlier with the lens
modelled): that point, in the marker's frame, gives the picture px. This is the inverse of
the hit's homography in undistorted px, ``K [r1 r2 t] A`` (A: picture px to marker metres).
Without intrinsics the detector's own homography (fitted in the frame's distorted px) is
inverted instead, and the 3D point is the pose applied to that marker point.

Coordinates:

- picture px: the marker picture's pixels, origin at the top-left pixel's centre, y down;
  the picture spans -0.5 .. width - 0.5.
- u, v: the same normalised to the picture, 0 at its top-left edge and 1 at its
  bottom-right edge; outside 0-1 means off the marker.
- x_mm, y_mm: u and v times the marker's printed width and height, mm.
- the 3D point: where the gaze ray meets the marker plane, camera frame, m.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.geometry import texture_to_marker_m
from gazefusion.fusion.types import MarkerHit

#: Undistortion runs to 1e-9 (normalised units) or 40 iterations: OpenCV's default 5 leave
#: thousandths of a px near the corners of a strongly distorted frame.
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-9)


class MarkerShape(NamedTuple):
    """What the mapping needs of a marker: its picture's size and its printed width.

    Attributes
    ----------
    marker_id : str
        The marker's id.
    image_size : tuple[int, int]
        (width, height) of the picture, px.
    width_m : float
        Printed width, m (the height follows the picture's aspect ratio).
    """

    marker_id: str
    image_size: tuple[int, int]
    width_m: float

    @property
    def height_m(self) -> float:
        """Printed height, m."""
        return self.width_m * self.image_size[1] / self.image_size[0]

    @property
    def to_marker_m(self) -> np.ndarray:
        """(3, 3) affine map from picture px to marker-plane metres (origin at the centre)."""
        return texture_to_marker_m(self.image_size, self.width_m)


class MappedPoints(NamedTuple):
    """Points mapped onto one marker; each array has one row per point.

    Attributes
    ----------
    picture_px : numpy.ndarray
        (N, 2) picture px.
    uv : numpy.ndarray
        (N, 2) normalised to the picture (0-1 on it, origin top-left).
    mm : numpy.ndarray
        (N, 2) on the printed marker from its top-left corner, mm.
    point_m : numpy.ndarray
        (N, 3) where the gaze ray meets the marker plane, camera frame, m.
    on_marker : numpy.ndarray
        (N,) bool: u and v both within 0-1.
    """

    picture_px: np.ndarray
    uv: np.ndarray
    mm: np.ndarray
    point_m: np.ndarray
    on_marker: np.ndarray


def pose_matrices(hit: MarkerHit) -> tuple[np.ndarray, np.ndarray]:
    """The hit's rotation matrix (marker frame to camera frame) and translation, m."""
    rotation, _ = cv2.Rodrigues(np.asarray(hit.rotation, np.float64).reshape(3, 1))
    return rotation, np.asarray(hit.position_m, np.float64).reshape(3)


def undistorted_homography(hit: MarkerHit, shape: MarkerShape, intrinsics: CameraIntrinsics) -> np.ndarray:
    """The hit's homography in undistorted camera px, from its pose: ``K [r1 r2 t] A``.

    Parameters
    ----------
    hit : MarkerHit
        A hit with its pose.
    shape : MarkerShape
        The marker's picture size and width.
    intrinsics : CameraIntrinsics
        The camera at the frame's size.
    """
    rotation, translation = pose_matrices(hit)
    plane = np.column_stack([rotation[:, 0], rotation[:, 1], translation])
    return np.asarray(intrinsics.camera_matrix @ plane @ shape.to_marker_m)


def map_points(
    points_px: np.ndarray,
    hit: MarkerHit,
    shape: MarkerShape,
    intrinsics: CameraIntrinsics,
    calibrated: bool = True,
) -> MappedPoints:
    """Map camera-px points onto a marker found in the same frame.

    Parameters
    ----------
    points_px : numpy.ndarray
        (N, 2) camera px as in the frame (distorted), e.g. gaze mapped from the tracker.
    hit : MarkerHit
        The marker's hit in that frame.
    shape : MarkerShape
        The marker's picture size and width.
    intrinsics : CameraIntrinsics
        The camera the hit's pose was estimated with (at the frame's size).
    calibrated : bool
        Whether `intrinsics` come from a calibration: then points are undistorted and met
        with the pose's plane; otherwise the detector's homography maps them in distorted
        px. (default: True)

    Returns
    -------
    MappedPoints
        Rows of nan where a ray misses the plane (parallel to it, or meeting it behind the
        camera).
    """
    points = np.asarray(points_px, np.float64).reshape(-1, 2)
    rotation, translation = pose_matrices(hit)
    to_metres = shape.to_marker_m
    if calibrated:
        rays = cv2.undistortPoints(
            points.reshape(-1, 1, 2),
            intrinsics.camera_matrix,
            intrinsics.dist_coeffs,
            None,
            None,
            None,
            UNDISTORT_CRITERIA,
        )
        rays = np.column_stack([rays.reshape(-1, 2), np.ones(len(points))])
        normal = rotation[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = float(normal @ translation) / (rays @ normal)
        scale[~(scale > 0)] = math.nan
        point_m = rays * scale[:, None]
        marker_m = (point_m - translation) @ rotation  # rows of R^T (P - t)
        picture = (marker_m[:, :2] - to_metres[:2, 2]) / np.diag(to_metres)[:2]
    else:
        inverse = np.linalg.inv(np.asarray(hit.homography, np.float64))
        picture = cv2.perspectiveTransform(points.reshape(-1, 1, 2), inverse).reshape(-1, 2)
        marker_m = np.column_stack([picture * np.diag(to_metres)[:2] + to_metres[:2, 2], np.zeros(len(points))])
        point_m = marker_m @ rotation.T + translation
    uv, mm, on_marker = on_picture(picture, shape)
    return MappedPoints(picture, uv, mm, point_m, on_marker)


def on_picture(picture_px: np.ndarray, shape: MarkerShape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Picture px (N, 2) as u, v (N, 2), mm on the marker (N, 2) and whether on it (N,)."""
    width, height = shape.image_size
    uv = (np.asarray(picture_px, np.float64).reshape(-1, 2) + 0.5) / np.array([width, height], np.float64)
    mm = uv * 1000.0 * np.array([shape.width_m, shape.height_m])
    with np.errstate(invalid="ignore"):
        on_marker = np.all((uv >= 0.0) & (uv <= 1.0), axis=1)
    return uv, mm, on_marker


def local_scale(centre_px: np.ndarray, step_x_px: np.ndarray, step_y_px: np.ndarray) -> np.ndarray:
    """Picture px per unit step: the square root of the local Jacobian's area factor.

    Parameters
    ----------
    centre_px, step_x_px, step_y_px : numpy.ndarray
        (N, 2) picture px of points and of the same points moved one unit (e.g. a degree of
        visual angle) along x and along y.

    Returns
    -------
    numpy.ndarray
        (N,) picture px per unit, the geometric mean of the scales along the two axes for a
        locally affine map (nan where a point is not finite).
    """
    dx = np.asarray(step_x_px, np.float64) - centre_px
    dy = np.asarray(step_y_px, np.float64) - centre_px
    return np.asarray(np.sqrt(np.abs(dx[:, 0] * dy[:, 1] - dx[:, 1] * dy[:, 0])))
