"""`gazefusion run`: live camera + tracker -> fixations, looks, display, recording.

Flags override the configuration file. Looks are printed as they happen, a summary at the
end; Ctrl-C, SIGTERM and SIGHUP stop cleanly (a recording keeps everything received, and
session.yaml gets its summary and end time).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, TextIO

from gazefusion.fusion.api import CameraEvent, FixationEvent, LookEvent, PipelineEvent, TrackerEvent
from gazefusion.fusion.config import Config, load_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `gazefusion run`."""
    parser.add_argument("--config", metavar="YAML", help="configuration file (flags override it)")
    parser.add_argument(
        "--camera",
        metavar="SOURCE",
        help="camera: MJPEG URL, snapshot+http://…, rtsp://…, device index, video file, session folder, none",
    )
    parser.add_argument(
        "--tracker",
        metavar="SPEC",
        help="tracker: iviewx://HOST:PORT?listen=PORT, mock, mock:SEED, replay:SESSION, mouse",
    )
    parser.add_argument(
        "--markers", metavar="YAML", help="marker library: pictures {id, image, width_m} and tags {id, aruco, width_m}"
    )
    parser.add_argument("--intrinsics", metavar="YAML", help="camera intrinsics (gazefusion calibrate camera)")
    parser.add_argument("--mapping", metavar="YAML", help="tracker-to-camera mapping (gazefusion calibrate tracker)")
    parser.add_argument("--aoi-deg", type=float, metavar="DEG", help="AOI side, degrees of visual angle")
    parser.add_argument("--record", metavar="DIR", help="record the session into this new folder")
    parser.add_argument("--participant", metavar="P", help="who is recorded (session.yaml, the AOI metrics' rows)")
    parser.add_argument(
        "--condition", metavar="C", help="the experimental condition (session.yaml, the AOI metrics' rows)"
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        default=None,
        help="no window; with --record, write overlay.mp4 and a PNG per look",
    )
    parser.add_argument("--seconds", type=float, metavar="S", help="stop after this long (default: until q or Ctrl-C)")
    add_lsl_arguments(parser)


def add_lsl_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lsl``, ``--lsl-name``, ``--lsl-wait``, ``--lsl-markers`` (`run` and `demo`)."""
    parser.add_argument(
        "--lsl",
        action="store_true",
        default=None,
        help="send gaze, fixations, looks, frames and events to Lab Streaming Layer (streams named after the session)",
    )
    parser.add_argument("--lsl-name", metavar="PREFIX", help="LSL stream name prefix (default: gazefusion_SESSION)")
    parser.add_argument(
        "--lsl-wait",
        type=float,
        metavar="S",
        help="wait up to S seconds for every LSL stream to have a consumer (LabRecorder) before starting",
    )
    parser.add_argument(
        "--lsl-markers",
        metavar="STREAM",
        help="record the markers of this LSL stream (NAME or type=Markers); trial_start/trial_end markers split trials",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    """The configuration file with the flags applied over it."""
    return load_config(
        args.config,
        {
            "camera.source": args.camera,
            "tracker.spec": args.tracker,
            "markers.file": args.markers,
            "calibration.intrinsics": args.intrinsics,
            "calibration.mapping": args.mapping,
            "aoi.size_deg": args.aoi_deg,
            "record.dir": args.record,
            "record.participant": args.participant,
            "record.condition": args.condition,
            "display.headless": args.headless,
            **lsl_overrides(args),
        },
    )


def lsl_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``lsl`` keys the flags of :func:`add_lsl_arguments` set (None: not given)."""
    return {
        "lsl.outlets": args.lsl,
        "lsl.name": args.lsl_name,
        "lsl.wait_for_consumers_s": args.lsl_wait,
        "lsl.markers": args.lsl_markers,
    }


def describe(event: PipelineEvent, fixations: bool = False) -> str | None:
    """One printed line per look and notable event (None: not printed).

    Parameters
    ----------
    event : PipelineEvent
        What happened.
    fixations : bool
        Print fixation ends too (runs without a camera have no looks). (default: False)
    """
    if fixations and isinstance(event, FixationEvent) and event.kind == "end":
        f = event.fixation
        return (
            f"fixation {f.id:>4} ({f.x:7.1f}, {f.y:7.1f}) px  {f.duration * 1000:5.0f} ms  {f.dispersion_deg:.2f} deg"
        )
    if isinstance(event, LookEvent):
        fixation = event.fixation
        where = f"fixation {fixation.id:>4} ({fixation.cam_x:6.1f}, {fixation.cam_y:6.1f}) px"
        hit = event.look.hit
        if hit is None:
            return f"look  {event.kind:<6} {where}  nothing"
        x, y, z = (float(v) for v in hit.position_m[:3])
        return (
            f"look  {event.kind:<6} {where}  {hit.marker_id}  x={x:+.3f} y={y:+.3f} z={z:.3f} m  "
            f"({hit.inliers} inliers)"
        )
    if isinstance(event, TrackerEvent) and event.kind in ("stall", "resume", "restart", "lost", "reconnect", "error"):
        return f"tracker {event.kind}"
    if isinstance(event, CameraEvent):
        return f"camera {event.kind}: {event.text}"
    return None


def print_summary(summary: dict[str, Any], out: TextIO) -> None:
    """The last lines of a run."""
    parts = [
        f"{summary['samples']} samples",
        f"{summary['frames']} frames",
        f"{summary['fixations']} fixations",
        f"{summary['looks']} looks",
    ]
    if summary.get("frames_skipped"):
        parts.append(f"{summary['frames_skipped']} frames skipped (core behind)")
    if summary.get("samples_outside_calibrated"):
        parts.append(f"{summary['samples_outside_calibrated']} samples outside the calibrated area")
    for key, what in (
        ("frames_dropped", "frames dropped (recorder tap full)"),
        ("camera_reconnects", "camera reconnects"),
        ("tracker_stalls", "tracker stalls"),
        ("tracker_reconnects", "tracker reconnects"),
        ("samples_dropped", "samples dropped (tracker buffer full)"),
    ):
        if summary.get(key):
            parts.append(f"{summary[key]} {what}")
    print("summary: " + ", ".join(parts), file=out)
    if summary.get("recording_error"):
        print(f"gazefusion: {summary['recording_error']}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the live pipeline until the time is up, q, Ctrl-C or the tracker's replay ends."""
    from gazefusion.fusion.api import Pipeline
    from gazefusion.fusion.display import Display, run_in_foreground

    config = config_from_args(args)
    pipeline = Pipeline(config)
    out = sys.stdout
    gaze_only = config.camera.source == "none"

    def printer(event: PipelineEvent) -> None:
        line = describe(event, fixations=gaze_only)
        if line is not None:
            print(line, file=out, flush=True)

    pipeline.on_event(printer)

    def tell(line: str) -> None:
        print(line, file=out, flush=True)

    # The window before the start: without a display this fails before anything opens.
    display = None if config.display.headless else Display(pipeline, config.display.fullscreen, tell)
    interrupted = False
    stop_signals = _StopSignals()
    pipeline.start()
    try:
        stop_signals.install()
        run_in_foreground(pipeline, args.seconds, display, echo=tell)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        stop_signals.hold()  # a signal from now on must not cut the closing short
    try:
        summary = pipeline.stop()
    except KeyboardInterrupt:
        summary = pipeline.stop()
    stop_signals.restore()
    print_summary(summary, out)
    if interrupted:
        print(f"gazefusion: stopped by {stop_signals.received or 'Ctrl-C'}", file=sys.stderr)
    return 0


class _StopSignals:
    """SIGTERM and SIGHUP (a process manager, a closed terminal) stop a run as Ctrl-C does.

    The first one raises KeyboardInterrupt in the main thread, so the run closes its recording
    (session.yaml gets its summary and end time) and its video; later ones are ignored.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}
        self._holding = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for number in self.SIGNALS:
            self._previous[number] = signal.signal(number, self._handle)

    def _handle(self, number: int, frame: object) -> None:
        if self.received is None:
            self.received = signal.Signals(number).name
        if not self._holding:
            self._holding = True
            raise KeyboardInterrupt

    def hold(self) -> None:
        self._holding = True

    def restore(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()
