"""Camera calibration against ground truth: refinement windows and detectors, as peers.

Renders chessboard views with a known camera (640x480, fx=610, fy=606, k1=-0.28, k2=0.09)
and, on the same views in the same run, compares:
- refinement: the window sized to the squares as imaged (gazefusion's default, 0.4 of the
  smallest imaged square side; also 0.25) against fixed 11x11 and 5x5 windows and against
  no refinement at all;
- detection: findChessboardCornersSB against findChessboardCorners (adaptive threshold) and
  "auto" (SB, then the classic one where SB fails).
Prints corner error against the true corners, calibration RMS, and the errors of fx, fy and
the principal point, with ratios to the sized window.

    nice python bench/bench_calibration.py [--sets 3] [--views 15]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gazefusion.calibration.camera import (  # noqa: E402
    BoardView,
    calibrate_views,
    detect_board,
    refine_corners,
    sized_half_window,
)
from tests.calibration.chessboards import (  # noqa: E402
    TRUE_MATRIX,
    TRUE_SIZE,
    random_poses,
    render_chessboard,
    true_corners,
)

BOARD = (9, 6)
SQUARE_MM = 25.0
# Refinement peers: a fraction of the smallest imaged square side (float), a fixed half-window
# (int), or None for the detector's own corners.
WINDOWS: dict[str, float | int | None] = {
    "sized (0.4 x square)": 0.4,
    "sized (0.25 x square)": 0.25,
    "fixed 11x11": 5,
    "fixed 5x5": 2,
    "none (detector's own)": None,
}
# (blur sigma px, noise grey levels, board width as a fraction of the image width)
CONDITIONS = {
    "sharp (blur 0.6 px, noise 2, board 20-70% wide)": (0.6, 2.0, (0.2, 0.7)),
    "soft (blur 1.2 px, noise 4, board 20-70% wide)": (1.2, 4.0, (0.2, 0.7)),
    "small (blur 0.6 px, noise 2, board 15-30% wide)": (0.6, 2.0, (0.15, 0.3)),
}


def _aligned_errors(found: np.ndarray, truth: np.ndarray) -> np.ndarray:
    errors = np.linalg.norm(found - truth, axis=1)
    flipped = np.linalg.norm(found[::-1] - truth, axis=1)
    return errors if errors.mean() < flipped.mean() else flipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=3, help="view sets per condition (default: 3)")
    parser.add_argument("--views", type=int, default=15, help="views per set (default: 15)")
    args = parser.parse_args()
    for condition, (blur, noise, fill) in CONDITIONS.items():
        corner_errors: dict[str, list[np.ndarray]] = {name: [] for name in WINDOWS}
        calib: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in WINDOWS}
        detect = {"sb": [0, 0, 0.0], "classic": [0, 0, 0.0], "auto": [0, 0, 0.0]}
        for set_index in range(args.sets):
            poses = random_poses(args.views, BOARD, SQUARE_MM, seed=100 + set_index, fill_range=fill)
            views: dict[str, list[BoardView]] = {name: [] for name in WINDOWS}
            for index, pose in enumerate(poses):
                gray = render_chessboard(
                    BOARD, SQUARE_MM, pose, blur_sigma_px=blur, noise_sigma=noise, seed=set_index * 1000 + index
                )
                truth = true_corners(BOARD, SQUARE_MM, pose)
                for method in detect:
                    start = time.perf_counter()
                    found = detect_board(gray, BOARD, method)
                    detect[method][2] += time.perf_counter() - start
                    detect[method][1] += 1
                    detect[method][0] += found is not None
                corners = detect_board(gray, BOARD, "auto")
                if corners is None:
                    continue
                for name, window in WINDOWS.items():
                    if window is None:
                        refined, used = corners, 0
                    else:
                        used = sized_half_window(corners, BOARD, ratio=window) if isinstance(window, float) else window
                        refined = refine_corners(gray, corners, used)
                    corner_errors[name].append(_aligned_errors(refined, truth))
                    views[name].append(BoardView(f"set{set_index}-view{index}", TRUE_SIZE, refined, used))
            for name, chosen in views.items():
                result = calibrate_views(chosen, BOARD, SQUARE_MM, max_view_rms_px=1e9)
                matrix = result.intrinsics.camera_matrix
                calib[name].append(
                    (
                        result.intrinsics.rms,
                        100 * abs(matrix[0, 0] / TRUE_MATRIX[0, 0] - 1),
                        100 * abs(matrix[1, 1] / TRUE_MATRIX[1, 1] - 1),
                        math.hypot(matrix[0, 2] - TRUE_MATRIX[0, 2], matrix[1, 2] - TRUE_MATRIX[1, 2]),
                    )
                )
        print(f"\n== {condition}: {args.sets} sets x {args.views} views, 9x6 board, 640x480")
        print(
            f"{'refinement':24s} {'corner rms px':>13s} {'ratio':>6s} {'calib rms px':>12s} {'ratio':>6s} "
            f"{'fx err %':>8s} {'fy err %':>8s} {'pp err px':>9s}  (worst set)"
        )
        reference_corner = math.sqrt(float(np.mean(np.concatenate(corner_errors["sized (0.4 x square)"]) ** 2)))
        reference_rms = float(np.mean([row[0] for row in calib["sized (0.4 x square)"]]))
        for name in WINDOWS:
            corner = math.sqrt(float(np.mean(np.concatenate(corner_errors[name]) ** 2)))
            rows = np.array(calib[name])
            rms = float(rows[:, 0].mean())
            print(
                f"{name:24s} {corner:13.4f} {corner / reference_corner:6.2f} {rms:12.4f} {rms / reference_rms:6.2f} "
                f"{rows[:, 1].max():8.3f} {rows[:, 2].max():8.3f} {rows[:, 3].max():9.2f}"
            )
        print(f"{'detector':24s} {'found':>13s} {'ms/view':>8s}")
        for method, (found, total, seconds) in detect.items():
            print(f"{method:24s} {f'{found}/{total}':>13s} {1000 * seconds / total:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
