"""The demo's devices: the MJPEG camera and the iViewX simulator, in a child process.

Real cameras and trackers are other machines; running the demo's stand-ins in their own
process keeps it that way: the pipeline's process pays only for what it would pay with real
devices (reading, decoding, the core, recording), and the stand-ins keep their timing (a
camera frame every 1/30 s, a gaze datagram every 1/250 s) whatever the pipeline does.
Both share the host's monotonic clock (CLOCK_MONOTONIC is system-wide), so the scene's
origin is one number on both sides.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
from pathlib import Path
from typing import Any, NamedTuple

from gazefusion.calibration.mapping import TrackerCameraMapping
from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.demo.script import DemoGaze
from gazefusion.fusion.demo.server import MjpegServer, ServerStats
from gazefusion.fusion.demo.truth import TruthLog
from gazefusion.fusion.errors import GazefusionError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.iviewx.simulator import VERGENCE_PX, IViewXSimulator

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0


class DevicesReport(NamedTuple):
    """What the devices did, reported when they stop.

    Attributes
    ----------
    server : ServerStats
        The MJPEG server's counts.
    script_offset_s : float
        Scene time minus script time (the scripted eye's clock against the scene's).
    visits : list[tuple[float, float, str | None, float, float]]
        The fixations the scripted eye made: (onset, offset) in script time, marker or None,
        and the true mean position on the marker as u, v (nan for a look away).
    samples_sent : int
        Gaze samples the simulator sent.
    """

    server: ServerStats
    script_offset_s: float
    visits: list[tuple[float, float, str | None, float, float]]
    samples_sent: int


class DemoDevices:
    """Start the demo's camera and tracker in a child process; a context manager.

    Parameters
    ----------
    truth_path : str or pathlib.Path
        Where the child writes truth.tsv (every served frame's true marker poses).
    geometry : ScreenGeometry
        The tracked screen (for the scripted eye and the full-screen mapping).
    data_port : int
        UDP port on 127.0.0.1 the simulator sends gaze to (the client's listening port).
    seed : int
        Seed of the scripted eye. (default: 0)
    fps : float
        Camera frame rate, Hz. (default: 30.0)
    gaze_rate_hz : float
        Tracker sample rate, Hz. (default: 250.0)
    """

    def __init__(
        self,
        truth_path: str | Path,
        geometry: ScreenGeometry,
        data_port: int,
        seed: int = 0,
        fps: float = 30.0,
        gaze_rate_hz: float = 250.0,
    ) -> None:
        self._params = {
            "truth_path": str(truth_path),
            "geometry": tuple(geometry),
            "data_port": int(data_port),
            "seed": int(seed),
            "fps": float(fps),
            "gaze_rate_hz": float(gaze_rate_hz),
        }
        self._process: Any = None
        self._conn: multiprocessing.connection.Connection | None = None
        self.url = ""
        self.command_port = 0
        self.origin_s = 0.0
        self.report: DevicesReport | None = None

    def start(self) -> DemoDevices:
        """Start the child and wait until the camera serves and the simulator listens.

        Raises
        ------
        GazefusionError
            The child did not start, or one of the devices failed to (the reason, one line).
        """
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve_devices, args=(child, self._params), name="gazefusion-demo-devices", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(START_TIMEOUT_S):
            self._kill()
            raise GazefusionError(f"the demo's camera and tracker did not start within {START_TIMEOUT_S:.0f} s")
        try:
            message = parent.recv()
        except EOFError:
            self._kill()
            raise GazefusionError("the demo's camera and tracker process ended before it started") from None
        if message[0] == "error":
            self._kill()
            raise GazefusionError(f"the demo's devices failed to start: {message[1]}")
        _, self.url, self.command_port, self.origin_s = message
        return self

    @property
    def snapshot_url(self) -> str:
        """One JPEG per request from the camera."""
        return self.url.rsplit("/", 1)[0] + "/snapshot.jpg"

    def stop(self, timeout_s: float = 10.0) -> DevicesReport | None:
        """Stop both devices and collect their report (None if the child did not answer); idempotent."""
        if self._conn is None:
            return self.report
        try:
            self._conn.send("stop")
            if self._conn.poll(timeout_s):
                message = self._conn.recv()
                if message[0] == "report":
                    self.report = DevicesReport(ServerStats(*message[1]), message[2], message[3], message[4])
                else:
                    log.warning("demo devices: %s", message[1])
        except (EOFError, OSError, BrokenPipeError) as exc:
            log.warning("demo devices: no report (%s)", exc)
        self._conn.close()
        self._conn = None
        self._process.join(timeout_s)
        self._kill()
        return self.report

    def _kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)

    def __enter__(self) -> DemoDevices:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve_devices(conn: multiprocessing.connection.Connection, params: dict[str, Any]) -> None:
    """The child: camera, truth log and simulator until the parent says stop."""
    # Ctrl-C reaches the whole process group; the parent decides when the devices stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    closers: list[Any] = []
    try:
        geometry = ScreenGeometry(*params["geometry"])
        scene = DemoScene()
        truth = TruthLog(scene, Path(params["truth_path"]))
        closers.append(truth.close)
        server = MjpegServer(lambda index, t_scene: scene.render(t_scene)[0], fps=params["fps"], on_publish=truth)
        server.start()
        closers.insert(0, server.close)
        mapping = TrackerCameraMapping.fullscreen((geometry.width_px, geometry.height_px), scene.size)
        gaze = DemoGaze(scene, mapping, geometry, seed=params["seed"], origin_s=server.origin_s)
        simulator = IViewXSimulator(
            script=gaze, rate_hz=params["gaze_rate_hz"], host="127.0.0.1", command_port=0, data_port=params["data_port"]
        )
        simulator.start()
        closers.insert(0, simulator.stop)
        conn.send(("ready", server.url, simulator.command_port, server.origin_s))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
        text = str(exc) if isinstance(exc, GazefusionError) else f"{type(exc).__name__}: {exc}"
        conn.send(("error", text))
        _close_all(closers)
        return
    try:
        conn.recv()  # "stop", or EOF when the parent went away
    except (EOFError, OSError):
        pass
    _close_all(closers)
    try:
        offset = gaze.scene_time(0.0)
        # The eye's whole script so far: the samples sent (a loaded machine renders fewer frames).
        horizon_s = max(server.stats().rendered / params["fps"], len(simulator.sent) / params["gaze_rate_hz"]) + 5.0
        # The simulator reports the right eye, whose gaze lies VERGENCE_PX right of the script's.
        eye_offset_px = 0.0 if simulator.binocular or simulator.real_world.same_gaze else VERGENCE_PX
        visits = [tuple(visit) for visit in gaze.true_visits(horizon_s, eye_offset_px)]
        conn.send(("report", tuple(server.stats()), offset, visits, len(simulator.sent)))
    except (OSError, BrokenPipeError):
        pass


def _close_all(closers: list[Any]) -> None:
    for close in closers:
        try:
            close()
        except Exception as exc:  # shutting down must not hide the others
            log.debug("demo devices: closing failed: %s", exc)
