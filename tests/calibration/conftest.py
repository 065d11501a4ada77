"""Rendered chessboard views shared by the calibration tests (rendered once per run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.calibration.chessboards import BoardPose, write_views

BOARD = (9, 6)
SQUARE_MM = 25.0


@pytest.fixture(scope="session")
def rendered_views(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, BoardPose]]:
    """15 views of a 9x6 board, 25 mm squares, by the known camera (PNG files and their poses)."""
    return write_views(tmp_path_factory.mktemp("chessboards"), BOARD, SQUARE_MM, 15, seed=3)
