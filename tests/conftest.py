"""Shared fixtures: free loopback ports, the ffmpeg MJPEG camera, real camera servers, the benchmark data, LSL on loopback."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.fusion.camera.servers import ServerProcess

REPO_ROOT = Path(__file__).resolve().parents[1]
LUND_DIR = REPO_ROOT.parent / "shared" / "data" / "lund2013"


def _lsl_on_loopback() -> None:
    """Keep liblsl on this machine, and this test run's streams apart from every other run's.

    liblsl reads its configuration once, at its first use, from the file ``LSLAPICFG`` names;
    set here, before any test, it holds for this process and every command a test starts.
    Resolving stays on the machine (ResolveScope machine: 127.0.0.1 only, no IPv6), and the
    session id is new per run, so parallel test runs on one machine never see each other's
    streams.
    """
    folder = Path(tempfile.mkdtemp(prefix="gazefusion-lsl-"))
    config = folder / "lsl_api.cfg"
    config.write_text(
        "[ports]\nIPv6 = disable\n"
        "[multicast]\nResolveScope = machine\n"
        f"[lab]\nSessionID = gazefusion-tests-{uuid.uuid4().hex}\n"
        "[log]\nlevel = -3\n",
        encoding="ascii",
    )
    os.environ["LSLAPICFG"] = str(config)
    atexit.register(shutil.rmtree, folder, True)


_lsl_on_loopback()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that is free now (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_tcp(port: int, timeout_s: float = 10.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


class FfmpegCamera:
    """ffmpeg serving an MJPEG test pattern over HTTP on loopback, like an IP camera.

    ffmpeg's ``-listen 1`` serves one client and then exits; `url` is where to read.
    """

    def __init__(self, size: str = "640x480", rate: int = 30, seconds: float | None = None) -> None:
        if shutil.which("ffmpeg") is None:
            raise RuntimeError("ffmpeg is not installed: tests/run installs it")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/stream"
        duration = ["-t", str(seconds)] if seconds else []
        self.process = subprocess.Popen(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={size}:rate={rate}",
                *duration,
                "-c:v",
                "mjpeg",
                "-q:v",
                "5",
                "-f",
                "mpjpeg",
                "-listen",
                "1",
                self.url,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_listening(self, timeout_s: float = 10.0) -> None:
        """Wait until ffmpeg's HTTP listener is bound (checked without connecting)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ffmpeg exited: {self.process.stderr.read().decode(errors='replace')}")
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", self.port))
                except OSError:
                    return
            time.sleep(0.05)
        raise TimeoutError("ffmpeg did not start listening")

    def stop(self) -> None:
        """Kill ffmpeg and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture
def ffmpeg_camera() -> Iterator[FfmpegCamera]:
    """A running ffmpeg MJPEG camera at 640x480, 30 fps, on a free loopback port."""
    camera = FfmpegCamera()
    try:
        camera.wait_listening()
        yield camera
    finally:
        camera.stop()


@pytest.fixture
def lund_dir() -> Path:
    """The Lund 2013 labelled data (../shared/data/lund2013 beside the repository).

    Skipped where the shared data is not beside the clone, as the real photographs are
    (tests/fusion/markers): a clone elsewhere runs every other test.
    """
    if not LUND_DIR.is_dir():
        pytest.skip(f"Lund 2013 data missing: {LUND_DIR}")
    return LUND_DIR


@pytest.fixture(scope="session")
def camera_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10 s, 15 fps, 320x240 MJPEG clip made by ffmpeg, for motion and VLC to serve."""
    from tests.fusion.camera.servers import make_clip

    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mkv")


@pytest.fixture
def real_server(tmp_path: Path, camera_clip: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start real camera servers for a test: ``real_server("motion", auth="digest")``,
    ``real_server("rtsp")``, ``real_server("vlc")``, ``real_server("vlc-rtsp")``, ``real_server("tcp")``; all stopped after it."""
    from tests.fusion.camera.servers import GstRtspServer, GstTcpServer, MotionServer, VlcMjpegServer, VlcRtspServer

    started: list[ServerProcess] = []

    def start(kind: str, **options: object) -> ServerProcess:
        folder = tmp_path / f"{kind}-{len(started)}"
        folder.mkdir()
        server: ServerProcess
        if kind == "motion":
            server = MotionServer(folder, camera_clip, **options)  # type: ignore[arg-type]
        elif kind == "rtsp":
            server = GstRtspServer(folder, **options)  # type: ignore[arg-type]
        elif kind == "vlc":
            server = VlcMjpegServer(folder, camera_clip)
        elif kind == "vlc-rtsp":
            server = VlcRtspServer(folder, camera_clip)
        elif kind == "tcp":
            server = GstTcpServer(folder, **options)  # type: ignore[arg-type]
        else:
            raise ValueError(kind)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
