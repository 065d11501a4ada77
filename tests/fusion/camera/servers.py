"""Real camera servers that nobody here wrote, run as processes on loopback for the tests.

- `MotionServer`: motion (Debian's package), MJPEG over HTTP with no, basic or digest auth,
  its snapshot URL (``/ID/current``), and a wrong camera id that answers 200 with HTML.
- `GstRtspServer`: GStreamer's RTSP server (gst-rtsp-server through python3-gi, run by
  Debian's ``/usr/bin/python3``), H.264 or JPEG over RTP.
- `VlcMjpegServer`: VLC (``cvlc``) serving HTTP MJPEG with ``mime=multipart/x-mixed-replace``;
  `VlcRtspServer`: VLC's own RTSP server (H.264).
- `GstTcpServer`: ``gst-launch-1.0 … ! multipartmux ! tcpserversink``, a ``tcp://`` source.

Each can be killed and restarted on the same port, and paused and resumed (SIGSTOP/SIGCONT).
``tests/run`` installs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port, wait_for_tcp

HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-gi is installed
USER, PASSWORD = "operator", "hunter2-secret"


def make_clip(path: Path, seconds: float = 10.0, rate: int = 15, size: str = "320x240") -> Path:
    """An MJPEG Matroska test clip made by ffmpeg (the picture motion and VLC serve)."""
    if not path.exists():
        subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={size}:rate={rate}",
                "-t",
                str(seconds),
                "-c:v",
                "mjpeg",
                "-q:v",
                "5",
                str(path),
            ],
            check=True,
            timeout=60,
        )
    return path


class ServerProcess:
    """A server process on 127.0.0.1:`port` that can be killed, restarted, paused and resumed."""

    program = ""

    def __init__(self, port: int | None = None) -> None:
        if shutil.which(self.program) is None and not Path(self.program).exists():
            raise RuntimeError(f"{self.program} is not installed: tests/run installs it")
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def argv(self) -> list[str]:
        """The command line that starts the server."""
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        """The server's environment (None: inherited)."""
        return None

    def start(self, timeout_s: float = 20.0) -> ServerProcess:
        """Start the server and wait until it accepts connections."""
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env(), start_new_session=True
        )
        if log is not subprocess.DEVNULL:
            log.close()
        try:
            wait_for_tcp(self.port, timeout_s)
            if not wait_until(self.ready, timeout_s):
                raise TimeoutError
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.program} did not start listening on {self.port}: {self.log_tail()}") from None
        return self

    def ready(self) -> bool:
        """Whether the server serves (called after its port accepts connections)."""
        return True

    def log_tail(self) -> str:
        """The end of the server's log, for a failure message."""
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")[-2000:]
        return ""

    def kill(self) -> None:
        """SIGKILL the server (its process group) and reap it: the port closes at once."""
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self, timeout_s: float = 20.0) -> None:
        """Kill (if running) and start again on the same port."""
        self.kill()
        self.start(timeout_s)

    def pause(self) -> None:
        """SIGSTOP: the server stays connected and sends nothing (a stalled camera)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop for good (resumed first, so a paused server can die)."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.kill()


class MotionServer(ServerProcess):
    """motion 4.5 streaming a looping test clip as MJPEG over HTTP.

    Parameters
    ----------
    directory : Path
        Where the config, the log and motion's files go.
    clip : Path
        The MJPEG Matroska clip motion plays (``netcam_url file://``), looping.
    auth : {"none", "basic", "digest"}
        The stream's authentication (credentials `USER`, `PASSWORD`).
    camera_id : int
        The camera id in the URLs (``/ID/stream``, ``/ID/current``).
    """

    program = "motion"

    def __init__(self, directory: Path, clip: Path, auth: str = "none", camera_id: int = 7, rate: int = 15) -> None:
        super().__init__()
        self.directory = directory
        self.camera_id = camera_id
        self.log_path = directory / "motion.log"
        self.clip = clip
        self.auth = auth
        self.rate = rate
        self.config_path = directory / "motion.conf"

    def argv(self) -> list[str]:
        method = {"none": 0, "basic": 1, "digest": 2}[self.auth]
        directory = self.config_path.parent
        self.config_path.write_text(
            "\n".join(
                [
                    "daemon off",
                    "log_level 6",
                    f"target_dir {directory / 'out'}",
                    f"pid_file {directory / 'motion.pid'}",
                    f"netcam_url file://{self.clip}",
                    "width 320",
                    "height 240",
                    f"framerate {self.rate}",
                    "picture_output off",
                    "movie_output off",
                    "webcontrol_port 0",
                    f"stream_port {self.port}",
                    "stream_localhost on",
                    f"stream_maxrate {self.rate}",
                    f"stream_auth_method {method}",
                    f"stream_authentication {USER}:{PASSWORD}",
                    f"camera_id {self.camera_id}",
                    "",
                ]
            )
        )
        return ["motion", "-n", "-c", str(self.config_path)]

    def ready(self) -> bool:
        # Until its camera has a first picture, motion closes connections without a response.
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(f"GET {self.snapshot_path} HTTP/1.0\r\n\r\n".encode())
                return sock.recv(12).startswith(b"HTTP/1.")
        except OSError:
            return False

    def url(self, path: str, userinfo: str = "") -> str:
        """``http://[userinfo@]127.0.0.1:PORT/path``."""
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}{path}"

    @property
    def stream_url(self) -> str:
        """The MJPEG stream without credentials."""
        return self.url(self.stream_path)

    @property
    def stream_path(self) -> str:
        """The MJPEG stream's path."""
        return f"/{self.camera_id}/stream"

    @property
    def snapshot_path(self) -> str:
        """The current picture's path (one JPEG per request)."""
        return f"/{self.camera_id}/current"

    @property
    def wrong_id_path(self) -> str:
        """A stream path with a camera id motion does not have (200, no Content-Type, HTML)."""
        return f"/{self.camera_id + 1}/stream"


class GstRtspServer(ServerProcess):
    """GStreamer's RTSP server with a live 320x240 15 fps test pattern at ``rtsp://127.0.0.1:PORT/stream``."""

    program = SYSTEM_PYTHON

    def __init__(self, directory: Path, codec: str = "h264") -> None:
        super().__init__()
        self.codec = codec
        self.log_path = directory / "gst-rtsp.log"

    def argv(self) -> list[str]:
        return [SYSTEM_PYTHON, str(HERE / "gst_rtsp_server.py"), str(self.port), self.codec]

    def env(self) -> dict[str, str]:
        # Debian's python must not pick up the virtualenv's packages.
        return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}

    @property
    def stream_url(self) -> str:
        """The stream's URL."""
        return self.url

    @property
    def url(self) -> str:
        """The stream's URL."""
        return f"rtsp://127.0.0.1:{self.port}/stream"


class VlcMjpegServer(ServerProcess):
    """VLC remuxing a looping MJPEG clip to HTTP MJPEG (``mime=multipart/x-mixed-replace``).

    VLC refuses to run as root, so it runs as ``nobody`` where the tests run as root.
    """

    program = "cvlc"
    BOUNDARY = "--7b3cc56e5f51db803f790dad720ed50a"

    def __init__(self, directory: Path, clip: Path) -> None:
        super().__init__()
        # nobody must reach the clip and a home folder: a world-readable folder of their own
        self.shared = Path(tempfile.mkdtemp(prefix="gazefusion-vlc-"))
        self.shared.chmod(0o755)
        self.clip = Path(shutil.copy(clip, self.shared / clip.name))
        self.home = self.shared / "home"
        self.home.mkdir()
        self.home.chmod(0o777)
        self.log_path = directory / "vlc.log"

    def sout(self) -> str:
        """VLC's stream output chain."""
        return (
            f"#standard{{access=http{{mime=multipart/x-mixed-replace;boundary={self.BOUNDARY}}},"
            f"mux=mpjpeg,dst=127.0.0.1:{self.port}/stream}}"
        )

    def argv(self) -> list[str]:
        command = [
            "cvlc",
            "-q",
            "--intf",
            "dummy",
            "--no-audio",
            str(self.clip),
            "--loop",
            "--sout",
            self.sout(),
            "--sout-keep",
        ]
        if os.geteuid() == 0:
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        return command

    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home)}

    @property
    def stream_url(self) -> str:
        """The stream's URL."""
        return self.url

    @property
    def url(self) -> str:
        """The stream's URL."""
        return f"http://127.0.0.1:{self.port}/stream"

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.shared, ignore_errors=True)


class VlcRtspServer(VlcMjpegServer):
    """VLC transcoding the looping clip to H.264 and serving it over RTSP (its own RTSP server)."""

    def sout(self) -> str:
        return (
            "#transcode{vcodec=h264,venc=x264{preset=ultrafast,tune=zerolatency,keyint=15}}:"
            f"rtp{{sdp=rtsp://127.0.0.1:{self.port}/stream}}"
        )

    def ready(self) -> bool:
        # VLC answers DESCRIBE with 500 until its transcoder has the stream going
        request = f"DESCRIBE {self.url} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n".encode()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(request)
                return sock.recv(16).startswith(b"RTSP/1.0 200")
        except OSError:
            return False

    @property
    def url(self) -> str:
        """The stream's URL."""
        return f"rtsp://127.0.0.1:{self.port}/stream"


class GstTcpServer(ServerProcess):
    """``gst-launch-1.0 videotestsrc ! jpegenc ! multipartmux ! tcpserversink``: MJPEG over bare TCP."""

    program = "gst-launch-1.0"

    def __init__(self, directory: Path, rate: int = 15) -> None:
        super().__init__()
        self.rate = rate
        self.log_path = directory / "gst-tcp.log"

    def argv(self) -> list[str]:
        return [
            "gst-launch-1.0",
            "-q",
            "videotestsrc",
            "is-live=true",
            "pattern=ball",
            "!",
            f"video/x-raw,width=320,height=240,framerate={self.rate}/1",
            "!",
            "jpegenc",
            "!",
            "multipartmux",
            "!",
            "tcpserversink",
            "host=127.0.0.1",
            f"port={self.port}",
        ]

    @property
    def stream_url(self) -> str:
        """The stream's URL."""
        return self.url

    @property
    def url(self) -> str:
        """The stream's URL."""
        return f"tcp://127.0.0.1:{self.port}"


def wait_until(predicate, timeout_s: float = 20.0, step_s: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    """Poll `predicate` until it is true (True) or the time is up (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())
