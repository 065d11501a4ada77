"""`gazefusion probe SOURCE`: read frames from a camera source and report what arrives."""

from __future__ import annotations

import argparse
import json
import math

from gazefusion.fusion.camera import open_camera, redact_url
from gazefusion.fusion.config import load_config
from gazefusion.fusion.errors import CameraError, ConfigError

_FIELDS = (
    "frames",
    "fps",
    "width",
    "height",
    "corrupt",
    "dropped",
    "tap_dropped",
    "skipped",
    "reconnects",
    "stale",
    "latency_median_ms",
    "latency_p95_ms",
    "latency_max_ms",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Source, frame count, output form, timeout, configuration."""
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="http(s)://… MJPEG, snapshot+http(s)://…, rtsp://…, device index, video file, none",
    )
    parser.add_argument("--frames", type=int, default=100, metavar="N", help="frames to read (default: 100)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for each frame and for the connection "
        "(default: the config's read_timeout_s / connect_timeout_s)",
    )
    parser.add_argument("--config", default=None, metavar="YAML", help="configuration file (camera section)")


def run(args: argparse.Namespace) -> int:
    """Read the frames, print the figures; exit 1 if fewer frames came than asked for."""
    if args.frames < 1:
        raise ConfigError(f"--frames must be at least 1, not {args.frames}")
    if args.timeout is not None and not args.timeout > 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, not {args.timeout}")
    overrides = {
        "camera.source": args.source,
        "camera.connect_timeout_s": args.timeout,
        "camera.read_timeout_s": args.timeout,
    }
    config = load_config(args.config, overrides).camera
    wait_s = config.read_timeout_s
    received = 0
    first = last = None
    with open_camera(args.source, config) as source:
        # N frames from the source (numbered from 0 since it opened), taken as a consumer takes
        # them: the newest each time. A frame the consumer was too slow to see still counts
        # (and shows as dropped).
        while received < args.frames:
            frame = source.latest(-1 if last is None else last.index, timeout_s=wait_s)
            if frame is None:
                break
            first = first or frame
            last = frame
            received = last.index + 1
        stats = source.stats()
    report = stats.as_dict()
    report.pop("connected")
    report["frames"] = received
    fps = math.nan
    if first is not None and last is not None and last.t > first.t:
        fps = (last.index - first.index) / (last.t - first.t)
    report["fps"] = fps
    shown: dict[str, object] = {"source": redact_url(args.source), **{key: report[key] for key in _FIELDS}}
    if args.json:
        print(
            json.dumps(
                {k: (None if math.isnan(v) else round(v, 3)) if isinstance(v, float) else v for k, v in shown.items()}
            )
        )
    else:
        for key, value in shown.items():
            text = f"{value:.2f}" if isinstance(value, float) else str(value)
            print(f"{key:<18} {text}")
    if received < args.frames:
        raise CameraError(
            f"camera {redact_url(args.source)}: only {received} of {args.frames} frames "
            f"arrived (waited {wait_s:g} s for the next)",
            exit_code=1,
        )
    return 0
