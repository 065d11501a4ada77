"""`gazefusion calibrate tracker`: the tracker-to-camera mapping, with validation in degrees.

Targets appear one at a time at known camera-image positions on the camera view shown
full-screen (as during a run); each waits for a stable fixation. A homography and a
second-order polynomial are fitted and chosen by leave-one-target-out cross-validation,
then validated on separate targets. The mapping file and the report PNG are written only
when everything succeeded. ``--validate`` re-checks an existing mapping instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from gazefusion.calibration.mapping import load_mapping, save_mapping
from gazefusion.calibration.participant import SimulatedParticipant, TrueMapping
from gazefusion.calibration.tracker import CameraView, ValidationSummary, plain, validate_mapping
from gazefusion.calibration.tracker_procedure import (
    CalibrationRun,
    HeadlessPresenter,
    ProcedureSettings,
    TrackerCalibration,
    WindowPresenter,
)
from gazefusion.calibration.tracker_report import draw_report, report_lines, write_png_atomic
from gazefusion.calibration.tracker_sources import (
    check_participant_spec,
    is_fast,
    open_calibration_tracker,
    run_tracker_calibration,
)
from gazefusion.fusion.camera import open_camera, redact_url
from gazefusion.fusion.config import Config, load_config
from gazefusion.fusion.errors import CalibrationError, CameraError, ConfigError, DisplayError, OutputError
from gazefusion.fusion.window import display_available


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Tracker, camera, layout, outputs, mode."""
    parser.add_argument(
        "--tracker",
        default=None,
        metavar="SPEC",
        help="iviewx://HOST:PORT?listen=PORT, mock, or sim[?mode=notes|real-world] (the iViewX simulator on "
        "loopback, with --simulate-participant; real-world: what real servers were seen to send) "
        "(default: the config's tracker.spec)",
    )
    parser.add_argument(
        "--camera",
        default=None,
        metavar="SOURCE",
        help="the camera shown during runs: MJPEG URL, device index, file, ... (none is not valid here)",
    )
    parser.add_argument(
        "--config", default=None, metavar="YAML", help="configuration file (screen, tracker, camera, fixations)"
    )
    parser.add_argument("--points", type=int, choices=(9, 13), default=9, help="calibration targets (default: 9)")
    parser.add_argument(
        "--out",
        default="tracker_mapping.yaml",
        metavar="MAPPING.yaml",
        help="the mapping file to write (default: tracker_mapping.yaml)",
    )
    parser.add_argument(
        "--report", default=None, metavar="PNG", help="the report image (default: the --out path with .png)"
    )
    parser.add_argument(
        "--validate",
        default=None,
        metavar="MAPPING.yaml",
        help="validate this existing mapping on the validation targets only; prints the figures, writes nothing",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no window (with --simulate-participant: tests, users without a tracker)",
    )
    parser.add_argument(
        "--simulate-participant",
        action="store_true",
        help="a simulated participant looks at the targets through a hidden distortion (tracker mock or sim)",
    )
    parser.add_argument("--seed", type=int, default=0, help="simulated participant's random seed (default: 0)")
    parser.add_argument(
        "--noise-deg",
        type=float,
        default=0.2,
        metavar="DEG",
        help="simulated participant's gaze noise, SD per axis, degrees (default: 0.2)",
    )
    parser.add_argument(
        "--never-fixate",
        default="",
        metavar="NAMES",
        help="simulated participant ignores these targets, e.g. C3,V2 (tests the timeout)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=500.0,
        metavar="HZ",
        help="sample rate of --tracker sim, Hz (mock takes mock?rate=HZ) (default: 500)",
    )
    parser.add_argument(
        "--dwell", type=float, default=0.8, metavar="S", help="fixation needed on a target, s (default: 0.8)"
    )
    parser.add_argument(
        "--target-timeout",
        type=float,
        default=6.0,
        metavar="S",
        help="a target not fixated within this is skipped and reported, s (default: 6)",
    )
    parser.add_argument(
        "--accept-radius",
        type=float,
        default=5.0,
        metavar="DEG",
        help="a fixation within this angle of the target counts as on it (default: 5)",
    )
    parser.add_argument(
        "--margin",
        type=float,
        default=0.1,
        metavar="FRAC",
        help="outer targets' distance from the image border, fraction (default: 0.1)",
    )
    parser.add_argument(
        "--tracker-calibration",
        action="store_true",
        help="first run the iViewX server's own calibration (ET_CAL) and validation (ET_VLS)",
    )


def _settings(args: argparse.Namespace, config: Config) -> ProcedureSettings:
    for name in ("dwell", "target_timeout", "accept_radius", "rate"):
        value = getattr(args, name)
        if not value > 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive number, not {value}")
    if not 0 <= args.margin < 0.5:
        raise ConfigError(f"--margin must be in [0, 0.5), not {args.margin}")
    if not args.noise_deg >= 0:
        raise ConfigError(f"--noise-deg must be >= 0, not {args.noise_deg}")
    return ProcedureSettings(
        points=args.points,
        margin_frac=args.margin,
        dwell_s=args.dwell,
        timeout_s=args.target_timeout,
        accept_radius_deg=args.accept_radius,
        fixation_method=config.fixations.method,
        fixation_params=dict(config.fixations.params) or None,
    )


def _check_writable(path: Path, flag: str) -> None:
    if not path.parent.is_dir():
        raise OutputError(f"{flag} {path}: the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise OutputError(f"{flag} {path}: the folder {path.parent} is not writable")


def run(args: argparse.Namespace) -> int:
    """Calibrate (or validate), write the mapping and the report, print the figures."""
    config = load_config(args.config, {"camera.source": args.camera, "tracker.spec": args.tracker})
    camera_spec = config.camera.source
    if camera_spec.strip().lower() == "none":
        raise ConfigError(
            "calibrate tracker needs a camera (--camera SOURCE): the targets are placed in the camera "
            "image, so camera none is not valid here"
        )
    settings = _settings(args, config)
    check_participant_spec(config.tracker.spec, args.simulate_participant)
    out = Path(args.out)
    report = Path(args.report) if args.report else out.with_suffix(".png")
    existing = load_mapping(args.validate) if args.validate else None
    if existing is None:
        _check_writable(out, "--out")
        _check_writable(report, "--report")
    if not args.headless and not display_available():
        raise DisplayError("no display for the calibration window: run on a display, or use --headless")
    if args.headless and not args.simulate_participant:
        raise ConfigError(
            "--headless shows no targets, so nobody can look at them: add --simulate-participant, or run on a display"
        )
    geometry = config.screen.geometry()
    never = [name.strip() for name in args.never_fixate.split(",") if name.strip()]
    participant = (
        SimulatedParticipant(geometry, noise_deg=args.noise_deg, never_fixate=never, seed=args.seed)
        if args.simulate_participant
        else None
    )

    with contextlib.ExitStack() as stack:
        camera = stack.enter_context(open_camera(camera_spec, config.camera))
        frame = camera.latest(timeout_s=config.camera.read_timeout_s)
        if frame is None:
            raise CameraError(
                f"camera {redact_url(camera_spec)} gave no frame within {config.camera.read_timeout_s:g} s"
            )
        height, width = frame.image.shape[:2]
        view = CameraView(geometry, (width, height))
        if existing is not None:
            existing.check_camera_size(view.camera_size_px, f"mapping {args.validate}")
        tracker = stack.enter_context(open_calibration_tracker(config, participant, args.rate))
        extra: dict[str, dict[str, Any]] = {}
        presenter: Any = HeadlessPresenter(participant)
        if not args.headless:
            presenter = WindowPresenter(camera, view, participant)
            stack.callback(presenter.close)
        procedure = TrackerCalibration(tracker, view, presenter, settings._replace(sample_clock=is_fast(tracker)))
        try:
            if args.tracker_calibration:
                extra["iViewX (server's own calibration and ET_VLS)"] = run_tracker_calibration(
                    tracker, view, presenter, args.points
                )
            if existing is not None:
                checked, summary = procedure.run_validation(existing)
                outcome: CalibrationRun | None = None
            else:
                outcome = procedure.run()
                checked, summary = outcome.validation, outcome.summary
        except KeyboardInterrupt:
            raise CalibrationError("calibration interrupted: nothing written", exit_code=130) from None
        image = (camera.latest() or frame).image

    if participant is not None:
        truth = TrueMapping(participant.transform, np.linalg.inv(view.display_matrix))
        floor = validate_mapping(
            truth,  # type: ignore[arg-type]
            [c.target.name for c in checked],
            np.array([c.target.camera_px for c in checked]),
            [c.samples_px if c.status != "failed" else None for c in checked],
            view,
        ).overall()
        extra["noise floor (true inverse, same samples)"] = {
            "noise_sd_deg": args.noise_deg,
            "accuracy_deg": floor["accuracy_deg"],
            "offset_of_mean_deg": floor["offset_of_mean_deg"],
            "precision_deg": floor["precision_deg"],
        }
    if outcome is None:
        for line in _validation_lines(summary, extra):
            print(line)
        return 0
    mapping = outcome.mapping
    if extra:
        mapping = mapping._replace(info=mapping.info | {"figures": plain({k: dict(v) for k, v in extra.items()})})
    outcome = outcome._replace(mapping=mapping)
    drawn = draw_report(image, outcome, extra)
    save_mapping(mapping, out)
    write_png_atomic(report, drawn)
    for line in report_lines(outcome, extra):
        print(line)
    print(f"wrote {out} and {report}")
    return 0


def _validation_lines(summary: ValidationSummary, extra: dict[str, dict[str, Any]]) -> list[str]:
    overall = summary.overall()
    lines = [
        f"validation ({overall['n_targets']} targets, {overall['n_samples']} samples): "
        f"accuracy {overall['accuracy_deg']:.3f} deg / {overall['accuracy_px']:.2f} px, "
        f"offset of mean {overall['offset_of_mean_deg']:.3f} deg, "
        f"precision {overall['precision_deg']:.3f} deg / {overall['precision_px']:.2f} px"
    ]
    lines += [f"  {t.name}: failed ({t.failed})" for t in summary.failed]
    for name, block in extra.items():
        lines.append(
            f"{name}: "
            + ", ".join(
                f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}" for key, value in block.items()
            )
        )
    return lines
