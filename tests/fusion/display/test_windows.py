"""The OpenCV windows for real, on Xvfb: keys and the mouse through xdotool, pixels through x11grab.

Each test runs one ``gazefusion`` command as a subprocess on the virtual display, drives its
window like a user and checks what the window shows and what the command wrote.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gazefusion.calibration.tracker import CameraView
from gazefusion.calibration.tracker_procedure import make_targets
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.tables import TableReader
from tests.calibration.chessboards import write_views
from tests.calibration.conftest import BOARD, SQUARE_MM, MjpegServer, encode_jpegs
from tests.fusion.display.conftest import SCREEN_SIZE_PX, Command, XDisplay, wait_for

RUN_WINDOW = "gazefusion"
CALIBRATION_WINDOW = "gazefusion calibrate tracker"
CAMERA_WINDOW = "gazefusion calibrate camera"
CAMERA_SIZE_PX = (640, 480)  # the ffmpeg camera's


def wait_size(display: XDisplay, window: int, size: tuple[int, int], timeout_s: float = 30.0) -> None:
    """Wait until the window has `size` (the display fits it to the first frame)."""
    deadline = time.monotonic() + timeout_s
    while display.geometry(window)[2:] != size:
        if time.monotonic() > deadline:
            raise AssertionError(f"window is {display.geometry(window)[2:]}, never {size}")
        time.sleep(0.1)


def changed_box(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the pixels that differ, or None."""
    ys, xs = np.nonzero(np.any(before != after, axis=2))
    return None if xs.size == 0 else (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def fixations(session: Path) -> list[tuple[float, float]]:
    """(cam_x, cam_y) of every fixation recorded."""
    return [(float(row["cam_x"]), float(row["cam_y"])) for row in TableReader(session / "fixations.tsv")]


def near(box: tuple[int, int, int, int] | None, centre: tuple[float, float], tolerance_px: float) -> bool:
    """Whether `box` is centred on `centre`."""
    return (
        box is not None
        and max(abs((box[0] + box[2]) / 2 - centre[0]), abs((box[1] + box[3]) / 2 - centre[1])) <= tolerance_px
    )


@pytest.mark.slow
def test_run_window_pause_layers_mark_and_quit_by_keys(xdisplay: XDisplay, ffmpeg_camera, tmp_path: Path) -> None:
    session = tmp_path / "session"
    command = Command(
        xdisplay, ["run", "--camera", ffmpeg_camera.url, "--tracker", "mouse", "--record", str(session)], tmp_path
    )
    try:
        window = xdisplay.wait_window(RUN_WINDOW, command)
        wait_size(xdisplay, window, CAMERA_SIZE_PX)  # the image unscaled, no toolbar
        xdisplay.xdotool("mousemove", "--window", str(window), "200", "150")
        command.wait_line("look  first")  # the gaze holds still there: a fixation, so an AOI too
        # One key at a time, each once the command tells its effect: the window shows it then.
        command.press(window, "space", "picture paused")
        frozen: list[np.ndarray] = [xdisplay.grab_window(window)]

        def still() -> bool:  # two screenshots apart, the same picture, though the camera runs
            time.sleep(0.3)
            frozen.append(xdisplay.grab_window(window))
            return np.array_equal(frozen[-2], frozen[-1])

        wait_for(still, "the picture freezes on space")
        paused = frozen[-1]

        def grab() -> tuple[int, int, int, int] | None:  # what differs from the paused picture
            return changed_box(paused, xdisplay.grab_window(window))

        command.press(window, "1", "layer gaze off")  # only the gaze marker's pixels change
        wait_for(lambda: grab() is not None, "key 1 changes the picture")
        box = grab()
        assert near(box, (200, 150), 2) and box[2] - box[0] <= 24 and box[3] - box[1] <= 24, box
        command.press(window, "1", "layer gaze on")
        command.press(window, "2", "layer aoi off")  # gaze back on, AOI off: its square around the gaze goes
        wait_for(lambda: near(grab(), (200, 150), 3) and grab()[2] - grab()[0] > 24, "keys 1 2 swap gaze for AOI")
        box = grab()
        assert 30 <= box[2] - box[0] <= 120 and abs((box[2] - box[0]) - (box[3] - box[1])) <= 2, box
        command.press(window, "2", "layer aoi on")
        wait_for(lambda: grab() is None, "key 2 brings the AOI back")

        command.press(window, "space", "picture resumed")  # the camera's picture moves again
        wait_for(lambda: grab() is not None, "space resumes")
        command.press(window, "m", "mark 1")
        command.press(window, "m", "mark 2")
        xdisplay.key(window, "q")
        code, out, err = command.finish()
    finally:
        command.kill()
    assert code == 0, err
    assert "Traceback" not in err and "summary:" in out
    assert not xdisplay.window_exists(RUN_WINDOW)
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    assert [e["text"] for e in events if e["kind"] == "mark"] == ["key mark 1", "key mark 2"]
    assert [e["text"] for e in events if e["kind"] == "tracker_message"] == ["key mark 1", "key mark 2"]
    assert "summary" in (session / "session.yaml").read_text()
    assert any(abs(x - 200) <= 1.5 and abs(y - 150) <= 1.5 for x, y in fixations(session))


def test_mouse_tracker_follows_the_mouse_in_a_scaled_window(xdisplay: XDisplay, ffmpeg_camera, tmp_path: Path) -> None:
    session = tmp_path / "session"
    command = Command(
        xdisplay, ["run", "--camera", ffmpeg_camera.url, "--tracker", "mouse", "--record", str(session)], tmp_path
    )
    try:
        window = xdisplay.wait_window(RUN_WINDOW, command)
        wait_size(xdisplay, window, CAMERA_SIZE_PX)
        xdisplay.xdotool("windowsize", str(window), "320", "240")  # half size: window px x 2 = image px
        wait_size(xdisplay, window, (320, 240))
        for number, (x, y) in enumerate(((50, 60), (250, 180)), start=1):
            xdisplay.xdotool("mousemove", "--window", str(window), str(x), str(y))
            command.wait_line(f"look  first  fixation {number:>4}")
        xdisplay.key(window, "q")
        code, _, err = command.finish()
    finally:
        command.kill()
    assert code == 0, err
    # Image px (100, 120) and (500, 360); on the 1920x1080 screen the 640x480 image is shown
    # 2.25 times, 240 px from the left: gaze (465, 270) and (1365, 810) px.
    gaze = {(float(row["x"]), float(row["y"])) for row in TableReader(session / "gaze.tsv") if row["valid"] == "1"}
    for expected in ((465.0, 270.0), (1365.0, 810.0)):
        assert any(abs(x - expected[0]) <= 4.5 and abs(y - expected[1]) <= 4.5 for x, y in gaze), (expected, gaze)
    found = fixations(session)
    for expected in ((100.0, 120.0), (500.0, 360.0)):
        assert any(abs(x - expected[0]) <= 2 and abs(y - expected[1]) <= 2 for x, y in found), (expected, found)


def is_target(screen: np.ndarray, screen_px: np.ndarray) -> bool:
    """Whether the target (a white disc with a red centre) is drawn at `screen_px`."""
    x, y = (int(round(v)) for v in screen_px)
    blue, green, red = screen[y, x]
    white = all(min(screen[y + dy, x + dx]) > 200 for dx, dy in ((10, 0), (-10, 0), (0, 10), (0, -10)))
    return red > 200 and green < 80 and blue < 80 and white


def calibrate(xdisplay: XDisplay, camera_url: str, tmp_path: Path, tracker: str) -> tuple[Command, Path]:
    mapping = tmp_path / "mapping.yaml"
    command = Command(
        xdisplay,
        [
            "calibrate",
            "tracker",
            "--camera",
            camera_url,
            "--tracker",
            tracker,
            "--simulate-participant",
            "--dwell",
            "0.3",
            "--out",
            str(mapping),
        ],
        tmp_path,
    )
    return command, mapping


def test_tracker_calibration_window_is_full_screen_and_escape_writes_nothing(
    xdisplay: XDisplay, ffmpeg_camera, tmp_path: Path
) -> None:
    command, mapping = calibrate(xdisplay, ffmpeg_camera.url, tmp_path, "mock")  # real time: slow enough to abort
    try:
        window = xdisplay.wait_window(CALIBRATION_WINDOW, command)
        assert xdisplay.geometry(window) == (0, 0, *SCREEN_SIZE_PX)
        view = CameraView(ScreenGeometry(*SCREEN_SIZE_PX, 531.0, 299.0, 650.0), CAMERA_SIZE_PX)
        calibration, validation = make_targets(9, view)
        shown: list[list[str]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # one target at a time, where its camera px are on the screen
            screen = xdisplay.screenshot().astype(int)
            shown.append([t.name for t in calibration + validation if is_target(screen, t.screen_px)])
            if shown[-1]:
                break
            time.sleep(0.1)
        assert len(shown[-1]) == 1 and all(len(names) <= 1 for names in shown), shown
        xdisplay.key(window, "Escape")
        code, _, err = command.finish()
    finally:
        command.kill()
    assert code != 0
    assert err.strip().splitlines()[-1] == "gazefusion: calibration aborted by the user: nothing written"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert not xdisplay.window_exists(CALIBRATION_WINDOW)


def test_tracker_calibration_with_its_window_completes(xdisplay: XDisplay, ffmpeg_camera, tmp_path: Path) -> None:
    command, mapping = calibrate(xdisplay, ffmpeg_camera.url, tmp_path, "mock?fast")
    try:
        window = xdisplay.wait_window(CALIBRATION_WINDOW, command)
        assert xdisplay.geometry(window) == (0, 0, *SCREEN_SIZE_PX)
        code, out, err = command.finish(timeout_s=120)  # a few seconds; the bound is for a starved machine
    finally:
        command.kill()
    assert code == 0, err
    assert f"wrote {mapping}" in out
    assert mapping.is_file() and mapping.with_suffix(".png").is_file()
    assert not xdisplay.window_exists(CALIBRATION_WINDOW)


@pytest.fixture
def board_camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MjpegServer]:
    """A camera showing rendered chessboards, each held 24 frames (0.8 s)."""
    views = write_views(tmp_path_factory.mktemp("boards"), BOARD, SQUARE_MM, 8, seed=3)
    server = MjpegServer(encode_jpegs([path for path, _ in views]), frames_per_image=24)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_live_camera_calibration_window_stops_on_q_and_calibrates(
    xdisplay: XDisplay, board_camera, tmp_path: Path
) -> None:
    out = tmp_path / "camera.yaml"
    command = Command(
        xdisplay,
        [
            "calibrate",
            "camera",
            "--camera",
            board_camera.url,
            "--board",
            "9x6",
            "--square-mm",
            "25",
            "--views",
            "15",
            "--min-views",
            "5",
            "--out",
            str(out),
        ],
        tmp_path,
    )
    try:
        window = xdisplay.wait_window(CAMERA_WINDOW, command)
        wait_size(xdisplay, window, CAMERA_SIZE_PX)  # the image unscaled, no toolbar
        wait_for(lambda: "view 5/15 taken" in command.stderr_so_far(), "five views taken")
        xdisplay.key(window, "q")
        code, out_text, err = command.finish()
    finally:
        command.kill()
    assert code == 0, err
    taken = re.search(r"took (\d+) of 15 views before the capture ended \(stopped by the user\)", err)
    assert taken is not None and int(taken.group(1)) >= 5, err
    assert f"calibrated 640x480 from {taken.group(1)} views" in out_text and out.is_file()
    assert not xdisplay.window_exists(CAMERA_WINDOW)
