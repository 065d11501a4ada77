"""`gazefusion fixations GAZE.tsv --out FIXATIONS.tsv`: offline detection with the online detector.

The gaze table is streamed row by row (never loaded whole) through the same incremental
detector a live run uses; fixations are written as they end. Screen geometry, per field:
the flags, else a JSON sidecar next to the input (``GAZE.json``), else the configuration's
``screen`` section. Rows whose ``t`` does not increase are skipped and counted (a warning
names the first one); a table without valid samples gives an empty fixations table and a
warning, exit status 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gazefusion.fusion.config import ScreenConfig, load_config
from gazefusion.fusion.errors import ConfigError, FileFormatError, OutputError
from gazefusion.fusion.fixations import DETECTORS, describe_params, make_detector
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.session.tables import TABLES, fixation_cells
from gazefusion.fusion.tables import TableReader, TableWriter, parse_float
from gazefusion.fusion.types import DetectorEvent, FixationEvent

FIXATIONS = TABLES["fixations.tsv"]
"""The fixations table, as sessions have it."""
# --events all: one row per event, as REMoDNaV's and pymovements' event tables (kind first).
EVENT_COLUMNS = (
    "kind",
    "id",
    "onset",
    "offset",
    "duration",
    "x",
    "y",
    "dispersion_deg",
    "start_x",
    "start_y",
    "end_x",
    "end_y",
    "amplitude_deg",
    "peak_velocity_deg_s",
    "mean_velocity_deg_s",
    "direction_deg",
    "n_samples",
)
MOVEMENT_KINDS = ("saccade", "pso", "pursuit", "blink")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``gazefusion fixations``."""
    parser.add_argument("gaze", metavar="GAZE.tsv", help="gaze table with columns t (s), x, y (px); nan = invalid")
    parser.add_argument("--out", required=True, metavar="FIXATIONS.tsv", help="fixations table to write")
    parser.add_argument(
        "--method",
        choices=sorted(DETECTORS),
        default=None,
        help="detector (default: the configuration's fixations.method, ivt)",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector parameter in degrees/seconds, repeatable (listed below)",
    )
    parser.add_argument(
        "--events",
        choices=("fixations", "all"),
        default="fixations",
        help="fixations: the fixations table; all: one table of every event with a kind column "
        "(fixation, saccade, pso, pursuit, blink; the latter four from ivdt) (default: fixations)",
    )
    parser.add_argument("--screen-px", metavar="WxH", help="screen size, px")
    parser.add_argument("--screen-mm", metavar="WxH", help="screen size, mm")
    parser.add_argument("--distance-mm", type=float, metavar="D", help="viewing distance, mm")
    parser.add_argument("--config", metavar="YAML", help="configuration file (default: built-in defaults)")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "parameters (--param KEY=VALUE):\n" + "\n".join(
        f"  {method}: {line}" for method in sorted(DETECTORS) for line in describe_params(method)
    )


def _pair(text: str, flag: str) -> tuple[float, float]:
    parts = text.lower().split("x")
    try:
        width, height = (float(part) for part in parts)
    except ValueError:
        raise ConfigError(f"{flag}: expected WxH, e.g. 1024x768, got {text!r}") from None
    return width, height


def _params(items: list[str]) -> dict[str, float]:
    params: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param: expected KEY=VALUE, got {item!r}")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--param {key.strip()}: {value!r} is not a number") from None
    return params


def resolve_geometry(args: argparse.Namespace, gaze: Path, screen: ScreenConfig) -> ScreenGeometry:
    """Flags over the JSON sidecar next to `gaze` over the configuration's screen section."""
    sidecar = gaze.with_suffix(".json")
    if sidecar.is_file():
        base = ScreenGeometry.from_sidecar(sidecar)
    else:
        base = screen.geometry()
    if args.screen_px:
        wpx, hpx = _pair(args.screen_px, "--screen-px")
        if wpx != int(wpx) or hpx != int(hpx):
            raise ConfigError(f"--screen-px: expected whole pixels, got {args.screen_px!r}")
        base = base._replace(width_px=int(wpx), height_px=int(hpx))
    if args.screen_mm:
        wmm, hmm = _pair(args.screen_mm, "--screen-mm")
        base = base._replace(width_mm=wmm, height_mm=hmm)
    if args.distance_mm is not None:
        base = base._replace(distance_mm=args.distance_mm)
    return base.validate()


def _warn(message: str) -> None:
    print(f"gazefusion: warning: {message}", file=sys.stderr)


def _event_row(event: DetectorEvent) -> dict[str, object]:
    if isinstance(event, FixationEvent):
        f = event.fixation
        return {"kind": "fixation", **{name: getattr(f, name) for name in FIXATIONS.names if name in EVENT_COLUMNS}}
    m = event.movement
    return {name: getattr(m, name) for name in EVENT_COLUMNS if hasattr(m, name)}


def run(args: argparse.Namespace) -> int:
    """Detect the fixations of one gaze table; prints a one-line summary."""
    config = load_config(args.config)
    gaze = Path(args.gaze)
    method = args.method or config.fixations.method
    params = {**config.fixations.params, **_params(args.param)}
    reader = TableReader(gaze, required=("t", "x", "y"))
    geometry = resolve_geometry(args, gaze, config.screen)
    detector = make_detector(method, geometry, params)
    has_valid = "valid" in reader.columns
    rows = valid_rows = 0
    first_skipped = 0
    fixations = []
    movements = dict.fromkeys(MOVEMENT_KINDS, 0)
    every_event = args.events == "all"
    out = Path(args.out)

    def write(events: list[DetectorEvent]) -> None:
        for event in events:
            if event.kind != "end":
                continue
            if isinstance(event, FixationEvent):
                fixations.append(event.fixation.duration)
                writer.write(_event_row(event) if every_event else fixation_cells(event.fixation))
            elif every_event:
                movements[event.movement.kind] += 1
                writer.write(_event_row(event))

    try:
        writer = TableWriter(out, EVENT_COLUMNS if every_event else FIXATIONS.names, flush_every_s=0.5)
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror}") from None
    with writer:
        for row in reader:
            rows += 1
            where = f"{gaze} data row {rows}"
            t = parse_float(row["t"], "t", where)
            if t != t:
                raise FileFormatError(f"column t: empty or nan time ({where})")
            x = parse_float(row["x"], "x", where)
            y = parse_float(row["y"], "y", where)
            valid = not has_valid or row["valid"].strip().lower() not in ("0", "false", "")
            skipped = detector.skipped_samples
            events = detector.push(t, x, y, valid)
            if detector.skipped_samples > skipped:
                first_skipped = first_skipped or rows
            elif valid and x == x and y == y:
                valid_rows += 1
            if events:
                write(events)
        write(detector.flush())
    if detector.skipped_samples:
        _warn(f"skipped {detector.skipped_samples} row(s) whose t did not increase (first: data row {first_skipped})")
    if rows and not valid_rows:
        _warn(f"no valid samples in {gaze} ({rows} row(s), all invalid): no fixations")
    elif not rows:
        _warn(f"{gaze} has a header but no samples: no fixations")
    mean_ms = 1000 * sum(fixations) / len(fixations) if fixations else 0.0
    others = "".join(f", {count} {kind}s" for kind, count in movements.items() if every_event)
    print(
        f"{len(fixations)} fixations (mean {mean_ms:.0f} ms){others} from {rows} samples ({valid_rows} valid) "
        f"with {method} -> {out}"
    )
    return 0
