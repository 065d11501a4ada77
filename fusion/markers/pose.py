"""Planar pose from 2D-3D correspondences: IPPE, optional Levenberg-Marquardt refinement,
sanity checks and the two-fold ambiguity of small or distant planar targets."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

#: The second IPPE solution within this factor of the best one's RMS error: the tilt is uncertain.
AMBIGUITY_RATIO = 1.5


class PlanarPose(NamedTuple):
    """A marker pose in the camera frame.

    Attributes
    ----------
    rvec : numpy.ndarray
        (3,) Rodrigues vector, marker frame → camera frame.
    tvec : numpy.ndarray
        (3,) marker centre in the camera frame, m.
    reprojection_error_px : float
        RMS reprojection error of the correspondences, px.
    ambiguous : bool
        Whether the other planar solution explains the points almost as well.
    """

    rvec: np.ndarray
    tvec: np.ndarray
    reprojection_error_px: float
    ambiguous: bool


def estimate_planar_pose(
    object_m: np.ndarray,
    image_px: np.ndarray,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray,
    outline_m: np.ndarray,
    refine: bool = True,
    ambiguity_ratio: float = AMBIGUITY_RATIO,
    square: bool = False,
) -> PlanarPose | None:
    """The pose of a planar target from its points, or None when no sane pose exists.

    Parameters
    ----------
    object_m : numpy.ndarray
        (N, 3) points on the plane z = 0 of the marker frame, m; N >= 4.
    image_px : numpy.ndarray
        (N, 2) their images, px (distorted, as in the frame).
    camera_matrix : numpy.ndarray
        (3, 3) intrinsics.
    dist_coeffs : numpy.ndarray
        Distortion coefficients.
    outline_m : numpy.ndarray
        (4, 3) marker corners: every one must lie in front of the camera.
    refine : bool
        Refine the IPPE solution by Levenberg-Marquardt on all points. (default: True)
    ambiguity_ratio : float
        Second-solution error ratio below which the pose is flagged ambiguous.
        (default: `AMBIGUITY_RATIO`)
    square : bool
        The four points are the corners (top-left, top-right, bottom-right, bottom-left) of a
        square centred on the origin, e.g. one printed tag: OpenCV's IPPE for squares.
        (default: False)

    Returns
    -------
    PlanarPose or None
        None when IPPE fails, or the result is not finite, or the marker is not in front of
        the camera with its printed side towards it.
    """
    object_m = np.ascontiguousarray(object_m, np.float64).reshape(-1, 1, 3)
    image_px = np.ascontiguousarray(image_px, np.float64).reshape(-1, 1, 2)
    if len(object_m) < 4 or (square and len(object_m) != 4):
        return None
    # IPPE_SQUARE wants the corners as (-s/2, s/2), (s/2, s/2), (s/2, -s/2), (-s/2, -s/2): with
    # y down, that is bottom-left, bottom-right, top-right, top-left.
    order = np.array([3, 2, 1, 0]) if square else np.arange(len(object_m))
    try:
        count, rvecs, tvecs, errors = cv2.solvePnPGeneric(
            object_m[order],
            image_px[order],
            camera_matrix,
            dist_coeffs,
            flags=cv2.SOLVEPNP_IPPE_SQUARE if square else cv2.SOLVEPNP_IPPE,
        )
    except cv2.error:
        return None
    if not count:
        return None
    errors = np.asarray(errors, np.float64).ravel()
    order = np.argsort(errors)
    best = int(order[0])
    rvec, tvec = rvecs[best].reshape(3, 1).copy(), tvecs[best].reshape(3, 1).copy()
    ambiguous = count > 1 and errors[order[1]] < ambiguity_ratio * max(errors[best], 1e-9)
    if refine:
        rvec, tvec = cv2.solvePnPRefineLM(object_m, image_px, camera_matrix, dist_coeffs, rvec, tvec)
    rvec, tvec = rvec.reshape(3), tvec.reshape(3)
    if not (np.all(np.isfinite(rvec)) and np.all(np.isfinite(tvec))):
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    if np.any((outline_m @ rotation.T + tvec)[:, 2] <= 0):
        return None
    # The marker's z axis points into the picture: it must point away from the camera.
    if float(rotation[:, 2] @ tvec) <= 0:
        return None
    projected, _ = cv2.projectPoints(object_m, rvec, tvec, camera_matrix, dist_coeffs)
    rms = float(np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - image_px.reshape(-1, 2)) ** 2, axis=1))))
    return PlanarPose(rvec, tvec, rms, bool(ambiguous))
