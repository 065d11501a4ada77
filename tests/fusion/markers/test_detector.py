"""Marker detection and pose on rendered ground truth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.errors import CalibrationError, ConfigError
from gazefusion.fusion.markers import MarkerDetector, MarkerLibrary
from gazefusion.fusion.synthetic import background_texture, degrade, marker_pose, render_plane
from tests.fusion.markers.scenes import (
    CAMERA,
    SIZE,
    WIDTH_M,
    core_aoi,
    left_half,
    oxford,
    render_scene,
    right_half,
    rotation_error_deg,
)


@pytest.mark.parametrize(
    ("distance_m", "tilt_deg", "roll_deg", "centre"),
    [
        (0.5, 0, 0, (320, 240)),
        (0.5, 35, 120, (280, 260)),
        (0.75, 20, -40, (400, 200)),
        (0.75, 45, 200, (250, 250)),
        (1.0, 10, 75, (350, 300)),
        (1.0, 30, 10, (200, 180)),
    ],
    ids=["0.5m-frontal", "0.5m-tilt35", "0.75m-tilt20", "0.75m-tilt45", "1m-tilt10", "1m-tilt30"],
)
def test_pose_matches_ground_truth(detector: MarkerDetector, distance_m, tilt_deg, roll_deg, centre) -> None:
    frame, (truth,) = render_scene(
        [("b", distance_m, tilt_deg, roll_deg, centre)], seed=int(distance_m * 100 + tilt_deg)
    )
    hits = detector.detect(frame)
    assert [hit.marker_id for hit in hits] == ["b"]
    hit = hits[0]
    assert np.linalg.norm(hit.position_m - truth.tvec) < 0.015 * distance_m
    assert hit.distance_m == pytest.approx(np.linalg.norm(truth.tvec), rel=0.015)
    # A frontal pose is the ambiguous case: flagged, with a looser rotation bound.
    assert rotation_error_deg(hit.rotation, truth.rvec) < (8.0 if hit.pose_ambiguous else 3.0)
    assert np.max(np.linalg.norm(hit.corners - truth.corners, axis=1)) < 3.0
    assert hit.inliers >= 12 and hit.reprojection_error_px < 3.0


def test_a_marker_not_in_the_library_is_never_reported(detector: MarkerDetector) -> None:
    for seed in range(4):
        frame, _ = render_scene([("stranger", 0.6, 15 * seed, 30 * seed, (320, 240))], seed=seed)
        assert detector.detect(frame) == []


def test_only_the_marker_shown_is_reported(detector: MarkerDetector) -> None:
    for seed, marker_id in enumerate(["a", "b", "c"]):
        frame, _ = render_scene([(marker_id, 0.7, 25, 90 * seed, (330, 230))], seed=10 + seed)
        assert [hit.marker_id for hit in detector.detect(frame)] == [marker_id]


@pytest.mark.parametrize("gaze_on", ["a", "c"])
def test_several_markers_gaze_chooses_the_first(detector: MarkerDetector, gaze_on: str) -> None:
    frame, placed = render_scene([("a", 0.8, 10, 0, (170, 240)), ("c", 0.8, 20, 30, (470, 240))], seed=5)
    gaze = {p.marker_id: tuple(p.corners.mean(axis=0)) for p in placed}[gaze_on]
    hits = detector.detect(frame, gaze_xy=gaze)
    assert sorted(hit.marker_id for hit in hits) == ["a", "c"]
    assert hits[0].marker_id == gaze_on and hits[0].contains_gaze
    assert not hits[1].contains_gaze


def test_roi_restricts_the_search(detector: MarkerDetector) -> None:
    frame, placed = render_scene([("a", 0.8, 10, 0, (170, 240)), ("c", 0.8, 20, 30, (470, 240))], seed=6)
    hits = detector.detect(frame, roi=(20, 90, 300, 300))
    assert [hit.marker_id for hit in hits] == ["a"]
    assert np.linalg.norm(hits[0].position_m - placed[0].tvec) < 0.015 * 0.8


def test_small_roi_on_a_distant_marker_is_upscaled_and_found(detector: MarkerDetector) -> None:
    found = 0
    for seed in range(5):
        frame, (truth,) = render_scene([("b", 1.5, 15, 60, (300, 260))], seed=30 + seed)
        centre = truth.corners.mean(axis=0)
        roi = (int(centre[0]) - 100, int(centre[1]) - 100, 200, 200)
        hits = detector.detect(frame, roi=roi, gaze_xy=tuple(centre))
        if hits:
            assert [hit.marker_id for hit in hits] == ["b"] and hits[0].contains_gaze
            assert np.linalg.norm(hits[0].position_m - truth.tvec) < 0.03 * 1.5
            found += 1
    # The benchmark finds 1.5 m markers in a 200 px AOI nearly always; allow one miss.
    assert found >= 4


@pytest.mark.parametrize(
    "roi", [(-100, -50, 500, 400), (400, 300, 1000, 1000)], ids=["over-top-left", "over-bottom-right"]
)
def test_roi_partly_outside_the_frame_is_clipped(detector: MarkerDetector, roi) -> None:
    centre = (180, 150) if roi[0] < 0 else (520, 380)
    frame, _ = render_scene([("c", 0.9, 10, 0, centre)], seed=9)
    assert [hit.marker_id for hit in detector.detect(frame, roi=roi)] == ["c"]


@pytest.mark.parametrize(
    "roi", [(700, 0, 100, 100), (0, -300, 640, 200), (10, 10, 0, 50)], ids=["right", "above", "empty"]
)
def test_roi_outside_the_frame_finds_nothing(detector: MarkerDetector, roi) -> None:
    frame, _ = render_scene([("c", 0.6, 0, 0, (320, 240))], seed=9)
    assert detector.detect(frame, roi=roi) == []


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((480, 640, 3), np.uint8),
        np.full((480, 640, 3), 200, np.uint8),
        np.full((480, 640), 17, np.uint8),
        background_texture(3, SIZE),
    ],
    ids=["empty", "black", "uniform", "uniform-grey", "background-only"],
)
def test_frames_without_markers_give_no_hits(detector: MarkerDetector, frame: np.ndarray) -> None:
    assert detector.detect(frame) == []


def test_grey_frames_work(detector: MarkerDetector) -> None:
    frame, _ = render_scene([("a", 0.6, 20, 0, (320, 240))], seed=2)
    grey = frame.mean(axis=2).astype(np.uint8)
    assert [hit.marker_id for hit in detector.detect(grey)] == ["a"]


def test_intrinsics_are_scaled_to_a_larger_frame(library: MarkerLibrary, intrinsics: CameraIntrinsics) -> None:
    detector = MarkerDetector(library, intrinsics)
    frame, (truth,) = render_scene(
        [("a", 0.8, 25, 15, (640, 480))], seed=4, size=(1280, 960), camera=CAMERA * [[2], [2], [1]]
    )
    hits = detector.detect(frame)
    assert [hit.marker_id for hit in hits] == ["a"]
    assert np.linalg.norm(hits[0].position_m - truth.tvec) < 0.015 * 0.8


def test_intrinsics_for_another_aspect_ratio_are_refused(detector: MarkerDetector) -> None:
    with pytest.raises(CalibrationError, match="another aspect ratio"):
        detector.detect(np.zeros((480, 800, 3), np.uint8))


def test_lens_distortion_is_modelled(library: MarkerLibrary) -> None:
    dist = np.array([-0.3, 0.1, 0.0, 0.0, 0.0])
    frame, (truth,) = render_scene([("c", 0.7, 30, 40, (520, 380))], seed=12, dist=dist)
    hits = MarkerDetector(library, CameraIntrinsics(SIZE, CAMERA, dist)).detect(frame)
    assert [hit.marker_id for hit in hits] == ["c"]
    assert np.linalg.norm(hits[0].position_m - truth.tvec) < 0.015 * 0.7
    assert rotation_error_deg(hits[0].rotation, truth.rvec) < 3.0


def test_unknown_homography_estimator_is_refused(library: MarkerLibrary, intrinsics: CameraIntrinsics) -> None:
    with pytest.raises(ConfigError, match="unknown homography estimator 'lmeds'.*usac_magsac"):
        MarkerDetector(library, intrinsics, MarkersConfig(homography="lmeds"))


def test_detect_is_pure(detector: MarkerDetector) -> None:
    frame, _ = render_scene([("b", 0.7, 20, 0, (300, 240))], seed=1)
    copy = frame.copy()
    first, second = detector.detect(frame), detector.detect(frame)
    assert np.array_equal(frame, copy)
    assert len(first) == len(second) == 1
    np.testing.assert_allclose(first[0].position_m, second[0].position_m)


def test_brute_force_matcher_agrees(library: MarkerLibrary, intrinsics: CameraIntrinsics) -> None:
    frame, (truth,) = render_scene([("c", 0.9, 25, 80, (300, 220))], seed=14)
    hits = MarkerDetector(library, intrinsics, matcher="bf").detect(frame)
    assert [hit.marker_id for hit in hits] == ["c"]
    assert np.linalg.norm(hits[0].position_m - truth.tvec) < 0.015 * 0.9


def test_unknown_matcher_is_refused(library: MarkerLibrary, intrinsics: CameraIntrinsics) -> None:
    with pytest.raises(ValueError, match="unknown matcher 'kd'"):
        MarkerDetector(library, intrinsics, matcher="kd")


def test_two_detectors_from_one_library_agree(library: MarkerLibrary, intrinsics: CameraIntrinsics) -> None:
    frames = [render_scene([("a", d, 30, 45, (330, 250))], seed=20 + i)[0] for i, d in enumerate((1.2, 1.8, 2.2))]
    first, second = MarkerDetector(library, intrinsics), MarkerDetector(library, intrinsics)
    for frame in frames:
        roi = (220, 140, 220, 220)
        hits_first, hits_second = first.detect(frame, roi), second.detect(frame, roi)
        assert [h.marker_id for h in hits_first] == [h.marker_id for h in hits_second]
        for a, b in zip(hits_first, hits_second):
            np.testing.assert_array_equal(a.position_m, b.position_m)


# --- real photographs (the Oxford sequences, read at test time) ---------------------------------


@pytest.fixture(scope="module")
def real_library(oxford_dir: Path) -> MarkerLibrary:
    """Real pictures: wall and bark (located in their own sequences), the left halves of bikes
    and leuven (rendered at known poses), and the right half of bikes as a look-alike distractor."""
    pictures = [(name, oxford(oxford_dir, name), WIDTH_M) for name in ("wall", "bark")]
    pictures += [(name, left_half(oxford(oxford_dir, name)), WIDTH_M) for name in ("bikes", "leuven")]
    pictures.append(("bikes-right", right_half(oxford(oxford_dir, "bikes")), WIDTH_M))
    return MarkerLibrary.from_images(pictures)


@pytest.mark.parametrize(
    ("sequence", "number"),
    [("wall", 2), ("wall", 3), ("bark", 2), ("bark", 3), ("bark", 4), ("bark", 5), ("bark", 6)],
    ids=["wall-20deg", "wall-30deg", "bark-zoom1", "bark-zoom2", "bark-zoom3", "bark-zoom4", "bark-zoom5"],
)
def test_real_viewpoint_changes_are_located(oxford_dir: Path, real_library: MarkerLibrary, sequence, number) -> None:
    """img1 of a real photograph sequence found in a later photograph of the same planar scene,
    its corners within 5 % of its size of where the true homography puts them."""
    frame = oxford(oxford_dir, sequence, number)
    truth_h = np.loadtxt(oxford_dir / sequence / f"H1to{number}p")
    marker = real_library[sequence]
    truth = cv2.perspectiveTransform(marker.outline_px.reshape(-1, 1, 2), truth_h).reshape(4, 2)
    detector = MarkerDetector(real_library, CameraIntrinsics.from_fov((frame.shape[1], frame.shape[0])))
    hits = detector.detect(frame)
    assert [hit.marker_id for hit in hits] == [sequence]
    span = float(max(np.ptp(truth, axis=0)))
    assert np.mean(np.linalg.norm(hits[0].corners - truth, axis=1)) < 0.05 * span


@pytest.mark.parametrize(
    ("distances_m", "least_found", "error_fraction"),
    [((0.5, 1.0, 1.5), 11, 0.01), ((2.0, 2.5), 6, 0.03)],
    ids=["0.5-1.5m", "2-2.5m"],
)
def test_real_pictures_at_room_distances(
    oxford_dir: Path,
    real_library: MarkerLibrary,
    intrinsics: CameraIntrinsics,
    distances_m: tuple[float, ...],
    least_found: int,
    error_fraction: float,
) -> None:
    """Real pictures (0.20 m wide) rendered at known poses (tilts 0 and 35 degrees) on a real
    background, blurred, noisy, JPEG-compressed, each searched in the AOI the core builds around a
    gaze on it: at least `least_found` give the right marker, never a wrong one; the median
    position error is within `error_fraction` of the distance, and none is off by 10 %. (At 3 m
    the benchmark finds about two in three, with 0.5 % of its poses off by more than 10 %: the
    frontal, ambiguous ones. Not asserted here.)"""
    background = cv2.resize(right_half(oxford(oxford_dir, "trees")), SIZE, interpolation=cv2.INTER_AREA)
    detector = MarkerDetector(real_library, intrinsics)
    errors = []
    for number, (name, distance_m, tilt_deg) in enumerate(
        (name, d, t) for name in ("bikes", "leuven") for d in distances_m for t in (0, 35)
    ):
        rng = np.random.default_rng(number)
        centre = (rng.uniform(250, 390), rng.uniform(190, 290))
        rvec, tvec = marker_pose(distance_m, tilt_deg, rng.uniform(0, 360), rng.uniform(0, 360), centre, CAMERA)
        frame = background.copy()
        render_plane(frame, real_library[name].picture, WIDTH_M, rvec, tvec, CAMERA)
        frame = degrade(frame, 0.8, 3.0, 70, rng)
        gaze = (centre[0] + rng.normal(0, 3), centre[1] + rng.normal(0, 3))
        hits = detector.detect(frame, core_aoi(gaze), gaze)
        assert [hit.marker_id for hit in hits] in ([], [name])
        if hits:
            errors.append(float(np.linalg.norm(hits[0].position_m - tvec)) / distance_m)
    assert len(errors) >= least_found
    # The targets: median translation error <= 1 % of the distance up to 1.5 m and
    # <= 3 % at 3 m; no wrong pose (distance off by more than 10 %).
    assert np.median(errors) <= error_fraction and max(errors) < 0.10


def test_real_backgrounds_give_no_hits(oxford_dir: Path, real_library: MarkerLibrary, intrinsics) -> None:
    """AOIs all over real photographs that hold no library picture find nothing."""
    detector = MarkerDetector(real_library, intrinsics)
    for name in ("trees", "ubc"):
        frame = cv2.resize(right_half(oxford(oxford_dir, name)), SIZE, interpolation=cv2.INTER_AREA)
        for gaze in [(x, y) for x in (80, 240, 400, 560) for y in (80, 240, 400)]:
            assert detector.detect(frame, core_aoi(gaze), gaze) == []
