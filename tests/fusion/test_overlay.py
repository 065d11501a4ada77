"""The overlay draws each layer where it belongs, on a copy, and only the layers asked for."""

from __future__ import annotations

import numpy as np
import pytest

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.core import OverlayState
from gazefusion.fusion.overlay import LAYERS, draw_overlay, marker_label
from gazefusion.fusion.types import MarkerHit

INTRINSICS = CameraIntrinsics.from_fov((640, 480))
CORNERS = np.array([[400, 100], [500, 100], [500, 200], [400, 200]], float)
HIT = MarkerHit("poster", CORNERS, np.eye(3), 50, 0.5, np.array([0.2, -0.1, 1.0]), np.zeros(3), 1.025)
STATE = OverlayState(gaze_cam=(100.0, 300.0), aoi=(60, 260, 80, 80), hit=HIT)


def changed(before: np.ndarray, after: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> int:
    return int(np.any(before[y0:y1, x0:x1] != after[y0:y1, x0:x1], axis=2).sum())


@pytest.mark.parametrize(
    ("layer", "box"),
    [
        pytest.param("gaze", (94, 294, 107, 307), id="gaze-point"),
        pytest.param("aoi", (58, 258, 142, 262), id="aoi-top-edge"),
        pytest.param("marker", (398, 98, 502, 102), id="marker-outline"),
        pytest.param("label", (400, 66, 600, 94), id="marker-label"),
    ],
)
def test_each_layer_draws_where_it_belongs_and_only_when_on(layer, box):
    image = np.full((480, 640, 3), 90, np.uint8)
    with_layer = draw_overlay(image, STATE, INTRINSICS, [layer])
    others = draw_overlay(image, STATE, INTRINSICS, [name for name in LAYERS if name != layer])
    assert changed(image, with_layer, *box) > 10
    assert changed(image, others, *box) == 0
    assert np.all(image == 90), "the frame itself is not drawn on"


def test_the_axes_start_at_the_marker_centre():
    image = np.full((480, 640, 3), 90, np.uint8)
    drawn = draw_overlay(image, OverlayState(hit=HIT), INTRINSICS, ["marker"])
    centre = INTRINSICS.camera_matrix @ HIT.position_m
    u, v = (centre[:2] / centre[2]).round().astype(int)
    assert changed(image, drawn, u - 2, v - 2, u + 3, v + 3) > 0


def test_marker_label_reads_id_and_position():
    assert marker_label("poster", np.array([0.2, -0.1, 1.0])) == "poster  x=+0.20 y=-0.10 z=1.00 m"
