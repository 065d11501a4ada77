"""Fiducial markers: printed AprilTag / ArUco tags and boards found with pose, beside pictures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.markers import MarkerDetector, MarkerLibrary, MarkerTracker, draw_fiducial
from gazefusion.fusion.synthetic import background_texture, degrade, marker_pose, render_plane
from tests.fusion.markers.scenes import CAMERA, SIZE, core_aoi, rotation_error_deg, texture

PX_PER_M = 4000.0
ENTRIES = [
    {"id": "door", "aruco": {"dictionary": "DICT_APRILTAG_36h11", "tag": 7}, "width_m": 0.10},
    {
        "id": "box",
        "aruco": {
            "dictionary": "DICT_APRILTAG_36h11",
            "board": [{"tag": 1, "centre_m": [-0.06, 0.0]}, {"tag": 2, "centre_m": [0.06, 0.0]}],
        },
        "width_m": 0.08,
    },
    {"id": "lid", "aruco": {"dictionary": "DICT_4X4_50", "tag": 3}, "width_m": 0.15},
]


@pytest.fixture(scope="module")
def library() -> MarkerLibrary:
    """Two tags of two dictionaries, a board of two tags, and a picture: both kinds in one library."""
    tags = MarkerLibrary.parse(ENTRIES)
    pictures = MarkerLibrary.from_images([("poster", texture("a"), 0.2)])
    return MarkerLibrary([*tags, *pictures])


@pytest.fixture(scope="module")
def detector(library: MarkerLibrary) -> MarkerDetector:
    return MarkerDetector(library, CameraIntrinsics(SIZE, CAMERA, np.zeros(5)))


def printed(library: MarkerLibrary, marker_id: str) -> tuple[np.ndarray, float]:
    """The marker as `markers print` draws it (BGR) and its printed width with the white border, m."""
    picture = draw_fiducial(library[marker_id], PX_PER_M)
    return cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR), picture.shape[1] / PX_PER_M


def scene(
    library: MarkerLibrary, marker_id: str, distance_m: float, tilt_deg: float, seed: int, centre=(330.0, 250.0)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A degraded frame with the printed marker at a known pose: (frame, rvec, tvec)."""
    rng = np.random.default_rng(seed)
    picture, width_m = printed(library, marker_id)
    rvec, tvec = marker_pose(distance_m, tilt_deg, rng.uniform(0, 360), rng.uniform(0, 360), centre, CAMERA)
    frame = background_texture(seed, SIZE)
    render_plane(frame, picture, width_m, rvec, tvec, CAMERA)
    return degrade(frame, 0.8, 3.0, 70, rng), rvec, tvec


@pytest.mark.parametrize(
    ("marker_id", "distance_m", "tilt_deg"),
    [
        ("door", 0.5, 0),
        ("door", 1.0, 35),
        ("door", 2.0, 55),
        ("door", 3.0, 20),
        ("lid", 1.5, 40),
        ("box", 1.0, 30),
        ("box", 2.0, 0),
    ],
)
def test_tag_pose_in_the_core_aoi(
    library: MarkerLibrary, detector: MarkerDetector, marker_id: str, distance_m: float, tilt_deg: float
) -> None:
    """A printed tag or board at a known pose, searched in the AOI the core builds around a gaze on
    it: found, its centre within 3 % of its distance, its rotation within 5 degrees unless flagged
    ambiguous (a small frontal square is the ambiguous case of planar pose)."""
    frame, rvec, tvec = scene(library, marker_id, distance_m, tilt_deg, seed=int(distance_m * 10 + tilt_deg))
    gaze = (330.0, 250.0) if marker_id != "box" else (330.0 + 0.06 * 600 / distance_m * 0.9, 250.0)
    hits = detector.detect(frame, core_aoi(gaze), gaze)
    assert [hit.marker_id for hit in hits] == [marker_id]
    hit = hits[0]
    assert np.linalg.norm(hit.position_m - tvec) < 0.03 * distance_m
    assert hit.pose_ambiguous or rotation_error_deg(hit.rotation, rvec) < 5.0
    assert hit.inliers == 4 * len(library[marker_id].fiducial.tags) or marker_id == "box"


def test_a_partly_hidden_board_keeps_its_pose(library: MarkerLibrary, detector: MarkerDetector) -> None:
    """With one of its two tags covered, a board is found from the other, at the same pose."""
    frame, rvec, tvec = scene(library, "box", 1.0, 20, seed=3)
    whole = detector.detect(frame)
    assert [hit.marker_id for hit in whole] == ["box"] and whole[0].inliers == 8
    # Tag 1 hidden: its outline under the true pose, grown by a fifth, painted grey.
    tag_m = library["box"].fiducial.corners_m[0]
    tag_px, _ = cv2.projectPoints(tag_m * 1.2 - tag_m.mean(axis=0) * 0.2, rvec, tvec, CAMERA, np.zeros(5))
    covered = cv2.fillConvexPoly(frame.copy(), tag_px.reshape(4, 2).astype(np.int32), (128, 128, 128))
    hits = detector.detect(covered)
    assert [hit.marker_id for hit in hits] == ["box"] and hits[0].inliers == 4
    assert np.linalg.norm(hits[0].position_m - tvec) < 0.03


def test_tags_outside_the_library_are_ignored(library: MarkerLibrary, detector: MarkerDetector) -> None:
    stranger = MarkerLibrary.parse(
        [{"id": "x", "aruco": {"dictionary": "DICT_APRILTAG_36h11", "tag": 9}, "width_m": 0.1}]
    )
    frame, _, _ = scene(stranger, "x", 0.8, 10, seed=4)
    assert detector.detect(frame) == []


def test_pictures_and_tags_in_one_frame(library: MarkerLibrary, detector: MarkerDetector) -> None:
    """A picture marker and a tag side by side: both found, each with its own pose; the gaze
    chooses the first."""
    picture, width_m = printed(library, "door")
    rvec, tvec = marker_pose(0.8, 10, 0, 0, (470, 240), CAMERA)
    frame = background_texture(5, SIZE)
    render_plane(frame, picture, width_m, rvec, tvec, CAMERA)
    poster_rvec, poster_tvec = marker_pose(0.8, 20, 90, 0, (170, 240), CAMERA)
    render_plane(frame, texture("a"), 0.2, poster_rvec, poster_tvec, CAMERA)
    frame = degrade(frame, 0.8, 2.0, 80, np.random.default_rng(5))
    hits = detector.detect(frame, gaze_xy=(470, 240))
    assert [hit.marker_id for hit in hits] == ["door", "poster"]
    assert np.linalg.norm(hits[0].position_m - tvec) < 0.02
    assert np.linalg.norm(hits[1].position_m - poster_tvec) < 0.02


def test_the_tracker_detects_tags_every_frame(library: MarkerLibrary, detector: MarkerDetector) -> None:
    """The detect-then-track search follows pictures by flow but finds tags in every frame."""
    tracker = MarkerTracker(MarkerDetector(library, detector.intrinsics))
    for index in range(6):
        frame, _, tvec = scene(library, "door", 1.0, 15, seed=6, centre=(300.0 + 4 * index, 240.0))
        hits = tracker.update(frame, core_aoi((300.0 + 4 * index, 240.0)))
        assert [hit.marker_id for hit in hits] == ["door"]
        assert np.linalg.norm(hits[0].position_m - tvec) < 0.03


def test_draw_fiducial_is_the_printed_layout(library: MarkerLibrary) -> None:
    """The printable picture decodes to the board's tags, at their places, with a white border."""
    picture = draw_fiducial(library["box"], PX_PER_M)
    # 0.20 x 0.08 m of tags plus a 0.02 m border (a quarter of the tag) on every side.
    assert picture.shape == (round(0.12 * PX_PER_M), round(0.24 * PX_PER_M))
    assert picture[:20].min() == 255 and picture[:, :20].min() == 255
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_APRILTAG_36h11)
    corners, ids, _ = cv2.aruco.ArucoDetector(dictionary).detectMarkers(picture)
    found = {int(tag): c.reshape(4, 2) for tag, c in zip(ids.ravel(), corners)}
    assert sorted(found) == [1, 2]
    # Tag 2's top-left corner: 0.02 m border + 0.12 m to its left edge (x), 0.02 m (y).
    np.testing.assert_allclose(found[2][0], [0.14 * PX_PER_M, 0.02 * PX_PER_M], atol=2.0)


def test_draw_fiducial_refuses_a_picture(library: MarkerLibrary) -> None:
    with pytest.raises(ValueError, match="'poster' is a picture"):
        draw_fiducial(library["poster"], PX_PER_M)
