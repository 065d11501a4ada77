"""Gaze scripts: where a simulated eye looks at each moment, deterministic for a seed.

A :class:`GazeScript` is a callable ``script(t_s) -> (x_px, y_px, valid)`` giving the gaze at
time `t_s` since the start of streaming. The mock tracker and the iViewX simulator both take
one, so a test, the demo and a user trying the pipeline see the same eye.

:class:`ScriptedGaze` is a seeded sequence of fixations on given or random targets, with
fixational noise and drift in degrees of visual angle, saccades whose duration follows the
main sequence (about 2.2 ms per degree + 21 ms), blinks (lost samples) and, optionally,
post-saccadic oscillations and smooth pursuit of a moving target: the eye follows at a gain
below one, falls behind, and catches up with saccades; when the target stops, the pursuit
ends in a fixation. It also reports the true fixation and pursuit intervals, the ground
truth for detectors.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from gazefusion.fusion.geometry import ScreenGeometry

# Main sequence of saccades (Carpenter 1988; Baloh et al. 1975): duration ~ 2.2 ms/deg + 21 ms.
SACCADE_MS_PER_DEG = 2.2
SACCADE_INTERCEPT_MS = 21.0


@runtime_checkable
class GazeScript(Protocol):
    """Gaze as a function of time since the start of streaming.

    Calling it with ``t_s`` (seconds, >= 0) returns ``(x_px, y_px, valid)`` in tracker screen
    px (origin top-left, y down); ``valid`` is False where the eye is lost (blink), and x, y
    are then meaningless. The same script (and seed) gives the same answer for the same t,
    whatever the order of calls.
    """

    def __call__(self, t_s: float) -> tuple[float, float, bool]: ...


class TrueFixation(NamedTuple):
    """A fixation the script made, as ground truth.

    Attributes
    ----------
    onset_s, offset_s : float
        Start and end, s since the start of streaming.
    x_px, y_px : float
        The fixated target, px (the eye's mean position, noise and drift aside).
    """

    onset_s: float
    offset_s: float
    x_px: float
    y_px: float


class TruePursuit(NamedTuple):
    """A stretch of smooth pursuit the script made (between catch-up saccades), as ground truth.

    Attributes
    ----------
    onset_s, offset_s : float
        Start and end, s since the start of streaming.
    start_x_px, start_y_px, end_x_px, end_y_px : float
        Where the eye was at its start and its end, px (noise aside).
    """

    onset_s: float
    offset_s: float
    start_x_px: float
    start_y_px: float
    end_x_px: float
    end_y_px: float


class Segment(NamedTuple):
    """One piece of the script: a fixation, a saccade, a blink or a stretch of pursuit.

    Attributes
    ----------
    kind : str
        ``"fixation"``, ``"saccade"``, ``"blink"`` or ``"pursuit"``.
    start_s, end_s : float
        Interval, s since the start of streaming.
    x0_deg, y0_deg, x1_deg, y1_deg : float
        Start and end position, degrees from the screen centre (equal for a fixation).
    drift_x_deg_s, drift_y_deg_s : float
        Drift velocity during a fixation, or the eye's velocity during a pursuit, deg/s.
    """

    kind: str
    start_s: float
    end_s: float
    x0_deg: float
    y0_deg: float
    x1_deg: float
    y1_deg: float
    drift_x_deg_s: float = 0.0
    drift_y_deg_s: float = 0.0


_MASK64 = (1 << 64) - 1


def _hash_unit(seed: int, key: int, channel: int) -> float:
    """A uniform number in (0, 1) from (seed, key, channel): splitmix64, order-independent."""
    z = (seed * 0x9E3779B97F4A7C15 + key * 0xBF58476D1CE4E5B9 + channel * 0x94D049BB133111EB) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    return ((z >> 11) + 0.5) / float(1 << 53)


def _hash_normal(seed: int, key: int, channel: int) -> float:
    """A standard normal number from (seed, key, channel) (Box-Muller)."""
    u1 = _hash_unit(seed, key, 2 * channel)
    u2 = _hash_unit(seed, key, 2 * channel + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def saccade_duration_s(amplitude_deg: float) -> float:
    """Saccade duration on the main sequence, s.

    Parameters
    ----------
    amplitude_deg : float
        Saccade amplitude, degrees of visual angle.
    """
    return (SACCADE_INTERCEPT_MS + SACCADE_MS_PER_DEG * abs(amplitude_deg)) / 1000.0


class ScriptedGaze:
    """A seeded sequence of fixations, saccades and blinks.

    Parameters
    ----------
    geometry : ScreenGeometry
        The screen, for degrees of visual angle.
    seed : int
        Seed of everything random; the same seed gives the same gaze. (default: 0)
    targets : Sequence of (x_px, y_px) or (x_px, y_px, duration_s), or None
        Fixation targets visited in order and then from the start again; a third value fixes
        that fixation's duration. None: random targets in the central 80 % of the screen.
        (default: None)
    fixation_s : tuple of float
        Range of fixation durations drawn uniformly when a target gives none, s.
        (default: (0.2, 0.6))
    noise_deg : float
        Fixational noise, RMS per axis, degrees. (default: 0.03)
    drift_deg_s : float
        Speed of the slow drift during a fixation, degrees per second. (default: 0.2)
    blink_probability : float
        Chance that a blink follows a fixation (the eye stays on target). (default: 0.1)
    blink_s : tuple of float
        Range of blink durations, s. (default: (0.08, 0.2))
    pso_deg : float
        Amplitude of a post-saccadic oscillation, degrees; 0 for none. (default: 0.0)
    min_amplitude_deg : float
        Random targets are at least this far from the previous one, degrees. (default: 2.0)
    pursuit_probability : float
        Chance that a target starts moving at the end of a fixation and the eye follows it
        in smooth pursuit, instead of a saccade to the next target. (default: 0.0)
    pursuit_speed_deg_s : tuple of float
        Range of the moving target's speed, deg/s. (default: (4.0, 15.0))
    pursuit_s : tuple of float
        Range of how long the target moves, s. (default: (0.5, 1.5))
    pursuit_gain : float
        Eye speed over target speed during pursuit (below 1: the eye falls behind).
        (default: 0.85)
    catch_up_deg : float
        The eye's lag behind the target that triggers a catch-up saccade, degrees.
        (default: 0.8)
    """

    def __init__(
        self,
        geometry: ScreenGeometry,
        seed: int = 0,
        targets: Sequence[Sequence[float]] | None = None,
        fixation_s: tuple[float, float] = (0.2, 0.6),
        noise_deg: float = 0.03,
        drift_deg_s: float = 0.2,
        blink_probability: float = 0.1,
        blink_s: tuple[float, float] = (0.08, 0.2),
        pso_deg: float = 0.0,
        min_amplitude_deg: float = 2.0,
        pursuit_probability: float = 0.0,
        pursuit_speed_deg_s: tuple[float, float] = (4.0, 15.0),
        pursuit_s: tuple[float, float] = (0.5, 1.5),
        pursuit_gain: float = 0.85,
        catch_up_deg: float = 0.8,
    ) -> None:
        self.geometry = geometry
        self.seed = int(seed)
        self.targets = [tuple(float(v) for v in target) for target in targets] if targets else None
        if self.targets is not None and any(len(target) not in (2, 3) for target in self.targets):
            raise ValueError("targets are (x_px, y_px) or (x_px, y_px, duration_s)")
        self.fixation_s = fixation_s
        self.noise_deg = noise_deg
        self.drift_deg_s = drift_deg_s
        self.blink_probability = blink_probability
        self.blink_s = blink_s
        self.pso_deg = pso_deg
        self.min_amplitude_deg = min_amplitude_deg
        self.pursuit_probability = pursuit_probability
        self.pursuit_speed_deg_s = pursuit_speed_deg_s
        self.pursuit_s = pursuit_s
        self.pursuit_gain = pursuit_gain
        self.catch_up_deg = catch_up_deg
        self._rng = random.Random(self.seed)
        self._mm_x, self._mm_y = geometry.mm_per_px
        self._segments: list[Segment] = []
        self._starts: list[float] = []
        self._target_index = 0
        first = self._next_target()
        self._add_fixation(0.0, first)

    # Degrees <-> px, per axis, exact (the same as ScreenGeometry, without numpy per call).
    def _to_deg(self, x_px: float, y_px: float) -> tuple[float, float]:
        g = self.geometry
        return (
            math.degrees(math.atan((x_px - g.width_px / 2.0) * self._mm_x / g.distance_mm)),
            math.degrees(math.atan((y_px - g.height_px / 2.0) * self._mm_y / g.distance_mm)),
        )

    def _to_px(self, ax_deg: float, ay_deg: float) -> tuple[float, float]:
        g = self.geometry
        return (
            math.tan(math.radians(ax_deg)) * g.distance_mm / self._mm_x + g.width_px / 2.0,
            math.tan(math.radians(ay_deg)) * g.distance_mm / self._mm_y + g.height_px / 2.0,
        )

    def _next_target(self) -> tuple[float, float, float]:
        """The next target in degrees and its fixation duration, s."""
        rng = self._rng
        if self.targets is not None:
            target = self.targets[self._target_index % len(self.targets)]
            self._target_index += 1
            duration = target[2] if len(target) == 3 else rng.uniform(*self.fixation_s)
            ax, ay = self._to_deg(target[0], target[1])
            return ax, ay, duration
        g = self.geometry
        last = self._segments[-1] if self._segments else None
        for _ in range(100):
            ax, ay = self._to_deg(rng.uniform(0.1, 0.9) * g.width_px, rng.uniform(0.1, 0.9) * g.height_px)
            if last is None or math.hypot(ax - last.x1_deg, ay - last.y1_deg) >= self.min_amplitude_deg:
                break
        return ax, ay, rng.uniform(*self.fixation_s)

    def _append(self, segment: Segment) -> None:
        self._segments.append(segment)
        self._starts.append(segment.start_s)

    def _add_fixation(self, start_s: float, target: tuple[float, float, float]) -> None:
        ax, ay, duration = target
        angle = self._rng.uniform(0.0, 2.0 * math.pi)
        speed = self.drift_deg_s * self._rng.uniform(0.5, 1.5)
        self._append(
            Segment(
                "fixation",
                start_s,
                start_s + duration,
                ax,
                ay,
                ax,
                ay,
                speed * math.cos(angle),
                speed * math.sin(angle),
            )
        )

    def _extend(self) -> None:
        """Append the next blink or saccade and the fixation after it."""
        last = self._segments[-1]
        # The eye ends a fixation where its drift took it.
        end_x = last.x1_deg + last.drift_x_deg_s * (last.end_s - last.start_s)
        end_y = last.y1_deg + last.drift_y_deg_s * (last.end_s - last.start_s)
        if last.kind == "fixation" and self._rng.random() < self.blink_probability:
            duration = self._rng.uniform(*self.blink_s)
            self._append(Segment("blink", last.end_s, last.end_s + duration, end_x, end_y, end_x, end_y))
            rest = self._rng.uniform(*self.fixation_s)
            self._add_fixation(last.end_s + duration, (last.x0_deg, last.y0_deg, rest))
            return
        if last.kind == "fixation" and self._rng.random() < self.pursuit_probability:
            self._add_pursuit(last.end_s, end_x, end_y)
            return
        ax, ay, duration = self._next_target()
        amplitude = math.hypot(ax - end_x, ay - end_y)
        saccade = saccade_duration_s(amplitude)
        self._append(Segment("saccade", last.end_s, last.end_s + saccade, end_x, end_y, ax, ay))
        self._add_fixation(last.end_s + saccade, (ax, ay, duration))

    def _add_pursuit(self, start_s: float, x_deg: float, y_deg: float) -> None:
        """A target moves off from the fixated point; the eye follows it, with catch-up saccades."""
        rng = self._rng
        speed = rng.uniform(*self.pursuit_speed_deg_s)
        moving_s = rng.uniform(*self.pursuit_s)
        g = self.geometry
        # A direction that keeps the target in the central 90 % of the screen, else a shorter move.
        for _ in range(20):
            angle = rng.uniform(0.0, 2.0 * math.pi)
            vx, vy = speed * math.cos(angle), speed * math.sin(angle)
            x, y = self._to_px(x_deg + vx * moving_s, y_deg + vy * moving_s)
            if 0.05 * g.width_px < x < 0.95 * g.width_px and 0.05 * g.height_px < y < 0.95 * g.height_px:
                break
        else:
            moving_s = min(moving_s, 2.0 / speed)
        gain = self.pursuit_gain
        # The lag grows at (1 - gain) * speed; a catch-up saccade puts the eye back on the target.
        lag_s = self.catch_up_deg / max((1.0 - gain) * speed, 1e-6)
        t, ex, ey = start_s, x_deg, y_deg
        end_s = start_s + moving_s
        while t < end_s - 1e-9:
            stretch = min(lag_s, end_s - t)
            nx, ny = ex + gain * vx * stretch, ey + gain * vy * stretch
            self._append(Segment("pursuit", t, t + stretch, ex, ey, nx, ny, gain * vx, gain * vy))
            t, ex, ey = t + stretch, nx, ny
            if t >= end_s - 1e-9:
                break
            # Catch up to where the target will be when the saccade lands.
            lag = math.hypot(x_deg + vx * (t - start_s) - ex, y_deg + vy * (t - start_s) - ey)
            duration = saccade_duration_s(lag + speed * saccade_duration_s(lag))
            tx, ty = x_deg + vx * (t + duration - start_s), y_deg + vy * (t + duration - start_s)
            self._append(Segment("saccade", t, t + duration, ex, ey, tx, ty))
            t, ex, ey = t + duration, tx, ty
        # The target stops: the pursuit ends in a fixation where the eye is.
        self._add_fixation(t, (ex, ey, rng.uniform(*self.fixation_s)))

    def _segment_at(self, t_s: float) -> tuple[int, Segment]:
        while self._segments[-1].end_s <= t_s:
            self._extend()
        index = max(0, bisect.bisect_right(self._starts, t_s) - 1)
        return index, self._segments[index]

    def __call__(self, t_s: float) -> tuple[float, float, bool]:
        """Gaze at `t_s` s since the start of streaming: (x px, y px, valid)."""
        return self._gaze(t_s, noisy=True)

    def clean(self, t_s: float) -> tuple[float, float, bool]:
        """Where the eye really points at `t_s`: the gaze without the tracker's noise (ground truth)."""
        return self._gaze(t_s, noisy=False)

    def _gaze(self, t_s: float, noisy: bool) -> tuple[float, float, bool]:
        index, seg = self._segment_at(t_s)
        if seg.kind == "blink":
            return math.nan, math.nan, False
        key = int(round(t_s * 1e6))
        if seg.kind == "saccade":
            s = (t_s - seg.start_s) / (seg.end_s - seg.start_s)
            p = s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)  # minimum-jerk profile
            ax = seg.x0_deg + (seg.x1_deg - seg.x0_deg) * p
            ay = seg.y0_deg + (seg.y1_deg - seg.y0_deg) * p
        else:  # a fixation (drift) or a pursuit (the eye's velocity)
            dt = t_s - seg.start_s
            ax = seg.x0_deg + seg.drift_x_deg_s * dt
            ay = seg.y0_deg + seg.drift_y_deg_s * dt
            if self.pso_deg > 0.0 and index > 0 and self._segments[index - 1].kind == "saccade":
                prev = self._segments[index - 1]
                length = math.hypot(prev.x1_deg - prev.x0_deg, prev.y1_deg - prev.y0_deg) or 1.0
                wobble = self.pso_deg * math.exp(-dt / 0.012) * math.sin(2.0 * math.pi * 25.0 * dt)
                ax += wobble * (prev.x1_deg - prev.x0_deg) / length
                ay += wobble * (prev.y1_deg - prev.y0_deg) / length
            if noisy:
                ax += self.noise_deg * _hash_normal(self.seed, key, 0)
                ay += self.noise_deg * _hash_normal(self.seed, key, 1)
        x, y = self._to_px(ax, ay)
        return x, y, True

    def segments(self, until_s: float) -> list[Segment]:
        """Every segment that starts before `until_s`, s."""
        self._segment_at(until_s)
        return [seg for seg in self._segments if seg.start_s < until_s]

    def true_fixations(self, until_s: float) -> list[TrueFixation]:
        """The fixations the script made before `until_s`, clipped to it (ground truth)."""
        fixations = []
        for seg in self.segments(until_s):
            if seg.kind == "fixation":
                x, y = self._to_px(seg.x0_deg, seg.y0_deg)
                fixations.append(TrueFixation(seg.start_s, min(seg.end_s, until_s), x, y))
        return fixations

    def true_pursuits(self, until_s: float) -> list[TruePursuit]:
        """The stretches of pursuit the script made before `until_s`, clipped to it (ground truth)."""
        pursuits = []
        for seg in self.segments(until_s):
            if seg.kind == "pursuit":
                end_s = min(seg.end_s, until_s)
                fraction = (end_s - seg.start_s) / (seg.end_s - seg.start_s)
                x0, y0 = self._to_px(seg.x0_deg, seg.y0_deg)
                x1, y1 = self._to_px(
                    seg.x0_deg + (seg.x1_deg - seg.x0_deg) * fraction, seg.y0_deg + (seg.y1_deg - seg.y0_deg) * fraction
                )
                pursuits.append(TruePursuit(seg.start_s, end_s, x0, y0, x1, y1))
        return pursuits
