"""FFmpeg's and OpenCV's own stderr lines go through gazefusion's logging (issue 15, item 7).

`gazefusion probe` runs as a process against GStreamer's RTSP server with a path it does not
serve: FFmpeg writes ``[rtsp @ 0x…] method DESCRIBE failed: 404 (Not Found)`` and OpenCV its
``[ WARN:…]`` lines straight to descriptor 2.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = [sys.executable, "-c", "import sys; from gazefusion.fusion.cli import main; sys.exit(main())"]


def probe_stderr(url: str, *flags: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [*PROBE, *flags, "probe", url, "--frames", "2", "--timeout", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stderr.splitlines()


@pytest.mark.parametrize("verbose", [False, True], ids=["default", "verbose"])
def test_ffmpeg_and_opencv_lines_are_logged(real_server, verbose: bool) -> None:
    server = real_server("rtsp")
    url = f"rtsp://operator:secret-pw@127.0.0.1:{server.port}/no-such-path"
    code, lines = probe_stderr(url, *(["-v"] if verbose else []))
    assert code == 2
    assert all(line.startswith("gazefusion: ") for line in lines), lines
    assert lines[-1] == (
        f"gazefusion: camera rtsp://***@127.0.0.1:{server.port}/no-such-path: OpenCV could not open the stream"
    )
    ffmpeg = [line for line in lines if "method DESCRIBE failed: 404 (Not Found)" in line]
    if verbose:
        assert ffmpeg and ffmpeg[0].startswith("gazefusion: [rtsp @ 0x")
    else:
        assert lines == lines[-1:]
    assert not any("secret-pw" in line for line in lines)
