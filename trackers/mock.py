"""Trackers with no network: scripted gaze, a replayed gaze table, the mouse.

- :class:`ScriptedTracker` samples a :class:`~gazefusion.trackers.script.GazeScript` at a
  chosen rate and eye, in real time (a producer thread) or as fast as the consumer takes it.
- :class:`ReplayTracker` plays a gaze table (a session's ``gaze.tsv`` or any table with
  ``t, x, y``) at its original timing times a speed factor, or as fast as consumed; read
  fast, it keeps the recorded ``t`` values, so a replay is deterministic.
- :class:`MouseTracker` makes gaze follow the mouse over the display window (OpenCV), for
  trying the pipeline without a tracker; it needs a display.
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2

from gazefusion.fusion.config import ScreenConfig, TrackerConfig
from gazefusion.fusion.errors import DisplayError, FileFormatError, GazefusionError, TrackerError
from gazefusion.fusion.window import open_window
from gazefusion.trackers.base import Tracker, binocular_sample, eye_gaze, monocular_sample
from gazefusion.trackers.gazetable import read_gaze_table
from gazefusion.trackers.script import GazeScript, ScriptedGaze
from gazefusion.trackers.spec import TRACKER_KINDS, bad_spec, positive_number, spec_options
from gazefusion.trackers.types import GazeSample, TrackerEvent

# Half the distance between the two eyes' gaze in a scripted binocular sample, px: the eyes
# differ a little, their mean is the script's gaze.
_VERGENCE_PX = 3.0
_PUPIL = 3.5


def scripted_sample(script: GazeScript, t: float, tracker_t: float, script_t: float, eye: str) -> GazeSample:
    """The sample a script gives at `script_t`, as `eye` (``"l"``, ``"r"`` or ``"b"``).

    Parameters
    ----------
    script : GazeScript
        The gaze.
    t : float
        Host arrival time, s.
    tracker_t : float
        Tracker clock, s.
    script_t : float
        Time since the start of streaming, s.
    eye : str
        Which eye(s) the sample carries.
    """
    x, y, valid = script(script_t)
    if not valid:
        x = y = math.nan
    if eye == "b":
        return binocular_sample(
            t, tracker_t, eye_gaze(x - _VERGENCE_PX, y, _PUPIL), eye_gaze(x + _VERGENCE_PX, y, _PUPIL)
        )
    return monocular_sample(t, tracker_t, eye, eye_gaze(x, y, _PUPIL))


class ScriptedTracker(Tracker):
    """A tracker that samples a gaze script.

    Parameters
    ----------
    script : GazeScript
        Where the eye looks, as a function of time since the start of streaming.
    rate_hz : float
        Sample rate, Hz. (default: 500.0)
    eye : str
        ``"l"``, ``"r"`` or ``"b"`` (binocular). (default: "b")
    realtime : bool
        True: samples come at `rate_hz` on the host clock from a thread. False: each
        :meth:`get_sample` makes the next one at once, ``t`` = start time + tracker time.
        (default: True)
    duration_s : float or None
        End the stream after this long (tracker time); None: endless. (default: None)
    queue_samples : int
        Bounded buffer, samples. (default: 200000)
    """

    def __init__(
        self,
        script: GazeScript,
        rate_hz: float = 500.0,
        eye: str = "b",
        realtime: bool = True,
        duration_s: float | None = None,
        queue_samples: int = 200_000,
    ) -> None:
        if eye not in ("l", "r", "b"):
            raise TrackerError(f"mock tracker: eye must be l, r or b, got {eye!r}")
        if not rate_hz > 0:
            raise TrackerError(f"mock tracker: rate must be a positive number of Hz, got {rate_hz!r}")
        super().__init__(sample_rate_hz=rate_hz, queue_samples=queue_samples)
        self.script = script
        self.eye = eye
        self.realtime = realtime
        self.duration_s = duration_s
        self._pull_mode = not realtime
        self._index = 0
        self._t0 = math.nan
        self._first = 0
        self._run = threading.Event()
        self.description = f"mock ({'real time' if realtime else 'fast'}, {rate_hz:g} Hz, eye {eye})"

    def _n_total(self) -> float:
        return math.inf if self.duration_s is None else math.floor(self.duration_s * self.sample_rate_hz)

    def _make(self, t: float) -> GazeSample:
        tracker_t = self._index / self.sample_rate_hz
        sample = scripted_sample(
            self.script, t if self.realtime else self._t0 + tracker_t, tracker_t, tracker_t, self.eye
        )
        self._index += 1
        return sample

    def _start(self) -> None:
        self._t0, self._first = time.monotonic(), self._index
        self._run.set()
        if self.realtime and not self._threads:
            self._spawn(self._produce, "gazefusion-mock")

    def _stop(self) -> None:
        self._run.clear()

    def _close(self) -> None:
        self._run.clear()

    def _pull(self) -> bool:
        if self._index >= self._n_total():
            return False
        self._push_sample(self._make(0.0))
        return True

    def _produce(self) -> None:
        period = 1.0 / self.sample_rate_hz
        total = self._n_total()
        while not self._closed:
            if not self._run.wait(0.1):
                continue
            now = time.monotonic()
            due = min(self._first + int((now - self._t0) * self.sample_rate_hz) + 1, total)
            while self._index < due:
                self._push_sample(self._make(now))
            if self._index >= total:
                self._end_of_stream()
                return
            time.sleep(min(period, 0.005))

    def tracker_time(self) -> float:
        """The script's clock, s."""
        if self.realtime:
            return super().tracker_time()
        return self._index / self.sample_rate_hz


def _gaze_path(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "gaze.tsv"
    if not path.exists():
        raise FileFormatError(f"replay: no gaze table at {path}: give a session folder or a gaze .tsv")
    return path


class ReplayTracker(Tracker):
    """A tracker that plays back a gaze table.

    Parameters
    ----------
    path : str or pathlib.Path
        A session folder (its ``gaze.tsv``) or a gaze table.
    speed : float or None
        Play at the recorded timing divided by this factor (2.0 is twice as fast), with host
        arrival times; None: as fast as consumed, keeping the recorded ``t``. (default: None)
    queue_samples : int
        Bounded buffer, samples. (default: 200000)
    """

    def __init__(self, path: str | Path, speed: float | None = None, queue_samples: int = 200_000) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise TrackerError(f"replay: speed must be a positive number, got {speed!r}")
        super().__init__(queue_samples=queue_samples)
        self.path = _gaze_path(path)
        self.speed = speed
        self._pull_mode = speed is None
        self._rows: Iterator[GazeSample] = iter(())
        self._run = threading.Event()
        self.description = f"replay of {self.path} ({'fast' if speed is None else f'speed {speed:g}'})"

    def _open(self) -> None:
        rows = read_gaze_table(self.path)
        head = list(itertools.islice(rows, 200))
        steps = [b.tracker_t - a.tracker_t for a, b in zip(head, head[1:]) if b.tracker_t > a.tracker_t]
        if steps:
            self.sample_rate_hz = 1.0 / statistics.median(steps)
        self._rows = itertools.chain(head, rows)

    def _start(self) -> None:
        self._run.set()
        if not self._pull_mode and not self._threads:
            self._spawn(self._produce, "gazefusion-replay")

    def _stop(self) -> None:
        self._run.clear()

    def _close(self) -> None:
        self._run.clear()

    def _pull(self) -> bool:
        sample = next(self._rows, None)
        if sample is None:
            return False
        self._push_sample(sample)
        return True

    def _produce(self) -> None:
        assert self.speed is not None
        host0 = rec0 = math.nan
        try:
            for sample in self._rows:
                while not self._run.wait(0.1):
                    if self._closed:
                        return
                if self._closed:
                    return
                if host0 != host0:
                    host0, rec0 = time.monotonic(), sample.t
                delay = host0 + (sample.t - rec0) / self.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._push_sample(sample._replace(t=time.monotonic()))
        except GazefusionError as exc:
            self._event(TrackerEvent(time.monotonic(), "error", (("text", str(exc)),)))
        self._end_of_stream()

    def tracker_time(self) -> float:
        """The recorded tracker clock of the latest sample when fast; estimated otherwise."""
        if self.speed is None:
            latest = self._latest
            return math.nan if latest is None else latest.tracker_t
        return super().tracker_time()


def window_to_screen(
    x: float, y: float, view_size_px: tuple[int, int], screen_size_px: tuple[int, int]
) -> tuple[float, float, bool]:
    """Map a mouse position in the window's image to tracker screen px.

    The image stands for the tracked screen showing the camera view full-screen: scaled to
    fit, centred, aspect kept (as ``TrackerCameraMapping.fullscreen`` and the calibration
    window show it), so with the default mapping the gaze lands where the mouse is.

    Parameters
    ----------
    x, y : float
        Mouse position in the image shown in the window, px.
    view_size_px : tuple of int
        Size of that image (width, height), px.
    screen_size_px : tuple of int
        The tracked screen (width, height), px.

    Returns
    -------
    tuple
        (x px, y px, inside): `inside` is False when the mouse is off the image.
    """
    vw, vh = view_size_px
    sw, sh = screen_size_px
    scale = min(sw / vw, sh / vh)
    inside = 0 <= x < vw and 0 <= y < vh
    return x * scale + (sw - vw * scale) / 2, y * scale + (sh - vh * scale) / 2, inside


def have_display() -> bool:
    """Whether a window can be opened (an X11 or Wayland display on Linux; assumed elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class MouseTracker(Tracker):
    """Gaze follows the mouse over a named OpenCV window.

    The window's owner (the display) must call ``cv2.waitKey`` for mouse events to arrive;
    it tells the tracker the size of the image it shows with :meth:`set_view`.

    Parameters
    ----------
    screen_size_px : tuple of int
        The tracked screen, px.
    window_name : str
        The OpenCV window to follow. (default: "gazefusion")
    rate_hz : float
        Sample rate, Hz. (default: 60.0)
    queue_samples : int
        Bounded buffer, samples. (default: 200000)
    """

    def __init__(
        self,
        screen_size_px: tuple[int, int],
        window_name: str = "gazefusion",
        rate_hz: float = 60.0,
        queue_samples: int = 200_000,
    ) -> None:
        super().__init__(sample_rate_hz=rate_hz, queue_samples=queue_samples)
        self.screen_size_px = screen_size_px
        self.window_name = window_name
        self.view_size_px = screen_size_px
        self._mouse: tuple[float, float] | None = None
        self._run = threading.Event()
        self.description = f"mouse over window {window_name!r}"

    def set_view(self, view_size_px: tuple[int, int]) -> None:
        """Tell the size of the image shown in the window.

        Parameters
        ----------
        view_size_px : tuple[int, int]
            (width, height) px.
        """
        self.view_size_px = view_size_px

    def _on_mouse(self, event: int, x: int, y: int, flags: int, param: object) -> None:
        self._mouse = (float(x), float(y))

    def _open(self) -> None:
        if not have_display():
            raise DisplayError(
                "the mouse tracker needs a window, and there is no display here "
                "(DISPLAY is not set): use --tracker mock or run with a display"
            )
        try:
            open_window(self.window_name)
            cv2.setMouseCallback(self.window_name, self._on_mouse)
        except cv2.error as exc:
            raise DisplayError(f"the mouse tracker needs a window, and OpenCV cannot open one: {exc.msg}") from None

    def _start(self) -> None:
        self._run.set()
        if not self._threads:
            self._spawn(self._produce, "gazefusion-mouse")

    def _stop(self) -> None:
        self._run.clear()

    def _close(self) -> None:
        self._run.clear()

    def _produce(self) -> None:
        period = 1.0 / self.sample_rate_hz
        t0 = time.monotonic()
        while not self._closed:
            if not self._run.wait(0.1):
                continue
            now = time.monotonic()
            mouse = self._mouse
            if mouse is None:
                sample = monocular_sample(now, now - t0, "r", eye_gaze(math.nan, math.nan))
            else:
                x, y, inside = window_to_screen(mouse[0], mouse[1], self.view_size_px, self.screen_size_px)
                gaze = eye_gaze(x, y) if inside else eye_gaze(math.nan, math.nan)
                sample = monocular_sample(now, now - t0, "r", gaze)
            self._push_sample(sample)
            time.sleep(period)


@TRACKER_KINDS.register("mock", help="mock[:SEED][?rate=HZ&eye=l|r|b&fast]")
def open_mock(spec: str, rest: str, config: TrackerConfig, screen: ScreenConfig) -> ScriptedTracker:
    """Scripted gaze over the screen, seeded."""
    seed_text, _, query = rest.partition("?")
    try:
        seed = int(seed_text) if seed_text else 0
    except ValueError:
        raise bad_spec(spec, f"seed {seed_text!r} is not an integer") from None
    options = spec_options(spec, query, ("rate", "eye", "fast"))
    rate = positive_number(spec, "rate", options["rate"]) if "rate" in options else float(config.stream_rate_hz or 500)
    eye = options.get("eye", "b")
    if eye not in ("l", "r", "b"):
        raise bad_spec(spec, f"eye={eye!r} must be l, r or b")
    script = ScriptedGaze(screen.geometry(), seed=seed)
    return ScriptedTracker(
        script, rate_hz=rate, eye=eye, realtime="fast" not in options, queue_samples=config.queue_samples
    )


@TRACKER_KINDS.register("replay", help="replay:SESSION_DIR_OR_GAZE_TSV[?speed=X|fast]")
def open_replay(spec: str, rest: str, config: TrackerConfig, screen: ScreenConfig) -> ReplayTracker:
    """A session's (or any) gaze table, at its timing or as fast as consumed."""
    path, query = rest, ""
    head, sep, tail = rest.rpartition("?")
    if sep and (tail == "fast" or tail.startswith("speed=")):
        path, query = head, tail
    if not path:
        raise bad_spec(spec, "no session folder or gaze table")
    options = spec_options(spec, query, ("speed", "fast"))
    speed: float | None = 1.0
    if "fast" in options:
        speed = None
    elif "speed" in options:
        speed = None if options["speed"] == "fast" else positive_number(spec, "speed", options["speed"])
    return ReplayTracker(path, speed=speed, queue_samples=config.queue_samples)


@TRACKER_KINDS.register("mouse", help="mouse")
def open_mouse(spec: str, rest: str, config: TrackerConfig, screen: ScreenConfig) -> MouseTracker:
    """Gaze that follows the mouse over the display window."""
    if rest:
        raise bad_spec(spec, "unknown tracker")
    return MouseTracker(screen.size_px, rate_hz=float(config.stream_rate_hz or 60), queue_samples=config.queue_samples)
