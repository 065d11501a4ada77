"""The registry of fixation detectors (config key ``fixations.method``) and the factory.

A detector registers itself where it is defined::

    @DETECTORS.register("ivt")
    class IVTDetector(FixationDetector): ...
"""

from __future__ import annotations

from collections.abc import Mapping

from gazefusion.fusion.fixations.base import FixationDetector
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.registry import Registry

DETECTORS: Registry[type[FixationDetector]] = Registry("fixation method", key="fixations.method")
"""Fixation detector classes by name."""


def make_detector(method: str, geometry: ScreenGeometry, params: Mapping[str, float] | None = None) -> FixationDetector:
    """Create a registered detector.

    Parameters
    ----------
    method : str
        A name in :data:`DETECTORS`.
    geometry : ScreenGeometry
        The tracked screen, for degrees per axis.
    params : Mapping[str, float] or None
        Parameter overrides (degrees, seconds); None uses the defaults. (default: None)

    Raises
    ------
    ConfigError
        For an unknown method or parameter, naming it and listing the known ones.
    """
    return DETECTORS[method](geometry, params)


def describe_params(method: str) -> list[str]:
    """One line per parameter of a fixation method: name, default and meaning.

    Parameters
    ----------
    method : str
        A registered method (``ivt``, ``idt``).
    """
    cls = DETECTORS[method]
    return [f"{name} (default: {spec.default:g}): {spec.doc}" for name, spec in cls.all_params().items()]
