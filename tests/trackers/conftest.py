"""Fixtures of the tracker tests: a screen, its geometry, a seeded gaze script."""

from __future__ import annotations

import pytest

from gazefusion.fusion.config import ScreenConfig
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.script import ScriptedGaze


@pytest.fixture
def screen() -> ScreenConfig:
    """The default 1920x1080 screen."""
    return ScreenConfig()


@pytest.fixture
def geometry(screen: ScreenConfig) -> ScreenGeometry:
    """Its geometry."""
    return screen.geometry()


@pytest.fixture
def script(geometry: ScreenGeometry) -> ScriptedGaze:
    """A seeded script with blinks, so lost samples occur in short streams."""
    return ScriptedGaze(geometry, seed=7, blink_probability=0.5)
