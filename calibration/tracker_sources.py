"""The trackers a calibration runs against, including the simulated participant's.

A real tracker comes from its spec as in every run. A simulated participant needs to be
the gaze script of the tracker: the mock tracker (``mock``, ``mock?fast``) samples it in
process, and ``sim`` starts the iViewX simulator on loopback with the participant as its
script and connects the real client to it over UDP.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from gazefusion.fusion.config import Config
from gazefusion.fusion.errors import UserError
from gazefusion.trackers import open_tracker
from gazefusion.trackers.mock import ScriptedTracker

SIMULATOR_SPEC = "sim"


def is_fast(tracker: Any) -> bool:
    """Whether the tracker makes samples faster than real time (time targets by the samples)."""
    return isinstance(tracker, ScriptedTracker) and not tracker.realtime


def check_participant_spec(spec: str, simulated: bool) -> None:
    """Refuse a tracker spec that cannot go with (or without) a simulated participant.

    Raises
    ------
    UserError
        ``sim`` without a participant; a participant with a tracker other than mock or sim.
    """
    spec = spec.strip().lower()
    if spec == SIMULATOR_SPEC and not simulated:
        raise UserError(f"--tracker {SIMULATOR_SPEC} is the iViewX simulator driven by a simulated participant: add --simulate-participant")
    if simulated and spec != SIMULATOR_SPEC and not spec.startswith("mock"):
        raise UserError(f"--simulate-participant needs --tracker mock or {SIMULATOR_SPEC} (the participant runs in this process), not {spec!r}")


@contextlib.contextmanager
def open_calibration_tracker(config: Config, participant: Any = None, rate_hz: float = 500.0) -> Iterator[Any]:
    """Open the tracker of ``config.tracker.spec``, driven by `participant` when given.

    Parameters
    ----------
    config : Config
        The whole configuration (tracker and screen sections).
    participant : GazeScript or None
        A simulated participant; None: the spec's own gaze (a real tracker). (default: None)
    rate_hz : float
        Sample rate of the simulator (``sim``), Hz. (default: 500.0)

    Raises
    ------
    UserError
        A simulated participant with a tracker it cannot drive, or ``sim`` without one.
    """
    spec = config.tracker.spec.strip()
    check_participant_spec(spec, participant is not None)
    if spec.lower() == SIMULATOR_SPEC:
        from gazefusion.trackers.iviewx.simulator import IViewXSimulator

        with IViewXSimulator(script=participant, rate_hz=rate_hz, host="127.0.0.1", command_port=0) as simulator:
            client_spec = f"iviewx://127.0.0.1:{simulator.command_port}?listen=0"
            with open_tracker(client_spec, config.tracker, config.screen) as tracker:
                yield tracker
        return
    tracker = open_tracker(spec, config.tracker, config.screen)
    if participant is not None:
        tracker.script = participant
    with tracker:
        yield tracker
