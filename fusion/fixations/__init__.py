"""Online fixation detection: incremental detectors behind a registry.

>>> from gazefusion.fusion.fixations import make_detector
>>> detector = make_detector("ivt", geometry)            # doctest: +SKIP
>>> for t, x, y, valid in samples:                        # doctest: +SKIP
...     for event in detector.push(t, x, y, valid):
...         print(event.kind, event.fixation)
>>> detector.flush()                                      # doctest: +SKIP
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
