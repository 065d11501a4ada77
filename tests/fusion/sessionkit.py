"""Helpers of the core's tests: a rendered marker scene served as MJPEG, configs, runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gazefusion.fusion.config import Config, load_config
from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.demo.server import MjpegServer
from gazefusion.fusion.runner import Runner

SCENE = DemoScene()


def scene_server(port: int = 0, fps: float = 30.0) -> MjpegServer:
    """The demo scene (five markers at known poses) served as MJPEG on loopback, started."""
    return MjpegServer(lambda index, t_s: SCENE.render(t_s)[0], fps=fps, port=port).start()


def scene_files(folder: Path) -> dict[str, str]:
    """The scene's marker library and intrinsics written into `folder`."""
    markers = SCENE.write_library(folder / "markers")
    intrinsics = SCENE.write_intrinsics(folder / "intrinsics.yaml")
    return {"markers.file": str(markers), "calibration.intrinsics": str(intrinsics)}


def make_config(**overrides: Any) -> Config:
    """A configuration from dotted keys (None values ignored)."""
    return load_config(None, {key.replace("__", "."): value for key, value in overrides.items()})


def marker_gaze_tracker(config: Config, rate_hz: float = 250.0, seed: int = 0) -> Any:
    """A streaming scripted tracker whose gaze visits the scene's markers (full-screen mapping) and the wall."""
    import numpy as np

    from gazefusion.calibration.mapping import TrackerCameraMapping
    from gazefusion.trackers.mock import ScriptedTracker
    from gazefusion.trackers.script import ScriptedGaze

    mapping = TrackerCameraMapping.fullscreen(tuple(config.screen.size_px), SCENE.size)
    to_screen = np.linalg.inv(mapping.params)
    targets = []
    for truth in SCENE.truth_at_rest().values():
        x, y, w = to_screen @ np.array([truth.centre_px[0], truth.centre_px[1], 1.0])
        targets.append((x / w, y / w, 0.45))
    targets.insert(2, (1750.0, 950.0, 0.3))  # the wall: a look at nothing
    script = ScriptedGaze(config.screen.geometry(), seed=seed, targets=targets, blink_probability=0.0)
    return ScriptedTracker(script, rate_hz=rate_hz)


def run_for(config: Config, seconds: float, during: Any = None, tracker: Any = None) -> Runner:
    """Run a pipeline for `seconds` (calling `during(runner, elapsed_s)` every 50 ms), stop it."""
    runner = Runner(config, tracker=tracker).start()
    began = time.monotonic()
    try:
        while time.monotonic() - began < seconds and not runner.finished:
            if during is not None:
                during(runner, time.monotonic() - began)
            time.sleep(0.05)
    finally:
        runner.stop()
    runner.raise_error()
    return runner


def run_until(
    config: Config,
    done: Callable[[Runner], bool],
    tracker: Any = None,
    on_event: Callable[[Any], None] | None = None,
    timeout_s: float = 300.0,
) -> Runner:
    """Run a pipeline until `done(runner)` holds (checked every 50 ms), stop it.

    `on_event` is subscribed before the start, so it sees every event. The run fails after
    `timeout_s`: a bound on a failure, not a timing (a loaded machine only takes longer).
    """
    runner = Runner(config, tracker=tracker)
    if on_event is not None:
        runner.subscribe(on_event)
    runner.start()
    deadline = time.monotonic() + timeout_s
    try:
        while not done(runner):
            if runner.finished or time.monotonic() > deadline:
                runner.raise_error()
                raise AssertionError(f"the run {'ended' if runner.finished else 'timed out'} before it was done")
            time.sleep(0.05)
    finally:
        runner.stop()
    runner.raise_error()
    return runner
