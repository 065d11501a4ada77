"""Geometry: the tracked screen (tracker px to degrees of visual angle) and the marker plane.

Pixels need not be square (the Lund 2013 screen is 1024x768 px on 380x300 mm), so every
conversion works per axis. Positions are converted exactly, as the angle from the line of
sight through the screen centre (``atan(offset_mm / distance_mm)``); sizes near a point use
the local slope.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gazefusion.fusion.errors import ConfigError, FileFormatError


class ScreenGeometry(NamedTuple):
    """The tracked screen as seen from the eye.

    Attributes
    ----------
    width_px, height_px : int
        Screen size, px.
    width_mm, height_mm : float
        Screen size, mm.
    distance_mm : float
        Viewing distance from the eye to the screen centre, mm.
    """

    width_px: int
    height_px: int
    width_mm: float
    height_mm: float
    distance_mm: float

    @property
    def mm_per_px(self) -> tuple[float, float]:
        """Physical size of one pixel along x and y, mm."""
        return self.width_mm / self.width_px, self.height_mm / self.height_px

    @property
    def px_per_deg(self) -> tuple[float, float]:
        """Pixels per degree at the screen centre along x and y."""
        mx, my = self.mm_per_px
        deg_per_mm = math.degrees(1.0 / self.distance_mm)
        return 1.0 / (mx * deg_per_mm), 1.0 / (my * deg_per_mm)

    def to_degrees(self, x_px: np.ndarray | float, y_px: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Convert screen positions to degrees from the screen centre, per axis.

        Parameters
        ----------
        x_px, y_px : array_like
            Positions in screen px, origin top-left, y down.

        Returns
        -------
        tuple of numpy.ndarray
            Horizontal and vertical angle, degrees (y down stays positive down).
        """
        mx, my = self.mm_per_px
        ax = np.degrees(np.arctan((np.asarray(x_px, dtype=float) - self.width_px / 2.0) * mx / self.distance_mm))
        ay = np.degrees(np.arctan((np.asarray(y_px, dtype=float) - self.height_px / 2.0) * my / self.distance_mm))
        return ax, ay

    def to_pixels(self, ax_deg: np.ndarray | float, ay_deg: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`to_degrees`.

        Parameters
        ----------
        ax_deg, ay_deg : numpy.ndarray or float
            Degrees from the screen centre, per axis.

        Returns
        -------
        tuple of numpy.ndarray
            (x, y) screen px.
        """
        mx, my = self.mm_per_px
        x = np.tan(np.radians(np.asarray(ax_deg, dtype=float))) * self.distance_mm / mx + self.width_px / 2.0
        y = np.tan(np.radians(np.asarray(ay_deg, dtype=float))) * self.distance_mm / my + self.height_px / 2.0
        return x, y

    def validate(self) -> ScreenGeometry:
        """Return self, or raise :class:`ConfigError` naming the value that is not positive."""
        for name in self._fields:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"screen geometry: {name} must be a positive number, got {value!r}")
        return self

    @classmethod
    def from_sidecar(cls, path: str | Path) -> ScreenGeometry:
        """Read a JSON sidecar with ``screen_px``, ``screen_mm`` and ``viewing_distance_mm``.

        Parameters
        ----------
        path : str or pathlib.Path
            The JSON file (keys as in the Lund 2013 data's sidecars).
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            (wpx, hpx), (wmm, hmm) = data["screen_px"], data["screen_mm"]
            distance = data["viewing_distance_mm"]
        except FileNotFoundError:
            raise FileFormatError(f"screen geometry sidecar not found: {path}") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FileFormatError(
                f"screen geometry sidecar {path} is not usable ({type(exc).__name__}: {exc}); "
                "expected JSON with screen_px [w, h], screen_mm [w, h], viewing_distance_mm"
            ) from None
        try:
            geometry = cls(int(wpx), int(hpx), float(wmm), float(hmm), float(distance))
        except (TypeError, ValueError):
            raise FileFormatError(f"screen geometry sidecar {path}: values must be numbers") from None
        return geometry.validate()


# --- the marker plane: a picture's px to metres on the marker (origin at its centre, x right, y down)


def plane_corners_m(width_m: float, height_m: float) -> np.ndarray:
    """The four corners of a planar marker in its own frame.

    Parameters
    ----------
    width_m : float
        Marker width, m.
    height_m : float
        Marker height, m.

    Returns
    -------
    numpy.ndarray
        (4, 3) float64: top-left, top-right, bottom-right, bottom-left, z = 0.
    """
    half_w, half_h = width_m / 2.0, height_m / 2.0
    return np.array(
        [[-half_w, -half_h, 0.0], [half_w, -half_h, 0.0], [half_w, half_h, 0.0], [-half_w, half_h, 0.0]],
        dtype=np.float64,
    )


def texture_to_marker_m(texture_size: tuple[int, int], width_m: float) -> np.ndarray:
    """The affine map from texture px (u, v, 1) to marker-plane metres (X, Y, 1).

    Parameters
    ----------
    texture_size : tuple[int, int]
        (width, height) of the texture, px.
    width_m : float
        Physical width of the marker, m.

    Returns
    -------
    numpy.ndarray
        (3, 3) float64.
    """
    width_px, height_px = texture_size
    height_m = width_m * height_px / width_px
    sx, sy = width_m / width_px, height_m / height_px
    return np.array([[sx, 0.0, 0.5 * sx - width_m / 2], [0.0, sy, 0.5 * sy - height_m / 2], [0.0, 0.0, 1.0]])
