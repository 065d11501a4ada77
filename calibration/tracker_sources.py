"""The trackers a calibration runs against, including the simulated participant's.

A real tracker comes from its spec as in every run. A simulated participant needs to be
the gaze script of the tracker: the mock tracker (``mock``, ``mock?fast``) samples it in
process, and ``sim`` starts the iViewX simulator on loopback with the participant as its
script and connects the real client to it over UDP. ``sim?mode=real-world`` runs the
simulator in its real-world mode (what real servers were seen to send); ``sim`` and
``sim?mode=notes`` in the notes' reading of the protocol.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import numpy as np

from gazefusion.calibration.tracker import CameraView
from gazefusion.calibration.tracker_procedure import CalibrationAborted, Target
from gazefusion.fusion.config import Config
from gazefusion.fusion.errors import ConfigError, GazefusionError, TrackerError
from gazefusion.trackers import open_tracker
from gazefusion.trackers.iviewx.client import IViewXClient
from gazefusion.trackers.mock import ScriptedTracker

SIMULATOR_SPEC = "sim"
SIMULATOR_FORMS = "sim[?mode=notes|real-world]"


def simulator_mode(spec: str) -> str | None:
    """The simulator mode a ``sim`` spec asks for, or None when `spec` is not ``sim``.

    Parameters
    ----------
    spec : str
        A tracker spec, e.g. ``sim?mode=real-world``.

    Raises
    ------
    TrackerError
        ``sim`` with an option other than ``mode``, or a mode that is not one of the simulator's.
    """
    from gazefusion.trackers.iviewx.simulator import MODES

    spec = spec.strip().lower()
    name, _, query = spec.partition("?")
    if name != SIMULATOR_SPEC:
        return None
    options = dict(parse_qsl(query, keep_blank_values=True))
    if set(options) - {"mode"} or options.get("mode", "notes") not in MODES:
        raise TrackerError(f"tracker spec {spec!r}: the simulator's form is {SIMULATOR_FORMS}")
    return options.get("mode", "notes")


def is_fast(tracker: Any) -> bool:
    """Whether the tracker makes samples faster than real time (time targets by the samples)."""
    return isinstance(tracker, ScriptedTracker) and not tracker.realtime


def check_participant_spec(spec: str, simulated: bool) -> None:
    """Refuse a tracker spec that cannot go with (or without) a simulated participant.

    Raises
    ------
    ConfigError
        ``sim`` without a participant; a participant with a tracker other than mock or sim.
    """
    mode = simulator_mode(spec)
    spec = spec.strip().lower()
    if mode is not None and not simulated:
        raise ConfigError(
            f"--tracker {SIMULATOR_SPEC} is the iViewX simulator driven by a simulated participant: add --simulate-participant"
        )
    if simulated and mode is None and not spec.startswith("mock"):
        raise ConfigError(
            f"--simulate-participant needs --tracker mock or {SIMULATOR_SPEC} (the participant runs in this process), not {spec!r}"
        )


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
    GazefusionError
        A simulated participant with a tracker it cannot drive, ``sim`` without one, or a
        ``sim`` spec that is not one of its forms.
    """
    spec = config.tracker.spec.strip()
    check_participant_spec(spec, participant is not None)
    mode = simulator_mode(spec)
    if mode is not None:
        from gazefusion.trackers.iviewx.simulator import IViewXSimulator, real_world

        # Binocular: the combined gaze is the mean of the eyes, so the script itself (the monocular
        # right eye is offset by the simulated vergence).
        with IViewXSimulator(
            script=participant,
            rate_hz=rate_hz,
            binocular=True,
            host="127.0.0.1",
            command_port=0,
            real_world=real_world(mode),
        ) as simulator:
            client_spec = f"iviewx://127.0.0.1:{simulator.command_port}?listen=0"
            with open_tracker(client_spec, config.tracker, config.screen) as tracker:
                yield tracker
        return
    tracker = open_tracker(spec, config.tracker, config.screen)
    if participant is not None and isinstance(tracker, ScriptedTracker):
        tracker.script = participant
    with tracker:
        yield tracker


def run_tracker_calibration(
    tracker: Any,
    view: CameraView,
    presenter: Any,
    points: int = 9,
    timeout_s: float = 120.0,
    poll_interval_s: float = 0.03,
) -> dict[str, Any]:
    """Run the iViewX server's own calibration and validation, showing its targets.

    The server announces its targets (``ET_PNT``) and shows them one by one (``ET_CHG``);
    each is drawn on the screen (and given to a simulated participant) as it comes. The
    server accepts them itself (``ET_CPA 2 1``); space accepts by hand (``ET_ACC``), Esc
    aborts (``ET_BRK``). Then ``ET_VLS`` validates, and the server's figures are returned.

    Parameters
    ----------
    tracker : IViewXClient
        An opened iViewX client.
    view : CameraView
        Screen geometry (the calibration area is the whole screen) and camera size.
    presenter : Presenter
        Shows the targets and reports keys.
    points : int
        2, 5, 9 or 13 targets. (default: 9)
    timeout_s : float
        Each of calibration and validation must finish within this, s. (default: 120.0)
    poll_interval_s : float
        How often keys are read, s. (default: 0.03)

    Returns
    -------
    dict
        The server's figures: points, accepted, per eye the RMS deviation in px and the mean
        deviation in degrees (nan where its line did not carry them), and the result lines
        as received.

    Raises
    ------
    CalibrationAborted
        Esc, or ``ET_BRK`` from the server.
    GazefusionError
        Not an iViewX tracker, or the server did not finish in time.
    """
    if not isinstance(tracker, IViewXClient):
        raise TrackerError(
            "--tracker-calibration runs the iViewX server's own calibration: it needs --tracker iviewx://… or sim"
        )

    def shower(prefix: str) -> Any:
        def show(point: Any) -> None:
            screen = np.array([point.x, point.y], dtype=np.float64)
            presenter.show(Target(f"{prefix}{point.index}", view.screen_to_camera(screen), screen))

        return show

    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["calibration"] = calibration = tracker.calibrate(
                points, area_px=view.screen_size_px, timeout_s=timeout_s, on_target=shower("T")
            )
            if calibration.finished:
                box["validation"] = tracker.validate(timeout_s=timeout_s, on_target=shower("TV"))
        except GazefusionError as exc:
            box["error"] = exc

    worker = threading.Thread(target=work, name="gazefusion-iviewx-calibration", daemon=True)
    worker.start()
    by_user = False
    try:
        while worker.is_alive():
            key = presenter.poll()
            if key == "abort" and not by_user:
                by_user = True
                tracker.abort()
            elif key == "accept":
                tracker.accept_point()
            worker.join(poll_interval_s)
    except KeyboardInterrupt:
        tracker.abort()
        raise
    finally:
        presenter.show(None)
    if "error" in box:
        raise box["error"]
    who = "by the user" if by_user else "by the tracker (ET_BRK)"
    calibration = box["calibration"]
    validation = box.get("validation")
    if calibration.aborted or validation is None or validation.aborted:
        step = "calibration" if calibration.aborted or validation is None else "validation"
        raise CalibrationAborted(f"iViewX {step} aborted {who}: nothing written")
    figures: dict[str, Any] = {"points": len(calibration.points), "accepted": len(set(calibration.accepted))}
    for eye, result in validation.eyes.items():
        figures[f"{eye}_rms_px"] = result.rms_distance_px
        figures[f"{eye}_mean_x_deg"] = result.mean_x_deg
        figures[f"{eye}_mean_y_deg"] = result.mean_y_deg
    # The result lines as iViewX sent them: their layout rests on few sources, so they are kept.
    figures["lines"] = " | ".join(validation.lines) or "none"
    return figures
