"""The AOI drawing window (``gazefusion aois``): click polygons on marker pictures, name them.

One marker picture at a time (shown at least `~gazefusion.fusion.analysis.editor` size for
comfortable clicking): left-click the corners of a region, Enter closes it, type its name,
Enter keeps it. Backspace takes back the last corner or letter, Esc drops the region being
drawn, ``u`` removes the last region, ``n`` goes to the next marker, ``q`` (or closing the
window) writes the AOI file and ends. AOIs already in the file are shown and kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2

from gazefusion.fusion.analyse import load_pictures
from gazefusion.fusion.analysis.aois import Aoi, load_aoi_file, write_aoi_file
from gazefusion.fusion.analysis.editor import AoiEditor
from gazefusion.fusion.analysis.pictures import PRINT_SIDE_PX
from gazefusion.fusion.errors import DisplayError, FileFormatError
from gazefusion.fusion.window import close_window, display_available, fit_window, open_window

WINDOW = "gazefusion aois"
#: Longest wait for a key between redraws, ms.
POLL_MS = 20


def _visible() -> bool:
    try:
        return cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) >= 1
    except cv2.error:
        return False


def edit_one(editor: AoiEditor) -> str:
    """Show one editor until ``n`` (returns "next") or ``q`` / the window closed ("quit")."""
    open_window(WINDOW)
    image = editor.render()
    fit_window(WINDOW, (image.shape[1], image.shape[0]))

    def on_mouse(event: int, x: int, y: int, flags: int, param: object) -> None:
        if event == cv2.EVENT_LBUTTONDOWN:
            editor.click(float(x), float(y))

    cv2.setMouseCallback(WINDOW, on_mouse)
    while True:
        cv2.imshow(WINDOW, editor.render())
        code = cv2.waitKey(POLL_MS)
        if not _visible():
            return "quit"
        if code < 0:
            continue
        code &= 0xFF
        if editor.naming is None and not editor.vertices and code in (ord("n"), ord("q")):
            return "next" if code == ord("n") else "quit"
        editor.key(code)


def draw_aois(library: str | Path, out: str | Path, markers: Sequence[str] = ()) -> dict[str, list[Aoi]]:
    """Open the window over a library's pictures and write what is drawn to `out` (a YAML AOI file).

    Parameters
    ----------
    library : str or pathlib.Path
        The marker library file.
    out : str or pathlib.Path
        The AOI file to write (its AOIs, if it exists, are shown and kept).
    markers : Sequence[str]
        Only these markers, in this order; empty: every marker of the library. (default: ())

    Raises
    ------
    DisplayError
        No display.
    FileFormatError
        An unreadable library or AOI file, a marker the library lacks.
    """
    if not display_available():
        raise DisplayError("no display to open the AOI window on: draw AOIs on a machine with a screen")
    out = Path(out)
    pictures = load_pictures(Path(library), out if out.is_file() else None)
    unknown = [marker for marker in markers if marker not in pictures.pictures]
    if unknown:
        raise FileFormatError(f"marker {unknown[0]!r} is not in {library} (it has {', '.join(pictures.pictures)})")
    drawn = {marker: list(aois) for marker, aois in (load_aoi_file(out).items() if out.is_file() else ())}
    try:
        for marker in markers or list(pictures.pictures):
            picture = pictures.pictures[marker]
            scale = max(1.0, PRINT_SIDE_PX / max(picture.shape[:2]))
            editor = AoiEditor(marker, picture, pictures.aois[marker], scale)
            outcome = edit_one(editor)
            drawn[marker] = editor.aois
            if outcome == "quit":
                break
    finally:
        close_window(WINDOW)
    write_aoi_file(out, {marker: aois for marker, aois in drawn.items() if aois})
    return drawn
