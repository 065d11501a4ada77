"""Drawing AOIs on a marker picture: the editor's state and picture, without a window.

The window (:mod:`gazefusion.fusion.aoiwindow`) feeds it clicks in picture px and key codes
and shows :meth:`AoiEditor.render`. A user clicks a polygon's vertices, presses Enter to
close it, types its name and presses Enter again; Backspace takes back the last vertex (or
letter), ``u`` removes the last AOI, Esc drops the polygon being drawn.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from gazefusion.fusion.analysis.aois import WHOLE, Aoi, self_crossing
from gazefusion.fusion.analysis.pictures import draw_aois

KEY_ENTER = (10, 13)
KEY_BACKSPACE = (8, 127)
KEY_ESCAPE = 27

_DRAFT = (60, 60, 255)


class AoiEditor:
    """The AOIs of one marker picture being drawn.

    Parameters
    ----------
    marker_id : str
        The marker.
    picture : numpy.ndarray
        Its picture (BGR).
    aois : Sequence[Aoi]
        AOIs drawn before (kept, shown). (default: ())
    scale : float
        The picture is shown this many times its size (clicks come in shown px). (default: 1.0)
    """

    def __init__(self, marker_id: str, picture: np.ndarray, aois: Sequence[Aoi] = (), scale: float = 1.0) -> None:
        self.marker_id = marker_id
        self.picture = picture
        self.scale = float(scale)
        self.aois: list[Aoi] = [aoi for aoi in aois if aoi.name != WHOLE]
        self.vertices: list[tuple[float, float]] = []
        self.naming: str | None = None
        self.message = "click the corners of a region, Enter to close it"

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the picture, px."""
        return self.picture.shape[1], self.picture.shape[0]

    def click(self, x_shown: float, y_shown: float) -> None:
        """A left click at shown px: a vertex (ignored while naming or outside the picture)."""
        if self.naming is not None:
            return
        x, y = x_shown / self.scale - 0.5, y_shown / self.scale - 0.5
        width, height = self.size
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            return
        self.vertices.append((round(x, 1), round(y, 1)))
        self.message = f"{len(self.vertices)} vertices; Enter closes the region, Backspace takes one back"

    def key(self, code: int) -> None:
        """A key press (an OpenCV key code)."""
        if self.naming is not None:
            self._name_key(code)
        elif code in KEY_ENTER:
            self._close()
        elif code in KEY_BACKSPACE and self.vertices:
            self.vertices.pop()
        elif code == KEY_ESCAPE and self.vertices:
            self.vertices = []
            self.message = "region dropped"
        elif code == ord("u") and self.aois:
            removed = self.aois.pop()
            self.message = f"removed {removed.name!r}"

    def _close(self) -> None:
        if len(self.vertices) < 3:
            self.message = "a region needs at least 3 vertices"
            return
        vertices = np.asarray(self.vertices, np.float64)
        if self_crossing(vertices) is not None:
            self.message = "that region crosses itself: Backspace and click its corners in order"
            return
        if abs(cv2.contourArea(vertices.astype(np.float32))) < 1.0:
            self.message = "that region encloses no area"
            return
        self.naming = ""
        self.message = "type its name, Enter to keep it, Esc to drop it"

    def _name_key(self, code: int) -> None:
        assert self.naming is not None
        if code in KEY_ENTER:
            name = self.naming.strip() or f"aoi{len(self.aois) + 1}"
            if name == WHOLE or any(aoi.name == name for aoi in self.aois):
                self.message = f"{name!r} is taken: type another name"
                return
            self.aois.append(Aoi(name=name, polygon=tuple(self.vertices)))
            self.vertices, self.naming = [], None
            self.message = f"kept {name!r}; click the next region, n next marker, q save and quit"
        elif code == KEY_ESCAPE:
            self.vertices, self.naming = [], None
            self.message = "region dropped"
        elif code in KEY_BACKSPACE:
            self.naming = self.naming[:-1]
        elif 32 <= code < 127:
            self.naming += chr(code)

    def render(self) -> np.ndarray:
        """The picture at its shown size with the AOIs, the region being drawn and a status line."""
        width, height = self.size
        image = cv2.resize(
            self.picture, (round(width * self.scale), round(height * self.scale)), interpolation=cv2.INTER_NEAREST
        )
        draw_aois(image, self.aois, self.scale)
        points = [(round((x + 0.5) * self.scale), round((y + 0.5) * self.scale)) for x, y in self.vertices]
        if len(points) > 1:
            cv2.polylines(image, [np.array(points, np.int32)], self.naming is not None, _DRAFT, 2, cv2.LINE_AA)
        for point in points:
            cv2.circle(image, point, 4, _DRAFT, -1, cv2.LINE_AA)
        status = self.message if self.naming is None else f"name: {self.naming}_   ({self.message})"
        bar = np.full((30, image.shape[1], 3), 32, np.uint8)
        cv2.putText(
            bar, f"{self.marker_id}: {status}", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA
        )
        return np.vstack([image, bar])
