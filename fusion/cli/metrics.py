"""`gazefusion metrics SESSION... --out DIR`: AOI metrics, heatmaps and scanpaths of sessions.

Writes ``aoi_metrics.tsv`` (with its JSON sidecar; one row per session, trial, marker and
AOI, reach across the sessions), ``heatmaps/SESSION/MARKER.png`` (and ``heatmaps/pooled/``
with more than one session) and ``scanpaths/SESSION/TRIAL/MARKER.png`` into a new folder.
"""

from __future__ import annotations

import argparse

from gazefusion.fusion.analyse import DEFAULT_MARGIN_DEG, DEFAULT_SIGMA_DEG, write_metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `gazefusion metrics`."""
    parser.add_argument("sessions", nargs="+", metavar="SESSION", help="session folders (recorded or replayed)")
    parser.add_argument("--out", required=True, metavar="DIR", help="a new folder for the table and the pictures")
    parser.add_argument("--aois", metavar="YAML", help="AOIs per marker, instead of the marker library's")
    parser.add_argument(
        "--margin-deg",
        type=float,
        default=DEFAULT_MARGIN_DEG,
        metavar="DEG",
        help=f"margin around every AOI, degrees of visual angle: the gaze's accuracy (default: {DEFAULT_MARGIN_DEG})",
    )
    parser.add_argument(
        "--sigma-deg",
        type=float,
        default=DEFAULT_SIGMA_DEG,
        metavar="DEG",
        help=f"spread of each fixation in the heatmaps, degrees of visual angle (default: {DEFAULT_SIGMA_DEG})",
    )
    parser.add_argument("--no-pictures", action="store_true", help="write the table only")


def run(args: argparse.Namespace) -> int:
    """Compute and write; print one line per marker and AOI (summed over sessions and trials)."""
    result = write_metrics(
        args.sessions, args.out, args.aois, args.margin_deg, args.sigma_deg, pictures=not args.no_pictures
    )
    metrics = result.metrics
    sessions = metrics["session"].nunique()
    print(f"{'marker':<10} {'aoi':<12} {'fixations':>9} {'dwell s':>8} {'visits':>6} {'ttff s':>7} {'reach':>5}")
    for (marker, aoi), rows in metrics.groupby(["marker", "aoi"], sort=False):
        print(
            f"{marker:<10} {aoi:<12} {int(rows['fixation_count'].sum()):>9} {rows['dwell_s'].sum():>8.2f} "
            f"{int(rows['visit_count'].sum()):>6} {rows['ttff_s'].min():>7.2f} {rows['reach'].max():>5.2f}"
        )
    print(
        f"written: {result.out_dir} (aoi_metrics.tsv: {len(metrics)} rows of {sessions} session(s); {len(result.pictures)} pictures)"
    )
    return 0
