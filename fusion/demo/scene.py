"""The demo's synthetic scene: textured markers at known 3D poses before a slowly swaying camera.

Everything is deterministic: the same time gives the same image and the same truth. The
world frame is the camera's rest pose (OpenCV: x right, y down, z forward, metres); the
camera sways about it by a few millimetres and a fraction of a degree, smoothly, so the
marker poses in the camera frame change a little over time, as with a hand-held or
wall-mounted camera that is not perfectly still.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics, save_intrinsics
from gazefusion.fusion import synthetic
from gazefusion.fusion.files import write_yaml_atomic
from gazefusion.fusion.geometry import plane_corners_m, texture_to_marker_m
from gazefusion.fusion.markers import MarkerLibrary, draw_fiducial

TEXTURE_PX = 400
#: The dictionary of the scene's printed tags.
TAG_DICTIONARY = "DICT_APRILTAG_36h11"


class MarkerSpec(NamedTuple):
    """One marker of the scene, in the world (the camera's rest pose).

    Attributes
    ----------
    id : str
        Marker id in the library.
    seed : int
        `synthetic.marker_texture` seed of its picture.
    width_m : float
        Physical width, m.
    position_m : tuple[float, float, float]
        Centre in the world frame, m.
    facing_m : tuple[float, float, float]
        The point its printed side faces, m (off the camera gives the marker a tilt).
    roll_deg : float
        Rotation about its normal, degrees.
    tag : int or None
        An AprilTag 36h11 tag id: the marker is that printed fiducial (`width_m` its side,
        printed with a white border of a quarter side around it) instead of a picture, and
        `seed` is unused. (default: None)
    """

    id: str
    seed: int
    width_m: float
    position_m: tuple[float, float, float]
    facing_m: tuple[float, float, float]
    roll_deg: float = 0.0
    tag: int | None = None

    def library_entry(self, image: str | None = None) -> dict[str, Any]:
        """Its entry in a markers file (`image`: the picture's file name, for a picture)."""
        if self.tag is not None:
            return {"id": self.id, "aruco": {"dictionary": TAG_DICTIONARY, "tag": self.tag}, "width_m": self.width_m}
        return {"id": self.id, "image": image, "width_m": float(self.width_m)}


class MarkerTruth(NamedTuple):
    """Where a marker really is in the camera frame at one moment.

    Attributes
    ----------
    marker_id : str
        Marker id.
    position_m : numpy.ndarray
        (3,) centre in the camera frame, m.
    rotation : numpy.ndarray
        (3,) Rodrigues vector, marker frame to camera frame.
    corners_px : numpy.ndarray
        (4, 2) image px of the corners: top-left, top-right, bottom-right, bottom-left.
    centre_px : numpy.ndarray
        (2,) image px of the centre.
    """

    marker_id: str
    position_m: np.ndarray
    rotation: np.ndarray
    corners_px: np.ndarray
    centre_px: np.ndarray

    @property
    def distance_m(self) -> float:
        """Distance of the centre from the camera, m."""
        return float(np.linalg.norm(self.position_m))


class Sway(NamedTuple):
    """The camera's slow motion: per axis, a sine of given amplitude, period and phase.

    Attributes
    ----------
    rotation_deg : tuple[float, float, float]
        Rotation amplitudes about x, y, z, degrees.
    translation_m : tuple[float, float, float]
        Translation amplitudes along x, y, z, m.
    periods_s : tuple[float, ...]
        Six periods (rotation x, y, z, translation x, y, z), s.
    phases_rad : tuple[float, ...]
        Six phases, radians.
    """

    rotation_deg: tuple[float, float, float] = (0.3, 0.4, 0.2)
    translation_m: tuple[float, float, float] = (0.008, 0.005, 0.01)
    periods_s: tuple[float, ...] = (7.3, 9.1, 11.7, 6.1, 8.3, 10.3)
    phases_rad: tuple[float, ...] = (0.0, 1.1, 2.3, 0.7, 2.9, 4.1)

    def pose(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """World-to-camera rotation matrix and translation at `t_s`."""
        waves = [
            math.sin(2.0 * math.pi * t_s / period + phase) for period, phase in zip(self.periods_s, self.phases_rad)
        ]
        rvec = np.radians(np.array(self.rotation_deg) * waves[:3])
        rotation, _ = cv2.Rodrigues(rvec)
        return rotation, np.array(self.translation_m) * waves[3:]


DEFAULT_MARKERS: tuple[MarkerSpec, ...] = (
    MarkerSpec("poster", 11, 0.25, (-0.32, -0.16, 1.00), (0.35, -0.05, 0.0)),
    MarkerSpec("book", 12, 0.20, (0.30, -0.14, 1.20), (-0.30, 0.10, 0.0), roll_deg=-6.0),
    MarkerSpec("sign", 13, 0.15, (0.02, 0.10, 0.70), (0.0, -0.20, 0.0)),
    MarkerSpec("photo", 14, 0.22, (-0.42, 0.24, 1.35), (0.0, 0.0, 0.0), roll_deg=8.0),
    MarkerSpec("map", 15, 0.25, (0.48, 0.22, 1.50), (0.10, 0.0, 0.0)),
    MarkerSpec("door", 0, 0.15, (0.03, -0.30, 1.30), (0.25, 0.0, 0.0), roll_deg=4.0, tag=7),
)

# Empty background the gaze script looks at between markers, camera px at the rest pose.
DEFAULT_LOOK_AWAY_PX: tuple[tuple[float, float], ...] = ((320.0, 170.0), (330.0, 445.0), (600.0, 55.0))


class DemoScene:
    """Markers at known poses on a textured background, seen by a swaying camera.

    Parameters
    ----------
    markers : Sequence[MarkerSpec]
        The markers. (default: `DEFAULT_MARKERS`, five markers 0.7–1.5 m away)
    image_size : tuple[int, int]
        (width, height) px. (default: (640, 480))
    focal_px : float
        Focal length fx = fy, px; no distortion, principal point centred. (default: 600.0)
    sway : Sway
        The camera's motion. (default: `Sway()`)
    background_seed : int
        `synthetic.background_texture` seed. (default: 7)
    background_distance_m : float
        Distance of the background wall, m. (default: 3.0)
    look_away_px : Sequence[tuple[float, float]]
        Spots of empty wall (camera px at the rest pose) a gaze script may look at between
        markers. (default: `DEFAULT_LOOK_AWAY_PX`)
    """

    def __init__(
        self,
        markers: Sequence[MarkerSpec] = DEFAULT_MARKERS,
        image_size: tuple[int, int] = (640, 480),
        focal_px: float = 600.0,
        sway: Sway = Sway(),
        background_seed: int = 7,
        background_distance_m: float = 3.0,
        look_away_px: Sequence[tuple[float, float]] = DEFAULT_LOOK_AWAY_PX,
    ) -> None:
        width, height = image_size
        matrix = np.array([[focal_px, 0.0, width / 2.0], [0.0, focal_px, height / 2.0], [0.0, 0.0, 1.0]])
        self.intrinsics = CameraIntrinsics((int(width), int(height)), matrix, np.zeros(5), 0.0)
        self.markers = tuple(markers)
        self.sway = sway
        self.look_away_px = tuple(look_away_px)
        # What each marker looks like: its picture, or its tag; printed, a tag has a white border.
        self.textures: dict[str, np.ndarray] = {}
        printed: dict[str, np.ndarray] = {}
        for spec in self.markers:
            if spec.tag is None:
                self.textures[spec.id] = printed[spec.id] = synthetic.marker_texture(spec.seed, TEXTURE_PX)
                continue
            marker = MarkerLibrary.parse([spec.library_entry()])[spec.id]
            sheet = cv2.cvtColor(draw_fiducial(marker, TEXTURE_PX / spec.width_m), cv2.COLOR_GRAY2BGR)
            border = (sheet.shape[1] - TEXTURE_PX) // 2
            printed[spec.id] = sheet
            self.textures[spec.id] = sheet[border : border + TEXTURE_PX, border : border + TEXTURE_PX].copy()
        self._printed_width_m = {
            spec.id: spec.width_m * printed[spec.id].shape[1] / TEXTURE_PX for spec in self.markers
        }
        self._world_poses: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for spec in self.markers:
            rvec, tvec = synthetic.look_at_pose(spec.position_m, spec.facing_m, spec.roll_deg)
            self._world_poses[spec.id] = (cv2.Rodrigues(rvec)[0], tvec)
        # Textures pre-shrunk to about their imaged size, so rendering does not resize per frame.
        self._render_textures: dict[str, np.ndarray] = {}
        for spec in self.markers:
            edge_px = focal_px * self._printed_width_m[spec.id] / spec.position_m[2] * 1.15
            side = int(min(printed[spec.id].shape[1], max(16, round(edge_px))))
            self._render_textures[spec.id] = cv2.resize(printed[spec.id], (side, side), interpolation=cv2.INTER_AREA)
        # The background wall: wide enough to fill the view under any sway.
        self._wall_width_m = 2.0 * background_distance_m * (width / 2.0) / focal_px * 1.3
        self._wall = synthetic.background_texture(background_seed, (width * 13 // 10, height * 13 // 10))
        self.background_seed = background_seed
        self.background_distance_m = background_distance_m

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) px."""
        return self.intrinsics.image_size

    @property
    def camera_matrix(self) -> np.ndarray:
        """(3, 3) intrinsics."""
        return self.intrinsics.camera_matrix

    def truth(self, t_s: float) -> dict[str, MarkerTruth]:
        """Every marker's true pose in the camera frame at scene time `t_s`, by id."""
        return self._truth(*self.sway.pose(t_s))

    def truth_at_rest(self) -> dict[str, MarkerTruth]:
        """The truth with the camera at its rest pose (no sway)."""
        return self._truth(np.eye(3), np.zeros(3))

    def _truth(self, sway_r: np.ndarray, sway_t: np.ndarray) -> dict[str, MarkerTruth]:
        truth: dict[str, MarkerTruth] = {}
        for spec in self.markers:
            world_r, world_t = self._world_poses[spec.id]
            rotation = sway_r @ world_r
            position = sway_r @ world_t + sway_t
            rvec = cv2.Rodrigues(rotation)[0].reshape(3)
            height_m = spec.width_m  # square textures
            points = np.vstack([plane_corners_m(spec.width_m, height_m), np.zeros((1, 3))])
            projected = (points @ rotation.T + position) @ self.camera_matrix.T
            pixels = projected[:, :2] / projected[:, 2:3]
            truth[spec.id] = MarkerTruth(spec.id, position, rvec, pixels[:4], pixels[4])
        return truth

    def project(self, point_world_m: Sequence[float], t_s: float) -> np.ndarray:
        """Image px of a world point at scene time `t_s`."""
        sway_r, sway_t = self.sway.pose(t_s)
        camera = sway_r @ np.asarray(point_world_m, np.float64) + sway_t
        pixel = self.camera_matrix @ camera
        return np.asarray(pixel[:2] / pixel[2])

    def world_point_at_px(self, pixel: Sequence[float], depth_m: float | None = None) -> np.ndarray:
        """The world point seen at `pixel` (rest pose) on the background wall, or at `depth_m`."""
        depth = self.background_distance_m if depth_m is None else depth_m
        ray = np.linalg.solve(self.camera_matrix, [pixel[0], pixel[1], 1.0])
        return np.asarray(ray / ray[2] * depth)

    def render(self, t_s: float) -> tuple[np.ndarray, dict[str, MarkerTruth]]:
        """The camera image and the truth at scene time `t_s`.

        Returns
        -------
        tuple
            (BGR uint8 image of `size`, truth by marker id)
        """
        width, height = self.size
        sway_r, sway_t = self.sway.pose(t_s)
        # Background: one homography from wall texture px to image px, no blending.
        wall_h_px, wall_w_px = self._wall.shape[:2]
        to_plane = texture_to_marker_m((wall_w_px, wall_h_px), self._wall_width_m)
        wall_t = sway_r @ np.array([0.0, 0.0, self.background_distance_m]) + sway_t
        plane_to_camera = np.column_stack([sway_r[:, 0], sway_r[:, 1], wall_t])
        homography = self.camera_matrix @ plane_to_camera @ to_plane
        image = cv2.warpPerspective(
            self._wall, homography, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        truth = self._truth(sway_r, sway_t)
        # Farthest first, so nearer markers cover farther ones.
        for spec in sorted(self.markers, key=lambda s: -s.position_m[2]):
            marker = truth[spec.id]
            synthetic.render_plane(
                image,
                self._render_textures[spec.id],
                self._printed_width_m[spec.id],
                marker.rotation,
                marker.position_m,
                self.camera_matrix,
            )
        return image, truth

    # -- files -----------------------------------------------------------------------------
    def write_library(self, folder: str | Path) -> Path:
        """Write the marker pictures (PNG) and ``markers.yaml`` into `folder`; returns the YAML path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for spec in self.markers:
            name = f"{spec.id}.png"
            if spec.tag is None and not cv2.imwrite(str(folder / name), self.textures[spec.id]):
                raise OSError(f"cannot write {folder / name}")
            entries.append(spec.library_entry(name))
        path = folder / "markers.yaml"
        write_yaml_atomic(path, entries)
        return path

    def write_intrinsics(self, path: str | Path) -> Path:
        """Write the known intrinsics as a calibration file; returns its path."""
        path = Path(path)
        save_intrinsics(self.intrinsics, path)
        return path

    def to_dict(self) -> dict[str, Any]:
        """The scene's description for ``scene.yaml``: markers at rest, sway, camera."""
        markers = []
        rest = self.truth_at_rest()
        for spec in self.markers:
            markers.append(
                {
                    **{key: value for key, value in spec.library_entry().items() if key != "image"},
                    **({"seed": spec.seed} if spec.tag is None else {}),
                    "width_m": float(spec.width_m),
                    "position_m": [float(v) for v in rest[spec.id].position_m],
                    "rotation": [float(v) for v in rest[spec.id].rotation],
                }
            )
        return {
            "frame": "world = the camera's rest pose (OpenCV camera frame, m); per-frame truth in truth.tsv",
            "image_size": [int(v) for v in self.size],
            "camera_matrix": [[float(v) for v in row] for row in self.camera_matrix],
            "markers": markers,
            "sway": {
                "rotation_deg": list(self.sway.rotation_deg),
                "translation_m": list(self.sway.translation_m),
                "periods_s": list(self.sway.periods_s),
                "phases_rad": list(self.sway.phases_rad),
            },
            "background": {"seed": self.background_seed, "distance_m": self.background_distance_m},
        }
