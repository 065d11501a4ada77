"""`gazefusion run` at the command line: gaze-only recording, Ctrl-C, headless outputs, bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import av
import pytest
import yaml

from gazefusion.calibration.mapping import TrackerCameraMapping
from gazefusion.fusion.cli import main
from gazefusion.fusion.session import SessionReader
from tests.fusion.sessionkit import scene_server


def test_gaze_alone_is_recorded(tmp_path, capsys):
    code = main(
        [
            "run",
            "--camera",
            "none",
            "--tracker",
            "mock:1?rate=200",
            "--record",
            str(tmp_path / "s"),
            "--seconds",
            "1",
            "--headless",
        ]
    )
    assert code == 0
    reader = SessionReader(tmp_path / "s")
    samples = list(reader.samples())
    assert 150 < len(samples) < 260
    assert all(b.t >= a.t for a, b in zip(samples, samples[1:]))
    header = yaml.safe_load((tmp_path / "s" / "session.yaml").read_text())
    assert header["config"]["tracker"]["spec"] == "mock:1?rate=200"
    out = capsys.readouterr().out
    assert f"summary: {len(samples)} samples, 0 frames" in out
    assert "fixation    1 (" in out  # without a camera the fixations are printed
    assert SessionReader(tmp_path / "s").problems == [], "a gaze-only session lacks nothing"


def test_ctrl_c_stops_cleanly_and_keeps_what_was_received(tmp_path):
    folder = tmp_path / "s"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from gazefusion.fusion.cli import main; sys.exit(main())",
            "run",
            "--camera",
            "none",
            "--tracker",
            "mock:1?rate=200",
            "--record",
            str(folder),
            "--headless",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (
        (folder / "gaze.tsv").exists() and (folder / "gaze.tsv").stat().st_size > 2000
    ):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "stopped by Ctrl-C" in err
    rows = len(list(SessionReader(folder).samples()))
    assert f"summary: {rows} samples" in out
    assert "end_time" in yaml.safe_load((folder / "session.yaml").read_text())


def test_headless_run_writes_the_annotated_video_and_look_snapshots(tmp_path, capsys):
    with scene_server() as server:
        code = main(
            [
                "run",
                "--camera",
                server.url,
                "--tracker",
                "mock:5?rate=200",
                "--record",
                str(tmp_path / "s"),
                "--seconds",
                "2.5",
                "--headless",
                "--aoi-deg",
                "5",
            ]
        )
    assert code == 0
    out = capsys.readouterr().out
    assert "look  first" in out
    videos = list((tmp_path / "s").glob("overlay.*"))
    assert len(videos) == 1 and videos[0].stat().st_size > 10_000
    snapshots = sorted((tmp_path / "s" / "looks").glob("*.png"))
    assert snapshots and snapshots[0].name.startswith("fixation")


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--camera", "ftp://cam/stream"], "unsupported scheme 'ftp'", id="bad-camera-scheme"),
        pytest.param(["--camera", "no/such/file.avi"], "names nothing openable", id="camera-not-found"),
        pytest.param(["--tracker", "carrier-pigeon"], "carrier-pigeon", id="bad-tracker-spec"),
        pytest.param(["--aoi-deg", "-1"], "aoi.size_deg: -1.0 is not valid", id="aoi-negative"),
    ],
)
def test_bad_specs_end_with_one_line(args, expected, capsys):
    code = main(
        ["run", "--headless", "--seconds", "1", *(["--camera", "none"] if "--camera" not in args else []), *args]
    )
    assert code == 2
    assert expected in _error_line(capsys)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("aoi:\n  sise_deg: 3\n", "aoi.sise_deg: unknown key", id="unknown-key"),
        pytest.param("aoi:\n  size_deg: wide\n", "aoi.size_deg: 'wide' is not valid: expected", id="wrong-type"),
        pytest.param("screen:\n  size_px: 1920\n", "screen.size_px: 1920 is not valid", id="wrong-shape"),
    ],
)
def test_bad_config_names_key_value_and_expectation(tmp_path, content, expected, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["run", "--config", str(path), "--camera", "none", "--headless", "--seconds", "1"]) == 2
    assert expected in _error_line(capsys)


def test_a_mapping_for_another_camera_resolution_is_refused(tmp_path, capsys):
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), (1280, 720))
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping.to_dict()))
    with scene_server() as server:
        code = main(
            ["run", "--camera", server.url, "--tracker", "mock", "--mapping", str(path), "--headless", "--seconds", "5"]
        )
    assert code == 2
    assert "calibrated for a 1280x720 camera image but the camera gives 640x480" in _error_line(capsys)


def test_a_window_without_a_display_is_refused_before_anything_opens(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["run", "--camera", "none", "--tracker", "mock", "--seconds", "1"]) == 2
    assert _error_line(capsys) == "gazefusion: no display to open a window on: run with --headless"


def test_a_killed_run_leaves_a_session_that_replays_up_to_its_last_second(tmp_path):
    folder = tmp_path / "s"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from gazefusion.fusion.cli import main; sys.exit(main())",
            "run",
            "--camera",
            "none",
            "--tracker",
            "mock:1?rate=200",
            "--record",
            str(folder),
            "--headless",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (
        (folder / "gaze.tsv").exists() and (folder / "gaze.tsv").stat().st_size > 20_000
    ):
        time.sleep(0.1)
    killed_at = time.monotonic()  # CLOCK_MONOTONIC is shared by the processes of one machine
    process.kill()
    process.wait(timeout=10)
    samples = list(SessionReader(folder).samples())
    assert len(samples) > 100
    assert killed_at - samples[-1].t < 1.0, "at most the last second is lost"


def test_recording_over_a_session_is_refused(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "session.yaml").write_text("start_time: earlier\n")
    assert (
        main(
            [
                "run",
                "--camera",
                "none",
                "--tracker",
                "mock",
                "--record",
                str(tmp_path / "s"),
                "--headless",
                "--seconds",
                "1",
            ]
        )
        == 2
    )
    assert _error_line(capsys) == f"gazefusion: {tmp_path / 's'} already holds a session: record into a new folder"
    assert (tmp_path / "s" / "session.yaml").read_text() == "start_time: earlier\n"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_like_ctrl_c(real_server, tmp_path, signum):
    """A process manager's kill, a closed terminal: session.yaml gets its summary and end time,
    overlay.mp4 is complete (issue 15, item 3), against VLC's MJPEG stream."""
    server = real_server("vlc")
    folder = tmp_path / "s"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from gazefusion.fusion.cli import main; sys.exit(main())",
            "run",
            "--camera",
            server.url,
            "--tracker",
            "mock:1?rate=100",
            "--record",
            str(folder),
            "--headless",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (
        (folder / "frames.tsv").exists() and (folder / "frames.tsv").stat().st_size > 1500
    ):
        time.sleep(0.1)
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err.strip().splitlines()[-1] == f"gazefusion: stopped by {signal.Signals(signum).name}"
    header = yaml.safe_load((folder / "session.yaml").read_text())
    assert "end_time" in header and header["summary"]["frames"] > 10
    assert f"summary: {header['summary']['samples']} samples" in out
    assert SessionReader(folder).problems == []
    with av.open(str(folder / "overlay.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) > 10


# ------------------------------------------------------------------ Lab Streaming Layer


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--tracker", "lsl:{missing}?timeout=0.3"],
            "gazefusion: no LSL gaze stream with name '{missing}' found within 0.3 s",
        ),
        (["--tracker", "lsl:{strings}"], "gazefusion: LSL stream '{strings}' carries strings, not numbers"),
        (["--tracker", "lsl:color=red"], "gazefusion: tracker spec 'lsl:color=red': unknown stream property 'color'"),
        (["--tracker", "mock", "--lsl-markers", "{missing}"], "gazefusion: no LSL marker stream with name '{missing}'"),
        (
            ["--tracker", "mock", "--lsl", "--lsl-markers", "name="],
            "gazefusion: lsl.markers (--lsl-markers) 'name=': no stream",
        ),
        (["--tracker", "mock", "--lsl", "--lsl-wait", "soon"], "gazefusion: argument --lsl-wait: invalid float value"),
        (["--tracker", "mock", "--lsl", "--lsl-wait", "-1"], "gazefusion: configuration: lsl.wait_for_consumers_s: -1"),
    ],
    ids=[
        "no-stream",
        "string-stream",
        "bad-query",
        "no-marker-stream",
        "empty-marker-query",
        "wait-text",
        "wait-negative",
    ],
)
def test_lsl_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, expected):
    from tests.lslkit import open_outlet, stream_info, unique_name

    names = {"missing": unique_name("missing"), "strings": unique_name("strings")}
    outlet = open_outlet(stream_info(names["strings"], 1, 0.0, "string", kind="Markers"))
    filled = [arg.format(**names) for arg in args]
    code = main(["run", "--camera", "none", "--headless", "--seconds", "1", "--record", str(tmp_path / "s"), *filled])
    assert code == 2
    line = _error_line(capsys)
    assert line.startswith(expected.format(**names)), line
    assert not (tmp_path / "s" / "gaze.tsv").exists() or (tmp_path / "s" / "gaze.tsv").stat().st_size < 200
    del outlet


def test_lsl_without_pylsl_says_how_to_install_it(capsys, monkeypatch):
    import gazefusion.trackers.lsl as lsl_tracker

    monkeypatch.setattr(lsl_tracker, "_pylsl", None)
    monkeypatch.setattr(lsl_tracker, "_PYLSL_PROBLEM", "No module named 'pylsl'", raising=False)
    assert main(["run", "--camera", "none", "--tracker", "mock", "--headless", "--seconds", "1", "--lsl"]) == 2
    assert _error_line(capsys) == (
        "gazefusion: Lab Streaming Layer needs pylsl, which does not load here (No module named 'pylsl'): "
        "pip install 'gazefusion[lsl]'"
    )


@pytest.mark.slow
def test_run_lsl_with_the_demos_devices_is_received_by_an_independent_inlet(tmp_path):
    import math
    import socket

    from gazefusion.fusion.config import ScreenConfig
    from gazefusion.fusion.demo.devices import DemoDevices
    from gazefusion.fusion.demo.scene import DemoScene
    from tests.conftest import free_port
    from tests.lslkit import Collector, unique_name

    scene = DemoScene()
    library = scene.write_library(tmp_path / "scene")
    intrinsics = scene.write_intrinsics(tmp_path / "scene" / "intrinsics.yaml")
    listen = free_port(socket.SOCK_DGRAM)
    folder = tmp_path / "s"
    prefix = unique_name("demo")
    keys = ("gaze", "fixations", "looks", "looks_pose", "frames", "events")
    with DemoDevices(tmp_path / "truth.tsv", ScreenConfig().geometry(), listen) as devices:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from gazefusion.fusion.cli import main; sys.exit(main())",
                "run",
                "--camera",
                devices.url,
                "--tracker",
                f"iviewx://127.0.0.1:{devices.command_port}?listen={listen}",
                "--markers",
                str(library),
                "--intrinsics",
                str(intrinsics),
                "--aoi-deg",
                "4.5",
                "--record",
                str(folder),
                "--headless",
                "--seconds",
                "6",
                "--lsl",
                "--lsl-name",
                prefix,
                "--lsl-wait",
                "60",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            collectors = {key: Collector(f"{prefix}_{key}", timeout_s=60.0) for key in keys}
            out, err = process.communicate(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert f"LSL streams: {prefix}_gaze" in err
    got = {key: collector.stop() for key, collector in collectors.items()}
    reader = SessionReader(folder)
    offset = yaml.safe_load((folder / "session.yaml").read_text())["lsl"]["clock_offset_start_s"]
    samples = list(reader.samples())
    assert len(samples) == len(got["gaze"].rows) > 500  # 250 Hz for 6 s
    for row, stamp, sample in zip(got["gaze"].rows, got["gaze"].stamps, samples):
        assert [row[0], row[1], row[4], row[6]] == [sample.x, sample.y, float(sample.valid), sample.tracker_t] or (
            math.isnan(row[0]) and math.isnan(sample.x)
        )
        assert stamp == pytest.approx(sample.t + offset, abs=1e-9)
    fixations = reader.table("fixations.tsv")
    ends = [row for row in got["fixations"].rows if row[0] == 2.0]
    assert [int(row[1]) for row in ends] == [int(f["id"]) for f in fixations] and len(fixations) >= 3
    looks = reader.table("looks.tsv")
    assert got["looks"].rows == [[row["marker"], row["kind"], row["fixation_id"]] for row in looks]
    assert any(row["marker"] for row in looks)
    assert len(got["frames"].rows) == len(list(reader.frame_records())) > 20
