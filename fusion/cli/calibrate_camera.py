"""`gazefusion calibrate camera`: camera intrinsics from chessboard images or a live source.

gazefusion calibrate camera --images 'shots/*.png' --board 9x6 --square-mm 25 --out camera.yaml
gazefusion calibrate camera --camera http://cam/stream --views 15 --board 9x6 --square-mm 25 --out camera.yaml
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gazefusion.calibration.camera import (
    DETECTORS,
    BoardView,
    CalibrationResult,
    LiveCapture,
    calibrate_views,
    calibration_record,
    parse_board,
    read_views,
)
from gazefusion.calibration.intrinsics import save_intrinsics
from gazefusion.fusion.errors import CalibrationError, ConfigError, DisplayError, FileFormatError, OutputError

#: What a folder given to --images contributes.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `calibrate camera`."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", metavar="GLOB", help="chessboard images: a glob pattern (quote it) or a folder")
    source.add_argument("--camera", metavar="SOURCE", help="a live camera source (URL, device index, file)")
    parser.add_argument("--board", required=True, metavar="COLSxROWS", help="inner corners of the chessboard, e.g. 9x6")
    parser.add_argument("--square-mm", required=True, type=float, metavar="S", help="side of one square, mm")
    parser.add_argument("--out", required=True, metavar="CAMERA.yaml", help="intrinsics file to write")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of text")
    parser.add_argument("--views", type=int, default=15, metavar="N", help="live: views to take (default: 15)")
    parser.add_argument("--headless", action="store_true", help="live: no window")
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=300.0,
        metavar="S",
        help="live: stop capturing after this long, s; Ctrl-C also stops and calibrates "
        "from the views taken (default: 300)",
    )
    parser.add_argument("--save-views", metavar="DIR", help="live: also write the views taken as PNG files here")
    parser.add_argument("--min-views", type=int, default=5, metavar="N", help="fewest usable views (default: 5)")
    parser.add_argument(
        "--max-view-rms",
        type=float,
        default=0.5,
        metavar="PX",
        help="views below this RMS error are never rejected, px (default: 0.5)",
    )
    parser.add_argument(
        "--detector",
        choices=sorted(DETECTORS),
        default="auto",
        help="chessboard detector: sb, classic or auto (sb then classic) (default: auto)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        metavar="H",
        help="fixed sub-pixel half-window, px (default: sized to the squares as imaged)",
    )


def _warn(text: str) -> None:
    """A line on stderr that the user must see (not subject to the log level)."""
    print(f"gazefusion: {text}", file=sys.stderr)


def _check_display() -> None:
    """Refuse a window where none can open (Qt aborts the process instead of raising)."""
    if sys.platform.startswith("linux") and not any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    ):
        raise DisplayError("no display for the calibration window (DISPLAY is not set): use --headless")


def _check_out(path: Path) -> None:
    """Refuse an unwritable --out before any work is done."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"--out {path} is a folder: give a file name such as {path / 'camera.yaml'}")
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"--out {path}: {parent} is not a folder")
    if not parent.is_dir():
        raise OutputError(f"--out {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"--out {path}: not writable")


def _check_args(args: argparse.Namespace) -> tuple[int, int]:
    board = parse_board(args.board)
    if not (math.isfinite(args.square_mm) and args.square_mm > 0):
        raise ConfigError(f"--square-mm must be a positive number of mm, got {args.square_mm:g}")
    if args.min_views < 3:
        raise ConfigError(f"--min-views must be at least 3, got {args.min_views}")
    if args.camera is not None and args.views < args.min_views:
        raise ConfigError(f"--views {args.views}: need at least --min-views ({args.min_views})")
    if not (math.isfinite(args.max_view_rms) and args.max_view_rms > 0):
        raise ConfigError(f"--max-view-rms must be a positive number of px, got {args.max_view_rms:g}")
    if args.camera is None and args.save_views:
        raise ConfigError("--save-views is for a live calibration (--camera)")
    if args.camera is not None and not (math.isfinite(args.timeout_s) and args.timeout_s > 0):
        raise ConfigError(f"--timeout-s must be a positive number of seconds, got {args.timeout_s:g}")
    if args.window is not None and args.window < 1:
        raise ConfigError(f"--window must be a half-size of at least 1 px, got {args.window}")
    _check_out(Path(args.out))
    return board


def _image_views(
    args: argparse.Namespace, board: tuple[int, int]
) -> tuple[list[BoardView], list[tuple[str, str]], None]:
    pattern = os.path.expanduser(args.images)
    if os.path.isdir(pattern):
        paths = sorted(str(path) for path in Path(pattern).iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
    else:
        paths = sorted(path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path))
    if not paths:
        raise FileFormatError(f"--images {args.images!r} matches no files")
    views, skipped = read_views(paths, board, args.detector, args.window)
    for name, reason in skipped:
        _warn(f"skipped {name}: {reason}")
    if not views:
        unreadable = sum(reason == "not a readable image" for _, reason in skipped)
        if unreadable == len(paths):
            raise FileFormatError(
                f"no usable views: none of the {len(paths)} files matched by --images is a readable image"
            )
        raise CalibrationError(
            f"no usable views: none of the {len(paths) - unreadable} images shows the whole "
            f"{board[0]}x{board[1]} chessboard (check --board: inner corners, e.g. 9x6)"
        )
    return views, skipped, None


def _live_views(args: argparse.Namespace, board: tuple[int, int]) -> tuple[list[BoardView], list[tuple[str, str]], str]:
    from gazefusion.fusion.camera import open_camera, redact_url
    from gazefusion.fusion.config import CameraConfig

    save_dir = Path(args.save_views) if args.save_views else None
    if save_dir is not None:
        try:
            save_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"--save-views {save_dir}: cannot make the folder ({exc.strerror})") from None

    def save(view: BoardView, image: np.ndarray) -> None:
        if save_dir is not None:
            cv2.imwrite(str(save_dir / f"{view.name}.png"), image)

    if not args.headless:
        _check_display()
    with open_camera(args.camera, CameraConfig(source=args.camera)) as source:
        capture = LiveCapture(source, board, args.views, window=not args.headless, on_view=save)
        views = capture.run(args.timeout_s)
    if save_dir is not None:
        # Name the views by their files, so the record points at images a later --images run can use.
        views = [view._replace(name=str(save_dir / f"{view.name}.png")) for view in views]
    if len(views) < args.views:
        _warn(f"took {len(views)} of {args.views} views before the capture ended ({capture.ended})")
    if not views:
        raise CalibrationError(
            f"no usable views: the {board[0]}x{board[1]} chessboard was never seen whole and steady "
            f"in {capture.frames_seen} frames"
        )
    return views, [], redact_url(args.camera)


def run(args: argparse.Namespace) -> int:
    """Detect, calibrate, write the file, print the summary."""
    board = _check_args(args)
    views, skipped, source = _live_views(args, board) if args.camera is not None else _image_views(args, board)
    result = calibrate_views(views, board, args.square_mm, min_views=args.min_views, max_view_rms_px=args.max_view_rms)
    extra = calibration_record(result, board, args.square_mm, skipped, source=source)
    save_intrinsics(result.intrinsics, args.out, extra)
    summary = _summary(result, extra, args.out)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_text(summary)
    return 0


def _summary(result: CalibrationResult, extra: dict[str, Any], out: str) -> dict[str, Any]:
    intrinsics = result.intrinsics
    matrix = intrinsics.camera_matrix
    return {
        "out": str(out),
        "image_size": list(intrinsics.image_size),
        "views_used": len(result.view_errors_px),
        "views_rejected": [item["image"] for item in extra["rejected"]],
        "images_skipped": [item["image"] for item in extra["skipped"]],
        "rms": float(intrinsics.rms),
        "fx": float(matrix[0, 0]),
        "fy": float(matrix[1, 1]),
        "cx": float(matrix[0, 2]),
        "cy": float(matrix[1, 2]),
        "dist_coeffs": [float(v) for v in intrinsics.dist_coeffs],
        "view_errors_px": extra["view_errors_px"],
    }


def _print_text(summary: dict[str, Any]) -> None:
    width, height = summary["image_size"]
    lines = [
        f"calibrated {width}x{height} from {summary['views_used']} views "
        f"({len(summary['views_rejected'])} rejected, {len(summary['images_skipped'])} skipped)",
        f"rms {summary['rms']:.4f} px",
        f"fx {summary['fx']:.2f}  fy {summary['fy']:.2f}  cx {summary['cx']:.2f}  cy {summary['cy']:.2f}",
        "dist " + " ".join(f"{v:.5f}" for v in summary["dist_coeffs"]),
    ]
    lines += [f"rejected {name}" for name in summary["views_rejected"]]
    lines.append(f"wrote {summary['out']}")
    sys.stdout.write("\n".join(lines) + "\n")
