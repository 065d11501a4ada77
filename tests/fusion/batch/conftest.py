"""Recorded demo sessions at different seeds, their replays one by one, and a real Dask cluster on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from gazefusion.fusion.cli import main
from gazefusion.fusion.tables import TableReader
from tests.conftest import free_port, wait_for_tcp

SEEDS = (1, 2, 3)
LABELS = {1: ("p01", "A"), 2: ("p02", "B")}  # s3's session.yaml names neither
SESSION_SECONDS = 4.0
BIN = Path(sys.executable).parent


class Recorded(NamedTuple):
    """Demo sessions (``root/s1`` ...) and each one's ``gazefusion replay --out`` folder (``replays/s1`` ...)."""

    root: Path
    sessions: list[Path]
    replays: dict[str, Path]


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Three demo sessions recorded at once (seeds 1-3), with participant and condition in two of them."""
    root = tmp_path_factory.mktemp("recorded")
    runs = [
        subprocess.Popen(
            [
                str(BIN / "gazefusion"),
                "demo",
                "--headless",
                "--seconds",
                str(SESSION_SECONDS),
                "--seed",
                str(seed),
                "--out",
                str(root / "sessions" / f"s{seed}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for seed in SEEDS
    ]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode(errors="replace")
    sessions = [root / "sessions" / f"s{seed}" for seed in SEEDS]
    for seed, (participant, condition) in LABELS.items():
        path = sessions[seed - 1] / "session.yaml"
        header = yaml.safe_load(path.read_text())
        labels = {"participant": participant, "condition": condition}
        header["config"]["record"].update(labels)  # as `gazefusion run --participant --condition` records them
        path.write_text(yaml.safe_dump({**header, **labels}))
    _mark_trials(sessions[0])
    replays = {}
    for session in sessions:
        replays[session.name] = root / "replays" / session.name
        assert main(["replay", str(session), "--out", str(replays[session.name]), "--fast", "--quiet-looks"]) == 0
    return Recorded(root, sessions, replays)


def _mark_trials(session: Path) -> None:
    """Two trials in the session's events.jsonl (the AOI metrics have a row per trial)."""
    first_t = float(next(iter(TableReader(session / "gaze.tsv")))["t"])
    marks = (
        ("trial_start", 0.3, "one"),
        ("trial_end", 2.0, "one"),
        ("trial_start", 2.0, "two"),
        ("trial_end", 3.8, "two"),
    )
    with open(session / "events.jsonl", "a", encoding="utf-8") as events:
        for kind, after_s, name in marks:
            events.write(json.dumps({"kind": kind, "t": first_t + after_s, "text": name}) + "\n")


@pytest.fixture(scope="session")
def metrics_alone(recorded: Recorded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`gazefusion metrics` of the three replays together (--no-pictures): its aoi_metrics.tsv."""
    out = tmp_path_factory.mktemp("metrics") / "all"
    assert (
        main(
            ["metrics", *(str(recorded.replays[s.name]) for s in recorded.sessions), "--out", str(out), "--no-pictures"]
        )
        == 0
    )
    return out / "aoi_metrics.tsv"


def same_outputs(one: Path, other: Path) -> list[str]:
    """The files of a replay's folder that differ between two folders (session.yaml holds times: left out)."""
    names = sorted(p.name for p in one.iterdir() if p.suffix in (".tsv", ".json", ".jsonl") and p.name != "batch.json")
    assert names, one
    return [name for name in names if (one / name).read_bytes() != (other / name).read_bytes()]


class DaskCluster(NamedTuple):
    """A `dask scheduler` and a `dask worker` process (two worker processes, one thread each) on loopback."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """Started once; a worker a test kills is restarted by its nanny."""
    tmp_path = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ)
    log = open(tmp_path / "dask.log", "wb")
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=log,
        stderr=log,
        env=env,
        cwd=tmp_path,
    )
    workers = None
    try:
        wait_for_tcp(port, timeout_s=30)
        workers = subprocess.Popen(
            [
                str(BIN / "dask"),
                "worker",
                address,
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            ],
            stdout=log,
            stderr=log,
            env=env,
            cwd=tmp_path,
        )
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield DaskCluster(address, scheduler, workers)
    finally:
        for process in (workers, scheduler):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        log.close()


def wait_until(condition, timeout_s: float = 60.0, every_s: float = 0.01) -> None:
    """Poll `condition()` until it is true; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {condition}")
        time.sleep(every_s)


def copy_session(session: Path, to: Path) -> Path:
    """A copy of a session folder (to damage)."""
    shutil.copytree(session, to)
    return to
