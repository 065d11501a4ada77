"""The tables of gaze on markers, declared: columns with descriptions and units, and their rows.

Three session tables, written live by the recorder and by replay (each with its JSON
sidecar): `GAZE_ON_MARKERS`, `FIXATIONS_ON_MARKERS`, `MARKER_POSITIONS`; and the metrics
table `AOI_METRICS` of ``gazefusion metrics``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gazefusion.fusion.analysis.join import FixationOnMarker, GazeOnMarker, MarkerPoint
from gazefusion.fusion.tables import Column, TableSpec
from gazefusion.fusion.types import SearchedFrame

_U = Column(
    "u",
    "Horizontal position on the marker picture: 0 at its left edge, 1 at its right edge (outside 0-1: off the marker)",
)
_V = Column(
    "v",
    "Vertical position on the marker picture: 0 at its top edge, 1 at its bottom edge (outside 0-1: off the marker)",
)
_X_MM = Column("x_mm", "Horizontal position on the printed marker from its left edge (u times the printed width)", "mm")
_Y_MM = Column("y_mm", "Vertical position on the printed marker from its top edge (v times the printed height)", "mm")
_ON = Column("on_marker", "1 where u and v both lie within 0-1, else 0", levels={"1": "on the marker", "0": "off it"})
_GAZE_M = tuple(
    Column(
        f"gaze_{axis}_m",
        f"{axis} of the point where the gaze ray meets the marker plane, camera frame (OpenCV: x right, y down, z forward)",
        "m",
    )
    for axis in "xyz"
)
_PX_PER_DEG = Column(
    "px_per_deg",
    "Marker picture px per degree of visual angle at this point (the local scale from the tracked screen through the "
    "tracker-to-camera mapping and the marker's homography)",
    "px/deg",
)
_MARKER = Column("marker", "The marker's id in the marker library")
_POINT = (_MARKER, _U, _V, _X_MM, _Y_MM, _ON, *_GAZE_M, _PX_PER_DEG)

GAZE_ON_MARKERS = TableSpec(
    "gaze_on_markers.tsv",
    "One valid gaze sample mapped onto one marker found in the frame nearest in time to it (a sample in a frame "
    "holding two markers has two rows)",
    (
        Column(
            "t", "The sample's time on the host clock as the fixation detector saw it (the clock of fixations.tsv)", "s"
        ),
        Column("frame_index", "The frame the sample was joined with (frames.tsv index)"),
        *_POINT,
        Column("cam_x", "The gaze in camera px, origin top-left, x right", "px"),
        Column("cam_y", "The gaze in camera px, origin top-left, y down", "px"),
    ),
)

FIXATIONS_ON_MARKERS = TableSpec(
    "fixations_on_markers.tsv",
    "One fixation on one marker found during it: the mean position of its samples mapped onto that marker",
    (
        Column("fixation_id", "The fixation's id (fixations.tsv id)"),
        Column("onset", "The fixation's first sample time (fixations.tsv onset)", "s"),
        Column("offset", "The fixation's last sample time (fixations.tsv offset)", "s"),
        Column("duration", "The fixation's duration (fixations.tsv duration)", "s"),
        *_POINT,
        Column("n_samples", "Samples of the fixation mapped onto this marker"),
    ),
)

_CORNERS = tuple(
    Column(f"{corner}_{axis}", f"{name} corner of the marker in the frame, camera px", "px")
    for corner, name in (("tl", "Top-left"), ("tr", "Top-right"), ("br", "Bottom-right"), ("bl", "Bottom-left"))
    for axis in "xy"
)

MARKER_POSITIONS = TableSpec(
    "marker_positions.tsv",
    "One marker found in one searched frame: where it is in the frame and in 3D",
    (
        Column("t", "The frame's host time (frames.tsv t)", "s"),
        Column("frame_index", "The frame (frames.tsv index)"),
        _MARKER,
        *_CORNERS,
        Column("x_m", "x of the marker centre, camera frame (OpenCV: x right)", "m"),
        Column("y_m", "y of the marker centre, camera frame (y down)", "m"),
        Column("z_m", "z of the marker centre, camera frame (z forward)", "m"),
        Column("rx", "Rodrigues rotation vector of the marker frame in the camera frame, x", "rad"),
        Column("ry", "Rodrigues rotation vector, y", "rad"),
        Column("rz", "Rodrigues rotation vector, z", "rad"),
        Column("distance_m", "Distance of the marker centre from the camera", "m"),
        Column("inliers", "Feature correspondences consistent with the marker's homography"),
        Column("reprojection_px", "RMS reprojection error of the inliers under the pose", "px"),
        Column("pose_ambiguous", "1 where the planar pose had two near-equal solutions (the tilt is uncertain)"),
        *(
            Column(
                f"h{row}{col}",
                f"Homography from picture px to frame px (as detected, distorted px), row {row} column {col}",
            )
            for row in range(3)
            for col in range(3)
        ),
    ),
)


def _point_cells(point: MarkerPoint) -> dict[str, Any]:
    return {
        "marker": point.marker,
        "u": point.u,
        "v": point.v,
        "x_mm": point.x_mm,
        "y_mm": point.y_mm,
        "on_marker": point.on_marker,
        "gaze_x_m": point.gaze_m[0],
        "gaze_y_m": point.gaze_m[1],
        "gaze_z_m": point.gaze_m[2],
        "px_per_deg": point.px_per_deg,
    }


def gaze_row(row: GazeOnMarker) -> dict[str, Any]:
    """A :class:`GazeOnMarker` as a row of `GAZE_ON_MARKERS`."""
    return {
        "t": row.t,
        "frame_index": row.frame_index,
        "cam_x": row.cam_x,
        "cam_y": row.cam_y,
        **_point_cells(row.point),
    }


def fixation_row(row: FixationOnMarker) -> dict[str, Any]:
    """A :class:`FixationOnMarker` as a row of `FIXATIONS_ON_MARKERS`."""
    fixation = row.fixation
    return {
        "fixation_id": fixation.id,
        "onset": fixation.onset,
        "offset": fixation.offset,
        "duration": fixation.duration,
        "n_samples": row.n_samples,
        **_point_cells(row.point),
    }


def marker_position_rows(found: SearchedFrame) -> list[dict[str, Any]]:
    """The rows of `MARKER_POSITIONS` of one searched frame."""
    rows = []
    for hit in found.hits:
        corners = np.asarray(hit.corners, np.float64).reshape(4, 2)
        position = np.asarray(hit.position_m, np.float64).reshape(3)
        rotation = np.asarray(hit.rotation, np.float64).reshape(3)
        homography = np.asarray(hit.homography, np.float64).reshape(3, 3)
        row: dict[str, Any] = {"t": found.t, "frame_index": found.frame_index, "marker": hit.marker_id}
        for (corner, axis), value in zip(((c, a) for c in ("tl", "tr", "br", "bl") for a in "xy"), corners.ravel()):
            row[f"{corner}_{axis}"] = float(value)
        row.update(
            x_m=float(position[0]),
            y_m=float(position[1]),
            z_m=float(position[2]),
            rx=float(rotation[0]),
            ry=float(rotation[1]),
            rz=float(rotation[2]),
            distance_m=float(hit.distance_m),
            inliers=int(hit.inliers),
            reprojection_px=float(hit.reprojection_error_px),
            pose_ambiguous=bool(hit.pose_ambiguous),
        )
        for (r, c), value in np.ndenumerate(homography):
            row[f"h{r}{c}"] = float(value)
        rows.append(row)
    return rows
