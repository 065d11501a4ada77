"""Rendered chessboards with known intrinsics, distortion and poses (tests and benchmarks).

Rendering is by inverse mapping: every output (distorted) pixel, supersampled, is undistorted
to a normalised ray with the known camera, the ray meets the board plane at the known pose,
and the board's colour there is computed exactly (square parity), so the anti-aliasing is a
plain box filter over the supersamples. Mild blur and sensor noise follow.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

#: The camera the accuracy tests recover: realistic barrel distortion at 640x480.
TRUE_SIZE: tuple[int, int] = (640, 480)
TRUE_MATRIX = np.array([[610.0, 0.0, 322.5], [0.0, 606.0, 236.0], [0.0, 0.0, 1.0]])
TRUE_DIST = np.array([-0.28, 0.09, 0.0006, -0.0004, 0.0])
#: Grey level around the board.
BACKGROUND = 110.0


class BoardPose(NamedTuple):
    """Pose of the board in the camera frame: ``X_cam = R @ X_board + tvec`` (mm)."""

    rvec: np.ndarray
    tvec: np.ndarray


def object_points_mm(board: tuple[int, int], square_mm: float) -> np.ndarray:
    """Inner corners (cols*rows, 3) in board mm, row by row, origin at the first corner."""
    cols, rows = board
    grid = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2).astype(np.float64) * square_mm
    return np.hstack([grid, np.zeros((len(grid), 1))])


@functools.lru_cache(maxsize=4)
def _rays(
    size: tuple[int, int], matrix_key: tuple[float, ...], dist_key: tuple[float, ...], supersample: int
) -> np.ndarray:
    """Normalised rays (H*s, W*s, 2) of every supersampled pixel centre (depends only on the camera)."""
    width, height = size
    step = 1.0 / supersample
    offsets = (np.arange(supersample) + 0.5) * step - 0.5
    xs = (np.arange(width)[:, None] + offsets[None, :]).ravel()
    ys = (np.arange(height)[:, None] + offsets[None, :]).ravel()
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 1, 2)
    matrix = np.array(matrix_key).reshape(3, 3)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    rays = cv2.undistortPoints(grid, matrix, np.array(dist_key), None, None, None, criteria)
    return rays.reshape(height * supersample, width * supersample, 2).astype(np.float64)


def _board_box(
    board: tuple[int, int],
    square_mm: float,
    pose: BoardPose,
    size: tuple[int, int],
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray,
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) px bounding the imaged board with its margin (edges sampled densely,
    since distortion bends them), clipped to the image."""
    cols, rows = board
    steps = np.linspace(0.0, 1.0, 33)[:, None]
    corners = np.array([[-2, -2], [cols + 1, -2], [cols + 1, rows + 1], [-2, rows + 1]], float) * square_mm
    edges = np.vstack([a + steps * (b - a) for a, b in zip(corners, np.roll(corners, -1, axis=0))])
    outline, _ = cv2.projectPoints(
        np.hstack([edges, np.zeros((len(edges), 1))]), pose.rvec, pose.tvec, camera_matrix, dist_coeffs
    )
    outline = outline.reshape(-1, 2)
    width, height = size
    x0 = int(np.clip(np.floor(outline[:, 0].min()) - 3, 0, width))
    y0 = int(np.clip(np.floor(outline[:, 1].min()) - 3, 0, height))
    x1 = int(np.clip(np.ceil(outline[:, 0].max()) + 4, x0, width))
    y1 = int(np.clip(np.ceil(outline[:, 1].max()) + 4, y0, height))
    return x0, y0, x1, y1


def render_chessboard(
    board: tuple[int, int],
    square_mm: float,
    pose: BoardPose,
    size: tuple[int, int] = TRUE_SIZE,
    camera_matrix: np.ndarray = TRUE_MATRIX,
    dist_coeffs: np.ndarray = TRUE_DIST,
    supersample: int = 3,
    blur_sigma_px: float = 0.6,
    noise_sigma: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """A grey 8-bit image of the board (inner corners `board`, one white square of margin).

    Parameters
    ----------
    board : tuple[int, int]
        Inner corners (cols, rows).
    square_mm : float
        Square side, mm.
    pose : BoardPose
        Board pose in the camera frame, mm.
    size : tuple[int, int]
        (width, height) px. (default: TRUE_SIZE)
    camera_matrix, dist_coeffs : numpy.ndarray
        The camera. (default: TRUE_MATRIX, TRUE_DIST)
    supersample : int
        Samples per pixel per axis. (default: 3)
    blur_sigma_px : float
        Gaussian blur after rendering, px; 0 for none. (default: 0.6)
    noise_sigma : float
        Gaussian sensor noise, grey levels. (default: 2.0)
    seed : int
        Noise seed. (default: 0)
    """
    cols, rows = board
    rays = _rays(
        tuple(size),
        tuple(np.asarray(camera_matrix, float).ravel()),
        tuple(np.asarray(dist_coeffs, float).ravel()),
        supersample,
    )
    rotation, _ = cv2.Rodrigues(np.asarray(pose.rvec, float))
    # The ray (x, y, 1) meets the plane Z_board = 0 where H @ (X, Y, 1) ~ (x, y, 1), H = [r1 r2 t].
    inverse = np.linalg.inv(np.column_stack([rotation[:, 0], rotation[:, 1], np.asarray(pose.tvec, float).ravel()]))
    width, height = size
    # Only the board's bounding box needs the per-sample work; the rest is background.
    x0, y0, x1, y1 = _board_box(board, square_mm, pose, size, camera_matrix, dist_coeffs)
    rays = rays[y0 * supersample : y1 * supersample, x0 * supersample : x1 * supersample]
    xs, ys = rays[..., 0], rays[..., 1]
    denom = inverse[2, 0] * xs + inverse[2, 1] * ys + inverse[2, 2]
    bx = (inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]) / denom / square_mm
    by = (inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]) / denom / square_mm
    # Squares from (-1, -1) to (cols, rows) in square units; the corner at (0, 0) is inner.
    inside = (bx >= -1) & (bx < cols) & (by >= -1) & (by < rows) & (denom > 0)
    dark = ((np.floor(bx) + np.floor(by)) % 2 == 0) & inside
    margin = (bx >= -2) & (bx < cols + 1) & (by >= -2) & (by < rows + 1) & (denom > 0)
    values = np.where(dark, 25.0, np.where(margin, 230.0, BACKGROUND))
    image = np.full((height, width), BACKGROUND)
    image[y0:y1, x0:x1] = values.reshape(y1 - y0, supersample, x1 - x0, supersample).mean(axis=(1, 3))
    if blur_sigma_px > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur_sigma_px)
    image = image + np.random.default_rng(seed).normal(0.0, noise_sigma, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def true_corners(
    board: tuple[int, int],
    square_mm: float,
    pose: BoardPose,
    camera_matrix: np.ndarray = TRUE_MATRIX,
    dist_coeffs: np.ndarray = TRUE_DIST,
) -> np.ndarray:
    """Where the inner corners are imaged, (N, 2) px."""
    points, _ = cv2.projectPoints(object_points_mm(board, square_mm), pose.rvec, pose.tvec, camera_matrix, dist_coeffs)
    return points.reshape(-1, 2)


def random_poses(
    count: int,
    board: tuple[int, int],
    square_mm: float,
    seed: int = 0,
    size: tuple[int, int] = TRUE_SIZE,
    camera_matrix: np.ndarray = TRUE_MATRIX,
    dist_coeffs: np.ndarray = TRUE_DIST,
    max_tilt_deg: float = 45.0,
    fill_range: tuple[float, float] = (0.2, 0.7),
) -> list[BoardPose]:
    """Sensible random poses: tilts up to `max_tilt_deg`, the board spanning `fill_range` of
    the image width, centres spread over the image (corners included), whole board in view.
    """
    rng = np.random.default_rng(seed)
    cols, rows = board
    width, height = size
    outline = np.array([[-2, -2, 0], [cols + 1, -2, 0], [cols + 1, rows + 1, 0], [-2, rows + 1, 0]], float) * square_mm
    centre_board = np.array([(cols - 1) / 2.0, (rows - 1) / 2.0, 0.0]) * square_mm
    board_width_mm = (cols + 3) * square_mm
    fx = camera_matrix[0, 0]
    poses: list[BoardPose] = []
    while len(poses) < count:
        fill = rng.uniform(*fill_range)
        depth_mm = fx * board_width_mm / (fill * width)
        # Spread the centres: the i-th pose aims at one of nine image regions in turn.
        region = len(poses) % 9
        u = (region % 3 + rng.uniform(0.15, 0.85)) / 3.0 * width
        v = (region // 3 + rng.uniform(0.15, 0.85)) / 3.0 * height
        centre = depth_mm * np.linalg.inv(camera_matrix) @ np.array([u, v, 1.0])
        axis_angle = rng.uniform(0, 2 * math.pi)
        tilt = math.radians(rng.uniform(10.0, max_tilt_deg))
        tilt_vec = tilt * np.array([math.cos(axis_angle), math.sin(axis_angle), 0.0])
        roll = math.radians(rng.uniform(-25.0, 25.0))
        rotation = cv2.Rodrigues(tilt_vec)[0] @ cv2.Rodrigues(np.array([0.0, 0.0, roll]))[0]
        tvec = centre - rotation @ centre_board
        rvec = cv2.Rodrigues(rotation)[0].ravel()
        corners, _ = cv2.projectPoints(outline, rvec, tvec, camera_matrix, dist_coeffs)
        corners = corners.reshape(-1, 2)
        camera_z = (outline @ rotation.T + tvec)[:, 2]
        if (
            np.all(camera_z > 0)
            and np.all(corners >= 4)
            and np.all(corners[:, 0] <= width - 5)
            and np.all(corners[:, 1] <= height - 5)
        ):
            poses.append(BoardPose(rvec, tvec))
    return poses


def write_views(
    folder: str | Path,
    board: tuple[int, int],
    square_mm: float,
    count: int,
    seed: int = 0,
    ext: str = "png",
    **render: object,
) -> list[tuple[Path, BoardPose]]:
    """Render `count` random views into `folder` as view-NN.<ext>; returns their paths and poses."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index, pose in enumerate(random_poses(count, board, square_mm, seed=seed)):
        path = folder / f"view-{index:02d}.{ext}"
        cv2.imwrite(str(path), render_chessboard(board, square_mm, pose, seed=seed * 1000 + index, **render))
        out.append((path, pose))
    return out


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="render chessboard views by the known camera (TRUE_MATRIX, TRUE_DIST)")
    parser.add_argument("folder", help="where to write view-NN.png")
    parser.add_argument("--board", default="9x6", help="inner corners COLSxROWS (default: 9x6)")
    parser.add_argument("--square-mm", type=float, default=25.0, help="square side, mm (default: 25)")
    parser.add_argument("--count", type=int, default=15, help="views (default: 15)")
    parser.add_argument("--seed", type=int, default=3, help="pose and noise seed (default: 3)")
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.board.lower().split("x"))
    for path, _ in write_views(args.folder, (cols, rows), args.square_mm, args.count, seed=args.seed):
        print(path)
