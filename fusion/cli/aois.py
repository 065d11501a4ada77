"""`gazefusion aois MARKERS.yaml --out AOIS.yaml`: draw AOIs on the marker pictures in a window."""

from __future__ import annotations

import argparse

from gazefusion.fusion.aoiwindow import draw_aois


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `gazefusion aois`."""
    parser.add_argument("library", metavar="MARKERS.yaml", help="the marker library whose pictures to draw on")
    parser.add_argument("--out", required=True, metavar="AOIS.yaml", help="the AOI file to write (kept AOIs are shown)")
    parser.add_argument("--marker", action="append", default=[], metavar="ID", help="only this marker; repeatable")


def run(args: argparse.Namespace) -> int:
    """Open the window; print what was written."""
    print(
        "keys: click corners, Enter close, type a name, Enter keep; Backspace, Esc, u undo, n next marker, q save and quit"
    )
    drawn = draw_aois(args.library, args.out, args.marker)
    count = sum(len(aois) for aois in drawn.values())
    print(f"written: {args.out} ({count} AOIs on {sum(1 for aois in drawn.values() if aois)} markers)")
    return 0
