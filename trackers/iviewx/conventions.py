"""iViewX's conventions in the samples it sends, made explicit at the edge.

iViewX reports lost tracking as 0: a gaze of (0, 0) and a pupil of 0. Every other tracker
(and the rest of gazefusion) says "lost" with ``valid=False`` and nan, so the iViewX zeros
are turned into that here, where the protocol is read, and nowhere else.
"""

from __future__ import annotations

import math

from gazefusion.trackers.base import eye_gaze
from gazefusion.trackers.types import EyeGaze

LOST = 0.0
"""What iViewX sends for a gaze coordinate or pupil it lost."""


def wire_eye(x: float, y: float, pupil: float = math.nan) -> EyeGaze:
    """One eye as iViewX sent it: (0, 0) is lost tracking, a pupil of 0 is no pupil.

    Parameters
    ----------
    x, y : float
        Gaze, px, as sent.
    pupil : float
        Pupil diameter as sent; nan where the format has none. (default: nan)

    >>> wire_eye(0.0, 0.0, 3.1).valid, wire_eye(512.0, 384.0, 0.0)
    (False, EyeGaze(x=512.0, y=384.0, pupil=nan, valid=True))
    """
    if x == LOST and y == LOST:
        return eye_gaze(math.nan, math.nan)
    return eye_gaze(x, y, math.nan if pupil == LOST else pupil)
