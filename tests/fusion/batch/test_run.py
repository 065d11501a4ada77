"""Batches on every engine: in process, a local Dask cluster, a separately started scheduler and workers.

The per-session tables are byte-identical to `gazefusion replay` of each session alone,
whatever the engine, the number of workers and the order tasks finished in; the project
tables are the same on every engine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from gazefusion.fusion.batch import run_batch
from gazefusion.fusion.batch.run import local_engine
from gazefusion.fusion.cli import main
from gazefusion.fusion.tables import TableReader
from tests.fusion.batch.conftest import LABELS, SEEDS, Recorded, same_outputs

pytestmark = pytest.mark.slow


def _project_tables(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.tsv")) if p.name != "sessions.tsv"}


@pytest.fixture(scope="module")
def in_process(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("batch") / "in-process"
    result = run_batch([str(recorded.root / "sessions" / "*")], out, workers=1)
    assert result.count("done") == len(SEEDS) and result.engine == "in process"
    return out


def test_each_session_is_its_replay_alone(recorded: Recorded, in_process: Path) -> None:
    for session in recorded.sessions:
        assert same_outputs(recorded.replays[session.name], in_process / "sessions" / session.name) == []


def test_project_tables_hold_every_session_row_in_long_format(recorded: Recorded, in_process: Path) -> None:
    for name in (
        "fixations.tsv",
        "looks.tsv",
        "pursuits.tsv",
        "gaze_on_markers.tsv",
        "fixations_on_markers.tsv",
        "marker_positions.tsv",
    ):
        rows = list(TableReader(in_process / name))
        reader = TableReader(in_process / name)
        reader.close()
        own = TableReader(recorded.replays["s1"] / name)
        own.close()
        assert reader.columns == ("session", "participant", "condition", *own.columns)
        for seed in SEEDS:
            session = f"s{seed}"
            mine = [row for row in rows if row["session"] == session]
            assert [{k: row[k] for k in own.columns} for row in mine] == list(
                TableReader(recorded.replays[session] / name)
            )
            participant, condition = LABELS.get(seed, ("", ""))
            assert all(row["participant"] == participant and row["condition"] == condition for row in mine)
        assert [row["session"] for row in rows] == sorted(row["session"] for row in rows)  # plan order
    assert any(row["marker"] for row in TableReader(in_process / "looks.tsv"))
    assert any(row["on_marker"] == "1" for row in TableReader(in_process / "gaze_on_markers.tsv"))


def test_aoi_metrics_are_those_of_the_replays_together(in_process: Path, metrics_alone: Path) -> None:
    # `gazefusion metrics` of the three replays together: the same bytes, reach across the sessions included.
    assert (in_process / "aoi_metrics.tsv").read_bytes() == metrics_alone.read_bytes()
    rows = list(TableReader(in_process / "aoi_metrics.tsv"))
    assert {row["trial"] for row in rows if row["session"] == "s1"} == {"one", "two"}  # the recorded trial marks
    assert {row["reach"] for row in rows} - {"0.0", "1.0"}  # some AOI fixated in some sessions, not all
    counts = {row["session"]: int(row["aoi_rows"]) for row in TableReader(in_process / "sessions.tsv")}
    assert counts == {s: sum(row["session"] == s for row in rows) for s in counts} and all(counts.values())
    assert json.loads((in_process / "aoi_metrics.json").read_text())["dwell_s"]["Units"] == "s"


def test_aoi_file_and_margin_as_metrics_takes_them(recorded: Recorded, tmp_path: Path) -> None:
    aois = tmp_path / "aois.yaml"
    aois.write_text(yaml.safe_dump({"poster": [{"name": "corner", "rect": [0, 0, 60, 60]}]}))
    settings = ["--aois", str(aois), "--margin-deg", "1.5", "--no-pictures"]
    alone = tmp_path / "alone"
    assert main(["metrics", str(recorded.replays["s1"]), "--out", str(alone), *settings]) == 0
    result = run_batch([recorded.sessions[0]], tmp_path / "batch", workers=1, aoi_file=aois, margin_deg=1.5)
    assert result.count("done") == 1
    table = (tmp_path / "batch" / "aoi_metrics.tsv").read_bytes()
    assert table == (alone / "aoi_metrics.tsv").read_bytes() and b"\tcorner\t" in table


def test_summary_says_what_each_session_held(recorded: Recorded, in_process: Path) -> None:
    rows = {row["session"]: row for row in TableReader(in_process / "sessions.tsv")}
    assert sorted(rows) == [f"s{seed}" for seed in SEEDS]
    for session in recorded.sessions:
        row = rows[session.name]
        assert row["status"] == "done" and row["reason"] == "" and row["problems"] == ""
        gaze = [float(sample["t"]) for sample in TableReader(session / "gaze.tsv")]
        assert int(row["samples"]) == len(gaze) and int(row["frames"]) > 0
        assert int(row["fixations"]) == sum(1 for _ in TableReader(session / "fixations.tsv"))
        assert gaze[-1] - gaze[0] <= float(row["duration_s"]) < gaze[-1] - gaze[0] + 1.0
    assert (in_process / "sessions.json").exists() and (in_process / "looks.json").exists()


def test_a_local_cluster_gives_the_same_tables(recorded: Recorded, in_process: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "local"
    assert main(["batch", str(recorded.root / "sessions" / "*"), "--out", str(out), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "3 replays: 3 done, 0 failed" in captured.out and "local Dask cluster of 2 worker processes" in captured.out
    assert captured.err == ""  # Dask's own log lines only with -v
    assert _project_tables(out) == _project_tables(in_process)
    workers = {row["worker"] for row in TableReader(out / "sessions.tsv")}
    assert len(workers) == 2  # both worker processes ran tasks
    for session in recorded.sessions:
        assert same_outputs(recorded.replays[session.name], out / "sessions" / session.name) == []


def test_a_separately_started_scheduler_and_workers(
    recorded: Recorded, in_process: Path, dask_cluster, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "remote"
    argv = ["batch", *map(str, recorded.sessions), "--out", str(out), "--scheduler", dask_cluster.address]
    assert main(argv) == 0
    assert f"on the Dask cluster at {dask_cluster.address}" in capsys.readouterr().out
    assert _project_tables(out) == _project_tables(in_process)


def test_a_client_of_the_users_own(recorded: Recorded, in_process: Path, dask_cluster, tmp_path: Path) -> None:
    from distributed import Client

    with Client(dask_cluster.address) as client:
        result = run_batch(recorded.sessions, tmp_path / "client", client=client)
        assert client.status == "running"  # the caller's client is left open
    assert result.count("done") == 3
    assert _project_tables(tmp_path / "client") == _project_tables(in_process)


def test_local_workers_keep_glibc_malloc_thresholds() -> None:
    # Dask's MALLOC_TRIM_THRESHOLD_ would make every frame-sized array a fresh mapping (about 8 % more CPU).
    engine = local_engine(1)
    try:
        environ = engine.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
        threads = engine.client.run(os.environ.get, "OMP_NUM_THREADS")
    finally:
        engine.close()
    assert list(environ.values()) == [None] and list(threads.values()) == ["1"]  # Dask's other settings stay
