"""Online fixation detection: incremental detectors behind a registry.

>>> from gazefusion.fusion.config import ScreenConfig
>>> from gazefusion.fusion.fixations import make_detector
>>> detector = make_detector("ivt", ScreenConfig().geometry())
>>> events = []
>>> for i in range(400):  # 500 Hz: 0.4 s on the centre, then 0.4 s to the left
...     events += detector.push(i / 500, 960.0 if i < 200 else 400.0, 540.0, True)
>>> events += detector.flush()  # the end of input ends the fixation in progress
>>> [(e.kind, e.fixation.id, e.fixation.x) for e in events if e.kind != "update"]
[('start', 1, 960.0), ('end', 1, 960.0), ('start', 2, 400.0), ('end', 2, 400.0)]
"""

from gazefusion.fusion.config import DEFAULT_FIXATION_METHOD as DEFAULT_METHOD
from gazefusion.fusion.fixations.base import COMMON_PARAMS, FixationBuilder, FixationDetector, Param
from gazefusion.fusion.fixations.idt import IDTDetector
from gazefusion.fusion.fixations.ivdt import IVDTDetector
from gazefusion.fusion.fixations.ivt import IVTDetector
from gazefusion.fusion.fixations.registry import DETECTORS, describe_params, make_detector

__all__ = [
    "COMMON_PARAMS",
    "DEFAULT_METHOD",
    "DETECTORS",
    "FixationBuilder",
    "FixationDetector",
    "IDTDetector",
    "IVDTDetector",
    "IVTDetector",
    "Param",
    "describe_params",
    "make_detector",
]
