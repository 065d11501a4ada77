"""gazefusion.trackers: the tracker interface, the iViewX client and simulator, mock trackers.

``open_tracker(spec, config, screen)`` turns a ``--tracker`` spec into a :class:`Tracker`.
"""

from gazefusion.trackers.base import Tracker
from gazefusion.trackers.spec import SPEC_FORMS, open_tracker

__all__ = ["SPEC_FORMS", "Tracker", "open_tracker"]
