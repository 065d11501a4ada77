"""Gaze on markers and AOI metrics of a demo session against the scripted eye's truth.

The demo writes what its eye really did into the session (fixations_truth.tsv: every
fixation, its marker, and where on the marker the tracked eye pointed on average, noise
aside). :func:`compare_with_truth` sets the whole-marker rows of ``gazefusion metrics`` and
the session's fixations_on_markers.tsv beside it:

- per marker: fixation count, dwell (total fixation duration) and time to first fixation,
  true and measured;
- per fixation on a marker: the distance on the printed marker between its measured mean
  position and the true one, mm, beside the tracker's noise (RMS per axis) projected onto
  the marker at that fixation (``noise_deg`` times its picture px per degree, in mm).

Only true fixations within the recording count (one that began before the first gaze
sample starts with it; one cut by the end ends with it; one of which the recording holds
less than `MIN_FIXATION_S` is left out: no detector can see it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from gazefusion.fusion.analysis.aois import WHOLE
from gazefusion.fusion.analysis.metrics import WHOLE_SESSION_TRIAL
from gazefusion.fusion.demo.truth import FIXATION_TRUTH

#: A true fixation of which the recording holds less than this is not expected to be found, s.
MIN_FIXATION_S = 0.1


class TruthComparison(NamedTuple):
    """The measured figures beside the truth.

    Attributes
    ----------
    markers : pandas.DataFrame
        Per marker: ``true_count, count, true_dwell_s, dwell_s, dwell_error_percent,
        true_ttff_s, ttff_s, ttff_error_s``.
    fixations : pandas.DataFrame
        Per true fixation on a marker: ``marker, onset, error_mm, noise_mm`` (the matched
        fixation's position error and the projected noise; NaN where none was matched).
    """

    markers: pd.DataFrame
    fixations: pd.DataFrame

    def format(self) -> str:
        """The comparison as printed tables."""
        markers = self.markers.round(4).to_string()
        errors = self.fixations["error_mm"]
        noise = self.fixations["noise_mm"]
        return (
            f"{markers}\n"
            f"mapped fixation positions, {errors.notna().sum()} fixations on markers: error median "
            f"{errors.median():.2f} mm, max {errors.max():.2f} mm; the tracker's noise projected onto the marker "
            f"median {noise.median():.2f} mm, max {noise.max():.2f} mm"
        )


def read_truth(session: Path) -> pd.DataFrame:
    """The true fixations within the recording's gaze span, clipped to it."""
    truth = pd.read_csv(session / FIXATION_TRUTH.file, sep="\t")
    times = pd.read_csv(session / "gaze.tsv", sep="\t", usecols=["t"])["t"]
    first, last = float(times.iloc[0]), float(times.iloc[-1])
    truth = truth.assign(onset=truth["onset"].clip(lower=first), offset=truth["offset"].clip(upper=last))
    truth = truth.assign(duration=truth["offset"] - truth["onset"])
    return truth[truth["duration"] >= MIN_FIXATION_S].reset_index(drop=True).assign(start=first)


def compare_with_truth(
    session: str | Path, metrics: pd.DataFrame, image_sizes: Mapping[str, tuple[int, int]], noise_deg: float = 0.03
) -> TruthComparison:
    """Set a demo session's measured gaze on markers and metrics beside its truth.

    Parameters
    ----------
    session : str or pathlib.Path
        A demo session folder (with fixations_truth.tsv).
    metrics : pandas.DataFrame
        Its rows of aoi_metrics.tsv (a session without trial marks: trial ``all``).
    image_sizes : Mapping[str, tuple[int, int]]
        The marker pictures' sizes, px (to turn picture px per degree into mm per degree).
    noise_deg : float
        The tracker's noise, RMS per axis, degrees (the demo eye's). (default: 0.03)
    """
    folder = Path(session)
    truth = read_truth(folder)
    on_marker = truth.dropna(subset=["marker"])
    whole = metrics[(metrics["aoi"] == WHOLE) & (metrics["trial"] == WHOLE_SESSION_TRIAL)].set_index("marker")
    rows = []
    for marker, visits in on_marker.groupby("marker"):
        measured = whole.loc[marker]
        true_ttff = float(visits["onset"].min() - visits["start"].iloc[0])
        true_dwell = float(visits["duration"].sum())
        rows.append(
            {
                "marker": marker,
                "true_count": len(visits),
                "count": int(measured["fixation_count"]),
                "true_dwell_s": true_dwell,
                "dwell_s": float(measured["dwell_s"]),
                "dwell_error_percent": 100.0 * (float(measured["dwell_s"]) - true_dwell) / true_dwell,
                "true_ttff_s": true_ttff,
                "ttff_s": float(measured["ttff_s"]),
                "ttff_error_s": float(measured["ttff_s"]) - true_ttff,
            }
        )
    fixations = pd.read_csv(folder / "fixations.tsv", sep="\t")
    positions = pd.read_csv(folder / "fixations_on_markers.tsv", sep="\t")
    errors = []
    for visit in on_marker.itertuples():
        overlap = np.minimum(fixations["offset"], visit.offset) - np.maximum(fixations["onset"], visit.onset)
        error_mm = noise_mm = math.nan
        if len(overlap) and overlap.max() > 0:
            matched = fixations.loc[overlap.idxmax(), "id"]
            row = positions[(positions["fixation_id"] == matched) & (positions["marker"] == visit.marker)]
            if len(row):
                row = row.iloc[0]
                error_mm = float(np.hypot(row["x_mm"] - visit.x_mm, row["y_mm"] - visit.y_mm))
                mm_per_px = float(row["x_mm"] / row["u"]) / image_sizes[str(visit.marker)][0]
                noise_mm = noise_deg * float(row["px_per_deg"]) * mm_per_px
        errors.append({"marker": visit.marker, "onset": visit.onset, "error_mm": error_mm, "noise_mm": noise_mm})
    return TruthComparison(pd.DataFrame(rows).set_index("marker"), pd.DataFrame(errors))
