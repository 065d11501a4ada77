"""`gazefusion metrics` on recorded sessions: the table, the pictures, and every bad input refused whole."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from gazefusion.fusion.analyse import AOI_METRICS, write_metrics
from gazefusion.fusion.analysis.metrics import METRIC_COLUMNS
from gazefusion.fusion.cli import main
from gazefusion.fusion.core import NO_INTRINSICS_NOTE
from gazefusion.fusion.runner import Runner
from tests.fusion.sessionkit import SCENE, make_config, marker_gaze_tracker, run_for, scene_files, scene_server


def trial_marks() -> Callable[[Runner, float], None]:
    """A `during` hook of `run_for` marking trial 1 from 0.2 to 1.9 s and trial 2 from 2.0 to 3.6 s."""
    pending = [(0.2, "1", "trial_start"), (1.9, "1", "trial_end"), (2.0, "2", "trial_start"), (3.6, "2", "trial_end")]

    def during(runner: Runner, elapsed_s: float) -> None:
        while pending and elapsed_s >= pending[0][0]:
            _, name, kind = pending.pop(0)
            runner.mark(name, kind)

    return during


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two live sessions of the marker scene with trial marks, participants and conditions."""
    root = tmp_path_factory.mktemp("sessions")
    files = scene_files(root)
    made = {}
    with scene_server() as server:
        for name, seed in (("p01", 0), ("p02", 1)):
            config = make_config(
                camera__source=server.url,
                record__dir=str(root / name),
                record__participant=name,
                record__condition="bright" if seed else "dim",
                aoi__size_deg=4.5,
                **files,
            )

            run_for(config, 3.8, trial_marks(), tracker=marker_gaze_tracker(config, seed=seed))
            made[name] = root / name
    made["library"] = Path(files["markers.file"])
    return made


def test_metrics_table_and_pictures(sessions: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "metrics"
    assert main(["metrics", str(sessions["p01"]), str(sessions["p02"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    markers = len(SCENE.markers)
    assert "written:" in printed and f"aoi_metrics.tsv: {4 * markers} rows of 2 session(s)" in printed
    table = pd.read_csv(out / "aoi_metrics.tsv", sep="\t")
    assert list(table.columns) == list(METRIC_COLUMNS)
    assert set(json.loads((out / "aoi_metrics.json").read_text())) == {"Description", *METRIC_COLUMNS}
    # 2 sessions x 2 trials x the scene's markers, each one AOI (no AOIs drawn: the whole picture).
    assert len(table) == 4 * markers and set(table.trial.astype(str)) == {"1", "2"} and set(table.aoi) == {"whole"}
    assert set(zip(table.session, table.participant, table.condition)) == {
        ("p01", "p01", "dim"),
        ("p02", "p02", "bright"),
    }
    fixated = table[table.fixation_count > 0]
    assert len(fixated) >= 4 and (fixated.dwell_s > 0.1).all() and fixated.ttff_s.between(0, 1.7).all()
    assert (fixated.dwell_s <= fixated.total_visit_duration_s + 1e-9).all()
    assert (table.dwell_proportion <= 1).all() and table.reach.between(0, 1).all()
    heat = cv2.imread(str(out / "heatmaps" / "pooled" / "poster.png"))
    assert heat is not None and heat.shape[1] >= 800
    assert (out / "heatmaps" / "p01" / "book.png").is_file()
    assert any((out / "scanpaths" / "p02").rglob("*.png"))


def test_aois_from_a_file_and_the_margin(sessions: dict[str, Path], tmp_path: Path) -> None:
    # The scene's pictures are 400 px squares and the gaze fixates their centres.
    regions = [
        {"name": "centre", "rect": [150, 150, 100, 100]},
        {"name": "corner", "polygon": [[0, 0], [60, 0], [0, 60]]},
    ]
    aois = tmp_path / "aois.yaml"
    pictures = ("poster", "book", "sign", "photo", "map")
    aois.write_text(yaml.safe_dump(dict.fromkeys(pictures, regions)))
    result = write_metrics([sessions["p01"]], tmp_path / "m", aois, margin_deg=0.0, pictures=False)
    rows = result.metrics[result.metrics.marker.isin(pictures)].groupby("aoi").fixation_count.sum()
    assert rows["centre"] == rows["whole"] > 0 and rows["corner"] == 0
    wide = write_metrics([sessions["p01"]], tmp_path / "w", aois, margin_deg=30.0, pictures=False)
    assert wide.metrics.groupby("aoi").fixation_count.sum()["corner"] > 0
    assert not (tmp_path / "m" / "heatmaps").exists()


def _copy(session: Path, to: Path) -> Path:
    shutil.copytree(session, to)
    return to


def _events(session: Path, *marks: tuple[str, float, str]) -> Path:
    lines = [line for line in (session / "events.jsonl").read_text().splitlines() if '"trial_' not in line]
    lines += [json.dumps({"kind": kind, "t": t, "text": text}) for kind, t, text in marks]
    (session / "events.jsonl").write_text("\n".join(lines) + "\n")
    return session


def _bad(kind: str, sessions: dict[str, Path], tmp: Path) -> list[str]:
    """The command line of one bad input (files prepared in `tmp`)."""
    p01 = str(sessions["p01"])
    aois = tmp / "aois.yaml"
    if kind == "outside":
        aois.write_text(yaml.safe_dump({"poster": [{"name": "wide", "polygon": [[0, 0], [450, 0], [0, 90]]}]}))
        return [p01, "--aois", str(aois)]
    if kind == "self-crossing":
        aois.write_text(yaml.safe_dump({"book": [{"name": "bow", "polygon": [[0, 0], [90, 90], [90, 0], [0, 90]]}]}))
        return [p01, "--aois", str(aois)]
    if kind == "unknown-marker":
        aois.write_text(yaml.safe_dump({"painting": [{"name": "a", "rect": [0, 0, 9, 9]}]}))
        return [p01, "--aois", str(aois)]
    if kind == "end-without-start":
        return [str(_events(_copy(sessions["p01"], tmp / "s"), ("trial_end", 5.0, "1")))]
    if kind == "overlapping":
        marks = (("trial_start", 5.0, "1"), ("trial_start", 6.0, "2"), ("trial_end", 7.0, "2"))
        return [str(_events(_copy(sessions["p01"], tmp / "s"), *marks))]
    if kind == "other-library":
        other = _copy(sessions["p02"], tmp / "p02")
        library = tmp / "library"
        shutil.copytree(sessions["library"].parent, library)
        picture = cv2.imread(str(library / "book.png"))
        cv2.imwrite(str(library / "book.png"), cv2.flip(picture, 1))
        header = yaml.safe_load((other / "session.yaml").read_text())
        header["config"]["markers"]["file"] = str(library / "markers.yaml")
        (other / "session.yaml").write_text(yaml.safe_dump(header))
        return [p01, str(other)]
    if kind == "not-mapped":
        old = _copy(sessions["p01"], tmp / "old")
        (old / "fixations_on_markers.tsv").unlink()
        return [str(old)]
    if kind == "twice":
        return [p01, p01]
    if kind == "negative-margin":
        return [p01, "--margin-deg", "-1"]
    if kind == "no-library":
        bare = _copy(sessions["p01"], tmp / "bare")
        header = yaml.safe_load((bare / "session.yaml").read_text())
        header["config"]["markers"]["file"] = None
        (bare / "session.yaml").write_text(yaml.safe_dump(header))
        return [str(bare)]
    if kind == "not-a-session":
        return [str(tmp)]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("outside", "AOI 'wide' has a vertex (450, 0) outside the 400x400 px picture"),
        ("self-crossing", "AOI 'bow' crosses itself"),
        ("unknown-marker", "names marker 'painting', which the marker library lacks"),
        ("end-without-start", "trial end '1' at t=5.000 s without a trial start"),
        ("overlapping", "overlapping trials"),
        ("other-library", "use different marker libraries (marker 'book' differs)"),
        ("not-mapped", "has no fixations_on_markers.tsv (recorded before gaze was mapped onto markers)"),
        ("twice", "two sessions are named 'p01'"),
        ("negative-margin", "the AOI margin must be 0 or more degrees"),
        ("no-library", "has no marker library"),
        ("not-a-session", "is not a session folder"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    kind: str, expected: str, sessions: dict[str, Path], tmp_path: Path, capsys
) -> None:
    args = _bad(kind, sessions, tmp_path)
    out = tmp_path / "out"
    assert main(["metrics", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gazefusion: ") and err.count("\n") == 1 and expected in err, err
    assert not out.exists() and not list(tmp_path.glob(".out.tmp*"))


def test_an_output_folder_holding_files_is_refused(sessions: dict[str, Path], tmp_path: Path, capsys) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    assert main(["metrics", str(sessions["p01"]), "--out", str(tmp_path / "out")]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


def test_a_session_without_looks_gives_zeros(sessions: dict[str, Path], tmp_path: Path) -> None:
    empty = _copy(sessions["p01"], tmp_path / "empty")
    for name in ("fixations.tsv", "looks.tsv", "fixations_on_markers.tsv", "gaze_on_markers.tsv"):
        header = (empty / name).read_text().splitlines()[0]
        (empty / name).write_text(header + "\n")
    result = write_metrics([empty], tmp_path / "m")
    metrics = result.metrics
    assert (
        len(metrics) == 2 * len(SCENE.markers) and (metrics.fixation_count == 0).all() and (metrics.dwell_s == 0).all()
    )
    assert metrics.ttff_s.isna().all() and (metrics.reach == 0).all()
    assert pd.read_csv(tmp_path / "m" / AOI_METRICS.file, sep="\t").shape == (len(metrics), len(METRIC_COLUMNS))


def test_without_intrinsics_the_mapping_says_so_once(tmp_path: Path, capsys, caplog) -> None:
    files = scene_files(tmp_path)
    with scene_server() as server:
        config = make_config(
            camera__source=server.url, record__dir=str(tmp_path / "s"), markers__file=files["markers.file"]
        )
        run_for(config, 2.5, tracker=marker_gaze_tracker(config))
    assert [record.message for record in caplog.records].count(NO_INTRINSICS_NOTE) == 1
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "s"), "--out", str(tmp_path / "r"), "--fast", "--quiet-looks"]) == 0
    err = capsys.readouterr().err
    assert err.count(NO_INTRINSICS_NOTE) == 1
    gaze = pd.read_csv(tmp_path / "r" / "gaze_on_markers.tsv", sep="\t")
    assert len(gaze) > 100 and np.isfinite(gaze[["u", "v", "gaze_z_m"]].to_numpy()).all()


def test_replay_map_all_maps_every_sample_onto_what_is_in_view(sessions: dict[str, Path], tmp_path: Path) -> None:
    live = sessions["p01"]
    assert main(["replay", str(live), "--out", str(tmp_path / "all"), "--fast", "--map-all", "--quiet-looks"]) == 0
    mapped = {
        name: pd.read_csv(folder / "gaze_on_markers.tsv", sep="\t")
        for name, folder in (("live", live), ("all", tmp_path / "all"))
    }
    # Live, gaze maps only onto what the fixations' searches found; searching every frame whole, onto every marker in view.
    assert mapped["all"]["t"].nunique() > mapped["live"]["t"].nunique()
    assert mapped["all"].groupby("t")["marker"].nunique().max() >= 3
    positions = pd.read_csv(tmp_path / "all" / "marker_positions.tsv", sep="\t")
    frames = pd.read_csv(live / "frames.tsv", sep="\t")
    assert positions["frame_index"].nunique() >= 0.9 * (frames["fed_after"] >= 0).sum()
    # The looks are the live run's: only the gaze tables come from the whole-frame search.
    assert (tmp_path / "all" / "looks.tsv").read_text() == (live / "looks.tsv").read_text()
