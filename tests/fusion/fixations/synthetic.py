"""A small generator of gaze with known fixations, for the detector tests."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from gazefusion.fusion.geometry import ScreenGeometry

LUND_SCREEN = ScreenGeometry(1024, 768, 380.0, 300.0, 670.0)


class Synthetic(NamedTuple):
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    valid: np.ndarray
    fixations: list[tuple[float, float]]  # true (onset, offset) of each fixation, s
    centres: list[tuple[float, float]]  # true centre of each fixation, px


def make_gaze(
    geometry: ScreenGeometry = LUND_SCREEN,
    rate_hz: float = 500.0,
    n_fixations: int = 8,
    seed: int = 1,
    noise_deg: float = 0.02,
    jitter: float = 0.0,
    fixation_s: tuple[float, float] = (0.2, 0.4),
    saccade_s: float = 0.03,
) -> Synthetic:
    """Fixations on random targets joined by smooth (cosine-profile) saccades.

    `jitter` is the relative spread of the sampling intervals (0: regular).
    """
    rng = np.random.default_rng(seed)
    px_per_deg_x, px_per_deg_y = geometry.px_per_deg
    centres = [
        (float(rng.uniform(150, geometry.width_px - 150)), float(rng.uniform(150, geometry.height_px - 150)))
        for _ in range(n_fixations)
    ]
    durations = rng.uniform(*fixation_s, size=n_fixations)
    segments: list[tuple[float, float, int]] = []  # (start, end, fixation index or -1 for saccade)
    t = 0.0
    for k in range(n_fixations):
        segments.append((t, t + durations[k], k))
        t += durations[k]
        if k + 1 < n_fixations:
            segments.append((t, t + saccade_s, -1))
            t += saccade_s
    total = t
    intervals = 1.0 / rate_hz * (1.0 + jitter * rng.uniform(-1, 1, size=int(total * rate_hz * 1.5) + 10))
    times = np.cumsum(intervals) - intervals[0]
    times = times[times < total]
    xs, ys = np.empty_like(times), np.empty_like(times)
    seg_index = np.searchsorted([s[0] for s in segments], times, side="right") - 1
    for i, (ti, si) in enumerate(zip(times, seg_index)):
        start, end, k = segments[si]
        if k >= 0:
            cx, cy = centres[k]
        else:
            (ax, ay), (bx, by) = centres[segments[si - 1][2]], centres[segments[si + 1][2]]
            phase = 0.5 - 0.5 * math.cos(math.pi * (ti - start) / (end - start))
            cx, cy = ax + (bx - ax) * phase, ay + (by - ay) * phase
        xs[i] = cx + rng.normal(0, noise_deg) * px_per_deg_x
        ys[i] = cy + rng.normal(0, noise_deg) * px_per_deg_y
    truth = [(s[0], s[1]) for s in segments if s[2] >= 0]
    return Synthetic(times, xs, ys, np.ones(len(times), dtype=bool), truth, centres)
