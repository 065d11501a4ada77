"""Synthetic rendering: the pictures are deterministic and the rendered geometry is exact."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from gazefusion.fusion.geometry import plane_corners_m
from gazefusion.fusion.synthetic import (
    background_texture,
    degrade,
    look_at_pose,
    marker_pose,
    marker_texture,
    render_plane,
)

CAMERA = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
DISTORTION = np.array([-0.25, 0.08, 0.001, -0.0005, 0.0])


def _quadrant_texture(size: int = 200) -> np.ndarray:
    texture = np.zeros((size, size, 3), np.uint8)
    half = size // 2
    texture[:half, :half] = (255, 0, 0)
    texture[:half, half:] = (0, 255, 0)
    texture[half:, half:] = (0, 0, 255)
    texture[half:, :half] = (255, 255, 255)
    return texture


def test_marker_texture_is_deterministic_and_distinct_per_seed() -> None:
    assert np.array_equal(marker_texture(3, 200), marker_texture(3, 200))
    difference = np.abs(marker_texture(3, 200).astype(int) - marker_texture(4, 200).astype(int)).mean()
    assert difference > 20


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_marker_texture_is_not_symmetric(seed: int) -> None:
    texture = marker_texture(seed, 200).astype(int)
    for transformed in (
        np.rot90(texture, 1),
        np.rot90(texture, 2),
        np.rot90(texture, 3),
        texture[::-1],
        texture[:, ::-1],
    ):
        assert np.abs(texture - transformed).mean() > 20


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_marker_texture_is_orb_friendly(seed: int) -> None:
    grey = cv2.cvtColor(marker_texture(seed, 400), cv2.COLOR_BGR2GRAY)
    keypoints = cv2.ORB_create(nfeatures=1000).detect(grey, None)
    assert len(keypoints) >= 400


def test_background_texture_shape_and_determinism() -> None:
    background = background_texture(5, (320, 240))
    assert background.shape == (240, 320, 3) and background.dtype == np.uint8
    assert np.array_equal(background, background_texture(5, (320, 240)))
    assert not np.array_equal(background, background_texture(6, (320, 240)))
    assert background.std() > 10


@pytest.mark.parametrize(
    ("distance_m", "tilt_deg", "roll_deg", "centre_px"),
    [(0.6, 0, 0, None), (1.0, 35, 20, (250.0, 300.0)), (2.5, 55, -70, (500.0, 100.0))],
    ids=["frontal", "tilted", "far-steep"],
)
@pytest.mark.parametrize("distorted", [False, True], ids=["pinhole", "distorted"])
def test_render_plane_corners_match_projection(distance_m, tilt_deg, roll_deg, centre_px, distorted) -> None:
    dist = DISTORTION if distorted else None
    rvec, tvec = marker_pose(distance_m, tilt_deg, 30.0, roll_deg, centre_px, CAMERA)
    image = np.zeros((480, 640, 3), np.uint8)
    corners = render_plane(image, _quadrant_texture(), 0.2, rvec, tvec, CAMERA, dist)
    expected, _ = cv2.projectPoints(plane_corners_m(0.2, 0.2), rvec, tvec, CAMERA, dist if distorted else np.zeros(5))
    np.testing.assert_allclose(corners, expected.reshape(4, 2), atol=1e-9)
    # Each quadrant's centre shows its colour where the camera model projects it.
    quadrant_centres = np.array([[-0.05, -0.05, 0], [0.05, -0.05, 0], [0.05, 0.05, 0], [-0.05, 0.05, 0]])
    points, _ = cv2.projectPoints(quadrant_centres, rvec, tvec, CAMERA, dist if distorted else np.zeros(5))
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    for (x, y), colour in zip(points.reshape(4, 2), colours):
        np.testing.assert_allclose(image[round(y), round(x)], colour, atol=40)


def test_render_plane_content_matches_texture_under_the_homography() -> None:
    texture = marker_texture(11, 300)
    rvec, tvec = marker_pose(0.5, 25, 60, 15, (300.0, 250.0), CAMERA)
    image = np.zeros((480, 640, 3), np.uint8)
    corners = render_plane(image, texture, 0.2, rvec, tvec, CAMERA)
    source = np.array([[-0.5, -0.5], [299.5, -0.5], [299.5, 299.5], [-0.5, 299.5]], np.float32)
    back = cv2.warpPerspective(image, cv2.getPerspectiveTransform(corners.astype(np.float32), source), (300, 300))
    inner = (slice(20, 280), slice(20, 280))
    correlation = np.corrcoef(back[inner].astype(float).ravel(), texture[inner].astype(float).ravel())[0, 1]
    assert correlation > 0.9


def test_render_plane_partly_outside_draws_only_the_visible_part() -> None:
    rvec, tvec = marker_pose(0.5, 0, 0, 0, (630.0, 470.0), CAMERA)
    image = np.zeros((480, 640, 3), np.uint8)
    corners = render_plane(image, _quadrant_texture(), 0.2, rvec, tvec, CAMERA)
    assert corners[:, 0].max() > 640 and corners[:, 1].max() > 480
    assert image[470, 630].tolist() != [0, 0, 0] and image[10, 10].tolist() == [0, 0, 0]


def test_render_plane_fully_outside_leaves_the_image() -> None:
    rvec, tvec = look_at_pose((3.0, 0.0, 1.0))
    image = np.zeros((480, 640, 3), np.uint8)
    render_plane(image, _quadrant_texture(), 0.2, rvec, tvec, CAMERA)
    assert not image.any()


def test_render_plane_refuses_a_marker_behind_the_camera() -> None:
    rvec, tvec = look_at_pose((0.0, 0.0, -1.0))
    with pytest.raises(ValueError, match="behind the camera"):
        render_plane(np.zeros((480, 640, 3), np.uint8), _quadrant_texture(), 0.2, rvec, tvec, CAMERA)


def test_render_plane_grey_image() -> None:
    image = np.zeros((480, 640), np.uint8)
    render_plane(image, marker_texture(1, 200), 0.2, (0, 0, 0), (0, 0, 1), CAMERA)
    assert image[240, 320] > 0 or image[200:280, 280:360].any()


def test_look_at_pose_frontal_is_identity() -> None:
    rvec, tvec = look_at_pose((0.0, 0.0, 2.0))
    np.testing.assert_allclose(rvec, 0, atol=1e-12)
    np.testing.assert_allclose(tvec, (0, 0, 2))


@pytest.mark.parametrize("tilt_deg", [0.0, 20.0, 45.0, 60.0])
def test_marker_pose_has_the_requested_geometry(tilt_deg: float) -> None:
    rvec, tvec = marker_pose(1.5, tilt_deg, 80.0, 33.0, (100.0, 400.0), CAMERA)
    assert np.linalg.norm(tvec) == pytest.approx(1.5)
    projected, _ = cv2.projectPoints(np.zeros((1, 3)), rvec, tvec, CAMERA, np.zeros(5))
    np.testing.assert_allclose(projected.reshape(2), (100.0, 400.0), atol=1e-9)
    normal = cv2.Rodrigues(rvec)[0][:, 2]
    angle = math.degrees(math.acos(np.clip(normal @ tvec / np.linalg.norm(tvec), -1, 1)))
    assert angle == pytest.approx(tilt_deg, abs=1e-6)


def test_degrade_is_deterministic_and_changes_the_image() -> None:
    image = marker_texture(2, 200)
    first = degrade(image, 1.0, 3.0, 70, np.random.default_rng(1))
    assert np.array_equal(first, degrade(image, 1.0, 3.0, 70, np.random.default_rng(1)))
    assert first.shape == image.shape and first.dtype == np.uint8
    assert 1.0 < np.abs(first.astype(int) - image.astype(int)).mean() < 40
    assert np.array_equal(degrade(image), image)
    blurred = degrade(image, blur_sigma=2.0)
    assert np.abs(np.diff(blurred.astype(int), axis=1)).mean() < np.abs(np.diff(image.astype(int), axis=1)).mean()
