"""The marker library file: what loads, and each bad input refused with its reason."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.errors import FileFormatError
from gazefusion.fusion.markers import MarkerLibrary
from gazefusion.fusion.markers.detector import DetectorTuning, reference_features
from gazefusion.fusion.markers.library import MIN_REFERENCE_KEYPOINTS
from gazefusion.fusion.synthetic import marker_texture


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    cv2.imwrite(str(folder / "poster.png"), marker_texture(1, 300))
    cv2.imwrite(str(folder / "book.jpg"), cv2.resize(marker_texture(2, 400), (400, 560)))
    cv2.imwrite(str(folder / "plain.png"), np.full((300, 300, 3), 128, np.uint8))
    (folder / "notes.png").write_text("not a picture")
    return folder


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "markers.yaml"
    path.write_text(text)
    return path


def test_load_resolves_images_relative_to_the_file(tmp_path: Path, pictures: Path) -> None:
    path = write(
        tmp_path,
        "- {id: poster, image: pictures/poster.png, width_m: 0.3}\n"
        "- {id: 7, image: pictures/book.jpg, width_m: 0.15}\n",
    )
    library = MarkerLibrary.load(path, MarkersConfig())
    assert library.ids == ["poster", "7"]
    book = library["7"]
    assert book.image_size == (400, 560)
    assert book.width_m == 0.15 and book.height_m == pytest.approx(0.21)
    levels = reference_features(book.picture, DetectorTuning(), MarkersConfig())
    assert len(levels) >= 2 and len(levels[0][1]) >= MIN_REFERENCE_KEYPOINTS
    # Reference points are in the original picture's px, whatever the level's scale.
    for points_px, _, _, _ in levels:
        assert points_px[:, 0].max() < 400 and points_px[:, 1].max() < 560
        assert points_px[:, 1].max() > 400


def test_marker_frame_points(tmp_path: Path, pictures: Path) -> None:
    library = MarkerLibrary.load(write(tmp_path, "- {id: p, image: pictures/poster.png, width_m: 0.3}\n"))
    points = library["p"].to_marker_m(library["p"].outline_px)
    np.testing.assert_allclose(
        points, [[-0.15, -0.15, 0], [0.15, -0.15, 0], [0.15, 0.15, 0], [-0.15, 0.15, 0]], atol=1e-12
    )


TAG = "aruco: {dictionary: DICT_APRILTAG_36h11, tag: 7}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "- {id: a, image: pictures/missing.png, width_m: 0.2}\n",
            "marker 'a': image: not found: .*missing.png",
            id="image-missing",
        ),
        pytest.param(
            "- {id: a, image: pictures/notes.png, width_m: 0.2}\n",
            "marker 'a': image: not a readable picture",
            id="image-unreadable",
        ),
        pytest.param(
            "- {id: a, image: pictures/plain.png, width_m: 0.2}\n",
            r"marker 'a' \(.*plain.png\): too little texture: 0 ORB keypoints, needs at least",
            id="too-little-texture",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0}\n",
            "marker 'a': width_m: must be a positive number of metres, got 0",
            id="width-zero",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: -0.2}\n",
            "marker 'a': width_m: must be a positive number of metres, got -0.2",
            id="width-negative",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: wide}\n",
            "width_m: must be a positive number of metres, got 'wide'",
            id="width-not-a-number",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: .nan}\n",
            "width_m: must be a positive number",
            id="width-nan",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0.2}\n- {id: a, image: pictures/book.jpg, width_m: 0.2}\n",
            "entry 2: duplicate marker id 'a'",
            id="duplicate-id",
        ),
        pytest.param("- {id: a, image: pictures/poster.png}\n", "marker 'a': lacks width_m", id="missing-key"),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0.2, size: 3}\n",
            "marker 'a': unknown key size",
            id="unknown-key",
        ),
        pytest.param(
            "- {id: null, image: pictures/poster.png, width_m: 0.2}\n", "entry 1: id: must not be empty", id="empty-id"
        ),
        pytest.param("markers: []\n", "expected a non-empty list", id="not-a-list"),
        pytest.param("[\n", "is not valid YAML", id="bad-yaml"),
        pytest.param("- just a string\n", "entry 1: expected a mapping", id="entry-not-mapping"),
        pytest.param(
            "- {id: a, width_m: 0.2}\n", "marker 'a': give either image .* or aruco", id="neither-image-nor-aruco"
        ),
        pytest.param(
            f"- {{id: a, image: pictures/poster.png, {TAG}, width_m: 0.2}}\n",
            "marker 'a': give either image .* or aruco",
            id="both-image-and-aruco",
        ),
        # Fiducials: the bad inputs, then the ones found on the way.
        pytest.param(
            "- {id: door, aruco: {dictionary: DICT_APRILTAG_99h9, tag: 7}, width_m: 0.1}\n",
            "marker 'door': aruco.dictionary: unknown dictionary 'DICT_APRILTAG_99h9' \\(known: .*DICT_APRILTAG_36h11",
            id="unknown-dictionary",
        ),
        pytest.param(
            "- {id: door, aruco: {dictionary: DICT_4X4_50, tag: 50}, width_m: 0.1}\n",
            r"marker 'door': aruco.tag: tag 50 is outside DICT_4X4_50 \(tags 0-49\)",
            id="tag-outside-dictionary",
        ),
        pytest.param(
            "- {id: door, aruco: {dictionary: DICT_4X4_50, tag: -1}, width_m: 0.1}\n",
            "marker 'door': aruco.tag: -1 is not valid",
            id="tag-negative",
        ),
        pytest.param(
            f"- {{id: door, {TAG}, width_m: 0.1}}\n- {{id: box, {TAG}, width_m: 0.2}}\n",
            "marker 'box': aruco.tag: DICT_APRILTAG_36h11 tag 7 is the same printed tag as marker 'door'",
            id="same-tag-two-markers",
        ),
        pytest.param(
            "- {id: door, aruco: {dictionary: DICT_4X4_50, tag: 3}, width_m: 0.1}\n"
            "- {id: box, aruco: {dictionary: DICT_4X4_100, tag: 3}, width_m: 0.1}\n",
            "marker 'box': aruco.tag: DICT_4X4_100 tag 3 is the same printed tag as marker 'door' \\(DICT_4X4_50 tag 3\\)",
            id="same-tag-from-two-dictionaries",
        ),
        pytest.param(
            "- {id: box, aruco: {dictionary: DICT_4X4_50, board: [{tag: 1, centre_m: [0, 0]}, {tag: 1, centre_m: [0.2, 0]}]}, width_m: 0.1}\n",
            r"marker 'box': aruco.board\[1\].tag: DICT_4X4_50 tag 1 is the same printed tag as this board",
            id="same-tag-twice-on-a-board",
        ),
        pytest.param(
            "- {id: box, aruco: {dictionary: DICT_4X4_50, board: [{tag: 1, centre_m: [0, 0]}, {tag: 2, centre_m: [0.05, 0.02]}]}, width_m: 0.1}\n",
            r"marker 'box': aruco.board\[1\]: tag 2 overlaps tag 1",
            id="board-overlapping-tags",
        ),
        pytest.param(
            "- {id: box, aruco: {dictionary: DICT_4X4_50, board: [{tag: 1, centre_m: [0, 0], width_m: -0.05}]}, width_m: 0.1}\n",
            r"marker 'box': aruco.board\[0\].width_m: must be a positive number of metres, got -0.05",
            id="board-tag-negative-size",
        ),
        pytest.param(
            "- {id: door, aruco: {dictionary: DICT_APRILTAG_36h11, tag: 7}, width_m: -0.1}\n",
            "marker 'door': width_m: must be a positive number of metres, got -0.1",
            id="tag-negative-size",
        ),
        pytest.param(
            "- {id: box, aruco: {dictionary: DICT_4X4_50}, width_m: 0.1}\n",
            "marker 'box': aruco: give either tag .* or board",
            id="aruco-neither-tag-nor-board",
        ),
        pytest.param(
            "- {id: box, aruco: {dictionary: DICT_4X4_50, board: []}, width_m: 0.1}\n",
            r"marker 'box': aruco.board: \[\] is not valid",
            id="board-empty",
        ),
        # AOIs on a marker (polygons in the picture's px).
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0.2, aois: [{name: title, polygon: [[0, 0], [10, 0]]}]}\n",
            r"marker 'a': aois\[0\].polygon: .* is not valid",
            id="aoi-two-points",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0.2, aois: [{name: t, polygon: [[0, 0], [10, 0], [5, 400]]}]}\n",
            r"marker 'a': aois\[0\].polygon: point \(5, 400\) lies outside the 300x300 picture",
            id="aoi-outside-picture",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0.2, aois: [{name: t, polygon: [[0, 0], [9, 0], [5, 5]]}, {name: t, polygon: [[0, 0], [9, 0], [5, 5]]}]}\n",
            "marker 'a': aois: names must be unique on a marker: 't' appear twice",
            id="aoi-duplicate-name",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0.2, aois: [{polygon: [[0, 0], [9, 0], [5, 5]]}]}\n",
            r"marker 'a': lacks aois\[0\].name",
            id="aoi-without-name",
        ),
        pytest.param(
            f"- {{id: door, {TAG}, width_m: 0.1, aois: [{{name: t, polygon: [[0, 0], [9, 0], [5, 5]]}}]}}\n",
            "marker 'door': aois: only picture markers have aois",
            id="aoi-on-a-fiducial",
        ),
    ],
)
def test_bad_library_is_refused_with_the_reason(tmp_path: Path, pictures: Path, text: str, expected: str) -> None:
    with pytest.raises(FileFormatError, match=expected) as info:
        MarkerLibrary.load(write(tmp_path, text), MarkersConfig())
    assert "\n" not in str(info.value)


def test_fiducials_and_pictures_in_one_library(tmp_path: Path, pictures: Path) -> None:
    path = write(
        tmp_path,
        "- {id: poster, image: pictures/poster.png, width_m: 0.3,"
        " aois: [{name: title, polygon: [[10, 10], [290, 10], [290, 80], [10, 80]]}]}\n"
        f"- {{id: door, {TAG}, width_m: 0.1}}\n"
        "- id: box\n"
        "  aruco:\n"
        "    dictionary: DICT_APRILTAG_36h11\n"
        "    board: [{tag: 1, centre_m: [-0.1, 0]}, {tag: 2, centre_m: [0.1, 0], width_m: 0.06}]\n"
        "  width_m: 0.08\n",
    )
    library = MarkerLibrary.load(path)
    assert library.ids == ["poster", "door", "box"]
    assert [marker.kind for marker in library] == ["picture", "aruco", "aruco"]
    assert library["poster"].aois[0].name == "title" and library["poster"].aois[0].polygon_px.shape == (4, 2)
    door = library["door"].fiducial
    assert door is not None and door.tags == (7,) and not door.is_board
    np.testing.assert_allclose(door.corners_m[0, :, :2], [[-0.05, -0.05], [0.05, -0.05], [0.05, 0.05], [-0.05, 0.05]])
    box = library["box"]
    assert box.fiducial is not None and box.fiducial.tags == (1, 2)
    # The board spans x -0.14..0.13 and y -0.04..0.04; its frame is centred on that rectangle.
    assert box.width_m == pytest.approx(0.27) and box.height_m == pytest.approx(0.08, abs=1e-3)
    np.testing.assert_allclose(box.fiducial.corners_m[0, 0, :2], [-0.135, -0.04])
    np.testing.assert_allclose(box.fiducial.corners_m[1, 2, :2], [0.135, 0.03])


def test_missing_library_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="markers file not found"):
        MarkerLibrary.load(tmp_path / "nope.yaml")


def test_from_images_refuses_a_bad_width() -> None:
    with pytest.raises(FileFormatError, match="width_m must be a positive number"):
        MarkerLibrary.from_images([("a", marker_texture(1, 200), -1.0)])
