"""Fixtures of the marker tests: the library of scenes.py, its camera, a detector."""

from __future__ import annotations

import numpy as np
import pytest

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.markers import MarkerDetector, MarkerLibrary
from tests.fusion.markers.scenes import CAMERA, SEEDS, SIZE, WIDTH_M, texture


@pytest.fixture(scope="session")
def library() -> MarkerLibrary:
    return MarkerLibrary.from_images([(marker_id, texture(marker_id), WIDTH_M) for marker_id in SEEDS], MarkersConfig())


@pytest.fixture(scope="session")
def intrinsics() -> CameraIntrinsics:
    return CameraIntrinsics(SIZE, CAMERA, np.zeros(5))


@pytest.fixture(scope="session")
def detector(library: MarkerLibrary, intrinsics: CameraIntrinsics) -> MarkerDetector:
    return MarkerDetector(library, intrinsics, MarkersConfig())
