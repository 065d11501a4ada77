"""The session's tables, declared: each names its file, its columns with units, and the record type it takes.

A table is one declaration: the row function registered with :func:`table` for the type of
record it takes. The recorder writes every record it is given to every table declared for
the record's type, beside its JSON sidecar (BIDS style: each column's description and unit,
written when the table is created), and :data:`EVENTS` turns records into ``events.jsonl``
lines the same way. Adding a table is one more declaration::

    @table("gaze_on_markers.tsv", GazeOnMarker, "Gaze mapped onto the marker it fell on.",
           [Column("t", "Host time of the sample", "s"), ...])
    def gaze_on_marker_row(record: GazeOnMarker) -> Row:
        return {"t": record.t, ...}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gazefusion.fusion.analysis.join import FixationOnMarker, GazeOnMarker, MarkerPoint
from gazefusion.fusion.camera.recorded import FRAME_COLUMNS
from gazefusion.fusion.core import LookEvent
from gazefusion.fusion.files import write_bytes_atomic
from gazefusion.fusion.types import (
    CameraEvent,
    Fixation,
    FixationEvent,
    Frame,
    LslMarker,
    Mark,
    Movement,
    MovementEvent,
    SearchedFrame,
)
from gazefusion.trackers.gazetable import GAZE_COLUMNS, sample_to_row
from gazefusion.trackers.types import GazeSample, TrackerEvent

Row = Sequence[Any] | dict[str, Any]
"""A table row: cells in column order, or a mapping of column to cell (missing columns stay empty)."""


class Column(NamedTuple):
    """One column of a table, as its sidecar describes it.

    Attributes
    ----------
    name : str
        The header.
    description : str
        What the column holds.
    unit : str
        Its unit (BIDS ``Units``); "" for none.
    """

    name: str
    description: str
    unit: str = ""


class Table(NamedTuple):
    """A session table.

    Attributes
    ----------
    file : str
        Its file name in the session folder (``*.tsv``; the sidecar is ``*.json``).
    record_type : type
        The record it takes.
    description : str
        What one row is.
    columns : tuple of Column
        The columns, in order.
    row : callable or None
        record -> a :data:`Row`, or None where the record belongs in no row (a fixation's start);
        None for a table its own recorder method writes (frames.tsv).
    media : bool
        Written only by live runs (the replay of a session writes the derived tables only).
    many : bool
        The row function returns a list of rows (one record, several rows: the markers found
        in a frame). (default: False)
    """

    file: str
    record_type: type
    description: str
    columns: tuple[Column, ...]
    row: Callable[[Any], Row | None] | None
    media: bool
    many: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(column.name for column in self.columns)

    @property
    def sidecar(self) -> str:
        """The sidecar's file name."""
        return Path(self.file).with_suffix(".json").name

    def sidecar_data(self) -> dict[str, Any]:
        """The sidecar's content: the table's description, then each column's description and unit."""
        data: dict[str, Any] = {"Description": self.description}
        for column in self.columns:
            data[column.name] = {"Description": column.description} | ({"Units": column.unit} if column.unit else {})
        return data

    def write_sidecar(self, folder: Path) -> None:
        """Write the sidecar beside the table (atomically)."""
        text = json.dumps(self.sidecar_data(), indent=2, ensure_ascii=False) + "\n"
        write_bytes_atomic(folder / self.sidecar, text.encode("utf-8"))


TABLES: dict[str, Table] = {}
"""The declared tables by file name, in declaration order."""


def table(
    file: str,
    record_type: type,
    description: str,
    columns: Sequence[Column],
    media: bool = False,
    many: bool = False,
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Declare a table: the decorated function turns one record of `record_type` into its row.

    Parameters
    ----------
    file : str
        The table's file name in the session folder.
    record_type : type
        The record it takes.
    description : str
        What one row is (the sidecar's ``Description``).
    columns : Sequence of Column
        Its columns, in order.
    media : bool
        Written by live runs only. (default: False)
    many : bool
        The function returns a list of rows. (default: False)
    """

    def declare(row: Callable[[Any], Any]) -> Callable[[Any], Any]:
        TABLES[file] = Table(file, record_type, description, tuple(columns), row, media, many)
        return row

    return declare


def tables_for(record_type: type) -> list[Table]:
    """The tables that take records of `record_type` (or of a base class of it)."""
    return [spec for spec in TABLES.values() if spec.row is not None and issubclass(record_type, spec.record_type)]


EVENTS: dict[type, Callable[[Any], dict[str, Any]]] = {}
"""How each record type becomes an events.jsonl record (a dict with ``kind`` and ``t``)."""


def event(record_type: type) -> Callable[[Callable[[Any], dict[str, Any]]], Callable[[Any], dict[str, Any]]]:
    """Declare how records of `record_type` go into events.jsonl."""

    def declare(to_record: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        EVENTS[record_type] = to_record
        return to_record

    return declare


# --- the tables every session has ------------------------------------------------------------

_EYES = ("left", "right")
_GAZE_DOCS: dict[str, tuple[str, str]] = {
    "t": ("Host monotonic time at the sample's arrival", "s"),
    "tracker_t": ("The tracker's own clock", "s"),
    "x": ("Gaze, tracked screen, origin top-left (combined over both eyes); empty or nan when not valid", "px"),
    "y": ("Gaze, tracked screen, y down", "px"),
    "valid": ("1 where x, y is a gaze position, 0 for lost tracking", ""),
    "pupil": ("Pupil diameter, mean of the valid eyes, in the tracker's unit", ""),
    "eye": ("l, r or b (binocular)", ""),
    **{f"{eye}_x": (f"The {eye} eye's gaze x; empty for a monocular sample of the other eye", "px") for eye in _EYES},
    **{f"{eye}_y": (f"The {eye} eye's gaze y", "px") for eye in _EYES},
    **{f"{eye}_pupil": (f"The {eye} eye's pupil diameter, in the tracker's unit", "") for eye in _EYES},
}


@table(
    "gaze.tsv",
    GazeSample,
    "Every gaze sample fed to the core, in the order it was fed.",
    [Column(name, *_GAZE_DOCS[name]) for name in GAZE_COLUMNS],
    media=True,
)
def gaze_row(sample: GazeSample) -> Row:
    """A gaze sample's row."""
    return sample_to_row(sample)


_FRAME_DOCS: dict[str, tuple[str, str]] = {
    "index": ("The frame's running number from its source", ""),
    "t": ("Host monotonic time at arrival (the last byte received)", "s"),
    "t_source": ("The camera's own timestamp; nan where it gives none", "s"),
    "offset": ("Where the frame's JPEG starts in video.mjpeg", "bytes"),
    "size": ("The JPEG's length", "bytes"),
    "fed_after": ("Gaze rows fed to the core before this frame; -1 for a frame the core skipped", ""),
}
FRAMES = Table(
    "frames.tsv",
    Frame,
    "Every camera frame recorded into video.mjpeg (the JPEG as received, not re-encoded).",
    tuple(Column(name, *_FRAME_DOCS[name]) for name in FRAME_COLUMNS),
    None,
    True,
)
"""frames.tsv: written in step with video.mjpeg by the recorder's ``write_frame``, not by a row function."""
TABLES[FRAMES.file] = FRAMES


@table(
    "fixations.tsv",
    FixationEvent,
    "Every fixation, at its end.",
    [
        Column("id", "Running number from 1"),
        Column("onset", "First sample's time, on the clock of gaze.tsv's t", "s"),
        Column("offset", "Last sample's time", "s"),
        Column("duration", "offset - onset plus one sample interval", "s"),
        Column("x", "Centroid on the tracked screen", "px"),
        Column("y", "Centroid on the tracked screen", "px"),
        Column("cam_x", "Centroid mapped into the camera image; nan before the first frame", "px"),
        Column("cam_y", "Centroid mapped into the camera image", "px"),
        Column("dispersion_deg", "Spatial extent, the larger of the two axes' ranges", "deg"),
        Column("n_samples", "Valid samples in the fixation"),
    ],
)
def fixation_row(event: FixationEvent) -> Row | None:
    """A fixation's row at its end event; None for its start and updates."""
    return fixation_cells(event.fixation) if event.kind == "end" else None


def fixation_cells(f: Fixation) -> list[Any]:
    """A fixation's cells in the fixations table's column order."""
    return [f.id, f.onset, f.offset, f.duration, f.x, f.y, f.cam_x, f.cam_y, f.dispersion_deg, f.n_samples]


@table(
    "looks.tsv",
    LookEvent,
    "Every look: a fixation joined with the marker it fell on (first, change and end looks, see the core).",
    [
        Column("fixation_id", "The fixation"),
        Column("t", "Host time of the frame the look was found in", "s"),
        Column("marker", "The marker's id; empty for a look at nothing"),
        Column("x_m", "Marker centre in the camera frame, x right", "m"),
        Column("y_m", "Marker centre in the camera frame, y down", "m"),
        Column("z_m", "Marker centre in the camera frame, z forward", "m"),
        Column("distance_m", "Distance of the marker centre from the camera", "m"),
        Column("rx", "Rodrigues vector of the marker frame in the camera frame, x", "rad"),
        Column("ry", "Rodrigues vector, y", "rad"),
        Column("rz", "Rodrigues vector, z", "rad"),
        Column("inliers", "Feature correspondences consistent with the homography"),
        Column("kind", "first, change or end; pursuit for the summary of a pursuit's frames"),
        Column("frame_index", "The frame's index"),
        Column("reprojection_px", "RMS reprojection error of the inliers under the pose", "px"),
        Column("pose_ambiguous", "1 where the planar pose had two near-equal solutions (tilt uncertain)"),
        Column("contains_gaze", "1 where the fixation's centre lies inside the marker's outline"),
        Column("cam_x", "The fixation's centroid in the camera image", "px"),
        Column("cam_y", "The fixation's centroid in the camera image", "px"),
        Column("aoi_x", "The AOI box's left edge in the camera image", "px"),
        Column("aoi_y", "The AOI box's top edge", "px"),
        Column("aoi_w", "The AOI box's width; 0 where there was none", "px"),
        Column("aoi_h", "The AOI box's height", "px"),
        Column("frames_searched", "Frames of this fixation searched so far"),
        Column("frames_on_marker", "Of those, frames on which this look's marker was found"),
        Column("pursuit_id", "The pursuit of a pursuit look (its fixation_id is then empty)"),
    ],
)
def look_row(event: LookEvent) -> Row:
    """A look's row (pose columns empty for a look at nothing; a pursuit's look names its pursuit)."""
    look = event.look
    pursuit = event.kind == "pursuit"
    row: dict[str, Any] = {
        "fixation_id": "" if pursuit else look.fixation.id,
        "pursuit_id": look.fixation.id if pursuit else "",
        "t": look.t,
        "marker": "",
        "kind": event.kind,
        "frame_index": look.frame_index,
        "cam_x": look.fixation.cam_x,
        "cam_y": look.fixation.cam_y,
        "aoi_x": look.aoi[0],
        "aoi_y": look.aoi[1],
        "aoi_w": look.aoi[2],
        "aoi_h": look.aoi[3],
        "frames_searched": event.frames_searched,
        "frames_on_marker": event.frames_on_marker,
    }
    hit = look.hit
    if hit is not None:
        x, y, z = (float(v) for v in np.asarray(hit.position_m, dtype=float).ravel()[:3])
        rx, ry, rz = (float(v) for v in np.asarray(hit.rotation, dtype=float).ravel()[:3])
        row.update(
            marker=hit.marker_id,
            x_m=x,
            y_m=y,
            z_m=z,
            distance_m=float(hit.distance_m),
            rx=rx,
            ry=ry,
            rz=rz,
            inliers=int(hit.inliers),
            reprojection_px=float(hit.reprojection_error_px),
            pose_ambiguous=bool(hit.pose_ambiguous),
            contains_gaze=bool(hit.contains_gaze),
        )
    return row


PURSUIT_COLUMNS: tuple[Column, ...] = (
    Column("id", "Running number from 1"),
    Column("onset", "First sample's time, on the clock of gaze.tsv's t", "s"),
    Column("offset", "Last sample's time", "s"),
    Column("duration", "offset - onset plus one sample interval", "s"),
    Column("start_x", "Gaze at the first sample, tracked screen", "px"),
    Column("start_y", "Gaze at the first sample, tracked screen", "px"),
    Column("end_x", "Gaze at the last sample, tracked screen", "px"),
    Column("end_y", "Gaze at the last sample, tracked screen", "px"),
    Column("amplitude_deg", "Distance from the start to the end position", "deg"),
    Column("mean_velocity_deg_s", "Mean sample velocity", "deg/s"),
    Column("peak_velocity_deg_s", "Largest sample velocity", "deg/s"),
    Column("direction_deg", "Direction from start to end, counter-clockwise from rightward (90 = up)", "deg"),
    Column("n_samples", "Gaze samples in the pursuit"),
)


@table("pursuits.tsv", MovementEvent, "Every smooth pursuit, at its end (detector ivdt).", PURSUIT_COLUMNS)
def pursuit_row(event: MovementEvent) -> Row | None:
    """A pursuit's row at its end event; None for other movements and for starts and updates."""
    if event.kind != "end" or event.movement.kind != "pursuit":
        return None
    return _movement_fields(event.movement)


def _movement_fields(movement: Movement) -> dict[str, Any]:
    return {column.name: getattr(movement, column.name) for column in PURSUIT_COLUMNS}


# --- gaze on the markers (fusion.analysis.join) ---------------------------------------------------

_POINT = (
    Column("marker", "The marker's id in the marker library"),
    Column(
        "u", "Position on the marker picture, 0 at its left edge, 1 at its right edge (outside 0-1: off the marker)"
    ),
    Column(
        "v", "Position on the marker picture, 0 at its top edge, 1 at its bottom edge (outside 0-1: off the marker)"
    ),
    Column("x_mm", "Position on the printed marker from its left edge (u times the printed width)", "mm"),
    Column("y_mm", "Position on the printed marker from its top edge (v times the printed height)", "mm"),
    Column("on_marker", "1 where u and v both lie within 0-1, else 0"),
    *(
        Column(f"gaze_{axis}_m", f"{axis} of the point where the gaze ray meets the marker plane, camera frame", "m")
        for axis in "xyz"
    ),
    Column(
        "px_per_deg",
        "Marker picture px per degree of visual angle here (the local scale from the tracked screen through the "
        "tracker-to-camera mapping and the marker's pose)",
        "px/deg",
    ),
)


def _point_cells(point: MarkerPoint) -> dict[str, Any]:
    x, y, z = point.gaze_m
    return {
        "marker": point.marker,
        "u": point.u,
        "v": point.v,
        "x_mm": point.x_mm,
        "y_mm": point.y_mm,
        "on_marker": point.on_marker,
        "gaze_x_m": x,
        "gaze_y_m": y,
        "gaze_z_m": z,
        "px_per_deg": point.px_per_deg,
    }


@table(
    "gaze_on_markers.tsv",
    GazeOnMarker,
    "One valid gaze sample mapped onto one marker found in the frame nearest in time to it (a sample in a frame "
    "holding two markers has two rows).",
    [
        Column("t", "The sample's time on the fixation detector's clock (that of fixations.tsv)", "s"),
        Column("frame_index", "The frame the sample was joined with (frames.tsv index)"),
        *_POINT,
        Column("cam_x", "The gaze in the camera image, origin top-left, x right", "px"),
        Column("cam_y", "The gaze in the camera image, y down", "px"),
    ],
)
def gaze_on_marker_row(row: GazeOnMarker) -> Row:
    """A gaze sample on a marker."""
    return {
        "t": row.t,
        "frame_index": row.frame_index,
        "cam_x": row.cam_x,
        "cam_y": row.cam_y,
        **_point_cells(row.point),
    }


@table(
    "fixations_on_markers.tsv",
    FixationOnMarker,
    "One fixation on one marker found during it: the mean position of its samples mapped onto that marker.",
    [
        Column("fixation_id", "The fixation (fixations.tsv id)"),
        Column("onset", "The fixation's first sample time (fixations.tsv onset)", "s"),
        Column("offset", "The fixation's last sample time", "s"),
        Column("duration", "The fixation's duration (fixations.tsv duration)", "s"),
        *_POINT,
        Column("n_samples", "Samples of the fixation mapped onto this marker"),
    ],
)
def fixation_on_marker_row(row: FixationOnMarker) -> Row:
    """A fixation on a marker."""
    f = row.fixation
    cells = {"fixation_id": f.id, "onset": f.onset, "offset": f.offset, "duration": f.duration}
    return {**cells, "n_samples": row.n_samples, **_point_cells(row.point)}


_CORNERS = (("tl", "Top-left"), ("tr", "Top-right"), ("br", "Bottom-right"), ("bl", "Bottom-left"))


@table(
    "marker_positions.tsv",
    SearchedFrame,
    "One marker found in one searched frame: where it is in the frame and in 3D.",
    [
        Column("t", "The frame's host time (frames.tsv t)", "s"),
        Column("frame_index", "The frame (frames.tsv index)"),
        Column("marker", "The marker's id in the marker library"),
        *(Column(f"{c}_{a}", f"{name} corner of the marker in the frame", "px") for c, name in _CORNERS for a in "xy"),
        Column("x_m", "Marker centre in the camera frame, x right", "m"),
        Column("y_m", "Marker centre in the camera frame, y down", "m"),
        Column("z_m", "Marker centre in the camera frame, z forward", "m"),
        Column("rx", "Rodrigues vector of the marker frame in the camera frame, x", "rad"),
        Column("ry", "Rodrigues vector, y", "rad"),
        Column("rz", "Rodrigues vector, z", "rad"),
        Column("distance_m", "Distance of the marker centre from the camera", "m"),
        Column("inliers", "Feature correspondences consistent with the homography"),
        Column("reprojection_px", "RMS reprojection error of the inliers under the pose", "px"),
        Column("pose_ambiguous", "1 where the planar pose had two near-equal solutions (tilt uncertain)"),
        *(
            Column(f"h{r}{c}", f"Homography from marker picture px to frame px (as detected), row {r} column {c}")
            for r in range(3)
            for c in range(3)
        ),
    ],
    many=True,
)
def marker_position_rows(found: SearchedFrame) -> list[Row]:
    """One row per marker found in the frame."""
    rows: list[Row] = []
    for hit in found.hits:
        corners = np.asarray(hit.corners, np.float64).reshape(4, 2)
        x, y, z = (float(v) for v in np.asarray(hit.position_m, np.float64).reshape(3))
        rx, ry, rz = (float(v) for v in np.asarray(hit.rotation, np.float64).reshape(3))
        row: dict[str, Any] = {"t": found.t, "frame_index": found.frame_index, "marker": hit.marker_id}
        for (corner, _), (cx, cy) in zip(_CORNERS, corners):
            row[f"{corner}_x"], row[f"{corner}_y"] = float(cx), float(cy)
        row.update(x_m=x, y_m=y, z_m=z, rx=rx, ry=ry, rz=rz, distance_m=float(hit.distance_m))
        row.update(
            inliers=int(hit.inliers),
            reprojection_px=float(hit.reprojection_error_px),
            pose_ambiguous=bool(hit.pose_ambiguous),
        )
        for (r, c), value in np.ndenumerate(np.asarray(hit.homography, np.float64).reshape(3, 3)):
            row[f"h{r}{c}"] = float(value)
        rows.append(row)
    return rows


# --- events.jsonl ------------------------------------------------------------------------------


@event(MovementEvent)
def movement_record(item: MovementEvent) -> dict[str, Any]:
    """``pursuit_start``, ``pursuit_update``, ``pursuit_end``, ``saccade_end``, ``pso_end``, ``blink_end``."""
    return {"kind": f"{item.movement.kind}_{item.kind}", "t": item.t, **_movement_fields(item.movement)}


@event(LookEvent)
def look_record(item: LookEvent) -> dict[str, Any]:
    """``look_first``, ``look_change`` or ``look_end``, with the look's columns."""
    row = look_row(item)
    assert isinstance(row, dict)
    fields = {k: v for k, v in row.items() if k not in ("t", "kind") and v != ""}
    return {"kind": f"look_{item.kind}", "t": item.look.t, **fields}


@event(FixationEvent)
def fixation_record(item: FixationEvent) -> dict[str, Any]:
    """``fixation_start``, ``fixation_update``, ``fixation_end`` or ``fixation_cancel``, with the fixation as known then."""
    f = item.fixation
    return {
        "kind": f"fixation_{item.kind}",
        "t": item.t,
        "id": f.id,
        "onset": f.onset,
        "offset": f.offset,
        "x": f.x,
        "y": f.y,
        "cam_x": f.cam_x,
        "cam_y": f.cam_y,
        "dispersion_deg": f.dispersion_deg,
        "n_samples": f.n_samples,
    }


@event(TrackerEvent)
def tracker_record(item: TrackerEvent) -> dict[str, Any]:
    """``tracker_<kind>`` with the event's fields, and the line as received."""
    record: dict[str, Any] = {"kind": f"tracker_{item.kind}", "t": item.t, **dict(item.data)}
    if item.raw:
        record["raw"] = item.raw
    return record


@event(CameraEvent)
def camera_record(item: CameraEvent) -> dict[str, Any]:
    """``camera_outage``, ``camera_reconnect``, ``camera_stale`` or ``camera_end``, with why."""
    return {"kind": f"camera_{item.kind}", "t": item.t, "text": item.text}


@event(Mark)
def mark_record(item: Mark) -> dict[str, Any]:
    """``mark``, ``trial_start`` or ``trial_end``, with the text."""
    return {"kind": item.kind, "t": item.t, "text": item.text}


@event(LslMarker)
def lsl_marker_record(item: LslMarker) -> dict[str, Any]:
    """``lsl_marker``: a marker from another program's LSL stream, with its LSL time and stream."""
    return {"kind": "lsl_marker", "t": item.t, "lsl_t": item.lsl_t, "text": item.text, "stream": item.stream}
