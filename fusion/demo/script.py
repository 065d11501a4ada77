"""The demo's eye: a gaze script that visits the scene's markers and looks away between some.

It is a :class:`~gazefusion.trackers.script.ScriptedGaze` (fixational noise and drift,
main-sequence saccades, blinks) over targets placed on the markers' centres, plus a small
time-varying correction so the gaze follows its marker while the camera sways. Target
positions go from camera px to tracker screen px through the inverse of the
tracker-to-camera mapping in use (the default: the camera image shown full-screen).

Clocks: the script is called with seconds since the start of streaming; the scene has its
own time since the MJPEG server's origin. With `origin_s` given (the host monotonic time of
scene time 0), the offset between the two is taken at the first call, so the scripted eye
and the rendered scene share one clock.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from typing import NamedTuple

import cv2
import numpy as np

from gazefusion.calibration.mapping import TrackerCameraMapping
from gazefusion.fusion.analysis.mapping import MarkerShape, map_points
from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import MarkerHit
from gazefusion.trackers.script import ScriptedGaze, Segment

SEGMENT_CACHE_S = 5.0


class Visit(NamedTuple):
    """One planned fixation of the demo's eye.

    Attributes
    ----------
    label : str or None
        The marker id looked at; None for a look away at empty background.
    camera_px : tuple[float, float]
        The target in camera px at the camera's rest pose.
    screen_px : tuple[float, float]
        The same target in tracker screen px.
    duration_s : float
        Planned fixation duration, s.
    """

    label: str | None
    camera_px: tuple[float, float]
    screen_px: tuple[float, float]
    duration_s: float


class TrueVisit(NamedTuple):
    """A fixation the script actually made (after blinks split some), as ground truth.

    Attributes
    ----------
    onset_s, offset_s : float
        Interval, s since the start of streaming.
    label : str or None
        Marker id, or None for a look away.
    u, v : float
        Where the eye really pointed on the marker, on average over the fixation: its gaze
        without the tracker's noise, through the scene's true marker pose, normalised to the
        picture (0-1 from its top-left edge); nan for a look away.
    """

    onset_s: float
    offset_s: float
    label: str | None
    u: float = math.nan
    v: float = math.nan


def screen_to_camera_inverse(mapping: TrackerCameraMapping) -> np.ndarray:
    """The homography from camera px to tracker screen px: the inverse of a homography mapping.

    Raises
    ------
    ValueError
        For a polynomial mapping (it has no closed-form inverse).
    """
    if mapping.kind != "homography":
        raise ValueError(f"the demo script needs a homography mapping, not {mapping.kind}")
    return np.linalg.inv(np.asarray(mapping.params, np.float64))


class DemoGaze:
    """A `GazeScript` for the demo scene: fixations on markers, in turn, with looks away.

    Parameters
    ----------
    scene : DemoScene
        The scene whose markers are visited.
    mapping : TrackerCameraMapping
        Tracker px to camera px, a homography (e.g. `TrackerCameraMapping.fullscreen`).
    geometry : ScreenGeometry
        The tracked screen, for degrees of visual angle.
    seed : int
        Seed of the visiting order, durations and the eye's noise. (default: 0)
    fixation_s : tuple[float, float]
        Range of fixation durations on a marker, s. (default: (0.6, 1.4))
    look_away_s : tuple[float, float]
        Range of fixation durations on empty background, s. (default: (0.4, 0.8))
    look_away_probability : float
        Chance of a look away after each marker visit. (default: 0.4)
    rounds : int
        Rounds over all markers planned; the plan repeats after them. (default: 12)
    noise_deg : float
        Fixational noise, RMS per axis, degrees. (default: 0.03)
    drift_deg_s : float
        Speed of the slow drift during a fixation, degrees per second. (default: 0.2)
    blink_probability : float
        Chance that a blink follows a fixation. (default: 0.05)
    origin_s : float or None
        Host monotonic time of scene time 0 (the MJPEG server's origin); None: scene time is
        the script's time. (default: None)
    """

    def __init__(
        self,
        scene: DemoScene,
        mapping: TrackerCameraMapping,
        geometry: ScreenGeometry,
        seed: int = 0,
        fixation_s: tuple[float, float] = (0.6, 1.4),
        look_away_s: tuple[float, float] = (0.4, 0.8),
        look_away_probability: float = 0.4,
        rounds: int = 12,
        noise_deg: float = 0.03,
        drift_deg_s: float = 0.2,
        blink_probability: float = 0.05,
        origin_s: float | None = None,
    ) -> None:
        self.scene = scene
        self.mapping = mapping
        self.origin_s = origin_s
        self._to_screen = screen_to_camera_inverse(mapping)
        self.visits = self._plan(random.Random(seed), fixation_s, look_away_s, look_away_probability, rounds)
        self.gaze = ScriptedGaze(
            geometry,
            seed=seed,
            targets=[(*visit.screen_px, visit.duration_s) for visit in self.visits],
            noise_deg=noise_deg,
            drift_deg_s=drift_deg_s,
            blink_probability=blink_probability,
        )
        self._geometry = geometry
        target_deg = geometry.to_degrees(
            np.array([visit.screen_px[0] for visit in self.visits]),
            np.array([visit.screen_px[1] for visit in self.visits]),
        )
        self._targets_deg = np.column_stack(target_deg)
        centres = {spec.id: np.asarray(spec.position_m, np.float64) for spec in scene.markers}
        # World points the gaze follows: marker centres, and the wall behind a look away.
        self._anchors = [
            centres[visit.label] if visit.label is not None else scene.world_point_at_px(visit.camera_px)
            for visit in self.visits
        ]
        self._offset_s: float | None = None if origin_s is not None else 0.0
        self._segments_start_s = self._segments_until_s = 0.0
        self._segments: list[Segment] = []
        self._segment_starts: list[float] = []

    # -- the plan ----------------------------------------------------------------------------
    def _plan(
        self,
        rng: random.Random,
        fixation_s: tuple[float, float],
        look_away_s: tuple[float, float],
        look_away_probability: float,
        rounds: int,
    ) -> list[Visit]:
        rest = self.scene.truth_at_rest()
        ids = [spec.id for spec in self.scene.markers]
        visits: list[Visit] = []
        away_index = 0
        previous: str | None = None
        for _ in range(rounds):
            order = ids[:]
            rng.shuffle(order)
            if order[0] == previous and len(order) > 1:
                order[0], order[-1] = order[-1], order[0]
            for marker_id in order:
                centre = (float(rest[marker_id].centre_px[0]), float(rest[marker_id].centre_px[1]))
                visits.append(Visit(marker_id, centre, self._screen(centre), rng.uniform(*fixation_s)))
                if rng.random() < look_away_probability:
                    spot = self.scene.look_away_px[away_index % len(self.scene.look_away_px)]
                    away_index += 1
                    visits.append(Visit(None, spot, self._screen(spot), rng.uniform(*look_away_s)))
                previous = marker_id
        return visits

    def _screen(self, camera_px: tuple[float, float]) -> tuple[float, float]:
        point = cv2.perspectiveTransform(np.array([[camera_px]], np.float64), self._to_screen).reshape(2)
        return float(point[0]), float(point[1])

    # -- the script --------------------------------------------------------------------------
    def scene_time(self, t_s: float) -> float:
        """Scene time of script time `t_s` (the offset is fixed at the first call)."""
        if self._offset_s is None:
            assert self.origin_s is not None
            self._offset_s = (time.monotonic() - self.origin_s) - t_s
        return t_s + self._offset_s

    def _visit_index(self, t_s: float) -> int:
        """Which visit the eye is on (or heading to, during a saccade) at `t_s`."""
        if not self._segments_start_s <= t_s < self._segments_until_s:
            # Segments are fetched for the next few seconds at once: a lookup stays O(log n).
            self._segments_start_s = t_s
            self._segments_until_s = t_s + SEGMENT_CACHE_S
            self._segments = self.gaze.segments(self._segments_until_s)
            self._segment_starts = [segment.start_s for segment in self._segments]
        segment = self._segments[max(0, bisect.bisect_right(self._segment_starts, t_s) - 1)]
        distances = np.hypot(self._targets_deg[:, 0] - segment.x1_deg, self._targets_deg[:, 1] - segment.y1_deg)
        return int(np.argmin(distances))

    def __call__(self, t_s: float) -> tuple[float, float, bool]:
        """Gaze at `t_s` s since the start of streaming: (x px, y px, valid)."""
        return self._follow(t_s, *self.gaze(t_s))

    def clean(self, t_s: float) -> tuple[float, float, bool]:
        """Where the eye really points at `t_s`: the gaze without the tracker's noise."""
        return self._follow(t_s, *self.gaze.clean(t_s))

    def _follow(self, t_s: float, x: float, y: float, valid: bool) -> tuple[float, float, bool]:
        if not valid:
            return x, y, valid
        index = self._visit_index(t_s)
        # Follow the target as the camera sways: shift by how far it moved from its rest px.
        moved = self.scene.project(list(self._anchors[index]), self.scene_time(t_s))
        dx, dy = np.subtract(self._screen((float(moved[0]), float(moved[1]))), self.visits[index].screen_px)
        return x + float(dx), y + float(dy), True

    def true_visits(self, until_s: float, eye_offset_px: float = 0.0) -> list[TrueVisit]:
        """The fixations made before `until_s` (script time), each with its label and true position.

        Parameters
        ----------
        until_s : float
            Script time, s.
        eye_offset_px : float
            Horizontal offset of the tracked eye's gaze from the script's (the simulator's
            right eye reads `VERGENCE_PX` to the right), screen px. (default: 0.0)
        """
        visits = []
        for fixation in self.gaze.true_fixations(until_s):
            ax, ay = self._geometry.to_degrees(fixation.x_px, fixation.y_px)
            index = int(np.argmin(np.hypot(self._targets_deg[:, 0] - ax, self._targets_deg[:, 1] - ay)))
            label = self.visits[index].label
            u, v = (math.nan, math.nan)
            if label is not None:
                u, v = self.true_point(label, fixation.onset_s, fixation.offset_s, eye_offset_px=eye_offset_px)
            visits.append(TrueVisit(fixation.onset_s, fixation.offset_s, label, u, v))
        return visits

    def true_point(
        self, label: str, onset_s: float, offset_s: float, step_s: float = 0.02, eye_offset_px: float = 0.0
    ) -> tuple[float, float]:
        """The mean of where the eye really pointed on a marker over an interval, as u, v on its picture.

        Parameters
        ----------
        label : str
            The marker.
        onset_s, offset_s : float
            The interval, script time, s.
        step_s : float
            Sampling step, s: the drift is linear and the sway slow, so 50 Hz gives the mean. (default: 0.02)
        eye_offset_px : float
            Horizontal offset of the tracked eye's gaze, screen px. (default: 0.0)
        """
        spec = next(spec for spec in self.scene.markers if spec.id == label)
        texture = self.scene.textures[label]
        shape = MarkerShape(label, (texture.shape[1], texture.shape[0]), spec.width_m)
        points = []
        for t_s in np.arange(onset_s, offset_s, step_s):
            x, y, valid = self.clean(float(t_s))
            if not valid:
                continue
            camera = self.mapping.to_camera(np.array([[x + eye_offset_px, y]], np.float64))
            truth = self.scene.truth(self.scene_time(float(t_s)))[label]
            hit = MarkerHit(
                label, truth.corners_px, np.eye(3), 0, 0.0, truth.position_m, truth.rotation, truth.distance_m
            )
            points.append(map_points(camera, hit, shape, self.scene.intrinsics).uv[0])
        if not points:
            return math.nan, math.nan
        u, v = np.mean(points, axis=0)
        return float(u), float(v)
