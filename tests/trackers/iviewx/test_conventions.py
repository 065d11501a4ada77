"""iViewX's "0 means lost" convention, applied where its samples are read and nowhere else."""

from __future__ import annotations

import math

import pytest

from gazefusion.trackers.iviewx.conventions import wire_eye
from gazefusion.trackers.iviewx.protocol import SampleFormat


@pytest.mark.parametrize(
    ("x", "y", "pupil", "valid", "expected_pupil"),
    [
        (0.0, 0.0, 3.0, False, math.nan),
        (0.0, 0.0, 0.0, False, math.nan),
        (0.0, 384.0, 3.0, True, 3.0),
        (512.0, 384.0, 0.0, True, math.nan),
        (512.0, 384.0, 3.5, True, 3.5),
    ],
    ids=["lost", "lost-no-pupil", "left-edge", "no-pupil", "tracked"],
)
def test_wire_eye(x: float, y: float, pupil: float, valid: bool, expected_pupil: float) -> None:
    eye = wire_eye(x, y, pupil)
    assert eye.valid is valid
    assert (math.isnan(eye.pupil) and math.isnan(expected_pupil)) or eye.pupil == expected_pupil
    if not valid:
        assert math.isnan(eye.x) and math.isnan(eye.y)


def test_the_parser_turns_zeros_into_lost_samples() -> None:
    fmt = SampleFormat("%TU %ET %SX %SY %DX %DY")
    lost = fmt.parse("1000 b 0 0 0 0 0 0 0 0".split(), 1.0)
    one = fmt.parse("1000 b 0 500 0 300 0 4 0 4".split(), 1.0)  # the left eye lost
    assert lost is not None and not lost.valid and math.isnan(lost.x)
    assert one is not None and one.valid and (one.x, one.y) == (500.0, 300.0)
    assert one.left is not None and not one.left.valid and one.right is not None and one.right.valid
