"""`gazefusion demo`: the whole pipeline on a synthetic scene, with a summary against the truth."""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys

from gazefusion.fusion.cli.run import add_lsl_arguments, lsl_overrides
from gazefusion.fusion.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``, ``--seconds S``, ``--headless``, ``--config FILE``, ``--seed N`` and the
    LSL flags of `gazefusion run` (``--lsl`` …)."""
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="session folder to write (default: ./gazefusion-demo-YYYYmmdd-HHMMSS)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=20.0,
        metavar="S",
        help="how long the scene runs, s (default: 20; the command ends within S + a few s)",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no window: write the annotated video and look snapshots instead (default when no display is available)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="a configuration to use instead of the demo's own (config/demo.yaml)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the scripted eye (default: 0)")
    add_lsl_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the demo, print the looks and the summary; 0 on success."""
    from gazefusion.fusion.demo.run import run_demo

    if not args.seconds > 0:
        raise ConfigError(f"--seconds must be positive, got {args.seconds:g}")
    result = run_demo(
        args.out,
        args.seconds,
        True if args.headless else None,
        args.config,
        args.seed,
        echo=lambda line: print(line, flush=True),
        overrides=lsl_overrides(args),
    )
    runner = result.runner
    received = result.camera.frames if result.camera is not None else 0
    cores = os.cpu_count() or 1
    latencies_ms = [1000.0 * look.latency_s for look in result.looks if not math.isnan(look.latency_s)]
    latency = f"; look latency median {statistics.median(latencies_ms):.1f} ms" if latencies_ms else ""
    print()
    print(
        f"summary: {result.wall_s:.1f} s; camera frames served {result.server.rendered}, received {received}, "
        f"searched by the core {runner.get('frames', 0)} (skipped {runner.get('frames_skipped', 0)}); "
        f"{runner.get('samples', 0)} gaze samples; pipeline CPU {100.0 * result.cpu_s / result.wall_s / cores:.0f} % "
        f"of {cores} cores{latency}"
    )
    print(result.summary.format())
    print(f"session: {result.session_dir} (gazefusion replay {result.session_dir})")
    sys.stdout.flush()
    return 0
