"""The registered fixation detectors on synthetic gaze with known fixations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazefusion.fusion.errors import UserError
from gazefusion.fusion.fixations import DETECTORS, make_detector
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import FixationEvent

from .synthetic import LUND_SCREEN, Synthetic, make_gaze

METHODS = sorted(DETECTORS)


def run(method: str, gaze: Synthetic, geometry: ScreenGeometry = LUND_SCREEN, params=None) -> list[tuple[int, FixationEvent]]:
    """All events with the index of the sample that was pushed when each came out."""
    detector = make_detector(method, geometry, params)
    events = []
    for i, (t, x, y, v) in enumerate(zip(gaze.t.tolist(), gaze.x.tolist(), gaze.y.tolist(), gaze.valid.tolist())):
        events += [(i, e) for e in detector.push(t, x, y, v)]
    events += [(len(gaze.t), e) for e in detector.flush()]
    return events


def ends(events) -> list:
    return [e.fixation for _, e in events if e.kind == "end"]


@pytest.mark.parametrize("method", METHODS)
def test_finds_every_fixation_with_onset_and_offset_within_a_few_samples(method: str) -> None:
    gaze = make_gaze(seed=3)
    found = ends(run(method, gaze))
    assert len(found) == len(gaze.fixations)
    step = 1 / 500
    for fixation, (onset, offset), (cx, cy) in zip(found, gaze.fixations, gaze.centres):
        assert abs(fixation.onset - onset) <= 10 * step
        assert abs(fixation.offset - offset) <= 10 * step
        assert math.hypot(fixation.x - cx, fixation.y - cy) < 5


def test_unknown_method_names_it_and_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match="'nope'.*idt, ivt"):
        make_detector("nope", LUND_SCREEN)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_parameter_names_it_and_lists_the_known_ones(method: str) -> None:
    with pytest.raises(UserError, match="'bogus_s'.*min_duration_s"):
        make_detector(method, LUND_SCREEN, {"bogus_s": 1.0})
