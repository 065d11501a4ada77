"""Tracker-to-camera calibration, pure: target layouts, sample selection, fitting, validation.

Nothing here touches a socket, a window or a clock. The procedure
(:mod:`gazefusion.calibration.tracker_procedure`) collects the samples; this module turns
them into a :class:`~gazefusion.calibration.mapping.TrackerCameraMapping` and the figures
that say how far to trust it.

Angles: a camera px position is shown on the tracked screen through the full-screen display
transform (the camera image scaled to fit, centred), and that screen position is converted
to degrees of visual angle per axis with :class:`~gazefusion.fusion.geometry.ScreenGeometry`.
An angular distance is the Euclidean norm of the per-axis angle differences.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import cv2
import numpy as np

from gazefusion.calibration.mapping import MappingKind, TrackerCameraMapping, poly2_terms
from gazefusion.fusion.errors import CalibrationError, ConfigError, GazefusionError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.registry import Registry

# Layout positions as fractions of the area inside the margin: (0, 0) top-left, (1, 1)
# bottom-right. The centre comes first (the usual start), the others row by row.
_GRID_9 = ((0.5, 0.5), (0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (0.0, 0.5), (1.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0))
_QUADRANTS = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))
_DIAMOND = ((0.5, 0.25), (0.25, 0.5), (0.75, 0.5), (0.5, 0.75))
CALIBRATION_LAYOUTS: dict[int, tuple[tuple[float, float], ...]] = {9: _GRID_9, 13: _GRID_9 + _QUADRANTS}
# Validation targets lie between the calibration targets, never on one.
VALIDATION_LAYOUTS: dict[int, tuple[tuple[float, float], ...]] = {9: _QUADRANTS, 13: _DIAMOND}
MIN_TARGETS: dict[str, int] = {"homography": 4, "poly2": 6}
# A triangle of targets whose area is below this fraction of the squared layout diagonal
# counts as collinear.
_COLLINEAR_AREA_FRAC = 0.01
# Smallest singular value over the largest of the normalised polynomial design matrix.
_POLY2_MIN_CONDITION = 1e-3


class CameraView(NamedTuple):
    """The camera image shown full-screen on the tracked screen, seen from the eye.

    Attributes
    ----------
    geometry : ScreenGeometry
        The tracked screen and viewing distance.
    camera_size_px : tuple[int, int]
        Camera image (width, height), px.
    """

    geometry: ScreenGeometry
    camera_size_px: tuple[int, int]

    @property
    def screen_size_px(self) -> tuple[int, int]:
        """The tracked screen (width, height), px."""
        return int(self.geometry.width_px), int(self.geometry.height_px)

    @property
    def display_matrix(self) -> np.ndarray:
        """(3, 3) camera px to screen px: the full-screen display transform."""
        fullscreen = TrackerCameraMapping.fullscreen(self.screen_size_px, self.camera_size_px)
        return np.linalg.inv(fullscreen.params)

    def camera_to_screen(self, xy_camera_px: np.ndarray) -> np.ndarray:
        """Where camera px appear on the screen.

        Parameters
        ----------
        xy_camera_px : numpy.ndarray
            Camera px, (N, 2) or (2,).

        Returns
        -------
        numpy.ndarray
            Screen px, the same shape.
        """
        points = np.asarray(xy_camera_px, dtype=np.float64)
        matrix = self.display_matrix
        flat = points.reshape(-1, 2) @ matrix[:2, :2].T + matrix[:2, 2]
        return np.asarray(flat.reshape(points.shape))

    def screen_to_camera(self, xy_screen_px: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`camera_to_screen`.

        Parameters
        ----------
        xy_screen_px : numpy.ndarray
            Screen px, (N, 2) or (2,).
        """
        points = np.asarray(xy_screen_px, dtype=np.float64)
        matrix = np.linalg.inv(self.display_matrix)
        flat = points.reshape(-1, 2) @ matrix[:2, :2].T + matrix[:2, 2]
        return np.asarray(flat.reshape(points.shape))

    def camera_to_degrees(self, xy_camera_px: np.ndarray) -> np.ndarray:
        """Camera px to degrees from the screen centre, per axis.

        Parameters
        ----------
        xy_camera_px : numpy.ndarray
            Camera px, (N, 2) or (2,).

        Returns
        -------
        numpy.ndarray
            (N, 2) degrees.
        """
        screen = self.camera_to_screen(np.asarray(xy_camera_px, dtype=np.float64).reshape(-1, 2))
        ax, ay = self.geometry.to_degrees(screen[:, 0], screen[:, 1])
        return np.stack([ax, ay], axis=1)

    def angle_deg(self, a_camera_px: np.ndarray, b_camera_px: np.ndarray) -> np.ndarray:
        """Angular distance between camera px positions, as seen on the screen.

        Parameters
        ----------
        a_camera_px, b_camera_px : numpy.ndarray
            Camera px, (N, 2) or (2,) each.

        Returns
        -------
        numpy.ndarray
            (N,) degrees.
        """
        return np.asarray(
            np.linalg.norm(self.camera_to_degrees(a_camera_px) - self.camera_to_degrees(b_camera_px), axis=1)
        )


def screen_to_degrees(geometry: ScreenGeometry, xy_screen_px: np.ndarray) -> np.ndarray:
    """Screen (tracker) px to degrees from the screen centre, per axis ((N, 2))."""
    flat = np.asarray(xy_screen_px, dtype=np.float64).reshape(-1, 2)
    ax, ay = geometry.to_degrees(flat[:, 0], flat[:, 1])
    return np.stack([ax, ay], axis=1)


def _layout(
    fractions: Sequence[tuple[float, float]], camera_size_px: tuple[int, int], margin_frac: float
) -> np.ndarray:
    if not 0.0 <= margin_frac < 0.5:
        raise ConfigError(f"target margin must be in [0, 0.5) of the image, got {margin_frac}")
    width, height = camera_size_px
    uv = np.asarray(fractions, dtype=np.float64)
    x = (margin_frac + uv[:, 0] * (1 - 2 * margin_frac)) * width
    y = (margin_frac + uv[:, 1] * (1 - 2 * margin_frac)) * height
    return np.stack([x, y], axis=1)


def calibration_targets(n_points: int, camera_size_px: tuple[int, int], margin_frac: float = 0.1) -> np.ndarray:
    """Calibration target positions covering the camera image.

    Parameters
    ----------
    n_points : int
        9 (a 3x3 grid) or 13 (the grid and the four quadrant centres).
    camera_size_px : tuple[int, int]
        Camera image (width, height), px.
    margin_frac : float
        Distance of the outer targets from the image border, as a fraction of its size.
        (default: 0.1)

    Returns
    -------
    numpy.ndarray
        (n_points, 2) camera px, the centre first.
    """
    if n_points not in CALIBRATION_LAYOUTS:
        raise ConfigError(f"--points must be one of {', '.join(map(str, CALIBRATION_LAYOUTS))}, got {n_points}")
    return _layout(CALIBRATION_LAYOUTS[n_points], camera_size_px, margin_frac)


def validation_targets(n_points: int, camera_size_px: tuple[int, int], margin_frac: float = 0.1) -> np.ndarray:
    """Validation target positions, between the calibration targets of the same layout.

    Parameters
    ----------
    n_points : int
        The calibration layout (9 or 13) they go with.
    camera_size_px : tuple[int, int]
        Camera image (width, height), px.
    margin_frac : float
        As for :func:`calibration_targets`. (default: 0.1)

    Returns
    -------
    numpy.ndarray
        (4, 2) camera px.
    """
    if n_points not in VALIDATION_LAYOUTS:
        raise ConfigError(f"--points must be one of {', '.join(map(str, VALIDATION_LAYOUTS))}, got {n_points}")
    return _layout(VALIDATION_LAYOUTS[n_points], camera_size_px, margin_frac)


class Selection(NamedTuple):
    """The samples kept for one target and their robust centre.

    Attributes
    ----------
    centre_px : numpy.ndarray
        (2,) mean of the kept samples, tracker px (nan when none).
    keep : numpy.ndarray
        (N,) bool, the samples kept.
    threshold_deg : float
        Distance from the median beyond which a sample was rejected, degrees.
    """

    centre_px: np.ndarray
    keep: np.ndarray
    threshold_deg: float


def select_samples(
    samples_px: np.ndarray,
    geometry: ScreenGeometry,
    mad_k: float = 3.0,
    min_threshold_deg: float = 0.1,
) -> Selection:
    """Reject outliers by their angular distance from the median, keep the robust centre.

    A sample is rejected when its distance from the per-axis median exceeds
    ``median(d) + mad_k * 1.4826 * MAD(d)`` (never less than `min_threshold_deg`).

    Parameters
    ----------
    samples_px : numpy.ndarray
        (N, 2) valid gaze samples, tracker px.
    geometry : ScreenGeometry
        For the conversion to degrees.
    mad_k : float
        Robust z threshold. (default: 3.0)
    min_threshold_deg : float
        Floor of the rejection distance, degrees, so noise-free data keeps its samples.
        (default: 0.1)

    Returns
    -------
    Selection
        The kept samples' mask, their mean and the threshold.
    """
    points = np.asarray(samples_px, dtype=np.float64).reshape(-1, 2)
    finite = np.all(np.isfinite(points), axis=1)
    if not finite.any():
        return Selection(np.full(2, np.nan), finite, float("nan"))
    degrees = screen_to_degrees(geometry, points[finite])
    distance = np.linalg.norm(degrees - np.median(degrees, axis=0), axis=1)
    median = float(np.median(distance))
    mad = float(np.median(np.abs(distance - median)))
    threshold = max(median + mad_k * 1.4826 * mad, min_threshold_deg)
    keep = finite.copy()
    keep[finite] = distance <= threshold
    return Selection(points[keep].mean(axis=0), keep, threshold)


def check_layout(points: np.ndarray, kind: str, what: str = "targets") -> None:
    """Refuse a point set on which a model of `kind` cannot be fitted.

    A homography needs 4 points of which no 3 are collinear; the polynomial needs 6 points
    that do not all lie on one conic (a well-conditioned design matrix).

    Parameters
    ----------
    points : numpy.ndarray
        (N, 2) positions.
    kind : {"homography", "poly2"}
        The model.
    what : str
        Names the points in the error. (default: "targets")

    Raises
    ------
    CalibrationError
        Too few points, or a degenerate (collinear) layout.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    need = MIN_TARGETS[kind]
    if len(points) < need:
        raise CalibrationError(f"{len(points)} valid {what}: a {kind} needs at least {need}")
    span = np.ptp(points, axis=0)
    scale = float(np.hypot(*span)) or 1.0
    unit = (points - points.mean(axis=0)) / scale
    triples = np.array(list(itertools.combinations(range(len(unit)), 3)))
    a, b, c = unit[triples[:, 0]], unit[triples[:, 1]], unit[triples[:, 2]]
    area = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    if not np.any(area > _COLLINEAR_AREA_FRAC):
        raise CalibrationError(f"the {what} are collinear (a degenerate layout): the mapping cannot be fitted")
    if kind == "homography":
        good = {tuple(t) for t, ok in zip(triples.tolist(), area > _COLLINEAR_AREA_FRAC) if ok}
        for quad in itertools.combinations(range(len(unit)), 4):
            if all(tri in good for tri in itertools.combinations(quad, 3)):
                return
        raise CalibrationError(
            f"the {what} have no 4 points without 3 on a line (a degenerate layout): a homography cannot be fitted"
        )
    singular = np.linalg.svd(poly2_terms(unit * 2.0), compute_uv=False)
    if singular[-1] < _POLY2_MIN_CONDITION * singular[0]:
        raise CalibrationError(
            f"the {what} lie on one conic (a degenerate layout): a second-order polynomial cannot be fitted"
        )


FITTERS: Registry[Callable[[np.ndarray, np.ndarray, tuple[int, int]], np.ndarray]] = Registry("mapping model")
"""Tracker-to-camera mapping models by name: (tracker px, camera px, screen size) -> params."""


@FITTERS.register("homography")
def _fit_homography(tracker_px: np.ndarray, camera_px: np.ndarray, screen_size_px: tuple[int, int]) -> np.ndarray:
    # Method 0: least squares over all points; outliers were removed per target already.
    matrix, _ = cv2.findHomography(tracker_px.reshape(-1, 1, 2), camera_px.reshape(-1, 1, 2), 0)
    if matrix is None or not np.all(np.isfinite(matrix)):
        raise CalibrationError("the homography fit failed on these targets (a degenerate layout)")
    return np.asarray(matrix / matrix[2, 2])


@FITTERS.register("poly2")
def _fit_poly2(tracker_px: np.ndarray, camera_px: np.ndarray, screen_size_px: tuple[int, int]) -> np.ndarray:
    sw, sh = screen_size_px
    normalised = np.stack([tracker_px[:, 0] / sw * 2 - 1, tracker_px[:, 1] / sh * 2 - 1], axis=1)
    params, *_ = np.linalg.lstsq(poly2_terms(normalised), camera_px, rcond=None)
    return np.asarray(params)


def fit_mapping(
    kind: MappingKind,
    tracker_px: np.ndarray,
    camera_px: np.ndarray,
    screen_size_px: tuple[int, int],
    camera_size_px: tuple[int, int],
) -> TrackerCameraMapping:
    """Fit one model of tracker px to camera px on point pairs.

    Parameters
    ----------
    kind : {"homography", "poly2"}
        The model (a key of :data:`FITTERS`).
    tracker_px : numpy.ndarray
        (N, 2) gaze centres, tracker px.
    camera_px : numpy.ndarray
        (N, 2) the targets they belong to, camera px.
    screen_size_px : tuple[int, int]
        Tracked screen (width, height), px.
    camera_size_px : tuple[int, int]
        Camera image (width, height), px.

    Raises
    ------
    CalibrationError
        Too few pairs or a degenerate layout, on either side.
    """
    fit = FITTERS[kind]
    tracker_px = np.asarray(tracker_px, dtype=np.float64).reshape(-1, 2)
    camera_px = np.asarray(camera_px, dtype=np.float64).reshape(-1, 2)
    check_layout(camera_px, kind, "targets")
    check_layout(tracker_px, kind, "gaze positions on the targets")
    params = fit(tracker_px, camera_px, screen_size_px)
    hull = cv2.convexHull(tracker_px.astype(np.float32), returnPoints=False).reshape(-1)
    area = tracker_px[hull]
    screen = (int(screen_size_px[0]), int(screen_size_px[1]))
    camera = (int(camera_size_px[0]), int(camera_size_px[1]))
    return TrackerCameraMapping(kind, params, screen, camera, area, {})


class ErrorStats(NamedTuple):
    """Per-target errors of a model and their summary.

    Attributes
    ----------
    errors_px, errors_deg : numpy.ndarray
        (N,) distance of the mapped gaze centre from each target, camera px and degrees;
        nan where it could not be computed.
    """

    errors_px: np.ndarray
    errors_deg: np.ndarray

    def summary(self) -> dict[str, float]:
        """Mean, RMS and max, camera px and degrees (nan when no target has an error)."""
        out: dict[str, float] = {}
        for unit, values in (("px", self.errors_px), ("deg", self.errors_deg)):
            finite = values[np.isfinite(values)]
            out[f"mean_{unit}"] = float(finite.mean()) if finite.size else float("nan")
            out[f"rms_{unit}"] = float(np.sqrt(np.mean(finite**2))) if finite.size else float("nan")
            out[f"max_{unit}"] = float(finite.max()) if finite.size else float("nan")
        return out


def _errors(
    mapping: TrackerCameraMapping, tracker_px: np.ndarray, camera_px: np.ndarray, view: CameraView
) -> ErrorStats:
    mapped = mapping.to_camera(tracker_px)
    return ErrorStats(np.linalg.norm(mapped - camera_px, axis=1), view.angle_deg(mapped, camera_px))


def leave_one_out(
    kind: MappingKind, tracker_px: np.ndarray, camera_px: np.ndarray, view: CameraView
) -> ErrorStats | None:
    """Leave-one-target-out cross-validation errors of a model.

    Parameters
    ----------
    kind : {"homography", "poly2"}
        The model.
    tracker_px : numpy.ndarray
        (N, 2) gaze centres, tracker px.
    camera_px : numpy.ndarray
        (N, 2) their targets, camera px.
    view : CameraView
        For the errors in degrees.

    Returns
    -------
    ErrorStats or None
        Each target's error when predicted by the model fitted on the others; None when
        some fold cannot be fitted (too few or degenerate remaining targets).
    """
    n = len(tracker_px)
    errors_px, errors_deg = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        rest = np.arange(n) != i
        try:
            fold = fit_mapping(kind, tracker_px[rest], camera_px[rest], view.screen_size_px, view.camera_size_px)
        except GazefusionError:
            return None
        stats = _errors(fold, tracker_px[i : i + 1], camera_px[i : i + 1], view)
        errors_px[i], errors_deg[i] = stats.errors_px[0], stats.errors_deg[0]
    return ErrorStats(errors_px, errors_deg)


class ModelReport(NamedTuple):
    """How one model did on the calibration targets.

    Attributes
    ----------
    kind : str
        The model.
    mapping : TrackerCameraMapping or None
        The fit on all targets; None where it could not be fitted.
    fit : ErrorStats or None
        In-sample residuals.
    cross_validation : ErrorStats or None
        Leave-one-target-out residuals; None where too few targets for it.
    refused : str
        Why the model could not be fitted ("" when it was).
    """

    kind: str
    mapping: TrackerCameraMapping | None
    fit: ErrorStats | None
    cross_validation: ErrorStats | None
    refused: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the result file."""
        if self.mapping is None or self.fit is None:
            return {"refused": self.refused}
        out: dict[str, Any] = {"fit": plain(self.fit.summary())}
        out["cross_validation"] = None if self.cross_validation is None else plain(self.cross_validation.summary())
        return out


class FitResult(NamedTuple):
    """The chosen mapping and the evidence for the choice.

    Attributes
    ----------
    mapping : TrackerCameraMapping
        The chosen model fitted on all valid targets.
    reason : str
        Why it was chosen, one line.
    models : dict[str, ModelReport]
        Every model tried, by kind.
    """

    mapping: TrackerCameraMapping
    reason: str
    models: dict[str, ModelReport]


def fit_and_choose(tracker_px: np.ndarray, camera_px: np.ndarray, view: CameraView) -> FitResult:
    """Fit every model and choose by leave-one-target-out cross-validation (degrees).

    The polynomial is chosen only when its cross-validated RMS error is lower than the
    homography's; a model that cannot be cross-validated loses to one that can; with
    too few or degenerate targets for the polynomial the homography is used alone.

    Parameters
    ----------
    tracker_px : numpy.ndarray
        (N, 2) gaze centres of the valid calibration targets, tracker px.
    camera_px : numpy.ndarray
        (N, 2) those targets, camera px.
    view : CameraView
        Screen geometry and camera size, for degrees.

    Raises
    ------
    CalibrationError
        When no model can be fitted (the homography's reason is given).
    """
    tracker_px = np.asarray(tracker_px, dtype=np.float64).reshape(-1, 2)
    camera_px = np.asarray(camera_px, dtype=np.float64).reshape(-1, 2)
    models: dict[str, ModelReport] = {}
    for kind in FITTERS:
        try:
            mapping = fit_mapping(kind, tracker_px, camera_px, view.screen_size_px, view.camera_size_px)  # type: ignore[arg-type]
        except GazefusionError as exc:
            models[kind] = ModelReport(kind, None, None, None, str(exc))
            continue
        fit = _errors(mapping, tracker_px, camera_px, view)
        models[kind] = ModelReport(kind, mapping, fit, leave_one_out(kind, tracker_px, camera_px, view))  # type: ignore[arg-type]
    homography, poly2 = models["homography"], models["poly2"]
    if homography.mapping is None:
        raise CalibrationError(f"calibration refused, nothing written: {homography.refused}")
    if poly2.mapping is None:
        return FitResult(homography.mapping, f"homography (the polynomial was refused: {poly2.refused})", models)
    if poly2.cross_validation is None:
        return FitResult(homography.mapping, "homography (too few targets to cross-validate the polynomial)", models)
    if homography.cross_validation is None:
        return FitResult(poly2.mapping, "poly2 (too few targets to cross-validate the homography)", models)
    rms_h = homography.cross_validation.summary()["rms_deg"]
    rms_p = poly2.cross_validation.summary()["rms_deg"]
    if rms_p < rms_h:
        return FitResult(
            poly2.mapping, f"poly2 (cross-validated RMS {rms_p:.3f} deg < homography {rms_h:.3f} deg)", models
        )
    return FitResult(
        homography.mapping, f"homography (cross-validated RMS {rms_h:.3f} deg <= poly2 {rms_p:.3f} deg)", models
    )


class TargetValidation(NamedTuple):
    """Validation figures of one target.

    Attributes
    ----------
    name : str
        Target name (``V1`` …).
    target_px : numpy.ndarray
        (2,) target, camera px.
    n_samples : int
        Valid samples collected.
    n_used : int
        Samples kept after outlier rejection (0 for a failed target).
    accuracy_deg, accuracy_px : float
        Mean offset of the mapped samples from the target, degrees and camera px.
    offset_of_mean_deg, offset_of_mean_px : float
        Offset of the mapped samples' mean from the target, degrees and camera px.
    precision_deg, precision_px : float
        RMS of sample-to-sample distances of the mapped samples, degrees and camera px.
    mean_px : numpy.ndarray
        (2,) mean mapped gaze, camera px.
    failed : str
        Why the target has no figures ("" when it has).
    """

    name: str
    target_px: np.ndarray
    n_samples: int
    n_used: int
    accuracy_deg: float
    accuracy_px: float
    offset_of_mean_deg: float
    offset_of_mean_px: float
    precision_deg: float
    precision_px: float
    mean_px: np.ndarray
    failed: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the result file."""
        out: dict[str, Any] = {"name": self.name, "target_px": plain(self.target_px.tolist())}
        if self.failed:
            return out | {"failed": self.failed, "n_samples": self.n_samples}
        return out | {
            "n_samples": self.n_samples,
            "n_used": self.n_used,
            "accuracy_deg": plain(self.accuracy_deg),
            "accuracy_px": plain(self.accuracy_px),
            "offset_of_mean_deg": plain(self.offset_of_mean_deg),
            "offset_of_mean_px": plain(self.offset_of_mean_px),
            "precision_deg": plain(self.precision_deg),
            "precision_px": plain(self.precision_px),
        }


def target_validation(
    name: str,
    target_px: np.ndarray,
    samples_px: np.ndarray,
    mapping: TrackerCameraMapping,
    view: CameraView,
    keep: np.ndarray | None = None,
) -> TargetValidation:
    """Accuracy and precision of a mapping on one validation target.

    Parameters
    ----------
    name : str
        Target name.
    target_px : numpy.ndarray
        (2,) target, camera px.
    samples_px : numpy.ndarray
        (N, 2) valid gaze samples on it, tracker px, in time order.
    mapping : TrackerCameraMapping
        The mapping under test.
    view : CameraView
        Screen geometry and camera size.
    keep : numpy.ndarray or None
        (N,) samples to use (from :func:`select_samples`); None: all. (default: None)
    """
    target = np.asarray(target_px, dtype=np.float64).reshape(2)
    samples = np.asarray(samples_px, dtype=np.float64).reshape(-1, 2)
    used = samples if keep is None else samples[np.asarray(keep, dtype=bool)]
    if len(used) < 2:
        return _failed(name, target, len(samples), f"{len(used)} usable samples")
    mapped = mapping.to_camera(used)
    offsets_px = np.linalg.norm(mapped - target, axis=1)
    offsets_deg = view.angle_deg(mapped, np.broadcast_to(target, mapped.shape))
    mean = mapped.mean(axis=0)
    degrees = view.camera_to_degrees(mapped)
    return TargetValidation(
        name,
        target,
        len(samples),
        len(used),
        float(offsets_deg.mean()),
        float(offsets_px.mean()),
        float(view.angle_deg(mean[None], target[None])[0]),
        float(np.linalg.norm(mean - target)),
        float(np.sqrt(np.mean(np.sum(np.diff(degrees, axis=0) ** 2, axis=1)))),
        float(np.sqrt(np.mean(np.sum(np.diff(mapped, axis=0) ** 2, axis=1)))),
        mean,
    )


def _failed(name: str, target: np.ndarray, n_samples: int, reason: str) -> TargetValidation:
    nan = float("nan")
    return TargetValidation(name, target, n_samples, 0, nan, nan, nan, nan, nan, nan, np.full(2, np.nan), reason)


def failed_target(name: str, target_px: np.ndarray, reason: str, n_samples: int = 0) -> TargetValidation:
    """A validation target without figures, and why (e.g. never fixated)."""
    return _failed(name, np.asarray(target_px, dtype=np.float64).reshape(2), n_samples, reason)


class ValidationSummary(NamedTuple):
    """Validation over all targets.

    Attributes
    ----------
    targets : list[TargetValidation]
        Per target, failed ones included.
    """

    targets: list[TargetValidation]

    @property
    def valid(self) -> list[TargetValidation]:
        """Targets with figures."""
        return [target for target in self.targets if not target.failed]

    @property
    def failed(self) -> list[TargetValidation]:
        """Targets without figures."""
        return [target for target in self.targets if target.failed]

    def overall(self) -> dict[str, float | int]:
        """Means over the valid targets (each target weighs the same) and the samples used."""
        valid = self.valid
        keys = (
            "accuracy_deg",
            "accuracy_px",
            "offset_of_mean_deg",
            "offset_of_mean_px",
            "precision_deg",
            "precision_px",
        )
        out: dict[str, float | int] = {
            key: float(np.mean([getattr(t, key) for t in valid])) if valid else float("nan") for key in keys
        }
        out["n_targets"] = len(valid)
        out["n_samples"] = int(sum(t.n_used for t in valid))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the result file."""
        return {
            "overall": plain(self.overall()),
            "targets": [target.to_dict() for target in self.targets],
            "failed": [target.name for target in self.failed],
        }


def validate_mapping(
    mapping: TrackerCameraMapping,
    names: Sequence[str],
    targets_px: np.ndarray,
    samples: Sequence[np.ndarray | None],
    view: CameraView,
    reasons: Mapping[str, str] | None = None,
    mad_k: float = 3.0,
) -> ValidationSummary:
    """Validate a mapping on separate targets, with the same outlier rejection as calibration.

    Parameters
    ----------
    mapping : TrackerCameraMapping
        The mapping under test.
    names : Sequence[str]
        Target names.
    targets_px : numpy.ndarray
        (N, 2) targets, camera px.
    samples : Sequence[numpy.ndarray or None]
        Per target, (M, 2) valid samples in tracker px, or None for a failed target.
    view : CameraView
        Screen geometry and camera size.
    reasons : Mapping[str, str] or None
        Why a target has no samples, by name. (default: None)
    mad_k : float
        Outlier threshold of :func:`select_samples`. (default: 3.0)
    """
    results = []
    for name, target, points in zip(names, np.asarray(targets_px, dtype=np.float64).reshape(-1, 2), samples):
        if points is None or len(points) == 0:
            results.append(failed_target(name, target, (reasons or {}).get(name, "no samples")))
            continue
        selection = select_samples(points, view.geometry, mad_k)
        results.append(target_validation(name, target, points, mapping, view, selection.keep))
    return ValidationSummary(results)


def plain(value: Any, digits: int = 4) -> Any:
    """Floats rounded for a readable file; nan becomes None (YAML has no portable nan)."""
    if isinstance(value, dict):
        return {key: plain(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, digits) for item in value]
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else round(float(value), digits)
    if isinstance(value, np.integer):
        return int(value)
    return value
