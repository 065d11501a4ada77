"""The tracker-to-camera mapping: tracker screen px to camera image px.

A mapping is a fitted homography or a second-order polynomial (``gazefusion calibrate
tracker`` makes one and validates it), or the stated default: the camera image shown
full-screen on the tracked screen, scaled to fit and centred (letterboxed), which is how the
display window shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from gazefusion.fusion.errors import CalibrationError
from gazefusion.fusion.files import read_model, write_yaml_atomic

MappingKind = Literal["homography", "poly2"]


def poly2_terms(xy: np.ndarray) -> np.ndarray:
    """Second-order polynomial design matrix: 1, x, y, xy, x², y² (inputs scaled to ~1)."""
    x, y = xy[:, 0], xy[:, 1]
    return np.stack([np.ones_like(x), x, y, x * y, x * x, y * y], axis=1)


class TrackerCameraMapping(NamedTuple):
    """Tracker screen px to camera px.

    Attributes
    ----------
    kind : {"homography", "poly2"}
        The model.
    params : numpy.ndarray
        (3, 3) homography, or (6, 2) polynomial coefficients on normalised input.
    screen_size_px : tuple[int, int]
        Tracked screen (width, height) px.
    camera_size_px : tuple[int, int]
        Camera image (width, height) px the mapping holds for.
    calibrated_area : numpy.ndarray or None
        (N, 2) convex hull of the calibration targets, tracker px; None: the whole screen.
    info : dict
        Residuals, validation figures, date: written to and read from the file as they are.
    """

    kind: MappingKind
    params: np.ndarray
    screen_size_px: tuple[int, int]
    camera_size_px: tuple[int, int]
    calibrated_area: np.ndarray | None = None
    info: dict[str, Any] = {}

    @classmethod
    def fullscreen(cls, screen_size_px: tuple[int, int], camera_size_px: tuple[int, int]) -> TrackerCameraMapping:
        """The default: the camera image scaled to fit the screen, centred, aspect kept.

        Parameters
        ----------
        screen_size_px : tuple[int, int]
            The tracked screen, (width, height) px.
        camera_size_px : tuple[int, int]
            The camera image, (width, height) px.
        """
        sw, sh = screen_size_px
        cw, ch = camera_size_px
        scale = min(sw / cw, sh / ch)
        ox, oy = (sw - cw * scale) / 2.0, (sh - ch * scale) / 2.0
        # Screen px -> camera px is the inverse of the display transform.
        params = np.array([[1 / scale, 0, -ox / scale], [0, 1 / scale, -oy / scale], [0, 0, 1]], dtype=np.float64)
        return cls("homography", params, (int(sw), int(sh)), (int(cw), int(ch)), None, {"default": "fullscreen"})

    def _normalise(self, xy: np.ndarray) -> np.ndarray:
        sw, sh = self.screen_size_px
        return np.stack([xy[:, 0] / sw * 2 - 1, xy[:, 1] / sh * 2 - 1], axis=1)

    def to_camera(self, xy_px: np.ndarray) -> np.ndarray:
        """Map tracker px to camera px.

        Parameters
        ----------
        xy_px : numpy.ndarray
            (N, 2) or (2,) tracker screen px; nan rows stay nan.

        Returns
        -------
        numpy.ndarray
            Same shape, camera px.
        """
        points = np.asarray(xy_px, dtype=np.float64)
        flat = points.reshape(-1, 2)
        if self.kind == "homography":
            mapped = cv2.perspectiveTransform(flat.reshape(-1, 1, 2), self.params).reshape(-1, 2)
        else:
            mapped = poly2_terms(self._normalise(flat)) @ self.params
        return mapped.reshape(points.shape)

    def in_calibrated_area(self, xy_px: np.ndarray) -> np.ndarray:
        """Whether tracker px points lie inside the calibrated area (the whole screen if None).

        Parameters
        ----------
        xy_px : numpy.ndarray
            Points, tracker screen px, (N, 2) or (2,).

        Returns
        -------
        numpy.ndarray
            (N,) bool.
        """
        flat = np.asarray(xy_px, dtype=np.float64).reshape(-1, 2)
        if self.calibrated_area is None:
            sw, sh = self.screen_size_px
            return (flat[:, 0] >= 0) & (flat[:, 0] <= sw) & (flat[:, 1] >= 0) & (flat[:, 1] <= sh)
        hull = self.calibrated_area.astype(np.float32).reshape(-1, 1, 2)
        return np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), False) >= 0 for x, y in flat], dtype=bool)

    def check_camera_size(self, camera_size_px: tuple[int, int], source: str = "mapping") -> None:
        """Refuse a camera resolution the mapping was not made for.

        Parameters
        ----------
        camera_size_px : tuple[int, int]
            The camera's image, (width, height) px.
        source : str
            What to call the mapping in the message (its file name). (default: "mapping")
        """
        if tuple(camera_size_px) != tuple(self.camera_size_px):
            cw, ch = self.camera_size_px
            w, h = camera_size_px
            raise CalibrationError(
                f"{source} was calibrated for a {cw}x{ch} camera image but the camera gives {w}x{h}: "
                "run gazefusion calibrate tracker again with this camera"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML."""
        return {
            "kind": self.kind,
            "params": np.asarray(self.params, dtype=float).tolist(),
            "screen_size_px": [int(v) for v in self.screen_size_px],
            "camera_size_px": [int(v) for v in self.camera_size_px],
            "calibrated_area": None
            if self.calibrated_area is None
            else np.asarray(self.calibrated_area, dtype=float).tolist(),
            **self.info,
        }


_SHAPES: dict[str, tuple[int, int]] = {"homography": (3, 3), "poly2": (6, 2)}


def _size(value: Any) -> tuple[int, int]:
    try:
        size = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError("params, sizes and calibrated_area must be numbers") from None
    if len(size) != 2 or min(size) <= 0:
        raise ValueError("screen_size_px and camera_size_px must be [width, height] > 0")
    return size[0], size[1]


class MappingFile(BaseModel):
    """The mapping file's format; keys beyond these (residuals, validation figures, date) are kept as ``info``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: MappingKind
    params: list[list[float]]
    screen_size_px: tuple[int, int]
    camera_size_px: tuple[int, int]
    calibrated_area: list[list[float]] | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        if value not in _SHAPES:
            raise ValueError(f"kind {value!r} is not one of {', '.join(_SHAPES)}")
        return value

    @field_validator("params", "calibrated_area", mode="before")
    @classmethod
    def _arrays(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            return np.array(value, dtype=np.float64).tolist()
        except (TypeError, ValueError):
            raise ValueError("params, sizes and calibrated_area must be numbers") from None

    @field_validator("screen_size_px", "camera_size_px", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> tuple[int, int]:
        return _size(value)

    @model_validator(mode="after")
    def _shape(self) -> MappingFile:
        params = np.array(self.params, dtype=np.float64)
        if params.shape != _SHAPES[self.kind] or not np.all(np.isfinite(params)):
            raise ValueError(f"a {self.kind} needs finite params of shape {_SHAPES[self.kind]}")
        if self.calibrated_area is not None and np.array(self.calibrated_area).size % 2:
            raise ValueError("calibrated_area must be a list of [x, y] points")
        return self


def load_mapping(path: str | Path) -> TrackerCameraMapping:
    """Read a mapping YAML file (docs/formats/mapping.md; validated by :class:`MappingFile`).

    Errors name the file and what is wrong.

    Parameters
    ----------
    path : str or pathlib.Path
        The file `gazefusion calibrate tracker` wrote.
    """
    data = read_model(path, "mapping", MappingFile)
    area = None if data.calibrated_area is None else np.array(data.calibrated_area, dtype=np.float64).reshape(-1, 2)
    return TrackerCameraMapping(
        data.kind, np.array(data.params), data.screen_size_px, data.camera_size_px, area, dict(data.model_extra or {})
    )


def save_mapping(mapping: TrackerCameraMapping, path: str | Path) -> None:
    """Write a mapping YAML file atomically (a half-written file never appears); `load_mapping` reads it.

    Parameters
    ----------
    mapping : TrackerCameraMapping
        The mapping to write.
    path : str or pathlib.Path
        The file to write.
    """
    write_yaml_atomic(path, mapping.to_dict())
