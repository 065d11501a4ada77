"""Gathering: the sessions' rows in plan order, cells as the sessions wrote them, headers merged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazefusion.fusion.batch.gather import _whole_lines, gather
from gazefusion.fusion.batch.plan import Task
from gazefusion.fusion.batch.task import TaskOutcome
from gazefusion.fusion.tables import TableReader


def _outcome(out_dir: Path, name: str, status: str, tables: dict[str, str], participant: str = "") -> TaskOutcome:
    task = Task(name, f"/data/{name}", (("aoi.size_deg", "4.5"),), (("aoi.size_deg", 4.5),), f"sessions/{name}")
    folder = out_dir / task.out
    folder.mkdir(parents=True)
    for file, text in tables.items():
        (folder / file).write_text(text)
    return TaskOutcome(task, status, "" if status == "done" else "broken", participant, "")  # type: ignore[arg-type]


def test_rows_in_plan_order_with_key_and_parameter_columns(tmp_path: Path) -> None:
    b = _outcome(tmp_path, "b", "done", {"fixations.tsv": "id\tx\n1\t0.1\n2\tnan\n"}, participant="p2")
    a = _outcome(tmp_path, "a", "done", {"fixations.tsv": "id\tx\n1\t1e-07\n"})
    c = _outcome(tmp_path, "c", "failed", {"fixations.tsv": "id\tx\n9\t9\n"})
    written = gather(tmp_path, [b, a, c], ["aoi.size_deg"])
    assert [p.name for p in written] == ["sessions.tsv", "fixations.tsv"]
    assert (tmp_path / "fixations.tsv").read_text() == (
        "session\tparticipant\tcondition\taoi.size_deg\tid\tx\n"
        "b\tp2\t\t4.5\t1\t0.1\n"
        "b\tp2\t\t4.5\t2\tnan\n"
        "a\t\t\t4.5\t1\t1e-07\n"
    )
    summary = list(TableReader(tmp_path / "sessions.tsv"))
    assert [(r["session"], r["status"], r["reason"]) for r in summary] == [
        ("b", "done", ""),
        ("a", "done", ""),
        ("c", "failed", "broken"),
    ]
    sidecar = json.loads((tmp_path / "fixations.json").read_text())
    assert list(sidecar)[:5] == ["Description", "session", "participant", "condition", "aoi.size_deg"]
    assert sidecar["onset"]["Units"] == "s"  # the declared table's own columns follow


def test_headers_that_differ_are_merged_by_name(tmp_path: Path) -> None:
    a = _outcome(tmp_path, "a", "done", {"extra.tsv": "u\tv\n1\t2\n"})
    b = _outcome(tmp_path, "b", "done", {"extra.tsv": "v\tw\n3\t4\n"})
    (tmp_path / "sessions" / "a" / "extra.json").write_text(
        json.dumps({"Description": "Extra rows.", "u": {"Description": "U"}})
    )
    gather(tmp_path, [a, b], ["aoi.size_deg"])
    rows = list(TableReader(tmp_path / "extra.tsv"))
    assert [(r["u"], r["v"], r["w"]) for r in rows] == [("1", "2", ""), ("", "3", "4")]
    assert json.loads((tmp_path / "extra.json").read_text())["u"] == {"Description": "U"}


@pytest.mark.parametrize("chunk_chars", [1, 3, 4096], ids=["one-char", "mid-line", "whole"])
def test_rows_are_copied_in_whole_lines_and_a_cut_off_row_is_left_out(tmp_path: Path, chunk_chars: int) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\t1\nbb\t2\nccc\t3\ncut")
    with open(path, encoding="utf-8", newline="") as table:
        chunks = list(_whole_lines(table, chunk_chars))
    assert "".join(chunks) == "a\t1\nbb\t2\nccc\t3\n" and all(chunk.endswith("\n") for chunk in chunks)
    done = _outcome(tmp_path, "a", "done", {"x.tsv": "k\tv\n1\t2\n3\t4\n5\t"})
    gather(tmp_path, [done], ["aoi.size_deg"])
    assert (tmp_path / "x.tsv").read_text().splitlines()[1:] == ["a\t\t\t4.5\t1\t2", "a\t\t\t4.5\t3\t4"]
