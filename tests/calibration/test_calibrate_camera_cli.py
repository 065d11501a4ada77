"""`gazefusion calibrate camera --images`: the whole command, its file, and every bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from gazefusion.calibration.intrinsics import load_intrinsics
from gazefusion.fusion.cli import main
from tests.calibration.chessboards import TRUE_MATRIX, random_poses, render_chessboard
from tests.calibration.conftest import BOARD, SQUARE_MM


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["calibrate", "camera", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _copy_views(rendered_views, folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path, _ in rendered_views[:count]:
        shutil.copy(path, folder / path.name)
    return folder


def test_calibrates_and_writes_the_design_yaml(rendered_views, tmp_path: Path, capsys) -> None:
    folder = rendered_views[0][0].parent
    out = tmp_path / "camera.yaml"
    code, stdout, stderr = _run(
        capsys, "--images", str(folder / "*.png"), "--board", "9x6", "--square-mm", str(SQUARE_MM), "--out", str(out)
    )
    assert code == 0, stderr
    assert "from 15 views (0 rejected, 0 skipped)" in stdout
    assert f"wrote {out}" in stdout
    intrinsics = load_intrinsics(out)
    assert intrinsics.image_size == (640, 480)
    assert intrinsics.camera_matrix[0, 0] == pytest.approx(TRUE_MATRIX[0, 0], rel=0.005)
    data = yaml.safe_load(out.read_text())
    assert data["rms"] == pytest.approx(intrinsics.rms) and data["rms"] < 0.2
    assert data["board"] == {"cols": 9, "rows": 6, "square_mm": SQUARE_MM}
    assert len(data["images"]) == 15 and data["images"][0].endswith("view-00.png")
    assert [item["image"] for item in data["view_errors_px"]] == data["images"]
    assert all(0 < item["rms"] < 0.5 for item in data["view_errors_px"])
    assert data["rejected"] == [] and data["skipped"] == []
    assert data["date"].startswith("20")
    assert not list(tmp_path.glob(".*.tmp"))


def test_json_summary(rendered_views, tmp_path: Path, capsys) -> None:
    folder = _copy_views(rendered_views, tmp_path / "views", 8)
    code, stdout, _ = _run(
        capsys,
        "--images",
        str(folder / "*.png"),
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--out",
        str(tmp_path / "c.yaml"),
        "--json",
    )
    assert code == 0
    summary = json.loads(stdout)
    assert summary["views_used"] == 8
    assert summary["fx"] == pytest.approx(TRUE_MATRIX[0, 0], rel=0.01)
    assert len(summary["dist_coeffs"]) == 5


@pytest.mark.slow
def test_a_view_by_another_lens_is_rejected_and_named(rendered_views, tmp_path: Path, capsys) -> None:
    """One view taken zoomed out (another focal length and distortion) does not fit the others."""
    folder = _copy_views(rendered_views, tmp_path / "views", 10)
    zoomed_matrix = np.array([[430.0, 0.0, 300.0], [0.0, 430.0, 250.0], [0.0, 0.0, 1.0]])
    zoomed_dist = np.array([0.1, 0.0, 0.0, 0.0, 0.0])
    pose = random_poses(
        1, BOARD, SQUARE_MM, seed=42, camera_matrix=zoomed_matrix, dist_coeffs=zoomed_dist, fill_range=(0.5, 0.7)
    )[0]
    zoomed = folder / "zoomed.png"
    cv2.imwrite(
        str(zoomed), render_chessboard(BOARD, SQUARE_MM, pose, camera_matrix=zoomed_matrix, dist_coeffs=zoomed_dist)
    )
    out = tmp_path / "c.yaml"
    code, stdout, stderr = _run(
        capsys, "--images", str(folder / "*.png"), "--board", "9x6", "--square-mm", "25", "--out", str(out)
    )
    assert code == 0, stderr
    assert "from 10 views (1 rejected, 0 skipped)" in stdout
    assert f"rejected {zoomed}" in stdout.splitlines()
    data = yaml.safe_load(out.read_text())
    assert [item["image"] for item in data["rejected"]] == [str(zoomed)]
    assert data["rejected"][0]["rms"] > 0.5
    assert str(zoomed) not in data["images"]
    intrinsics = load_intrinsics(out)
    assert abs(intrinsics.camera_matrix[0, 2] - TRUE_MATRIX[0, 2]) < 2.0
    assert intrinsics.camera_matrix[0, 0] == pytest.approx(TRUE_MATRIX[0, 0], rel=0.005)


def test_unreadable_and_boardless_images_are_skipped_and_named(rendered_views, tmp_path: Path, capsys) -> None:
    folder = _copy_views(rendered_views, tmp_path / "views", 7)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    cv2.imwrite(str(folder / "blank.png"), np.full((480, 640), 128, np.uint8))
    out = tmp_path / "c.yaml"
    code, stdout, stderr = _run(
        capsys, "--images", str(folder / "*.png"), "--board", "9x6", "--square-mm", "25", "--out", str(out)
    )
    assert code == 0, stderr
    assert f"skipped {folder / 'broken.png'}: not a readable image" in stderr
    assert f"skipped {folder / 'blank.png'}: no whole 9x6 chessboard found" in stderr
    assert "from 7 views (0 rejected, 2 skipped)" in stdout
    assert {item["image"] for item in yaml.safe_load(out.read_text())["skipped"]} == {
        str(folder / "broken.png"),
        str(folder / "blank.png"),
    }


def test_views_of_another_size_are_refused_and_named(rendered_views, tmp_path: Path, capsys) -> None:
    folder = _copy_views(rendered_views, tmp_path / "views", 7)
    small = folder / "small.png"
    cv2.imwrite(str(small), cv2.resize(cv2.imread(str(rendered_views[8][0])), (320, 240), interpolation=cv2.INTER_AREA))
    out = tmp_path / "c.yaml"
    code, stdout, stderr = _run(
        capsys, "--images", str(folder / "*.png"), "--board", "9x6", "--square-mm", "25", "--out", str(out)
    )
    assert code == 0, stderr
    assert f"skipped {small}: 320x240, not 640x480 like the others" in stderr
    assert load_intrinsics(out).image_size == (640, 480)


def test_views_split_evenly_between_sizes_are_refused(rendered_views, tmp_path: Path, capsys) -> None:
    folder = _copy_views(rendered_views, tmp_path / "views", 3)
    for index, (path, _) in enumerate(rendered_views[5:8]):
        cv2.imwrite(
            str(folder / f"small-{index}.png"),
            cv2.resize(cv2.imread(str(path)), (320, 240), interpolation=cv2.INTER_AREA),
        )
    out = tmp_path / "c.yaml"
    code, _, stderr = _run(
        capsys, "--images", str(folder / "*.png"), "--board", "9x6", "--square-mm", "25", "--out", str(out)
    )
    assert code == 2
    assert (
        stderr
        == "gazefusion: the images are of different sizes, 640x480 (3 images), 320x240 (3 images): give the views of one camera resolution\n"
    )
    assert not out.exists()


def _bad(capsys, tmp_path: Path, *argv: str) -> tuple[int, str]:
    code, stdout, stderr = _run(capsys, *argv)
    assert stdout == ""
    assert not (tmp_path / "c.yaml").exists()
    lines = stderr.strip().splitlines()
    assert lines, "no error message"
    return code, lines[-1]


def test_glob_matching_nothing(tmp_path: Path, capsys) -> None:
    pattern = str(tmp_path / "nothing-*.png")
    code, line = _bad(
        capsys, tmp_path, "--images", pattern, "--board", "9x6", "--square-mm", "25", "--out", str(tmp_path / "c.yaml")
    )
    assert code == 2
    assert line == f"gazefusion: --images {pattern!r} matches no files"


def test_folder_without_usable_views(tmp_path: Path, capsys) -> None:
    for index in range(3):
        cv2.imwrite(str(tmp_path / f"blank-{index}.png"), np.full((480, 640), 40 * index, np.uint8))
    code, stdout, stderr = _run(
        capsys,
        "--images",
        str(tmp_path / "*.png"),
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--out",
        str(tmp_path / "c.yaml"),
    )
    assert code == 2 and stdout == ""
    assert stderr.splitlines()[-1] == (
        "gazefusion: no usable views: none of the 3 images shows the whole 9x6 chessboard "
        "(check --board: inner corners, e.g. 9x6)"
    )
    assert not (tmp_path / "c.yaml").exists()


def test_files_that_are_no_images(tmp_path: Path, capsys) -> None:
    for index in range(2):
        (tmp_path / f"notes-{index}.png").write_text("not an image")
    code, line = _bad(
        capsys,
        tmp_path,
        "--images",
        str(tmp_path / "*.png"),
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--out",
        str(tmp_path / "c.yaml"),
    )
    assert code == 2
    assert line == "gazefusion: no usable views: none of the 2 files matched by --images is a readable image"


def test_a_folder_as_images(rendered_views, tmp_path: Path, capsys) -> None:
    folder = _copy_views(rendered_views, tmp_path / "views", 6)
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    out = tmp_path / "c.yaml"
    code, stdout, stderr = _run(
        capsys, "--images", str(folder), "--board", "9x6", "--square-mm", "25", "--out", str(out)
    )
    assert code == 0, stderr
    assert "from 6 views (0 rejected, 0 skipped)" in stdout


def test_wrong_board_size_finds_no_views(rendered_views, tmp_path: Path, capsys) -> None:
    folder = _copy_views(rendered_views, tmp_path / "views", 1)
    code, line = _bad(
        capsys,
        tmp_path,
        "--images",
        str(folder / "*.png"),
        "--board",
        "8x6",
        "--square-mm",
        "25",
        "--out",
        str(tmp_path / "c.yaml"),
    )
    assert code == 2 and line.startswith("gazefusion: no usable views: none of the 1 images")


def test_too_few_views(rendered_views, tmp_path: Path, capsys) -> None:
    folder = _copy_views(rendered_views, tmp_path / "views", 3)
    code, line = _bad(
        capsys,
        tmp_path,
        "--images",
        str(folder / "*.png"),
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--out",
        str(tmp_path / "c.yaml"),
    )
    assert code == 2
    assert line.startswith("gazefusion: only 3 usable chessboard views, need at least 5")


@pytest.mark.parametrize(
    ("board", "message"),
    [
        ("9by6", "gazefusion: --board '9by6': expected inner corners as COLSxROWS, e.g. 9x6"),
        ("1x1", "gazefusion: --board '1x1': a chessboard needs at least 2x2 inner corners (e.g. 9x6)"),
    ],
    ids=["9by6", "1x1"],
)
def test_bad_board(tmp_path: Path, capsys, board: str, message: str) -> None:
    code, line = _bad(
        capsys, tmp_path, "--images", "*.png", "--board", board, "--square-mm", "25", "--out", str(tmp_path / "c.yaml")
    )
    assert code == 2 and line == message


@pytest.mark.parametrize("square", ["0", "-25", "nan"])
def test_non_positive_square(tmp_path: Path, capsys, square: str) -> None:
    code, line = _bad(
        capsys,
        tmp_path,
        "--images",
        "*.png",
        "--board",
        "9x6",
        f"--square-mm={square}",
        "--out",
        str(tmp_path / "c.yaml"),
    )
    assert code == 2
    assert line == f"gazefusion: --square-mm must be a positive number of mm, got {float(square):g}"


def test_square_not_a_number(tmp_path: Path, capsys) -> None:
    code, line = _bad(
        capsys, tmp_path, "--images", "*.png", "--board", "9x6", "--square-mm", "big", "--out", str(tmp_path / "c.yaml")
    )
    assert code == 2 and "--square-mm: invalid float value: 'big'" in line


@pytest.mark.parametrize("where", ["missing-folder", "a-folder", "inside-a-file", "read-only"])
def test_unwritable_out(rendered_views, tmp_path: Path, capsys, where: str) -> None:
    if where == "missing-folder":
        out, expected = tmp_path / "nowhere" / "c.yaml", f"folder {tmp_path / 'nowhere'} does not exist"
    elif where == "a-folder":
        out, expected = tmp_path, "is a folder"
    elif where == "inside-a-file":
        (tmp_path / "file").write_text("x")
        out, expected = tmp_path / "file" / "c.yaml", f"{tmp_path / 'file'} is not a folder"
    else:
        if os.geteuid() == 0:
            pytest.skip("root may write into read-only folders")
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out, expected = locked / "c.yaml", "not writable"
    code, stdout, stderr = _run(
        capsys,
        "--images",
        str(rendered_views[0][0].parent / "*.png"),
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--out",
        str(out),
    )
    assert code == 2 and stdout == ""
    assert stderr.startswith(f"gazefusion: --out {out}") and expected in stderr
    assert len(stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-view-rms", "0"], "gazefusion: --max-view-rms must be a positive number of px, got 0"),
        (["--save-views", "somewhere"], "gazefusion: --save-views is for a live calibration (--camera)"),
        (["--window", "0"], "gazefusion: --window must be a half-size of at least 1 px, got 0"),
        (["--min-views", "2"], "gazefusion: --min-views must be at least 3, got 2"),
    ],
    ids=["max-view-rms", "save-views-without-camera", "window", "min-views"],
)
def test_bad_options(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    code, line = _bad(
        capsys,
        tmp_path,
        "--images",
        "*.png",
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--out",
        str(tmp_path / "c.yaml"),
        *argv,
    )
    assert code == 2 and line == message


def test_images_and_camera_are_exclusive(tmp_path: Path, capsys) -> None:
    code, line = _bad(
        capsys,
        tmp_path,
        "--images",
        "*.png",
        "--camera",
        "0",
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--out",
        str(tmp_path / "c.yaml"),
    )
    assert code == 2 and "not allowed with argument" in line
