"""Camera intrinsics: the YAML file of docs/formats/intrinsics.md and what a run does with it.

File keys: ``image_size`` [width, height] px, ``camera_matrix`` 3x3, ``dist_coeffs`` (list,
OpenCV order k1 k2 p1 p2 [k3 …]), ``rms`` px. Extra keys (per-view errors, date) are kept.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from gazefusion.fusion.errors import CalibrationError
from gazefusion.fusion.files import read_model, write_yaml_atomic


class CameraIntrinsics(NamedTuple):
    """A pinhole camera with distortion.

    Attributes
    ----------
    image_size : tuple[int, int]
        (width, height) px the calibration holds for.
    camera_matrix : numpy.ndarray
        (3, 3) float64: fx, fy, cx, cy in px.
    dist_coeffs : numpy.ndarray
        (N,) float64, OpenCV order.
    rms : float
        RMS reprojection error of the calibration, px; nan for an assumed camera.
    """

    image_size: tuple[int, int]
    camera_matrix: np.ndarray
    dist_coeffs: np.ndarray
    rms: float = math.nan

    @classmethod
    def from_fov(cls, image_size: tuple[int, int], horizontal_fov_deg: float = 60.0) -> CameraIntrinsics:
        """An assumed distortion-free camera with square pixels and the principal point centred.

        Parameters
        ----------
        image_size : tuple[int, int]
            (width, height) px.
        horizontal_fov_deg : float
            Horizontal field of view, degrees. (default: 60.0)
        """
        width, height = image_size
        focal_px = (width / 2.0) / math.tan(math.radians(horizontal_fov_deg) / 2.0)
        matrix = np.array([[focal_px, 0, width / 2.0], [0, focal_px, height / 2.0], [0, 0, 1]], dtype=np.float64)
        return cls((int(width), int(height)), matrix, np.zeros(5), math.nan)

    def scaled_to(self, image_size: tuple[int, int]) -> CameraIntrinsics:
        """The same camera at another resolution of the same aspect ratio.

        Parameters
        ----------
        image_size : tuple[int, int]
            (width, height) px of the images it will be used on.

        Raises
        ------
        CalibrationError
            When the aspect ratio differs (a crop or another camera: scaling would be wrong).
        """
        width, height = self.image_size
        new_width, new_height = image_size
        if (new_width, new_height) == (width, height):
            return self
        sx, sy = new_width / width, new_height / height
        if abs(sx - sy) > 0.01 * max(sx, sy):
            raise CalibrationError(
                f"intrinsics are for {width}x{height} but the images are {new_width}x{new_height} "
                "(another aspect ratio): calibrate this camera at this resolution"
            )
        matrix = self.camera_matrix.copy()
        matrix[0, :] *= sx
        matrix[1, :] *= sy
        # Pixel centres: u' + 0.5 = s * (u + 0.5), as cv2.resize maps them.
        matrix[0, 2] += 0.5 * (sx - 1.0)
        matrix[1, 2] += 0.5 * (sy - 1.0)
        matrix[2, :] = (0.0, 0.0, 1.0)
        return self._replace(image_size=(int(new_width), int(new_height)), camera_matrix=matrix)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML."""
        return {
            "image_size": [int(v) for v in self.image_size],
            "camera_matrix": [[float(v) for v in row] for row in self.camera_matrix],
            "dist_coeffs": [float(v) for v in self.dist_coeffs.ravel()],
            "rms": float(self.rms),
        }


_NUMBERS = "image_size, camera_matrix and dist_coeffs must be numbers"


def _numbers(value: Any, dtype: type = float) -> np.ndarray:
    try:
        return np.array(value, dtype=np.float64 if dtype is float else np.int64)
    except (TypeError, ValueError):
        raise ValueError(_NUMBERS) from None


class IntrinsicsFile(BaseModel):
    """The intrinsics file's format; keys beyond these (per-view errors, date, board) are allowed."""

    model_config = ConfigDict(extra="allow", frozen=True)

    image_size: tuple[int, int]
    camera_matrix: list[list[float]]
    dist_coeffs: list[float]
    rms: float = math.nan

    @field_validator("image_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> tuple[int, int]:
        try:
            size = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(_NUMBERS) from None
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"image_size must be [width, height] in px, got {value!r}")
        return size[0], size[1]

    @field_validator("camera_matrix", mode="before")
    @classmethod
    def _matrix(cls, value: Any) -> list[list[float]]:
        matrix = _numbers(value)
        if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)) or matrix[0, 0] <= 0 or matrix[1, 1] <= 0:
            raise ValueError("camera_matrix must be 3x3 with positive fx and fy")
        rows: list[list[float]] = matrix.tolist()
        return rows

    @field_validator("dist_coeffs", mode="before")
    @classmethod
    def _dist(cls, value: Any) -> list[float]:
        dist = _numbers(value).ravel()
        if dist.size not in (4, 5, 8, 12, 14) or not np.all(np.isfinite(dist)):
            raise ValueError("dist_coeffs must hold 4, 5, 8, 12 or 14 finite numbers")
        return dist.tolist()

    @field_validator("rms", mode="before")
    @classmethod
    def _rms(cls, value: Any) -> float:
        return float(_numbers(value))


def load_intrinsics(path: str | Path) -> CameraIntrinsics:
    """Read an intrinsics YAML file (docs/formats/intrinsics.md; validated by :class:`IntrinsicsFile`).

    Parameters
    ----------
    path : str or pathlib.Path
        The file `gazefusion calibrate camera` wrote.

    Raises
    ------
    FileFormatError
        Missing file, not YAML, a missing key or a value of the wrong shape, in one line.
    """
    data = read_model(path, "intrinsics", IntrinsicsFile)
    return CameraIntrinsics(data.image_size, np.array(data.camera_matrix), np.array(data.dist_coeffs), data.rms)


def save_intrinsics(intrinsics: CameraIntrinsics, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """Write an intrinsics YAML file (atomically: a half-written file never appears).

    Parameters
    ----------
    intrinsics : CameraIntrinsics
        What to write.
    path : str or pathlib.Path
        Destination.
    extra : dict or None
        More keys to write beside (per-view errors, date, board). (default: None)
    """
    data = intrinsics.to_dict() | (extra or {})
    write_yaml_atomic(path, data)
