"""Gaze samples and fixations joined with the markers found in the frames nearest in time.

:class:`GazeOnMarkers` is fed in the order the fusion core is fed (samples, frames, the
core's searched frames, fixation ends) and returns rows as they become final:

- a valid gaze sample joins the frame nearest to it in time (the later one on a tie, none
  farther than ``max_gap_s``), and is mapped onto every marker found in that frame
  (:class:`GazeOnMarker`);
- a fixation, once all its samples are joined, gets one row per marker its samples were
  mapped onto: their mean position (:class:`FixationOnMarker`).

A frame's markers are final once it has left the core's ring of recent frames (the core
searches the nearest ring frame when a fixation starts, so a frame may be searched after it
was fed): rows come about ``ring_frames`` frames late (a second at 30 fps). Fed the same
inputs, live or from a recording, in one go or with every search known in advance, it gives
the same rows.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.analysis.mapping import MarkerShape, local_scale, map_points, on_picture
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import Fixation, FixationEvent, MarkerHit, SearchedFrame

#: Mapped sample rows are kept this long for the fixations still to end, s.
KEEP_ROWS_S = 2.0


class MarkerPoint(NamedTuple):
    """A gaze position on a marker.

    Attributes
    ----------
    marker : str
        The marker.
    u, v : float
        Position on the picture, 0-1 from its top-left edge.
    x_mm, y_mm : float
        Position on the printed marker from its top-left corner, mm.
    on_marker : bool
        Whether u and v lie within 0-1.
    gaze_m : tuple[float, float, float]
        Where the gaze ray meets the marker plane, camera frame, m.
    px_per_deg : float
        Picture px per degree of visual angle here (the local scale from the tracked
        screen through the camera onto the marker).
    """

    marker: str
    u: float
    v: float
    x_mm: float
    y_mm: float
    on_marker: bool
    gaze_m: tuple[float, float, float]
    px_per_deg: float


class GazeOnMarker(NamedTuple):
    """One gaze sample mapped onto one marker found in its frame (a row of gaze_on_markers.tsv).

    Attributes
    ----------
    t : float
        The sample's time on the detector's clock (that of fixations.tsv), s.
    frame_index : int
        The frame it was joined with.
    cam_x, cam_y : float
        The gaze in camera px.
    point : MarkerPoint
        Where it lies on the marker.
    """

    t: float
    frame_index: int
    cam_x: float
    cam_y: float
    point: MarkerPoint


class FixationOnMarker(NamedTuple):
    """One fixation's mean position on one marker (a row of fixations_on_markers.tsv).

    Attributes
    ----------
    fixation : Fixation
        The fixation (id, onset, offset, duration).
    n_samples : int
        Samples of the fixation mapped onto this marker.
    point : MarkerPoint
        The mean of those samples' positions (3D point and scale averaged too).
    """

    fixation: Fixation
    n_samples: int
    point: MarkerPoint


JoinRow = GazeOnMarker | FixationOnMarker


def _point(
    marker: str, uv: np.ndarray, mm: np.ndarray, on_marker: object, point_m: np.ndarray, px_per_deg: float
) -> MarkerPoint:
    return MarkerPoint(
        marker,
        float(uv[0]),
        float(uv[1]),
        float(mm[0]),
        float(mm[1]),
        bool(on_marker),
        (float(point_m[0]), float(point_m[1]), float(point_m[2])),
        float(px_per_deg),
    )


@dataclass
class _Slot:
    """A frame fed, its markers, and the samples joined with it."""

    index: int
    t: float
    order: int
    hits: dict[str, MarkerHit] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None
    samples: list[tuple[float, float, float]] = field(default_factory=list)


class GazeOnMarkers:
    """Join gaze samples and fixations with the markers of the frames nearest in time.

    Parameters
    ----------
    shapes : Mapping[str, MarkerShape]
        Picture size and width of every marker of the library.
    intrinsics_for : callable
        ``(width, height) -> CameraIntrinsics``: the camera the hits' poses were estimated with.
    calibrated : bool
        Whether those intrinsics are a calibration (else gaze maps in distorted px).
    geometry : ScreenGeometry
        The tracked screen (degrees of visual angle).
    to_camera : callable
        ``(N, 2) tracker px -> (N, 2) camera px`` (the tracker-to-camera mapping in use).
    ring_frames : int
        Frames after which a frame is no longer searched (the core's ring). (default: 32)
    max_gap_s : float
        A sample joins no frame farther than this in time, s. (default: 0.1)
    """

    def __init__(
        self,
        shapes: Mapping[str, MarkerShape],
        intrinsics_for: Callable[[tuple[int, int]], CameraIntrinsics],
        calibrated: bool,
        geometry: ScreenGeometry,
        to_camera: Callable[[np.ndarray], np.ndarray],
        ring_frames: int = 32,
        max_gap_s: float = 0.1,
    ) -> None:
        self.shapes = dict(shapes)
        self.intrinsics_for = intrinsics_for
        self.calibrated = calibrated
        self.geometry = geometry
        self.to_camera = to_camera
        self.ring_frames = int(ring_frames)
        self.max_gap_s = float(max_gap_s)
        self._slots: deque[_Slot] = deque()
        self._waiting: deque[tuple[float, float, float]] = deque()
        self._frames_fed = 0
        self._final_t = -math.inf
        self._pending: list[Fixation] = []
        self._active_onset = math.inf
        self._rows: deque[tuple[float, str, np.ndarray, np.ndarray, float]] = deque()

    # --- inputs ------------------------------------------------------------------------------

    def sample(self, t: float, x_px: float, y_px: float, valid: bool) -> None:
        """A gaze sample (tracker px) at `t` on the detector's clock; invalid ones give no rows."""
        if valid and math.isfinite(x_px) and math.isfinite(y_px) and math.isfinite(t):
            self._waiting.append((t, x_px, y_px))

    def frame(self, index: int, t: float) -> list[JoinRow]:
        """A frame fed to the core; returns the rows it made final."""
        slot = _Slot(index, t, self._frames_fed)
        self._frames_fed += 1
        previous = self._slots[-1] if self._slots else None
        while self._waiting and self._waiting[0][0] <= t:
            sample = self._waiting.popleft()
            nearest = slot
            if previous is not None and sample[0] - previous.t < t - sample[0]:
                nearest = previous
            if abs(nearest.t - sample[0]) <= self.max_gap_s:
                nearest.samples.append(sample)
        self._slots.append(slot)
        rows: list[JoinRow] = []
        while self._slots and self._slots[0].order <= self._frames_fed - 1 - self.ring_frames:
            rows.extend(self._finalise(self._slots.popleft()))
        rows.extend(self._fixation_rows())
        return rows

    def searched(self, found: SearchedFrame) -> None:
        """The markers the core found in a frame it was fed (the first hit of a marker is kept)."""
        for slot in reversed(self._slots):
            if slot.index == found.frame_index:
                slot.image_size = found.image_size
                for hit in found.hits:
                    slot.hits.setdefault(hit.marker_id, hit)
                return

    def fixation_start(self, fixation: Fixation) -> None:
        """A fixation began: its samples' rows are kept until it ends."""
        self._active_onset = fixation.onset

    def fixation_end(self, fixation: Fixation) -> list[JoinRow]:
        """A fixation ended; returns the rows that became final."""
        self._pending.append(fixation)
        self._active_onset = math.inf
        return self._fixation_rows()

    def finish(self) -> list[JoinRow]:
        """End of input: every frame is final, every fixation row is given."""
        rows: list[JoinRow] = []
        previous = self._slots[-1] if self._slots else None
        while self._waiting:
            sample = self._waiting.popleft()
            if previous is not None and abs(sample[0] - previous.t) <= self.max_gap_s:
                previous.samples.append(sample)
        while self._slots:
            rows.extend(self._finalise(self._slots.popleft()))
        self._final_t = math.inf
        rows.extend(self._fixation_rows())
        return rows

    def feed(self, items: Iterable[object]) -> list[JoinRow]:
        """Route fusion-core outputs: searched frames, fixation starts, ends and cancels (others ignored)."""
        rows: list[JoinRow] = []
        for item in items:
            if isinstance(item, SearchedFrame):
                self.searched(item)
            elif isinstance(item, FixationEvent):
                if item.kind == "start":
                    self.fixation_start(item.fixation)
                elif item.kind == "end":
                    rows.extend(self.fixation_end(item.fixation))
                elif item.kind == "cancel":  # not a fixation after all (a pursuit's start): no row
                    self._active_onset = math.inf
        return rows

    # --- rows ----------------------------------------------------------------------------------

    def _finalise(self, slot: _Slot) -> list[GazeOnMarker]:
        self._final_t = slot.t
        if not slot.samples or not slot.hits or slot.image_size is None:
            return []
        samples = np.asarray(slot.samples, np.float64)
        times, tracker = samples[:, 0], samples[:, 1:]
        # Each sample and the same sample a degree to the right and a degree down, in camera px.
        ax, ay = self.geometry.to_degrees(tracker[:, 0], tracker[:, 1])
        sx, sy = self.geometry.to_pixels(np.concatenate([ax, ax + 1.0, ax]), np.concatenate([ay, ay, ay + 1.0]))
        camera = self.to_camera(np.column_stack([sx, sy]))
        count = len(samples)
        intrinsics = self.intrinsics_for(slot.image_size)
        rows: list[GazeOnMarker] = []
        for marker, hit in slot.hits.items():
            shape = self.shapes.get(marker)
            if shape is None:
                continue
            mapped = map_points(camera, hit, shape, intrinsics, self.calibrated)
            picture = mapped.picture_px
            scale = local_scale(picture[:count], picture[count : 2 * count], picture[2 * count :])
            for i in range(count):
                point = mapped.point_m[i]
                position = _point(marker, mapped.uv[i], mapped.mm[i], mapped.on_marker[i], point, scale[i])
                rows.append(
                    GazeOnMarker(float(times[i]), slot.index, float(camera[i, 0]), float(camera[i, 1]), position)
                )
                self._rows.append((float(times[i]), marker, picture[i], point, float(scale[i])))
        rows.sort(key=lambda row: row.t)
        return rows

    def _fixation_rows(self) -> list[JoinRow]:
        """Rows of the ended fixations whose samples are all final; old sample rows dropped."""
        rows: list[JoinRow] = []
        remaining = []
        for fixation in self._pending:
            if fixation.offset < self._final_t:
                rows.extend(self._aggregate(fixation))
            else:
                remaining.append(fixation)
        self._pending = remaining
        floor = min([f.onset for f in remaining] + [self._active_onset, self._final_t - KEEP_ROWS_S])
        while self._rows and self._rows[0][0] < floor:
            self._rows.popleft()
        return rows

    def _aggregate(self, fixation: Fixation) -> list[FixationOnMarker]:
        inside = [row for row in self._rows if fixation.onset <= row[0] <= fixation.offset]
        order: list[str] = []
        for _, marker, *_ in inside:
            if marker not in order:
                order.append(marker)
        rows = []
        for marker in order:
            mine = [row for row in inside if row[1] == marker and np.all(np.isfinite(row[2]))]
            if not mine:
                continue
            picture = np.mean([row[2] for row in mine], axis=0).reshape(1, 2)
            point = np.mean([row[3] for row in mine], axis=0)
            scales = [row[4] for row in mine if math.isfinite(row[4])]
            uv, mm, on_marker = on_picture(picture, self.shapes[marker])
            scale = float(np.mean(scales)) if scales else math.nan
            rows.append(FixationOnMarker(fixation, len(mine), _point(marker, uv[0], mm[0], on_marker[0], point, scale)))
        rows.sort(key=lambda row: -row.n_samples)
        return rows
