"""The overlay: gaze, AOI, marker outline and axes, marker id and position, drawn on a copy.

Pure drawing, no window: the display shows the result, headless runs write it to a video and
to one PNG per look.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.core import OverlayState
from gazefusion.fusion.images import outlined_text

LAYERS: tuple[str, ...] = ("gaze", "aoi", "marker", "label")
"""Overlay layers in the order of the display's toggle keys 1-4."""

_GREEN = (60, 220, 60)
_RED = (40, 40, 230)
_YELLOW = (0, 220, 255)


def marker_label(marker_id: str, position_m: np.ndarray) -> str:
    """``id  x=… y=… z=… m`` with centimetre resolution."""
    x, y, z = (float(v) for v in np.asarray(position_m, dtype=float).ravel()[:3])
    return f"{marker_id}  x={x:+.2f} y={y:+.2f} z={z:.2f} m"


def draw_overlay(
    image: np.ndarray,
    state: OverlayState,
    intrinsics: CameraIntrinsics | None = None,
    layers: Iterable[str] = LAYERS,
    status: str | None = None,
) -> np.ndarray:
    """Draw the overlay on a copy of `image`.

    Parameters
    ----------
    image : numpy.ndarray
        BGR frame; not modified.
    state : OverlayState
        What the core knows now (gaze, current fixation, AOI, marker hit).
    intrinsics : CameraIntrinsics or None
        For the marker's axes (``cv2.drawFrameAxes``); None draws no axes. (default: None)
    layers : Iterable[str]
        Which of :data:`LAYERS` to draw. (default: all)
    status : str or None
        A line of text for the top-left corner (frame index, paused …). (default: None)

    Returns
    -------
    numpy.ndarray
        The annotated copy.
    """
    out = image.copy()
    shown = set(layers)
    hit = state.hit
    if "aoi" in shown and state.aoi is not None:
        x, y, w, h = state.aoi
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), _YELLOW, 1, cv2.LINE_AA)
    if "marker" in shown and hit is not None:
        corners = np.asarray(hit.corners, dtype=np.float64).reshape(-1, 1, 2)
        cv2.polylines(out, [np.round(corners).astype(np.int32)], True, _GREEN, 2, cv2.LINE_AA)
        if intrinsics is not None and np.all(np.isfinite(hit.position_m)):
            length_m = max(0.01, 0.15 * float(hit.distance_m))
            cv2.drawFrameAxes(
                out,
                intrinsics.camera_matrix,
                intrinsics.dist_coeffs,
                np.asarray(hit.rotation, dtype=np.float64).reshape(3, 1),
                np.asarray(hit.position_m, dtype=np.float64).reshape(3, 1),
                length_m,
                2,
            )
    if "label" in shown and hit is not None:
        outline = np.asarray(hit.corners, dtype=np.float64).reshape(-1, 2)
        x0, y0 = int(outline[:, 0].min()), int(outline[:, 1].min())
        label = marker_label(hit.marker_id, hit.position_m)
        (width_px, _), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        x = min(max(4, x0), out.shape[1] - width_px - 4)  # keep the whole label in the frame
        outlined_text(out, label, (max(4, x), max(16, y0 - 6)))
    if "gaze" in shown and state.gaze_cam is not None:
        gx, gy = int(round(state.gaze_cam[0])), int(round(state.gaze_cam[1]))
        color = _RED if state.gaze_outside else _GREEN
        cv2.circle(out, (gx, gy), 6, color, 2, cv2.LINE_AA)
        cv2.drawMarker(out, (gx, gy), color, cv2.MARKER_CROSS, 18, 1, cv2.LINE_AA)
    if status:
        outlined_text(out, status, (8, 20))
    return out
