"""Fixtures of the iViewX tests: a simulator on loopback, in each of its modes, and a client
connected to it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from gazefusion.fusion.config import IViewXConfig, TrackerConfig
from gazefusion.trackers.iviewx.client import IViewXClient
from gazefusion.trackers.iviewx.simulator import MODES, IViewXSimulator, real_world
from gazefusion.trackers.script import ScriptedGaze
from gazefusion.trackers.types import GazeSample, TrackerEvent

FAST = TrackerConfig(iviewx=IViewXConfig(ping_timeout_s=1.0), watchdog_s=0.2)


def with_iviewx(config: TrackerConfig = FAST, **settings: object) -> TrackerConfig:
    """`config` with these ``tracker.iviewx`` settings changed."""
    return config.model_copy(update={"iviewx": config.iviewx.model_copy(update=settings)})


def connect(simulator: IViewXSimulator, config: TrackerConfig = FAST) -> IViewXClient:
    """An opened client talking to `simulator`, listening on a free loopback port."""
    client = IViewXClient("127.0.0.1", simulator.command_port, 0, "127.0.0.1", config)
    client.open()
    return client


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """Poll `condition` until it holds (a synchronisation, not a timing assertion: the timeout
    only bounds a failure)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def stream(client: IViewXClient, simulator: IViewXSimulator, seconds: float, min_samples: int = 0) -> list[GazeSample]:
    """Stream for `seconds` and until `min_samples` were sent (a loaded machine is slow), stop,
    and take every sample the client got."""
    client.start_streaming()
    assert wait_until(lambda: simulator.streaming)
    time.sleep(seconds)
    assert wait_until(lambda: simulator.samples_sent >= min_samples)
    return stop_and_take(client, simulator)


def stop_and_take(client: IViewXClient, simulator: IViewXSimulator) -> list[GazeSample]:
    """Stop the stream, wait until the client has taken in every sample the simulator sent
    (under load the last ones may still be on their way), and take them all."""
    client.stop_streaming()
    assert wait_until(lambda: not simulator.streaming)
    with simulator._stream_lock:  # ET_EST's last batch (a held, reordered sample) is out once it is free
        sent = simulator.samples_sent
    assert wait_until(lambda: client.stats().received >= sent), (client.stats(), sent)
    return list(client.samples(timeout_s=0))


def events(client: IViewXClient) -> list[TrackerEvent]:
    """Every event queued so far."""
    return list(iter(lambda: client.next_event(0), None))


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each simulator mode in turn: the notes' reading of the protocol, and what real servers sent."""
    return str(request.param)


@pytest.fixture
def simulator(script: ScriptedGaze, mode: str) -> Iterator[IViewXSimulator]:
    """A monocular 500 Hz simulator on a free loopback port, in `mode`."""
    with IViewXSimulator(script=script, rate_hz=500, point_s=0.01, real_world=real_world(mode)) as sim:
        yield sim


@pytest.fixture
def client(simulator: IViewXSimulator) -> Iterator[IViewXClient]:
    """A client connected to `simulator`."""
    client = connect(simulator)
    try:
        yield client
    finally:
        client.close()
