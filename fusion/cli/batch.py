"""`gazefusion batch SESSIONS... --out DIR`: many sessions replayed at once on Dask, their tables gathered.

Each session is one task replayed by the same code as ``gazefusion replay`` (byte-identical
tables); ``--sweep`` replays every session under every combination of parameter values.
"""

from __future__ import annotations

import argparse
import logging
import sys

from tqdm import tqdm

from gazefusion.fusion.analyse import DEFAULT_MARGIN_DEG
from gazefusion.fusion.batch import TaskOutcome, run_batch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `gazefusion batch`."""
    parser.add_argument("sessions", nargs="+", metavar="SESSION", help="session folders or globs ('data/p*/s*')")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="the batch's folder: per-session outputs and project tables"
    )
    parser.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="replay under each value of a configuration key (repeatable: every combination), "
        "e.g. fixations.params.velocity_threshold_deg_s=20,30,40",
    )
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of a local Dask cluster (default: the number of cores); 1 runs in this process",
    )
    engine.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler, tcp://HOST:PORT")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="how long to wait for --scheduler and its first worker, s (default: 10)",
    )
    parser.add_argument(
        "--aois", metavar="YAML", help="AOIs per marker for the AOI metrics, instead of the marker library's"
    )
    parser.add_argument(
        "--margin-deg",
        type=float,
        default=DEFAULT_MARGIN_DEG,
        metavar="DEG",
        help=f"margin around every AOI, degrees of visual angle (default: {DEFAULT_MARGIN_DEG})",
    )
    redo = parser.add_mutually_exclusive_group()
    redo.add_argument("--overwrite", action="store_true", help="replace the batch already in --out")
    redo.add_argument("--resume", action="store_true", help="finish the batch in --out: finished replays are kept")
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="progress bar on stderr: done, running, failed (default: auto, when stderr is a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the batch; 0 when every replay finished, 1 when some failed (their reasons printed)."""

    def report(outcome: TaskOutcome) -> None:
        if outcome.status == "failed":
            tqdm.write(f"gazefusion: batch: {outcome.task.out}: {outcome.reason}", file=sys.stderr)

    # Dask's own log lines (workers joining and leaving, connections closing) with -v only:
    # its loggers have levels of their own, so they are filtered where they are printed.
    shown = logging.INFO if args.verbose >= 2 else logging.WARNING if args.verbose else logging.CRITICAL + 1

    def dask_lines(record: logging.LogRecord) -> bool:
        return not record.name.startswith(("distributed", "tornado")) or record.levelno >= shown

    for handler in logging.getLogger().handlers:
        handler.addFilter(dask_lines)
    progress = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    result = run_batch(
        args.sessions,
        args.out,
        args.sweep,
        workers=args.workers,
        scheduler=args.scheduler,
        overwrite=args.overwrite,
        resume=args.resume,
        progress=progress,
        on_outcome=report,
        connect_timeout_s=args.connect_timeout,
        aoi_file=args.aois,
        margin_deg=args.margin_deg,
    )
    done, failed = result.count("done"), result.count("failed")
    ran = done - len(result.skipped)
    rate = result.session_s / result.wall_s if result.wall_s > 0 else 0.0
    skipped = f", {len(result.skipped)} finished before (skipped)" if result.skipped else ""
    print(
        f"summary: {len(result.outcomes)} replays: {ran} done, {failed} failed{skipped}; "
        f"{result.session_s:.1f} s of sessions in {result.wall_s:.1f} s ({rate:.1f} session-s per s) on {result.engine}"
    )
    print(f"written: {result.out_dir} ({', '.join(path.name for path in result.tables)})")
    return 1 if failed else 0
