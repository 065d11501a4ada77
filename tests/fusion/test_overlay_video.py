"""The annotated video (overlay.mp4): real time whatever the camera's rate, outages marked,
readable after SIGKILL (issue 15, items 2 and 3), against real camera servers."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from gazefusion.fusion.cli import main
from gazefusion.fusion.session import SessionReader

RUN = [sys.executable, "-c", "import sys; from gazefusion.fusion.cli import main; sys.exit(main())", "run"]


def video_times(path: Path) -> list[float]:
    """The presentation time of every frame in the video, s."""
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


def frame_times(folder: Path) -> list[float]:
    return [record.t for record in SessionReader(folder).frame_records()]


def test_frames_are_placed_at_their_arrival_times(tmp_path: Path) -> None:
    """A 15 fps, a 30 fps and an irregular camera: each video lasts as long as its frames took."""
    from gazefusion.fusion.overlay_video import RealTimeVideo

    rng = np.random.default_rng(1)
    for name, arrivals in {
        "15fps": np.arange(45) / 15.0,
        "30fps": np.arange(90) / 30.0,
        "irregular": np.cumsum(rng.uniform(0.02, 0.3, 30)),
    }.items():
        path = tmp_path / f"{name}.mp4"
        video = RealTimeVideo(path, (64, 48), start_t=100.0)
        for i, t in enumerate(arrivals):
            video.write(np.full((48, 64, 3), i % 250, np.uint8), 100.0 + t)
        video.close(end_t=100.0 + arrivals[-1] + 0.5)
        times = video_times(path)
        # the first picture opens the video (time 0), each next one at its arrival time after it
        assert np.allclose(np.subtract(times[: len(arrivals)], times[0]), arrivals - arrivals[0], atol=0.002), name
        assert times[-1] - times[0] == pytest.approx(arrivals[-1] + 0.5 - arrivals[0], abs=0.002), name


@pytest.mark.slow
def test_overlay_plays_in_real_time_with_the_outage_marked(real_server, tmp_path: Path, capsys) -> None:
    """VLC's 15 fps MJPEG, killed for a while mid-run: the video spans the run, not frames / 30."""
    server = real_server("vlc")
    folder = tmp_path / "s"
    outage = {}

    def kill_and_restart() -> None:
        time.sleep(2.5)
        outage["killed"] = time.monotonic()
        server.kill()
        time.sleep(2.0)
        server.start()
        outage["back"] = time.monotonic()

    thread = threading.Thread(target=kill_and_restart)
    thread.start()
    code = main(
        [
            "run",
            "--camera",
            server.url,
            "--tracker",
            "mock:1?rate=100",
            "--record",
            str(folder),
            "--headless",
            "--seconds",
            "8",
        ]
    )
    thread.join()
    assert code == 0, capsys.readouterr().err
    frames = frame_times(folder)
    times = video_times(folder / "overlay.mp4")
    span = frames[-1] - frames[0]
    # every frame at its arrival time, and the video runs on to the end of the run
    assert span - 0.01 <= times[-1] <= span + 1.5  # the hold to the stop: at most the last poll and close
    assert len(frames) > 40 and span > 5.0
    # the outage: no camera frame between the kill and the return, one marked picture held instead
    before = max(t for t in frames if t < outage["killed"]) - frames[0]
    after = min(t for t in frames if t > outage["killed"]) - frames[0]
    assert after - before > 1.5
    gap = [t for t in times if before + 0.001 < t < after - 0.001]
    assert len(gap) == 1
    with av.open(str(folder / "overlay.mp4")) as container:
        marked = next(f for f in container.decode(video=0) if abs(float(f.time) - gap[0]) < 0.001)
        band = marked.to_ndarray(format="bgr24")[2:10].reshape(-1, 3).mean(axis=0)
    assert band[2] > 150 and band[0] < 80  # red (BGR)


@pytest.mark.slow
def test_a_killed_run_leaves_a_video_up_to_its_last_second(real_server, tmp_path: Path) -> None:
    server = real_server("rtsp")
    folder = tmp_path / "s"
    process = subprocess.Popen(
        [*RUN, "--camera", server.url, "--tracker", "mock:1?rate=100", "--record", str(folder), "--headless"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(frame_times(folder) if (folder / "frames.tsv").exists() else []) < 60:
        time.sleep(0.2)
    time.sleep(1.0)
    killed_at = time.monotonic()
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=20)
    frames = frame_times(folder)
    times = video_times(folder / "overlay.mp4")  # OpenCV's mp4 here: "moov atom not found"
    assert len(times) > 30
    assert killed_at - frames[0] - times[-1] < 1.5, "the video lasts up to about its last second"
    problems = SessionReader(folder).problems
    assert any("no end time and no summary: the run was killed" in p for p in problems)
    replay = subprocess.run([*RUN[:-1], "replay", str(folder), "--fast"], capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    assert f"gazefusion: {folder}: session.yaml has no end time and no summary" in replay.stderr
