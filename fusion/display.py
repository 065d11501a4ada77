"""What the caller's thread does while a pipeline runs: the window, or the headless outputs.

:func:`run_in_foreground` is that loop, the same for ``gazefusion run`` and the demo.

The window (OpenCV) shows the camera's newest frame with the overlay, so it never makes the
pipeline fall behind. Keys: ``q``/Esc quit, space pause, ``1``-``4`` toggle the overlay layers
(gaze, AOI, marker outline and axes, label), ``m`` mark an event into the session (and to the
tracker via ``send_message``).

Headless runs with a recording write the overlay into ``overlay.mp4`` (real time, outages
marked, readable after a kill: see fusion.overlay_video) and a PNG of each look into ``looks/``.
"""

from __future__ import annotations

import logging
import math
import queue
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from gazefusion.fusion.api import CameraEvent, Pipeline
from gazefusion.fusion.core import LookEvent, OverlayState
from gazefusion.fusion.errors import DisplayError
from gazefusion.fusion.overlay import LAYERS, draw_overlay
from gazefusion.fusion.overlay_video import RealTimeVideo
from gazefusion.fusion.window import close_window, display_available, fit_window, open_window

log = logging.getLogger(__name__)

KEYS_HELP = "q/Esc quit, space pause, 1-4 toggle layers, m mark"
"""The window's keys, as the commands print them."""


def look_state(event: LookEvent) -> OverlayState:
    """The overlay of one look: its fixation centre as the gaze point, its AOI and marker."""
    fixation = event.look.fixation
    gaze = (fixation.cam_x, fixation.cam_y) if math.isfinite(fixation.cam_x) else None
    aoi = event.look.aoi if event.look.aoi[2] > 0 else None
    return OverlayState(gaze, False, fixation, aoi, event.look.hit)


class HeadlessOutputs:
    """The annotated video and the look snapshots of a headless run with a recording.

    Parameters
    ----------
    pipeline : Pipeline
        The running pipeline.
    directory : pathlib.Path
        The session folder.
    video : bool
        Write the annotated video. (default: True)
    snapshots : bool
        Write a PNG per look into ``looks/``. (default: True)
    """

    def __init__(self, pipeline: Pipeline, directory: Path, video: bool = True, snapshots: bool = True) -> None:
        self.pipeline = pipeline
        self.directory = Path(directory)
        self.video_enabled = video
        self.video: RealTimeVideo | None = None
        self.video_path: Path | None = None
        self.snapshots_written = 0
        self._last_index = -1
        self._looks: queue.Queue[LookEvent] | None = None
        self._outages: queue.Queue[CameraEvent] = queue.Queue()
        self._failed = False
        if snapshots:
            self._looks = queue.Queue()
        pipeline.on_event(self._on_event)

    @property
    def frames_written(self) -> int:
        """Frames in the annotated video so far."""
        return self.video.frames_written if self.video is not None else 0

    def _on_event(self, event: object) -> None:
        if isinstance(event, LookEvent) and event.kind != "end" and self._looks is not None:
            self._looks.put(event)
        elif isinstance(event, CameraEvent) and event.kind == "outage":
            self._outages.put(event)

    def _open_video(self, size: tuple[int, int], start_t: float) -> None:
        path = self.directory / "overlay.mp4"
        try:
            self.video, self.video_path = RealTimeVideo(path, size, start_t), path
        except (OSError, RuntimeError, ValueError) as exc:  # PyAV's errors derive from these
            log.warning("the annotated video is not written: %s", exc)
            self._failed = True

    def step(self, timeout_s: float = 0.05) -> None:
        """Write the newest frame (if new) with the overlay at its arrival time, mark outages,
        and write the snapshots of new looks."""
        frame = self.pipeline.latest_frame(newer_than=self._last_index, timeout_s=timeout_s)
        if frame is None and not self.pipeline.has_camera:
            time.sleep(timeout_s)
        try:
            if self.video_enabled and not self._failed:
                while not self._outages.empty():
                    outage = self._outages.get_nowait()
                    if self.video is not None:  # before the first picture there is nothing to hold
                        self.video.mark_gap(outage.t, f"camera outage: {outage.text}")
                if frame is not None:
                    self._last_index = frame.index
                    size = (frame.image.shape[1], frame.image.shape[0])
                    if self.video is None:
                        self._open_video(size, frame.t)
                    if self.video is not None:
                        image = draw_overlay(frame.image, self.pipeline.overlay_state, self.pipeline.intrinsics(size))
                        self.video.write(image, frame.t)
            self._write_snapshots()
        except (OSError, cv2.error, ValueError) as exc:
            log.warning("headless outputs stopped: %s", exc)
            self._failed = True

    def _write_snapshots(self) -> None:
        while self._looks is not None:
            try:
                event = self._looks.get_nowait()
            except queue.Empty:
                return
            frame = self.pipeline.frame(event.look.frame_index)
            if frame is None:
                continue
            size = (frame.image.shape[1], frame.image.shape[0])
            image = draw_overlay(
                frame.image,
                look_state(event),
                self.pipeline.intrinsics(size),
                status=f"fixation {event.fixation.id} frame {frame.index}",
            )
            folder = self.directory / "looks"
            folder.mkdir(exist_ok=True)
            name = f"fixation{event.fixation.id:05d}_{event.kind}_{event.marker_id or 'nothing'}.png"
            if cv2.imwrite(str(folder / name), image):
                self.snapshots_written += 1

    def close(self) -> None:
        """Write what is pending and close the video."""
        if not self._failed:
            try:
                self._write_snapshots()
            except (OSError, cv2.error):
                pass
        if self.video is not None:
            try:
                self.video.close(end_t=time.monotonic())
            except (OSError, ValueError) as exc:
                log.warning("closing the annotated video failed: %s", exc)
            self.video = None


class Display:
    """The OpenCV window over a running pipeline (call :meth:`run` on the main thread).

    Parameters
    ----------
    pipeline : Pipeline
        The running pipeline.
    fullscreen : bool
        Show the window full-screen. (default: False)
    echo : callable or None
        Where each key's effect is told (``picture paused ...``, ``layer gaze off``, ``mark 1 ...``),
        once the window shows it; None tells nothing. (default: None)
    """

    WINDOW = "gazefusion"
    #: Longest wait for a key or a new frame, ms.
    POLL_MS = 10
    #: The overlay is redrawn at least this often without a new frame (the gaze moves), s.
    REDRAW_S = 0.03

    def __init__(self, pipeline: Pipeline, fullscreen: bool = False, echo: Callable[[str], None] | None = None) -> None:
        if not display_available():
            raise DisplayError("no display to open a window on: run with --headless")
        self.pipeline = pipeline
        self.fullscreen = fullscreen
        self.echo = echo
        self.layers = set(LAYERS)
        self.paused = False
        self.marks = 0
        self._untold: list[str] = []

    def run(self, seconds: float | None = None) -> None:
        """Show frames until q/Esc, the window is closed, the time is up or the pipeline ends.

        The waiting is done in ``cv2.waitKey`` (not in the camera's wait), so keys and mouse
        moves are handled as they come: Qt keeps only the last key pressed between two polls.
        """
        open_window(self.WINDOW, self.fullscreen, self.pipeline.config.screen.size_px)
        deadline = None if seconds is None else time.monotonic() + seconds
        last_index = -1
        raw: np.ndarray | None = None
        overlay = self.pipeline.overlay_state
        shown_size: tuple[int, int] | None = None
        drawn_at = -math.inf
        redraw = True
        try:
            while not self.pipeline.finished and (deadline is None or time.monotonic() < deadline):
                if not self.paused:
                    frame = self.pipeline.latest_frame(newer_than=last_index, timeout_s=0)
                    if frame is not None:
                        last_index, raw, redraw = frame.index, frame.image, True
                    elif raw is None:
                        raw = np.zeros((480, 640, 3), np.uint8)  # no camera (yet): the gaze on black
                    redraw = redraw or time.monotonic() - drawn_at >= self.REDRAW_S  # the gaze moves between frames
                    overlay = self.pipeline.overlay_state  # paused: the picture keeps the overlay it had
                if redraw and raw is not None:
                    size = (raw.shape[1], raw.shape[0])
                    if size != shown_size:
                        self._view_changed(size)
                        shown_size = size
                    status = (
                        f"frame {last_index}"
                        if last_index >= 0
                        else "no camera"
                        if not self.pipeline.has_camera
                        else "waiting for the camera"
                    )
                    status += "  PAUSED" if self.paused else ""
                    cv2.imshow(
                        self.WINDOW,
                        draw_overlay(raw, overlay, self.pipeline.intrinsics(size), self.layers, status),
                    )
                    drawn_at, redraw = time.monotonic(), False
                key = cv2.waitKey(self.POLL_MS)
                self._tell()  # the last key's effect: drawn above, painted by that wait
                if not self._key(key & 0xFF if key >= 0 else -1) or not self._window_open():
                    break
                redraw = redraw or key >= 0  # a paused picture shows the keys' effect too
        finally:
            close_window(self.WINDOW)

    def _view_changed(self, size: tuple[int, int]) -> None:
        """A new image size: fit the window to it, tell a mouse tracker what the window shows."""
        if not self.fullscreen:
            fit_window(self.WINDOW, size)
        set_view = getattr(self.pipeline.tracker, "set_view", None)
        if set_view is not None:
            set_view(size)

    def _window_open(self) -> bool:
        """False once the user closed the window (its close button)."""
        try:
            return cv2.getWindowProperty(self.WINDOW, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def _key(self, key: int) -> bool:
        """Handle one key; False to quit."""
        if key in (ord("q"), 27):
            return False
        if key == ord(" "):
            self.paused = not self.paused
            self._untold.append(
                "picture paused (the run and the recording go on): space resumes" if self.paused else "picture resumed"
            )
        elif ord("1") <= key <= ord("4"):
            layer = LAYERS[key - ord("1")]
            self.layers ^= {layer}
            self._untold.append(f"layer {layer} {'on' if layer in self.layers else 'off'}")
        elif key == ord("m"):
            self.marks += 1
            self.pipeline.mark(f"key mark {self.marks}")
            self._untold.append(f"mark {self.marks}: key mark {self.marks}")
        return True

    def _tell(self) -> None:
        """Echo the effects of the keys handled so far."""
        if self.echo is not None:
            for line in self._untold:
                self.echo(line)
        self._untold.clear()


def run_in_foreground(
    pipeline: Pipeline,
    seconds: float | None = None,
    display: Display | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Show the window, or write the headless outputs, until the time is up, q or the pipeline ends.

    The pipeline is closed when this returns (before the outputs are, so the last looks'
    snapshots are written); call :meth:`Pipeline.stop` afterwards for its error and summary.

    Parameters
    ----------
    pipeline : Pipeline
        A started pipeline.
    seconds : float or None
        Stop after this long; None: until q, Ctrl-C or the end of the input. (default: None)
    display : Display or None
        The window, made before the pipeline started (so a missing display fails before anything
        opens); None makes it here unless the configuration says headless. (default: None)
    echo : callable
        Where the keys' help line goes (and, for a window made here, the keys' effects). (default: print)
    """
    config = pipeline.config.display
    if display is None and not config.headless:
        display = Display(pipeline, config.fullscreen, echo)
    if display is not None:
        echo(f"keys: {KEYS_HELP}")
        try:
            display.run(seconds)
        finally:
            pipeline.close()
        return
    outputs = None
    directory = pipeline.recording_dir
    if directory is not None and pipeline.has_camera and (config.annotated_video or config.look_snapshots):
        outputs = HeadlessOutputs(pipeline, directory, video=config.annotated_video, snapshots=config.look_snapshots)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while not pipeline.finished and (deadline is None or time.monotonic() < deadline):
            if outputs is not None:
                outputs.step(0.05)
            else:
                pipeline.wait(0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic())))
    finally:
        try:
            pipeline.close()  # before closing the writers: the last looks' snapshots get written
        finally:
            if outputs is not None:
                outputs.close()
