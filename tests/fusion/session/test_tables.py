"""The session's tables are declarations: every table gets its JSON sidecar; a new table is one declaration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from gazefusion.fusion.session import TABLES, Column, SessionReader, SessionRecorder, table
from gazefusion.fusion.session.tables import FRAMES, tables_for
from gazefusion.fusion.tables import TableReader
from gazefusion.fusion.types import FixationEvent
from gazefusion.trackers.gazetable import GAZE_COLUMNS
from gazefusion.trackers.types import GazeSample
from tests.fusion.session.test_recorder import CONFIG, record


def test_every_table_has_its_sidecar_describing_every_column(tmp_path: Path) -> None:
    record(tmp_path / "s").close()
    for spec in TABLES.values():
        reader = TableReader(tmp_path / "s" / spec.file)
        reader.close()
        sidecar = json.loads((tmp_path / "s" / spec.sidecar).read_text(encoding="utf-8"))
        assert sidecar["Description"] == spec.description
        assert [name for name in sidecar if name != "Description"] == list(reader.columns) == list(spec.names)
        assert all(sidecar[name]["Description"] for name in spec.names)
    assert json.loads((tmp_path / "s" / "fixations.json").read_text())["dispersion_deg"]["Units"] == "deg"
    assert json.loads((tmp_path / "s" / "gaze.json").read_text())["t"]["Units"] == "s"


def test_the_declared_columns_are_the_formats(tmp_path: Path) -> None:
    assert TABLES["gaze.tsv"].names == GAZE_COLUMNS
    assert FRAMES.names == ("index", "t", "t_source", "offset", "size", "fed_after")
    assert [spec.file for spec in tables_for(GazeSample)] == ["gaze.tsv"]
    assert [spec.file for spec in tables_for(FixationEvent)] == ["fixations.tsv"]


def test_a_replay_output_has_the_derived_tables_only(tmp_path: Path) -> None:
    SessionRecorder(tmp_path / "out", CONFIG, media=False).close()
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    derived = ("fixations", "looks", "pursuits", "gaze_on_markers", "fixations_on_markers", "marker_positions")
    assert names == sorted(
        ["events.jsonl", "session.yaml", *(f"{n}.{ext}" for n in derived for ext in ("tsv", "json"))]
    )


class Blink(NamedTuple):
    t: float
    duration_s: float


@pytest.fixture
def blinks_table():
    @table("blinks.tsv", Blink, "Every blink.", [Column("t", "Start", "s"), Column("duration_s", "Length", "s")])
    def blink_row(blink: Blink) -> list[float]:
        return [blink.t, blink.duration_s]

    yield TABLES["blinks.tsv"]
    del TABLES["blinks.tsv"]


def test_a_new_table_is_one_declaration(tmp_path: Path, blinks_table) -> None:
    recorder = SessionRecorder(tmp_path / "s", CONFIG)
    recorder.write(Blink(100.5, 0.12))
    recorder.write(Blink(101.0, 0.2))
    recorder.close()
    rows = SessionReader(tmp_path / "s").table("blinks.tsv")
    assert rows == [{"t": "100.5", "duration_s": "0.12"}, {"t": "101.0", "duration_s": "0.2"}]
    sidecar = json.loads((tmp_path / "s" / "blinks.json").read_text())
    assert sidecar == {
        "Description": "Every blink.",
        "t": {"Description": "Start", "Units": "s"},
        "duration_s": {"Description": "Length", "Units": "s"},
    }
