"""The gaze table (docs/formats/tables.md): one row per sample, tab-separated, streamed.

Columns: ``t, tracker_t, x, y, valid, pupil, eye, left_x, left_y, left_pupil, right_x,
right_y, right_pupil``. Per-eye columns are empty for a monocular sample, ``nan`` where that
eye was lost. Floats are written shortest round-trip, so a table read back gives the very
same samples. Reading needs only ``t, x, y`` (the Lund 2013 tables have just those plus
labels); missing columns take their meaning from the others.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gazefusion.fusion.errors import FileFormatError
from gazefusion.fusion.tables import TableReader, parse_float
from gazefusion.trackers.types import EyeGaze, GazeSample

GAZE_COLUMNS: tuple[str, ...] = (
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


def sample_to_row(sample: GazeSample) -> list[Any]:
    """One sample as a row in :data:`GAZE_COLUMNS` order (for ``TableWriter.write``)."""
    left, right = sample.left, sample.right
    return [
        sample.t,
        sample.tracker_t,
        sample.x,
        sample.y,
        sample.valid,
        sample.pupil,
        sample.eye,
        None if left is None else left.x,
        None if left is None else left.y,
        None if left is None else left.pupil,
        None if right is None else right.x,
        None if right is None else right.y,
        None if right is None else right.pupil,
    ]


def _eye(row: dict[str, str], side: str, where: str) -> EyeGaze | None:
    cells = [row.get(f"{side}_{name}", "") for name in ("x", "y", "pupil")]
    if not cells[0].strip() and not cells[1].strip():
        return None
    x, y, pupil = (parse_float(cell, f"{side}_{name}", where) for cell, name in zip(cells, ("x", "y", "pupil")))
    valid = math.isfinite(x) and math.isfinite(y)
    return EyeGaze(x, y, pupil, valid)


def _valid(text: str, x: float, y: float, where: str) -> bool:
    text = text.strip()
    if not text:
        return math.isfinite(x) and math.isfinite(y)
    if text in ("1", "True", "true"):
        return True
    if text in ("0", "False", "false"):
        return False
    raise FileFormatError(f"column valid: {text!r} is not 0 or 1 ({where})")


def read_gaze_table(path: str | Path) -> Iterator[GazeSample]:
    """Stream the samples of a gaze table, row by row.

    A cut-off last row (a run killed mid-write) is skipped, not an error.

    Parameters
    ----------
    path : str or pathlib.Path
        A gaze table; a session folder's ``gaze.tsv`` or any TSV with ``t, x, y``.

    Raises
    ------
    FileFormatError
        The file is missing, lacks ``t``, ``x`` or ``y``, or has a cell that is not a number.
    """
    reader = TableReader(path, required=("t", "x", "y"))
    name = Path(path).name
    has_tracker_t = "tracker_t" in reader.columns
    for number, row in enumerate(reader, start=2):
        where = f"{name} line {number}"
        t = parse_float(row["t"], "t", where)
        tracker_t = parse_float(row["tracker_t"], "tracker_t", where) if has_tracker_t else t
        x = parse_float(row["x"], "x", where)
        y = parse_float(row["y"], "y", where)
        valid = _valid(row.get("valid", ""), x, y, where)
        pupil = parse_float(row.get("pupil", ""), "pupil", where)
        eye = row.get("eye", "").strip() or "b"
        if eye not in ("l", "r", "b"):
            raise FileFormatError(f"column eye: {eye!r} is not l, r or b ({where})")
        yield GazeSample(
            t,
            tracker_t,
            x if valid else math.nan,
            y if valid else math.nan,
            valid,
            pupil,
            eye,
            _eye(row, "left", where),
            _eye(row, "right", where),
        )
