"""Gaze samples and fixations joined with the markers of the nearest frames, on constructed streams."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.analysis.join import FixationOnMarker, GazeOnMarker, GazeOnMarkers
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import Fixation, SearchedFrame
from tests.fusion.analysis.conftest import SHAPE, make_hit

GEOMETRY = ScreenGeometry(640, 480, 320.0, 240.0, 600.0)
FRAME_S = 1 / 30


def _join(intrinsics: CameraIntrinsics, ring_frames: int = 4) -> GazeOnMarkers:
    return GazeOnMarkers(
        {SHAPE.marker_id: SHAPE}, lambda size: intrinsics, True, GEOMETRY, lambda points: points, ring_frames
    )


def _camera_px(hit, intrinsics: CameraIntrinsics, picture_px: tuple[float, float]) -> tuple[float, float]:
    affine = SHAPE.to_marker_m
    metres = np.array([[*(affine[:2, :2] @ picture_px + affine[:2, 2]), 0.0]])
    image, _ = cv2.projectPoints(metres, hit.rotation, hit.position_m, intrinsics.camera_matrix, intrinsics.dist_coeffs)
    return tuple(image.reshape(2))


def test_samples_join_the_nearest_frame_once_it_is_final(pinhole: CameraIntrinsics) -> None:
    hit = make_hit(SHAPE, pinhole)
    join = _join(pinhole, ring_frames=2)
    x, y = _camera_px(hit, pinhole, (100.0, 50.0))
    rows = []
    rows += join.frame(0, 0.0)
    join.searched(SearchedFrame(0, 0.0, (640, 480), (hit,)))
    join.sample(0.010, x, y, True)  # nearer frame 0
    join.sample(FRAME_S / 2, x, y, True)  # a tie: the later frame (1, no marker)
    join.sample(0.020, math.nan, y, True)  # not finite: no row
    join.sample(0.021, x, y, False)  # invalid: no row
    rows += join.frame(1, FRAME_S)
    assert rows == []  # frame 0 is still in the ring of 2: a fixation start may search it
    rows += join.frame(2, 2 * FRAME_S)
    assert [(row.t, row.frame_index, row.point.marker) for row in rows] == [(0.010, 0, "poster")]
    assert isinstance(rows[0], GazeOnMarker)
    row = rows[0].point
    assert row.on_marker
    assert (row.u, row.v) == pytest.approx(((100.5) / 400, (50.5) / 300), abs=1e-6)
    assert (row.x_mm, row.y_mm) == pytest.approx((row.u * 240, row.v * 180))
    assert row.px_per_deg > 0


def test_a_late_search_still_counts_and_far_frames_do_not(pinhole: CameraIntrinsics) -> None:
    hit = make_hit(SHAPE, pinhole)
    join = _join(pinhole, ring_frames=3)
    x, y = _camera_px(hit, pinhole, (200.0, 150.0))
    join.frame(0, 0.0)
    join.sample(0.001, x, y, True)
    join.sample(0.5, x, y, True)  # 0.3 s from any frame: joins none
    join.frame(1, 0.8)
    join.searched(SearchedFrame(0, 0.0, (640, 480), (hit,)))  # frame 0 searched after frame 1 came
    rows = join.finish()
    assert [row.t for row in rows] == [0.001]


def _stream(intrinsics: CameraIntrinsics, hit, searches_first: bool) -> list:
    """Two fixations over 20 frames; searches either as they happen or all known up front."""
    join = _join(intrinsics, ring_frames=4)
    fixations = [Fixation(1, 0.02, 0.30, 0.284, 0, 0, 0.1, 70), Fixation(2, 0.40, 0.60, 0.204, 0, 0, 0.1, 50)]
    searched = {i: SearchedFrame(i, i * FRAME_S, (640, 480), (hit,)) for i in range(20) if i not in (10, 11)}
    rows = []
    ended: set[int] = set()
    if searches_first:
        for fixation in fixations:
            rows += join.fixation_end(fixation)
    for i in range(20):
        for k in range(8):
            t = i * FRAME_S + k * FRAME_S / 8
            picture = (100.0 + 100 * (t > 0.35), 80.0 + 5 * k)
            join.sample(t, *_camera_px(hit, intrinsics, picture), True)
            for fixation in fixations:
                if not searches_first and fixation.id not in ended and t > fixation.offset + 0.05:
                    ended.add(fixation.id)  # the detector decides an end a little after it
                    rows += join.fixation_end(fixation)
        rows += join.frame(i, i * FRAME_S + 7 * FRAME_S / 8)
        if i in searched:
            join.searched(searched[i])
    rows += join.finish()
    return rows


def test_fixation_rows_and_the_same_rows_whatever_the_order(pinhole: CameraIntrinsics) -> None:
    hit = make_hit(SHAPE, pinhole, tilt_deg=30.0)
    streamed = _stream(pinhole, hit, searches_first=False)
    known = _stream(pinhole, hit, searches_first=True)
    gaze = sorted((r for r in streamed if isinstance(r, GazeOnMarker)), key=lambda r: r.t)
    assert gaze == sorted((r for r in known if isinstance(r, GazeOnMarker)), key=lambda r: r.t)
    assert len(gaze) == 18 * 8  # frames 10 and 11 found no marker
    fixation_rows = [r for r in streamed if isinstance(r, FixationOnMarker)]
    assert fixation_rows == [r for r in known if isinstance(r, FixationOnMarker)]
    first, second = fixation_rows
    assert (first.fixation.id, second.fixation.id) == (1, 2)
    # The mean position of the samples: x 100 px then 200 px on the picture, y 80-115 px.
    assert first.point.u == pytest.approx(100.5 / 400, abs=1e-6)
    assert second.point.u == pytest.approx(200.5 / 400, abs=1e-6)
    assert first.point.v == pytest.approx((80 + 17.5 + 0.5) / 300, abs=0.01)
    expected = sum(1 for r in gaze if 0.02 <= r.t <= 0.30)
    assert first.n_samples == expected and first.point.on_marker
