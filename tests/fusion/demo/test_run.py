"""The demo end to end: real MJPEG over loopback HTTP, the iViewX simulator over loopback UDP,
the same runner as `gazefusion run`; positions against the scene's truth; replay accepts it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from gazefusion.fusion.cli import main
from gazefusion.fusion.config import load_config
from gazefusion.fusion.demo.run import DEMO_CONFIG, DemoResult, demo_config, run_demo
from gazefusion.fusion.demo.truth import TRUTH_COLUMNS
from gazefusion.fusion.tables import TableReader

CONFIG_FILE = Path(__file__).resolve().parents[3] / "config" / "demo.yaml"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return run_demo(tmp_path_factory.mktemp("demo") / "session", seconds=6.0, headless=True, echo=None)


@pytest.mark.slow
def test_demo_reports_the_markers_where_they_are(demo_run: DemoResult) -> None:
    summary = demo_run.summary
    looked_at = [m for m in summary.markers if m.mean_position_m is not None]
    assert len(looked_at) >= 3
    for marker in looked_at:
        assert marker.error_percent < 3.0, marker
    assert summary.fixations >= 5
    assert summary.fraction_on_markers > 0.5
    assert summary.agreement > 0.7
    first_looks = [look for look in demo_run.looks if not math.isnan(look.latency_s)]
    assert first_looks and all(look.latency_s >= 0 for look in first_looks)


def test_every_frame_is_accounted_for(demo_run: DemoResult) -> None:
    camera, runner = demo_run.camera, demo_run.runner
    assert camera is not None and camera.corrupt == 0
    assert runner["samples"] > 0 and runner["frames"] > 0
    # Nothing invented: the camera decoded at most what the server sent, and the core took at
    # most what the camera decoded (the rest arrived while the run stopped, or was dropped).
    assert camera.frames + camera.skipped <= demo_run.server.parts_sent
    taken = runner["frames"] + runner["frames_skipped"]
    assert taken + camera.tap_dropped <= camera.frames
    # Nothing lost silently: every frame the core took, searched or skipped, is in the recording.
    recorded = list(TableReader(demo_run.session_dir / "frames.tsv"))
    assert len(recorded) == taken
    assert sum(1 for row in recorded if row["fed_after"] == "-1") == runner["frames_skipped"]


@pytest.mark.slow
def test_session_holds_the_truth_and_replays(demo_run: DemoResult, tmp_path: Path) -> None:
    session = demo_run.session_dir
    for name in (
        "session.yaml",
        "gaze.tsv",
        "video.mjpeg",
        "frames.tsv",
        "fixations.tsv",
        "looks.tsv",
        "truth.tsv",
        "scene.yaml",
        "scene/markers.yaml",
        "scene/intrinsics.yaml",
    ):
        assert (session / name).is_file(), name
    header = yaml.safe_load((session / "session.yaml").read_text())
    assert [m["id"] for m in header["demo"]["markers"]] == ["poster", "book", "sign", "photo", "map", "door"]
    assert header["demo"]["markers"][-1]["aruco"] == {"dictionary": "DICT_APRILTAG_36h11", "tag": 7}
    rows = list(TableReader(session / "truth.tsv", TRUTH_COLUMNS))
    assert len(rows) == 6 * demo_run.server.rendered
    assert main(["replay", str(session), "--out", str(tmp_path / "replay"), "--fast", "--quiet-looks"]) == 0
    replayed = list(TableReader(tmp_path / "replay" / "looks.tsv"))
    recorded = list(TableReader(session / "looks.tsv"))
    assert [row["marker"] for row in replayed] == [row["marker"] for row in recorded]


def test_shipped_demo_yaml_is_the_demo_configuration() -> None:
    assert load_config(CONFIG_FILE) == demo_config()
    assert yaml.safe_load(CONFIG_FILE.read_text()) == DEMO_CONFIG


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(["--seconds", "0"], "--seconds must be positive", id="zero-seconds"),
        pytest.param(["--config", "/nonexistent/demo.yaml"], "configuration file not found", id="missing-config"),
        pytest.param(["--seconds", "soon"], "invalid float value", id="bad-seconds"),
    ],
)
def test_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    code = main(["demo", "--headless", "--out", str(tmp_path / "s"), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert expected in err and len(err.splitlines()) == 1


def test_an_existing_session_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "session.yaml").write_text("{}\n")
    assert main(["demo", "--headless", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already holds a session" in err and len(err.splitlines()) == 1


def test_an_output_folder_that_cannot_be_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("in the way")
    assert main(["demo", "--headless", "--out", str(tmp_path / "file" / "session")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot write the demo's files" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_cli_prints_looks_and_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--headless", "--seconds", "3", "--out", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("demo: camera http://127.0.0.1:")
    assert "summary: " in out and "marker    fix  dwell s" in out
    for marker_id in ("poster", "book", "sign", "photo", "map"):
        assert f"\n{marker_id} " in out
    assert f"session: {tmp_path / 's'}" in out
