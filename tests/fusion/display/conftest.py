"""A real X display for the window tests: Xvfb on a free display number, driven with xdotool.

The commands under test run as subprocesses with ``DISPLAY`` set to it (OpenCV's Qt keeps its
connection for the life of a process, so no window is ever opened in the test process).
Screenshots come from ffmpeg's x11grab. Apt packages: ``xvfb xdotool`` (and ffmpeg, which the
camera tests need anyway). Without the ``Xvfb`` binary these tests are skipped.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pytest

#: The virtual screen: the default configuration's ``screen.size_px``, so full-screen
#: windows are the size the calibration places its targets for.
SCREEN_SIZE_PX = (1920, 1080)
GAZEFUSION = [sys.executable, "-c", "import sys; from gazefusion.fusion.cli import main; sys.exit(main())"]


class XDisplay:
    """A running Xvfb: `env` for subprocesses, xdotool and screenshots on it."""

    def __init__(self, number: int, process: subprocess.Popen) -> None:
        self.number = number
        self.name = f":{number}"
        self.process = process
        self.env = {**os.environ, "DISPLAY": self.name}
        self.env.pop("WAYLAND_DISPLAY", None)

    def xdotool(self, *args: str, timeout_s: float = 20.0) -> str:
        """Run xdotool on this display; its stdout."""
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise AssertionError(f"xdotool {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def wait_window(self, name: str, command: Command | None = None, timeout_s: float = 30.0) -> int:
        """The id of the visible window titled exactly `name`, waiting for it to appear."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if command is not None and command.process.poll() is not None:
                code, _, err = command.finish()
                raise AssertionError(f"the command ended (exit {code}) before its window appeared: {err}")
            done = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", f"^{name}$"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=10,
            )
            if done.stdout.split():
                return int(done.stdout.split()[0])
            time.sleep(0.1)
        raise AssertionError(f"no window {name!r} within {timeout_s:g} s")

    def window_exists(self, name: str) -> bool:
        """Whether a window titled exactly `name` is mapped."""
        done = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", f"^{name}$"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return bool(done.stdout.split())

    def geometry(self, window: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a window on the screen, px."""
        values = dict(line.split("=", 1) for line in self.xdotool("getwindowgeometry", "--shell", str(window)).split())
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def key(self, window: int, *keys: str) -> None:
        """Focus `window` and press `keys`, 100 ms apart (Qt keeps one key per poll)."""
        self.xdotool("windowfocus", "--sync", str(window))
        self.xdotool("key", "--delay", "100", *keys)

    def screenshot(
        self, x: int = 0, y: int = 0, width: int = SCREEN_SIZE_PX[0], height: int = SCREEN_SIZE_PX[1]
    ) -> np.ndarray:
        """A BGR image of that part of the screen (ffmpeg x11grab)."""
        done = subprocess.run(
            [
                "ffmpeg",
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "x11grab",
                "-video_size",
                f"{width}x{height}",
                "-i",
                f"{self.name}+{x},{y}",
                "-frames:v",
                "1",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "bgr24",
                "-",
            ],
            capture_output=True,
            timeout=20,
            env=self.env,
        )
        if done.returncode != 0 or len(done.stdout) != width * height * 3:
            raise AssertionError(f"screenshot failed: {done.stderr.decode(errors='replace').strip()}")
        return np.frombuffer(done.stdout, np.uint8).reshape(height, width, 3)

    def grab_window(self, window: int) -> np.ndarray:
        """A screenshot of one window's area."""
        return self.screenshot(*self.geometry(window))


@pytest.fixture(scope="session")
def xserver() -> Iterator[XDisplay]:
    """Xvfb at 1920x1080 on a display number it picks itself (``-displayfd``)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb xdotool): the window tests need a virtual display")
    read_fd, write_fd = os.pipe()
    width, height = SCREEN_SIZE_PX
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        number = b""
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(read_fd, 16) if ready else b""
            if not chunk:
                raise RuntimeError(
                    f"Xvfb did not start: {process.stderr.read().decode(errors='replace') if process.poll() is not None else 'timeout'}"
                )
            number += chunk
        yield XDisplay(int(number), process)
    finally:
        os.close(read_fd)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.fixture
def xdisplay(xserver: XDisplay) -> XDisplay:
    """The display, the pointer parked in the bottom-right corner (off any window a test opens)."""
    xserver.xdotool("mousemove", str(SCREEN_SIZE_PX[0] - 1), str(SCREEN_SIZE_PX[1] - 1))
    return xserver


class Command:
    """``gazefusion ARGS`` running on the display; its stdout lines collected as they come.

    Parameters
    ----------
    display : XDisplay
        Where its windows open.
    args : list[str]
        The command line after ``gazefusion``.
    cwd : pathlib.Path
        Working folder.
    """

    def __init__(self, display: XDisplay, args: list[str], cwd: Path) -> None:
        self.display = display
        self.process = subprocess.Popen(
            [*GAZEFUSION, *args],
            env=display.env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.err_lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout, self.lines), daemon=True)
        self._err_reader = threading.Thread(target=self._read, args=(self.process.stderr, self.err_lines), daemon=True)
        self._reader.start()
        self._err_reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:
            lines.append(line.rstrip("\n"))

    def stderr_so_far(self) -> str:
        """What the command wrote to stderr until now."""
        return "\n".join(self.err_lines)

    def wait_line(self, prefix: str, timeout_s: float = 20.0, after: int = 0) -> str:
        """The first stdout line starting with `prefix` (from line `after` on), waiting for it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if line.startswith(prefix):
                    return line
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no line {prefix!r} on stdout: {self.lines[-5:]}")

    def press(self, window: int, key: str, told: str, timeout_s: float = 30.0) -> None:
        """Press one key in `window` and wait until the command tells its effect (a line
        starting with `told`): the window shows it by then, and the next key cannot be lost
        to Qt keeping one key per poll."""
        after = len(self.lines)
        self.display.key(window, key)
        self.wait_line(told, timeout_s, after)

    def finish(self, timeout_s: float = 60.0) -> tuple[int, str, str]:
        """Wait for the command to end: (exit code, stdout, stderr); killed if it hangs."""
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the command did not end within {timeout_s:g} s") from None
        self._reader.join(10)
        self._err_reader.join(10)
        return self.process.returncode, "\n".join(self.lines), self.stderr_so_far()

    def kill(self) -> None:
        """Kill it if it still runs, and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Poll `condition` every 0.1 s until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.1)
