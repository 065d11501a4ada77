"""Data types of the tracker side: every datum is a timestamped, immutable message.

Clocks (docs/concepts.md): ``t`` is the host's ``time.monotonic()`` at arrival, in seconds;
``tracker_t`` is the tracker's own clock, in seconds, kept beside and never mixed in.
Coordinates are tracker screen pixels, origin top-left, y down.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple


class EyeGaze(NamedTuple):
    """One eye's part of a sample.

    Attributes
    ----------
    x, y : float
        Gaze on the screen, px; ``nan`` when this eye was lost.
    pupil : float
        Pupil diameter in the tracker's unit (iViewX: px or mm, by setup); ``nan`` if absent.
    valid : bool
        False where the tracker reported lost tracking (iViewX reports 0).
    """

    x: float
    y: float
    pupil: float = math.nan
    valid: bool = True


class GazeSample(NamedTuple):
    """One gaze sample.

    Attributes
    ----------
    t : float
        Host monotonic time at arrival, s.
    tracker_t : float
        Tracker clock, s.
    x, y : float
        Gaze, tracker screen px (combined over both eyes for binocular samples);
        ``nan`` when not valid, never the iViewX 0.
    valid : bool
        Whether (x, y) is a gaze position.
    pupil : float
        Pupil diameter (mean of valid eyes), tracker units; ``nan`` if absent. (default: nan)
    eye : str
        ``"l"``, ``"r"`` or ``"b"`` (binocular). (default: "b")
    left, right : EyeGaze or None
        Per-eye data where the tracker sent it. (default: None)
    extras : tuple of str
        Values the tracker sent after the ones asked for, as sent (iViewX: tokens after the
        requested format). (default: ())
    """

    t: float
    tracker_t: float
    x: float
    y: float
    valid: bool
    pupil: float = math.nan
    eye: str = "b"
    left: EyeGaze | None = None
    right: EyeGaze | None = None
    extras: tuple[str, ...] = ()


TrackerEventKind = Literal[
    "fixation_start",
    "fixation_end",
    "calibration",
    "validation",
    "message",
    "restart",
    "stall",
    "resume",
    "raw",
    "error",
    "lost",
    "reconnect",
]


class TrackerEvent(NamedTuple):
    """A tracker-side event that is not a sample.

    Attributes
    ----------
    t : float
        Host monotonic time at arrival, s.
    kind : TrackerEventKind
        ``"fixation_start"``, ``"fixation_end"``, ``"calibration"``, ``"validation"``,
        ``"message"``, ``"restart"``, ``"stall"``, ``"resume"``, ``"raw"`` (an unknown line),
        ``"error"`` (a replayed table that stopped being readable, a stream that came back
        unusable), ``"lost"`` and ``"reconnect"`` (a network stream gone, and found again).
    data : tuple[tuple[str, object], ...]
        Typed fields of the event as (name, value) pairs, e.g. (("eye", "l"), ("x", 512.0)).
    raw : str
        The line as received (latin-1), or "" for events made by the client itself.
    """

    t: float
    kind: TrackerEventKind
    data: tuple[tuple[str, object], ...] = ()
    raw: str = ""

    def get(self, name: str, default: object = None) -> object:
        """A field of `data`.

        Parameters
        ----------
        name : str
            The field's name.
        default : object
            What to return when there is no such field. (default: None)
        """
        return dict(self.data).get(name, default)


class TrackerStats(NamedTuple):
    """Counters of a tracker connection since it was opened.

    Attributes
    ----------
    received : int
        Samples parsed and queued.
    malformed : int
        Datagrams or lines that could not be parsed as anything (counted, dropped).
    dropped : int
        Samples dropped because the consumer's bounded buffer was full.
    gaps : int
        Samples missing, inferred from the sample rate and tracker timestamps.
    duplicates : int
        Samples whose tracker time repeated the previous one.
    out_of_order : int
        Samples whose tracker time went backwards by less than a restart.
    restarts : int
        Backwards jumps of the tracker clock large enough to be a restart.
    stalls : int
        Times the watchdog found the stream silent.
    reconnects : int
        Times a lost stream was found again and read on (network sources).
    """

    received: int = 0
    malformed: int = 0
    dropped: int = 0
    gaps: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    restarts: int = 0
    stalls: int = 0
    reconnects: int = 0
