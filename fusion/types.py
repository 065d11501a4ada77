"""Data types of the fusion side (docs/concepts.md, Types): frames, fixations, marker hits, looks.

Camera pixels have their origin top-left, y down; 3D is the OpenCV camera frame in metres
(x right, y down, z forward). Host times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np


class Frame(NamedTuple):
    """One decoded camera frame.

    Attributes
    ----------
    index : int
        Running frame number of the source, continuing across reconnects.
    t : float
        Host monotonic time at arrival (the last byte received), s.
    t_source : float
        The camera's own timestamp, s, or ``nan`` where the source gives none.
    image : numpy.ndarray
        BGR image, uint8, shape (height, width, 3).
    jpeg : bytes or None
        The JPEG bytes as received, for MJPEG and snapshot sources; None otherwise.
    """

    index: int  # type: ignore[assignment]  # a field named like tuple.index
    t: float
    t_source: float
    image: np.ndarray
    jpeg: bytes | None = None


class Fixation(NamedTuple):
    """A fixation as known at the time of an event.

    Attributes
    ----------
    id : int
        Running number from 1, per detector.
    onset, offset : float
        First and last sample times, s, on the clock of the input's ``t``.
    duration : float
        ``offset - onset`` plus one sample interval, s.
    x, y : float
        Centroid, tracker screen px.
    dispersion_deg : float
        Spatial extent (max over axes of the range), degrees of visual angle.
    n_samples : int
        Valid samples in the fixation.
    cam_x, cam_y : float
        Centroid mapped into camera px; ``nan`` until the fusion core maps it.
    """

    id: int
    onset: float
    offset: float
    duration: float
    x: float
    y: float
    dispersion_deg: float
    n_samples: int
    cam_x: float = math.nan
    cam_y: float = math.nan


FixationEventKind = Literal["start", "update", "end", "cancel"]


class FixationEvent(NamedTuple):
    """A fixation's start, update or end, emitted as soon as it is decidable.

    Attributes
    ----------
    kind : {"start", "update", "end", "cancel"}
        What happened. ``"cancel"``: a started fixation turned out to be the beginning of
        a smooth pursuit (detectors that separate pursuit); it never ends and is not a
        fixation, the pursuit that replaces it follows.
    fixation : Fixation
        The fixation as known now; for ``"end"`` it is final.
    t : float
        Time of the sample that made the event decidable, on the input's clock, s.
    """

    kind: FixationEventKind
    fixation: Fixation
    t: float


MovementKind = Literal["saccade", "pso", "pursuit", "blink"]


class Movement(NamedTuple):
    """An eye movement other than a fixation, as known at the time of an event.

    Attributes
    ----------
    kind : {"saccade", "pso", "pursuit", "blink"}
        Saccade, post-saccadic oscillation, smooth pursuit, or a loss of tracking longer
        than the detector can bridge (a blink, or the eye away).
    id : int
        Running number from 1, per kind and detector.
    onset, offset : float
        First and last sample times, s, on the clock of the input's ``t``.
    duration : float
        ``offset - onset`` plus one sample interval, s.
    start_x, start_y, end_x, end_y : float
        Gaze at the first and the last sample, tracker screen px (``nan`` for a blink).
    amplitude_deg : float
        Distance from the start to the end position, degrees of visual angle.
    peak_velocity_deg_s, mean_velocity_deg_s : float
        Largest and mean sample velocity, deg/s (``nan`` for a blink).
    direction_deg : float
        Direction of the movement from start to end, degrees counter-clockwise from
        rightward on the screen (90 is up), in [0, 360); ``nan`` for a blink.
    n_samples : int
        Samples in the movement (lost samples for a blink).
    """

    kind: MovementKind
    id: int
    onset: float
    offset: float
    duration: float
    start_x: float
    start_y: float
    end_x: float
    end_y: float
    amplitude_deg: float
    peak_velocity_deg_s: float
    mean_velocity_deg_s: float
    direction_deg: float
    n_samples: int


class MovementEvent(NamedTuple):
    """A movement's start, update or end, emitted as soon as it is decidable.

    Saccades, PSOs and blinks are reported once, at their ``end``; pursuits have ``start``,
    throttled ``update`` and ``end`` events like fixations.

    Attributes
    ----------
    kind : {"start", "update", "end"}
        What happened.
    movement : Movement
        The movement as known now; for ``"end"`` it is final.
    t : float
        Time of the sample that made the event decidable, on the input's clock, s.
    """

    kind: Literal["start", "update", "end"]
    movement: Movement
    t: float


DetectorEvent = FixationEvent | MovementEvent
"""What an online detector emits: fixation events, and movement events where it separates them."""


class MarkerHit(NamedTuple):
    """A verified detection of a known planar marker in a frame.

    Attributes
    ----------
    marker_id : str
        The marker's id in the library.
    corners : numpy.ndarray
        (4, 2) float, frame px: the marker's top-left, top-right, bottom-right, bottom-left.
    homography : numpy.ndarray
        (3, 3), marker reference image px to frame px.
    inliers : int
        Feature correspondences consistent with the homography.
    reprojection_error_px : float
        RMS reprojection error of the inliers under the pose, frame px.
    position_m : numpy.ndarray
        (3,), the marker centre in the camera frame, m.
    rotation : numpy.ndarray
        (3,), Rodrigues vector of the marker frame in the camera frame.
    distance_m : float
        Euclidean distance of the marker centre from the camera, m.
    pose_ambiguous : bool
        True where the planar pose has two near-equal solutions (small or distant marker):
        the tilt is uncertain, the position is not.
    contains_gaze : bool
        Whether the gaze point given to the detector lies inside `corners`.
    """

    marker_id: str
    corners: np.ndarray
    homography: np.ndarray
    inliers: int
    reprojection_error_px: float
    position_m: np.ndarray
    rotation: np.ndarray
    distance_m: float
    pose_ambiguous: bool = False
    contains_gaze: bool = False


class Look(NamedTuple):
    """A fixation joined with the marker hit it fell on, or with none.

    Attributes
    ----------
    fixation : Fixation
        The fixation, with its camera-px centroid.
    hit : MarkerHit or None
        The marker looked at; None for a look at nothing.
    t : float
        Host time of the frame the look was found in, s.
    frame_index : int
        Index of that frame.
    aoi : tuple[int, int, int, int]
        The AOI box in camera px as (x, y, width, height), clipped to the frame.
    """

    fixation: Fixation
    hit: MarkerHit | None
    t: float
    frame_index: int
    aoi: tuple[int, int, int, int]


class SearchedFrame(NamedTuple):
    """The markers found in one searched frame (the fusion core's searches, or a whole-frame pass).

    Attributes
    ----------
    frame_index : int
        The frame's index.
    t : float
        The frame's host time, s.
    image_size : tuple[int, int]
        (width, height) of the frame, px.
    hits : tuple[MarkerHit, ...]
        The markers found, best first (never empty: frames without a marker are not reported).
    """

    frame_index: int
    t: float
    image_size: tuple[int, int]
    hits: tuple[MarkerHit, ...]


CameraEventKind = Literal["outage", "reconnect", "stale", "end"]


class CameraEvent(NamedTuple):
    """A camera source's event, as the source reports it.

    Attributes
    ----------
    t : float
        Host time, s (an outage's: when the stream was last known good).
    kind : {"outage", "reconnect", "stale", "end"}
        The connection was lost, came back (a frame came through it), frames buffered before
        a stall were dropped, or the source ended (a file, a recording).
    text : str
        Why, or how long the outage lasted (credentials never included).
    """

    t: float
    kind: CameraEventKind
    text: str


MarkKind = Literal["mark", "trial_start", "trial_end"]


class Mark(NamedTuple):
    """A user mark (``Pipeline.mark``, the display's m key) or a trial start or end.

    Attributes
    ----------
    t : float
        Host time, s.
    text : str
        The mark's text, or the trial's name.
    kind : {"mark", "trial_start", "trial_end"}
        What it marks. (default: "mark")
    """

    t: float
    text: str
    kind: MarkKind = "mark"


class LslMarker(NamedTuple):
    """A marker received from another program's Lab Streaming Layer stream (``--lsl-markers``).

    Attributes
    ----------
    t : float
        When it was sent, on the host monotonic clock, s (its LSL time stamp, clock-corrected,
        less the LSL-to-monotonic offset).
    lsl_t : float
        Its LSL time stamp on this host's LSL clock, s.
    text : str
        The marker (channels joined by a tab when the stream has several).
    stream : str
        The stream's name.
    """

    t: float
    lsl_t: float
    text: str
    stream: str
