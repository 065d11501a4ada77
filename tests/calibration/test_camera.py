"""Chessboard detection, refinement, calibration and live view selection on rendered boards."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from gazefusion.calibration.camera import (
    BoardView,
    ViewSelector,
    calibrate_views,
    detect_board,
    find_view,
    parse_board,
    read_views,
    sized_half_window,
    smallest_square_px,
    view_signature,
)
from gazefusion.fusion.errors import CalibrationError, ConfigError
from tests.calibration.chessboards import TRUE_DIST, TRUE_MATRIX, TRUE_SIZE, random_poses, true_corners
from tests.calibration.conftest import BOARD, SQUARE_MM


def _aligned(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Corner errors px, allowing OpenCV's 180-degree ordering of a symmetric board."""
    errors = np.linalg.norm(found - truth, axis=1)
    flipped = np.linalg.norm(found[::-1] - truth, axis=1)
    return errors if errors.mean() < flipped.mean() else flipped


@pytest.mark.parametrize(
    ("text", "board"), [("9x6", (9, 6)), ("7X5", (7, 5)), ("8×11", (8, 11))], ids=["9x6", "upper-X", "times-sign"]
)
def test_parse_board(text: str, board: tuple[int, int]) -> None:
    assert parse_board(text) == board


@pytest.mark.parametrize(
    "text",
    ["9by6", "1x1", "9x1", "9", "9x6x2", "axb", "-9x6"],
    ids=["by", "1x1", "9x1", "one-number", "three", "letters", "negative"],
)
def test_parse_board_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match="--board"):
        parse_board(text)


@pytest.mark.parametrize("method", ["auto", "sb", "classic"])
def test_detected_and_refined_corners_match_the_truth(rendered_views, method: str) -> None:
    errors = []
    for path, pose in rendered_views[:6]:
        view = find_view(cv2.imread(str(path)), BOARD, path.name, method=method)
        if view is None:
            continue
        assert view.image_size == TRUE_SIZE
        assert view.corners.shape == (BOARD[0] * BOARD[1], 2)
        errors.append(_aligned(view.corners, true_corners(BOARD, SQUARE_MM, pose)))
    assert len(errors) >= 5
    rms = math.sqrt(float(np.mean(np.concatenate(errors) ** 2)))
    assert rms < 0.15


def test_sized_window_follows_the_squares_and_stays_inside_them(rendered_views) -> None:
    for _path, pose in rendered_views:
        corners = true_corners(BOARD, SQUARE_MM, pose)
        side = smallest_square_px(corners, BOARD)
        half = sized_half_window(corners, BOARD)
        assert 2 <= half <= 12
        assert half < side / 2 or half == 2
    grid = np.mgrid[0:9, 0:6].T.reshape(-1, 2) * 40.0
    assert smallest_square_px(grid, BOARD) == pytest.approx(40.0)
    assert sized_half_window(grid, BOARD) == 12
    assert sized_half_window(grid * 0.25, BOARD) == 4


def test_no_board_in_a_uniform_image() -> None:
    assert detect_board(np.full((480, 640), 128, np.uint8), BOARD) is None
    assert find_view(np.zeros((480, 640, 3), np.uint8), BOARD) is None


@pytest.fixture(scope="module")
def detected(rendered_views) -> tuple[list[BoardView], list[tuple[str, str]]]:
    """The rendered views as read_views finds them (once per module)."""
    return read_views([path for path, _ in rendered_views], BOARD)


def test_calibration_recovers_the_known_camera(detected) -> None:
    views, skipped = detected
    assert skipped == [] and len(views) == 15
    result = calibrate_views(views, BOARD, SQUARE_MM)
    matrix = result.intrinsics.camera_matrix
    assert matrix[0, 0] == pytest.approx(TRUE_MATRIX[0, 0], rel=0.005)
    assert matrix[1, 1] == pytest.approx(TRUE_MATRIX[1, 1], rel=0.005)
    assert abs(matrix[0, 2] - TRUE_MATRIX[0, 2]) < 2.0
    assert abs(matrix[1, 2] - TRUE_MATRIX[1, 2]) < 2.0
    assert result.intrinsics.dist_coeffs[0] == pytest.approx(TRUE_DIST[0], abs=0.02)
    assert result.intrinsics.rms < 0.2
    assert result.rejected == []
    assert len(result.view_errors_px) == len(views)


def test_a_bad_view_is_rejected_and_named(detected) -> None:
    views = list(detected[0])
    rng = np.random.default_rng(5)
    spoiled = views[4]._replace(
        corners=(views[4].corners + rng.normal(0, 3.0, views[4].corners.shape)).astype(np.float32)
    )
    views[4] = spoiled
    result = calibrate_views(views, BOARD, SQUARE_MM)
    assert [name for name, _ in result.rejected] == [spoiled.name]
    assert result.rejected[0][1] > 1.0
    assert spoiled.name not in [name for name, _ in result.view_errors_px]
    assert result.intrinsics.camera_matrix[0, 0] == pytest.approx(TRUE_MATRIX[0, 0], rel=0.005)


def test_too_few_views_refused(detected) -> None:
    views = detected[0][:3]
    with pytest.raises(CalibrationError, match="only 3 usable chessboard views, need at least 5"):
        calibrate_views(views, BOARD, SQUARE_MM)


def test_views_of_different_sizes_refused() -> None:
    corners = np.zeros((54, 2), np.float32)
    views = [BoardView(f"v{i}", (640, 480) if i else (320, 240), corners, 3) for i in range(5)]
    with pytest.raises(CalibrationError, match="different image sizes"):
        calibrate_views(views, BOARD, SQUARE_MM)


def _corners(index: int) -> np.ndarray:
    """The imaged corners of the index-th of nine random poses spread over the image."""
    pose = random_poses(9, BOARD, SQUARE_MM, seed=11)[index % 9]
    return true_corners(BOARD, SQUARE_MM, pose)


def test_selector_takes_a_steady_board_once() -> None:
    selector = ViewSelector(BOARD, TRUE_SIZE, steady_frames=3, steady_px=2.0)
    corners = _corners(1)
    assert [selector.offer(corners + 0.3 * i) for i in range(3)] == [False, False, True]
    # The same pose again, however steady, is not a new view.
    assert not any(selector.offer(corners) for _ in range(6))
    assert len(selector.taken) == 1


def test_selector_waits_for_the_board_to_stop_moving() -> None:
    selector = ViewSelector(BOARD, TRUE_SIZE, steady_frames=3, steady_px=2.0)
    corners = _corners(2)
    assert not any(selector.offer(corners + 3.0 * i) for i in range(8))
    assert [selector.offer(corners + 24.0) for _ in range(3)] == [False, False, True]


def test_selector_restarts_when_the_board_is_lost() -> None:
    selector = ViewSelector(BOARD, TRUE_SIZE, steady_frames=3)
    corners = _corners(3)
    assert [selector.offer(c) for c in (corners, corners, None, corners, corners)] == [False] * 5
    assert selector.offer(corners)


def test_selector_takes_different_poses() -> None:
    selector = ViewSelector(BOARD, TRUE_SIZE, steady_frames=2)
    taken = 0
    for seed in range(9):
        corners = _corners(seed)
        taken += sum(selector.offer(corners) for _ in range(3))
    assert taken >= 6
    signatures = np.array(selector.taken)
    distances = np.linalg.norm(signatures[:, None] - signatures[None], axis=2)[np.triu_indices(len(signatures), 1)]
    assert distances.min() >= selector.min_difference


def test_signature_separates_position_size_and_tilt() -> None:
    grid = np.mgrid[0:9, 0:6].T.reshape(-1, 2).astype(float) * 30 + 100
    base = view_signature(grid, BOARD, TRUE_SIZE)
    moved = view_signature(grid + [200, 0], BOARD, TRUE_SIZE)
    bigger = view_signature((grid - 100) * 1.5 + 100, BOARD, TRUE_SIZE)
    # A keystone: the right edge shorter than the left, as for a board turned about its vertical axis.
    keystone = grid.copy()
    keystone[:, 1] = 175 + (grid[:, 1] - 175) * (1 - 0.4 * (grid[:, 0] - 100) / 240)
    tilted = view_signature(keystone, BOARD, TRUE_SIZE)
    assert moved[0] - base[0] == pytest.approx(200 / 640)
    assert bigger[2] > base[2] * 1.4
    assert tilted[3] < -0.2 and base[3] == pytest.approx(0.0)
    # Turned the other way (the left edge shorter): the same size of tilt, the other sign.
    mirrored = keystone.copy()
    mirrored[:, 0] = 440 - (keystone[:, 0] - 100)
    mirrored = mirrored.reshape(6, 9, 2)[:, ::-1].reshape(-1, 2)
    assert view_signature(mirrored, BOARD, TRUE_SIZE)[3] == pytest.approx(-tilted[3])
    # The 180-degree corner order of OpenCV gives the same signature.
    assert np.allclose(view_signature(keystone[::-1], BOARD, TRUE_SIZE), tilted)
