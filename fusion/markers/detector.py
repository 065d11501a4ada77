"""Marker detection in a frame (or a region of it): ORB, ratio-tested Hamming matches, a robust
homography, verification, and the planar pose."""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.images import to_grey
from gazefusion.fusion.markers.library import Marker, MarkerLibrary
from gazefusion.fusion.markers.pose import estimate_planar_pose
from gazefusion.fusion.registry import Registry
from gazefusion.fusion.types import MarkerHit

HOMOGRAPHY_METHODS: Registry[int] = Registry("homography estimator", key="markers.homography")
"""Robust homography estimators by name (OpenCV's method flags)."""
for _name, _flag in (
    ("ransac", cv2.RANSAC),
    ("usac_default", cv2.USAC_DEFAULT),
    ("usac_magsac", cv2.USAC_MAGSAC),
    ("usac_accurate", cv2.USAC_ACCURATE),
    ("usac_fast", cv2.USAC_FAST),
):
    HOMOGRAPHY_METHODS.add(_name, _flag)
#: A search region smaller than this (longest side, px) is upscaled before ORB, so a small
#: marker spans enough px for ORB's 31 px patches.
UPSCALE_BELOW_PX = 480
#: FAST corner threshold of the frame's ORB: lower than OpenCV's 20, since small, blurred,
#: JPEG-compressed markers have soft corners.
FAST_THRESHOLD = 8
#: Levels of the frame's ORB pyramid (scale factor 1.2).
PYRAMID_LEVELS = 6
#: A search region larger than this square (frame px) gets proportionally more ORB features
#: than ``markers.n_features``, up to `MAX_FEATURE_FACTOR` times: a whole frame holds more
#: clutter and smaller markers than a gaze AOI.
FEATURE_REGION_PX = 240
MAX_FEATURE_FACTOR = 6.0
#: The largest upscale factor of a small search region.
MAX_UPSCALE = 3.0
#: Frame px around the region ORB may look at, so keypoints reach the region's edge.
ROI_MARGIN_PX = 16
#: RANSAC inlier threshold in the (upscaled) working image, px.
RANSAC_THRESHOLD_PX = 3.0
#: Most iterations of the robust homography estimator: it stops sooner once confident, but the
#: matches of a marker that is not there use them all (800 against 2000 in bench/bench_markers.py:
#: detections and pose errors within a frame or two, 0.5 ms less per AOI).
HOMOGRAPHY_MAX_ITERS = 800
#: Neighbours searched per frame feature (for the ratio test against a distinct runner-up).
NEIGHBOURS = 3
#: Two features of a picture closer than this fraction of its longest side are the same point
#: (found at two reference scales).
DISTINCT_FRACTION = 0.02
#: FLANN multi-probe LSH index of the library's descriptors: hash tables, bits per key, probe
#: level, leaves checked (speed against recall, measured in bench/bench_markers.py).
LSH_TABLES = 4
LSH_KEY_BITS = 16
LSH_PROBE_LEVEL = 1
LSH_CHECKS = 32
LSH_SEED = 20_240_601
#: A marker found in a search region too large to upscale is searched again in a square
#: region this fraction of its size larger on each side, when that region is small enough.
CLOSER_LOOK_MARGIN = 0.25
#: Shortest accepted side of a detected quadrilateral, frame px.
MIN_SIDE_PX = 12.0
#: Interior angles of an accepted quadrilateral lie within this range, degrees.
ANGLE_RANGE_DEG = (25.0, 155.0)
#: The inliers must spread over at least this fraction of the visible marker area.
MIN_INLIER_COVERAGE = 0.10
#: ... and over at least this area of the frame, px² (a few clustered points on a small,
#: distant marker give its distance 10-40% wrong; measured in bench/bench_markers.py).
MIN_INLIER_HULL_PX2 = 300.0


class Correspondences(NamedTuple):
    """The inlier matches behind a hit (for tracking it between frames).

    Attributes
    ----------
    reference_px : numpy.ndarray
        (N, 2) float32, marker picture px.
    frame_px : numpy.ndarray
        (N, 2) float32, frame px.
    """

    reference_px: np.ndarray
    frame_px: np.ndarray


class MarkerDetector:
    """Finds the library's markers in a frame and estimates their poses.

    Parameters
    ----------
    library : MarkerLibrary
        The known markers.
    intrinsics : CameraIntrinsics
        The camera; frames of another size of the same aspect ratio use
        `CameraIntrinsics.scaled_to` (another aspect ratio is refused with a `CalibrationError`).
    config : MarkersConfig or None
        ORB features, ratio, minimum inliers, largest reprojection error, estimator.
        (default: None, the defaults)
    refine : bool
        Refine the IPPE pose by Levenberg-Marquardt on all inliers. (default: True)
    matcher : {"lsh", "bf"}
        Nearest-neighbour search: FLANN locality-sensitive hashing, or brute force.
        (default: "lsh")
    """

    def __init__(
        self,
        library: MarkerLibrary,
        intrinsics: CameraIntrinsics,
        config: MarkersConfig | None = None,
        refine: bool = True,
        matcher: str = "lsh",
    ) -> None:
        self.library = library
        self.intrinsics = intrinsics
        self.config = config or MarkersConfig()
        self._method = HOMOGRAPHY_METHODS[self.config.homography]
        self.refine = refine
        self._orb = cv2.ORB_create(
            nfeatures=self.config.n_features, scaleFactor=1.2, nlevels=PYRAMID_LEVELS, fastThreshold=FAST_THRESHOLD
        )
        self._index = LibraryIndex.build(library)
        self._search = NeighbourSearch(self._index.descriptors, matcher)
        self._scaled: dict[tuple[int, int], CameraIntrinsics] = {}

    def intrinsics_for(self, image_size: tuple[int, int]) -> CameraIntrinsics:
        """The intrinsics for frames of a size, scaled from the calibration's if needed.

        Parameters
        ----------
        image_size : tuple[int, int]
            The frames' (width, height), px.

        Raises
        ------
        ConfigError
            For another aspect ratio than the calibration's.
        """
        if image_size not in self._scaled:
            self._scaled[image_size] = self.intrinsics.scaled_to(image_size)
        return self._scaled[image_size]

    def detect(
        self,
        image: np.ndarray,
        roi: tuple[int, int, int, int] | None = None,
        gaze_xy: tuple[float, float] | None = None,
    ) -> list[MarkerHit]:
        """Verified marker hits in `image`, the one containing the gaze first, then by inliers.

        Parameters
        ----------
        image : numpy.ndarray
            BGR, BGRA or grey uint8 frame.
        roi : tuple[int, int, int, int] or None
            Search region (x, y, width, height), frame px, clipped to the frame; None: the
            whole frame. (default: None)
        gaze_xy : tuple[float, float] or None
            The gaze in frame px, for `MarkerHit.contains_gaze` and the order. (default: None)

        Returns
        -------
        list[MarkerHit]
            Possibly empty (an empty, uniform or marker-free frame gives no hits).
        """
        return [hit for hit, _ in self.detect_with_correspondences(image, roi, gaze_xy)]

    def detect_with_correspondences(
        self,
        image: np.ndarray,
        roi: tuple[int, int, int, int] | None = None,
        gaze_xy: tuple[float, float] | None = None,
    ) -> list[tuple[MarkerHit, Correspondences]]:
        """As `detect`, with each hit's inlier correspondences.

        Parameters
        ----------
        image : numpy.ndarray
            BGR, BGRA or grey uint8 frame.
        roi : tuple[int, int, int, int] or None
            Search region (x, y, width, height), frame px; None: the whole frame. (default: None)
        gaze_xy : tuple[float, float] or None
            The gaze in frame px. (default: None)
        """
        return self._detect(image, roi, gaze_xy, closer_look=True)

    def _detect(
        self,
        image: np.ndarray,
        roi: tuple[int, int, int, int] | None,
        gaze_xy: tuple[float, float] | None,
        closer_look: bool,
    ) -> list[tuple[MarkerHit, Correspondences]]:
        if image is None or image.ndim not in (2, 3) or image.size == 0:
            return []
        frame_size = (image.shape[1], image.shape[0])
        intrinsics = self.intrinsics_for(frame_size)
        box = clip_roi(roi, frame_size)
        if box is None:
            return []
        x, y, width, height = box
        longest = max(width, height)
        scale = min(MAX_UPSCALE, UPSCALE_BELOW_PX / longest) if longest < UPSCALE_BELOW_PX else 1.0
        x0, y0 = max(x - ROI_MARGIN_PX, 0), max(y - ROI_MARGIN_PX, 0)
        x1, y1 = min(x + width + ROI_MARGIN_PX, frame_size[0]), min(y + height + ROI_MARGIN_PX, frame_size[1])
        crop = to_grey(image[y0:y1, x0:x1])
        if crop is None:
            return []
        if scale != 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        # More features for a larger search area (a whole frame may hold several markers).
        area_factor = width * height / float(FEATURE_REGION_PX * FEATURE_REGION_PX)
        self._orb.setMaxFeatures(round(self.config.n_features * min(max(area_factor, 1.0), MAX_FEATURE_FACTOR)))
        keypoints, descriptors = self._orb.detectAndCompute(crop, None)
        if descriptors is None or len(keypoints) < self.config.min_inliers:
            return []
        work_px = cv2.KeyPoint_convert(keypoints).reshape(-1, 2).astype(np.float32)
        frame_px = (work_px + 0.5) / scale - 0.5 + np.array([x0, y0], np.float32)
        found = []
        markers = self.library.markers
        for number, (reference_px, matched) in self._match(descriptors).items():
            result = self.verify(
                markers[number],
                reference_px,
                frame_px[matched],
                intrinsics,
                frame_size,
                gaze_xy,
                RANSAC_THRESHOLD_PX / scale,
            )
            if result is not None:
                found.append(result)
        if closer_look and scale == 1.0:
            found = [self._closer_look(image, item, gaze_xy) for item in found]
        return order_hits(suppress_overlaps(found))

    def _closer_look(
        self, image: np.ndarray, item: tuple[MarkerHit, Correspondences], gaze_xy: tuple[float, float] | None
    ) -> tuple[MarkerHit, Correspondences]:
        """A marker found small in a large search region, detected again in a region around
        it (upscaled, so its keypoints are placed more precisely); the first hit if not found."""
        corners = item[0].corners
        low, high = corners.min(axis=0), corners.max(axis=0)
        side = float(max(high - low)) * (1.0 + 2 * CLOSER_LOOK_MARGIN)
        if side >= UPSCALE_BELOW_PX:
            return item
        centre = (low + high) / 2.0
        roi = (int(centre[0] - side / 2), int(centre[1] - side / 2), int(np.ceil(side)), int(np.ceil(side)))
        again = [pair for pair in self._detect(image, roi, gaze_xy, False) if pair[0].marker_id == item[0].marker_id]
        return again[0] if again else item

    def verify(
        self,
        marker: Marker,
        reference_px: np.ndarray,
        frame_px: np.ndarray,
        intrinsics: CameraIntrinsics,
        frame_size: tuple[int, int],
        gaze_xy: tuple[float, float] | None,
        threshold_px: float = RANSAC_THRESHOLD_PX,
    ) -> tuple[MarkerHit, Correspondences] | None:
        """A hit from putative correspondences, or None when they do not verify.

        Robust homography, then: at least ``min_inliers`` inliers spread over the marker, a
        convex quadrilateral of plausible size and angles in the picture's orientation, a
        sane IPPE pose with RMS reprojection error at most ``max_reprojection_px``.

        Parameters
        ----------
        marker : Marker
            The marker the matches belong to.
        reference_px, frame_px : numpy.ndarray
            (N, 2) matched positions in the picture and in the frame, px.
        intrinsics : CameraIntrinsics
            The camera at the frame's size.
        frame_size : tuple[int, int]
            (width, height) of the frame, px.
        gaze_xy : tuple[float, float] or None
            The gaze, frame px.
        threshold_px : float
            Inlier threshold of the robust estimator, frame px. (default: `RANSAC_THRESHOLD_PX`)
        """
        config = self.config
        if len(frame_px) < config.min_inliers:
            return None
        homography, inlier = self._homography(reference_px, frame_px, threshold_px)
        if homography is None or int(inlier.sum()) < config.min_inliers:
            return None
        reference_in, frame_in = reference_px[inlier], frame_px[inlier]
        corners = cv2.perspectiveTransform(marker.outline_px.reshape(-1, 1, 2), homography).reshape(4, 2)
        if implausible_quad(corners) is not None:
            return None
        if inlier_coverage(reference_in, marker) < MIN_INLIER_COVERAGE or hull_area(frame_in) < MIN_INLIER_HULL_PX2:
            return None
        pose = estimate_planar_pose(
            marker.to_marker_m(reference_in),
            frame_in,
            intrinsics.camera_matrix,
            intrinsics.dist_coeffs,
            marker.to_marker_m(marker.outline_px),
            refine=self.refine,
        )
        if pose is None or pose.reprojection_error_px > config.max_reprojection_px:
            return None
        # The pose (6 degrees of freedom, refined on every inlier) places the corners better
        # than the homography's extrapolation (8), and models lens distortion.
        projected, _ = cv2.projectPoints(
            marker.to_marker_m(marker.outline_px),
            pose.rvec,
            pose.tvec,
            intrinsics.camera_matrix,
            intrinsics.dist_coeffs,
        )
        corners = projected.reshape(4, 2)
        contains = (
            gaze_xy is not None
            and cv2.pointPolygonTest(
                corners.astype(np.float32).reshape(-1, 1, 2), (float(gaze_xy[0]), float(gaze_xy[1])), False
            )
            >= 0
        )
        hit = MarkerHit(
            marker_id=marker.marker_id,
            corners=corners,
            homography=homography,
            inliers=int(inlier.sum()),
            reprojection_error_px=pose.reprojection_error_px,
            position_m=pose.tvec,
            rotation=pose.rvec,
            distance_m=float(np.linalg.norm(pose.tvec)),
            pose_ambiguous=pose.ambiguous,
            contains_gaze=bool(contains),
        )
        return hit, Correspondences(reference_in.astype(np.float32), frame_in.astype(np.float32))

    def _homography(
        self, reference_px: np.ndarray, frame_px: np.ndarray, threshold_px: float
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """Robust homography picture px → frame px and its inlier mask (None when it fails)."""
        if len(frame_px) < 4:
            return None, np.zeros(len(frame_px), bool)
        homography, mask = cv2.findHomography(
            reference_px.reshape(-1, 1, 2),
            frame_px.reshape(-1, 1, 2),
            self._method,
            max(threshold_px, 0.5),
            maxIters=HOMOGRAPHY_MAX_ITERS,
            confidence=0.995,
        )
        if homography is None or mask is None or not np.all(np.isfinite(homography)):
            return None, np.zeros(len(frame_px), bool)
        return homography, mask.ravel().astype(bool)

    def _match(self, descriptors: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Ratio-tested matches of frame descriptors against the whole library at once.

        The runner-up of the ratio test is the nearest feature of the same marker that is a
        different physical point (farther than `DISTINCT_FRACTION` of the picture), so the same
        point at two reference scales does not fail the test; similar features of two markers
        (shared lettering, logos) do not knock each other out either — verification decides
        between markers (measured: more detections, no wrong marker). Returns, per marker index, (reference px (M, 2), frame keypoint
        indices (M,)).
        """
        index = self._index
        if not len(index.descriptors):
            return {}
        train, distance = self._search.search(descriptors, NEIGHBOURS)
        found = train[:, 0] >= 0
        train, distance, rows = train[found], distance[found], np.flatnonzero(found)
        if not len(train):
            return {}
        marker = index.marker[train]
        offset = np.abs(index.points_px[train] - index.points_px[train[:, :1]]).max(axis=2)
        distinct = (train >= 0) & (marker == marker[:, :1]) & (offset > index.distinct_px[marker[:, :1]])
        distinct[:, 0] = False
        has_runner_up = distinct.any(axis=1)
        runner_up = distance[np.arange(len(train)), np.argmax(distinct, axis=1)]
        keep = ~has_runner_up | (distance[:, 0] < self.config.ratio * runner_up)
        chosen_query, chosen_train = rows[keep], train[keep, 0]
        query = np.asarray(chosen_query, np.int64)
        train = np.asarray(chosen_train, np.int64)
        by_marker = {}
        for marker in np.unique(index.marker[train]) if len(train) else ():
            own = index.marker[train] == marker
            by_marker[int(marker)] = (index.points_px[train[own]], query[own])
        return by_marker


class LibraryIndex(NamedTuple):
    """Every reference feature of a library in one table (for one nearest-neighbour search).

    Attributes
    ----------
    descriptors : numpy.ndarray
        (M, 32) uint8.
    marker : numpy.ndarray
        (M,) index of the marker in the library.
    points_px : numpy.ndarray
        (M, 2) float32, position in that marker's picture, px.
    distinct_px : numpy.ndarray
        (n_markers,) px beyond which two features of a marker count as different points.
    """

    descriptors: np.ndarray
    marker: np.ndarray
    points_px: np.ndarray
    distinct_px: np.ndarray

    @classmethod
    def build(cls, library: MarkerLibrary) -> LibraryIndex:
        """Concatenate the markers' reference levels."""
        descriptors, markers, points = [], [], []
        for number, marker in enumerate(library):
            for level in marker.levels:
                descriptors.append(level.descriptors)
                markers.append(np.full(len(level.descriptors), number, np.int64))
                points.append(level.points_px)
        distinct = np.array([DISTINCT_FRACTION * max(marker.image_size) for marker in library], np.float32)
        if not descriptors:
            return cls(np.zeros((0, 32), np.uint8), np.zeros(0, np.int64), np.zeros((0, 2), np.float32), distinct)
        return cls(np.concatenate(descriptors), np.concatenate(markers), np.concatenate(points), distinct)


class NeighbourSearch:
    """k nearest library descriptors (Hamming) of each frame descriptor, as arrays.

    Parameters
    ----------
    descriptors : numpy.ndarray
        (M, 32) uint8, the library's reference descriptors.
    kind : {"lsh", "bf"}
        FLANN multi-probe locality-sensitive hashing (approximate, fast), or brute force.
        (default: "lsh")
    """

    def __init__(self, descriptors: np.ndarray, kind: str = "lsh") -> None:
        if kind not in ("lsh", "bf"):
            raise ValueError(f"unknown matcher {kind!r} (known: lsh, bf)")
        self.kind = kind
        self.descriptors = np.ascontiguousarray(descriptors, np.uint8)
        self._index = None
        if kind == "lsh" and len(self.descriptors):
            params = {
                "algorithm": 6,
                "table_number": LSH_TABLES,
                "key_size": LSH_KEY_BITS,
                "multi_probe_level": LSH_PROBE_LEVEL,
            }
            # FLANN draws the LSH hash tables from OpenCV's generator: seed it, so every
            # detector built from one library matches alike (a replay gives the live hits).
            cv2.setRNGSeed(LSH_SEED)
            self._index = cv2.flann_Index(self.descriptors, params, cv2.NORM_HAMMING)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(train indices (N, k) int64, -1 where none; Hamming distances (N, k) float32)."""
        count = len(self.descriptors)
        if count == 0 or len(queries) == 0:
            return np.full((len(queries), k), -1, np.int64), np.full((len(queries), k), np.inf, np.float32)
        k_found = min(k, count)
        if self._index is not None:
            train, distance = self._index.knnSearch(queries, k_found, params={"checks": LSH_CHECKS})
        else:
            distance, train = cv2.batchDistance(
                queries, self.descriptors, cv2.CV_32S, normType=cv2.NORM_HAMMING, K=k_found
            )
        train = train.astype(np.int64).reshape(len(queries), k_found)
        distance = distance.astype(np.float32).reshape(len(queries), k_found)
        missing = (train < 0) | (train >= count)
        train[missing], distance[missing] = -1, np.inf
        if k_found < k:
            pad = k - k_found
            train = np.hstack([train, np.full((len(queries), pad), -1, np.int64)])
            distance = np.hstack([distance, np.full((len(queries), pad), np.inf, np.float32)])
        return train, distance


def clip_roi(roi: tuple[int, int, int, int] | None, frame_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The region clipped to the frame as (x, y, width, height); None when nothing of it is left
    (or less than 8 px a side)."""
    width, height = frame_size
    if roi is None:
        return (0, 0, width, height) if width >= 8 and height >= 8 else None
    x, y, w, h = (int(round(v)) for v in roi)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return x0, y0, x1 - x0, y1 - y0


def implausible_quad(corners: np.ndarray) -> str | None:
    """Why a detected quadrilateral (TL, TR, BR, BL, frame px) is not a plausible marker, or None."""
    if not np.all(np.isfinite(corners)):
        return "not finite"
    edges = np.roll(corners, -1, axis=0) - corners
    lengths = np.linalg.norm(edges, axis=1)
    if lengths.min() < MIN_SIDE_PX:
        return "too small"
    # With y down, TL→TR→BR→BL turns the same way at every corner (clockwise on screen).
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if np.any(turns <= 0):
        return "not convex in the picture's orientation"
    incoming, outgoing = -np.roll(edges, 1, axis=0), edges
    cosines = np.sum(incoming * outgoing, axis=1) / (np.linalg.norm(incoming, axis=1) * lengths)
    angles = np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))
    if angles.min() < ANGLE_RANGE_DEG[0] or angles.max() > ANGLE_RANGE_DEG[1]:
        return "implausible angles"
    if lengths.max() / lengths.min() > 12.0:
        return "implausible side ratio"
    return None


def inlier_coverage(reference_px: np.ndarray, marker: Marker) -> float:
    """Area of the inliers' convex hull as a fraction of the picture's area."""
    return hull_area(reference_px) / float(marker.image_size[0] * marker.image_size[1])


def hull_area(points_px: np.ndarray) -> float:
    """Area of the convex hull of (N, 2) points, px²."""
    if len(points_px) < 3:
        return 0.0
    return float(cv2.contourArea(cv2.convexHull(points_px.astype(np.float32).reshape(-1, 1, 2))))


def quad_overlap(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over the smaller area of two convex quadrilaterals."""
    area, _ = cv2.intersectConvexConvex(first.astype(np.float32), second.astype(np.float32))
    smaller = min(cv2.contourArea(first.astype(np.float32)), cv2.contourArea(second.astype(np.float32)))
    return float(area) / smaller if smaller > 0 else 0.0


def suppress_overlaps(found: list[tuple[MarkerHit, Correspondences]]) -> list[tuple[MarkerHit, Correspondences]]:
    """Of hits covering the same place (overlap > 50%), keep the one with most inliers."""
    kept: list[tuple[MarkerHit, Correspondences]] = []
    for item in sorted(found, key=lambda pair: -pair[0].inliers):
        if all(quad_overlap(item[0].corners, other[0].corners) <= 0.5 for other in kept):
            kept.append(item)
    return kept


def order_hits(found: list[tuple[MarkerHit, Correspondences]]) -> list[tuple[MarkerHit, Correspondences]]:
    """The hit containing the gaze first, then by inliers."""
    return sorted(found, key=lambda pair: (not pair[0].contains_gaze, -pair[0].inliers))


def hit_summary(hit: MarkerHit) -> dict[str, object]:
    """Plain data of a hit (for JSON)."""
    return {
        "marker": hit.marker_id,
        "corners": [[round(float(v), 2) for v in corner] for corner in hit.corners],
        "inliers": int(hit.inliers),
        "reprojection_error_px": round(float(hit.reprojection_error_px), 3),
        "position_m": [round(float(v), 4) for v in hit.position_m],
        "rotation": [round(float(v), 4) for v in hit.rotation],
        "distance_m": round(float(hit.distance_m), 4),
        "tilt_deg": round(tilt_deg(hit.rotation, hit.position_m), 1),
        "pose_ambiguous": bool(hit.pose_ambiguous),
        "contains_gaze": bool(hit.contains_gaze),
    }


def tilt_deg(rvec: np.ndarray, tvec: np.ndarray) -> float:
    """Angle between the marker's normal and the line of sight to its centre, degrees."""
    normal = cv2.Rodrigues(np.asarray(rvec, np.float64).reshape(3))[0][:, 2]
    sight = np.asarray(tvec, np.float64) / max(float(np.linalg.norm(tvec)), 1e-12)
    return math.degrees(math.acos(float(np.clip(normal @ sight, -1.0, 1.0))))
