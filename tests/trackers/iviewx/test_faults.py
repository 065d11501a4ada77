"""Fault injection over real UDP, in both simulator modes: loss, duplication, reordering, junk,
restart, packed datagrams."""

from __future__ import annotations

import pytest

from gazefusion.trackers.iviewx.simulator import Faults, IViewXSimulator, real_world
from gazefusion.trackers.script import ScriptedGaze

from .conftest import connect, events, stream


def _run(script: ScriptedGaze, faults: Faults, mode: str, seconds: float = 0.4, binocular: bool = False):
    with IViewXSimulator(
        script=script, rate_hz=500, binocular=binocular, faults=faults, real_world=real_world(mode)
    ) as sim:
        with connect(sim) as client:
            got = stream(client, sim, seconds)
            return sim, client, got


def test_loss_is_counted_as_gaps(script: ScriptedGaze, mode: str) -> None:
    sim, client, got = _run(script, Faults(loss=0.1, seed=1), mode)
    made = sim.sent
    first = next(i for i, s in enumerate(made) if s.sent)
    last = max(i for i, s in enumerate(made) if s.sent)
    lost_inside = sum(1 for s in made[first:last] if not s.sent)
    assert lost_inside > 5
    assert [g.tracker_t for g in got] == [s.time_us * 1e-6 for s in sim.sent_samples()]
    assert client.stats().gaps == lost_inside


def test_duplicates_are_dropped_and_counted(script: ScriptedGaze, mode: str) -> None:
    sim, client, got = _run(script, Faults(duplicate=0.1, seed=2), mode)
    assert sim.duplicates_sent > 5
    assert client.stats().duplicates == sim.duplicates_sent
    assert [g.tracker_t for g in got] == [s.time_us * 1e-6 for s in sim.sent_samples()]


def test_reordered_samples_arrive_and_are_counted(script: ScriptedGaze, mode: str) -> None:
    sim, client, got = _run(script, Faults(reorder=0.1, seed=3), mode)
    sent = sim.sent_samples()
    swaps = sum(1 for a, b in zip(sent, sent[1:]) if b.time_us < a.time_us)
    assert swaps > 5
    assert [g.tracker_t for g in got] == [s.time_us * 1e-6 for s in sent]  # in arrival order, none lost
    stats = client.stats()
    assert (stats.out_of_order, stats.gaps, stats.restarts) == (swaps, 0, 0)


def test_junk_datagrams_are_malformed_and_harmless(script: ScriptedGaze, mode: str) -> None:
    sim, client, got = _run(script, Faults(junk=0.2, seed=4), mode)
    assert sim.junk_sent > 10
    assert client.stats().malformed == sim.junk_sent
    assert len(got) == len(sim.sent_samples())


def test_restart_resets_the_clock(script: ScriptedGaze, mode: str) -> None:
    sim, client, got = _run(script, Faults(restart_at_s=0.2), mode, seconds=0.5)
    stats = client.stats()
    assert (stats.restarts, stats.gaps, stats.out_of_order) == (1, 0, 0)
    restart = [e for e in events(client) if e.kind == "restart"]
    assert len(restart) == 1 and restart[0].get("to_s") == pytest.approx(0.001)
    assert len(got) == len(sim.sent_samples())


@pytest.mark.parametrize("binocular", [False, True], ids=["monocular", "binocular"])
def test_several_samples_per_datagram(script: ScriptedGaze, binocular: bool, mode: str) -> None:
    sim, client, got = _run(script, Faults(lines_per_datagram=5), mode, binocular=binocular)
    sent = sim.sent_samples()
    assert sim.datagrams_sent < len(sent)
    assert [g.tracker_t for g in got] == [s.time_us * 1e-6 for s in sent]
    assert client.stats().malformed == 0
