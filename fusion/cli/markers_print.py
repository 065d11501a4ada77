"""`gazefusion markers print MARKERS.yaml ID --out FILE`: a fiducial marker of the library as a
printable PNG or PDF at its true size (tags, white quiet zone, a label strip below)."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gazefusion.fusion.errors import ConfigError, OutputError
from gazefusion.fusion.markers import Marker, MarkerLibrary, draw_fiducial

#: Height of the label strip below the quiet zone, m.
LABEL_M = 0.008
METRES_PER_INCH = 0.0254


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``gazefusion markers print``."""
    parser.add_argument("markers", metavar="MARKERS.yaml", help="the marker library")
    parser.add_argument("marker", metavar="ID", help="the id of a fiducial marker (a tag or a board) in it")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write: .png or .pdf")
    parser.add_argument("--dpi", type=float, default=300.0, help="printer resolution, dots per inch (default: 300)")
    parser.add_argument(
        "--margin-mm",
        type=float,
        default=None,
        help="white border around the tags, mm (default: a quarter of the smallest tag's side)",
    )
    parser.add_argument("--no-label", action="store_true", help="no label strip (id, dictionary, tags, size)")


def run(args: argparse.Namespace) -> int:
    """Draw the marker and write it."""
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".pdf"):
        raise ConfigError(f"--out {args.out}: expected a .png or .pdf file name")
    if not 50 <= args.dpi <= 2400:
        raise ConfigError(f"--dpi {args.dpi:g}: expected 50-2400 dots per inch")
    if args.margin_mm is not None and not 0 <= args.margin_mm <= 100:
        raise ConfigError(f"--margin-mm {args.margin_mm:g}: expected 0-100 mm")
    library = MarkerLibrary.load(args.markers)
    if args.marker not in library.ids:
        raise ConfigError(f"marker {args.marker!r} is not in {args.markers} (ids: {', '.join(library.ids)})")
    marker = library[args.marker]
    if marker.fiducial is None:
        raise ConfigError(
            f"marker {args.marker!r} is a picture ({marker.source}): print the picture itself at "
            f"{marker.width_m * 1000:g} mm wide; `markers print` draws ArUco/AprilTag markers"
        )
    px_per_m = args.dpi / METRES_PER_INCH
    margin_m = None if args.margin_mm is None else args.margin_mm / 1000.0
    picture = draw_fiducial(marker, px_per_m, margin_m)
    if not args.no_label:
        picture = with_label(picture, label_text(marker), round(LABEL_M * px_per_m))
    write_printable(picture, out, args.dpi)
    width_mm, height_mm = (1000.0 * side / px_per_m for side in (picture.shape[1], picture.shape[0]))
    print(f"{out}: {args.marker}, {width_mm:.1f} x {height_mm:.1f} mm at {args.dpi:g} dpi (print at 100 %)")
    return 0


def label_text(marker: Marker) -> str:
    """``door  DICT_APRILTAG_36h11 #7  tag 100 mm``: what the printout is, to tell printouts apart."""
    fiducial = marker.fiducial
    assert fiducial is not None
    tags = ",".join(str(tag) for tag in fiducial.tags)
    sides = np.linalg.norm(fiducial.corners_m[:, 1] - fiducial.corners_m[:, 0], axis=1)
    size = " ".join(sorted({f"{1000 * side:g}" for side in np.round(sides, 4)}))
    return f"{marker.marker_id}  {fiducial.dictionary} #{tags}  tag {size} mm"


def with_label(picture: np.ndarray, text: str, strip_px: int) -> np.ndarray:
    """The picture with a white strip of `strip_px` below it, `text` written small in it."""
    strip = np.full((max(strip_px, 12), picture.shape[1]), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = cv2.getFontScaleFromHeight(font, max(int(strip.shape[0] * 0.5), 6), 1)
    (width, height), _ = cv2.getTextSize(text, font, scale, 1)
    if width > strip.shape[1] * 0.95:
        scale *= strip.shape[1] * 0.95 / width
        (width, height), _ = cv2.getTextSize(text, font, scale, 1)
    origin = ((strip.shape[1] - width) // 2, (strip.shape[0] + height) // 2)
    cv2.putText(strip, text, origin, font, scale, 96, max(1, round(scale)), cv2.LINE_AA)
    return np.vstack([picture, strip])


def write_printable(picture: np.ndarray, out: Path, dpi: float) -> None:
    """A PNG with its resolution recorded, or a one-page PDF of the picture's true size."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(picture)
        if out.suffix.lower() == ".pdf":
            image.save(out, "PDF", resolution=dpi)
        else:
            image.save(out, "PNG", dpi=(dpi, dpi))
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None
