"""Deterministic synthetic images for tests, benchmarks and the demo.

Conventions
-----------
- 3D is the OpenCV camera frame in metres: x right, y down, z forward (docs/concepts.md).
- A marker's frame has its origin at the marker's centre; x runs right and y down along the
  picture, so z = x × y points *into* the marker, away from a viewer facing its printed side.
  A marker squarely facing the camera therefore has the rotation vector (0, 0, 0).
- Texture pixel centres sit at integer coordinates and the picture covers
  [-0.5, W - 0.5] × [-0.5, H - 0.5]; texture px (u, v) is the marker point
  X = ((u + 0.5) / W - 0.5) · width_m, Y = ((v + 0.5) / H - 0.5) · height_m,
  with height_m = width_m · H / W.
- Corners are ordered top-left, top-right, bottom-right, bottom-left (as `MarkerHit`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from gazefusion.fusion.geometry import plane_corners_m, texture_to_marker_m

# Distinct salts, so a marker and a background drawn with the same seed never coincide.
_MARKER_SALT = 0x6D61726B
_BACKGROUND_SALT = 0x6267


def marker_texture(seed: int, size_px: int = 400) -> np.ndarray:
    """A textured, ORB-friendly, asymmetric picture to use as a marker.

    Gradients, filled and outlined shapes and text-like strokes with strong corners; every
    seed gives another picture, the same seed the same one.

    Parameters
    ----------
    seed : int
        Picks the picture.
    size_px : int
        Side of the square picture, px. (default: 400)

    Returns
    -------
    numpy.ndarray
        (size_px, size_px, 3) uint8 BGR.
    """
    if size_px < 16:
        raise ValueError(f"size_px must be at least 16, got {size_px}")
    rng = np.random.default_rng([int(seed), _MARKER_SALT])
    # Drawn at a fixed 400 px design size and resized, so every size shows the same picture.
    design = 400
    image = _gradient(rng, design, design)
    for _ in range(int(rng.integers(30, 42))):
        _random_shape(rng, image, design)
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789#&%@"
    for _ in range(int(rng.integers(6, 10))):
        text = "".join(rng.choice(list(letters), size=int(rng.integers(2, 5))))
        origin = (int(rng.integers(0, design - 120)), int(rng.integers(40, design)))
        cv2.putText(
            image,
            text,
            origin,
            int(rng.choice(fonts)),
            float(rng.uniform(0.8, 1.8)),
            _contrasting_colour(rng, image, origin),
            int(rng.integers(2, 5)),
            cv2.LINE_AA,
        )
    # A thin frame of one random colour on two sides only: it breaks every symmetry.
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    cv2.line(image, (0, 2), (design - 1, 2), colour, 5)
    cv2.line(image, (2, 0), (2, design - 1), colour, 5)
    if size_px == design:
        return image
    interpolation = cv2.INTER_AREA if size_px < design else cv2.INTER_CUBIC
    return cv2.resize(image, (size_px, size_px), interpolation=interpolation)


def background_texture(seed: int, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """Textured clutter for behind the markers, not marker-like: soft blobs, long edges, flat areas.

    Parameters
    ----------
    seed : int
        Picks the picture.
    size : tuple[int, int]
        (width, height), px. (default: (640, 480))

    Returns
    -------
    numpy.ndarray
        (height, width, 3) uint8 BGR.
    """
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {size}")
    rng = np.random.default_rng([int(seed), _BACKGROUND_SALT])
    image = np.zeros((height, width, 3), np.float32)
    # Value noise over a few octaves: walls, shadows, fabric.
    for octave, amplitude in ((4, 60.0), (12, 30.0), (40, 14.0)):
        cells = rng.uniform(-1.0, 1.0, (octave * height // max(width, height) + 2, octave + 2, 3)).astype(np.float32)
        image += amplitude * cv2.resize(cells, (width, height), interpolation=cv2.INTER_CUBIC)
    image += rng.uniform(70, 170, 3).astype(np.float32)
    canvas = np.clip(image, 0, 255).astype(np.uint8)
    scale = max(width, height)
    # Furniture and door edges: long straight lines and large low-contrast panels.
    for _ in range(int(rng.integers(3, 7))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(scale // 8, scale // 2)), int(rng.integers(scale // 8, scale // 2))
        shade = canvas[min(y0, height - 1), min(x0, width - 1)].astype(int) + rng.integers(-35, 36, 3)
        cv2.rectangle(canvas, (x0, y0), (x0 + w, y0 + h), tuple(int(c) for c in np.clip(shade, 0, 255)), -1)
    for _ in range(int(rng.integers(4, 9))):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(canvas, p0, p1, tuple(int(c) for c in rng.integers(20, 236, 3)), int(rng.integers(1, 4)), cv2.LINE_AA)
    return cv2.GaussianBlur(canvas, (0, 0), 1.0)


def render_plane(
    image: np.ndarray,
    texture: np.ndarray,
    width_m: float,
    rvec: Sequence[float] | np.ndarray,
    tvec: Sequence[float] | np.ndarray,
    camera_matrix: np.ndarray,
    dist_coeffs: np.ndarray | None = None,
) -> np.ndarray:
    """Draw a planar marker into `image`, in place, as the camera sees it.

    The texture is prefiltered to about its imaged size (so a distant marker is not aliased)
    and composited with an antialiased edge. Parts outside the frame are clipped.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) or (H, W) uint8, drawn into.
    texture : numpy.ndarray
        The marker picture, uint8, with as many channels as `image` (or grey).
    width_m : float
        Physical width of the marker, m; the height follows the texture's aspect ratio.
    rvec, tvec : array-like
        Pose of the marker frame in the camera frame (Rodrigues vector, translation in m).
    camera_matrix : numpy.ndarray
        (3, 3) intrinsics.
    dist_coeffs : numpy.ndarray or None
        OpenCV distortion coefficients; None or zeros for none. (default: None)

    Returns
    -------
    numpy.ndarray
        (4, 2) float64 image px of the marker corners (TL, TR, BR, BL), as `cv2.projectPoints`
        gives them (they may lie outside the frame).

    Raises
    ------
    ValueError
        When a corner is not in front of the camera, or the width is not positive.
    """
    if not width_m > 0:
        raise ValueError(f"width_m must be positive, got {width_m}")
    rvec = np.asarray(rvec, np.float64).reshape(3)
    tvec = np.asarray(tvec, np.float64).reshape(3)
    camera_matrix = np.asarray(camera_matrix, np.float64)
    distorted = dist_coeffs is not None and np.any(np.asarray(dist_coeffs) != 0)
    dist = np.asarray(dist_coeffs, np.float64).ravel() if distorted else np.zeros(5)
    texture = _match_channels(texture, image)
    tex_h, tex_w = texture.shape[:2]
    height_m = width_m * tex_h / tex_w
    rotation, _ = cv2.Rodrigues(rvec)
    corners_m = plane_corners_m(width_m, height_m)
    depths = (corners_m @ rotation.T + tvec)[:, 2]
    if np.any(depths <= 1e-6):
        raise ValueError("the marker is (partly) behind the camera: every corner needs z > 0")
    corners, _ = cv2.projectPoints(corners_m, rvec, tvec, camera_matrix, dist)
    corners = corners.reshape(4, 2)

    # The image area the marker can cover (a dense outline, since distortion bends edges).
    outline_m = _outline(corners_m, 16 if distorted else 1)
    outline, _ = cv2.projectPoints(outline_m, rvec, tvec, camera_matrix, dist)
    outline = outline.reshape(-1, 2)
    img_h, img_w = image.shape[:2]
    x0 = max(int(math.floor(outline[:, 0].min())) - 2, 0)
    y0 = max(int(math.floor(outline[:, 1].min())) - 2, 0)
    x1 = min(int(math.ceil(outline[:, 0].max())) + 3, img_w)
    y1 = min(int(math.ceil(outline[:, 1].max())) + 3, img_h)
    if x1 <= x0 or y1 <= y0:
        return corners

    # Prefilter: shrink the texture to about the longest imaged edge (never enlarge it).
    edge_px = float(np.max(np.linalg.norm(corners - np.roll(corners, 1, axis=0), axis=1)))
    shrink = min(1.0, max(edge_px, 8.0) / max(tex_w, tex_h))
    if shrink < 1.0:
        size = (max(2, round(tex_w * shrink)), max(2, round(tex_h * shrink)))
        texture = cv2.resize(texture, size, interpolation=cv2.INTER_AREA)
    tex_h, tex_w = texture.shape[:2]
    to_plane = texture_to_marker_m((tex_w, tex_h), width_m)
    plane_to_normalised = np.column_stack([rotation[:, 0], rotation[:, 1], tvec])
    alpha_src = np.full((tex_h, tex_w), 255, np.uint8)
    size = (x1 - x0, y1 - y0)
    if not distorted:
        homography = (
            np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ camera_matrix @ plane_to_normalised @ to_plane
        )
        warped = cv2.warpPerspective(texture, homography, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        alpha = cv2.warpPerspective(alpha_src, homography, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    else:
        # Per pixel: undistort to a ray, intersect the plane, look up the texture.
        xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        pixels = np.stack([xs.ravel(), ys.ravel()], axis=1).reshape(-1, 1, 2)
        rays = cv2.undistortPoints(pixels, camera_matrix, dist).reshape(-1, 2)
        to_texture = np.linalg.inv(plane_to_normalised @ to_plane)
        uvw = np.column_stack([rays, np.ones(len(rays))]) @ to_texture.T
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = uvw[:, :2] / uvw[:, 2:3]
        uv[~np.isfinite(uv).all(axis=1) | (uvw[:, 2] <= 0)] = -10.0
        map_x = uv[:, 0].reshape(size[1], size[0]).astype(np.float32)
        map_y = uv[:, 1].reshape(size[1], size[0]).astype(np.float32)
        warped = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        alpha = cv2.remap(alpha_src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    region = image[y0:y1, x0:x1]
    weight = alpha.astype(np.float32) / 255.0
    if region.ndim == 3:
        weight = weight[:, :, None]
    region[...] = np.clip(region * (1.0 - weight) + warped * weight + 0.5, 0, 255).astype(np.uint8)
    return corners


def look_at_pose(
    position_m: Sequence[float] | np.ndarray,
    target_m: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0),
    roll_deg: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The pose of a marker centred at `position_m` whose printed side faces `target_m`.

    Before roll, the marker's y axis (down the picture) leans as close to the camera's y
    (down) as it can, so an unrolled marker stands upright as seen from the camera.

    Parameters
    ----------
    position_m : array-like
        Marker centre in the camera frame, m.
    target_m : array-like
        The point the marker faces, camera frame, m. (default: (0, 0, 0), the camera)
    roll_deg : float
        Rotation of the marker about its own normal, degrees (clockwise as seen from the
        front). (default: 0.0)

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        (rvec, tvec), each (3,) float64: marker frame → camera frame.
    """
    position = np.asarray(position_m, np.float64).reshape(3)
    target = np.asarray(target_m, np.float64).reshape(3)
    z_axis = position - target
    norm = np.linalg.norm(z_axis)
    if not norm > 0:
        raise ValueError("position_m and target_m coincide: the facing direction is undefined")
    z_axis /= norm
    x_axis = np.cross((0.0, 1.0, 0.0), z_axis)
    if np.linalg.norm(x_axis) < 1e-9:
        x_axis = np.cross(z_axis, (1.0, 0.0, 0.0))
        x_axis = np.cross(x_axis, z_axis)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    facing = np.column_stack([x_axis, y_axis, z_axis])
    roll = math.radians(roll_deg)
    roll_matrix = np.array(
        [[math.cos(roll), -math.sin(roll), 0.0], [math.sin(roll), math.cos(roll), 0.0], [0.0, 0.0, 1.0]]
    )
    rvec, _ = cv2.Rodrigues(facing @ roll_matrix)
    return rvec.reshape(3), position.copy()


def marker_pose(
    distance_m: float,
    tilt_deg: float = 0.0,
    tilt_axis_deg: float = 0.0,
    roll_deg: float = 0.0,
    centre_px: tuple[float, float] | None = None,
    camera_matrix: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A marker pose by viewing distance, tilt away from the line of sight, roll and place.

    Parameters
    ----------
    distance_m : float
        Distance from the camera to the marker centre, m.
    tilt_deg : float
        Angle between the marker's normal and the line of sight to its centre, degrees.
        (default: 0.0)
    tilt_axis_deg : float
        Direction of the in-plane axis tilted about, degrees from the marker's x axis.
        (default: 0.0, tilting about the horizontal axis of the picture)
    roll_deg : float
        Roll about the normal before tilting, degrees. (default: 0.0)
    centre_px : tuple[float, float] or None
        Image px the centre projects to; None: on the optical axis. (default: None)
    camera_matrix : numpy.ndarray or None
        (3, 3) intrinsics; needed with `centre_px`. (default: None)

    Returns
    -------
    tuple[numpy.ndarray, numpy.ndarray]
        (rvec, tvec), each (3,) float64.
    """
    if not distance_m > 0:
        raise ValueError(f"distance_m must be positive, got {distance_m}")
    if centre_px is None:
        ray = np.array([0.0, 0.0, 1.0])
    else:
        if camera_matrix is None:
            raise ValueError("centre_px needs camera_matrix")
        ray = np.linalg.solve(np.asarray(camera_matrix, np.float64), [centre_px[0], centre_px[1], 1.0])
        ray /= np.linalg.norm(ray)
    rvec, tvec = look_at_pose(ray * distance_m, (0.0, 0.0, 0.0), roll_deg)
    axis_angle = math.radians(tilt_axis_deg)
    tilt = np.array([math.cos(axis_angle), math.sin(axis_angle), 0.0]) * math.radians(tilt_deg)
    tilt_matrix, _ = cv2.Rodrigues(tilt)
    rvec, _ = cv2.Rodrigues(cv2.Rodrigues(rvec)[0] @ tilt_matrix)
    return rvec.reshape(3), tvec


def degrade(
    image: np.ndarray,
    blur_sigma: float = 0.0,
    noise_sigma: float = 0.0,
    jpeg_quality: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """What a real camera adds: optical blur, sensor noise, then a JPEG round trip.

    Parameters
    ----------
    image : numpy.ndarray
        uint8 image (not changed).
    blur_sigma : float
        Gaussian blur, px; 0 for none. (default: 0.0)
    noise_sigma : float
        Standard deviation of additive Gaussian noise, grey levels; 0 for none. (default: 0.0)
    jpeg_quality : int or None
        JPEG quality 1–100 of the round trip; None for none. (default: None)
    rng : numpy.random.Generator or None
        Noise source; None: a generator seeded with 0 (deterministic). (default: None)

    Returns
    -------
    numpy.ndarray
        A new uint8 image of the same shape.
    """
    out = image.copy()
    if blur_sigma > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur_sigma)
    if noise_sigma > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        noisy = out.astype(np.float32) + rng.normal(0.0, noise_sigma, out.shape).astype(np.float32)
        out = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        if not ok:
            raise ValueError("JPEG encoding failed")
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if decoded is None:
            raise ValueError("JPEG decoding failed")
        out = decoded.reshape(image.shape)
    return out


def _gradient(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * math.pi)
    xs, ys = np.meshgrid(np.linspace(-1, 1, width), np.linspace(-1, 1, height))
    t = ((xs * math.cos(angle) + ys * math.sin(angle)) / 2.0 + 0.5)[:, :, None]
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    return np.clip(start * (1 - t) + end * t, 0, 255).astype(np.uint8)


def _contrasting_colour(rng: np.random.Generator, image: np.ndarray, point: tuple[int, int]) -> tuple[int, int, int]:
    x = min(max(point[0], 0), image.shape[1] - 1)
    y = min(max(point[1], 0), image.shape[0] - 1)
    under = float(image[y, x].mean())
    level = rng.uniform(0, 60) if under > 128 else rng.uniform(195, 255)
    blue, green, red = (int(np.clip(level + rng.uniform(-40, 40), 0, 255)) for _ in range(3))
    return blue, green, red


def _random_shape(rng: np.random.Generator, image: np.ndarray, design: int) -> None:
    kind = int(rng.integers(0, 5))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    centre = rng.uniform(0, design, 2)
    radius = float(rng.uniform(design / 40, design / 6))
    if kind == 0:
        cv2.circle(image, (int(centre[0]), int(centre[1])), int(radius), colour, -1, cv2.LINE_AA)
    elif kind == 1:
        cv2.circle(image, (int(centre[0]), int(centre[1])), int(radius), colour, int(rng.integers(3, 9)), cv2.LINE_AA)
    elif kind in (2, 3):
        n_vertices = 3 if kind == 2 else int(rng.integers(4, 7))
        angles = np.sort(rng.uniform(0, 2 * math.pi, n_vertices))
        radii = radius * rng.uniform(0.5, 1.3, n_vertices)
        points = centre + np.column_stack([np.cos(angles) * radii, np.sin(angles) * radii])
        cv2.fillPoly(image, [np.round(points).astype(np.int32)], colour, cv2.LINE_AA)
    else:
        p1 = rng.uniform(0, design, 2)
        cv2.line(
            image,
            (int(centre[0]), int(centre[1])),
            (int(p1[0]), int(p1[1])),
            colour,
            int(rng.integers(3, 12)),
            cv2.LINE_AA,
        )


def _match_channels(texture: np.ndarray, image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and texture.ndim == 2:
        return cv2.cvtColor(texture, cv2.COLOR_GRAY2BGR)
    if image.ndim == 2 and texture.ndim == 3:
        return cv2.cvtColor(texture, cv2.COLOR_BGR2GRAY)
    return texture


def _outline(corners_m: np.ndarray, steps: int) -> np.ndarray:
    points = []
    for start, end in zip(corners_m, np.roll(corners_m, -1, axis=0)):
        for t in np.linspace(0.0, 1.0, steps, endpoint=False):
            points.append(start + (end - start) * t)
    return np.array(points, np.float64)
