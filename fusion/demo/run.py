"""The demo: the whole pipeline on the embedded default, against a known truth.

It writes the marker library and the known intrinsics, serves the synthetic scene as an MJPEG
camera on loopback HTTP and runs the iViewX simulator on loopback UDP with a scripted eye that
visits the markers (both in a child process, as real devices are other machines), and runs
the same :class:`~gazefusion.fusion.api.Pipeline` that
``gazefusion run`` uses, recording a session. Looks are printed as they happen; at the end, a
summary per marker beside the scene's truth.

Output folder (the session; ``gazefusion replay`` accepts it)::

    OUT/session.yaml, gaze.tsv, video.mjpeg, frames.tsv, fixations.tsv, looks.tsv, events.jsonl
    OUT/truth.tsv          every served frame's true marker poses (scene clock and host clock)
    OUT/scene.yaml         the scene: markers at rest, camera sway, intrinsics, clock origin
    OUT/scene/markers.yaml the marker library (PNG pictures beside it)
    OUT/scene/intrinsics.yaml the camera's known intrinsics
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gazefusion.fusion.api import FixationEvent, LookEvent, Pipeline
from gazefusion.fusion.camera import CameraStats
from gazefusion.fusion.config import Config, load_config, override_config, validate_config
from gazefusion.fusion.demo.devices import DemoDevices
from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.demo.server import ServerStats
from gazefusion.fusion.demo.summary import DemoSummary, FixationRecord, summarise
from gazefusion.fusion.demo.truth import write_fixation_truth
from gazefusion.fusion.display import run_in_foreground
from gazefusion.fusion.errors import ConfigError, GazefusionError, OutputError
from gazefusion.fusion.files import write_yaml_atomic
from gazefusion.fusion.window import display_available

log = logging.getLogger(__name__)

# The demo's configuration over the defaults; config/demo.yaml holds the same (a test keeps
# them equal). Sources, files and the recording folder are filled in at run time.
DEMO_CONFIG: dict[str, Any] = {
    "screen": {"size_px": [1920, 1080], "size_mm": [531.0, 299.0], "distance_mm": 650.0},
    "fixations": {"method": "ivdt", "params": {}},
    "aoi": {"size_deg": 4.5},
    "markers": {"n_features": 1000, "min_inliers": 12},
    "camera": {"connect_timeout_s": 5.0},
    "tracker": {"iviewx": {"ping_timeout_s": 2.0}},
    "display": {"annotated_video": True, "look_snapshots": True},
}

FPS = 30.0
GAZE_RATE_HZ = 250.0  # an SMI RED250


class LookLine(NamedTuple):
    """A look as the demo printed it.

    Attributes
    ----------
    t_scene : float
        Scene time of the look's frame, s.
    fixation_id : int
        The fixation.
    marker_id : str or None
        The marker, or None for a look at nothing.
    position_m : numpy.ndarray or None
        (3,) reported centre, m.
    latency_s : float
        Host time from the fixation's start event to this look's event, s (nan for a change).
    """

    t_scene: float
    fixation_id: int
    marker_id: str | None
    position_m: np.ndarray | None
    latency_s: float


class DemoResult(NamedTuple):
    """What a demo run produced.

    Attributes
    ----------
    summary : DemoSummary
        Per-marker figures against the truth.
    session_dir : pathlib.Path
        The recorded session.
    looks : list[LookLine]
        Every look printed (first and change looks).
    server : ServerStats
        The MJPEG server's counts.
    runner : dict
        The runner's counts (samples, frames, frames skipped, fixations, looks).
    camera : CameraStats or None
        The camera source's stats at the end (or None).
    wall_s : float
        Duration of the pipeline run, s.
    cpu_s : float
        CPU time (user + system) this process spent during the run, s: the pipeline's cost
        (the camera and tracker stand-ins run in another process).
    """

    summary: DemoSummary
    session_dir: Path
    looks: list[LookLine]
    server: ServerStats
    runner: dict[str, Any]
    camera: CameraStats | None
    wall_s: float
    cpu_s: float


def default_out_dir(now: _dt.datetime | None = None) -> Path:
    """``./gazefusion-demo-YYYYmmdd-HHMMSS`` under the current directory."""
    now = now or _dt.datetime.now()
    return Path.cwd() / f"gazefusion-demo-{now:%Y%m%d-%H%M%S}"


def demo_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """The demo's configuration: `DEMO_CONFIG` (or a file given instead) with run-time overrides.

    Parameters
    ----------
    path : str or pathlib.Path or None
        A configuration file to use instead of `DEMO_CONFIG`. (default: None)
    overrides : Mapping or None
        ``"section.key"`` to value, applied last. (default: None)
    """
    if path is not None:
        return load_config(path, overrides)
    return override_config(validate_config(DEMO_CONFIG, "demo configuration"), overrides, "demo configuration")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def format_look(line: LookLine) -> str:
    """One printed line per look: scene time, marker, x y z, distance."""
    if line.marker_id is None or line.position_m is None:
        return f"{line.t_scene:7.2f} s  fixation {line.fixation_id:<3d} (nothing)"
    x, y, z = line.position_m
    distance = float(np.linalg.norm(line.position_m))
    return (
        f"{line.t_scene:7.2f} s  fixation {line.fixation_id:<3d} {line.marker_id:<8} "
        f"x {x:+.3f}  y {y:+.3f}  z {z:+.3f} m   distance {distance:.3f} m"
    )


def run_demo(
    out_dir: str | Path | None = None,
    seconds: float = 20.0,
    headless: bool | None = None,
    config_path: str | Path | None = None,
    seed: int = 0,
    echo: Callable[[str], None] | None = print,
    overrides: Mapping[str, Any] | None = None,
) -> DemoResult:
    """Run the demo and return its figures.

    The camera and tracker stand-ins start in a spawned child process, which imports the
    calling script: call this from under ``if __name__ == "__main__":``.

    Parameters
    ----------
    out_dir : str or pathlib.Path or None
        Session folder to write; None: `default_out_dir()`. (default: None)
    seconds : float
        Length of the run, s. (default: 20.0)
    headless : bool or None
        No window; None: headless when no display is available. (default: None)
    config_path : str or pathlib.Path or None
        A configuration file to use instead of the demo's own. (default: None)
    seed : int
        Seed of the scripted eye. (default: 0)
    echo : callable or None
        Where the printed lines go; None prints nothing. (default: print)
    overrides : Mapping or None
        More ``"section.key"`` values over the demo's configuration (None values ignored),
        e.g. ``{"lsl.outlets": True}``: the run's streams on Lab Streaming Layer. The
        sources, files and recording folder are the demo's own. (default: None)

    Raises
    ------
    GazefusionError
        Anything that fails to start, with one line saying what.
    """
    if not seconds > 0:
        raise ConfigError(f"--seconds must be positive, got {seconds}")
    say = echo or (lambda text: None)
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    if (out / "session.yaml").exists():
        raise OutputError(f"{out} already holds a session: choose another --out")
    if headless is None:
        headless = not display_available()
    scene = DemoScene()
    try:
        library = scene.write_library(out / "scene")
        intrinsics = scene.write_intrinsics(out / "scene" / "intrinsics.yaml")
    except OSError as exc:
        raise OutputError(f"cannot write the demo's files into {out}: {exc.strerror or exc}") from None

    base = demo_config(config_path, overrides)  # bad values end here, before anything starts
    geometry = base.screen.geometry()
    listen_port = _free_udp_port()
    devices = DemoDevices(out / "truth.tsv", geometry, listen_port, seed=seed, fps=FPS, gaze_rate_hz=GAZE_RATE_HZ)
    devices.start()
    pipeline: Pipeline | None = None
    printed: list[LookLine] = []
    records: list[FixationRecord] = []
    try:
        config = demo_config(
            config_path,
            {
                **(overrides or {}),
                "camera.source": devices.url,
                "tracker.spec": f"iviewx://127.0.0.1:{devices.command_port}?listen={listen_port}",
                "markers.file": str(library.resolve()),
                "calibration.intrinsics": str(intrinsics.resolve()),
                "record.dir": str(out),
                "display.headless": bool(headless),
            },
        )
        extra = {
            "demo": {
                **scene.to_dict(),
                "truth_table": "truth.tsv",
                "scene_origin_monotonic_s": devices.origin_s,
                "seed": seed,
            }
        }
        pipeline = Pipeline(config, extra_session=extra)
        starts: dict[int, float] = {}
        origin = devices.origin_s

        def on_event(event: Any) -> None:
            now = time.monotonic()
            if isinstance(event, FixationEvent):
                if event.kind == "start":
                    starts[event.fixation.id] = now
                return
            if not isinstance(event, LookEvent) or event.kind == "pursuit":
                return  # the demo's eye fixates; the summary compares fixations with the truth
            look = event.look
            fixation = look.fixation
            hit = look.hit
            if event.kind == "end":
                records.append(
                    FixationRecord(
                        fixation.id,
                        fixation.onset - origin,
                        fixation.offset - origin,
                        fixation.duration,
                        None if hit is None else hit.marker_id,
                        None if hit is None else np.asarray(hit.position_m, float),
                    )
                )
                return
            latency = now - starts[fixation.id] if event.kind == "first" and fixation.id in starts else math.nan
            line = LookLine(
                look.t - origin,
                fixation.id,
                None if hit is None else hit.marker_id,
                None if hit is None else np.asarray(hit.position_m, float),
                latency,
            )
            printed.append(line)
            say(format_look(line))

        pipeline.on_event(on_event)
        say(
            f"demo: camera {devices.url} (synthetic scene, {len(scene.markers)} markers, {FPS:.0f} fps), "
            f"iViewX simulator udp://127.0.0.1:{devices.command_port} ({GAZE_RATE_HZ:.0f} Hz), recording {out}"
        )
        pipeline.start()
        started, cpu_started = time.monotonic(), time.process_time()
        try:
            run_in_foreground(pipeline, seconds, echo=say)
        except KeyboardInterrupt:  # Ctrl-C ends the scene early; the summary still comes
            say("demo: stopped by Ctrl-C")
        pipeline.close()
        wall_s, cpu_s = time.monotonic() - started, time.process_time() - cpu_started
        summary_counts = pipeline.stop()
        camera_stats = pipeline.camera_stats()
    finally:
        if pipeline is not None:
            pipeline.close()
        report = devices.stop()
    if report is None:
        raise GazefusionError(
            "the demo's camera and tracker process did not report back; the session is in " + str(out)
        )
    # The scripted eye's intent, on the scene clock, for the agreement figure.
    visits = [
        (onset + report.script_offset_s, offset + report.script_offset_s, label)
        for onset, offset, label, *_ in report.visits
    ]
    records = [record._replace(intended=_intent(record, visits)) for record in records]
    write_fixation_truth(out, scene, report.visits, origin + report.script_offset_s)
    scene_end_s = report.server.rendered / FPS
    summary = summarise(records, scene, scene_end_s, with_intent=True)
    write_yaml_atomic(out / "scene.yaml", {**scene.to_dict(), "scene_origin_monotonic_s": origin})
    return DemoResult(summary, out, printed, report.server, summary_counts, camera_stats, wall_s, cpu_s)


def _intent(record: FixationRecord, visits: list[tuple[float, float, str | None]]) -> str | None:
    """The label of the scripted fixation overlapping the record the most (None: a look away)."""
    best, best_overlap = None, 0.0
    for onset, offset, label in visits:
        overlap = min(offset, record.offset_s) - max(onset, record.onset_s)
        if overlap > best_overlap:
            best, best_overlap = label, overlap
    return best
