"""The registry of fixation detectors: names to classes, and the factory."""

from __future__ import annotations

from collections.abc import Mapping

from gazefusion.fusion.errors import UserError
from gazefusion.fusion.fixations.base import FixationDetector
from gazefusion.fusion.fixations.idt import IDTDetector
from gazefusion.fusion.fixations.ivdt import IVDTDetector
from gazefusion.fusion.fixations.ivt import IVTDetector
from gazefusion.fusion.geometry import ScreenGeometry

DETECTORS: dict[str, type[FixationDetector]] = {
    IVTDetector.name: IVTDetector,
    IDTDetector.name: IDTDetector,
    IVDTDetector.name: IVDTDetector,
}

DEFAULT_METHOD = "ivt"


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
    UserError
        For an unknown method or parameter, naming it and listing the known ones.
    """
    cls = DETECTORS.get(method)
    if cls is None:
        raise UserError(f"unknown fixation method {method!r}; known: {', '.join(sorted(DETECTORS))}")
    return cls(geometry, params)


def describe_params(method: str) -> list[str]:
    """One line per parameter of `method`: name, default and meaning."""
    cls = DETECTORS[method]
    return [f"{name} (default: {spec.default:g}): {spec.doc}" for name, spec in cls.all_params().items()]
