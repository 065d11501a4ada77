"""How late a frame is against its stream's own timestamps (`StreamClock`, issue 15 item 4)."""

from __future__ import annotations

import pytest

from gazefusion.fusion.camera.opencv import StreamClock


def lateness(arrivals: list[tuple[float, float]]) -> list[float]:
    clock = StreamClock()
    return [round(clock.lateness_s(t, stream_s), 3) for t, stream_s in arrivals]


STEADY = [(100.0 + i / 15 + (0.01 if i % 3 else 0.0), 5.0 + i / 15) for i in range(30)]


@pytest.mark.parametrize(
    ("arrivals", "expected_late"),
    [
        (STEADY, [0.0] + [0.0 if i % 3 == 0 else 0.01 for i in range(1, 30)]),
        # a stall: four frames buffered before it arrive 5 s late, back to back
        (STEADY[:10] + [(106.0 + i * 0.001, 5.0 + (10 + i) / 15) for i in range(4)], None),
        # the stream restarts its clock (a new session): no frame is judged against the old one
        (STEADY[:10] + [(110.0 + i / 15, 0.5 + i / 15) for i in range(5)], [0.0] * 15),
        # no timestamps: never late
        ([(100.0 + i, float("nan")) for i in range(5)], [0.0] * 5),
    ],
    ids=["steady-with-jitter", "buffered-through-a-stall", "clock-restarts", "no-timestamps"],
)
def test_lateness(arrivals, expected_late) -> None:
    got = lateness(arrivals)
    if expected_late is None:
        assert max(got[:10]) <= 0.01
        assert all(4.5 < late < 5.5 for late in got[10:])
    else:
        assert got[: len(expected_late)] == pytest.approx(expected_late, abs=0.011)
