"""The marker library file: what loads, and each bad input refused with its reason."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.errors import FileFormatError
from gazefusion.fusion.markers import MarkerLibrary
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
    assert len(book.levels) >= 2 and len(book.levels[0].descriptors) >= MIN_REFERENCE_KEYPOINTS
    # Reference points are in the original picture's px, whatever the level's scale.
    for level in book.levels:
        assert level.points_px[:, 0].max() < 400 and level.points_px[:, 1].max() < 560
        assert level.points_px[:, 1].max() > 400


def test_marker_frame_points(tmp_path: Path, pictures: Path) -> None:
    library = MarkerLibrary.load(write(tmp_path, "- {id: p, image: pictures/poster.png, width_m: 0.3}\n"))
    points = library["p"].to_marker_m(library["p"].outline_px)
    np.testing.assert_allclose(
        points, [[-0.15, -0.15, 0], [0.15, -0.15, 0], [0.15, 0.15, 0], [-0.15, 0.15, 0]], atol=1e-12
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "- {id: a, image: pictures/missing.png, width_m: 0.2}\n",
            "marker 'a': image not found: .*missing.png",
            id="image-missing",
        ),
        pytest.param(
            "- {id: a, image: pictures/notes.png, width_m: 0.2}\n",
            "marker 'a': image is not a readable picture",
            id="image-unreadable",
        ),
        pytest.param(
            "- {id: a, image: pictures/plain.png, width_m: 0.2}\n",
            r"marker 'a' \(.*plain.png\): too little texture: 0 ORB keypoints, needs at least",
            id="too-little-texture",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0}\n",
            "marker 'a': width_m must be a positive number of metres, got 0",
            id="width-zero",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: -0.2}\n",
            "width_m must be a positive number of metres, got -0.2",
            id="width-negative",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: wide}\n",
            "width_m must be a positive number of metres, got 'wide'",
            id="width-not-a-number",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: .nan}\n",
            "width_m must be a positive number",
            id="width-nan",
        ),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0.2}\n- {id: a, image: pictures/book.jpg, width_m: 0.2}\n",
            "entry 2: duplicate marker id 'a'",
            id="duplicate-id",
        ),
        pytest.param("- {id: a, image: pictures/poster.png}\n", "entry 1: lacks width_m", id="missing-key"),
        pytest.param(
            "- {id: a, image: pictures/poster.png, width_m: 0.2, size: 3}\n", "unknown key size", id="unknown-key"
        ),
        pytest.param("- {id: null, image: pictures/poster.png, width_m: 0.2}\n", "id must not be empty", id="empty-id"),
        pytest.param("markers: []\n", "expected a non-empty list", id="not-a-list"),
        pytest.param("[\n", "is not valid YAML", id="bad-yaml"),
        pytest.param("- just a string\n", "entry 1: expected a mapping", id="entry-not-mapping"),
    ],
)
def test_bad_library_is_refused_with_the_reason(tmp_path: Path, pictures: Path, text: str, expected: str) -> None:
    with pytest.raises(FileFormatError, match=expected) as info:
        MarkerLibrary.load(write(tmp_path, text), MarkersConfig())
    assert "\n" not in str(info.value)


def test_missing_library_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="markers file not found"):
        MarkerLibrary.load(tmp_path / "nope.yaml")


def test_from_images_refuses_a_bad_width() -> None:
    with pytest.raises(FileFormatError, match="width_m must be a positive number"):
        MarkerLibrary.from_images([("a", marker_texture(1, 200), -1.0)])
