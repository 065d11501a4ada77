"""iViewX's conventions in the samples it sends, made explicit at the edge.

iViewX reports lost tracking as 0: a gaze of (0, 0) and a pupil of 0, and, where the sample
format carries the eye position, an eye distance (``%EZ``) of 0 (the only sign of lost
tracking the independent clients check: docs/protocol/iviewx.md). Every other tracker (and
the rest of gazefusion) says "lost" with ``valid=False`` and nan, so the iViewX zeros are
turned into that here, where the protocol is read, and nowhere else.
"""

from __future__ import annotations

import math

from gazefusion.trackers.base import eye_gaze
from gazefusion.trackers.types import EyeGaze

LOST = 0.0
"""What iViewX sends for a gaze coordinate, pupil or eye distance it lost."""

EYE_DISTANCE_MM = (100.0, 2000.0)
"""Eye distances (``%EZ``, mm) that count as tracking; beyond 0, a wide range by assumption."""


def wire_eye(
    x: float,
    y: float,
    pupil: float = math.nan,
    distance_mm: float = math.nan,
    distance_range_mm: tuple[float, float] = EYE_DISTANCE_MM,
) -> EyeGaze:
    """One eye as iViewX sent it: (0, 0) is lost tracking, a pupil of 0 is no pupil, and an
    eye distance of 0 or out of range is lost tracking whatever the gaze reads.

    Parameters
    ----------
    x, y : float
        Gaze, px, as sent.
    pupil : float
        Pupil diameter as sent; nan where the format has none. (default: nan)
    distance_mm : float
        Eye distance (``%EZ``) as sent; nan where the format has none. (default: nan)
    distance_range_mm : tuple of float
        Eye distances that count as tracking, mm. (default: EYE_DISTANCE_MM)

    >>> wire_eye(0.0, 0.0, 3.1).valid, wire_eye(512.0, 384.0, 0.0)
    (False, EyeGaze(x=512.0, y=384.0, pupil=nan, valid=True))
    >>> wire_eye(512.0, 384.0, 3.1, distance_mm=0.0).valid
    False
    """
    low, high = distance_range_mm
    lost_by_distance = distance_mm == distance_mm and not low <= distance_mm <= high  # nan: no distance sent
    if (x == LOST and y == LOST) or lost_by_distance:
        return eye_gaze(math.nan, math.nan)
    return eye_gaze(x, y, math.nan if pupil == LOST else pupil)
