"""The project-level tables: every session's tables in long format, and the summary of every task.

Each table a replay wrote (``fixations.tsv``, ``looks.tsv``, ``pursuits.tsv``,
``gaze_on_markers.tsv``, ``fixations_on_markers.tsv``, ``marker_positions.tsv`` and any other
its sessions hold) becomes one table in the batch's folder with the columns ``session``,
``participant``, ``condition``, one column per swept key, then the session table's own
columns; its cells are copied as the session's table has them, so a row reads the same in
both. ``aoi_metrics.tsv`` gathers each replay's AOI metrics the same way, with ``reach``
computed across the sessions of each parameter set. Rows go in the order of the plan (sessions as given, parameter sets in sweep order),
never in the order tasks finished. ``sessions.tsv`` has one row per task: what the session
held, what the replay found, what failed and why. Every table has its JSON sidecar.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from gazefusion.fusion.analyse import AOI_METRICS
from gazefusion.fusion.analysis.metrics import add_reach
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
    Column(
        "aoi_rows", "Rows of the replay's aoi_metrics.tsv (0: no marker library, or the metrics failed: see problems)"
    ),
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
                    o.aoi_rows,
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
    return declared + sorted(present - set(declared) - {SUMMARY_FILE, AOI_METRICS.file})


def gather_aoi_metrics(out_dir: Path, done: Sequence[TaskOutcome], keys: Sequence[str]) -> Path | None:
    """aoi_metrics.tsv across the sessions, reach recomputed per parameter set (None: no session has one).

    Each session's rows are its own aoi_metrics.tsv (``gazefusion metrics`` of its replay
    alone), cells as written, under the batch's key and parameter columns; ``reach`` is the
    share of the parameter set's sessions that fixated the trial's marker and AOI, as
    ``gazefusion metrics`` of those sessions together gives it.
    """
    own = [column for column in AOI_METRICS.names if column not in {c.name for c in KEY_COLUMNS}]
    key_names = [column.name for column in KEY_COLUMNS] + list(keys)
    parts = []
    for outcome in done:
        path = out_dir / outcome.task.out / AOI_METRICS.file
        if outcome.aoi_rows and path.exists():
            rows = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)[own]
            parts.append(rows.assign(**dict(zip(key_names, map(format_cell, _keys(outcome))))))
    if not parts:
        return None
    table = add_reach(pd.concat(parts, ignore_index=True), by=list(keys))
    table["reach"] = table["reach"].map(format_cell)
    target = out_dir / AOI_METRICS.file
    temporary = target.with_name(target.name + ".tmp")
    table[[*key_names, *own]].to_csv(temporary, sep="\t", index=False, lineterminator="\n", quoting=csv.QUOTE_NONE)
    os.replace(temporary, target)
    _write_sidecar(out_dir, AOI_METRICS.file, None, keys)
    return target


def _read_header(path: Path) -> tuple[str, ...]:
    with open(path, encoding="utf-8", newline="") as handle:
        return tuple(handle.readline().rstrip("\r\n").split("\t"))


def _whole_lines(table: TextIO, chunk_chars: int = 1 << 22) -> Iterator[str]:
    """The rest of an open table in chunks of whole lines, each ending in a newline.

    A cut-off last row (no newline: the replay closes its tables, so none is expected) is left out.
    """
    rest = ""
    while chunk := table.read(chunk_chars):
        rest += chunk
        end = rest.rfind("\n") + 1
        if end:
            yield rest[:end]
            rest = rest[end:]


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
                for lines in _whole_lines(table):
                    if order is None:  # the common case, at the speed of str.replace
                        handle.write(prefix + lines[:-1].replace("\n", "\n" + prefix) + "\n")
                        continue
                    for line in lines.splitlines():
                        cells = line.rstrip("\r").split("\t")
                        handle.write(prefix + "\t".join(cells[i] if i >= 0 else "" for i in order) + "\n")
    os.replace(temporary, target)
    _write_sidecar(out_dir, name, sources[0][1] if sources else None, keys)
    return target


def _write_sidecar(out_dir: Path, name: str, session_table: Path | None, keys: Sequence[str]) -> None:
    """The project table's sidecar: the key columns', then the session table's own entries."""
    own: dict[str, Any] = {}
    declared = AOI_METRICS if name == AOI_METRICS.file else TABLES.get(name)
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
    metrics = gather_aoi_metrics(out_dir, done, keys)
    return written if metrics is None else [*written, metrics]


def task_order(tasks: Sequence[Task]) -> dict[str, int]:
    """Each task's place in the plan, by output folder (outcomes are sorted back into it)."""
    return {task.out: i for i, task in enumerate(tasks)}
