"""The project-level tables: every session's tables in long format, and the summary of every task.

Each table a replay wrote (``fixations.tsv``, ``looks.tsv``, ``pursuits.tsv`` and any other
its sessions hold) becomes one table in the batch's folder with the columns ``session``,
``participant``, ``condition``, one column per swept key, then the session table's own
columns; its cells are copied as the session's table has them, so a row reads the same in
both. Rows go in the order of the plan (sessions as given, parameter sets in sweep order),
never in the order tasks finished. ``sessions.tsv`` has one row per task: what the session
held, what the replay found, what failed and why. Every table has its JSON sidecar.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gazefusion.fusion.batch.plan import Task
from gazefusion.fusion.batch.task import TaskOutcome
from gazefusion.fusion.files import write_bytes_atomic
from gazefusion.fusion.session import TABLES, Column, Table
from gazefusion.fusion.tables import TableWriter, format_cell

SUMMARY_FILE = "sessions.tsv"
"""The summary table's name in the batch's folder."""

KEY_COLUMNS = (
    Column("session", "The session's name in the batch: its folder below the sessions' common folder"),
    Column("participant", "session.yaml's participant (empty where it names none)"),
    Column("condition", "session.yaml's condition (empty where it names none)"),
)

SUMMARY_COLUMNS = (
    Column("status", "done, failed, or not run (the batch was interrupted first)"),
    Column("reason", "Why the task failed or did not run"),
    Column("samples", "Gaze samples replayed"),
    Column("frames", "Camera frames replayed"),
    Column("fixations", "Fixations found"),
    Column("looks", "Looks found (first, change, end and pursuit looks)"),
    Column("duration_s", "Session time replayed", "s"),
    Column("wall_s", "Wall-clock time of the task", "s"),
    Column("cpu_s", "CPU time of the task's process while it ran", "s"),
    Column("worker", "Where the task ran (host:pid)"),
    Column("problems", "What the session lacks or has cut off, separated by ' | ' (the replay went on past these)"),
    Column("path", "The session folder"),
    Column("out", "The task's output folder, below the batch's folder"),
)


def param_columns(keys: Sequence[str]) -> tuple[Column, ...]:
    """One column per swept key, named by the key."""
    return tuple(Column(key, f"The value of the configuration key {key} in this replay (--sweep)") for key in keys)


def _keys(outcome: TaskOutcome) -> list[Any]:
    return [outcome.task.session, outcome.participant, outcome.condition, *(text for _, text in outcome.task.params)]


def write_summary(out_dir: Path, outcomes: Sequence[TaskOutcome], keys: Sequence[str]) -> Path:
    """sessions.tsv (with sessions.json): one row per task, in plan order."""
    columns = (*KEY_COLUMNS, *param_columns(keys), *SUMMARY_COLUMNS)
    spec = Table(
        SUMMARY_FILE,
        TaskOutcome,
        "One row per replay of the batch: a session under one parameter set.",
        columns,
        None,
        False,
    )
    path = out_dir / SUMMARY_FILE
    with TableWriter(path.with_name(path.name + ".tmp"), spec.names) as writer:
        for o in outcomes:
            writer.write(
                [
                    *_keys(o),
                    o.status,
                    o.reason,
                    o.samples,
                    o.frames,
                    o.fixations,
                    o.looks,
                    round(o.duration_s, 6),
                    round(o.wall_s, 3),
                    round(o.cpu_s, 3),
                    o.worker,
                    " | ".join(o.problems),
                    o.task.path,
                    o.task.out,
                ]
            )
    os.replace(path.with_name(path.name + ".tmp"), path)
    spec.write_sidecar(out_dir)
    return path


def _table_names(out_dir: Path, done: Sequence[TaskOutcome]) -> list[str]:
    """The tables the finished tasks hold: the declared ones in their order, then any other by name."""
    present: set[str] = set()
    for outcome in done:
        present.update(entry.name for entry in os.scandir(out_dir / outcome.task.out) if entry.name.endswith(".tsv"))
    declared = [name for name in TABLES if name in present]
    return declared + sorted(present - set(declared) - {SUMMARY_FILE})


def _read_header(path: Path) -> tuple[str, ...]:
    with open(path, encoding="utf-8", newline="") as handle:
        return tuple(handle.readline().rstrip("\r\n").split("\t"))


def gather_table(out_dir: Path, name: str, done: Sequence[TaskOutcome], keys: Sequence[str]) -> Path:
    """One project-level table from the finished tasks' copies of `name` (streamed, never held whole).

    The columns are the key columns, then the union of the sessions' headers in order of
    first appearance; a session whose table lacks a column leaves its cells empty.
    """
    sources = [(outcome, out_dir / outcome.task.out / name) for outcome in done]
    sources = [(outcome, path) for outcome, path in sources if path.exists()]
    columns: list[str] = []
    for _, path in sources:
        columns.extend(column for column in _read_header(path) if column not in columns)
    key_names = [column.name for column in KEY_COLUMNS] + list(keys)
    target = out_dir / name
    temporary = target.with_name(target.name + ".tmp")
    with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\t".join([*key_names, *columns]) + "\n")
        for outcome, path in sources:
            prefix = "\t".join(format_cell(value) for value in _keys(outcome)) + "\t"
            with open(path, encoding="utf-8", newline="") as table:
                header = tuple(table.readline().rstrip("\r\n").split("\t"))
                order = None if header == tuple(columns) else [header.index(c) if c in header else -1 for c in columns]
                for line in table:
                    if not line.endswith("\n"):
                        break  # a cut-off last row (the replay closes its tables, so none is expected)
                    if order is None:
                        handle.write(prefix + line)
                    else:
                        cells = line.rstrip("\r\n").split("\t")
                        handle.write(prefix + "\t".join(cells[i] if i >= 0 else "" for i in order) + "\n")
    os.replace(temporary, target)
    _write_sidecar(out_dir, name, sources[0][1] if sources else None, keys)
    return target


def _write_sidecar(out_dir: Path, name: str, session_table: Path | None, keys: Sequence[str]) -> None:
    """The project table's sidecar: the key columns', then the session table's own entries."""
    own: dict[str, Any] = {}
    declared = TABLES.get(name)
    if declared is not None:
        own = declared.sidecar_data()
    elif session_table is not None:
        try:
            own = json.loads(session_table.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            own = {}
    description = str(own.pop("Description", f"The sessions' {name}"))
    data: dict[str, Any] = {
        "Description": f"{description} Gathered from every session of a batch (long format: one row per session's row).",
    }
    for column in (*KEY_COLUMNS, *param_columns(keys)):
        data[column.name] = {"Description": column.description}
    data.update(own)
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_bytes_atomic(out_dir / Path(name).with_suffix(".json").name, text.encode("utf-8"))


def gather(out_dir: Path, outcomes: Sequence[TaskOutcome], keys: Sequence[str]) -> list[Path]:
    """sessions.tsv and every project-level table, from the outcomes in plan order.

    Parameters
    ----------
    out_dir : pathlib.Path
        The batch's folder.
    outcomes : Sequence of TaskOutcome
        Every task's outcome, in plan order (done, failed and not run).
    keys : Sequence of str
        The swept keys, in the order of their columns.

    Returns
    -------
    list of pathlib.Path
        The tables written, sessions.tsv first.
    """
    written = [write_summary(out_dir, outcomes, keys)]
    done = [outcome for outcome in outcomes if outcome.status == "done"]
    for name in _table_names(out_dir, done):
        written.append(gather_table(out_dir, name, done, keys))
    return written


def task_order(tasks: Sequence[Task]) -> dict[str, int]:
    """Each task's place in the plan, by output folder (outcomes are sorted back into it)."""
    return {task.out: i for i, task in enumerate(tasks)}
