"""Heatmaps and scanpaths: the density where the fixations are, weighted by duration; pictures drawn."""

from __future__ import annotations

import numpy as np
import pytest

from gazefusion.fusion.analysis.aois import Aoi, whole_picture
from gazefusion.fusion.analysis.pictures import PRINT_SIDE_PX, density_map, heatmap_picture, scanpath_picture


def test_density_integrates_to_the_durations_and_peaks_at_the_fixations() -> None:
    density = density_map(
        (200, 100), np.array([[50.0, 50.0], [150.0, 40.0]]), np.array([0.3, 0.9]), np.array([4.0, 8.0])
    )
    assert density.sum() == pytest.approx(1.2, rel=1e-2)
    assert np.unravel_index(np.argmax(density), density.shape) == (50, 50)  # the narrower one peaks higher
    assert density[40, 150] > density[40, 170]
    # A fixation off the picture adds only its tail; a nan one nothing.
    tail = density_map((200, 100), np.array([[-10.0, 50.0], [np.nan, 5.0]]), np.array([1.0, 1.0]), np.array([4.0, 4.0]))
    assert 0 < tail.sum() < 0.01


def test_pictures_are_print_sized_and_show_the_heat() -> None:
    rng = np.random.default_rng(1)
    picture = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    aois = [whole_picture((400, 300)), Aoi(name="title", rect=(10, 10, 200, 60))]
    heat = heatmap_picture(picture, np.array([[300.0, 200.0]]), np.array([1.0]), np.array([10.0]), aois, "test")
    assert heat.shape[1] == PRINT_SIDE_PX and heat.shape[0] > 600
    scale = PRINT_SIDE_PX / 400
    hot = heat[int(200.5 * scale), int(300.5 * scale)].astype(int)
    cold = heat[int(50.5 * scale), int(350.5 * scale)].astype(int)
    assert hot[2] - hot[0] > 40  # inferno's peak is a pale yellow: more red than blue
    assert abs(cold[2] - cold[0]) < 3  # where nobody looked: the dimmed grey picture
    empty = heatmap_picture(picture, np.zeros((0, 2)), np.zeros(0), np.zeros(0), aois)
    assert empty.shape == heat.shape
    path = scanpath_picture(picture, np.array([[50.0, 50.0], [300.0, 200.0]]), np.array([0.2, 0.8]), aois, "trial 1")
    assert path.shape == (600, 800, 3)
    assert not np.array_equal(path, scanpath_picture(picture, np.zeros((0, 2)), np.zeros(0), aois))
