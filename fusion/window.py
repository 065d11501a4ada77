"""OpenCV windows as every interactive command opens them (the run's display, the calibrations).

OpenCV here is built with Qt. A window created by default gets Qt's toolbar and status bar
(pan, zoom, save), which take room, show the image at a size of Qt's choosing and let the
user zoom the view; these helpers open a plain window that keeps the image's aspect ratio,
sized to the image (or full-screen), and close it for real (Qt closes a window only once
its events are processed).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2

#: A resizable window without the toolbar and status bar, aspect ratio kept.
WINDOW_FLAGS = cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL

_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts")


def _qt_fonts() -> None:
    """Point Qt at the system fonts: the wheel's Qt looks in its own empty folder and warns per window."""
    if os.environ.get("QT_QPA_FONTDIR"):
        return
    for folder in _FONT_DIRS:
        if Path(folder).is_dir():
            os.environ["QT_QPA_FONTDIR"] = folder
            return


def display_available() -> bool:
    """Whether an OpenCV window can be opened here (a display and a GUI backend)."""
    return os.name == "nt" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_window(name: str, fullscreen: bool = False, screen_size_px: tuple[int, int] | None = None) -> None:
    """Create (or reuse) the window `name`: plain, aspect kept, optionally full-screen.

    Parameters
    ----------
    name : str
        Window title, the handle OpenCV knows it by.
    fullscreen : bool
        Cover the whole screen. (default: False)
    screen_size_px : tuple of int or None
        With `fullscreen`, the screen's size (width, height) px: the window is also placed at
        the top-left corner at that size, which is all a full-screen request does where no
        window manager handles it (a bare X server). (default: None)
    """
    _qt_fonts()
    cv2.namedWindow(name, WINDOW_FLAGS)
    if fullscreen:
        if screen_size_px is not None:
            cv2.moveWindow(name, 0, 0)
            cv2.resizeWindow(name, int(screen_size_px[0]), int(screen_size_px[1]))
        cv2.setWindowProperty(name, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)


def fit_window(name: str, size_px: tuple[int, int], max_size_px: tuple[int, int] = (1600, 900)) -> None:
    """Size a (not full-screen) window to show an image of `size_px` unscaled, or scaled down to fit.

    Parameters
    ----------
    name : str
        The window.
    size_px : tuple of int
        The image shown, (width, height) px.
    max_size_px : tuple of int
        The largest window, (width, height) px. (default: (1600, 900))
    """
    width, height = size_px
    scale = min(1.0, max_size_px[0] / width, max_size_px[1] / height)
    cv2.resizeWindow(name, max(1, round(width * scale)), max(1, round(height * scale)))


def close_window(name: str) -> None:
    """Destroy the window and let Qt process it, so it is gone when this returns."""
    try:
        cv2.destroyWindow(name)
    except cv2.error:  # already gone (closed with the mouse)
        return
    cv2.waitKey(1)
