"""Tracking found markers from frame to frame by pyramidal Lucas-Kanade optical flow, with a
fresh detection every few frames: cheaper than detecting every frame, and steadier."""

from __future__ import annotations

import cv2
import numpy as np

from gazefusion.fusion.images import to_grey
from gazefusion.fusion.markers.detector import Correspondences, MarkerDetector, order_hits
from gazefusion.fusion.types import MarkerHit

#: A tracked point whose forward-backward flow misses its start by more than this is dropped, px.
FORWARD_BACKWARD_PX = 1.0
#: Lucas-Kanade window and pyramid depth.
LK_WINDOW_PX = 21
LK_LEVELS = 3
#: At most this many of a hit's inlier points are followed (evenly picked): the flow's cost
#: grows with the points; 192 keep the demo's pose errors (128 raise them 5%).
MAX_FLOW_POINTS = 192
#: The flow runs on a crop around the tracked points, with this margin beyond their bounding
#: box (frame px): the window at the top pyramid level, plus room for the motion between frames.
#: Cheaper than full-frame pyramids; the crop's origin is a multiple of ``2 ** LK_LEVELS`` so its
#: pyramid samples the frame as the full one does.
FLOW_MARGIN_PX = (LK_WINDOW_PX // 2 + 1) * 2**LK_LEVELS + 64


class MarkerTracker:
    """Detect, then follow each hit's inlier points by optical flow, re-detecting every
    ``config.redetect_every`` frames and whenever nothing is tracked.

    Fiducial markers are not followed: their tags are detected in every frame.
    A track is dropped when too few points survive the flow (forward-backward checked) or the
    flowed points no longer verify (the same checks as a detection). Between detections the
    markers are followed wherever they move; `roi` only restricts detections.

    Parameters
    ----------
    detector : MarkerDetector
        Detects and verifies; its config gives ``redetect_every`` and ``min_inliers``.
    """

    def __init__(self, detector: MarkerDetector) -> None:
        self.detector = detector
        self._previous: np.ndarray | None = None
        self._tracks: dict[str, Correspondences] = {}
        self._since_detection = 0

    def reset(self) -> None:
        """Forget every track; the next frame is detected afresh."""
        self._previous = None
        self._tracks = {}
        self._since_detection = 0

    def update(
        self,
        image: np.ndarray,
        roi: tuple[int, int, int, int] | None = None,
        gaze_xy: tuple[float, float] | None = None,
    ) -> list[MarkerHit]:
        """The hits in this frame, tracked or detected; ordered as `MarkerDetector.detect`.

        Parameters
        ----------
        image : numpy.ndarray
            The next frame (BGR, BGRA or grey).
        roi : tuple[int, int, int, int] or None
            Search region for detections. (default: None)
        gaze_xy : tuple[float, float] or None
            The gaze in frame px. (default: None)
        """
        grey = to_grey(image)
        if grey is None:
            self.reset()
            return []
        if self._previous is not None and self._previous.shape != grey.shape:
            self.reset()
        found: list[tuple[MarkerHit, Correspondences]] = []
        if (
            self._previous is None
            or not self._tracks
            or self._since_detection + 1 >= self.detector.config.redetect_every
        ):
            found = self.detector.detect_with_correspondences(image, roi, gaze_xy)
            self._since_detection = 0
        else:
            found = self._flow(self._previous, grey, gaze_xy)
            if self.detector.library.fiducials:
                # Tags are found afresh in every frame (cheap, and exact): only pictures flow.
                tags = self.detector.detect_with_correspondences(image, roi, gaze_xy, ("aruco",))
                found = order_hits(found + tags)
            self._since_detection += 1
        self._previous = grey
        library = self.detector.library
        self._tracks = {hit.marker_id: pairs for hit, pairs in found if library[hit.marker_id].fiducial is None}
        return [hit for hit, _ in found]

    def _flow(
        self, previous: np.ndarray, grey: np.ndarray, gaze_xy: tuple[float, float] | None
    ) -> list[tuple[MarkerHit, Correspondences]]:
        detector = self.detector
        frame_size = (grey.shape[1], grey.shape[0])
        intrinsics = detector.intrinsics_for(frame_size)
        # 0.03 px steps: the same poses as 0.01 px (bench/bench_markers.py --tracking), fewer iterations.
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)
        lk = {"winSize": (LK_WINDOW_PX, LK_WINDOW_PX), "maxLevel": LK_LEVELS, "criteria": criteria}
        found = []
        for marker_id, pairs in self._tracks.items():
            if len(pairs.frame_px) > MAX_FLOW_POINTS:
                picked = np.linspace(0, len(pairs.frame_px) - 1, MAX_FLOW_POINTS).round().astype(np.int64)
                pairs = Correspondences(pairs.reference_px[picked], pairs.frame_px[picked])
            x0, y0, x1, y1 = flow_crop(pairs.frame_px, frame_size)
            offset = np.array([x0, y0], np.float32)
            start = (pairs.frame_px - offset).reshape(-1, 1, 2).astype(np.float32)
            before, after = previous[y0:y1, x0:x1], grey[y0:y1, x0:x1]
            moved, status, _ = cv2.calcOpticalFlowPyrLK(before, after, start, None, **lk)
            back, status_back, _ = cv2.calcOpticalFlowPyrLK(after, before, moved, None, **lk)
            error = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
            good = (status.ravel() == 1) & (status_back.ravel() == 1) & (error < FORWARD_BACKWARD_PX)
            moved = moved + offset
            if int(good.sum()) < detector.config.min_inliers:
                continue
            result = detector.verify(
                detector.library[marker_id],
                pairs.reference_px[good],
                moved.reshape(-1, 2)[good],
                intrinsics,
                frame_size,
                gaze_xy,
            )
            if result is not None:
                found.append(result)
        return order_hits(found)


def flow_crop(points_px: np.ndarray, frame_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the frame region the flow of `points_px` (N, 2) runs on: their
    bounding box plus `FLOW_MARGIN_PX`, clipped to the frame, its origin on the pyramid's grid."""
    step = 2**LK_LEVELS
    low = np.floor(points_px.min(axis=0)) - FLOW_MARGIN_PX
    high = np.ceil(points_px.max(axis=0)) + FLOW_MARGIN_PX
    x0, y0 = (max(int(value), 0) // step * step for value in low)
    x1, y1 = min(int(high[0]), frame_size[0]), min(int(high[1]), frame_size[1])
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)
