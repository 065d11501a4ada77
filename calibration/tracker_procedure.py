"""The tracker-to-camera calibration procedure: targets shown, fixations awaited, samples kept.

The procedure drives a tracker (any :func:`gazefusion.trackers.open_tracker` tracker) and a
presenter (a full-screen OpenCV window over the camera view, or headless). For each target
it waits for a stable fixation near it (the online fixation detector of the run, a dwell
time, a timeout), keeps that fixation's samples, then fits and validates with the pure
functions of :mod:`gazefusion.calibration.tracker`. It writes nothing: the caller writes the
result once the whole procedure has succeeded, so an abort leaves nothing half-written.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np

from gazefusion.calibration.mapping import TrackerCameraMapping
from gazefusion.calibration.tracker import (
    CameraView,
    FitResult,
    ValidationSummary,
    calibration_targets,
    fit_and_choose,
    plain,
    screen_to_degrees,
    select_samples,
    validate_mapping,
    validation_targets,
)
from gazefusion.fusion.config import DEFAULT_FIXATION_METHOD
from gazefusion.fusion.errors import CalibrationError, GazefusionError
from gazefusion.fusion.fixations import make_detector
from gazefusion.fusion.types import FixationEvent
from gazefusion.fusion.window import close_window, open_window


class CalibrationAborted(CalibrationError):
    """The calibration was aborted (Esc, or the tracker's ET_BRK): nothing was written."""


class Target(NamedTuple):
    """A target: its name and where it is in the camera image and on the screen.

    Attributes
    ----------
    name : str
        ``C1`` … for calibration, ``V1`` … for validation.
    camera_px : numpy.ndarray
        (2,) camera px.
    screen_px : numpy.ndarray
        (2,) screen px (through the full-screen display transform).
    """

    name: str
    camera_px: np.ndarray
    screen_px: np.ndarray


class Collected(NamedTuple):
    """What the procedure got for one target.

    Attributes
    ----------
    target : Target
        The target.
    samples_px : numpy.ndarray
        (N, 2) valid samples of the accepted fixation, tracker px, in time order; (0, 2) when
        the target failed.
    status : str
        ``"fixation"`` (a stable fixation), ``"manual"`` (accepted with the space bar) or
        ``"failed"``.
    reason : str
        Why it failed ("" otherwise).
    """

    target: Target
    samples_px: np.ndarray
    status: str
    reason: str = ""


class Presenter(Protocol):
    """Shows targets; reports keys ("abort", "accept" or None)."""

    def show(self, target: Target | None) -> None:
        """Show `target` (None: nothing)."""

    def poll(self) -> str | None:
        """Refresh the view; return "abort" (Esc), "accept" (space) or None."""


class HeadlessPresenter:
    """No window: tells a simulated participant (if any) what is shown.

    Parameters
    ----------
    participant : object or None
        Anything with ``show(name, screen_px)``, e.g. a
        :class:`~gazefusion.calibration.participant.SimulatedParticipant`. (default: None)
    """

    def __init__(self, participant: Any = None) -> None:
        self.participant = participant

    def show(self, target: Target | None) -> None:
        """Pass the target on to the participant."""
        if self.participant is not None:
            self.participant.show("" if target is None else target.name, None if target is None else target.screen_px)

    def poll(self) -> str | None:
        """Never a key."""
        return None


class WindowPresenter:
    """A full-screen OpenCV window: the camera view scaled to fit, the target drawn on it.

    Parameters
    ----------
    camera : object
        A started camera source (``latest()``).
    view : CameraView
        Screen and camera sizes.
    participant : object or None
        A simulated participant to tell as well (a display demo without a tracker).
        (default: None)
    window : str
        Window title. (default: "gazefusion calibrate tracker")
    """

    def __init__(
        self, camera: Any, view: CameraView, participant: Any = None, window: str = "gazefusion calibrate tracker"
    ) -> None:
        self.camera = camera
        self.view = view
        self.participant = participant
        self.window = window
        self._target: Target | None = None
        self._image: np.ndarray | None = None
        open_window(window, fullscreen=True, screen_size_px=view.screen_size_px)

    def show(self, target: Target | None) -> None:
        """Draw `target` from the next refresh on."""
        self._target = target
        if self.participant is not None:
            self.participant.show("" if target is None else target.name, None if target is None else target.screen_px)

    def poll(self) -> str | None:
        """Redraw with the newest frame; read a key."""
        frame = self.camera.latest()
        if frame is not None:
            self._image = frame.image
        if self._image is not None:
            cv2.imshow(self.window, render_screen(self._image, self.view, self._target))
        key = cv2.waitKey(1) & 0xFF
        return {27: "abort", 32: "accept"}.get(key)

    def close(self) -> None:
        """Close the window."""
        close_window(self.window)


def render_screen(image: np.ndarray, view: CameraView, target: Target | None) -> np.ndarray:
    """The screen as shown: the camera image fitted to it (letterboxed) and the target on top.

    Parameters
    ----------
    image : numpy.ndarray
        Camera frame, BGR, of the view's camera size.
    view : CameraView
        Screen and camera sizes.
    target : Target or None
        The target to draw.
    """
    width, height = view.screen_size_px
    screen = cv2.warpAffine(image, view.display_matrix[:2], (width, height), flags=cv2.INTER_LINEAR)
    if target is not None:
        x, y = (int(round(v)) for v in target.screen_px)
        radius = max(8, height // 60)
        cv2.circle(screen, (x, y), radius, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(screen, (x, y), radius, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.circle(screen, (x, y), max(2, radius // 4), (0, 0, 255), -1, cv2.LINE_AA)
    return screen


class ProcedureSettings(NamedTuple):
    """How targets are shown and accepted.

    Attributes
    ----------
    points : int
        Calibration layout, 9 or 13. (default: 9)
    margin_frac : float
        Outer targets' distance from the image border, fraction of its size. (default: 0.1)
    dwell_s : float
        A fixation on the target must last this long to be accepted, s. (default: 0.8)
    timeout_s : float
        A target not fixated within this time is skipped and reported, s. (default: 6.0)
    accept_radius_deg : float
        A fixation is on the target when its centre (tracker px, as the uncalibrated screen
        position) is within this angle of the target. (default: 5.0)
    mad_k : float
        Outlier rejection threshold (robust z of the distance from the median). (default: 3.0)
    fixation_method : str
        Fixation detector (the registry of :mod:`gazefusion.fusion.fixations`). (default: "ivdt")
    fixation_params : Mapping[str, float] or None
        Its parameters; None: its defaults. (default: None)
    poll_interval_s : float
        How often the presenter is refreshed and keys read, s. (default: 0.03)
    sample_clock : bool
        Time each target (onset, dwell, timeout) by the samples' ``t`` from the first sample
        after the target appeared, not by the host clock: for a tracker that runs faster than
        real time (``mock?fast``). (default: False)
    """

    points: int = 9
    margin_frac: float = 0.1
    dwell_s: float = 0.8
    timeout_s: float = 6.0
    accept_radius_deg: float = 5.0
    mad_k: float = 3.0
    fixation_method: str = DEFAULT_FIXATION_METHOD
    fixation_params: Mapping[str, float] | None = None
    poll_interval_s: float = 0.03
    sample_clock: bool = False


class CalibrationRun(NamedTuple):
    """A finished calibration: the chosen mapping, its evidence and its validation.

    Attributes
    ----------
    mapping : TrackerCameraMapping
        The chosen mapping, its `info` holding everything else for the file.
    fit : FitResult
        Both models, residuals and the reason of the choice.
    calibration : list[Collected]
        Per calibration target.
    validation : list[Collected]
        Per validation target.
    summary : ValidationSummary
        Validation figures of the chosen mapping.
    view : CameraView
        Screen geometry and camera size.
    """

    mapping: TrackerCameraMapping
    fit: FitResult
    calibration: list[Collected]
    validation: list[Collected]
    summary: ValidationSummary
    view: CameraView

    @property
    def failed_targets(self) -> list[str]:
        """Names of every target that failed (calibration and validation), with reasons."""
        return [f"{c.target.name} ({c.reason})" for c in self.calibration + self.validation if c.status == "failed"]


def make_targets(points: int, view: CameraView, margin_frac: float = 0.1) -> tuple[list[Target], list[Target]]:
    """The calibration and validation targets of a layout, with their screen positions."""
    size = view.camera_size_px
    out = []
    for prefix, positions in (
        ("C", calibration_targets(points, size, margin_frac)),
        ("V", validation_targets(points, size, margin_frac)),
    ):
        screen = view.camera_to_screen(positions)
        out.append([Target(f"{prefix}{i + 1}", positions[i], screen[i]) for i in range(len(positions))])
    return out[0], out[1]


class TrackerCalibration:
    """Runs the calibration: targets one at a time, then the fit, then validation.

    Parameters
    ----------
    tracker : object
        An opened tracker (``start_streaming``, ``stop_streaming``, ``get_sample``,
        ``next_event``).
    view : CameraView
        Screen geometry and camera size.
    presenter : Presenter
        Shows the targets and reports keys.
    settings : ProcedureSettings or None
        None: the defaults. (default: None)
    """

    def __init__(
        self, tracker: Any, view: CameraView, presenter: Presenter, settings: ProcedureSettings | None = None
    ) -> None:
        self.tracker = tracker
        self.view = view
        self.presenter = presenter
        self.settings = settings or ProcedureSettings()
        # Fail on a bad detector name or parameter before anything is shown.
        make_detector(self.settings.fixation_method, view.geometry, self.settings.fixation_params)
        self.targets, self.validation_targets = make_targets(self.settings.points, view, self.settings.margin_frac)
        self._abort = threading.Event()
        self._abort_reason = ""
        self._accept = threading.Event()

    def abort(self, reason: str = "aborted by the user") -> None:
        """Stop the procedure from any thread; :meth:`run` raises :class:`CalibrationAborted`.

        Parameters
        ----------
        reason : str
            Why, for the message. (default: "aborted by the user")
        """
        self._abort_reason = reason
        self._abort.set()

    def accept(self) -> None:
        """Accept the current target by hand with the samples seen so far."""
        self._accept.set()

    def run(self) -> CalibrationRun:
        """Show every target, fit, validate.

        Raises
        ------
        CalibrationAborted
            On :meth:`abort`, Esc, or the tracker's ET_BRK.
        CalibrationError
            When too few targets were fixated to fit a mapping (refused, nothing written).
        """
        self.tracker.start_streaming()
        try:
            collected = [self.collect(target) for target in self.targets]
            ok = [c for c in collected if c.status != "failed"]
            centres = np.array(
                [select_samples(c.samples_px, self.view.geometry, self.settings.mad_k).centre_px for c in ok]
            ).reshape(-1, 2)
            cameras = np.array([c.target.camera_px for c in ok]).reshape(-1, 2)
            failed = [f"{c.target.name} ({c.reason})" for c in collected if c.status == "failed"]
            try:
                fit = fit_and_choose(centres, cameras, self.view)
            except GazefusionError as exc:
                skipped = f"; failed targets: {', '.join(failed)}" if failed else ""
                raise type(exc)(f"{exc}{skipped}", exc.exit_code) from None
            checked, summary = self._validate(fit.mapping)
        finally:
            self.presenter.show(None)
            self.tracker.stop_streaming()
        run = CalibrationRun(fit.mapping, fit, collected, checked, summary, self.view)
        return run._replace(mapping=fit.mapping._replace(info=result_info(run, self.settings)))

    def run_validation(self, mapping: TrackerCameraMapping) -> tuple[list[Collected], ValidationSummary]:
        """Validate an existing mapping on the validation targets only (nothing is fitted).

        Parameters
        ----------
        mapping : TrackerCameraMapping
            The mapping to validate.

        Raises
        ------
        CalibrationAborted
            On :meth:`abort`, Esc, or the tracker's ET_BRK.
        CalibrationError
            When the mapping was made for another camera resolution or screen.
        """
        mapping.check_camera_size(self.view.camera_size_px)
        if tuple(mapping.screen_size_px) != self.view.screen_size_px:
            sw, sh = mapping.screen_size_px
            w, h = self.view.screen_size_px
            raise CalibrationError(
                f"mapping was calibrated for a {sw}x{sh} screen but screen.size_px is {w}x{h}: calibrate again"
            )
        self.tracker.start_streaming()
        try:
            return self._validate(mapping)
        finally:
            self.presenter.show(None)
            self.tracker.stop_streaming()

    def _validate(self, mapping: TrackerCameraMapping) -> tuple[list[Collected], ValidationSummary]:
        checked = [self.collect(target) for target in self.validation_targets]
        summary = validate_mapping(
            mapping,
            [c.target.name for c in checked],
            np.array([c.target.camera_px for c in checked]),
            [c.samples_px if c.status != "failed" else None for c in checked],
            self.view,
            {c.target.name: c.reason for c in checked if c.status == "failed"},
            self.settings.mad_k,
        )
        return checked, summary

    def _check_abort(self) -> None:
        event = self.tracker.next_event(0)
        while event is not None:
            if event.kind in ("calibration", "validation") and event.get("step") == "calibration_abort":
                self.abort("aborted by the tracker (ET_BRK)")
            event = self.tracker.next_event(0)
        if self._abort.is_set():
            raise CalibrationAborted(f"calibration {self._abort_reason}: nothing written")

    def collect(self, target: Target) -> Collected:
        """Show one target and wait for a stable fixation on it (or a timeout, Esc, space).

        Parameters
        ----------
        target : Target
            The target to show.
        """
        settings = self.settings
        detector = make_detector(settings.fixation_method, self.view.geometry, settings.fixation_params)
        self._accept.clear()
        self.presenter.show(target)
        shown = time.monotonic()
        host_deadline = shown + settings.timeout_s
        onset: float | None = None if settings.sample_clock else shown
        times: list[float] = []
        points: list[tuple[float, float]] = []
        fixation_onset: float | None = None
        rejected_onset: float | None = None
        next_poll = shown
        target_deg = screen_to_degrees(self.view.geometry, target.screen_px)[0]
        while True:
            now = time.monotonic()
            if now >= next_poll:
                key = self.presenter.poll()
                if key == "abort":
                    self.abort()
                elif key == "accept":
                    self.accept()
                self._check_abort()
                next_poll = now + settings.poll_interval_s
            if self._accept.is_set():
                start = (
                    fixation_onset if fixation_onset is not None else (times[-1] - settings.dwell_s if times else shown)
                )
                return Collected(target, _since(times, points, start), "manual")
            sample = self.tracker.get_sample(timeout_s=settings.poll_interval_s)
            if sample is None:
                if time.monotonic() > host_deadline:
                    return _timeout(target, settings.timeout_s)
                continue
            if onset is None:
                onset = sample.t
            if sample.t < onset:
                continue  # still in flight from the previous target
            if sample.t > onset + settings.timeout_s:
                return _timeout(target, settings.timeout_s)
            if sample.valid:
                times.append(sample.t)
                points.append((sample.x, sample.y))
            for event in detector.push(sample.t, sample.x, sample.y, sample.valid):
                if isinstance(event, FixationEvent):
                    fixation_onset = None if event.kind in ("end", "cancel") else event.fixation.onset
            if (
                fixation_onset is None
                or fixation_onset == rejected_onset
                or sample.t - fixation_onset < settings.dwell_s
            ):
                continue
            samples = _since(times, points, fixation_onset)
            centre_deg = screen_to_degrees(self.view.geometry, samples.mean(axis=0))[0]
            if np.linalg.norm(centre_deg - target_deg) <= settings.accept_radius_deg:
                return Collected(target, samples, "fixation")
            rejected_onset = fixation_onset  # a fixation elsewhere: wait for the next one


def _since(times: list[float], points: list[tuple[float, float]], start: float) -> np.ndarray:
    first = int(np.searchsorted(np.asarray(times), start, side="left"))
    return np.asarray(points[first:], dtype=np.float64).reshape(-1, 2)


def _timeout(target: Target, timeout_s: float) -> Collected:
    return Collected(target, np.empty((0, 2)), "failed", f"no stable fixation within {timeout_s:g} s")


def result_info(run: CalibrationRun, settings: ProcedureSettings) -> dict[str, Any]:
    """Everything the result file holds beside the mapping itself (plain data)."""
    geometry = run.view.geometry
    targets = []
    for c in run.calibration:
        entry: dict[str, Any] = {
            "name": c.target.name,
            "camera_px": plain(c.target.camera_px.tolist()),
            "status": c.status,
        }
        if c.status == "failed":
            entry["failed"] = c.reason
        else:
            selection = select_samples(c.samples_px, geometry, settings.mad_k)
            entry |= {
                "tracker_px": plain(selection.centre_px.tolist()),
                "n_samples": len(c.samples_px),
                "n_used": int(selection.keep.sum()),
            }
        targets.append(entry)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "model": {"chosen": run.fit.mapping.kind, "reason": run.fit.reason},
        "residuals": {kind: report.to_dict() for kind, report in run.fit.models.items()},
        "calibration_targets": targets,
        "validation": run.summary.to_dict(),
        "failed_targets": run.failed_targets,
        "screen": {
            "size_px": [int(geometry.width_px), int(geometry.height_px)],
            "size_mm": [float(geometry.width_mm), float(geometry.height_mm)],
            "distance_mm": float(geometry.distance_mm),
        },
        "settings": {
            "points": settings.points,
            "margin_frac": settings.margin_frac,
            "dwell_s": settings.dwell_s,
            "timeout_s": settings.timeout_s,
            "accept_radius_deg": settings.accept_radius_deg,
            "mad_k": settings.mad_k,
            "fixation_method": settings.fixation_method,
            "fixation_params": dict(settings.fixation_params or {}),
        },
    }
