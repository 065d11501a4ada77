"""AOI metrics on constructed fixation sequences with hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gazefusion.fusion.analysis.aois import Aoi, whole_picture
from gazefusion.fusion.analysis.metrics import (
    WHOLE_SESSION_TRIAL,
    Trial,
    add_reach,
    fixation_aoi_hits,
    session_metrics,
    trials_from_events,
)
from gazefusion.fusion.errors import FileFormatError

SIZES = {"poster": (400, 300), "book": (200, 200)}
AOIS = {
    "poster": [whole_picture((400, 300)), Aoi(name="title", rect=(0, 0, 400, 100))],
    "book": [whole_picture((200, 200))],
}


def _fixations(rows: list[tuple[int, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "onset", "duration"])


def _on(rows: list[tuple[int, str, float, float]], px_per_deg: float = 20.0) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["fixation_id", "marker", "u", "v"])
    return frame.assign(px_per_deg=px_per_deg)


# Fixations 1-6: poster title, poster title, nothing, book, poster body, poster title.
FIXATIONS = _fixations([(1, 1.0, 0.2), (2, 1.3, 0.3), (3, 1.7, 0.1), (4, 2.0, 0.4), (5, 2.5, 0.25), (6, 3.0, 0.5)])
ON = _on(
    [
        (1, "poster", 0.5, 0.1),
        (2, "poster", 0.3, 0.2),
        (4, "book", 0.5, 0.5),
        (4, "poster", 1.4, 0.5),  # the poster was in view too, the fixation off it
        (5, "poster", 0.5, 0.8),
        (6, "poster", 0.6, 0.3),
    ]
)


def _row(metrics: pd.DataFrame, marker: str, aoi: str, trial: str = WHOLE_SESSION_TRIAL) -> pd.Series:
    selected = metrics[(metrics.marker == marker) & (metrics.aoi == aoi) & (metrics.trial == trial)]
    assert len(selected) == 1
    return selected.iloc[0]


def test_metrics_by_hand() -> None:
    hits = fixation_aoi_hits(ON, AOIS, SIZES)
    metrics = session_metrics(FIXATIONS, hits, [Trial(WHOLE_SESSION_TRIAL, 0.5, 4.5)], AOIS, "s1", "p1", "c1")
    title = _row(metrics, "poster", "title")
    assert title.fixation_count == 3
    assert title.ttff_s == pytest.approx(0.5)
    assert title.first_fixation_duration_s == pytest.approx(0.2)
    assert title.dwell_s == pytest.approx(1.0)
    assert title.mean_fixation_duration_s == pytest.approx(1.0 / 3)
    # Visits: fixations 1-2 (1.0 to 1.6) and 6 (3.0 to 3.5).
    assert title.visit_count == 2 and title.revisits == 1
    assert title.total_visit_duration_s == pytest.approx(0.6 + 0.5)
    assert title.mean_visit_duration_s == pytest.approx(0.55)
    assert title.dwell_proportion == pytest.approx(1.0 / 4.0)
    whole = _row(metrics, "poster", "whole")
    assert whole.fixation_count == 4  # 1, 2, 5, 6; not 4, off the poster
    assert whole.visit_count == 2  # 1-2, then 5-6 (3 and 4 between)
    assert whole.total_visit_duration_s == pytest.approx(0.6 + 1.0)
    book = _row(metrics, "book", "whole")
    assert (book.fixation_count, book.ttff_s, book.dwell_s, book.revisits) == (1, pytest.approx(1.5), 0.4, 0)
    assert set(metrics.participant) == {"p1"} and set(metrics.condition) == {"c1"}


def test_margin_in_degrees() -> None:
    # Fixation 5 lies 0.8*300 - 99.5 = 140.5 px below the title: 7.0 deg at 20 px/deg.
    near = _on([(5, "poster", 0.5, 0.8)])
    assert fixation_aoi_hits(near, AOIS, SIZES, 7.1).query("aoi == 'title'").shape[0] == 1
    assert fixation_aoi_hits(near, AOIS, SIZES, 6.9).query("aoi == 'title'").shape[0] == 0


def test_trials_split_the_fixations() -> None:
    hits = fixation_aoi_hits(ON, AOIS, SIZES)
    trials = [Trial("a", 0.9, 1.9), Trial("b", 2.4, 3.6)]
    metrics = session_metrics(FIXATIONS, hits, trials, AOIS, "s1")
    assert len(metrics) == 2 * 3
    a, b = _row(metrics, "poster", "title", "a"), _row(metrics, "poster", "title", "b")
    assert (a.fixation_count, b.fixation_count) == (2, 1)
    assert a.ttff_s == pytest.approx(0.1) and b.ttff_s == pytest.approx(0.6)
    assert _row(metrics, "book", "whole", "a").fixation_count == 0


def test_no_fixations_gives_zeros() -> None:
    metrics = session_metrics(_fixations([]), fixation_aoi_hits(_on([]), AOIS, SIZES), [Trial("all", 0, 10)], AOIS, "s")
    assert len(metrics) == 3
    assert (metrics.fixation_count == 0).all() and (metrics.dwell_s == 0).all() and (metrics.visit_count == 0).all()
    assert metrics.ttff_s.isna().all()


def test_reach_across_sessions() -> None:
    hits = fixation_aoi_hits(ON, AOIS, SIZES)
    first = session_metrics(FIXATIONS, hits, [Trial("all", 0, 5)], AOIS, "s1")
    second = session_metrics(FIXATIONS[FIXATIONS.id != 4], hits, [Trial("all", 0, 5)], AOIS, "s2")
    both = add_reach(pd.concat([first, second], ignore_index=True))
    assert _row(both[both.session == "s1"], "book", "whole").reach == pytest.approx(0.5)
    assert _row(both[both.session == "s2"], "poster", "title").reach == pytest.approx(1.0)


def _marks(*items: tuple[str, float, str]) -> list[dict]:
    return [{"kind": kind, "t": t, "text": text} for kind, t, text in items]


def test_trials_from_marks() -> None:
    assert trials_from_events([{"kind": "look_end", "t": 1}], (2.0, 9.0), "s") == [Trial("all", 2.0, 9.0)]
    marks = _marks(("trial_start", 3, "1"), ("trial_end", 4, "1"), ("trial_start", 5, "2"))
    assert trials_from_events(marks, (2.0, 9.0), "s") == [Trial("1", 3, 4), Trial("2", 5, 9.0)]


@pytest.mark.parametrize(
    ("marks", "expected"),
    [
        ([("trial_end", 4, "1")], "trial end '1' at t=4.000 s without a trial start"),
        ([("trial_start", 3, "1"), ("trial_start", 4, "2")], "overlapping trials"),
        ([("trial_start", 3, "1"), ("trial_end", 4, "2")], "while trial '1' is open"),
        ([("trial_start", 3, "1"), ("trial_end", 4, "1"), ("trial_start", 5, "1")], "used twice"),
    ],
    ids=["end-without-start", "overlapping", "mismatched-end", "name-twice"],
)
def test_bad_trial_marks(marks: list, expected: str) -> None:
    with pytest.raises(FileFormatError, match=expected):
        trials_from_events(_marks(*marks), (0.0, 9.0), "session s")


def test_nan_px_per_deg_means_no_margin() -> None:
    near = _on([(5, "poster", 0.5, 0.8)], px_per_deg=math.nan)
    assert fixation_aoi_hits(near, AOIS, SIZES, 50.0).aoi.tolist() == ["whole"]
    assert np.isfinite(whole_picture((4, 4)).vertices).all()
