"""`gazefusion calibrate camera --camera URL`: live views from a real MJPEG server on loopback."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from gazefusion.calibration.camera import LiveCapture, ViewSelector, detect_board
from gazefusion.calibration.intrinsics import load_intrinsics
from gazefusion.fusion.camera import CameraSource, open_camera
from gazefusion.fusion.cli import main
from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.images import to_grey
from gazefusion.fusion.types import Frame
from tests.calibration.chessboards import TRUE_MATRIX
from tests.calibration.conftest import BOARD, encode_jpegs


@pytest.fixture
def board_server(rendered_views, mjpeg_server):
    """A camera showing the first `count` rendered boards in turn (each held `frames_per_pose` frames)."""

    def start(count: int = 8, frames_per_pose: int = 12):
        return mjpeg_server(encode_jpegs([path for path, _ in rendered_views[:count]]), frames_per_pose)

    return start


@pytest.mark.slow
def test_live_calibration_end_to_end(board_server, tmp_path: Path, capsys) -> None:
    server = board_server()
    out, saved = tmp_path / "camera.yaml", tmp_path / "views"
    code = main(
        [
            "calibrate",
            "camera",
            "--camera",
            server.url,
            "--views",
            "7",
            "--headless",
            "--board",
            "9x6",
            "--square-mm",
            "25",
            "--out",
            str(out),
            "--save-views",
            str(saved),
            "--timeout-s",
            "60",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "from 7 views" in captured.out
    intrinsics = load_intrinsics(out)
    assert intrinsics.image_size == (640, 480)
    # Seven views through JPEG: close to the truth, if not as close as fifteen PNGs.
    assert intrinsics.camera_matrix[0, 0] == pytest.approx(TRUE_MATRIX[0, 0], rel=0.02)
    assert abs(intrinsics.camera_matrix[0, 2] - TRUE_MATRIX[0, 2]) < 8
    data = yaml.safe_load(out.read_text())
    assert data["images"] == [str(saved / f"live-{i:02d}.png") for i in range(1, 8)]
    assert data["source"] == server.url
    assert sorted(p.name for p in saved.iterdir()) == [f"live-{i:02d}.png" for i in range(1, 8)]
    # The saved views calibrate again from files, to the same camera.
    again = tmp_path / "again.yaml"
    assert (
        main(
            ["calibrate", "camera", "--images", str(saved), "--board", "9x6", "--square-mm", "25", "--out", str(again)]
        )
        == 0
    )
    assert load_intrinsics(again).camera_matrix == pytest.approx(intrinsics.camera_matrix, rel=1e-3)


class FramesOnce:
    """A camera source as a capture sees it: each frame it is given is kept, and the source
    ends after `frames` of them or before a picture it gave would come again (the server
    loops), so a capture that falls behind can never see one pose twice."""

    def __init__(self, source: CameraSource, frames: int) -> None:
        self.source = source
        self.frames = frames
        self.given: list[Frame] = []
        self.finished = False

    def latest(self, newer_than: int = -1, timeout_s: float | None = None) -> Frame | None:
        """The source's newest frame, or None once this source has ended."""
        if not self.finished and len(self.given) < self.frames:
            frame = self.source.latest(newer_than, timeout_s)
            if frame is None or all(frame.jpeg != seen.jpeg for seen in self.given):
                if frame is not None:
                    self.given.append(frame)
                return frame
        self.finished = True
        return None


def test_a_moving_board_is_never_taken(rendered_views, mjpeg_server) -> None:
    # A whole board in every frame and in a new place each time: 15 poses, each also turned
    # half round and mirrored both ways (60 pictures, one frame each, 6 s before the loop).
    poses = [cv2.imread(str(path)) for path, _ in rendered_views]
    pictures = [cv2.flip(pose, way) if way is not None else pose for pose in poses for way in (None, -1, 0, 1)]
    jpegs = [cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes() for picture in pictures]
    server = mjpeg_server(jpegs, frames_per_image=1, rate_hz=10.0)
    with open_camera(server.url, CameraConfig()) as camera:
        source = FramesOnce(camera, frames=10)
        capture = LiveCapture(source, BOARD, views=3)
        views = capture.run(timeout_s=120.0)
    assert views == []
    assert capture.ended == "the source ended"
    # It looked at more frames than a steady board needs, and found the whole board in each.
    assert capture.frames_seen == len(source.given) > ViewSelector(BOARD, (640, 480)).steady_frames
    assert all(detect_board(to_grey(frame.image), BOARD) is not None for frame in source.given)


def test_each_pose_is_taken_once(rendered_views, mjpeg_server) -> None:
    jpegs = encode_jpegs([path for path, _ in rendered_views[:3]])
    server = mjpeg_server(jpegs, frames_per_image=20)
    poses = [cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) for jpeg in jpegs]
    taken: list[int] = []

    def which_pose(view, image: np.ndarray) -> None:
        taken.append(int(np.argmin([np.abs(image.astype(int) - pose).mean() for pose in poses])))

    with open_camera(server.url, CameraConfig()) as source:
        capture = LiveCapture(source, BOARD, views=3, on_view=which_pose)
        views = capture.run(timeout_s=60.0)
    # Each pose is held long enough to be taken again and again; each is taken once.
    assert len(views) == 3
    assert sorted(taken) == [0, 1, 2]
    assert capture.ended == ""


def test_live_without_a_board_fails_clearly(tmp_path: Path, capsys, mjpeg_server) -> None:
    ok, blank = cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))
    server = mjpeg_server([blank.tobytes()])
    code = main(
        [
            "calibrate",
            "camera",
            "--camera",
            server.url,
            "--views",
            "5",
            "--headless",
            "--board",
            "9x6",
            "--square-mm",
            "25",
            "--out",
            str(tmp_path / "c.yaml"),
            "--timeout-s",
            "1.5",
        ]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines[0] == "gazefusion: took 0 of 5 views before the capture ended (timed out after 1.5 s)"
    assert lines[-1].startswith("gazefusion: no usable views: the 9x6 chessboard was never seen whole and steady in ")
    assert not (tmp_path / "c.yaml").exists()


def test_a_window_without_a_display_is_refused(tmp_path: Path, capsys, monkeypatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    code = main(
        [
            "calibrate",
            "camera",
            "--camera",
            "http://127.0.0.1:9/stream",
            "--board",
            "9x6",
            "--square-mm",
            "25",
            "--out",
            str(tmp_path / "c.yaml"),
        ]
    )
    assert code == 2
    assert (
        capsys.readouterr().err
        == "gazefusion: no display for the calibration window (DISPLAY is not set): use --headless\n"
    )


def test_bad_timeout_and_save_folder(tmp_path: Path, capsys) -> None:
    base = [
        "calibrate",
        "camera",
        "--camera",
        "0",
        "--headless",
        "--board",
        "9x6",
        "--square-mm",
        "25",
        "--out",
        str(tmp_path / "c.yaml"),
    ]
    assert main([*base, "--timeout-s", "0"]) == 2
    assert capsys.readouterr().err == "gazefusion: --timeout-s must be a positive number of seconds, got 0\n"
    (tmp_path / "file").write_text("x")
    assert main([*base, "--save-views", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.startswith(f"gazefusion: --save-views {tmp_path / 'file'}: cannot make the folder (")


def test_live_views_fewer_than_min_views_refused(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "calibrate",
            "camera",
            "--camera",
            "0",
            "--views",
            "3",
            "--headless",
            "--board",
            "9x6",
            "--square-mm",
            "25",
            "--out",
            str(tmp_path / "c.yaml"),
        ]
    )
    assert code == 2
    assert capsys.readouterr().err == "gazefusion: --views 3: need at least --min-views (5)\n"


def test_a_camera_that_refuses_fails_in_one_line_without_credentials(tmp_path: Path, capsys) -> None:
    from tests.conftest import free_port

    url = f"http://user:secret@127.0.0.1:{free_port()}/stream"
    code = main(
        [
            "calibrate",
            "camera",
            "--camera",
            url,
            "--headless",
            "--board",
            "9x6",
            "--square-mm",
            "25",
            "--out",
            str(tmp_path / "c.yaml"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("gazefusion: camera http://***@127.0.0.1:")
    assert "secret" not in err
    assert not (tmp_path / "c.yaml").exists()


def test_ctrl_c_ends_the_capture_and_keeps_the_views(board_server) -> None:
    import os
    import signal

    server = board_server(count=3, frames_per_pose=20)

    def interrupt(view, image: np.ndarray) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    with open_camera(server.url, CameraConfig()) as source:
        capture = LiveCapture(source, BOARD, views=10, on_view=interrupt)
        views = capture.run(timeout_s=60.0)
    assert capture.ended == "interrupted"
    assert [view.name for view in views] == ["live-01"]
