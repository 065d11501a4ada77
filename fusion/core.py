"""The fusion core: gaze samples and camera frames in, fixation events and looks out.

One class, no threads, windows or sockets: the live runner and the replayer feed it the same
way, in host-time order, so the same input sequence gives the same outputs. :func:`make_core`
builds one as a configuration says (detector, mapping, AOI size, marker search).

What it does with each input:

- A gaze sample is mapped into camera px (the tracker-to-camera mapping; the default is the
  camera image shown full-screen on the tracked screen), flagged when it lies outside the
  calibrated area, and pushed into the fixation detector.
- A fixation event gets its camera-px centroid and an AOI: a square of ``aoi_size_deg`` around
  the centre, converted to screen px with the screen geometry, its corners mapped to camera
  px (so the local scale of the mapping applies) and clipped to the frame.
- Looks. At a fixation's start, the frame nearest in time to its samples (from a short ring
  of recent frames) is searched for markers in the AOI and a look is emitted (``"first"``),
  on a marker or on nothing. Every later frame while the fixation lasts is searched too; a
  look is emitted again only when the marker changes (``"change"``). At the fixation's end a
  summary look (``"end"``) gives the marker seen on most frames with its mean pose. A
  fixation the detector cancels (the start of a pursuit) gets no summary.
- Pursuits (detectors that report them). Following a moving object is looking at it: from a
  pursuit's start (its frames since the onset, from the ring) to its end, every frame is
  searched in an AOI around the gaze at that frame's time, so the AOI moves along the path.
  At the pursuit's end one look of kind ``"pursuit"`` gives the marker found on most of those
  frames with its mean pose. Other movements (saccades, PSOs, blinks) pass through.
- Gaze on markers. Every searched frame with a marker is reported (:class:`SearchedFrame`);
  with a :class:`~gazefusion.fusion.analysis.join.GazeOnMarkers` set as ``join``, gaze
  samples and fixations are mapped onto the markers of the frames nearest in time
  (:class:`GazeOnMarker`, :class:`FixationOnMarker`, about a ring of frames late).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol, TypeVar

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics, load_intrinsics
from gazefusion.calibration.mapping import TrackerCameraMapping, load_mapping
from gazefusion.fusion.analysis.join import FixationOnMarker, GazeOnMarker, GazeOnMarkers
from gazefusion.fusion.analysis.mapping import MarkerShape
from gazefusion.fusion.config import Config
from gazefusion.fusion.errors import CalibrationError
from gazefusion.fusion.fixations import make_detector
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.markers import MarkerDetector, MarkerLibrary, MarkerTracker
from gazefusion.fusion.types import (
    DetectorEvent,
    Fixation,
    FixationEvent,
    Frame,
    Look,
    MarkerHit,
    Movement,
    MovementEvent,
    SearchedFrame,
)
from gazefusion.trackers.types import GazeSample

LookKind = Literal["first", "change", "end", "pursuit"]

CLOCK_JUMP_S = 1.0
"""A tracker clock going back, or arrivals falling behind, by more than this: re-anchor, s."""
OFFSET_WINDOW_S = 10.0
"""Tracker time over which the least delayed arrival anchors the tracker clock, s."""


class LookEvent(NamedTuple):
    """A look as the core reports it.

    Attributes
    ----------
    kind : {"first", "change", "end", "pursuit"}
        ``"first"`` at the fixation's first searched frame, ``"change"`` when the marker
        looked at changes during the fixation, ``"end"`` the per-fixation summary (the marker
        found on most frames, its pose averaged over those frames), ``"pursuit"`` the same
        summary over the frames along a pursuit.
    look : Look
        The fixation, the marker hit (None: a look at nothing), frame time and index, AOI.
        For a pursuit, ``look.fixation`` sums the pursuit up: its id, onset, offset and
        duration, its end position (px, camera px), its amplitude as ``dispersion_deg``.
    frames_searched : int
        Frames of this fixation or pursuit searched so far.
    frames_on_marker : int
        Of those, frames on which this look's marker was found (0 for a look at nothing).
    pursuit : Movement or None
        The pursuit of a ``"pursuit"`` look; None otherwise. (default: None)
    """

    kind: LookKind
    look: Look
    frames_searched: int
    frames_on_marker: int
    pursuit: Movement | None = None

    @property
    def marker_id(self) -> str | None:
        """The marker looked at, or None."""
        return None if self.look.hit is None else self.look.hit.marker_id

    @property
    def fixation(self) -> Fixation:
        """The fixation of this look."""
        return self.look.fixation


CoreOutput = FixationEvent | MovementEvent | LookEvent | SearchedFrame | GazeOnMarker | FixationOnMarker

PURSUIT_GAZE_S = 2.0
"""Recent gaze kept to place a pursuit's AOI on the frames along its path, s."""


class OverlayState(NamedTuple):
    """What the overlay draws, as of the last input fed to the core.

    Attributes
    ----------
    gaze_cam : tuple[float, float] or None
        The newest valid gaze sample in camera px.
    gaze_outside : bool
        Whether that sample lies outside the mapping's calibrated area.
    fixation : Fixation or None
        The current fixation (between its start and end), camera centroid filled.
    aoi : tuple[int, int, int, int] or None
        Its AOI box (x, y, width, height), camera px.
    hit : MarkerHit or None
        The marker found on the newest searched frame of the current fixation.
    """

    gaze_cam: tuple[float, float] | None = None
    gaze_outside: bool = False
    fixation: Fixation | None = None
    aoi: tuple[int, int, int, int] | None = None
    hit: MarkerHit | None = None


class FixationDetectorLike(Protocol):
    """What the core needs of a fixation detector (``make_detector``): its events, fixations among them."""

    def push(self, t: float, x: float, y: float, valid: bool) -> list[DetectorEvent]: ...

    def flush(self) -> list[DetectorEvent]: ...


MarkerSearch = Callable[[np.ndarray, tuple[int, int, int, int], tuple[float, float]], list[MarkerHit]]


@dataclass
class _Active:
    """Book-keeping of the fixation in progress."""

    fixation: Fixation
    aoi: tuple[int, int, int, int] | None
    last_marker: str | None = None
    emitted: bool = False
    last_frame_index: int = -1
    last_frame_t: float = math.nan
    frames_since_search: int = 0
    frames_searched: int = 0
    hits: dict[str, list[MarkerHit]] = field(default_factory=dict)
    first_seen: list[str] = field(default_factory=list)
    last_hit: MarkerHit | None = None


@dataclass
class CoreStats:
    """Counters of a core since it was made."""

    samples: int = 0
    invalid_samples: int = 0
    samples_outside_calibrated: int = 0
    frames: int = 0
    frames_searched: int = 0
    fixations: int = 0
    pursuits: int = 0
    looks: int = 0


@dataclass
class OutputCounts:
    """What a run or a replay delivered: fixations (counted at their end) and looks."""

    fixations: int = 0
    looks: int = 0

    def add(self, output: CoreOutput) -> None:
        """Count one core output."""
        if isinstance(output, LookEvent):
            self.looks += 1
        elif isinstance(output, FixationEvent) and output.kind == "end":
            self.fixations += 1


def mean_hit(hits: list[MarkerHit]) -> MarkerHit:
    """Average the pose of several hits of one marker (the last hit's outline is kept).

    Parameters
    ----------
    hits : list[MarkerHit]
        Hits of the same marker, in frame order; not empty.
    """
    if len(hits) == 1:
        return hits[0]
    position = np.mean([hit.position_m for hit in hits], axis=0)
    rotation = np.mean([hit.rotation for hit in hits], axis=0)
    last = hits[-1]
    return last._replace(
        inliers=int(round(float(np.median([hit.inliers for hit in hits])))),
        reprojection_error_px=float(np.mean([hit.reprojection_error_px for hit in hits])),
        position_m=position,
        rotation=rotation,
        distance_m=float(np.linalg.norm(position)),
        pose_ambiguous=any(hit.pose_ambiguous for hit in hits),
        contains_gaze=any(hit.contains_gaze for hit in hits),
    )


class FusionCore:
    """Join gaze, fixations and frames into fixation events and looks.

    Feed it in host-time order with :meth:`feed_sample` and :meth:`feed_frame`; each returns
    the outputs that input made decidable. Call :meth:`finish` at the end of input.

    Parameters
    ----------
    detector : FixationDetectorLike
        An online fixation detector (``make_detector(...)``) working in tracker px.
    geometry : ScreenGeometry
        The tracked screen, for the AOI's size in degrees.
    aoi_size_deg : float
        Side of the square AOI, degrees of visual angle. (default: 3.0)
    mapping : TrackerCameraMapping or None
        Tracker px to camera px; None: the full-screen default, made at the first frame
        (until then fixations have no camera centroid). (default: None)
    marker_search : MarkerSearch or None
        ``search(image, aoi, gaze_cam_xy) -> hits`` (best first), e.g. a bound
        ``MarkerDetector.detect`` with ``roi=aoi``; if it has a ``reset()`` method (a
        detect-then-track search) it is called at every fixation start. None: every look
        is a look at nothing. (default: None)
    ring_frames : int
        Recent frames kept to join a fixation's start with the nearest frame. (default: 32)
    max_join_gap_s : float
        A fixation is joined with no frame farther than this from its samples. (default: 0.5)
    empty_search_every : int
        While the AOI of a fixation holds no marker, search only every this many frames
        (1: every frame). A marker found is followed on every frame. (default: 1)
    """

    def __init__(
        self,
        detector: FixationDetectorLike,
        geometry: ScreenGeometry,
        aoi_size_deg: float = 3.0,
        mapping: TrackerCameraMapping | None = None,
        marker_search: MarkerSearch | None = None,
        ring_frames: int = 32,
        max_join_gap_s: float = 0.5,
        empty_search_every: int = 1,
    ) -> None:
        self.detector = detector
        self.geometry = geometry
        self.aoi_size_deg = float(aoi_size_deg)
        self.mapping = mapping
        self._mapping_checked = False
        self.marker_search = marker_search
        self.max_join_gap_s = max_join_gap_s
        self.empty_search_every = max(1, int(empty_search_every))
        self.camera_size: tuple[int, int] | None = None
        self.stats = CoreStats()
        self._state = OverlayState()
        self._gaze_px: tuple[float, float] | None = None
        self._offsets: deque[tuple[float, float]] = deque()
        self._last_tracker_t: float | None = None
        self._gaze_outside = False
        self.ring_frames = int(ring_frames)
        self._ring: deque[Frame] = deque(maxlen=self.ring_frames)
        self._active: _Active | None = None
        self._pursuit: _Active | None = None
        self._pursuit_movement: Movement | None = None
        self._recent: deque[tuple[float, float, float]] = deque()  # t, x, y of valid gaze (detector time)
        self._finished = False
        self.join: GazeOnMarkers | None = None

    # --- mapping -------------------------------------------------------------------------

    def set_camera_size(self, size: tuple[int, int]) -> None:
        """Fix the camera resolution: make the default mapping or check the given one.

        Raises
        ------
        CalibrationError
            When the mapping was calibrated for another camera resolution.
        """
        size = (int(size[0]), int(size[1]))
        if self.camera_size == size and self._mapping_checked:
            return
        self.camera_size = size
        if self.mapping is None:
            self.mapping = TrackerCameraMapping.fullscreen((self.geometry.width_px, self.geometry.height_px), size)
        else:
            self.mapping.check_camera_size(size)
        self._mapping_checked = True

    def points_to_camera(self, points_px: np.ndarray) -> np.ndarray:
        """(N, 2) tracker px to camera px (nan while no mapping is known)."""
        points = np.asarray(points_px, np.float64).reshape(-1, 2)
        if self.mapping is None:
            return np.full_like(points, math.nan)
        return np.asarray(self.mapping.to_camera(points), np.float64).reshape(-1, 2)

    def to_camera(self, x_px: float, y_px: float) -> tuple[float, float]:
        """Tracker px to camera px, or (nan, nan) while no mapping is known."""
        if self.mapping is None or not (math.isfinite(x_px) and math.isfinite(y_px)):
            return math.nan, math.nan
        cam = self.mapping.to_camera(np.array([x_px, y_px], dtype=np.float64))
        return float(cam[0]), float(cam[1])

    def aoi_for(self, x_px: float, y_px: float) -> tuple[int, int, int, int] | None:
        """The AOI box (x, y, width, height) in camera px around a tracker-px point, clipped.

        None when no mapping or frame size is known yet, or the box lies outside the frame.
        """
        if self.mapping is None or self.camera_size is None or not (math.isfinite(x_px) and math.isfinite(y_px)):
            return None
        half = self.aoi_size_deg / 2.0
        ax, ay = self.geometry.to_degrees(x_px, y_px)
        xs, ys = self.geometry.to_pixels(
            np.array([ax - half, ax + half, ax + half, ax - half]),
            np.array([ay - half, ay - half, ay + half, ay + half]),
        )
        cam = self.mapping.to_camera(np.stack([xs, ys], axis=1))
        if not np.all(np.isfinite(cam)):
            return None
        width, height = self.camera_size
        x0 = max(0, int(math.floor(cam[:, 0].min())))
        y0 = max(0, int(math.floor(cam[:, 1].min())))
        x1 = min(width, int(math.ceil(cam[:, 0].max())))
        y1 = min(height, int(math.ceil(cam[:, 1].max())))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return x0, y0, x1 - x0, y1 - y0

    def intrinsics_for(self, size: tuple[int, int]) -> CameraIntrinsics:
        """The camera model the marker search uses at this image size (or the assumed 60-degree camera)."""
        if isinstance(self.marker_search, LazyMarkerSearch):
            return self.marker_search.intrinsics_for(size)
        return CameraIntrinsics.from_fov(size)

    @property
    def searching(self) -> bool:
        """Whether a fixation or pursuit is in progress, so the next frame will be searched for markers."""
        return self._active is not None or self._pursuit is not None

    # --- inputs --------------------------------------------------------------------------

    def feed_sample(self, sample: GazeSample) -> list[CoreOutput]:
        """Take one gaze sample; returns the fixation events and looks it made decidable."""
        self.stats.samples += 1
        x, y = sample.x, sample.y
        valid = bool(sample.valid) and x - x == 0.0 and y - y == 0.0  # finite
        if valid:
            outside = False
            if self.mapping is not None:
                outside = not self._inside(x, y)
                if outside:
                    self.stats.samples_outside_calibrated += 1
            self._gaze_px = (x, y)
            self._gaze_outside = outside
        else:
            self.stats.invalid_samples += 1
        t = self.sample_time(sample)
        if valid:
            recent = self._recent
            recent.append((t, x, y))
            while recent[0][0] < t - PURSUIT_GAZE_S:
                recent.popleft()
        events = self.detector.push(t, x if valid else math.nan, y if valid else math.nan, valid)
        outputs = self._on_fixation_events(events) if events else []
        if self.join is not None:
            self.join.sample(t, x, y, valid)
            outputs.extend(self.join.feed(list(outputs)))
        return outputs

    def sample_time(self, sample: GazeSample) -> float:
        """The sample's time on the host clock, from the tracker's clock where it has one.

        Arrival times carry network and scheduling jitter (samples read in a burst share
        nearly one time), which a velocity threshold reads as saccades. The tracker clock is
        even, so the detector gets ``tracker_t + offset``, the offset being the smallest
        ``t - tracker_t`` (the least delayed arrival) of the last `OFFSET_WINDOW_S` of
        tracker time: it follows a drift between the clocks, and starts afresh when the
        tracker clock goes back (a restart) or the arrivals jump by more than `CLOCK_JUMP_S`.
        """
        tracker_t = sample.tracker_t
        if not math.isfinite(tracker_t):
            return sample.t
        offset = sample.t - tracker_t
        window = self._offsets  # (tracker_t, offset), offsets increasing: a sliding minimum
        last = self._last_tracker_t
        if window and last is not None and (tracker_t < last - CLOCK_JUMP_S or offset - window[0][1] > CLOCK_JUMP_S):
            window.clear()
        self._last_tracker_t = tracker_t if last is None else max(last, tracker_t)
        while window and window[-1][1] >= offset:
            window.pop()
        window.append((tracker_t, offset))
        while window[0][0] < tracker_t - OFFSET_WINDOW_S:
            window.popleft()
        return tracker_t + window[0][1]

    def _inside(self, x: float, y: float) -> bool:
        """Whether a tracker-px point lies in the mapping's calibrated area (fast for the whole screen)."""
        assert self.mapping is not None
        if self.mapping.calibrated_area is None:
            width, height = self.mapping.screen_size_px
            return 0.0 <= x <= width and 0.0 <= y <= height
        return bool(self.mapping.in_calibrated_area(np.array([x, y]))[0])

    @property
    def state(self) -> OverlayState:
        """What the overlay draws, as of the last input (the gaze point mapped on demand)."""
        gaze = self._gaze_px
        cam = None
        if gaze is not None:
            cx, cy = self.to_camera(*gaze)
            cam = (cx, cy) if math.isfinite(cx) else None
        return self._state._replace(gaze_cam=cam, gaze_outside=self._gaze_outside)

    def feed_frame(self, frame: Frame) -> list[CoreOutput]:
        """Take one camera frame; returns the looks it gave (during a fixation)."""
        height, width = frame.image.shape[:2]
        if self.camera_size != (width, height) or not self._mapping_checked:
            self.set_camera_size((width, height))
        self.stats.frames += 1
        self._ring.append(frame)
        outputs: list[CoreOutput] = [] if self.join is None else list(self.join.frame(frame.index, frame.t))
        found: list[SearchedFrame | LookEvent] = []
        if self._pursuit is not None:
            found.extend(self._search_along(self._pursuit, frame))
        active = self._active
        if active is not None and frame.index > active.last_frame_index:
            if active.last_hit is None and active.frames_since_search + 1 < self.empty_search_every:
                # Nothing found in this fixation's AOI lately: look again only every few frames.
                active.frames_since_search += 1
            else:
                found.extend(self._search(active, frame))
        if self.join is not None:
            self.join.feed(found)
        return outputs + found

    def finish(self) -> list[CoreOutput]:
        """End of input: flush the detector (a fixation in progress ends)."""
        if self._finished:
            return []
        self._finished = True
        outputs = self._on_fixation_events(self.detector.flush())
        if self.join is not None:
            outputs.extend(self.join.feed(list(outputs)))
            outputs.extend(self.join.finish())
        return outputs

    # --- internals -----------------------------------------------------------------------

    def _with_camera(self, fixation: Fixation) -> Fixation:
        cam_x, cam_y = self.to_camera(fixation.x, fixation.y)
        return fixation._replace(cam_x=cam_x, cam_y=cam_y)

    def _on_fixation_events(self, events: list[DetectorEvent]) -> list[CoreOutput]:
        outputs: list[CoreOutput] = []
        for event in events:
            if isinstance(event, MovementEvent):
                outputs.append(event)
                if event.movement.kind == "pursuit":
                    self._on_pursuit(event, outputs)
                continue
            fixation = self._with_camera(event.fixation)
            event = event._replace(fixation=fixation)
            outputs.append(event)
            if event.kind == "start":
                self._active = _Active(fixation, self.aoi_for(fixation.x, fixation.y))
                reset = getattr(self.marker_search, "reset", None)
                if reset is not None:
                    reset()  # a stateful search (detect-then-track) starts afresh per fixation
                self.stats.fixations += 1
                frame = self._nearest_frame(fixation)
                if frame is not None:
                    outputs.extend(self._search(self._active, frame))
            elif event.kind == "update":
                if self._active is not None and self._active.fixation.id == fixation.id:
                    self._active.fixation = fixation
                    self._active.aoi = self.aoi_for(fixation.x, fixation.y)
            elif event.kind == "end":
                active = self._active
                if active is not None and active.fixation.id == fixation.id:
                    active.fixation = fixation
                    summary = self._summary(active)
                    if summary is not None:
                        outputs.append(summary)
                    self._active = None
            elif event.kind == "cancel":
                if self._active is not None and self._active.fixation.id == fixation.id:
                    self._active = None  # the start of a pursuit: no summary, not a fixation
                    self.stats.fixations -= 1
            self._publish()
        return outputs

    def _on_pursuit(self, event: MovementEvent, outputs: list[CoreOutput]) -> None:
        """Search the frames along a pursuit's path; sum them up in a look at its end."""
        movement = event.movement
        if event.kind == "start":
            self._pursuit = _Active(self._pursuit_summary(movement), None)
            self._pursuit_movement = movement
            reset = getattr(self.marker_search, "reset", None)
            if reset is not None:
                reset()
            self.stats.pursuits += 1
            # The pursuit is known a while after its onset: search the ring's frames since then.
            for frame in list(self._ring):
                if frame.t >= movement.onset:
                    outputs.extend(self._search_along(self._pursuit, frame))
        elif self._pursuit is not None and self._pursuit_movement is not None:
            if self._pursuit_movement.id != movement.id:
                return
            self._pursuit_movement = movement
            self._pursuit.fixation = self._pursuit_summary(movement)
            if event.kind == "end":
                summary = self._summary(self._pursuit, "pursuit", movement)
                if summary is not None:
                    outputs.append(summary)
                self._pursuit = self._pursuit_movement = None
        self._publish()

    def _pursuit_summary(self, movement: Movement) -> Fixation:
        """A pursuit as the fixation of its look: id, times, end position, amplitude."""
        return self._with_camera(
            Fixation(
                id=movement.id,
                onset=movement.onset,
                offset=movement.offset,
                duration=movement.duration,
                x=movement.end_x,
                y=movement.end_y,
                dispersion_deg=movement.amplitude_deg,
                n_samples=movement.n_samples,
            )
        )

    def _gaze_at(self, t: float) -> tuple[float, float] | None:
        """The recent valid gaze sample nearest to time `t`, tracker px (None if none within 0.1 s)."""
        recent = self._recent
        if not recent:
            return None
        k = bisect.bisect_left(recent, (t, -math.inf, -math.inf))
        candidates = [recent[i] for i in (k - 1, k) if 0 <= i < len(recent)]
        nearest = min(candidates, key=lambda sample: abs(sample[0] - t))
        return (nearest[1], nearest[2]) if abs(nearest[0] - t) <= 0.1 else None

    def _search_along(self, pursuit: _Active, frame: Frame) -> list[SearchedFrame]:
        """Search one frame of a pursuit in an AOI around the gaze at the frame's time (what it found)."""
        if frame.index <= pursuit.last_frame_index:
            return []
        gaze = self._gaze_at(frame.t)
        if gaze is None:
            return []
        pursuit.last_frame_index = frame.index
        pursuit.last_frame_t = frame.t
        pursuit.frames_searched += 1
        self.stats.frames_searched += 1
        pursuit.aoi = self.aoi_for(*gaze)
        hit: MarkerHit | None = None
        found = []
        if pursuit.aoi is not None and self.marker_search is not None:
            hits = self.marker_search(frame.image, pursuit.aoi, self.to_camera(*gaze))
            hit = hits[0] if hits else None
            found = self._searched(frame, hits)
        pursuit.last_hit = hit
        if hit is not None:
            if hit.marker_id not in pursuit.hits:
                pursuit.hits[hit.marker_id] = []
                pursuit.first_seen.append(hit.marker_id)
            pursuit.hits[hit.marker_id].append(hit)
        self._publish()
        return found

    def _publish(self) -> None:
        active = self._active or self._pursuit
        if active is None:
            self._state = OverlayState()
        else:
            self._state = OverlayState(fixation=active.fixation, aoi=active.aoi, hit=active.last_hit)

    def _nearest_frame(self, fixation: Fixation) -> Frame | None:
        """The ring's frame nearest in time to the fixation's samples (latest on ties)."""
        best: Frame | None = None
        best_gap = math.inf
        for frame in self._ring:
            gap = max(fixation.onset - frame.t, frame.t - fixation.offset, 0.0)
            if gap <= best_gap:
                best, best_gap = frame, gap
        return best if best_gap <= self.max_join_gap_s else None

    @staticmethod
    def _searched(frame: Frame, hits: list[MarkerHit]) -> list[SearchedFrame]:
        """What a search found in a frame, as an output (none when nothing was found)."""
        if not hits:
            return []
        return [
            SearchedFrame(frame.index, frame.t, (int(frame.image.shape[1]), int(frame.image.shape[0])), tuple(hits))
        ]

    def _search(self, active: _Active, frame: Frame) -> list[SearchedFrame | LookEvent]:
        """Search one frame for markers in the active fixation's AOI: what it found, and a look if one is due."""
        active.last_frame_index = frame.index
        active.last_frame_t = frame.t
        active.frames_since_search = 0
        active.frames_searched += 1
        self.stats.frames_searched += 1
        fixation = active.fixation
        hit: MarkerHit | None = None
        found: list[SearchedFrame | LookEvent] = []
        if active.aoi is not None and self.marker_search is not None:
            hits = self.marker_search(frame.image, active.aoi, (fixation.cam_x, fixation.cam_y))
            hit = hits[0] if hits else None
            found.extend(self._searched(frame, hits))
        active.last_hit = hit
        marker = None if hit is None else hit.marker_id
        if hit is not None:
            if hit.marker_id not in active.hits:
                active.hits[hit.marker_id] = []
                active.first_seen.append(hit.marker_id)
            active.hits[hit.marker_id].append(hit)
        self._publish()
        if active.emitted and marker == active.last_marker:
            return found
        kind: LookKind = "change" if active.emitted else "first"
        active.emitted = True
        active.last_marker = marker
        self.stats.looks += 1
        aoi = active.aoi if active.aoi is not None else (0, 0, 0, 0)
        on_marker = len(active.hits[marker]) if marker is not None else 0
        found.append(LookEvent(kind, Look(fixation, hit, frame.t, frame.index, aoi), active.frames_searched, on_marker))
        return found

    def _summary(self, active: _Active, kind: LookKind = "end", pursuit: Movement | None = None) -> LookEvent | None:
        """The end-of-fixation (or pursuit) look: the marker on most frames (first seen on ties), mean pose."""
        if active.frames_searched == 0:
            return None
        hit: MarkerHit | None = None
        on_marker = 0
        if active.hits:
            marker = max(active.first_seen, key=lambda name: (len(active.hits[name]), -active.first_seen.index(name)))
            hit = mean_hit(active.hits[marker])
            on_marker = len(active.hits[marker])
        aoi = active.aoi if active.aoi is not None else (0, 0, 0, 0)
        self.stats.looks += 1
        look = Look(active.fixation, hit, active.last_frame_t, active.last_frame_index, aoi)
        return LookEvent(kind, look, active.frames_searched, on_marker, pursuit)


# --- a core as the configuration says -------------------------------------------------------

_MATCHER_SEED = 20_240_601
T = TypeVar("T")


def seeded_detector(factory: Callable[..., T], *args: object) -> T:
    """A marker detector whose matching index is the same in every run.

    The detector's FLANN LSH index draws its hash tables from OpenCV's random generator:
    two detectors built from one library match slightly differently, and a replay would not
    reproduce the live run's poses. Seeding the generator (per thread in OpenCV) right before
    the build fixes the tables.
    """
    cv2.setRNGSeed(_MATCHER_SEED)
    return factory(*args)


class LazyMarkerSearch:
    """Marker search for the core: detect, then track by optical flow between detections.

    The detector is built at the first frame, when the image size is known (intrinsics from
    ``calibration.intrinsics`` scaled to it, or an assumed 60-degree camera). The core calls
    :meth:`reset` at every fixation start, so tracking never carries over between fixations
    and a replay of the same frames gives the same hits.

    Parameters
    ----------
    config : Config
        ``markers`` and ``calibration.intrinsics`` are used.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.library = MarkerLibrary.load(config.markers.file, config.markers)  # type: ignore[arg-type]
        # The reference features now, before the run: the first frame must not wait for them.
        MarkerDetector.prepare(self.library, config.markers)
        self._loaded = load_intrinsics(config.calibration.intrinsics) if config.calibration.intrinsics else None
        self.intrinsics: CameraIntrinsics | None = None
        self._tracker: MarkerTracker | None = None
        self._size: tuple[int, int] | None = None

    @property
    def calibrated(self) -> bool:
        """Whether the camera's intrinsics come from a calibration (else an assumed 60-degree camera)."""
        return self._loaded is not None

    def intrinsics_for(self, size: tuple[int, int]) -> CameraIntrinsics:
        """The camera at a frame size: the calibration scaled to it, or the assumed camera."""
        return self._loaded.scaled_to(size) if self._loaded else CameraIntrinsics.from_fov(size)

    def _tracker_for(self, size: tuple[int, int]) -> MarkerTracker:
        if self._tracker is None or size != self._size:
            self.intrinsics = self.intrinsics_for(size)
            self._tracker = MarkerTracker(
                seeded_detector(MarkerDetector, self.library, self.intrinsics, self.config.markers)
            )
            self._size = size
        return self._tracker

    def reset(self) -> None:
        """Forget tracked markers: the next frame is detected afresh."""
        if self._tracker is not None:
            self._tracker.reset()

    def __call__(
        self, image: np.ndarray, aoi: tuple[int, int, int, int], gaze_xy: tuple[float, float]
    ) -> list[MarkerHit]:
        tracker = self._tracker_for((image.shape[1], image.shape[0]))
        gaze = gaze_xy if all(math.isfinite(v) for v in gaze_xy) else None
        return tracker.update(image, roi=aoi, gaze_xy=gaze)


NO_INTRINSICS_NOTE = (
    "no camera intrinsics (calibration.intrinsics): gaze is mapped onto the markers in distorted camera px "
    "through the detector's homographies, and the 3D points assume a 60-degree camera"
)


def make_core(config: Config, join: bool = True) -> FusionCore:
    """A fusion core as the configuration says: detector, mapping, AOI size, marker search.

    With a marker library and `join`, the core maps gaze and fixations onto the markers it
    finds (:class:`~gazefusion.fusion.analysis.join.GazeOnMarkers`; without intrinsics in
    distorted px, see :func:`mapping_note`).

    Parameters
    ----------
    config : Config
        The configuration.
    join : bool
        Map gaze onto the markers found. (default: True)

    Raises
    ------
    GazefusionError
        An unknown fixation method or parameter, an unreadable mapping, intrinsics or
        marker library.
    """
    geometry = config.screen.geometry()
    detector = make_detector(config.fixations.method, geometry, dict(config.fixations.params))
    mapping: TrackerCameraMapping | None = None
    if config.calibration.mapping:
        mapping = load_mapping(config.calibration.mapping)
        screen = (geometry.width_px, geometry.height_px)
        if tuple(mapping.screen_size_px) != screen:
            raise CalibrationError(
                f"mapping {config.calibration.mapping} was made for a {mapping.screen_size_px[0]}x"
                f"{mapping.screen_size_px[1]} screen but screen.size_px is {screen[0]}x{screen[1]}"
            )
    search = LazyMarkerSearch(config) if config.markers.file else None
    core = FusionCore(
        detector, geometry, config.aoi.size_deg, mapping, search, empty_search_every=config.markers.redetect_every
    )
    if join and search is not None:
        core.join = gaze_join(search, core)
    return core


def mapping_note(config: Config) -> str | None:
    """`NO_INTRINSICS_NOTE` where gaze is mapped onto markers without intrinsics, else None (say it once per run)."""
    return NO_INTRINSICS_NOTE if config.markers.file and not config.calibration.intrinsics else None


def gaze_join(search: LazyMarkerSearch, core: FusionCore) -> GazeOnMarkers:
    """The gaze-on-markers join of a core: its library's shapes, its camera, its mapping and ring."""
    shapes = {
        marker.marker_id: MarkerShape(marker.marker_id, marker.image_size, marker.width_m) for marker in search.library
    }
    return GazeOnMarkers(
        shapes,
        search.intrinsics_for,
        search.calibrated,
        core.geometry,
        core.points_to_camera,
        ring_frames=core.ring_frames,
    )
