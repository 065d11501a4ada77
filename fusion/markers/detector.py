"""Marker detection in a frame (or a region of it): features (ORB, or SIFT), ratio-tested
matches against the whole library, a robust homography, guided re-matching, verification,
and the planar pose.

The search region is the AOI widened to at least `DetectorTuning.min_search_px` (a marker
much larger than the AOI is only partly inside it) and upscaled so its longest side has
`DetectorTuning.work_side_px` (a distant marker spans enough px for the 31 px ORB patches).
Only hits that overlap the AOI itself are reported. Every figure behind the constants here
is measured in bench/bench_markers.py on real photographs (docs/benchmarks/markers.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.images import to_grey
from gazefusion.fusion.markers.fiducials import FiducialSearch
from gazefusion.fusion.markers.library import Marker, MarkerKind, MarkerLibrary
from gazefusion.fusion.markers.pose import PlanarPose, estimate_planar_pose
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
#: Levels of the frame's ORB pyramid (scale factor 1.2).
PYRAMID_LEVELS = 6
#: A search region larger than this square (frame px) gets proportionally more features than
#: ``markers.n_features``, up to `MAX_FEATURE_FACTOR` times: a whole frame holds more clutter
#: and smaller markers than a gaze AOI.
FEATURE_REGION_PX = 240
MAX_FEATURE_FACTOR = 6.0
#: Frame px around the region the features may look at, so keypoints reach the region's edge.
ROI_MARGIN_PX = 16
#: Most iterations of the robust homography estimator: it stops sooner once confident, but the
#: matches of a marker that is not there use them all.
HOMOGRAPHY_MAX_ITERS = 800
#: Neighbours searched per frame feature (for the ratio test against a distinct runner-up).
NEIGHBOURS = 3
#: Two features of a picture closer than this fraction of its longest side are the same point
#: (found at two reference scales).
DISTINCT_FRACTION = 0.02
#: FLANN multi-probe LSH index of the library's descriptors: hash tables, bits per key, probe
#: level, leaves checked (speed against recall).
LSH_TABLES = 12
LSH_KEY_BITS = 16
LSH_PROBE_LEVEL = 0
LSH_CHECKS = 32
LSH_SEED = 20_240_601
#: A marker found in a search region too large to upscale is searched again in a square
#: region this fraction of its size larger on each side, when that region is small enough.
CLOSER_LOOK_MARGIN = 0.25
#: Shortest accepted side of a detected quadrilateral, frame px.
MIN_SIDE_PX = 12.0
#: Interior angles of an accepted quadrilateral lie within this range, degrees.
ANGLE_RANGE_DEG = (25.0, 155.0)
#: The inliers must spread over at least this fraction of the marker's area inside the search
#: region (all of its area with ``DetectorTuning.coverage_of_visible`` off).
MIN_INLIER_COVERAGE = 0.10
#: ... and over at least this area of the frame, px² (a few clustered points on a small,
#: distant marker give its distance 10-40% wrong).
MIN_INLIER_HULL_PX2 = 300.0

FeatureKind = Literal["orb", "sift"]


@dataclass(frozen=True)
class DetectorTuning:
    """The detector's search settings, each measured in bench/bench_markers.py on real pictures
    (docs/benchmarks/markers.md); `v1` gives the settings before issue 10.

    Parameters
    ----------
    features : {"orb", "sift"}
        Feature detector and descriptor; SIFT is OpenCV's (float descriptors, brute-force
        matching). (default: "orb")
    reference_side_px : int
        Longest side of a picture's largest reference level, px. (default: 480)
    reference_step : float
        Size ratio of successive reference levels. (default: 1.5)
    reference_min_px : int
        No reference level has a longest side below this, px. (default: 100)
    reference_features : int
        Features per reference level and view at most (0: ``markers.n_features``). (default: 1000)
    reference_edge_px : int
        ORB's edge margin on the reference levels, px (OpenCV's is 31: a 100 px level loses
        most of its area to it). (default: 12)
    reference_orb_levels : int
        ORB's own pyramid levels per reference level (scale factor 1.2). (default: 3)
    reference_tilts : tuple[float, ...]
        Foreshortening factors of simulated oblique views of each reference level (0.6: seen
        about 53 degrees off axis). (default: (0.6,))
    reference_tilt_directions : int
        Directions of the foreshortening per tilt, spread over 180 degrees. (default: 4)
    work_side_px : int
        A search region whose longest side is shorter is upscaled to it. (default: 400)
    max_upscale : float
        The largest upscale factor. (default: 3.0)
    min_search_px : int
        The AOI is widened to at least this side (frame px) around its centre: a near marker
        is much larger than the AOI. (default: 160)
    threshold_px : float
        Inlier threshold of the robust homography. (default: 3.0)
    threshold_in_frame : bool
        `threshold_px` is in frame px (True) or in the upscaled working image (False).
        (default: False)
    guided_radius_px : float
        Guided matching: after the first homography, every reference feature of the marker
        (at the levels that fit its imaged size) projected within this many frame px of a
        frame feature, with a close descriptor, is matched, and the homography is estimated
        again (0: off). (default: 2.0)
    guided_max_distance : float
        Largest descriptor distance of a guided match (Hamming bits for ORB; for SIFT this
        times 4). (default: 64.0)
    coverage_of_visible : bool
        The inlier spread is measured against the marker's area inside the search region
        (True) or its whole area (False). (default: True)
    reprojection_fraction : float
        The pose's RMS reprojection error may reach this fraction of the imaged marker's
        diagonal when that is more than ``markers.max_reprojection_px`` (a picture that was
        itself photographed slightly off axis, or assumed intrinsics, leave a residual that
        grows with the marker's size). (default: 0.02)
    fiducial_wide_px : int
        When no tag is found in the search region, tags are looked for again in the region
        widened to this side (a near tag is larger than the region). (default: 480)
    reference_blurred_px : tuple[int, ...]
        Extra reference levels of these longest sides, px, upscaled by `max_upscale` as a
        search region is: how a distant marker reaches the features. (default: (40, 56, 80))
    guided_octaves : float
        Guided matching uses the reference levels within this many octaves of the marker's
        imaged scale, ... (default: 1.0)
    guided_views : int
        ... and of those the simulated views that leave the least foreshortening to the first
        homography, this many (0: all). (default: 2)
    search_queries : tuple[int, ...]
        In a gaze AOI the region's features are looked up in the nearest-neighbour search
        nearest the gaze first, in stages ending at these counts, until a verified hit contains
        the gaze; farther ones never are (empty: all at once). The looked-at marker is under
        the gaze, and guided matching then uses every feature of the region. (default: (150, 300))
    fast_threshold : int
        FAST corner threshold of the region's ORB (OpenCV's is 20: small, blurred,
        JPEG-compressed markers have soft corners). (default: 12)
    guided_passes : int
        Rounds of guided matching, each with the homography the last one fitted (a second
        gains inliers and pose precision for about 2.5 ms). (default: 1)
    """

    features: FeatureKind = "orb"
    reference_side_px: int = 480
    reference_step: float = 1.5
    reference_min_px: int = 100
    reference_features: int = 1000
    reference_edge_px: int = 12
    reference_orb_levels: int = 3
    reference_tilts: tuple[float, ...] = (0.6,)
    reference_tilt_directions: int = 4
    work_side_px: int = 400
    max_upscale: float = 3.0
    min_search_px: int = 160
    threshold_px: float = 3.0
    threshold_in_frame: bool = False
    guided_radius_px: float = 2.0
    guided_max_distance: float = 64.0
    coverage_of_visible: bool = True
    reprojection_fraction: float = 0.02
    fiducial_wide_px: int = 480
    reference_blurred_px: tuple[int, ...] = (40, 56, 80)
    guided_octaves: float = 1.0
    guided_views: int = 2
    search_queries: tuple[int, ...] = (150, 300)
    fast_threshold: int = 12
    guided_passes: int = 1

    @classmethod
    def sift(cls) -> DetectorTuning:
        """OpenCV's SIFT in the same search, matching, verification and pose (one reference
        level: SIFT is scale invariant; no simulated oblique views)."""
        return cls(
            features="sift", reference_min_px=480, reference_features=2000, reference_tilts=(), reference_blurred_px=()
        )

    def with_(self, **changes: object) -> DetectorTuning:
        """A copy with some settings changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


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


class WorkImage(NamedTuple):
    """A search region as the features and the tag detector see it.

    Attributes
    ----------
    grey : numpy.ndarray
        Grey uint8 crop (the region plus `ROI_MARGIN_PX`), upscaled by `scale`.
    scale : float
        Working px per frame px.
    origin : tuple[int, int]
        Frame px of the crop's top-left corner.
    """

    grey: np.ndarray
    scale: float
    origin: tuple[int, int]


class Features(NamedTuple):
    """Features of one search region.

    Attributes
    ----------
    frame_px : numpy.ndarray
        (N, 2) float32 keypoint positions, frame px.
    descriptors : numpy.ndarray
        (N, D) uint8 (ORB) or float32 (SIFT).
    box : tuple[int, int, int, int]
        The search region (x, y, width, height), frame px.
    scale : float
        Working image px per frame px.
    """

    frame_px: np.ndarray
    descriptors: np.ndarray
    box: tuple[int, int, int, int]
    scale: float


def make_features(
    kind: FeatureKind, n_features: int, fast_threshold: int, levels: int, edge_px: int = 31
) -> cv2.Feature2D:
    """An OpenCV feature detector-extractor of `kind`."""
    if kind == "sift":
        return cv2.SIFT_create(nfeatures=n_features)
    return cv2.ORB_create(
        nfeatures=n_features,
        scaleFactor=1.2,
        nlevels=levels,
        edgeThreshold=edge_px,
        patchSize=31,
        fastThreshold=fast_threshold,
    )


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
        Features per search region, ratio, minimum inliers, largest reprojection error,
        estimator. (default: None, the defaults)
    refine : bool
        Refine the IPPE pose by Levenberg-Marquardt on all inliers. (default: True)
    matcher : {"lsh", "bf"}
        Nearest-neighbour search of ORB descriptors: FLANN locality-sensitive hashing, or
        brute force (SIFT always uses brute force). (default: "lsh")
    tuning : DetectorTuning or None
        Search settings. (default: None, `DetectorTuning()`)
    """

    def __init__(
        self,
        library: MarkerLibrary,
        intrinsics: CameraIntrinsics,
        config: MarkersConfig | None = None,
        refine: bool = True,
        matcher: str = "lsh",
        tuning: DetectorTuning | None = None,
    ) -> None:
        self.library = library
        self.intrinsics = intrinsics
        self.config = config or MarkersConfig()
        self.tuning = tuning or DetectorTuning()
        self._method = HOMOGRAPHY_METHODS[self.config.homography]
        if matcher not in ("lsh", "bf"):
            raise ValueError(f"unknown matcher {matcher!r} (known: lsh, bf)")
        self.refine = refine
        self._features = make_features(
            self.tuning.features, self.config.n_features, self.tuning.fast_threshold, PYRAMID_LEVELS
        )
        self._index, self._search = self.prepare(library, self.config, self.tuning, matcher)
        self._fiducials = FiducialSearch(library)
        self._views = reference_views(self.tuning)
        self._scaled: dict[tuple[int, int], CameraIntrinsics] = {}

    @staticmethod
    def prepare(
        library: MarkerLibrary,
        config: MarkersConfig | None = None,
        tuning: DetectorTuning | None = None,
        matcher: str = "lsh",
    ) -> tuple[LibraryIndex, NeighbourSearch]:
        """The library's reference features and their search index, computed once per library
        and settings (`MarkerLibrary.reference_cache`): call it before a run, so the first frame
        does not wait for them.

        Parameters
        ----------
        library : MarkerLibrary
            The known markers.
        config : MarkersConfig or None
            Detector settings. (default: None, the defaults)
        tuning : DetectorTuning or None
            Search settings. (default: None, `DetectorTuning()`)
        matcher : {"lsh", "bf"}
            Nearest-neighbour search of ORB descriptors. (default: "lsh")
        """
        config = config or MarkersConfig()
        tuning = tuning or DetectorTuning()
        index = LibraryIndex.build(library, tuning, config)
        kind = "bf" if tuning.features == "sift" else matcher
        key = ("search", tuning, config.n_features, kind)
        search = library.reference_cache.get(key)
        if not isinstance(search, NeighbourSearch):
            search = NeighbourSearch(index.descriptors, kind)
            library.reference_cache[key] = search
        return index, search

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
            whole frame. A hit must overlap it. (default: None)
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
        kinds: tuple[MarkerKind, ...] = ("picture", "aruco"),
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
        kinds : tuple of {"picture", "aruco"}
            Search only these kinds of marker. (default: both)
        """
        if image is None or image.ndim not in (2, 3) or image.size == 0:
            return []
        frame_size = (image.shape[1], image.shape[0])
        intrinsics = self.intrinsics_for(frame_size)
        aoi = clip_roi(roi, frame_size)
        if aoi is None:
            return []
        box = search_box(aoi, self.tuning.min_search_px, frame_size)
        # In a gaze AOI the looked-at marker is under the gaze.
        seed = gaze_xy if roi is not None else None
        found = self._detect(image, box, gaze_xy, intrinsics, True, kinds, seed)
        if roi is not None:
            found = [item for item in found if overlaps_box(item[0].corners, aoi)]
        return order_hits(suppress_overlaps(found))

    def work_image(self, image: np.ndarray, box: tuple[int, int, int, int]) -> WorkImage | None:
        """The grey search region (with `ROI_MARGIN_PX` around it), upscaled when small.

        Parameters
        ----------
        image : numpy.ndarray
            BGR, BGRA or grey uint8 frame.
        box : tuple[int, int, int, int]
            The search region (x, y, width, height), frame px, inside the frame.

        Returns
        -------
        WorkImage or None
            None for an empty crop.
        """
        tuning = self.tuning
        x, y, width, height = box
        longest = max(width, height)
        scale = min(tuning.max_upscale, tuning.work_side_px / longest) if longest < tuning.work_side_px else 1.0
        frame_size = (image.shape[1], image.shape[0])
        x0, y0 = max(x - ROI_MARGIN_PX, 0), max(y - ROI_MARGIN_PX, 0)
        x1, y1 = min(x + width + ROI_MARGIN_PX, frame_size[0]), min(y + height + ROI_MARGIN_PX, frame_size[1])
        crop = to_grey(image[y0:y1, x0:x1])
        if crop is None:
            return None
        if scale != 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        return WorkImage(crop, scale, (x0, y0))

    def features(self, work: WorkImage, box: tuple[int, int, int, int]) -> Features | None:
        """Features of a search region's working image, or None when too few.

        Parameters
        ----------
        work : WorkImage
            The region as `work_image` gives it.
        box : tuple[int, int, int, int]
            The search region (x, y, width, height), frame px (its area sets the feature count).
        """
        x, y, width, height = box
        # More features for a larger search area (a whole frame may hold several markers).
        area_factor = width * height / float(FEATURE_REGION_PX * FEATURE_REGION_PX)
        count = round(self.config.n_features * min(max(area_factor, 1.0), MAX_FEATURE_FACTOR))
        if self.tuning.features == "orb":
            self._features.setMaxFeatures(count)
        keypoints, descriptors = self._features.detectAndCompute(work.grey, None)
        if descriptors is None or len(keypoints) < self.config.min_inliers:
            return None
        work_px = cv2.KeyPoint_convert(keypoints).reshape(-1, 2).astype(np.float32)
        frame_px = (work_px + 0.5) / work.scale - 0.5 + np.array(work.origin, np.float32)
        return Features(frame_px, descriptors, box, work.scale)

    def _detect(
        self,
        image: np.ndarray,
        box: tuple[int, int, int, int],
        gaze_xy: tuple[float, float] | None,
        intrinsics: CameraIntrinsics,
        closer_look: bool,
        kinds: tuple[MarkerKind, ...] = ("picture", "aruco"),
        seed: tuple[float, float] | None = None,
    ) -> list[tuple[MarkerHit, Correspondences]]:
        frame_size = (image.shape[1], image.shape[0])
        work = self.work_image(image, box)
        if work is None:
            return []
        found = []
        if "aruco" in kinds and self._fiducials:
            found += self._fiducial_hits(work, intrinsics, gaze_xy)
            wide = search_box(box, self.tuning.fiducial_wide_px, frame_size)
            if not found and wide != box:
                # A near tag larger than the search box: look again in a wider region.
                again = self.work_image(image, wide)
                found += self._fiducial_hits(again, intrinsics, gaze_xy) if again is not None else []
        features = self.features(work, box) if "picture" in kinds and len(self._index.descriptors) else None
        if features is None:
            return found
        tuning = self.tuning
        threshold = tuning.threshold_px if tuning.threshold_in_frame else tuning.threshold_px / features.scale
        pictures = []
        markers = self.library.markers
        order = np.arange(len(features.frame_px))
        ends = [len(order)]
        if seed is not None and tuning.search_queries:
            offset = features.frame_px - np.array(seed, np.float32)
            order = np.argsort(np.einsum("ij,ij->i", offset, offset), kind="stable")
            ends = sorted({min(end, len(order)) for end in tuning.search_queries})
        gathered: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        verified: set[int] = set()
        start = 0
        for end in ends:
            batch, start = order[start:end], end
            touched = self._match(features.descriptors[batch])
            for number, (reference_px, matched) in touched.items():
                gathered.setdefault(number, []).append((reference_px, batch[matched]))
            # The markers with most matches first: the looked-at one is usually among them.
            count = {number: sum(len(part[1]) for part in gathered[number]) for number in touched}
            for number in sorted(set(touched) - verified, key=lambda number: -count[number]):
                reference_px = np.concatenate([part[0] for part in gathered[number]])
                matched = np.concatenate([part[1] for part in gathered[number]])
                result = self.verify(
                    markers[number],
                    reference_px,
                    features.frame_px[matched],
                    intrinsics,
                    frame_size,
                    gaze_xy,
                    threshold,
                    guide=(number, features),
                )
                if result is not None:
                    pictures.append(result)
                    verified.add(number)
                    if contains_point(result[0].corners, seed):
                        break
            if seed is not None and any(contains_point(hit.corners, seed) for hit, _ in pictures):
                break
        if closer_look and features.scale == 1.0:
            pictures = [self._closer_look(image, item, gaze_xy, intrinsics) for item in pictures]
        return found + pictures

    def _fiducial_hits(
        self, work: WorkImage, intrinsics: CameraIntrinsics, gaze_xy: tuple[float, float] | None
    ) -> list[tuple[MarkerHit, Correspondences]]:
        """Hits of the fiducial markers whose tags are in the working image."""
        found = []
        for seen in self._fiducials.find(work.grey, work.scale, work.origin):
            marker = self.library.markers[seen.marker_index]
            outline_m = marker.to_marker_m(marker.outline_px)
            pose = estimate_planar_pose(
                seen.object_m,
                seen.frame_px,
                intrinsics.camera_matrix,
                intrinsics.dist_coeffs,
                outline_m,
                refine=self.refine and seen.tags > 1,
                square=seen.tags == 1,
            )
            if pose is None or pose.reprojection_error_px > self.config.max_reprojection_px:
                continue
            reference_px = marker.to_picture_px(seen.object_m).astype(np.float32)
            homography, _ = cv2.findHomography(reference_px.reshape(-1, 1, 2), seen.frame_px.reshape(-1, 1, 2), 0)
            if homography is None:
                continue
            hit = self._hit(marker, pose, homography, len(seen.frame_px), intrinsics, gaze_xy, outline_m)
            found.append((hit, Correspondences(reference_px, seen.frame_px)))
        return found

    def _hit(
        self,
        marker: Marker,
        pose: PlanarPose,
        homography: np.ndarray,
        inliers: int,
        intrinsics: CameraIntrinsics,
        gaze_xy: tuple[float, float] | None,
        outline_m: np.ndarray,
    ) -> MarkerHit:
        """A hit from a verified pose: the outline projected by the pose (6 degrees of freedom,
        refined on every inlier: better than the homography's extrapolation, and it models lens
        distortion)."""
        projected, _ = cv2.projectPoints(
            outline_m, pose.rvec, pose.tvec, intrinsics.camera_matrix, intrinsics.dist_coeffs
        )
        corners = projected.reshape(4, 2)
        return MarkerHit(
            marker_id=marker.marker_id,
            corners=corners,
            homography=homography,
            inliers=inliers,
            reprojection_error_px=pose.reprojection_error_px,
            position_m=pose.tvec,
            rotation=pose.rvec,
            distance_m=float(np.linalg.norm(pose.tvec)),
            pose_ambiguous=pose.ambiguous,
            contains_gaze=contains_point(corners, gaze_xy),
        )

    def _closer_look(
        self,
        image: np.ndarray,
        item: tuple[MarkerHit, Correspondences],
        gaze_xy: tuple[float, float] | None,
        intrinsics: CameraIntrinsics,
    ) -> tuple[MarkerHit, Correspondences]:
        """A marker found small in a large search region, detected again in a region around
        it (upscaled, so its keypoints are placed more precisely); the first hit if not found."""
        corners = item[0].corners
        low, high = corners.min(axis=0), corners.max(axis=0)
        side = float(max(high - low)) * (1.0 + 2 * CLOSER_LOOK_MARGIN)
        if side >= self.tuning.work_side_px:
            return item
        centre = (low + high) / 2.0
        box = clip_roi(
            (int(centre[0] - side / 2), int(centre[1] - side / 2), int(np.ceil(side)), int(np.ceil(side))),
            (image.shape[1], image.shape[0]),
        )
        if box is None:
            return item
        again = [
            pair
            for pair in self._detect(image, box, gaze_xy, intrinsics, False, ("picture",))
            if pair[0].marker_id == item[0].marker_id
        ]
        return again[0] if again else item

    def verify(
        self,
        marker: Marker,
        reference_px: np.ndarray,
        frame_px: np.ndarray,
        intrinsics: CameraIntrinsics,
        frame_size: tuple[int, int],
        gaze_xy: tuple[float, float] | None,
        threshold_px: float = 3.0,
        guide: tuple[int, Features] | None = None,
    ) -> tuple[MarkerHit, Correspondences] | None:
        """A hit from putative correspondences, or None when they do not verify.

        Robust homography (then guided matching, with `guide`), then: at least
        ``min_inliers`` inliers spread over the marker, a convex quadrilateral of plausible
        size and angles in the picture's orientation, a sane IPPE pose with RMS reprojection
        error at most ``max_reprojection_px``.

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
            Inlier threshold of the robust estimator, frame px. (default: 3.0)
        guide : tuple[int, Features] or None
            The marker's index in the library and the region's features, for guided
            matching; None: none (a tracked marker). (default: None)
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
        for _ in range(self.tuning.guided_passes if guide is not None and self.tuning.guided_radius_px > 0 else 0):
            more = self._guided(guide[0], guide[1], homography)  # type: ignore[index]
            if more is None or len(more[0]) <= len(reference_in):
                break
            again, mask = self._homography(more[0], more[1], threshold_px)
            if again is None or int(mask.sum()) <= len(reference_in):
                break
            homography, reference_in, frame_in = again, more[0][mask], more[1][mask]
        corners = cv2.perspectiveTransform(marker.outline_px.reshape(-1, 1, 2), homography).reshape(4, 2)
        if implausible_quad(corners) is not None:
            return None
        if hull_area(frame_in) < MIN_INLIER_HULL_PX2:
            return None
        if self.tuning.coverage_of_visible and guide is not None:
            coverage = hull_area(frame_in) / max(visible_area(corners, guide[1].box), 1.0)
        else:
            coverage = inlier_coverage(reference_in, marker)
        if coverage < MIN_INLIER_COVERAGE:
            return None
        pose = estimate_planar_pose(
            marker.to_marker_m(reference_in),
            frame_in,
            intrinsics.camera_matrix,
            intrinsics.dist_coeffs,
            marker.to_marker_m(marker.outline_px),
            refine=self.refine,
        )
        diagonal_px = float(max(np.linalg.norm(corners[2] - corners[0]), np.linalg.norm(corners[3] - corners[1])))
        allowed_px = max(config.max_reprojection_px, self.tuning.reprojection_fraction * diagonal_px)
        if pose is None or pose.reprojection_error_px > allowed_px:
            return None
        hit = self._hit(
            marker, pose, homography, len(frame_in), intrinsics, gaze_xy, marker.to_marker_m(marker.outline_px)
        )
        if pose.reprojection_error_px > config.max_reprojection_px:
            # The pose explains the points only roughly (a picture photographed off axis, assumed
            # intrinsics): the homography places the outline better.
            corners = cv2.perspectiveTransform(marker.outline_px.reshape(-1, 1, 2), homography).reshape(4, 2)
            hit = hit._replace(corners=corners, contains_gaze=contains_point(corners, gaze_xy))
        return hit, Correspondences(reference_in.astype(np.float32), frame_in.astype(np.float32))

    def _guided(self, number: int, features: Features, homography: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Matches of the marker's reference features with the region's features near where the
        homography puts them: (reference px (M, 2), frame px (M, 2)), each frame feature once."""
        index = self._index
        # The reference levels within a factor 2 of the marker's scale in the working image.
        outline = self.library.markers[number].outline_px
        imaged = cv2.perspectiveTransform(outline.reshape(-1, 1, 2), homography).reshape(4, 2)
        area = cv2.contourArea(outline.astype(np.float32))
        work_scale = math.sqrt(max(cv2.contourArea(imaged.astype(np.float32)), 1.0) / area) * features.scale
        first, last = np.searchsorted(index.marker, [number, number + 1])  # a marker's rows are together
        fits = np.abs(np.log2(index.level_scale[first:last] / work_scale)) <= self.tuning.guided_octaves
        if self.tuning.guided_views:
            centre = outline.mean(axis=0)
            views = closest_views(homography, centre, self._views, self.tuning.guided_views)
            fits &= np.isin(index.view[first:last], views)
        own = first + np.flatnonzero(fits)
        if not len(own):
            return None
        projected = cv2.perspectiveTransform(index.points_px[own].reshape(-1, 1, 2), homography).reshape(-1, 2)
        x, y, width, height = features.box
        margin = ROI_MARGIN_PX
        inside = (
            (projected[:, 0] >= x - margin)
            & (projected[:, 0] < x + width + margin)
            & (projected[:, 1] >= y - margin)
            & (projected[:, 1] < y + height + margin)
        )
        own, projected = own[inside], projected[inside]
        if not len(own):
            return None
        near_query, near_train = pairs_within(features.frame_px, projected, self.tuning.guided_radius_px)
        if not len(near_query):
            return None
        distance = descriptor_distance(features.descriptors[near_query], index.descriptors[own[near_train]])
        limit = self.tuning.guided_max_distance * (4.0 if self.tuning.features == "sift" else 1.0)
        keep = distance <= limit
        near_query, near_train, distance = near_query[keep], near_train[keep], distance[keep]
        # Each frame feature takes its closest reference feature.
        order = np.lexsort((distance, near_query))
        first = np.ones(len(order), bool)
        first[1:] = near_query[order][1:] != near_query[order][:-1]
        chosen = order[first]
        return (
            index.points_px[own[near_train[chosen]]].astype(np.float32),
            features.frame_px[near_query[chosen]].astype(np.float32),
        )

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
        between markers. Returns, per marker index, (reference px (M, 2), frame keypoint
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
        query = np.asarray(rows[keep], np.int64)
        train = np.asarray(train[keep, 0], np.int64)
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
        (M, D) uint8 (ORB) or float32 (SIFT).
    marker : numpy.ndarray
        (M,) index of the marker in the library.
    points_px : numpy.ndarray
        (M, 2) float32, position in that marker's picture, px.
    distinct_px : numpy.ndarray
        (n_markers,) px beyond which two features of a marker count as different points.
    level_scale : numpy.ndarray
        (M,) float32, the scale of the reference level the feature was found at (level px
        per picture px).
    view : numpy.ndarray
        (M,) int32, the simulated view the feature was found in (`reference_views`).
    """

    descriptors: np.ndarray
    marker: np.ndarray
    points_px: np.ndarray
    distinct_px: np.ndarray
    level_scale: np.ndarray
    view: np.ndarray

    @classmethod
    def build(cls, library: MarkerLibrary, tuning: DetectorTuning, config: MarkersConfig) -> LibraryIndex:
        """Every picture marker's reference features, at the levels `tuning` asks for (computed
        once per library and settings: `MarkerLibrary.reference_cache`)."""
        key = (tuning, config.n_features)
        cached = library.reference_cache.get(key)
        if isinstance(cached, LibraryIndex):
            return cached
        index = cls._build(library, tuning, config)
        library.reference_cache[key] = index
        return index

    @classmethod
    def _build(cls, library: MarkerLibrary, tuning: DetectorTuning, config: MarkersConfig) -> LibraryIndex:
        descriptors, markers, points, scales, views = [], [], [], [], []
        for number, marker in enumerate(library):
            if marker.picture is None:
                continue
            for level_points, level_descriptors, scale, view in reference_features(marker.picture, tuning, config):
                descriptors.append(level_descriptors)
                markers.append(np.full(len(level_descriptors), number, np.int64))
                points.append(level_points)
                scales.append(np.full(len(level_descriptors), scale, np.float32))
                views.append(np.full(len(level_descriptors), view, np.int32))
        distinct = np.array([DISTINCT_FRACTION * max(marker.image_size) for marker in library], np.float32)
        if not descriptors:
            width = 128 if tuning.features == "sift" else 32
            dtype = np.float32 if tuning.features == "sift" else np.uint8
            none = np.zeros(0, np.float32)
            return cls(
                np.zeros((0, width), dtype),
                np.zeros(0, np.int64),
                np.zeros((0, 2), np.float32),
                distinct,
                none,
                np.zeros(0, np.int32),
            )
        return cls(
            np.concatenate(descriptors),
            np.concatenate(markers),
            np.concatenate(points),
            distinct,
            np.concatenate(scales),
            np.concatenate(views),
        )


def reference_levels(picture_size: tuple[int, int], tuning: DetectorTuning) -> list[float]:
    """Scales of a picture's reference levels, largest first (the first fits `reference_side_px`)."""
    longest = float(max(picture_size))
    side = float(tuning.reference_side_px)
    scales = []
    while True:
        scales.append(side / longest)
        side /= tuning.reference_step
        if side < tuning.reference_min_px - 1e-6:
            return scales


def reference_features(
    picture: np.ndarray, tuning: DetectorTuning, config: MarkersConfig
) -> list[tuple[np.ndarray, np.ndarray, float, int]]:
    """(points in the picture's px (N, 2) float32, descriptors, level scale, view number of
    `reference_views`) per reference level and simulated view.

    Each level is also seen foreshortened (``tuning.reference_tilts``, in
    ``tuning.reference_tilt_directions`` directions): ORB's descriptors are not affine
    invariant, so a marker tilted 35-55 degrees matches these views, not the frontal one.
    """
    height_px, width_px = picture.shape[:2]
    count = tuning.reference_features or config.n_features
    extractor = make_features(
        tuning.features, count, REFERENCE_FAST_THRESHOLD, tuning.reference_orb_levels, tuning.reference_edge_px
    )
    views = reference_views(tuning)
    levels = []
    plan = [(scale, 1.0) for scale in reference_levels((width_px, height_px), tuning)]
    # Small levels as a distant marker reaches the features: that few px, upscaled as the search
    # region is (its detail is gone; a sharp reference level would not match it).
    plan += [(side / max(width_px, height_px), tuning.max_upscale) for side in tuning.reference_blurred_px]
    for scale, upscale in plan:
        size = (max(8, round(width_px * scale)), max(8, round(height_px * scale)))
        level = cv2.resize(picture, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        if upscale != 1.0:
            level = cv2.resize(level, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR)
        to_level = np.array([level.shape[1] / width_px, level.shape[0] / height_px])
        for view_number, view in enumerate(views):
            # Level px -> view px: foreshorten, then shift into the view's bounding box.
            level_h, level_w = level.shape[:2]
            corners = np.array([[0, 0], [level_w, 0], [level_w, level_h], [0, level_h]], np.float64) @ view.T
            low, high = corners.min(axis=0), corners.max(axis=0)
            affine = np.hstack([view, -low.reshape(2, 1)])
            out = (max(1, int(np.ceil(high[0] - low[0]))), max(1, int(np.ceil(high[1] - low[1]))))
            warped = level if view is views[0] else cv2.warpAffine(level, affine, out, flags=cv2.INTER_LINEAR)
            mask = None if view is views[0] else cv2.warpAffine(np.full(level.shape[:2], 255, np.uint8), affine, out)
            keypoints, descriptors = extractor.detectAndCompute(warped, mask)
            if descriptors is None or len(keypoints) < 8:
                continue
            points = cv2.KeyPoint_convert(keypoints).reshape(-1, 2).astype(np.float64)
            inverse = cv2.invertAffineTransform(affine)
            original = (points @ inverse[:, :2].T + inverse[:, 2] + 0.5) / to_level - 0.5
            levels.append((original.astype(np.float32), descriptors, float(scale * upscale), view_number))
    return levels


def reference_views(tuning: DetectorTuning) -> list[np.ndarray]:
    """The simulated views of a reference level as (2, 2) maps picture px -> view px: the frontal
    view first, then each of ``tuning.reference_tilts`` in ``tuning.reference_tilt_directions``
    directions (foreshortened across a line at 0, 180/n, ... degrees)."""
    views = [np.eye(2)]
    for tilt in tuning.reference_tilts:
        for step in range(tuning.reference_tilt_directions):
            angle = math.pi * step / tuning.reference_tilt_directions
            rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
            views.append(rotation @ np.diag([tilt, 1.0]) @ rotation.T)
    return views


def closest_views(homography: np.ndarray, centre_px: np.ndarray, views: list[np.ndarray], count: int) -> list[int]:
    """The `count` simulated views (`reference_views`) that leave the least foreshortening to a
    homography's local affine map at a picture point: those whose features match best."""
    x, y = float(centre_px[0]), float(centre_px[1])
    h = homography / homography[2, 2]
    w = h[2, 0] * x + h[2, 1] * y + 1.0
    u, v = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w, (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
    jacobian = (
        np.array([[h[0, 0] - u * h[2, 0], h[0, 1] - u * h[2, 1]], [h[1, 0] - v * h[2, 0], h[1, 1] - v * h[2, 1]]]) / w
    )
    left = []
    for view in views:
        singular = np.linalg.svd(jacobian @ np.linalg.inv(view), compute_uv=False)
        left.append(float(singular[-1] / max(singular[0], 1e-12)))
    return sorted(range(len(views)), key=lambda number: -left[number])[:count]


#: FAST threshold of the reference pictures' ORB (OpenCV's default: they are sharp).
REFERENCE_FAST_THRESHOLD = 20


def pairs_within(first: np.ndarray, second: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) with ``|first[i] - second[j]| <= radius``: the (N, 2) points `first` counted
    into a grid of `radius` cells, each of the (M, 2) points `second` compared with the 3x3 cells
    around its own."""
    none = np.zeros(0, np.int64)
    if not len(first) or not len(second):
        return none, none
    low = np.minimum(first.min(axis=0), second.min(axis=0))
    # Cell coordinates from 1, so every neighbour of a cell is in the grid.
    own = np.floor((first - low) / radius).astype(np.int64) + 1
    other = np.floor((second - low) / radius).astype(np.int64) + 1
    width = int(max(own[:, 0].max(), other[:, 0].max())) + 2
    height = int(max(own[:, 1].max(), other[:, 1].max())) + 2
    key = own[:, 1] * width + own[:, 0]
    order = np.argsort(key, kind="stable")
    counts = np.bincount(key, minlength=width * height)
    starts = np.cumsum(counts) - counts
    firsts, seconds = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            cell = (other[:, 1] + dy) * width + other[:, 0] + dx
            found = counts[cell]
            total = int(found.sum())
            if not total:
                continue
            rows = np.repeat(np.arange(len(second)), found)
            # Each row's place in its cell: its start, then 0, 1, ... within the cell.
            within = np.arange(total) - np.repeat(np.cumsum(found) - found, found)
            firsts.append(order[np.repeat(starts[cell], found) + within])
            seconds.append(rows)
    if not firsts:
        return none, none
    rows_first, rows_second = np.concatenate(firsts), np.concatenate(seconds)
    close = np.sum((first[rows_first] - second[rows_second]) ** 2, axis=1) <= radius * radius
    return rows_first[close], rows_second[close]


def descriptor_distance(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Row-wise distance of two (N, D) descriptor arrays: Hamming bits (uint8) or Euclidean (float)."""
    if first.dtype == np.uint8:
        differ = np.bitwise_xor(first, second)
        if differ.shape[1] % 8 == 0:
            differ = np.ascontiguousarray(differ).view(np.uint64)  # 8 bytes per count
        return np.bitwise_count(differ).sum(axis=1, dtype=np.int32).astype(np.float32)
    return np.linalg.norm(first.astype(np.float32) - second.astype(np.float32), axis=1)


class NeighbourSearch:
    """k nearest library descriptors of each frame descriptor, as arrays.

    Parameters
    ----------
    descriptors : numpy.ndarray
        (M, 32) uint8 ORB descriptors (Hamming) or (M, 128) float32 SIFT ones (Euclidean).
    kind : {"lsh", "bf"}
        FLANN multi-probe locality-sensitive hashing (approximate, fast; ORB only), or brute
        force. (default: "lsh")
    """

    def __init__(self, descriptors: np.ndarray, kind: str = "lsh") -> None:
        if kind not in ("lsh", "bf"):
            raise ValueError(f"unknown matcher {kind!r} (known: lsh, bf)")
        self.kind = kind
        self.norm = cv2.NORM_HAMMING if descriptors.dtype == np.uint8 else cv2.NORM_L2
        self.descriptors = np.ascontiguousarray(descriptors)
        self._index = None
        if kind == "lsh" and len(self.descriptors) and self.norm == cv2.NORM_HAMMING:
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
        """(train indices (N, k) int64, -1 where none; distances (N, k) float32)."""
        count = len(self.descriptors)
        if count == 0 or len(queries) == 0:
            return np.full((len(queries), k), -1, np.int64), np.full((len(queries), k), np.inf, np.float32)
        k_found = min(k, count)
        if self._index is not None:
            train, distance = self._index.knnSearch(queries, k_found, params={"checks": LSH_CHECKS})
        else:
            distance, train = cv2.batchDistance(
                queries,
                self.descriptors,
                cv2.CV_32F if self.norm == cv2.NORM_L2 else cv2.CV_32S,
                normType=self.norm,
                K=k_found,
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


def search_box(
    aoi: tuple[int, int, int, int], min_side_px: int, frame_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The AOI widened to at least `min_side_px` a side around its centre, clipped to the frame."""
    x, y, width, height = aoi
    grow_x, grow_y = max(min_side_px - width, 0), max(min_side_px - height, 0)
    if not grow_x and not grow_y:
        return aoi
    widened = clip_roi((x - grow_x // 2, y - grow_y // 2, width + grow_x, height + grow_y), frame_size)
    return widened if widened is not None else aoi


def overlaps_box(corners: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether a quadrilateral (4, 2) and a box (x, y, width, height) overlap."""
    x, y, width, height = box
    rectangle = np.array([[x, y], [x + width, y], [x + width, y + height], [x, y + height]], np.float32)
    area, _ = cv2.intersectConvexConvex(np.asarray(corners, np.float32), rectangle)
    return float(area) > 0.0


def visible_area(corners: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Area of a quadrilateral inside a box (plus the features' margin), px²."""
    x, y, width, height = box
    m = ROI_MARGIN_PX
    rectangle = np.array(
        [[x - m, y - m], [x + width + m, y - m], [x + width + m, y + height + m], [x - m, y + height + m]], np.float32
    )
    area, _ = cv2.intersectConvexConvex(np.asarray(corners, np.float32), rectangle)
    return float(area)


def contains_point(corners: np.ndarray, point: tuple[float, float] | None) -> bool:
    """Whether `point` (frame px) lies in the quadrilateral `corners` (on its edge counts)."""
    if point is None:
        return False
    polygon = np.asarray(corners, np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(polygon, (float(point[0]), float(point[1])), False) >= 0


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
