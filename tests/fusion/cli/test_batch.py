"""`gazefusion batch` refuses bad input in one line, exit 2, before any work starts (no folder written)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gazefusion.fusion.cli import main


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """Two session-like folders (a session.yaml each), a file, a markers file, a finished batch."""
    library = tmp_path / "lib" / "markers.yaml"
    library.parent.mkdir()
    door = {"id": "door", "aruco": {"dictionary": "DICT_APRILTAG_36h11", "tag": 7}, "width_m": 0.15}
    library.write_text(yaml.safe_dump([door]))
    aois = {"door": [{"name": "top", "rect": [0, 0, 20, 10]}]}
    (tmp_path / "lib" / "aois.yaml").write_text(yaml.safe_dump(aois))
    (tmp_path / "lib" / "poster.yaml").write_text(yaml.safe_dump({"poster": aois["door"]}))
    (tmp_path / "lib" / "wide.yaml").write_text(yaml.safe_dump({"door": [{"name": "w", "rect": [0, 0, 9000, 10]}]}))
    for name, markers in (("s1", {"file": str(library)}), ("s2", {})):
        (tmp_path / "data" / name).mkdir(parents=True)
        (tmp_path / "data" / name / "session.yaml").write_text(
            yaml.safe_dump({"config": {"fixations": {"method": "idt"}, "markers": markers}})
        )
    (tmp_path / "data" / "README.md").write_text("notes")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mine.txt").write_text("mine")
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "batch.yaml").write_text(yaml.safe_dump({"sweep": {"aoi.size_deg": ["3", "4"]}}))
    return tmp_path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["{t}/nowhere/*"], "'{t}/nowhere/*' matches no folder", id="glob-matches-nothing"),
        pytest.param(["{t}/data/*.md"], "matches no folder", id="glob-matches-only-files"),
        pytest.param(["{t}/data/s1", "{t}/data/*"], "is named twice", id="same-session-twice"),
        pytest.param(["{t}/data/s1", "{t}/data/s1/"], "is named twice", id="same-session-spelt-twice"),
        pytest.param(["{t}/data/s9"], "session folder not found: {t}/data/s9", id="no-such-folder"),
        pytest.param(["{t}/data/README.md"], "is not a folder: a session is a folder", id="a-file"),
        pytest.param(
            ["{t}/data/*", "--sweep", "aoi.sise_deg=3,4"], "aoi.sise_deg: unknown key", id="sweep-no-such-key"
        ),
        pytest.param(
            ["{t}/data/*", "--sweep", "aoi.size_deg=3,big"], "'big' is not valid: expected", id="sweep-wrong-type"
        ),
        pytest.param(
            ["{t}/data/*", "--sweep", "aoi.size_deg=0"],
            "expected input should be greater than 0",
            id="sweep-out-of-range",
        ),
        pytest.param(
            ["{t}/data/*", "--sweep", "fixations.params.velocity_threshold_deg_s=20"],
            "(session s1): fixation method 'idt' has no parameter 'velocity_threshold_deg_s'",
            id="sweep-param-the-sessions-method-lacks",
        ),
        pytest.param(
            ["{t}/data/*", "--sweep", "fixations.method=ivt,fast"],
            "unknown fixation method 'fast'",
            id="sweep-bad-method",
        ),
        pytest.param(
            ["{t}/data/*", "--sweep", "camera.source=x"], "not a key a replay reads", id="sweep-key-replay-ignores"
        ),
        pytest.param(["{t}/data/*", "--sweep", "aoi.size_deg"], "expected KEY=VALUE[,VALUE...]", id="sweep-no-values"),
        pytest.param(["{t}/data/*", "--sweep", "aoi.size_deg=3,"], "no empty values", id="sweep-empty-value"),
        pytest.param(
            ["{t}/data/*", "--sweep", "aoi.size_deg=3,3"], "the value 3 is listed twice", id="sweep-repeated-value"
        ),
        pytest.param(
            ["{t}/data/*", "--sweep", "aoi.size_deg=3", "--sweep", "aoi.size_deg=4"],
            "is given twice",
            id="sweep-key-twice",
        ),
        pytest.param(
            ["{t}/data/*", "--sweep", "markers.file={t}/none.yaml"], "file not found", id="sweep-missing-file"
        ),
        pytest.param(["{t}/data/*", "--sweep", "=3,4"], "expected KEY=VALUE[,VALUE...]", id="sweep-no-key"),
        pytest.param(["{t}/data/*", "--sweep", "aoi.size_deg:3"], "expected KEY=VALUE[,VALUE...]", id="sweep-colon"),
        pytest.param(["{t}/data/*", "--sweep", "aoi=3"], "--sweep aoi is a section, not a value", id="sweep-a-section"),
        pytest.param(
            ["{t}/data/*", "--sweep", "fixations.params=3"],
            "--sweep fixations.params is a section",
            id="sweep-a-mapping",
        ),
        pytest.param(
            ["{t}/data/*", "--sweep", "fixations.params.no_such_param=3"],
            "has no parameter 'no_such_param'",
            id="sweep-unknown-detector-param",
        ),
        pytest.param(["{t}/data/*", "--workers", "0"], "--workers 0: expected a whole number >= 1", id="no-workers"),
        pytest.param(
            ["{t}/data/*", "--workers", "two"], "argument --workers: invalid int value", id="workers-not-a-number"
        ),
        pytest.param(
            ["{t}/data/*", "--margin-deg", "-1"],
            "--margin-deg -1: expected a number of degrees >= 0",
            id="negative-margin",
        ),
        pytest.param(["{t}/data/*", "--margin-deg", "nan"], "--margin-deg nan: expected", id="margin-not-a-number"),
        pytest.param(["{t}/data/*", "--aois", "{t}/lib/none.yaml"], "--aois: ", id="aois-missing"),
        pytest.param(["{t}/data/*", "--aois", "{t}/lib/markers.yaml"], "--aois: AOI file", id="aois-not-an-aoi-file"),
        pytest.param(["{t}/data/*", "--aois", "{t}/lib/poster.yaml"], "poster", id="aois-unknown-marker"),
        pytest.param(["{t}/data/*", "--aois", "{t}/lib/wide.yaml"], "--aois: ", id="aoi-outside-the-picture"),
        pytest.param(
            ["{t}/data/s2", "--aois", "{t}/lib/aois.yaml"],
            "none of the sessions has a marker library",
            id="aois-without-a-library",
        ),
        pytest.param(
            ["{t}/data/*", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
            "not allowed with argument",
            id="two-engines",
        ),
        pytest.param(
            ["{t}/data/*", "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "0"],
            "--connect-timeout 0",
            id="no-timeout",
        ),
        pytest.param(
            ["{t}/data/*", "--scheduler", "bogus://x:1"],
            "--scheduler bogus://x:1: not a scheduler address",
            id="bad-address",
        ),
        pytest.param(["{t}/data/*", "--overwrite", "--resume"], "not allowed with argument", id="overwrite-and-resume"),
        pytest.param(["{t}/data/*", "--out", "{t}/data/README.md"], "is a file: name a folder", id="out-is-a-file"),
        pytest.param(
            ["{t}/data/*", "--out", "{t}/other"], "holds other files and no batch", id="out-holds-other-files"
        ),
        pytest.param(
            ["{t}/data/*", "--out", "{t}/data/s1/results"], "is inside the session", id="out-inside-a-session"
        ),
        pytest.param(["{t}/data/*", "--out", "{t}/batch"], "holds a batch already: --resume", id="out-holds-a-batch"),
        pytest.param(
            ["{t}/data/*", "--out", "{t}/batch", "--resume", "--sweep", "aoi.size_deg=3,5"],
            "--resume: ",
            id="resume-with-another-sweep",
        ),
        pytest.param(
            ["{t}/data/*", "--out", "{t}/batch", "--resume", "--sweep", "aoi.size_deg=3,4", "--margin-deg", "2"],
            "resume with the same AOI settings",
            id="resume-with-other-aoi-settings",
        ),
    ],
)
def test_bad_batch_input_ends_with_one_line(folders: Path, args: list[str], expected: str, capsys) -> None:
    argv = [arg.format(t=folders) for arg in args]
    if "--out" not in argv:
        argv += ["--out", str(folders / "out")]
    before = sorted(p.relative_to(folders) for p in folders.rglob("*"))
    assert main(["batch", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gazefusion: ") and expected.format(t=folders) in err[0], err
    assert sorted(p.relative_to(folders) for p in folders.rglob("*")) == before  # nothing written


def test_out_is_required(folders: Path, capsys) -> None:
    assert main(["batch", str(folders / "data" / "s1")]) == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err
