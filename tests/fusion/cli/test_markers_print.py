"""`gazefusion markers print`: a printable tag or board at its true size; each bad input one line,
exit 2, nothing written; and `run`/`locate` refuse a bad fiducial library before anything starts."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gazefusion.fusion.cli import main
from gazefusion.fusion.synthetic import marker_texture

LIBRARY = (
    "- {id: door, aruco: {dictionary: DICT_APRILTAG_36h11, tag: 7}, width_m: 0.10}\n"
    "- id: box\n"
    "  aruco:\n"
    "    dictionary: DICT_4X4_50\n"
    "    board: [{tag: 1, centre_m: [-0.06, 0]}, {tag: 2, centre_m: [0.06, 0]}]\n"
    "  width_m: 0.08\n"
    "- {id: poster, image: poster.png, width_m: 0.3}\n"
)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    cv2.imwrite(str(tmp_path / "poster.png"), marker_texture(1, 300))
    path = tmp_path / "markers.yaml"
    path.write_text(LIBRARY)
    return path


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gazefusion: ")
    return err[0]


def decoded(picture: np.ndarray, dictionary: int) -> list[int]:
    detector = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(dictionary))
    _, ids, _ = detector.detectMarkers(picture)
    return sorted(int(tag) for tag in ids.ravel()) if ids is not None else []


def test_a_tag_as_png_at_its_true_size(library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "door.png"
    assert main(["markers", "print", str(library), "door", "--out", str(out), "--dpi", "300"]) == 0
    assert "150.0 x" in capsys.readouterr().out
    image = Image.open(out)
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    # 0.10 m tag + 25 mm white border each side = 150 mm = 1772 px at 300 dpi, plus the label strip below.
    assert image.size[0] == round(0.15 / 0.0254 * 300) and image.size[1] > image.size[0]
    assert decoded(np.asarray(image), cv2.aruco.DICT_APRILTAG_36h11) == [7]


def test_a_board_as_pdf_of_its_size(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "box.pdf"
    assert main(["markers", "print", str(library), "box", "--out", str(out), "--dpi", "150", "--no-label"]) == 0
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    # 0.20 x 0.08 m of tags plus a 20 mm border: 0.24 x 0.12 m = 680.3 x 340.2 pt.
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert box is not None
    assert float(box.group(1)) == pytest.approx(0.24 / 0.0254 * 72, abs=1.0)
    assert float(box.group(2)) == pytest.approx(0.12 / 0.0254 * 72, abs=1.0)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["poster", "--out", "p.png"], "marker 'poster' is a picture"),
        (["nope", "--out", "p.png"], "marker 'nope' is not in .* \\(ids: door, box, poster\\)"),
        (["door", "--out", "p.jpg"], "--out .*p.jpg: expected a .png or .pdf"),
        (["door", "--out", "p.png", "--dpi", "5"], "--dpi 5: expected 50-2400"),
        (["door", "--out", "p.png", "--margin-mm", "-3"], "--margin-mm -3: expected 0-100 mm"),
    ],
    ids=["a-picture", "unknown-id", "bad-extension", "bad-dpi", "negative-margin"],
)
def test_bad_input_is_one_line(
    library: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    args = [str(tmp_path / arg) if arg.startswith("p.") else arg for arg in args]
    assert main(["markers", "print", str(library), *args]) == 2
    assert re.search(expected, one_error_line(capsys))
    assert not list(tmp_path.glob("p.*"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- {id: door, aruco: {dictionary: DICT_APRILTAG_99h9, tag: 7}, width_m: 0.1}\n",
            "marker 'door': aruco.dictionary: unknown dictionary 'DICT_APRILTAG_99h9'",
        ),
        (
            "- {id: door, aruco: {dictionary: DICT_4X4_50, tag: 77}, width_m: 0.1}\n",
            "marker 'door': aruco.tag: tag 77 is outside DICT_4X4_50",
        ),
        (
            "- {id: a, aruco: {dictionary: DICT_4X4_50, tag: 1}, width_m: 0.1}\n"
            "- {id: b, aruco: {dictionary: DICT_4X4_50, tag: 1}, width_m: 0.1}\n",
            "marker 'b': aruco.tag: DICT_4X4_50 tag 1 is the same printed tag as marker 'a'",
        ),
        (
            "- {id: box, aruco: {dictionary: DICT_4X4_50, board: [{tag: 1, centre_m: [0, 0]}, "
            "{tag: 2, centre_m: [0.01, 0]}]}, width_m: 0.1}\n",
            r"marker 'box': aruco.board\[1\]: tag 2 overlaps tag 1",
        ),
        ("- {id: door, aruco: {dictionary: DICT_4X4_50, tag: 1}, width_m: -0.1}\n", "marker 'door': width_m: must be"),
    ],
    ids=["unknown-dictionary", "tag-outside", "same-tag-twice", "overlapping-board", "negative-size"],
)
@pytest.mark.parametrize("command", ["print", "locate", "run"])
def test_a_bad_fiducial_library_stops_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str, command: str
) -> None:
    """The issue's bad fiducial inputs: one line naming the marker and the field, exit 2, nothing
    started (no session folder, no output)."""
    path = tmp_path / "markers.yaml"
    path.write_text(text)
    cv2.imwrite(str(tmp_path / "frame.png"), np.full((480, 640, 3), 128, np.uint8))
    argv = {
        "print": ["markers", "print", str(path), "door", "--out", str(tmp_path / "out.png")],
        "locate": ["locate", str(tmp_path / "frame.png"), "--markers", str(path)],
        "run": [
            "run",
            "--camera",
            str(tmp_path / "frame.png"),
            "--tracker",
            "mock",
            "--markers",
            str(path),
            "--record",
            str(tmp_path / "session"),
            "--headless",
            "--seconds",
            "1",
        ],
    }[command]
    assert main(argv) == 2
    assert re.search(expected, one_error_line(capsys))
    assert not (tmp_path / "session").exists() and not (tmp_path / "out.png").exists()
