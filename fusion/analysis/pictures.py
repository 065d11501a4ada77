"""Pictures on a marker: duration-weighted fixation heatmaps and numbered scanpaths.

Both draw on the marker's own picture, upscaled so its longest side has at least
`PRINT_SIDE_PX` px, with the AOIs outlined and named. The heatmap is a sum of Gaussians, one
per fixation, each weighted by the fixation's duration, with a spread of ``sigma_deg``
degrees of visual angle converted to picture px at that fixation (its ``px_per_deg``: the
screen geometry, the tracker-to-camera mapping and the marker's distance and tilt). It is
coloured with the perceptually uniform *inferno* map, which stays ordered in grey print,
over a dimmed grey copy of the picture; its opacity grows with density so the picture
shows through where few fixations fell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from gazefusion.fusion.analysis.aois import Aoi
from gazefusion.fusion.images import outlined_text

#: Pictures are drawn with their longest side at least this long, px.
PRINT_SIDE_PX = 800
#: Opacity of the heat colour at the highest density.
MAX_ALPHA = 0.75
#: Kernels reach this many sigmas.
KERNEL_SIGMAS = 3.0
#: Height of the colour bar and caption strip under a heatmap, px.
LEGEND_PX = 56

_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_AOI = (255, 200, 60)


def density_map(size: tuple[int, int], points_px: np.ndarray, weights: np.ndarray, sigma_px: np.ndarray) -> np.ndarray:
    """A sum of 2D Gaussians, one per point, each integrating to its weight.

    Parameters
    ----------
    size : tuple[int, int]
        (width, height) of the map, px (one cell per picture px).
    points_px : numpy.ndarray
        (N, 2) centres, picture px.
    weights : numpy.ndarray
        (N,) weights (fixation durations, s).
    sigma_px : numpy.ndarray
        (N,) spreads, picture px (at least half a px is used).

    Returns
    -------
    numpy.ndarray
        (height, width) float64 density, weight per px².
    """
    width, height = size
    density = np.zeros((height, width), np.float64)
    for (x, y), weight, sigma in zip(np.asarray(points_px, float), np.asarray(weights, float), sigma_px):
        sigma = max(0.5, float(sigma))
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(weight)):
            continue
        reach = KERNEL_SIGMAS * sigma
        x0, x1 = max(0, int(math.floor(x - reach))), min(width, int(math.ceil(x + reach)) + 1)
        y0, y1 = max(0, int(math.floor(y - reach))), min(height, int(math.ceil(y + reach)) + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        gx = np.exp(-0.5 * ((np.arange(x0, x1) - x) / sigma) ** 2)
        gy = np.exp(-0.5 * ((np.arange(y0, y1) - y) / sigma) ** 2)
        density[y0:y1, x0:x1] += weight / (2.0 * math.pi * sigma * sigma) * np.outer(gy, gx)
    return density


def _print_scale(size: tuple[int, int]) -> float:
    return max(1.0, PRINT_SIDE_PX / max(size))


def _background(picture: np.ndarray, scale: float, dim: bool) -> np.ndarray:
    image = picture if picture.ndim == 3 else cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
    image = image[:, :, :3]
    if dim:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        image = cv2.cvtColor((0.45 * grey + 110).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def draw_aois(image: np.ndarray, aois: Sequence[Aoi], scale: float) -> None:
    """Outline and name every AOI (the whole-picture AOI is the picture's edge, left out)."""
    for aoi in aois:
        if aoi.name == "whole":
            continue
        polygon = np.round((aoi.vertices + 0.5) * scale).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(image, [polygon], True, _BLACK, 4, cv2.LINE_AA)
        cv2.polylines(image, [polygon], True, _AOI, 2, cv2.LINE_AA)
        x, y = polygon.reshape(-1, 2).min(axis=0)
        outlined_text(image, aoi.name, (int(x) + 6, int(y) + 22))


def heatmap_picture(
    picture: np.ndarray,
    points_px: np.ndarray,
    durations_s: np.ndarray,
    sigma_px: np.ndarray,
    aois: Sequence[Aoi] = (),
    caption: str = "",
) -> np.ndarray:
    """The duration-weighted fixation density on the marker picture, with a colour bar.

    Parameters
    ----------
    picture : numpy.ndarray
        The marker's picture (BGR or grey).
    points_px : numpy.ndarray
        (N, 2) fixation positions, picture px.
    durations_s : numpy.ndarray
        (N,) their durations, s (the weights).
    sigma_px : numpy.ndarray
        (N,) each fixation's Gaussian spread, picture px.
    aois : Sequence[Aoi]
        AOIs to outline. (default: ())
    caption : str
        A line under the picture (what, how many, sigma). (default: "")

    Returns
    -------
    numpy.ndarray
        BGR uint8 image.
    """
    height, width = picture.shape[:2]
    scale = _print_scale((width, height))
    density = density_map((width, height), points_px, durations_s, sigma_px)
    peak = float(density.max()) if density.size else 0.0
    image = _background(picture, scale, dim=True)
    if peak > 0:
        level = cv2.resize(
            (density / peak).astype(np.float32), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR
        )
        colour = cv2.applyColorMap(np.clip(level * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
        alpha = (MAX_ALPHA * np.sqrt(np.clip(level, 0, 1)))[:, :, None]
        image = (image * (1 - alpha) + colour * alpha).astype(np.uint8)
    draw_aois(image, aois, scale)
    legend = np.full((LEGEND_PX, image.shape[1], 3), 255, np.uint8)
    bar_width = min(256, image.shape[1] // 3)
    bar = cv2.applyColorMap(np.linspace(0, 255, bar_width).astype(np.uint8).reshape(1, -1), cv2.COLORMAP_INFERNO)
    legend[8:24, 10 : 10 + bar_width] = cv2.resize(bar, (bar_width, 16), interpolation=cv2.INTER_NEAREST)
    cv2.putText(legend, "0", (10, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.45, _BLACK, 1, cv2.LINE_AA)
    cv2.putText(legend, "peak", (bar_width - 30, 44), cv2.FONT_HERSHEY_SIMPLEX, 0.45, _BLACK, 1, cv2.LINE_AA)
    cv2.putText(legend, caption, (bar_width + 24, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _BLACK, 1, cv2.LINE_AA)
    return np.vstack([image, legend])


def scanpath_picture(
    picture: np.ndarray,
    points_px: np.ndarray,
    durations_s: np.ndarray,
    aois: Sequence[Aoi] = (),
    caption: str = "",
) -> np.ndarray:
    """Fixations in order on the marker picture: numbered circles (area by duration) joined by lines.

    Parameters
    ----------
    picture : numpy.ndarray
        The marker's picture.
    points_px : numpy.ndarray
        (N, 2) fixation positions in order, picture px.
    durations_s : numpy.ndarray
        (N,) their durations, s.
    aois : Sequence[Aoi]
        AOIs to outline. (default: ())
    caption : str
        A line drawn at the top-left. (default: "")

    Returns
    -------
    numpy.ndarray
        BGR uint8 image.
    """
    height, width = picture.shape[:2]
    scale = _print_scale((width, height))
    image = _background(picture, scale, dim=True)
    draw_aois(image, aois, scale)
    points = (np.asarray(points_px, float).reshape(-1, 2) + 0.5) * scale
    durations = np.asarray(durations_s, float)
    # A 0.3 s fixation gets a 4 % circle (of the longest side); area grows with duration.
    radii = 0.04 * max(image.shape[:2]) * np.sqrt(np.clip(durations, 0.02, None) / 0.3)
    centres = [(int(round(x)), int(round(y))) for x, y in points]
    for start, end in zip(centres, centres[1:]):
        cv2.line(image, start, end, _BLACK, 4, cv2.LINE_AA)
        cv2.line(image, start, end, _WHITE, 2, cv2.LINE_AA)
    overlay = image.copy()
    for centre, radius in zip(centres, radii):
        cv2.circle(overlay, centre, int(round(radius)), (40, 90, 230), -1, cv2.LINE_AA)
    image = cv2.addWeighted(overlay, 0.55, image, 0.45, 0)
    for number, (centre, radius) in enumerate(zip(centres, radii), start=1):
        cv2.circle(image, centre, int(round(radius)), _BLACK, 2, cv2.LINE_AA)
        label = str(number)
        (text_w, text_h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
        outlined_text(image, label, (centre[0] - text_w // 2, centre[1] + text_h // 2))
    if caption:
        outlined_text(image, caption, (10, 26))
    return image
