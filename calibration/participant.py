"""A simulated participant for headless tracker calibration (tests, users without a tracker).

The participant looks at whatever target the procedure shows. The tracker does not report
that screen position but a distorted one: a hidden transform (offset, scale, shear and a
mild second-order term, as a tracker calibrated on another setup or drifted would show),
plus fixational noise and occasional blinks with the gaze artefacts around them. The
participant is a :class:`gazefusion.trackers.script.GazeScript`: a callable of the time since
streaming started, so it drives the mock tracker and the iViewX simulator alike.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection
from typing import NamedTuple

import numpy as np

from gazefusion.fusion.geometry import ScreenGeometry


class HiddenTransform(NamedTuple):
    """Screen px (where the participant looks) to tracker px (what the tracker reports).

    In coordinates normalised to [-1, 1] over the screen, ``m = A n + q (n_x n_y, n_x²)``
    with ``A = [[scale_x, shear], [0, scale_y]]``; then ``offset_px`` is added.

    Attributes
    ----------
    screen_size_px : tuple[int, int]
        Screen (width, height), px.
    offset_px : tuple[float, float]
        Constant offset, px. (default: (24.0, -16.0))
    scale : tuple[float, float]
        Scale along x and y. (default: (1.04, 0.97))
    shear : float
        x shift per unit of normalised y. (default: 0.03)
    nonlinearity : float
        Weight q of the second-order term, normalised units. (default: 0.02)
    """

    screen_size_px: tuple[int, int]
    offset_px: tuple[float, float] = (24.0, -16.0)
    scale: tuple[float, float] = (1.04, 0.97)
    shear: float = 0.03
    nonlinearity: float = 0.02

    def apply(self, xy_screen_px: np.ndarray) -> np.ndarray:
        """Screen px to tracker px ((N, 2) or (2,))."""
        points = np.asarray(xy_screen_px, dtype=np.float64)
        half = np.array(self.screen_size_px, dtype=np.float64) / 2.0
        n = points.reshape(-1, 2) / half - 1.0
        mx = self.scale[0] * n[:, 0] + self.shear * n[:, 1] + self.nonlinearity * n[:, 0] * n[:, 1]
        my = self.scale[1] * n[:, 1] + self.nonlinearity * n[:, 0] ** 2
        out = (np.stack([mx, my], axis=1) + 1.0) * half + np.asarray(self.offset_px)
        return np.asarray(out.reshape(points.shape))

    def invert(self, xy_tracker_px: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Tracker px back to screen px (Newton's method; the transform is mild).

        Parameters
        ----------
        xy_tracker_px : numpy.ndarray
            (N, 2) or (2,) tracker px.
        iterations : int
            Newton steps. (default: 20)
        """
        target = np.asarray(xy_tracker_px, dtype=np.float64)
        flat = target.reshape(-1, 2)
        guess = flat.copy()
        step = 1e-3
        for _ in range(iterations):
            residual = self.apply(guess) - flat
            jx = (self.apply(guess + [step, 0.0]) - self.apply(guess)) / step
            jy = (self.apply(guess + [0.0, step]) - self.apply(guess)) / step
            jacobian = np.stack([jx, jy], axis=2)  # (N, 2 out, 2 in)
            guess = guess - np.linalg.solve(jacobian, residual[..., None])[..., 0]
        return guess.reshape(target.shape)


class SimulatedParticipant:
    """A participant who looks at the shown target; a GazeScript for the trackers.

    Parameters
    ----------
    geometry : ScreenGeometry
        The tracked screen (for the noise in degrees).
    transform : HiddenTransform or None
        What the tracker does to the true gaze; None: the default transform of this screen.
        (default: None)
    noise_deg : float
        Standard deviation of the white fixational noise per axis, degrees. (default: 0.2)
    latency_s : float
        Reaction time from a target's appearance to the saccade. (default: 0.18)
    saccade_s : float
        Saccade duration. (default: 0.04)
    blink_rate_hz : float
        Mean blinks per second (Poisson). (default: 0.3)
    blink_s : float
        Blink duration, samples invalid. (default: 0.12)
    blink_artefact_s : float
        Before and after a blink the gaze is pulled down by the lid (outliers to reject).
        (default: 0.02)
    blink_artefact_deg : float
        Size of that pull, degrees. (default: 3.0)
    never_fixate : Collection[str]
        Names of targets the participant does not fixate: they glance around instead, a new
        place every `wander_s`. (default: ())
    wander_s : float
        Glance duration while not fixating. (default: 0.08)
    seed : int
        Random seed (noise, blinks, glances). (default: 0)
    """

    def __init__(
        self,
        geometry: ScreenGeometry,
        transform: HiddenTransform | None = None,
        noise_deg: float = 0.2,
        latency_s: float = 0.18,
        saccade_s: float = 0.04,
        blink_rate_hz: float = 0.3,
        blink_s: float = 0.12,
        blink_artefact_s: float = 0.02,
        blink_artefact_deg: float = 3.0,
        never_fixate: Collection[str] = (),
        wander_s: float = 0.08,
        seed: int = 0,
    ) -> None:
        self.geometry = geometry
        self.transform = transform or HiddenTransform((geometry.width_px, geometry.height_px))
        self.noise_px = np.array(geometry.px_per_deg) * noise_deg
        self.noise_deg = noise_deg
        self.latency_s = latency_s
        self.saccade_s = saccade_s
        self.blink_s = blink_s
        self.blink_artefact_s = blink_artefact_s
        self.artefact_px = geometry.px_per_deg[1] * blink_artefact_deg
        self.never_fixate = frozenset(never_fixate)
        self.wander_s = wander_s
        self._rng = np.random.default_rng(seed)
        gaps = self._rng.exponential(1.0 / blink_rate_hz, 4096) if blink_rate_hz > 0 else np.array([math.inf])
        self._blink_onsets_s = np.cumsum(gaps + blink_s + 2 * blink_artefact_s)
        self._lock = threading.Lock()
        centre = np.array([geometry.width_px, geometry.height_px], dtype=np.float64) / 2.0
        self._shown: tuple[int, str, np.ndarray] = (0, "", centre)
        self._seen = 0
        self._onset_s = 0.0
        self._from = centre
        self._to = centre
        self._wander_to = centre

    def show(self, name: str, xy_screen_px: np.ndarray | None) -> None:
        """The procedure shows a target: the participant looks at it from now on.

        Parameters
        ----------
        name : str
            The target's name (``C1``, ``V2``, …).
        xy_screen_px : numpy.ndarray or None
            Where it is on the screen, px; None: nothing is shown.
        """
        with self._lock:
            serial = self._shown[0] + 1
            where = self._shown[2] if xy_screen_px is None else np.asarray(xy_screen_px, dtype=np.float64)
            self._shown = (serial, "" if xy_screen_px is None else name, where)

    def true_gaze(self, t_s: float) -> np.ndarray:
        """Where the participant looks (advances the participant's state).

        Parameters
        ----------
        t_s : float
            The script's time, s.

        Returns
        -------
        numpy.ndarray
            (2,) screen px.
        """
        with self._lock:
            serial, name, where = self._shown
        if serial != self._seen:
            self._from = self._position(self._onset_s, t_s)
            self._seen, self._onset_s, self._to = serial, t_s, where
        if name in self.never_fixate:
            glance = int((t_s - self._onset_s) // self.wander_s)
            rng = np.random.default_rng((serial, glance))
            size = np.array([self.geometry.width_px, self.geometry.height_px], dtype=np.float64)
            return rng.uniform(0.1, 0.9, 2) * size
        return self._position(self._onset_s, t_s)

    def _position(self, onset_s: float, t_s: float) -> np.ndarray:
        progress = (t_s - onset_s - self.latency_s) / self.saccade_s
        if progress <= 0:
            return self._from
        if progress >= 1:
            return self._to
        return self._from + (self._to - self._from) * progress

    def __call__(self, t_s: float) -> tuple[float, float, bool]:
        """The GazeScript: (x, y, valid) in tracker px at `t_s` since streaming started."""
        screen = self.true_gaze(t_s)
        index = int(np.searchsorted(self._blink_onsets_s, t_s, side="right")) - 1
        since_blink = t_s - self._blink_onsets_s[index] if index >= 0 else math.inf
        artefact = self.blink_artefact_s
        if artefact <= since_blink < artefact + self.blink_s:
            return 0.0, 0.0, False
        noisy = screen + self._rng.normal(0.0, 1.0, 2) * self.noise_px
        if since_blink < artefact or artefact + self.blink_s <= since_blink < 2 * artefact + self.blink_s:
            noisy = noisy + [0.0, self.artefact_px]
        x, y = self.transform.apply(noisy)
        return float(x), float(y), True


class TrueMapping(NamedTuple):
    """The exact inverse of the simulation: tracker px to camera px, for the noise floor.

    Attributes
    ----------
    transform : HiddenTransform
        The participant's hidden transform.
    screen_to_camera : numpy.ndarray
        (3, 3) screen px to camera px (the inverse display transform).
    """

    transform: HiddenTransform
    screen_to_camera: np.ndarray

    def to_camera(self, xy_px: np.ndarray) -> np.ndarray:
        """Tracker px to camera px through the true inverse."""
        points = np.asarray(xy_px, dtype=np.float64)
        screen = self.transform.invert(points.reshape(-1, 2))
        camera = screen @ self.screen_to_camera[:2, :2].T + self.screen_to_camera[:2, 2]
        return np.asarray(camera.reshape(points.shape))
