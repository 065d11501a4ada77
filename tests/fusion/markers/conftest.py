"""Fixtures of the marker tests: the library of scenes.py, its camera, a detector."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="session")
def oxford_dir() -> Path:
    """The Oxford photographs with true homographies (../shared/data/oxford beside the repository
    or beside its worktree folder); the tests that use them are skipped where it is absent."""
    root = Path(__file__).resolve().parents[3]
    for base in (root.parent, root.parent.parent):
        candidate = base / "shared" / "data" / "oxford"
        if candidate.is_dir():
            return candidate
    pytest.skip(f"real photographs missing: {root.parent / 'shared' / 'data' / 'oxford'}")
