"""`gazefusion locate IMAGE`: find the library's markers in one image and print their 3D pose."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics, load_intrinsics
from gazefusion.fusion.config import load_config
from gazefusion.fusion.errors import ConfigError, FileFormatError
from gazefusion.fusion.markers import MarkerDetector, MarkerLibrary
from gazefusion.fusion.markers.detector import clip_roi, hit_summary

#: Horizontal field of view assumed without --intrinsics, degrees.
DEFAULT_FOV_DEG = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``gazefusion locate``."""
    parser.add_argument("image", metavar="IMAGE", help="the picture to search (any format OpenCV reads)")
    parser.add_argument(
        "--markers",
        metavar="MARKERS.yaml",
        help="marker library: pictures {id, image, width_m} and tags {id, aruco, width_m} (default: markers.file of --config)",
    )
    parser.add_argument(
        "--intrinsics",
        metavar="CAMERA.yaml",
        help="camera intrinsics from `gazefusion calibrate camera` "
        f"(default: calibration.intrinsics of --config, else an assumed {DEFAULT_FOV_DEG:.0f}° horizontal field of view)",
    )
    parser.add_argument("--roi", metavar="X,Y,W,H", help="search only this region, px (clipped to the image)")
    parser.add_argument("--gaze", metavar="X,Y", help="gaze point, px: the marker containing it is listed first")
    parser.add_argument(
        "--config", metavar="CONFIG.yaml", help="configuration file (markers section: detector settings)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    """Detect, then print the detections."""
    config = load_config(args.config)
    markers_path = args.markers or config.markers.file
    if not markers_path:
        raise ConfigError(
            "no marker library: give --markers MARKERS.yaml (pictures {id, image, width_m}, tags {id, aruco, width_m})"
        )
    requested: tuple[int, int, int, int] | None = None
    if args.roi is not None:
        x, y, w, h = (int(round(v)) for v in parse_numbers(args.roi, 4, "--roi", "X,Y,W,H"))
        requested = (x, y, w, h)
        if requested[2] <= 0 or requested[3] <= 0:
            raise ConfigError(f"--roi {args.roi}: width and height must be positive")
    gaze = None
    if args.gaze is not None:
        gx, gy = parse_numbers(args.gaze, 2, "--gaze", "X,Y")
        gaze = (gx, gy)
    image = read_image(args.image)
    height, width = image.shape[:2]
    roi = None
    if requested is not None:
        roi = clip_roi(requested, (width, height))
        if roi is None:
            raise ConfigError(
                f"--roi {args.roi} lies outside the {width}x{height} image (or leaves less than 8 px of it)"
            )
    library = MarkerLibrary.load(markers_path, config.markers)
    notes = []
    intrinsics_path = args.intrinsics or config.calibration.intrinsics
    if intrinsics_path:
        intrinsics = load_intrinsics(intrinsics_path)
        if tuple(intrinsics.image_size) != (width, height):
            scaled = intrinsics.scaled_to((width, height))
            notes.append(
                f"note: intrinsics for {intrinsics.image_size[0]}x{intrinsics.image_size[1]} scaled to "
                f"this {width}x{height} image"
            )
            intrinsics = scaled
        camera = str(intrinsics_path)
    else:
        intrinsics = CameraIntrinsics.from_fov((width, height), DEFAULT_FOV_DEG)
        camera = f"assumed: {DEFAULT_FOV_DEG:.0f} deg horizontal field of view, no distortion"
        notes.append(
            f"warning: no --intrinsics: assuming a {DEFAULT_FOV_DEG:.0f}° horizontal field of view "
            f"(fx = fy = {intrinsics.camera_matrix[0, 0]:.1f} px); positions are only approximate"
        )
    if roi is not None and roi != requested:
        notes.append(f"note: --roi clipped to the image: {','.join(map(str, roi))}")
    for note in notes:
        print(f"gazefusion: {note}", file=sys.stderr)
    detector = MarkerDetector(library, intrinsics, config.markers)
    hits = detector.detect(image, roi, gaze)
    detections = [hit_summary(hit) for hit in hits]
    if args.json:
        print(
            json.dumps(
                {
                    "image": str(args.image),
                    "size": [width, height],
                    "camera": camera,
                    "roi": list(roi) if roi else None,
                    "gaze": list(gaze) if gaze else None,
                    "detections": detections,
                },
                indent=2,
            )
        )
    else:
        print_table(detections, str(args.image), (width, height), camera)
    return 0


def read_image(path: str) -> np.ndarray:
    """Read a picture, or refuse clearly."""
    if not Path(path).is_file():
        raise FileFormatError(f"image not found: {path}")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise FileFormatError(f"cannot read image {path}: not a picture OpenCV can decode")
    return image


def parse_numbers(text: str, count: int, flag: str, form: str) -> list[float]:
    """``"1,2,3"`` → [1.0, 2.0, 3.0], exactly `count` finite numbers, or a ConfigError."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: expected {form} (numbers, comma-separated)") from None
    if len(values) != count or not all(abs(v) < float("inf") for v in values):
        raise ConfigError(f"{flag} {text!r}: expected {form} ({count} numbers, comma-separated)")
    return values


def print_table(detections: list[dict[str, Any]], image: str, size: tuple[int, int], camera: str) -> None:
    """A readable table of the detections."""
    print(f"{image}: {size[0]}x{size[1]}, camera {camera}")
    if not detections:
        print("no markers found")
        return
    print(
        f"{'marker':<12} {'x_m':>8} {'y_m':>8} {'z_m':>8} {'dist_m':>7} {'tilt_deg':>8} {'inliers':>7} {'reproj_px':>9}  notes"
    )
    for d in detections:
        notes = ", ".join(
            note for note, flag in (("looked at", d["contains_gaze"]), ("tilt uncertain", d["pose_ambiguous"])) if flag
        )
        x, y, z = d["position_m"]
        print(
            f"{d['marker']:<12} {x:8.3f} {y:8.3f} {z:8.3f} {d['distance_m']:7.3f} {d['tilt_deg']:8.1f} "
            f"{d['inliers']:7d} {d['reprojection_error_px']:9.2f}  {notes}"
        )
        corners = "  ".join(f"({cx:.1f}, {cy:.1f})" for cx, cy in d["corners"])
        print(f"{'':<12} corners {corners}  rotation {d['rotation']}")
