"""The detectors on the project's scripted eye (trackers.script.ScriptedGaze), with its truth.

The same eye drives the mock tracker, the iViewX simulator and the demo: fixational noise
and drift, main-sequence saccades, post-saccadic oscillations and blinks.
"""

from __future__ import annotations

import numpy as np
import pytest

from gazefusion.fusion.fixations import DETECTORS, make_detector
from gazefusion.fusion.types import FixationEvent
from gazefusion.trackers.script import ScriptedGaze

from .synthetic import LUND_SCREEN

DURATION_S = 20.0
RATE_HZ = 500.0


@pytest.mark.parametrize("pso_deg", [0.0, 0.5], ids=["no-pso", "pso-0.5deg"])
@pytest.mark.parametrize("method", sorted(DETECTORS))
def test_agrees_with_the_scripted_truth(method: str, pso_deg: float) -> None:
    script = ScriptedGaze(LUND_SCREEN, seed=3, pso_deg=pso_deg, blink_probability=0.2)
    times = np.arange(0.0, DURATION_S, 1.0 / RATE_HZ)
    detector = make_detector(method, LUND_SCREEN)
    found = []
    for t in times.tolist():
        x, y, valid = script(t)
        found += [e.fixation for e in detector.push(t, x, y, valid) if isinstance(e, FixationEvent) and e.kind == "end"]
    found += [e.fixation for e in detector.flush() if isinstance(e, FixationEvent) and e.kind == "end"]
    truth = script.true_fixations(DURATION_S)
    assert abs(len(found) - len(truth)) <= 0.1 * len(truth)
    in_truth = np.zeros(len(times), dtype=bool)
    for fixation in truth:
        in_truth[(times >= fixation.onset_s) & (times < fixation.offset_s)] = True
    in_found = np.zeros(len(times), dtype=bool)
    for fixation in found:
        in_found[(times >= fixation.onset - 1e-9) & (times <= fixation.offset + 1e-9)] = True
    assert np.mean(in_found == in_truth) >= 0.95
    onset_errors = [min(abs(f.onset - true.onset_s) for f in found) for true in truth]
    offset_errors = [min(abs(f.offset - true.offset_s) for f in found) for true in truth]
    assert np.median(onset_errors) <= 0.01 and np.median(offset_errors) <= 0.01


def _agreement(params: dict[str, float] | None, noise_deg: float) -> float:
    script = ScriptedGaze(LUND_SCREEN, seed=5, pso_deg=0.3, noise_deg=noise_deg)
    times = np.arange(0.0, DURATION_S, 1.0 / RATE_HZ)
    detector = make_detector("ivt", LUND_SCREEN, params)
    found = []
    for t in times.tolist():
        x, y, valid = script(t)
        found += [e.fixation for e in detector.push(t, x, y, valid) if isinstance(e, FixationEvent) and e.kind == "end"]
    found += [e.fixation for e in detector.flush() if isinstance(e, FixationEvent) and e.kind == "end"]
    in_truth = np.zeros(len(times), dtype=bool)
    for fixation in script.true_fixations(DURATION_S):
        in_truth[(times >= fixation.onset_s) & (times < fixation.offset_s)] = True
    in_found = np.zeros(len(times), dtype=bool)
    for fixation in found:
        in_found[(times >= fixation.onset - 1e-9) & (times <= fixation.offset + 1e-9)] = True
    return float(np.mean(in_found == in_truth))


def test_ivt_default_adapts_to_a_noisy_tracker() -> None:
    # 0.3 deg RMS noise per axis: a fixed 30 deg/s threshold shreds the fixations; the
    # default threshold follows the noise level.
    assert _agreement(None, noise_deg=0.3) >= 0.95
    assert _agreement({"noise_sd_factor": 0.0}, noise_deg=0.3) < 0.5
