"""`gazefusion replay SESSION`: a recorded session through the same fusion core.

With unchanged parameters it gives the live run's fixations and looks; fixation method and
parameters, AOI size and marker library may be changed for re-analysis.
"""

from __future__ import annotations

import argparse
import sys

from gazefusion.fusion.cli.run import describe
from gazefusion.fusion.core import CoreOutput
from gazefusion.fusion.errors import ConfigError
from gazefusion.fusion.replay import replay_session


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `gazefusion replay`."""
    parser.add_argument("session", metavar="SESSION", help="a recorded session folder")
    parser.add_argument("--out", metavar="DIR", help="write fixations.tsv, looks.tsv, events.jsonl here (a new folder)")
    parser.add_argument("--fast", action="store_true", help="as fast as possible, with a progress bar")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X", help="playback speed factor (default: 1)")
    parser.add_argument("--method", metavar="NAME", help="fixation detector (ivt, idt, …)")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="a fixation detector parameter; repeatable"
    )
    parser.add_argument("--aoi-deg", type=float, metavar="DEG", help="AOI side, degrees of visual angle")
    parser.add_argument("--markers", metavar="YAML", help="marker library to search for")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --fast: replay N parts of the session at once (default: the CPU count, at most 4)",
    )
    parser.add_argument(
        "--map-all",
        action="store_true",
        help="search every frame whole for markers and map every gaze sample onto those in view (slower)",
    )
    parser.add_argument(
        "--video",
        metavar="OUT.mp4",
        help="render the annotated video into this .mp4 file (frames at their recorded times)",
    )
    parser.add_argument("--quiet-looks", action="store_true", help="do not print each look")


def _params(pairs: list[str]) -> dict[str, float] | None:
    if not pairs:
        return None
    params: dict[str, float] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ConfigError(f"--param {pair!r}: expected NAME=NUMBER, e.g. --param velocity_threshold_deg_s=40")
    return params


def run(args: argparse.Namespace) -> int:
    """Replay and print looks and a summary; problems with the session are named."""
    if not args.speed > 0:
        raise ConfigError(f"--speed {args.speed}: expected a number > 0")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: expected a whole number >= 1")
    overrides = {
        "fixations.method": args.method,
        "fixations.params": _params(args.param),
        "aoi.size_deg": args.aoi_deg,
        "markers.file": args.markers,
    }

    def printer(output: CoreOutput) -> None:
        line = describe(output)
        if line is not None and not args.quiet_looks:
            print(line, flush=True)

    result = replay_session(
        args.session,
        args.out,
        overrides,
        fast=args.fast,
        speed=args.speed,
        progress=args.fast and sys.stderr.isatty(),
        on_output=printer,
        workers=args.workers,
        map_all=args.map_all,
        video=args.video,
    )
    for problem in result.problems:
        print(f"gazefusion: {args.session}: {problem}", file=sys.stderr)
    ratio = result.duration_s / result.wall_s if result.wall_s > 0 else float("inf")
    print(
        f"summary: {result.samples} samples, {result.frames} frames, {result.fixations} fixations, "
        f"{result.looks} looks; {result.duration_s:.1f} s of session in {result.wall_s:.1f} s ({ratio:.1f}x real time)"
    )
    if result.out_dir is not None:
        print(f"written: {result.out_dir}")
    if args.video:
        print(f"video: {args.video}")
    return 0
