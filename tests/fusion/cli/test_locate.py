"""`gazefusion locate` from the command line: detections as JSON or a table, each bad input one line."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from gazefusion.calibration.intrinsics import CameraIntrinsics, save_intrinsics
from gazefusion.fusion.cli import main
from gazefusion.fusion.synthetic import background_texture, degrade, marker_pose, marker_texture, render_plane

CAMERA = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("locate")
    (folder / "pics").mkdir()
    for name, seed in (("left", 31), ("right", 32)):
        cv2.imwrite(str(folder / "pics" / f"{name}.png"), marker_texture(seed, 400))
    cv2.imwrite(str(folder / "pics" / "plain.png"), np.full((200, 200, 3), 90, np.uint8))
    (folder / "markers.yaml").write_text(
        "- {id: left, image: pics/left.png, width_m: 0.2}\n- {id: right, image: pics/right.png, width_m: 0.2}\n"
    )
    frame = background_texture(2, (640, 480))
    truth = {}
    for name, seed, centre in (("left", 31, (170, 240)), ("right", 32, (470, 250))):
        rvec, tvec = marker_pose(0.8, 25, 40, 10, centre, CAMERA)
        corners = render_plane(frame, marker_texture(seed, 400), 0.2, rvec, tvec, CAMERA)
        truth[name] = (tvec, corners.mean(axis=0))
    cv2.imwrite(str(folder / "scene.jpg"), degrade(frame, 0.8, 2.0, 85), [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(folder / "uniform.png"), np.full((480, 640, 3), 128, np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    save_intrinsics(CameraIntrinsics((640, 480), CAMERA, np.zeros(5), 0.2), folder / "camera.yaml")
    save_intrinsics(
        CameraIntrinsics((1280, 960), CAMERA * [[2], [2], [1]], np.zeros(5), 0.2), folder / "camera_hd.yaml"
    )
    save_intrinsics(CameraIntrinsics((800, 480), CAMERA, np.zeros(5), 0.2), folder / "camera_wide.yaml")
    (folder / "camera_bad.yaml").write_text(
        "image_size: [640, 480]\ncamera_matrix: [[1, 2], [3, 4]]\ndist_coeffs: [0, 0, 0, 0]\n"
    )
    return {"dir": folder, "truth": truth}


def locate(setup: dict, *flags: str, image: str = "scene.jpg", markers: str = "markers.yaml") -> list[str]:
    folder = setup["dir"]
    return [
        "locate",
        str(folder / image),
        "--markers",
        str(folder / markers),
        *[str(folder / flag) if flag.endswith(".yaml") else flag for flag in flags],
    ]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gazefusion: ")
    return err[0]


def test_json_output_with_intrinsics(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    gaze = setup["truth"]["right"][1]
    assert main(locate(setup, "--intrinsics", "camera.yaml", "--json", "--gaze", f"{gaze[0]},{gaze[1]}")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["size"] == [640, 480]
    assert [d["marker"] for d in out["detections"]] == ["right", "left"]
    first = out["detections"][0]
    assert first["contains_gaze"] and not out["detections"][1]["contains_gaze"]
    assert set(first) >= {
        "corners",
        "inliers",
        "reprojection_error_px",
        "position_m",
        "rotation",
        "distance_m",
        "pose_ambiguous",
    }
    for detection in out["detections"]:
        tvec = setup["truth"][detection["marker"]][0]
        assert np.linalg.norm(np.array(detection["position_m"]) - tvec) < 0.015 * 0.8
        assert len(detection["corners"]) == 4


def test_table_output(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(locate(setup, "--intrinsics", "camera.yaml")) == 0
    out = capsys.readouterr().out
    assert "left" in out and "right" in out and "dist_m" in out


def test_without_intrinsics_a_stated_default_and_a_warning(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(locate(setup, "--json")) == 0
    captured = capsys.readouterr()
    assert "warning: no --intrinsics: assuming a 60° horizontal field of view" in captured.err
    out = json.loads(captured.out)
    assert out["camera"].startswith("assumed: 60 deg")
    assert sorted(d["marker"] for d in out["detections"]) == ["left", "right"]


def test_intrinsics_of_another_size_same_aspect_are_scaled(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(locate(setup, "--intrinsics", "camera_hd.yaml", "--json")) == 0
    captured = capsys.readouterr()
    assert "intrinsics for 1280x960 scaled to this 640x480 image" in captured.err
    for detection in json.loads(captured.out)["detections"]:
        tvec = setup["truth"][detection["marker"]][0]
        assert np.linalg.norm(np.array(detection["position_m"]) - tvec) < 0.015 * 0.8


def test_roi_partly_outside_is_clipped(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(locate(setup, "--intrinsics", "camera.yaml", "--json", "--roi=-50,-20,380,600")) == 0
    captured = capsys.readouterr()
    assert "--roi clipped to the image: 0,0,330,480" in captured.err
    out = json.loads(captured.out)
    assert out["roi"] == [0, 0, 330, 480]
    assert [d["marker"] for d in out["detections"]] == ["left"]


def test_uniform_frame_finds_nothing(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(locate(setup, "--intrinsics", "camera.yaml", "--json", image="uniform.png")) == 0
    assert json.loads(capsys.readouterr().out)["detections"] == []
    assert main(locate(setup, "--intrinsics", "camera.yaml", image="uniform.png")) == 0
    assert "no markers found" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "image", "markers_text", "expected"),
    [
        pytest.param(
            ("--intrinsics", "camera_wide.yaml"),
            "scene.jpg",
            None,
            "another aspect ratio",
            id="intrinsics-other-aspect",
        ),
        pytest.param(
            ("--intrinsics", "camera_bad.yaml"),
            "scene.jpg",
            None,
            "camera_matrix must be 3x3",
            id="intrinsics-malformed",
        ),
        pytest.param(
            ("--intrinsics", "nothing.yaml"), "scene.jpg", None, "intrinsics file not found", id="intrinsics-missing"
        ),
        pytest.param(("--roi", "700,500,50,50"), "scene.jpg", None, "lies outside the 640x480 image", id="roi-outside"),
        pytest.param(("--roi", "1,2,3"), "scene.jpg", None, "expected X,Y,W,H", id="roi-malformed"),
        pytest.param(
            ("--roi", "10,10,0,20"), "scene.jpg", None, "width and height must be positive", id="roi-negative"
        ),
        pytest.param(("--gaze", "x,y"), "scene.jpg", None, "expected X,Y", id="gaze-malformed"),
        pytest.param((), "broken.jpg", None, "cannot read image .*broken.jpg", id="image-unreadable"),
        pytest.param((), "absent.jpg", None, "image not found", id="image-missing"),
        pytest.param(
            (),
            "scene.jpg",
            "- {id: a, image: pics/gone.png, width_m: 0.2}\n",
            "marker 'a': image: not found",
            id="marker-image-missing",
        ),
        pytest.param(
            (),
            "scene.jpg",
            "- {id: a, image: broken.jpg, width_m: 0.2}\n",
            "marker 'a': image: not a readable picture",
            id="marker-image-unreadable",
        ),
        pytest.param(
            (),
            "scene.jpg",
            "- {id: a, image: pics/plain.png, width_m: 0.2}\n",
            "too little texture",
            id="marker-too-plain",
        ),
        pytest.param(
            (),
            "scene.jpg",
            "- {id: a, image: pics/left.png, width_m: -1}\n",
            "width_m: must be a positive number",
            id="marker-width",
        ),
    ],
)
def test_bad_input_is_one_line(setup: dict, capsys, flags, image, markers_text, expected) -> None:
    markers = "markers.yaml"
    if markers_text is not None:
        markers = f"bad_{abs(hash(markers_text))}.yaml"
        (setup["dir"] / markers).write_text(markers_text)
    assert main(locate(setup, *flags, image=image, markers=markers)) == 2
    assert re.search(expected, one_error_line(capsys))


def test_no_library_given(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["locate", str(setup["dir"] / "scene.jpg")]) == 2
    assert "give --markers" in one_error_line(capsys)
