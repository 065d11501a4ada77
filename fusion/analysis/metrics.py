"""AOI metrics of one session, and reach across sessions: pure functions of a session's tables.

Definitions (Holmqvist et al. 2011, ch. 6 and 11; Tobii Pro Lab's metric definitions), per
trial, marker and AOI; a fixation is *in* an AOI when its mapped position on the marker lies
in the AOI's polygon or within the margin (degrees of visual angle, converted at that
fixation to picture px); a fixation belongs to the trial its onset falls in:

- ``ttff_s`` time to first fixation: onset of the first fixation in the AOI minus the trial's
  start (Holmqvist's *entry time*).
- ``first_fixation_duration_s``: that fixation's duration.
- ``fixation_count``, ``dwell_s`` (total fixation duration), ``mean_fixation_duration_s``.
- A *visit* runs from the onset of a fixation in the AOI to the end of the last fixation in
  the AOI before a fixation outside it (Tobii Pro Lab's visit; Holmqvist's *dwell*, taken
  from fixation to fixation): ``visit_count``, ``total_visit_duration_s``,
  ``mean_visit_duration_s``, ``revisits`` (visits after the first).
- ``dwell_proportion``: ``dwell_s`` over the trial's duration.
- ``reach`` (across sessions): the share of sessions with at least one fixation in the AOI
  in that trial (Holmqvist's *proportion of participants*, Pupil Cloud's *reach*).

Undefined values (the time to first fixation of an AOI never fixated) are NaN; counts and
durations of such an AOI are 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from gazefusion.fusion.analysis.aois import Aoi, hit_test
from gazefusion.fusion.errors import FileFormatError

#: The one trial of a session without trial marks.
WHOLE_SESSION_TRIAL = "all"

METRIC_DOCS: dict[str, tuple[str, str]] = {
    "session": ("The session folder's name", ""),
    "participant": ("Who was recorded (session.yaml participant; empty: not given)", ""),
    "condition": ("The experimental condition (session.yaml condition; empty: not given)", ""),
    "trial": ("The trial: its trial_start mark's text ('all' for a session without trial marks)", ""),
    "trial_duration_s": ("From the trial's start mark to its end mark", "s"),
    "marker": ("The marker's id in the marker library", ""),
    "aoi": ("The AOI's name ('whole': the marker's whole picture)", ""),
    "ttff_s": (
        "Time to first fixation: onset of the first fixation in the AOI minus the trial's start (nan: never)",
        "s",
    ),
    "first_fixation_duration_s": ("Duration of the first fixation in the AOI", "s"),
    "fixation_count": ("Fixations in the AOI", ""),
    "dwell_s": ("Total fixation duration: the sum of the durations of the fixations in the AOI", "s"),
    "mean_fixation_duration_s": ("dwell_s over fixation_count", "s"),
    "visit_count": ("Visits: runs of consecutive fixations in the AOI, each ended by a fixation outside it", ""),
    "total_visit_duration_s": ("Sum over visits of the end of its last fixation minus the onset of its first", "s"),
    "mean_visit_duration_s": ("total_visit_duration_s over visit_count", "s"),
    "revisits": ("Visits after the first (0 when never visited)", ""),
    "dwell_proportion": ("dwell_s over trial_duration_s", ""),
    "reach": ("Share of the sessions given together with a fixation in this AOI in this trial, 0-1", ""),
}
"""Every column of aoi_metrics.tsv: its description and unit."""
METRIC_COLUMNS: tuple[str, ...] = tuple(METRIC_DOCS)
"""The columns of aoi_metrics.tsv, in order."""


class Trial(NamedTuple):
    """One trial: its name and interval on the session's clock.

    Attributes
    ----------
    name : str
        From the ``trial_start`` mark's text (``all`` for a session without marks).
    start_s, end_s : float
        Start and end, host time, s.
    """

    name: str
    start_s: float
    end_s: float


def trials_from_events(events: Iterable[Mapping[str, Any]], span: tuple[float, float], where: str) -> list[Trial]:
    """The trials marked in events.jsonl, or the whole session as one trial.

    A trial left open when the session ends ends with the session.

    Parameters
    ----------
    events : Iterable[Mapping]
        events.jsonl records in order (``kind``, ``t``, ``text``).
    span : tuple[float, float]
        The session's first and last gaze time, s.
    where : str
        The session, for messages.

    Raises
    ------
    FileFormatError
        A trial end without a start, a start while another trial is open (overlapping
        trials), an end naming another trial than the open one, a trial name used twice.
    """
    trials: list[Trial] = []
    open_trial: tuple[str, float] | None = None
    for record in events:
        kind = record.get("kind")
        if kind not in ("trial_start", "trial_end"):
            continue
        name = str(record.get("text") or "").strip() or str(len(trials) + 1)
        t = float(record.get("t", math.nan))
        if kind == "trial_start":
            if open_trial is not None:
                raise FileFormatError(
                    f"{where}: trial {name!r} starts at t={t:.3f} s while trial {open_trial[0]!r} is open: "
                    "overlapping trials (end each trial before the next starts)"
                )
            if any(trial.name == name for trial in trials):
                raise FileFormatError(f"{where}: trial name {name!r} is used twice: give each trial its own name")
            open_trial = (name, t)
        else:
            if open_trial is None:
                raise FileFormatError(f"{where}: trial end {name!r} at t={t:.3f} s without a trial start")
            if name != open_trial[0] and record.get("text"):
                raise FileFormatError(
                    f"{where}: trial end {name!r} at t={t:.3f} s while trial {open_trial[0]!r} is open"
                )
            trials.append(Trial(open_trial[0], open_trial[1], t))
            open_trial = None
    if open_trial is not None:
        trials.append(Trial(open_trial[0], open_trial[1], max(open_trial[1], span[1])))
    return trials or [Trial(WHOLE_SESSION_TRIAL, span[0], span[1])]


def fixation_aoi_hits(
    on_markers: pd.DataFrame,
    aois: Mapping[str, Sequence[Aoi]],
    image_sizes: Mapping[str, tuple[int, int]],
    margin_deg: float = 0.0,
) -> pd.DataFrame:
    """Which fixations fell in which AOI.

    Parameters
    ----------
    on_markers : pandas.DataFrame
        fixations_on_markers.tsv: ``fixation_id, marker, u, v, px_per_deg``.
    aois : Mapping[str, Sequence[Aoi]]
        Every marker's AOIs.
    image_sizes : Mapping[str, tuple[int, int]]
        Picture size by marker id.
    margin_deg : float
        The margin around each AOI, degrees of visual angle (the gaze's accuracy).
        (default: 0.0)

    Returns
    -------
    pandas.DataFrame
        ``fixation_id, marker, aoi``, one row per fixation in an AOI.
    """
    rows: list[tuple[int, str, str]] = []
    for marker, group in on_markers.groupby("marker", sort=False):
        marker = str(marker)
        if marker not in aois:
            continue
        width, height = image_sizes[marker]
        picture = np.column_stack([group["u"].to_numpy(float) * width, group["v"].to_numpy(float) * height]) - 0.5
        margin = margin_deg * group["px_per_deg"].to_numpy(float)
        margin = np.where(np.isfinite(margin), margin, 0.0)
        ids = group["fixation_id"].to_numpy(int)
        for aoi in aois[marker]:
            for fixation_id in ids[hit_test(picture, aoi, margin)]:
                rows.append((int(fixation_id), marker, aoi.name))
    return pd.DataFrame(rows, columns=["fixation_id", "marker", "aoi"]).drop_duplicates()


def _aoi_metrics(onsets: np.ndarray, durations: np.ndarray, inside: np.ndarray, trial: Trial) -> dict[str, Any]:
    """The metrics of one AOI in one trial from the trial's fixations in time order."""
    ends = onsets + durations
    count = int(inside.sum())
    trial_s = trial.end_s - trial.start_s
    if count == 0:
        return {
            "ttff_s": math.nan,
            "first_fixation_duration_s": math.nan,
            "fixation_count": 0,
            "dwell_s": 0.0,
            "mean_fixation_duration_s": math.nan,
            "visit_count": 0,
            "total_visit_duration_s": 0.0,
            "mean_visit_duration_s": math.nan,
            "revisits": 0,
            "dwell_proportion": 0.0,
        }
    first = int(np.argmax(inside))
    dwell = float(durations[inside].sum())
    # Runs of consecutive fixations in the AOI are the visits.
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    visits = ends[stops] - onsets[starts]
    return {
        "ttff_s": float(onsets[first] - trial.start_s),
        "first_fixation_duration_s": float(durations[first]),
        "fixation_count": count,
        "dwell_s": dwell,
        "mean_fixation_duration_s": dwell / count,
        "visit_count": len(visits),
        "total_visit_duration_s": float(visits.sum()),
        "mean_visit_duration_s": float(visits.mean()),
        "revisits": len(visits) - 1,
        "dwell_proportion": dwell / trial_s if trial_s > 0 else math.nan,
    }


def session_metrics(
    fixations: pd.DataFrame,
    hits: pd.DataFrame,
    trials: Sequence[Trial],
    aois: Mapping[str, Sequence[Aoi]],
    session: str,
    participant: str = "",
    condition: str = "",
) -> pd.DataFrame:
    """One row per trial x marker x AOI (see the module's definitions).

    Parameters
    ----------
    fixations : pandas.DataFrame
        fixations.tsv: ``id, onset, duration`` (every fixation, on markers or not).
    hits : pandas.DataFrame
        :func:`fixation_aoi_hits`.
    trials : Sequence[Trial]
        The session's trials.
    aois : Mapping[str, Sequence[Aoi]]
        Every marker's AOIs (rows for all of them, fixated or not).
    session, participant, condition : str
        Written into every row. (default participant and condition: "")

    Returns
    -------
    pandas.DataFrame
        Columns :data:`METRIC_COLUMNS` (``reach`` NaN: see :func:`add_reach`).
    """
    ordered = fixations.sort_values("onset", kind="stable")
    ids = ordered["id"].to_numpy(int)
    onsets = ordered["onset"].to_numpy(float)
    durations = ordered["duration"].to_numpy(float)
    inside_by_aoi = {key: set(group["fixation_id"].astype(int)) for key, group in hits.groupby(["marker", "aoi"])}
    rows = []
    for trial in trials:
        selected = (onsets >= trial.start_s) & (onsets < trial.end_s)
        trial_ids, trial_onsets, trial_durations = ids[selected], onsets[selected], durations[selected]
        for marker, marker_aois in aois.items():
            for aoi in marker_aois:
                inside_ids = inside_by_aoi.get((marker, aoi.name), set())
                inside = np.fromiter((i in inside_ids for i in trial_ids), bool, len(trial_ids))
                rows.append(
                    {
                        "session": session,
                        "participant": participant,
                        "condition": condition,
                        "trial": trial.name,
                        "trial_duration_s": trial.end_s - trial.start_s,
                        "marker": marker,
                        "aoi": aoi.name,
                        **_aoi_metrics(trial_onsets, trial_durations, inside, trial),
                        "reach": math.nan,
                    }
                )
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def add_reach(metrics: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Fill ``reach``: per trial, marker and AOI, the share of sessions that fixated it.

    Parameters
    ----------
    metrics : pandas.DataFrame
        Rows of :func:`session_metrics` of one or more sessions.
    by : Sequence of str
        More columns to keep apart (a batch's swept parameters: reach per parameter set). (default: ())
    """
    fixated = (metrics["fixation_count"].astype(int) > 0).astype(float)
    keys = [metrics[column] for column in (*by, "trial", "marker", "aoi")]
    return metrics.assign(reach=fixated.groupby(keys).transform("mean"))
