"""Helpers of the core's tests: a rendered marker scene served as MJPEG, configs, runs."""

from __future__ import annotations

import time
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


def run_for(config: Config, seconds: float, during: Any = None) -> Runner:
    """Run a pipeline for `seconds` (calling `during(runner, elapsed_s)` every 50 ms), stop it."""
    runner = Runner(config).start()
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
