"""The demo: the whole pipeline on the embedded default, against a known truth.

It writes the marker library and the known intrinsics, serves the synthetic scene as an MJPEG
camera on loopback HTTP, runs the iViewX simulator on loopback UDP with a scripted eye that
visits the markers, and runs the same :class:`~gazefusion.fusion.runner.Runner` that
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
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from gazefusion.calibration.intrinsics import write_yaml_atomic
from gazefusion.calibration.mapping import TrackerCameraMapping
from gazefusion.fusion.config import Config, load_config, validate_config
from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.demo.script import DemoGaze
from gazefusion.fusion.demo.server import MjpegServer, ServerStats
from gazefusion.fusion.demo.summary import DemoSummary, FixationRecord, summarise
from gazefusion.fusion.errors import UserError
from gazefusion.fusion.tables import TableWriter

log = logging.getLogger(__name__)

CONFIG_FILE = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"

# The demo's configuration over the defaults; config/demo.yaml holds the same (a test keeps
# them equal). Sources, files and the recording folder are filled in at run time.
DEMO_CONFIG: dict[str, Any] = {
    "screen": {"size_px": [1920, 1080], "size_mm": [531.0, 299.0], "distance_mm": 650.0},
    "fixations": {"method": "ivt", "params": {}},
    "aoi": {"size_deg": 4.5},
    "markers": {"n_features": 1000, "min_inliers": 12},
    "camera": {"connect_timeout_s": 5.0},
    "tracker": {"ping_timeout_s": 2.0},
    "display": {"annotated_video": True, "look_snapshots": True},
}

TRUTH_COLUMNS = ("index", "t_scene", "t", "marker", "x_m", "y_m", "z_m", "rx", "ry", "rz", "u_px", "v_px", "distance_m")

FPS = 30.0
GAZE_RATE_HZ = 250.0  # an SMI RED250; the I-VT velocity window (20 ms) needs more than 60 Hz


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
    camera : Any
        The camera source's stats at the end (or None).
    wall_s : float
        Duration of the pipeline run, s.
    """

    summary: DemoSummary
    session_dir: Path
    looks: list[LookLine]
    server: ServerStats
    runner: dict[str, Any]
    camera: Any
    wall_s: float


def default_out_dir(now: _dt.datetime | None = None) -> Path:
    """``./gazefusion-demo-YYYYmmdd-HHMMSS`` under the current directory."""
    now = now or _dt.datetime.now()
    return Path.cwd() / f"gazefusion-demo-{now:%Y%m%d-%H%M%S}"


def _nested(overrides: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


def _merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key != "params":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def demo_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """The demo's configuration: `DEMO_CONFIG` (or a file given instead) with run-time overrides."""
    if path is not None:
        base = load_config(path).to_dict()
        source = str(path)
    else:
        base = _merge(validate_config({}).to_dict(), DEMO_CONFIG)
        source = "demo configuration"
    return validate_config(_merge(base, _nested(overrides or {})), source)


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _TruthLog:
    """Writes every served frame's true poses into truth.tsv (from the server's producer thread)."""

    def __init__(self, scene: DemoScene, path: Path) -> None:
        self.scene = scene
        self.table = TableWriter(path, TRUTH_COLUMNS, flush_every_s=0.5)
        self._lock = threading.Lock()

    def __call__(self, index: int, t_scene: float, t_host: float) -> None:
        truth = self.scene.truth(t_scene)
        with self._lock:
            if self.table is None:
                return
            for marker in truth.values():
                self.table.write([index, round(t_scene, 6), round(t_host, 6), marker.marker_id,
                                  *np.round(marker.position_m, 6), *np.round(marker.rotation, 6),
                                  *np.round(marker.centre_px, 3), round(marker.distance_m, 6)])

    def close(self) -> None:
        with self._lock:
            if self.table is not None:
                self.table.close()
                self.table = None


def format_look(line: LookLine) -> str:
    """One printed line per look: scene time, marker, x y z, distance."""
    if line.marker_id is None or line.position_m is None:
        return f"{line.t_scene:7.2f} s  fixation {line.fixation_id:<3d} (nothing)"
    x, y, z = line.position_m
    distance = float(np.linalg.norm(line.position_m))
    return (f"{line.t_scene:7.2f} s  fixation {line.fixation_id:<3d} {line.marker_id:<8} "
            f"x {x:+.3f}  y {y:+.3f}  z {z:+.3f} m   distance {distance:.3f} m")


def run_demo(
    out_dir: str | Path | None = None,
    seconds: float = 20.0,
    headless: bool | None = None,
    config_path: str | Path | None = None,
    seed: int = 0,
    echo: Callable[[str], None] | None = print,
) -> DemoResult:
    """Run the demo and return its figures.

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

    Raises
    ------
    UserError
        Anything that fails to start, with one line saying what.
    """
    if not seconds > 0:
        raise UserError(f"--seconds must be positive, got {seconds}")
    say = echo or (lambda text: None)
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    if (out / "session.yaml").exists():
        raise UserError(f"{out} already holds a session: choose another --out")
    if headless is None:
        from gazefusion.fusion.display import display_available

        headless = not display_available()
    scene = DemoScene()
    try:
        library = scene.write_library(out / "scene")
        intrinsics = scene.write_intrinsics(out / "scene" / "intrinsics.yaml")
    except OSError as exc:
        raise UserError(f"cannot write the demo's files into {out}: {exc.strerror or exc}") from None

    base = demo_config(config_path)
    screen = (int(base.screen.size_px[0]), int(base.screen.size_px[1]))
    mapping = TrackerCameraMapping.fullscreen(screen, scene.size)
    from gazefusion.fusion.runner import Runner, screen_geometry
    from gazefusion.trackers.iviewx.simulator import IViewXSimulator

    geometry = screen_geometry(base)
    truth_log = _TruthLog(scene, out / "truth.tsv")
    server = MjpegServer(lambda index, t_scene: scene.render(t_scene)[0], fps=FPS, on_publish=truth_log)
    closers: list[Callable[[], None]] = [truth_log.close]
    runner: Any = None
    try:
        try:
            server.start()
        except OSError as exc:
            raise UserError(f"the demo camera could not start on 127.0.0.1: {exc.strerror or exc}") from None
        closers.insert(0, server.close)
        gaze = DemoGaze(scene, mapping, geometry, seed=seed, origin_s=server.origin_s)
        listen_port = _free_udp_port()
        # Data go to the client's listening port, as a configured iViewX server sends them.
        simulator = IViewXSimulator(script=gaze, rate_hz=GAZE_RATE_HZ, host="127.0.0.1", command_port=0,
                                    data_port=listen_port)
        simulator.start()
        closers.insert(0, simulator.stop)
        config = demo_config(config_path, {
            "camera.source": server.url,
            "tracker.spec": f"iviewx://127.0.0.1:{simulator.command_port}?listen={listen_port}",
            "markers.file": str(library.resolve()),
            "calibration.intrinsics": str(intrinsics.resolve()),
            "record.dir": str(out),
            "display.headless": bool(headless),
        })
        extra = {"demo": {**scene.to_dict(), "truth_table": "truth.tsv",
                          "scene_origin_monotonic_s": server.origin_s, "seed": seed}}
        runner = Runner(config, extra_session=extra)
        printed: list[LookLine] = []
        records: list[FixationRecord] = []
        starts: dict[int, float] = {}
        origin = float(server.origin_s)  # type: ignore[arg-type]

        def on_event(event: Any) -> None:
            from gazefusion.fusion.core import LookEvent
            from gazefusion.fusion.types import FixationEvent

            now = time.monotonic()
            if isinstance(event, FixationEvent):
                if event.kind == "start":
                    starts[event.fixation.id] = now
                return
            if not isinstance(event, LookEvent):
                return
            look = event.look
            fixation = look.fixation
            hit = look.hit
            if event.kind == "end":
                records.append(FixationRecord(
                    fixation.id, fixation.onset - origin, fixation.offset - origin, fixation.duration,
                    None if hit is None else hit.marker_id, None if hit is None else np.asarray(hit.position_m, float),
                ))
                return
            latency = now - starts[fixation.id] if event.kind == "first" and fixation.id in starts else math.nan
            line = LookLine(look.t - origin, fixation.id, None if hit is None else hit.marker_id,
                            None if hit is None else np.asarray(hit.position_m, float), latency)
            printed.append(line)
            say(format_look(line))

        runner.subscribe(on_event)
        say(f"demo: camera {server.url} (synthetic scene, {len(scene.markers)} markers, {FPS:.0f} fps), "
            f"iViewX simulator udp://127.0.0.1:{simulator.command_port}, recording {out}")
        runner.start()
        closers.insert(0, runner.stop)
        started = time.monotonic()
        _drive(runner, config, seconds)
        runner.stop()
        wall_s = time.monotonic() - started
        runner.raise_error()
        camera_stats = runner.camera.stats() if runner.camera is not None else None
    finally:
        for close in closers:
            try:
                close()
            except Exception as exc:  # shutting down must not hide the run's result
                log.debug("demo: closing failed: %s", exc)
    # The scripted eye's intent, on the scene clock, for the agreement figure.
    offset = gaze.scene_time(0.0)
    visits = [(v.onset_s + offset, v.offset_s + offset, v.label) for v in gaze.true_visits(seconds + 5.0)]
    records = [record._replace(intended=_intent(record, visits)) for record in records]
    scene_end_s = time.monotonic() - origin
    summary = summarise(records, scene, scene_end_s, with_intent=True)
    write_yaml_atomic(out / "scene.yaml", {**scene.to_dict(), "scene_origin_monotonic_s": origin})
    return DemoResult(summary, out, printed, server.stats(), runner.summary(), camera_stats, wall_s)


def _intent(record: FixationRecord, visits: list[tuple[float, float, str | None]]) -> str | None:
    """The label of the scripted fixation overlapping the record the most (None: a look away)."""
    best, best_overlap = None, 0.0
    for onset, offset, label in visits:
        overlap = min(offset, record.offset_s) - max(onset, record.onset_s)
        if overlap > best_overlap:
            best, best_overlap = label, overlap
    return best


def _drive(runner: Any, config: Config, seconds: float) -> None:
    """Run the pipeline for `seconds`, as ``gazefusion run`` does, then stop it.

    The window, or the headless writers (annotated video, a PNG per look) into the session.
    """
    deadline = time.monotonic() + seconds
    if not config.display.headless:
        from gazefusion.fusion.display import Display

        try:
            Display(runner, config.display.fullscreen).run(seconds)
        finally:
            runner.stop()
        return
    outputs = None
    if config.record.dir and (config.display.annotated_video or config.display.look_snapshots):
        from gazefusion.fusion.display import HeadlessOutputs

        directory = runner.recorder.directory if runner.recorder is not None else Path(config.record.dir)
        outputs = HeadlessOutputs(runner, directory, video=config.display.annotated_video,
                                  snapshots=config.display.look_snapshots)
    try:
        while not runner.finished and time.monotonic() < deadline:
            if outputs is not None:
                outputs.step(0.05)
            else:
                runner.wait(max(0.0, min(0.1, deadline - time.monotonic())))
    finally:
        runner.stop()  # before closing the writers: the last looks' snapshots get written
        if outputs is not None:
            outputs.close()
