"""AOIs on marker pictures: parsing, the checks against the picture, hit-testing with a margin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gazefusion.fusion.analysis.aois import (
    WHOLE,
    Aoi,
    hit_test,
    load_aoi_file,
    parse_aois,
    resolve_aois,
    self_crossing,
    write_aoi_file,
)
from gazefusion.fusion.errors import FileFormatError

SIZES = {"poster": (400, 300), "book": (200, 200)}
TITLE = {"name": "title", "polygon": [[20, 15], [380, 15], [380, 90], [20, 90]]}


def test_rect_and_polygon() -> None:
    aois = parse_aois([TITLE, {"name": "photo", "rect": [40, 120, 200, 150]}], "test")
    assert [a.name for a in aois] == ["title", "photo"]
    np.testing.assert_array_equal(aois[1].vertices, [[40, 120], [240, 120], [240, 270], [40, 270]])


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ("title", "aois must be a list"),
        ([{"polygon": [[0, 0], [1, 0], [1, 1]]}], "name"),
        ([{"name": "a", "polygon": [[0, 0], [1, 0]]}], "at least 3 vertices"),
        ([{"name": "a", "rect": [0, 0, 0, 5]}], "width and height must be positive"),
        ([{"name": "a", "rect": [0, 0, 5, 5], "polygon": [[0, 0], [1, 0], [1, 1]]}], "not both"),
        ([{"name": "a", "circle": 3}], "circle"),
        ([TITLE, TITLE], "appears twice"),
        ([{"name": WHOLE, "rect": [0, 0, 5, 5]}], "reserved"),
    ],
    ids=["not-a-list", "no-name", "two-vertices", "empty-rect", "both-shapes", "unknown-key", "duplicate", "reserved"],
)
def test_malformed_aois(entries: object, expected: str) -> None:
    with pytest.raises(FileFormatError, match=expected):
        parse_aois(entries, "markers file m.yaml, marker 'poster'")


def test_resolve_checks_against_the_picture() -> None:
    library = {"poster": parse_aois([TITLE], "lib")}
    resolved = resolve_aois(SIZES, library)
    assert [a.name for a in resolved["poster"]] == [WHOLE, "title"]
    assert [a.name for a in resolved["book"]] == [WHOLE]
    np.testing.assert_array_equal(resolved["book"][0].vertices[2], [199.5, 199.5])
    # The AOI file replaces the library's list for the markers it names.
    override = {"poster": parse_aois([{"name": "photo", "rect": [0, 0, 10, 10]}], "file")}
    assert [a.name for a in resolve_aois(SIZES, library, override)["poster"]] == [WHOLE, "photo"]


@pytest.mark.parametrize(
    ("aoi", "expected"),
    [
        ({"name": "wide", "polygon": [[20, 15], [420, 15], [380, 90]]}, r"vertex \(420, 15\) outside the 400x300"),
        ({"name": "bow", "polygon": [[0, 0], [100, 100], [100, 0], [0, 100]]}, "crosses itself"),
        ({"name": "flat", "polygon": [[0, 0], [50, 0], [100, 0]]}, "crosses itself|no area"),
    ],
    ids=["outside", "self-crossing", "degenerate"],
)
def test_bad_polygons_are_refused(aoi: dict, expected: str) -> None:
    with pytest.raises(FileFormatError, match=expected):
        resolve_aois(SIZES, {}, {"poster": parse_aois([aoi], "f")}, "AOI file a.yaml")


def test_unknown_marker_in_the_aoi_file() -> None:
    with pytest.raises(FileFormatError, match="names marker 'poser', which the marker library lacks"):
        resolve_aois(SIZES, {}, {"poser": parse_aois([TITLE], "f")}, "AOI file a.yaml")


def test_self_crossing() -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    assert self_crossing(square) is None
    assert self_crossing(square[[0, 2, 1, 3]]) == (0, 2)
    concave = np.array([[0, 0], [10, 0], [10, 10], [5, 3], [0, 10]], float)
    assert self_crossing(concave) is None


def test_hit_test_with_a_margin() -> None:
    aoi = Aoi(name="box", rect=(10, 10, 20, 20))
    points = np.array([[20, 20], [31, 20], [35, 20], [np.nan, 20], [10, 10]])
    np.testing.assert_array_equal(hit_test(points, aoi), [True, False, False, False, True])
    np.testing.assert_array_equal(hit_test(points, aoi, 2.0), [True, True, False, False, True])
    np.testing.assert_array_equal(hit_test(points, aoi, np.array([0, 0, 6, 6, 0])), [True, False, True, False, True])


def test_files_round_trip(tmp_path: Path) -> None:
    aois = {"poster": [Aoi(name=WHOLE, rect=(0, 0, 1, 1)), *parse_aois([TITLE], "t")]}
    write_aoi_file(tmp_path / "aois.yaml", aois)
    loaded = load_aoi_file(tmp_path / "aois.yaml")
    assert [a.name for a in loaded["poster"]] == ["title"]
    np.testing.assert_array_equal(loaded["poster"][0].vertices, aois["poster"][1].vertices)
    (tmp_path / "bad.yaml").write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="expected a mapping of marker id"):
        load_aoi_file(tmp_path / "bad.yaml")
