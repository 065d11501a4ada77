"""Rendered ground truth for the marker tests: a camera, a small library's pictures, scenes at known poses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from gazefusion.fusion.config import Config
from gazefusion.fusion.core import FusionCore
from gazefusion.fusion.synthetic import background_texture, degrade, marker_pose, marker_texture, render_plane

SIZE = (640, 480)
CAMERA = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
WIDTH_M = 0.2
#: Library markers "a", "b", "c" are these seeds; seed 99 is a picture that is not in it.
SEEDS = {"a": 11, "b": 12, "c": 13}
STRANGER_SEED = 99


class Placed(NamedTuple):
    """A marker rendered into a scene: its id, pose and corners in the frame."""

    marker_id: str
    rvec: np.ndarray
    tvec: np.ndarray
    corners: np.ndarray


def texture(marker_id: str) -> np.ndarray:
    return marker_texture(SEEDS.get(marker_id, STRANGER_SEED), 400)


def render_scene(
    placements: Sequence[tuple[str, float, float, float, tuple[float, float]]],
    seed: int = 0,
    size: tuple[int, int] = SIZE,
    camera: np.ndarray = CAMERA,
    dist: np.ndarray | None = None,
) -> tuple[np.ndarray, list[Placed]]:
    """A degraded frame with markers at (id, distance_m, tilt_deg, roll_deg, centre_px) each."""
    rng = np.random.default_rng(seed)
    frame = background_texture(seed, size)
    placed = []
    for marker_id, distance_m, tilt_deg, roll_deg, centre in placements:
        rvec, tvec = marker_pose(distance_m, tilt_deg, rng.uniform(0, 360), roll_deg, centre, camera)
        corners = render_plane(frame, texture(marker_id), WIDTH_M, rvec, tvec, camera, dist)
        placed.append(Placed(marker_id, rvec, tvec, corners))
    return degrade(frame, 0.8, 2.0, 80, rng), placed


def rotation_error_deg(rvec_a: np.ndarray, rvec_b: np.ndarray) -> float:
    relative = cv2.Rodrigues(np.asarray(rvec_a, float))[0].T @ cv2.Rodrigues(np.asarray(rvec_b, float))[0]
    return float(np.degrees(np.arccos(np.clip((np.trace(relative) - 1) / 2, -1, 1))))


def oxford(folder: Path, name: str, number: int = 1) -> np.ndarray:
    """An Oxford photograph, read at test time (BGR)."""
    image = cv2.imread(str(folder / name / f"img{number}.jpg"), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {folder / name}"
    return image


def left_half(image: np.ndarray) -> np.ndarray:
    """The left half of a photograph (the marker pictures of bench/bench_markers.py)."""
    return image[:, : image.shape[1] // 2].copy()


def right_half(image: np.ndarray) -> np.ndarray:
    """The right half (never a marker there: a real background)."""
    return image[:, image.shape[1] // 2 :].copy()


def core_aoi(gaze_px: tuple[float, float], size: tuple[int, int] = SIZE) -> tuple[int, int, int, int]:
    """The AOI the fusion core builds around a gaze point with the default configuration."""
    config = Config()
    core = FusionCore(None, config.screen.geometry(), config.aoi.size_deg)  # type: ignore[arg-type]
    core.set_camera_size(size)
    assert core.mapping is not None
    x, y, w = np.linalg.inv(core.mapping.params) @ np.array([gaze_px[0], gaze_px[1], 1.0])
    aoi = core.aoi_for(x / w, y / w)
    assert aoi is not None
    return aoi
