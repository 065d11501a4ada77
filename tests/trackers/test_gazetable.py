"""The gaze table: written with TableWriter, read back sample for sample, tolerant of a cut tail."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gazefusion.fusion.errors import FileFormatError
from gazefusion.fusion.tables import TableWriter
from gazefusion.trackers.base import binocular_sample, eye_gaze, monocular_sample
from gazefusion.trackers.gazetable import GAZE_COLUMNS, read_gaze_table, sample_to_row
from gazefusion.trackers.types import GazeSample

SAMPLES = [
    binocular_sample(10.001, 1.0, eye_gaze(100.25, 200.5, 3.1), eye_gaze(104.25, 202.5, 3.3)),
    binocular_sample(10.003, 1.002, eye_gaze(math.nan, math.nan), eye_gaze(-5.5, 1200.0, 3.0)),
    binocular_sample(10.005, 1.004, eye_gaze(math.nan, math.nan), eye_gaze(math.nan, math.nan)),
    monocular_sample(10.007, 1.006, "l", eye_gaze(1 / 3, 2 / 3, 4.0)),
    monocular_sample(10.009, 1.008, "r", eye_gaze(math.nan, math.nan)),
    monocular_sample(10.011, 1.010, "r", eye_gaze(0.0, 0.0, 0.0)),  # the top-left corner, pupil 0: not lost
]


def _same(a: GazeSample, b: GazeSample) -> bool:
    return repr(a) == repr(b)  # nan-aware, exact floats


def test_columns() -> None:
    assert GAZE_COLUMNS == (
        "t",
        "tracker_t",
        "x",
        "y",
        "valid",
        "pupil",
        "eye",
        "left_x",
        "left_y",
        "left_pupil",
        "right_x",
        "right_y",
        "right_pupil",
    )


def test_round_trip_sample_for_sample(tmp_path: Path) -> None:
    path = tmp_path / "gaze.tsv"
    with TableWriter(path, GAZE_COLUMNS) as writer:
        for sample in SAMPLES:
            writer.write(sample_to_row(sample))
    back = list(read_gaze_table(path))
    assert len(back) == len(SAMPLES)
    for a, b in zip(SAMPLES, back):
        assert _same(a, b)


def test_truncated_tail_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "gaze.tsv"
    with TableWriter(path, GAZE_COLUMNS) as writer:
        for sample in SAMPLES:
            writer.write(sample_to_row(sample))
    text = path.read_text()
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 12])
    assert len(list(read_gaze_table(path))) == len(SAMPLES) - 1


def test_minimal_table_t_x_y(tmp_path: Path) -> None:
    path = tmp_path / "lund.tsv"
    path.write_text("t\tx\ty\tlabel_mn\n0.0\t10\t20\t1\n0.002\tnan\tnan\t5\n")
    first, second = read_gaze_table(path)
    assert (first.tracker_t, first.x, first.y, first.valid) == (0.0, 10.0, 20.0, True)
    assert second.valid is False and math.isnan(second.x)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("t\tx\n0\t1\n", "lacks the column(s) y"),
        ("t\tx\ty\n0\tabc\t1\n", "column x: 'abc' is not a number"),
        ("t\tx\ty\tvalid\n0\t1\t1\tyes\n", "column valid"),
        ("t\tx\ty\teye\n0\t1\t1\tboth\n", "column eye"),
    ],
    ids=["missing-column", "not-a-number", "bad-valid", "bad-eye"],
)
def test_bad_tables(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        list(read_gaze_table(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="file not found"):
        list(read_gaze_table(tmp_path / "nope.tsv"))
