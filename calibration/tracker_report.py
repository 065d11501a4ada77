"""The calibration report: a PNG of targets, mapped gaze and error lines over the camera view."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gazefusion.calibration.tracker import select_samples
from gazefusion.calibration.tracker_procedure import CalibrationRun
from gazefusion.fusion.errors import OutputError
from gazefusion.fusion.files import write_bytes_atomic

_WHITE, _RED, _GREEN, _YELLOW, _CYAN, _MAGENTA = (
    (255, 255, 255),
    (60, 60, 255),
    (80, 220, 80),
    (0, 220, 255),
    (255, 220, 0),
    (255, 80, 255),
)


def _fmt(value: Any, unit: str, digits: int = 2) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f} {unit}"


def report_lines(run: CalibrationRun, extra: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """The figures written on the report (and printed by the command), one per line.

    Parameters
    ----------
    run : CalibrationRun
        The finished calibration.
    extra : Mapping or None
        More named figure blocks, e.g. ``{"noise floor": {...}, "iViewX": {...}}``, printed
        as ``name: key value, …``. (default: None)
    """
    info = run.mapping.info
    lines = [f"model: {info['model']['reason']}"]
    for kind, report in run.fit.models.items():
        if report.mapping is None or report.fit is None:
            lines.append(f"  {kind}: refused ({report.refused})")
            continue
        fit = report.fit.summary()
        cv = report.cross_validation.summary() if report.cross_validation is not None else None
        cv_text = "n/a" if cv is None else f"{_fmt(cv['rms_deg'], 'deg', 3)} / {_fmt(cv['rms_px'], 'px')}"
        lines.append(
            f"  {kind}: fit RMS {_fmt(fit['rms_deg'], 'deg', 3)} / {_fmt(fit['rms_px'], 'px')}, leave-one-out RMS {cv_text}"
        )
    overall = run.summary.overall()
    lines.append(
        f"validation ({overall['n_targets']} targets, {overall['n_samples']} samples): "
        f"accuracy {_fmt(overall['accuracy_deg'], 'deg', 3)} / {_fmt(overall['accuracy_px'], 'px')}, "
        f"offset of mean {_fmt(overall['offset_of_mean_deg'], 'deg', 3)}, "
        f"precision (RMS-S2S) {_fmt(overall['precision_deg'], 'deg', 3)} / {_fmt(overall['precision_px'], 'px')}"
    )
    for target in run.summary.targets:
        if target.failed:
            lines.append(f"  {target.name}: failed ({target.failed})")
        else:
            lines.append(
                f"  {target.name}: accuracy {_fmt(target.accuracy_deg, 'deg', 3)}, precision {_fmt(target.precision_deg, 'deg', 3)}, "
                f"{target.n_used}/{target.n_samples} samples"
            )
    if run.failed_targets:
        lines.append(f"failed targets: {', '.join(run.failed_targets)}")
    for name, block in (extra or {}).items():
        parts = [f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}" for key, value in block.items()]
        lines.append(f"{name}: {', '.join(parts)}")
    return lines


def draw_report(
    image: np.ndarray,
    run: CalibrationRun,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    error_gain: float = 10.0,
    min_width_px: int = 1280,
) -> np.ndarray:
    """Draw the report over a camera frame.

    Calibration targets are white circles with a green error line to their mapped gaze
    centre; validation targets cyan squares with their mapped samples (yellow) and a magenta
    error line to the samples' mean. Error lines are drawn `error_gain` times their length
    (they are often a pixel or two). Failed targets are crossed out in red. The figures
    are written in a panel below the image.

    Parameters
    ----------
    image : numpy.ndarray
        A camera frame, BGR, of the mapping's camera size.
    run : CalibrationRun
        The finished calibration.
    extra : Mapping or None
        More figure blocks for the panel (see :func:`report_lines`). (default: None)
    error_gain : float
        Magnification of the error lines. (default: 10.0)
    min_width_px : int
        The frame is scaled up to at least this width, so the text stays legible.
        (default: 1280)
    """
    scale = max(1.0, min_width_px / image.shape[1])
    view_image = (
        cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR) if scale != 1.0 else image.copy()
    )
    view_image = (view_image * 0.6).astype(np.uint8)  # dimmed, so the marks stand out

    def pt(xy: np.ndarray) -> tuple[int, int]:
        return int(round(float(xy[0]) * scale)), int(round(float(xy[1]) * scale))

    def error_end(target: np.ndarray, reached: np.ndarray) -> np.ndarray:
        return np.asarray(target + (reached - target) * error_gain)

    mapping = run.mapping
    geometry = run.view.geometry
    for collected in run.calibration:
        target = collected.target.camera_px
        cv2.circle(view_image, pt(target), 10, _WHITE, 2, cv2.LINE_AA)
        cv2.putText(
            view_image,
            collected.target.name,
            pt(target + [8, -8]),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            _WHITE,
            1,
            cv2.LINE_AA,
        )
        if collected.status == "failed":
            _cross(view_image, pt(target))
            continue
        centre = mapping.to_camera(select_samples(collected.samples_px, geometry).centre_px)
        cv2.line(view_image, pt(target), pt(error_end(target, centre)), _GREEN, 2, cv2.LINE_AA)
    for collected, result in zip(run.validation, run.summary.targets):
        target = collected.target.camera_px
        x, y = pt(target)
        if not result.failed:
            for sample in mapping.to_camera(collected.samples_px):
                cv2.circle(view_image, pt(sample), 1, _YELLOW, -1)
        cv2.rectangle(view_image, (x - 9, y - 9), (x + 9, y + 9), _CYAN, 2, cv2.LINE_AA)
        cv2.putText(
            view_image, collected.target.name, (x + 11, y - 11), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _CYAN, 1, cv2.LINE_AA
        )
        if result.failed:
            _cross(view_image, (x, y))
            continue
        cv2.line(view_image, (x, y), pt(error_end(target, result.mean_px)), _MAGENTA, 2, cv2.LINE_AA)
    lines = report_lines(run, extra)
    lines.append(
        f"white: calibration targets, green: error to mapped gaze centre (x{error_gain:g}); cyan: validation targets, "
        f"yellow: mapped samples, magenta: error of their mean (x{error_gain:g}); red X: failed"
    )
    lines = [part for line in lines for part in wrap_line(line, view_image.shape[1] - 20)]
    line_px = 22
    panel = np.zeros((line_px * len(lines) + 16, view_image.shape[1], 3), np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(panel, line, (10, 20 + i * line_px), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _WHITE, 1, cv2.LINE_AA)
    return np.vstack([view_image, panel])


def wrap_line(line: str, width_px: int) -> list[str]:
    """Split a line at ", " so each part fits `width_px` in the panel's font."""
    parts: list[str] = []
    current = ""
    for word in line.split(", "):
        candidate = f"{current}, {word}" if current else word
        if current and cv2.getTextSize(candidate, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0][0] > width_px:
            parts.append(current + ",")
            current = "    " + word
        else:
            current = candidate
    return parts + [current]


def _cross(image: np.ndarray, centre: tuple[int, int], size: int = 12) -> None:
    x, y = centre
    cv2.line(image, (x - size, y - size), (x + size, y + size), _RED, 3, cv2.LINE_AA)
    cv2.line(image, (x - size, y + size), (x + size, y - size), _RED, 3, cv2.LINE_AA)


def write_png_atomic(path: str | Path, image: np.ndarray) -> None:
    """Write a PNG atomically (:func:`~gazefusion.fusion.files.write_bytes_atomic`)."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise OutputError(f"cannot encode the report image for {path}")
    write_bytes_atomic(path, encoded.tobytes())
