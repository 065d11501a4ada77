"""The faults of a batch, each on a real Dask scheduler and worker processes on loopback.

A corrupt or incomplete session (its row says why, the rest finish), a worker killed with
SIGKILL mid-task (rescheduled, the same outputs), an unreachable scheduler (one line, exit
2), an output folder that exists (refused unless --overwrite), Ctrl-C (workers stopped, what
finished kept, --resume skips it).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from gazefusion.fusion.cli import main
from gazefusion.fusion.tables import TableReader
from tests.conftest import free_port
from tests.fusion.batch.conftest import BIN, Recorded, copy_session, same_outputs, wait_until

pytestmark = pytest.mark.slow


def _rows(out: Path) -> dict[str, dict[str, str]]:
    """sessions.tsv's rows by output folder."""
    return {row["out"]: row for row in TableReader(out / "sessions.tsv")}


def _by_path(out: Path) -> dict[str, dict[str, str]]:
    """sessions.tsv's rows by session folder's name (one parameter set)."""
    return {Path(row["path"]).name: row for row in TableReader(out / "sessions.tsv")}


def _damaged(recorded: Recorded, root: Path) -> list[Path]:
    """Copies of s1, each damaged another way, and an empty folder."""
    root.mkdir()
    source = recorded.sessions[0]
    bad_gaze = copy_session(source, root / "bad-gaze")
    lines = (bad_gaze / "gaze.tsv").read_text().splitlines(keepends=True)
    lines[len(lines) // 2] = "\t".join(["oops"] * len(lines[0].split("\t"))) + "\n"
    (bad_gaze / "gaze.tsv").write_text("".join(lines))
    no_video = copy_session(source, root / "no-video")
    (no_video / "video.mjpeg").unlink()
    cut_video = copy_session(source, root / "cut-video")
    with open(cut_video / "video.mjpeg", "r+b") as video:
        video.truncate(video.seek(0, 2) // 2)
    bad_yaml = copy_session(source, root / "bad-yaml")
    (bad_yaml / "session.yaml").write_text("config: [unclosed\n")
    (root / "empty").mkdir()
    return [bad_gaze, no_video, cut_video, bad_yaml, root / "empty"]


def test_a_corrupt_or_incomplete_session_fails_alone(recorded: Recorded, dask_cluster, tmp_path: Path, capsys) -> None:
    damaged = _damaged(recorded, tmp_path / "damaged")
    out = tmp_path / "out"
    argv = [
        "batch",
        *map(str, recorded.sessions),
        *map(str, damaged),
        "--out",
        str(out),
        "--scheduler",
        dask_cluster.address,
    ]
    assert main(argv) == 1
    captured = capsys.readouterr()
    rows = _by_path(out)
    failed = {name: rows[name] for name in ("bad-gaze", "empty")}
    assert "column t: 'oops' is not a number (gaze.tsv line" in failed["bad-gaze"]["reason"]
    assert "is not a session folder" in failed["empty"]["reason"]
    assert all(row["status"] == "failed" for row in failed.values())
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("gazefusion: batch: sessions/") for line in errors), errors
    assert "bad-gaze: column t" in captured.err and "empty: " in captured.err
    assert "2 failed" in captured.out
    # Incomplete ones replay what is there, and say what they lack.
    assert "video.mjpeg missing: replaying gaze without frames" in rows["no-video"]["problems"]
    assert "video.mjpeg is cut off" in rows["cut-video"]["problems"]
    assert "session.yaml is unreadable" in rows["bad-yaml"]["problems"]
    assert all(rows[name]["status"] == "done" for name in ("no-video", "cut-video", "bad-yaml"))
    # The rest finished as if alone; nothing of the failed ones is left half-written.
    for session in recorded.sessions:
        assert same_outputs(recorded.replays[session.name], out / rows[session.name]["out"]) == []
    assert not (out / rows["bad-gaze"]["out"]).exists()
    assert not list(out.glob("sessions/**/*.part-*"))


def test_a_worker_killed_mid_task_is_rescheduled_with_the_same_outputs(
    recorded: Recorded, dask_cluster, metrics_alone: Path, tmp_path: Path
) -> None:
    from distributed import Client

    out = tmp_path / "out"
    batch = subprocess.Popen(
        [
            str(BIN / "gazefusion"),
            "batch",
            *map(str, recorded.sessions),
            "--out",
            str(out),
            "--scheduler",
            dask_cluster.address,
            "--sweep",
            "aoi.size_deg=3,4.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    killed: list[int] = []
    with Client(dask_cluster.address) as client:
        pids = client.run(os.getpid)

        def kill_one_mid_task() -> bool:
            for worker, keys in client.processing().items():
                running = [key for key in keys if str(key).startswith("gazefusion-replay-")]
                if running and worker in pids and list(out.glob("sessions/**/*.part-*")):
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append(pids[worker])
                    return True
            assert batch.poll() is None, "the batch ended before a worker could be killed"
            return False

        wait_until(kill_one_mid_task, timeout_s=120, every_s=0.005)
    stdout, stderr = batch.communicate(timeout=300)
    assert batch.returncode == 0, stderr.decode()
    rows = _rows(out)
    assert len(rows) == 6 and all(row["status"] == "done" for row in rows.values())
    assert all(not row["worker"].endswith(f":{killed[0]}") for row in rows.values())
    for session in recorded.sessions:
        assert same_outputs(recorded.replays[session.name], out / "sessions" / session.name / "size_deg=4.5") == []
    # The AOI metrics of one parameter set are those of the replays alone, reach among that set's sessions.
    lines = [line.split("\t") for line in (out / "aoi_metrics.tsv").read_text().splitlines()]
    assert lines[0][3] == "aoi.size_deg"
    default = ["\t".join(cells[:3] + cells[4:]) for cells in lines[1:] if cells[3] == "4.5"]
    assert default == metrics_alone.read_text().splitlines()[1:]


def test_an_unreachable_scheduler_is_one_line(recorded: Recorded, tmp_path: Path, capsys) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    argv = [
        "batch",
        str(recorded.sessions[0]),
        "--out",
        str(tmp_path / "out"),
        "--scheduler",
        address,
        "--connect-timeout",
        "2",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"gazefusion: cannot reach the Dask scheduler at {address} within 2 s"
    ), err
    assert not (tmp_path / "out").exists()


def test_an_existing_batch_is_refused_unless_overwrite(
    recorded: Recorded, dask_cluster, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    session = str(recorded.sessions[1])
    engine = ["--scheduler", dask_cluster.address]
    assert main(["batch", session, "--out", str(out), *engine]) == 0
    stamp = (out / "sessions" / "s2" / "batch.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["batch", session, "--out", str(out), *engine]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a batch already: --resume to finish it, --overwrite to replace it" in err[0]
    assert (out / "sessions" / "s2" / "batch.json").stat().st_mtime_ns == stamp
    (out / "notes.txt").write_text("mine")
    assert main(["batch", str(recorded.sessions[2]), "--out", str(out), *engine, "--overwrite"]) == 0
    assert not (out / "sessions" / "s2").exists() and (out / "sessions" / "s3" / "batch.json").exists()
    assert (out / "notes.txt").read_text() == "mine"  # only what the batch wrote is replaced


def test_ctrl_c_stops_the_workers_keeps_what_finished_and_resume_does_the_rest(
    recorded: Recorded, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    argv = [
        str(BIN / "gazefusion"),
        "batch",
        *map(str, recorded.sessions),
        "--out",
        str(out),
        "--workers",
        "2",
        "--sweep",
        "aoi.size_deg=3,4.5",
    ]
    batch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    process = psutil.Process(batch.pid)
    wait_until(lambda: list(out.glob("sessions/*/*/batch.json")) or batch.poll() is not None, timeout_s=180)
    children = process.children(recursive=True)
    assert batch.poll() is None and len(children) >= 2, "the batch finished before Ctrl-C"
    os.killpg(batch.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    stdout, stderr = batch.communicate(timeout=60)
    assert batch.returncode == 130, stderr.decode()
    err = stderr.decode().strip().splitlines()
    assert len(err) == 1 and "interrupted:" in err[0] and "rerun with --resume" in err[0], err
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], f"worker processes left running: {alive}"
    finished = {p.parent.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.glob("sessions/*/*/batch.json")}
    rows = _rows(out)
    assert {o for o, row in rows.items() if row["status"] == "done"} == set(finished)
    assert any(row["status"] == "not run" for row in rows.values())
    assert not list(out.glob("sessions/**/*.part-*"))

    resumed = subprocess.run([*argv, "--resume"], capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert f"{len(finished)} finished before (skipped)" in resumed.stdout.decode()
    for folder, stamp in finished.items():
        assert (out / folder / "batch.json").stat().st_mtime_ns == stamp  # not replayed again
    rows = _rows(out)
    assert len(rows) == 6 and all(row["status"] == "done" for row in rows.values())
    for session in recorded.sessions:
        assert same_outputs(recorded.replays[session.name], out / "sessions" / session.name / "size_deg=4.5") == []
