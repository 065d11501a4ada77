"""`gazefusion fixations`: tables in, fixations out, and every bad input with one clear line."""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import pytest

from gazefusion.fusion.cli import main
from gazefusion.fusion.cli.fixations import EVENT_COLUMNS, FIXATIONS
from gazefusion.fusion.fixations import make_detector
from gazefusion.fusion.tables import TableReader
from gazefusion.fusion.types import FixationEvent
from gazefusion.trackers.script import ScriptedGaze

from .synthetic import LUND_SCREEN, make_gaze

SIDECAR = {
    "sampling_rate_hz": 500.0,
    "screen_px": [1024, 768],
    "screen_mm": [380.0, 300.0],
    "viewing_distance_mm": 670.0,
}


def write_gaze(
    path: Path, rows: list[tuple[object, ...]], header: str = "t\tx\ty\tpupil", sidecar: bool = True
) -> Path:
    lines = [header] + ["\t".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    if sidecar:
        path.with_suffix(".json").write_text(json.dumps(SIDECAR))
    return path


def synthetic_rows(t0: float = 0.0, seed: int = 2) -> tuple[list[tuple[object, ...]], list[tuple[float, float]]]:
    gaze = make_gaze(seed=seed)
    rows = [
        (repr(t0 + t), repr(x), repr(y), "3.5") for t, x, y in zip(gaze.t.tolist(), gaze.x.tolist(), gaze.y.tolist())
    ]
    return rows, [(t0 + a, t0 + b) for a, b in gaze.fixations]


def read_table(path: Path) -> list[dict[str, str]]:
    reader = TableReader(path, required=FIXATIONS.names)
    assert (
        reader.columns
        == FIXATIONS.names
        == ("id", "onset", "offset", "duration", "x", "y", "cam_x", "cam_y", "dispersion_deg", "n_samples")
    )
    return list(reader)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gazefusion: ")
    return err[0]


@pytest.mark.parametrize("method", ["ivt", "idt", "ivdt"])
def test_writes_the_fixations_table_on_the_input_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str
) -> None:
    rows, truth = synthetic_rows(t0=5000.0)
    gaze = write_gaze(tmp_path / "gaze.tsv", rows)
    out = tmp_path / "fixations.tsv"
    assert main(["fixations", str(gaze), "--out", str(out), "--method", method]) == 0
    table = read_table(out)
    assert len(table) == len(truth)
    for row, (onset, offset) in zip(table, truth):
        assert abs(float(row["onset"]) - onset) < 0.02 and abs(float(row["offset"]) - offset) < 0.02
        assert math.isnan(float(row["cam_x"])) and float(row["dispersion_deg"]) > 0 and int(row["n_samples"]) > 30
    assert [int(row["id"]) for row in table] == list(range(1, len(truth) + 1))
    summary = capsys.readouterr().out.strip().splitlines()
    assert len(summary) == 1 and summary[0].startswith(f"{len(truth)} fixations") and method in summary[0]


def test_geometry_from_flags_overrides_the_sidecar(tmp_path: Path) -> None:
    rows, truth = synthetic_rows()
    gaze = write_gaze(tmp_path / "gaze.tsv", rows)
    out_sidecar, out_flags = tmp_path / "a.tsv", tmp_path / "b.tsv"
    assert main(["fixations", str(gaze), "--out", str(out_sidecar)]) == 0
    # A screen four times as far away: every movement is a quarter of the angle.
    assert (
        main(
            [
                "fixations",
                str(gaze),
                "--out",
                str(out_flags),
                "--screen-px",
                "1024x768",
                "--screen-mm",
                "380x300",
                "--distance-mm",
                "2680",
            ]
        )
        == 0
    )
    near, far = read_table(out_sidecar), read_table(out_flags)
    assert len(near) == len(truth)
    assert float(far[0]["dispersion_deg"]) < 0.5 * float(near[0]["dispersion_deg"])


def test_param_flag_reaches_the_detector(tmp_path: Path) -> None:
    rows, truth = synthetic_rows()
    gaze = write_gaze(tmp_path / "gaze.tsv", rows)
    out = tmp_path / "f.tsv"
    assert main(["fixations", str(gaze), "--out", str(out), "--param", "min_duration_s=10"]) == 0
    assert read_table(out) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--param", "bogus=1"], "no parameter 'bogus'; known: "),
        (["--param", "min_duration_s"], "expected KEY=VALUE"),
        (["--param", "min_duration_s=fast"], "'fast' is not a number"),
        (["--screen-px", "1024by768"], "--screen-px: expected WxH"),
        (["--distance-mm", "-3"], "distance_mm must be a positive number"),
        (["--method", "ihmm"], "invalid choice: 'ihmm'"),
    ],
    ids=[
        "unknown-param",
        "param-without-value",
        "param-not-number",
        "bad-screen-px",
        "negative-distance",
        "unknown-method",
    ],
)
def test_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    rows, _ = synthetic_rows()
    gaze = write_gaze(tmp_path / "gaze.tsv", rows)
    assert main(["fixations", str(gaze), "--out", str(tmp_path / "f.tsv"), *args]) == 2
    assert expected in one_error_line(capsys)


def test_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gaze = tmp_path / "gaze.tsv"
    gaze.write_text("")
    assert main(["fixations", str(gaze), "--out", str(tmp_path / "f.tsv")]) == 2
    assert "is empty" in one_error_line(capsys)


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fixations", str(tmp_path / "nope.tsv"), "--out", str(tmp_path / "f.tsv")]) == 2
    assert "file not found" in one_error_line(capsys)


def test_missing_columns_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gaze = write_gaze(tmp_path / "gaze.tsv", [("0.0", "1.0")], header="t\tgaze_x")
    assert main(["fixations", str(gaze), "--out", str(tmp_path / "f.tsv")]) == 2
    line = one_error_line(capsys)
    assert "lacks the column(s) x, y" in line


@pytest.mark.parametrize(
    ("cell", "column"),
    [((1, "abc"), "x"), ((0, "1.2.3"), "t"), ((0, ""), "t")],
    ids=["text-in-x", "bad-number-in-t", "empty-t"],
)
def test_non_numeric_cells_name_the_column_and_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cell: tuple[int, str], column: str
) -> None:
    rows, _ = synthetic_rows()
    rows = [list(row) for row in rows]
    rows[41][cell[0]] = cell[1]
    gaze = write_gaze(tmp_path / "gaze.tsv", [tuple(row) for row in rows])
    assert main(["fixations", str(gaze), "--out", str(tmp_path / "f.tsv")]) == 2
    line = one_error_line(capsys)
    assert f"column {column}" in line and "data row 42" in line


def test_backwards_and_repeated_timestamps_are_skipped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, truth = synthetic_rows()
    clean = write_gaze(tmp_path / "clean.tsv", rows)
    messy_rows = list(rows)
    messy_rows.insert(100, (rows[99][0], "0", "0", "1"))  # repeats row 100's t
    messy_rows.insert(300, ("0.1", "900", "700", "1"))  # goes back in time
    messy = write_gaze(tmp_path / "messy.tsv", messy_rows)
    assert main(["fixations", str(clean), "--out", str(tmp_path / "clean_f.tsv")]) == 0
    capsys.readouterr()
    assert main(["fixations", str(messy), "--out", str(tmp_path / "messy_f.tsv")]) == 0
    captured = capsys.readouterr()
    assert (
        captured.err.strip() == "gazefusion: warning: skipped 2 row(s) whose t did not increase (first: data row 101)"
    )
    assert read_table(tmp_path / "messy_f.tsv") == read_table(tmp_path / "clean_f.tsv")
    assert len(read_table(tmp_path / "clean_f.tsv")) == len(truth)


def test_all_samples_invalid_gives_no_fixations_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(f"{i / 500!r}", "nan", "nan", "1") for i in range(2000)]
    gaze = write_gaze(tmp_path / "gaze.tsv", rows)
    out = tmp_path / "f.tsv"
    assert main(["fixations", str(gaze), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert (
        captured.err.strip()
        == f"gazefusion: warning: no valid samples in {gaze} (2000 row(s), all invalid): no fixations"
    )
    assert captured.out.startswith("0 fixations")
    assert read_table(out) == []


def test_valid_column_marks_lost_samples(tmp_path: Path) -> None:
    # The gaze table of a session has a valid column; lost samples read 0, 0 there.
    rows = [(f"{i / 500!r}", "0", "0", "0") for i in range(1000)]
    gaze = write_gaze(tmp_path / "gaze.tsv", rows, header="t\tx\ty\tvalid")
    out = tmp_path / "f.tsv"
    assert main(["fixations", str(gaze), "--out", str(out)]) == 0
    assert read_table(out) == []


@pytest.mark.parametrize("rows", [[("0.0", "512", "384", "1")], []], ids=["single-sample", "header-only"])
def test_too_few_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[tuple[str, ...]]) -> None:
    gaze = write_gaze(tmp_path / "gaze.tsv", rows)
    out = tmp_path / "f.tsv"
    assert main(["fixations", str(gaze), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"0 fixations (mean 0 ms) from {len(rows)} samples")
    assert read_table(out) == []


def test_geometry_from_the_configuration_without_sidecar(tmp_path: Path) -> None:
    rows, truth = synthetic_rows()
    gaze = write_gaze(tmp_path / "gaze.tsv", rows, sidecar=False)
    config = tmp_path / "config.yaml"
    config.write_text("screen:\n  size_px: [1024, 768]\n  size_mm: [380.0, 300.0]\n  distance_mm: 670.0\n")
    out = tmp_path / "f.tsv"
    assert main(["fixations", str(gaze), "--out", str(out), "--config", str(config)]) == 0
    assert len(read_table(out)) == len(truth)


def _peak_bytes(path: Path, out: Path) -> int:
    tracemalloc.start()
    try:
        assert main(["-q", "fixations", str(path), "--out", str(out)]) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_huge_file_is_streamed_with_bounded_memory(tmp_path: Path) -> None:
    # Memory must not grow with the file: four times the rows, about the same peak.
    # (tracemalloc slows Python some twentyfold, so the files stay moderate.)
    gaze = make_gaze(seed=13, n_fixations=10)
    block_s = float(gaze.t[-1]) + 0.002
    block = list(zip(gaze.t.tolist(), gaze.x.tolist(), gaze.y.tolist()))
    peaks, sizes = [], []
    for n_rows in (6_000, 24_000):
        path = tmp_path / f"gaze{n_rows}.tsv"
        path.with_suffix(".json").write_text(json.dumps(SIDECAR))
        with open(path, "w") as handle:
            handle.write("t\tx\ty\n")
            for k in range(n_rows // len(block) + 1):
                handle.write("".join(f"{t + k * block_s:.4f}\t{x:.2f}\t{y:.2f}\n" for t, x, y in block))
        sizes.append(path.stat().st_size)
        out = tmp_path / f"f{n_rows}.tsv"
        peaks.append(_peak_bytes(path, out))
        assert len(read_table(out)) >= 9 * (n_rows // len(block))
    assert sizes[1] > 3.5 * sizes[0]
    # A file loaded whole would add at least its size (as text) between the two runs.
    assert peaks[1] - peaks[0] < 0.1 * (sizes[1] - sizes[0])


def test_events_all_writes_every_event_as_the_online_detector_gives_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = ScriptedGaze(LUND_SCREEN, seed=3, pursuit_probability=0.5, blink_probability=0.2, pso_deg=0.3)
    rows, online = [], []
    detector = make_detector("ivdt", LUND_SCREEN)
    for k in range(15 * 500):
        t = k / 500
        x, y, valid = script(t)
        rows.append((repr(t), repr(x) if valid else "nan", repr(y) if valid else "nan", "3.5"))
        online += detector.push(t, x, y, valid)
    online += detector.flush()
    gaze = write_gaze(tmp_path / "gaze.tsv", rows)
    out = tmp_path / "events.tsv"
    assert main(["fixations", str(gaze), "--out", str(out), "--events", "all"]) == 0
    reader = TableReader(out)
    assert reader.columns == EVENT_COLUMNS
    table = list(reader)
    # Offline (the command) and online (pushed one by one) give the same events.
    ends = [e for e in online if e.kind == "end"]
    assert len(table) == len(ends)
    for row, event in zip(table, ends):
        item = event.fixation if isinstance(event, FixationEvent) else event.movement
        kind = "fixation" if isinstance(event, FixationEvent) else event.movement.kind
        assert row["kind"] == kind and float(row["onset"]) == item.onset and float(row["offset"]) == item.offset
    kinds = {row["kind"] for row in table}
    assert {"fixation", "saccade", "pursuit", "blink"} <= kinds
    summary = capsys.readouterr().out.strip()
    assert "pursuits" in summary and "saccades" in summary and "blinks" in summary
