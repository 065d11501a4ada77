"""Tracking between detections: follows a moving marker, re-detects, drops a lost track."""

from __future__ import annotations

import numpy as np

from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.markers import MarkerDetector, MarkerLibrary, MarkerTracker
from gazefusion.fusion.synthetic import background_texture, degrade, marker_pose, render_plane
from tests.fusion.markers.scenes import CAMERA, SIZE, WIDTH_M, texture


def moving_frames(count: int, visible: set[int] | None = None):
    """A marker drifting right and away, frame by frame, over a fixed background."""
    background = background_texture(21, SIZE)
    rng = np.random.default_rng(4)
    for index in range(count):
        frame = background.copy()
        rvec, tvec = marker_pose(0.7 + 0.01 * index, 20, 30, 5 + index, (250 + 6 * index, 240), CAMERA)
        if visible is None or index in visible:
            render_plane(frame, texture("a"), WIDTH_M, rvec, tvec, CAMERA)
        yield degrade(frame, 0.8, 2.0, 85, rng), tvec


def test_tracker_follows_a_moving_marker(library: MarkerLibrary, intrinsics) -> None:
    detector = MarkerDetector(library, intrinsics, MarkersConfig(redetect_every=4))
    tracker = MarkerTracker(detector)
    calls = []
    original = detector.detect_with_correspondences

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    detector.detect_with_correspondences = counting  # type: ignore[method-assign]
    for frame, tvec in moving_frames(12):
        hits = tracker.update(frame)
        assert [hit.marker_id for hit in hits] == ["a"]
        assert np.linalg.norm(hits[0].position_m - tvec) < 0.015 * np.linalg.norm(tvec)
    # Detected on frames 0, 4 and 8; tracked by flow in between.
    assert len(calls) == 3


def test_tracker_drops_a_lost_track_and_detects_again(library: MarkerLibrary, intrinsics) -> None:
    tracker = MarkerTracker(MarkerDetector(library, intrinsics, MarkersConfig(redetect_every=10)))
    results = [tracker.update(frame) for frame, _ in moving_frames(8, visible={0, 1, 2, 5, 6, 7})]
    assert [len(hits) for hits in results] == [1, 1, 1, 0, 0, 1, 1, 1]


def test_tracker_resets_on_a_new_frame_size(library: MarkerLibrary, intrinsics) -> None:
    tracker = MarkerTracker(MarkerDetector(library, intrinsics))
    frame, _ = next(moving_frames(1))
    assert len(tracker.update(frame)) == 1
    assert tracker.update(np.zeros((240, 320, 3), np.uint8)) == []
    assert tracker.update(np.zeros((0, 0, 3), np.uint8)) == []
