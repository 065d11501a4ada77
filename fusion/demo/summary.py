"""The demo's summary: what the pipeline reported per marker, beside the scene's truth.

Pure: it takes one record per fixation (the marker the core settled on and its mean pose, on
the scene's clock) and the scene, and returns numbers and their printed table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from gazefusion.fusion.demo.scene import DemoScene


class FixationRecord(NamedTuple):
    """One fixation as the pipeline reported it, on the scene's clock.

    Attributes
    ----------
    fixation_id : int
        The detector's fixation id.
    onset_s, offset_s : float
        Scene time of the fixation's first and last sample, s.
    duration_s : float
        Fixation duration, s.
    marker_id : str or None
        The marker looked at, None for a look at nothing.
    position_m : numpy.ndarray or None
        (3,) reported marker centre in the camera frame, m (None for a look at nothing).
    intended : str or None
        The marker the scripted eye meant to look at (None: a look away). (default: None)
    """

    fixation_id: int
    onset_s: float
    offset_s: float
    duration_s: float
    marker_id: str | None
    position_m: np.ndarray | None
    intended: str | None = None


class MarkerSummary(NamedTuple):
    """One marker's figures.

    Attributes
    ----------
    marker_id : str
        The marker.
    fixations : int
        Fixations on it.
    dwell_s : float
        Sum of their durations, s.
    mean_position_m : numpy.ndarray or None
        (3,) mean reported centre, m; None when never looked at.
    true_position_m : numpy.ndarray
        (3,) true centre averaged over the same fixations (over the scene when none), m.
    error_mm : float
        Distance between the two, mm (nan when never looked at).
    error_percent : float
        `error_mm` as a percentage of the true distance from the camera.
    """

    marker_id: str
    fixations: int
    dwell_s: float
    mean_position_m: np.ndarray | None
    true_position_m: np.ndarray
    error_mm: float
    error_percent: float


class DemoSummary(NamedTuple):
    """The whole run's figures.

    Attributes
    ----------
    markers : tuple[MarkerSummary, ...]
        Per marker, in the scene's order.
    fixations : int
        Fixations reported.
    on_markers : int
        Of those, fixations on a marker.
    at_nothing : int
        Fixations on no marker.
    agreement : float
        Fraction of fixations whose marker (or nothing) is what the scripted eye intended;
        nan when no intent was given.
    """

    markers: tuple[MarkerSummary, ...]
    fixations: int
    on_markers: int
    at_nothing: int
    agreement: float

    @property
    def fraction_on_markers(self) -> float:
        """Fixations on a marker over all fixations (nan with none)."""
        return self.on_markers / self.fixations if self.fixations else math.nan

    @property
    def worst_error_percent(self) -> float:
        """Largest position error over the markers looked at, % of distance (nan if none)."""
        errors = [m.error_percent for m in self.markers if not math.isnan(m.error_percent)]
        return max(errors) if errors else math.nan

    def format(self) -> str:
        """The table the demo prints at the end."""
        lines = [
            f"{'marker':<8} {'fix':>4} {'dwell s':>8}   {'reported x y z (m)':<24} {'true x y z (m)':<24} {'error mm':>8} {'% dist':>7}"
        ]
        for m in self.markers:
            true = _xyz(m.true_position_m)
            if m.mean_position_m is None:
                lines.append(
                    f"{m.marker_id:<8} {0:>4} {0.0:>8.2f}   {'(not looked at)':<24} {true:<24} {'-':>8} {'-':>7}"
                )
                continue
            lines.append(
                f"{m.marker_id:<8} {m.fixations:>4} {m.dwell_s:>8.2f}   {_xyz(m.mean_position_m):<24} {true:<24} "
                f"{m.error_mm:>8.1f} {m.error_percent:>6.2f}%"
            )
        fraction = self.fraction_on_markers
        lines.append(
            f"fixations: {self.fixations}, on markers: {self.on_markers}"
            f" ({0.0 if math.isnan(fraction) else 100 * fraction:.0f} %), looks at nothing: {self.at_nothing}"
        )
        if not math.isnan(self.agreement):
            lines.append(f"agreement with the scripted eye's intent: {100 * self.agreement:.0f} % of fixations")
        return "\n".join(lines)


def _xyz(position: np.ndarray) -> str:
    return " ".join(f"{v:+.3f}" for v in position)


def mean_truth(scene: DemoScene, marker_id: str, onset_s: float, offset_s: float, samples: int = 5) -> np.ndarray:
    """The marker's true centre averaged over a scene-time interval, m."""
    times = np.linspace(onset_s, max(onset_s, offset_s), samples)
    return np.asarray(np.mean([scene.truth(float(t))[marker_id].position_m for t in times], axis=0))


def summarise(
    records: Iterable[FixationRecord],
    scene: DemoScene,
    scene_duration_s: float | None = None,
    with_intent: bool = False,
) -> DemoSummary:
    """Per-marker figures against the scene's truth.

    Parameters
    ----------
    records : Iterable[FixationRecord]
        One per fixation.
    scene : DemoScene
        The scene (its truth at any time).
    scene_duration_s : float or None
        For markers never looked at, the true position is averaged over [0, this]; None: the
        rest pose. (default: None)
    with_intent : bool
        Whether the records' `intended` is known (then `agreement` is computed). (default: False)
    """
    records = list(records)
    markers = []
    for spec in scene.markers:
        mine: Sequence[FixationRecord] = [r for r in records if r.marker_id == spec.id and r.position_m is not None]
        if not mine:
            if scene_duration_s is None:
                true = scene.truth_at_rest()[spec.id].position_m
            else:
                true = mean_truth(scene, spec.id, 0.0, scene_duration_s, 31)
            markers.append(MarkerSummary(spec.id, 0, 0.0, None, true, math.nan, math.nan))
            continue
        reported = np.mean([r.position_m for r in mine if r.position_m is not None], axis=0)
        true = np.mean([mean_truth(scene, spec.id, r.onset_s, r.offset_s) for r in mine], axis=0)
        error_m = float(np.linalg.norm(reported - true))
        markers.append(
            MarkerSummary(
                spec.id,
                len(mine),
                float(sum(r.duration_s for r in mine)),
                reported,
                true,
                1000.0 * error_m,
                100.0 * error_m / float(np.linalg.norm(true)),
            )
        )
    on_markers = sum(1 for r in records if r.marker_id is not None)
    agreement = math.nan
    if with_intent and records:
        agreement = sum(1 for r in records if r.marker_id == r.intended) / len(records)
    return DemoSummary(tuple(markers), len(records), on_markers, len(records) - on_markers, agreement)
