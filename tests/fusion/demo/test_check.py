"""Ground truth: a recorded demo session's gaze on markers and AOI metrics against its scripted eye."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gazefusion.fusion.analyse import load_pictures, write_metrics
from gazefusion.fusion.demo.check import MIN_FIXATION_S, compare_with_truth, read_truth
from gazefusion.fusion.demo.run import FPS, GAZE_RATE_HZ, run_demo

#: The demo's I-VT finds a fixation's onset within a few samples of the eye's stop.
DETECTION_DELAY_S = 3 / GAZE_RATE_HZ


#: Attempts at a whole recording (a starved machine stalls the tracker's stream or the core).
ATTEMPTS = 3


def recording_complete(session: Path) -> bool:
    """Whether the pipeline got what it needs: every gaze sample, and frames to search in every look at a marker.

    The truth is about what the scripted eye did; a sample lost on the way, or a marker visit
    whose frames the core skipped because the machine was starved, is not the metrics' doing.
    """
    times = pd.read_csv(session / "gaze.tsv", sep="\t", usecols=["tracker_t"])["tracker_t"]
    frames = pd.read_csv(session / "frames.tsv", sep="\t")
    fed = frames.loc[frames["fed_after"] >= 0, "t"].to_numpy()
    visits = read_truth(session).dropna(subset=["marker"])
    searched = [((fed >= v.onset) & (fed <= v.offset)).sum() for v in visits.itertuples()]
    return bool((times.diff().dropna() <= 3.5 / GAZE_RATE_HZ).all() and min(searched, default=0) >= 1)


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20 s demo session the pipeline got whole (see :func:`recording_complete`)."""
    for attempt in range(ATTEMPTS):
        result = run_demo(tmp_path_factory.mktemp("demo") / f"session{attempt}", seconds=20.0, headless=True, echo=None)
        if recording_complete(result.session_dir):
            break
    return result.session_dir


@pytest.mark.slow
def test_metrics_agree_with_the_scripted_eye(demo_session: Path, tmp_path: Path) -> None:
    assert recording_complete(demo_session), f"samples or frames were lost in {ATTEMPTS} runs: the machine is starved"
    result = write_metrics([demo_session], tmp_path / "metrics")
    pictures = load_pictures(demo_session / "scene" / "markers.yaml")
    comparison = compare_with_truth(demo_session, result.metrics, pictures.image_sizes)
    markers = comparison.markers
    assert len(markers) >= 5 and (markers["true_count"] >= 2).all()
    # Fixation counts exact, dwell within 5 %, time to first fixation within a frame and the detection delay.
    report = comparison.format()
    assert (markers["count"] == markers["true_count"]).all(), report
    assert (markers["dwell_error_percent"].abs() <= 5.0).all(), report
    assert (markers["ttff_error_s"].abs() <= 1 / FPS + DETECTION_DELAY_S).all(), report
    # Mapped positions within the tracker's noise projected onto the marker: every fixation within the
    # radius holding 95 % of single noisy samples (2.45 sigma), the median within one sigma.
    fixations = comparison.fixations
    assert fixations["error_mm"].notna().all()
    assert (fixations["error_mm"] <= 2.45 * fixations["noise_mm"]).all(), fixations.round(2).to_string()
    assert fixations["error_mm"].median() <= fixations["noise_mm"].median()


def test_truth_is_within_the_recording(demo_session: Path) -> None:
    truth = read_truth(demo_session)
    assert (truth["duration"] >= MIN_FIXATION_S).all() and truth["marker"].notna().sum() >= 10
    assert ((truth[["u", "v"]].dropna() - 0.5).abs() < 0.2).all().all()  # the eye visits the markers' middles
