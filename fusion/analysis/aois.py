"""Areas of interest drawn on marker pictures: named polygons and rectangles in picture px.

Where they come from, per marker: an ``aois:`` list of polygons in the marker library file
(read and validated by the library's model, :class:`~gazefusion.fusion.markers.MarkerAoi`),
or a separate AOI file (a YAML mapping of marker id to a list of polygons or rectangles),
which replaces the library's list for the markers it names. Every marker also has the AOI `WHOLE`, its whole
picture, so a marker without drawn AOIs is one AOI::

    poster:
      - {name: title, polygon: [[20, 15], [380, 15], [380, 90], [20, 90]]}
      - {name: photo, rect: [40, 120, 200, 150]}     # x, y, width, height

Coordinates are the picture's px: origin at the top-left pixel's centre, y down. A polygon
must lie inside its picture and must not cross itself; names are unique per marker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from gazefusion.fusion.errors import FileFormatError
from gazefusion.fusion.files import read_yaml, write_yaml_atomic

#: The AOI every marker has: its whole picture.
WHOLE = "whole"
#: Vertices may lie this far outside the picture's edge (a click on the border pixel), px.
EDGE_SLACK_PX = 0.5


class Aoi(BaseModel):
    """One named region of a marker picture: a polygon, or a rectangle ``[x, y, width, height]``.

    Attributes
    ----------
    name : str
        The AOI's name, unique per marker.
    polygon : list of [x, y] or None
        Vertices in picture px, in order (at least 3).
    rect : [x, y, width, height] or None
        A rectangle in picture px, instead of a polygon.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    polygon: tuple[tuple[float, float], ...] | None = None
    rect: tuple[float, float, float, float] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("an AOI needs a name")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> Aoi:
        if (self.polygon is None) == (self.rect is None):
            raise ValueError(f"AOI {self.name!r} needs either polygon or rect, not both or neither")
        if self.polygon is not None and len(self.polygon) < 3:
            raise ValueError(f"AOI {self.name!r}: a polygon needs at least 3 vertices, got {len(self.polygon)}")
        if self.rect is not None and not (self.rect[2] > 0 and self.rect[3] > 0):
            raise ValueError(f"AOI {self.name!r}: rect width and height must be positive, got {list(self.rect)}")
        if not np.all(np.isfinite(self.vertices)):
            raise ValueError(f"AOI {self.name!r}: coordinates must be finite numbers")
        return self

    @property
    def vertices(self) -> np.ndarray:
        """(N, 2) float64 vertices in picture px (a rectangle's four corners clockwise from top-left)."""
        if self.polygon is not None:
            return np.asarray(self.polygon, np.float64).reshape(-1, 2)
        assert self.rect is not None
        x, y, width, height = self.rect
        return np.array([[x, y], [x + width, y], [x + width, y + height], [x, y + height]], np.float64)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML."""
        if self.rect is not None:
            return {"name": self.name, "rect": [float(v) for v in self.rect]}
        return {"name": self.name, "polygon": [[float(x), float(y)] for x, y in self.vertices]}


def whole_picture(image_size: tuple[int, int]) -> Aoi:
    """The AOI `WHOLE`: the picture's outline."""
    width, height = image_size
    return Aoi(name=WHOLE, rect=(-0.5, -0.5, float(width), float(height)))


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def _on_segment(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> bool:
    return bool(min(p[0], r[0]) <= q[0] <= max(p[0], r[0]) and min(p[1], r[1]) <= q[1] <= max(p[1], r[1]))


def segments_cross(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    """Whether two closed segments share a point (crossing or touching)."""
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _on_segment(q1, p1, q2))
        or (d2 == 0 and _on_segment(q1, p2, q2))
        or (d3 == 0 and _on_segment(p1, q1, p2))
        or (d4 == 0 and _on_segment(p1, q2, p2))
    )


def self_crossing(vertices: np.ndarray) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (by index) that meet, or None for a simple polygon."""
    n = len(vertices)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # the closing edge is adjacent to the first
            if segments_cross(vertices[i], vertices[(i + 1) % n], vertices[j], vertices[(j + 1) % n]):
                return i, j
    return None


def check_on_picture(aoi: Aoi, image_size: tuple[int, int], where: str) -> None:
    """Refuse an AOI that leaves its picture, crosses itself or encloses no area.

    Parameters
    ----------
    aoi : Aoi
        The AOI.
    image_size : tuple[int, int]
        (width, height) of the marker's picture, px.
    where : str
        The file and marker, for the message.

    Raises
    ------
    FileFormatError
        Naming the AOI, the vertex or edges at fault, and the picture's size.
    """
    width, height = image_size
    vertices = aoi.vertices
    low, high = -0.5 - EDGE_SLACK_PX, np.array([width, height]) - 0.5 + EDGE_SLACK_PX
    outside = np.flatnonzero(np.any((vertices < low) | (vertices > high), axis=1))
    if outside.size:
        x, y = vertices[outside[0]]
        raise FileFormatError(
            f"{where}: AOI {aoi.name!r} has a vertex ({x:g}, {y:g}) outside the {width}x{height} px picture"
        )
    crossing = self_crossing(vertices)
    if crossing is not None:
        i, j = crossing
        raise FileFormatError(
            f"{where}: AOI {aoi.name!r} crosses itself (edge {i + 1} meets edge {j + 1}): "
            "give its vertices in order around the region"
        )
    if abs(cv2.contourArea(vertices.astype(np.float32))) < 1.0:
        raise FileFormatError(f"{where}: AOI {aoi.name!r} encloses no area")


def parse_aois(data: Any, where: str) -> list[Aoi]:
    """A list of AOIs from plain data (a YAML list of ``{name, polygon}`` or ``{name, rect}``).

    Raises
    ------
    FileFormatError
        Not a list, an entry that does not validate, a duplicate or reserved name.
    """
    if not isinstance(data, list):
        raise FileFormatError(f"{where}: aois must be a list of {{name, polygon}} or {{name, rect}}")
    aois: list[Aoi] = []
    for number, entry in enumerate(data, start=1):
        try:
            aoi = Aoi.model_validate(entry)
        except ValidationError as exc:
            error = exc.errors()[0]
            key = ".".join(str(part) for part in error["loc"])
            reason = error["msg"].removeprefix("Value error, ")
            raise FileFormatError(f"{where}, AOI {number}: {key + ': ' if key else ''}{reason}") from None
        if aoi.name == WHOLE:
            raise FileFormatError(f"{where}, AOI {number}: the name {WHOLE!r} is reserved for the whole picture")
        if any(other.name == aoi.name for other in aois):
            raise FileFormatError(f"{where}: AOI name {aoi.name!r} appears twice")
        aois.append(aoi)
    return aois


def load_aoi_file(path: str | Path) -> dict[str, list[Aoi]]:
    """Read an AOI file: a YAML mapping of marker id to a list of AOIs.

    Raises
    ------
    FileFormatError
        A missing or malformed file, or an AOI that does not validate (named).
    """
    path = Path(path)
    data = read_yaml(path, "AOI")
    if not isinstance(data, dict) or not data:
        raise FileFormatError(f"AOI file {path}: expected a mapping of marker id to a list of AOIs")
    return {str(marker): parse_aois(entries, f"AOI file {path}, marker {marker!r}") for marker, entries in data.items()}


def resolve_aois(
    image_sizes: Mapping[str, tuple[int, int]],
    from_library: Mapping[str, Sequence[Aoi]],
    from_file: Mapping[str, Sequence[Aoi]] | None = None,
    file_name: str = "AOI file",
) -> dict[str, list[Aoi]]:
    """Every marker's AOIs, checked against its picture, `WHOLE` first.

    Parameters
    ----------
    image_sizes : Mapping[str, tuple[int, int]]
        Picture size by marker id (the library's markers, in order).
    from_library : Mapping[str, Sequence[Aoi]]
        The library file's AOIs.
    from_file : Mapping[str, Sequence[Aoi]] or None
        A separate AOI file's; a marker it names takes these instead. (default: None)
    file_name : str
        The AOI file, for messages. (default: "AOI file")

    Raises
    ------
    FileFormatError
        An AOI file naming a marker the library lacks; an AOI outside its picture or
        crossing itself.
    """
    from_file = from_file or {}
    unknown = [marker for marker in from_file if marker not in image_sizes]
    if unknown:
        raise FileFormatError(
            f"{file_name} names marker {unknown[0]!r}, which the marker library lacks "
            f"(it has {', '.join(image_sizes) or 'none'})"
        )
    resolved: dict[str, list[Aoi]] = {}
    for marker, size in image_sizes.items():
        given = from_file[marker] if marker in from_file else from_library.get(marker, ())
        where = file_name if marker in from_file else "marker library"
        for aoi in given:
            check_on_picture(aoi, size, f"{where}, marker {marker!r}")
        resolved[marker] = [whole_picture(size), *given]
    return resolved


def write_aoi_file(path: str | Path, aois: Mapping[str, Sequence[Aoi]]) -> None:
    """Write an AOI file (atomically); `WHOLE` is left out, being implied."""
    data = {marker: [aoi.to_dict() for aoi in entries if aoi.name != WHOLE] for marker, entries in aois.items()}
    write_yaml_atomic(path, data)


def hit_test(points_px: np.ndarray, aoi: Aoi, margin_px: np.ndarray | float = 0.0) -> np.ndarray:
    """Which points lie in the AOI or within `margin_px` of its edge.

    Parameters
    ----------
    points_px : numpy.ndarray
        (N, 2) picture px (nan: never a hit).
    aoi : Aoi
        The region.
    margin_px : numpy.ndarray or float
        (N,) or one margin, picture px: the gaze accuracy around the region. (default: 0.0)

    Returns
    -------
    numpy.ndarray
        (N,) bool.
    """
    points = np.asarray(points_px, np.float64).reshape(-1, 2)
    margins = np.broadcast_to(np.asarray(margin_px, np.float64), (len(points),))
    contour = aoi.vertices.astype(np.float32).reshape(-1, 1, 2)
    hits = np.zeros(len(points), bool)
    for i, ((x, y), margin) in enumerate(zip(points, margins)):
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        distance = cv2.pointPolygonTest(contour, (float(x), float(y)), margin > 0)
        hits[i] = distance >= (-margin if margin > 0 else 0.0)
    return hits
