"""One batch task: a session replayed through :func:`gazefusion.fusion.replay.replay_session`, alone.

The task runs wherever its engine puts it (this process, or a Dask worker), writes the
replay's output folder exactly as ``gazefusion replay SESSION --out DIR`` does, and returns
a :class:`TaskOutcome` that is never an exception: a session that cannot be replayed is a
failed outcome with the reason. The folder appears only complete: the replay writes into
``OUT.part-<unique>`` and renames it into place with the outcome inside as ``batch.json``,
so a task killed half-way (its worker died, Ctrl-C) leaves no folder a rerun would take as
done, and a task run twice (Dask reschedules a task whose worker died) ends with one folder.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Literal, NamedTuple

from gazefusion.fusion.analyse import (
    AOI_METRICS,
    load_pictures,
    load_session,
    session_metrics_table,
    write_metrics_table,
)
from gazefusion.fusion.analysis.metrics import add_reach
from gazefusion.fusion.batch.plan import AoiSettings, Task
from gazefusion.fusion.errors import GazefusionError
from gazefusion.fusion.files import read_yaml, write_bytes_atomic
from gazefusion.fusion.replay import replay_session

OUTCOME_FILE = "batch.json"
"""The task's outcome inside its output folder: its presence marks the folder complete."""
PART_SUFFIX = ".part-"
"""A task's folder while it is written (``NAME.part-<unique>``)."""

Status = Literal["done", "failed", "not run"]


class TaskOutcome(NamedTuple):
    """What one task did (one row of the batch's sessions.tsv).

    Attributes
    ----------
    task : Task
        The session, parameters and output folder.
    status : {"done", "failed", "not run"}
        ``not run``: the batch was interrupted before the task finished.
    reason : str
        Why it failed or did not run ("" when done).
    participant, condition : str
        From the session's session.yaml ("" where it names none).
    samples, frames, fixations, looks : int
        What the replay read and found.
    aoi_rows : int
        Rows of the replay's aoi_metrics.tsv (0 without a marker library).
    duration_s : float
        Session time replayed, s.
    wall_s, cpu_s : float
        Wall-clock and CPU time of the task in its process, s.
    worker : str
        Where it ran (``host:pid``).
    problems : tuple of str
        What the session lacks or has cut off (the replay goes on past these).
    """

    task: Task
    status: Status
    reason: str = ""
    participant: str = ""
    condition: str = ""
    samples: int = 0
    frames: int = 0
    fixations: int = 0
    looks: int = 0
    aoi_rows: int = 0
    duration_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    worker: str = ""
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain data for batch.json."""
        data = self._asdict()
        data["task"] = self.task._asdict()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskOutcome:
        """Read back :meth:`to_json`'s data.

        Parameters
        ----------
        data : dict
            What :meth:`to_json` gave (batch.json read back).
        """
        task = data["task"]
        return cls(
            **{
                **data,
                "task": Task(
                    task["session"],
                    task["path"],
                    tuple(tuple(pair) for pair in task["params"]),
                    tuple(tuple(pair) for pair in task["overrides"]),
                    task["out"],
                ),
                "problems": tuple(data.get("problems", ())),
            }
        )


def finished_outcome(out_root: str | Path, task: Task) -> TaskOutcome | None:
    """The outcome of `task` if an earlier run finished it in `out_root` (None otherwise)."""
    path = Path(out_root) / task.out / OUTCOME_FILE
    try:
        outcome = TaskOutcome.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    same = outcome.task.path == task.path and outcome.task.params == task.params
    return outcome if same and outcome.status == "done" else None


def _label(session: str, key: str) -> str:
    """A session.yaml's participant or condition as a cell ("" when absent)."""
    try:
        header = read_yaml(Path(session) / "session.yaml", "session")
    except GazefusionError:
        return ""
    value = header.get(key) if isinstance(header, dict) else None
    return "" if value is None else str(value)


def aoi_metrics(task: Task, folder: Path, settings: AoiSettings) -> tuple[int, tuple[str, ...]]:
    """The replay's aoi_metrics.tsv in its folder, as ``gazefusion metrics`` of that folder alone writes it.

    Returns the number of rows and what kept the metrics from being computed (a session
    without a marker library has none; a session whose metrics fail still has its replay).
    """
    try:
        tables = load_session(folder)._replace(name=task.session)
    except GazefusionError as exc:
        return 0, (f"no AOI metrics: {exc}",)
    try:
        pictures = load_pictures(tables.library, settings.aoi_file)
        rows = add_reach(session_metrics_table(tables, pictures, settings.margin_deg))
        write_metrics_table(folder, rows)
    except GazefusionError as exc:
        (folder / AOI_METRICS.file).unlink(missing_ok=True)
        return 0, (f"no AOI metrics: {exc}",)
    return len(rows), ()


def run_task(task: Task, out_root: str, aois: AoiSettings | None = None) -> TaskOutcome:
    """Replay one session into ``out_root/task.out``, with its AOI metrics; never raises for a bad session.

    Parameters
    ----------
    task : Task
        The session, the parameter set and the output folder.
    out_root : str
        The batch's output folder (on a cluster: a path every worker sees).
    aois : AoiSettings or None
        How the AOI metrics are computed; None: the defaults. (default: None)
    """
    wall_start, cpu_start = time.monotonic(), time.process_time()
    final = Path(out_root) / task.out
    part = final.with_name(f"{final.name}{PART_SUFFIX}{uuid.uuid4().hex[:12]}")
    where = f"{socket.gethostname()}:{os.getpid()}"
    participant, condition = _label(task.path, "participant"), _label(task.path, "condition")
    try:
        result = replay_session(task.path, part, dict(task.overrides), fast=True, workers=1)
    except GazefusionError as exc:
        outcome = TaskOutcome(task, "failed", str(exc), participant, condition)
    except Exception as exc:  # a session damaged in a way the reader does not name: still only its row fails
        outcome = TaskOutcome(task, "failed", f"{type(exc).__name__}: {exc}", participant, condition)
    else:
        aoi_rows, lacking = aoi_metrics(task, part, aois or AoiSettings())
        outcome = TaskOutcome(
            task,
            "done",
            "",
            participant,
            condition,
            samples=result.samples,
            frames=result.frames,
            fixations=result.fixations,
            looks=result.looks,
            aoi_rows=aoi_rows,
            duration_s=result.duration_s,
            problems=result.problems + lacking,
        )
    outcome = outcome._replace(
        wall_s=time.monotonic() - wall_start, cpu_s=time.process_time() - cpu_start, worker=where
    )
    if outcome.status != "done":
        shutil.rmtree(part, ignore_errors=True)
        return outcome
    write_bytes_atomic(part / OUTCOME_FILE, (json.dumps(outcome.to_json(), indent=1) + "\n").encode("utf-8"))
    try:
        part.rename(final)
    except OSError:
        # The same task ran twice (its first worker was thought dead) and the other copy is in
        # place: the replay is deterministic, so either folder is the same.
        shutil.rmtree(part, ignore_errors=True)
    return outcome
