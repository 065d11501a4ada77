"""gazefusion.trackers: the tracker interface, the iViewX client and simulator, mock trackers.

``open_tracker(spec, config, screen)`` turns a ``--tracker`` spec into a :class:`Tracker`; each
kind of spec is registered in :data:`TRACKER_KINDS` by the module that defines its tracker.
"""

from gazefusion.trackers.base import Tracker
from gazefusion.trackers.iviewx.spec import open_iviewx
from gazefusion.trackers.lsl import open_lsl
from gazefusion.trackers.mock import open_mock, open_mouse, open_replay
from gazefusion.trackers.spec import TRACKER_KINDS, open_tracker, spec_forms

__all__ = [
    "TRACKER_KINDS",
    "Tracker",
    "open_iviewx",
    "open_lsl",
    "open_mock",
    "open_mouse",
    "open_replay",
    "open_tracker",
    "spec_forms",
]
