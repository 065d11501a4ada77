"""The demo summary: per-marker figures against the scene's truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.demo.summary import FixationRecord, mean_truth, summarise


@pytest.fixture(scope="module")
def scene() -> DemoScene:
    return DemoScene()


def test_error_is_the_offset_of_the_mean_from_the_truth(scene: DemoScene) -> None:
    offset = np.array([0.003, -0.004, 0.0])  # 5 mm
    records = [
        FixationRecord(1, 1.0, 1.8, 0.8, "book", mean_truth(scene, "book", 1.0, 1.8) + offset, "book"),
        FixationRecord(2, 4.0, 4.5, 0.5, "book", mean_truth(scene, "book", 4.0, 4.5) + offset, "book"),
        FixationRecord(3, 5.0, 5.6, 0.6, None, None, None),
        FixationRecord(4, 6.0, 6.9, 0.9, "sign", mean_truth(scene, "sign", 6.0, 6.9), "poster"),
    ]
    summary = summarise(records, scene, with_intent=True)
    by_id = {m.marker_id: m for m in summary.markers}
    assert by_id["book"].fixations == 2
    assert by_id["book"].dwell_s == pytest.approx(1.3)
    assert by_id["book"].error_mm == pytest.approx(5.0, abs=1e-6)
    assert by_id["book"].error_percent == pytest.approx(0.5 / np.linalg.norm(by_id["book"].true_position_m), rel=1e-6)
    assert by_id["sign"].error_mm == pytest.approx(0.0, abs=1e-6)
    assert by_id["poster"].mean_position_m is None and math.isnan(by_id["poster"].error_mm)
    assert (summary.fixations, summary.on_markers, summary.at_nothing) == (4, 3, 1)
    assert summary.fraction_on_markers == pytest.approx(0.75)
    assert summary.agreement == pytest.approx(0.75)
    assert summary.worst_error_percent == pytest.approx(by_id["book"].error_percent)
    text = summary.format()
    assert "(not looked at)" in text and "looks at nothing: 1" in text and "75 %" in text


def test_no_fixations(scene: DemoScene) -> None:
    summary = summarise([], scene)
    assert summary.fixations == 0 and math.isnan(summary.fraction_on_markers) and math.isnan(summary.agreement)
    assert "fixations: 0" in summary.format()
