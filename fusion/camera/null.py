"""The ``none`` source: no camera (tracker-only runs). It never delivers a frame."""

from __future__ import annotations

from gazefusion.fusion.camera.base import SOURCE_KINDS, CameraSource
from gazefusion.fusion.config import CameraConfig


class NoneSource(CameraSource):
    """A source without frames: `latest` waits its timeout and returns None; no threads.

    Parameters
    ----------
    config : CameraConfig
        Unused but for symmetry with the other sources.
    """

    def __init__(self, config: CameraConfig) -> None:
        super().__init__("none", config)

    def start(self) -> NoneSource:
        """Nothing to connect."""
        self._started = True
        return self

    def _connect(self, timeout_s: float) -> None:
        """Nothing to connect."""

    def _read(self) -> None:
        self._stop.wait()

    def _disconnect(self) -> None:
        """Nothing to disconnect."""


@SOURCE_KINDS.register("none", matches=lambda spec: spec.lower() == "none")
def open_none(spec: str, config: CameraConfig) -> NoneSource:
    """The ``none`` spec."""
    return NoneSource(config)
