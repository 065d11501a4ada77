"""The marker library: known planar pictures with their physical size and reference features.

File format (docs/formats/markers.md): a YAML list of ``{id, image, width_m}``; image paths are relative to
the YAML file. Reference ORB features are computed once, at load, at several scales of the
picture so that small (distant) markers still find matching descriptors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.errors import FileFormatError
from gazefusion.fusion.files import read_yaml
from gazefusion.fusion.geometry import texture_to_marker_m
from gazefusion.fusion.images import to_grey

#: The picture is resized so its longest side has this many px before the first level.
REFERENCE_SIDE_PX = 480
#: Scales of the reference pyramid, relative to `REFERENCE_SIDE_PX` (each level runs ORB's own
#: 8-level pyramid too, so together they cover markers imaged from ~480 px down to ~35 px
#: wide in the (upscaled) search region).
REFERENCE_SCALES = (1.0, 0.5, 0.25)
#: A picture with fewer ORB keypoints than this at the first level is refused as too plain.
MIN_REFERENCE_KEYPOINTS = 80


@dataclass(frozen=True)
class ReferenceLevel:
    """ORB features of a marker picture at one scale.

    Attributes
    ----------
    points_px : numpy.ndarray
        (N, 2) float32 keypoint positions in the original picture's px.
    descriptors : numpy.ndarray
        (N, 32) uint8 ORB descriptors.
    """

    points_px: np.ndarray
    descriptors: np.ndarray


@dataclass(frozen=True)
class Marker:
    """One known planar marker.

    Attributes
    ----------
    marker_id : str
        Its id in the library.
    width_m, height_m : float
        Physical size, m (the height follows the picture's aspect ratio).
    image_size : tuple[int, int]
        (width, height) of the picture, px.
    levels : tuple[ReferenceLevel, ...]
        Reference features, largest scale first.
    source : str
        Where the picture came from (a path, or a name given by the caller).
    """

    marker_id: str
    width_m: float
    height_m: float
    image_size: tuple[int, int]
    levels: tuple[ReferenceLevel, ...]
    source: str

    def to_marker_m(self, points_px: np.ndarray) -> np.ndarray:
        """Picture px to marker-frame points, m (origin at the picture's centre, z = 0).

        Parameters
        ----------
        points_px : numpy.ndarray
            (N, 2) picture px.

        Returns
        -------
        numpy.ndarray
            (N, 3) m.
        """
        affine = texture_to_marker_m(self.image_size, self.width_m)
        points = np.asarray(points_px, np.float64).reshape(-1, 2) @ affine[:2, :2].T + affine[:2, 2]
        return np.column_stack([points, np.zeros(len(points))])

    @property
    def outline_px(self) -> np.ndarray:
        """(4, 2) float64: the picture's corners (TL, TR, BR, BL) in its own px (pixel centres at integers)."""
        width, height = self.image_size
        return np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]])


class MarkerLibrary:
    """The known markers, by id, in file order.

    Parameters
    ----------
    markers : Iterable[Marker]
        The markers; ids must be unique.
    """

    def __init__(self, markers: Iterable[Marker]) -> None:
        self.markers: tuple[Marker, ...] = tuple(markers)
        ids = [marker.marker_id for marker in self.markers]
        duplicates = sorted({marker_id for marker_id in ids if ids.count(marker_id) > 1})
        if duplicates:
            raise FileFormatError(f"marker ids must be unique: {', '.join(duplicates)} appear more than once")

    def __len__(self) -> int:
        return len(self.markers)

    def __iter__(self) -> Iterator[Marker]:
        return iter(self.markers)

    def __getitem__(self, marker_id: str) -> Marker:
        for marker in self.markers:
            if marker.marker_id == marker_id:
                return marker
        raise KeyError(marker_id)

    @property
    def ids(self) -> list[str]:
        """Marker ids in library order."""
        return [marker.marker_id for marker in self.markers]

    @classmethod
    def load(cls, path: str | Path, config: MarkersConfig | None = None) -> MarkerLibrary:
        """Read a markers YAML file and compute every marker's reference features.

        Parameters
        ----------
        path : str or pathlib.Path
            The YAML list of ``{id, image, width_m}``.
        config : MarkersConfig or None
            Detector settings (ORB feature count). (default: None, the defaults)

        Raises
        ------
        FileFormatError
            A missing or malformed file; per marker: a missing key, a duplicate id, a width
            that is not a positive number, a missing or unreadable picture, or a picture with
            too little texture — each named, with the reason.
        """
        config = config or MarkersConfig()
        path = Path(path)
        data = read_yaml(path, "markers")
        if not isinstance(data, list) or not data:
            raise FileFormatError(f"markers file {path}: expected a non-empty list of {{id, image, width_m}}")
        entries: list[tuple[str, np.ndarray, float, str]] = []
        seen: set[str] = set()
        for number, entry in enumerate(data, start=1):
            where = f"markers file {path}, entry {number}"
            if not isinstance(entry, dict):
                raise FileFormatError(f"{where}: expected a mapping with id, image, width_m")
            missing = [key for key in ("id", "image", "width_m") if key not in entry]
            if missing:
                raise FileFormatError(f"{where}: lacks {', '.join(missing)}")
            unknown = sorted(set(entry) - {"id", "image", "width_m"})
            if unknown:
                raise FileFormatError(
                    f"{where}: unknown key {', '.join(map(str, unknown))} (known: id, image, width_m)"
                )
            marker_id = str(entry["id"]).strip()
            if entry["id"] is None or not marker_id:
                raise FileFormatError(f"{where}: id must not be empty")
            if marker_id in seen:
                raise FileFormatError(f"{where}: duplicate marker id {marker_id!r}")
            seen.add(marker_id)
            width_m = _width(entry["width_m"], f"marker {marker_id!r}")
            image_path = (path.parent / str(entry["image"])).resolve()
            if not image_path.is_file():
                raise FileFormatError(f"marker {marker_id!r}: image not found: {image_path}")
            image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
            if image is None or image.size == 0:
                raise FileFormatError(f"marker {marker_id!r}: image is not a readable picture: {image_path}")
            entries.append((marker_id, image, width_m, str(image_path)))
        return cls(
            build_marker(marker_id, image, width_m, config, source) for marker_id, image, width_m, source in entries
        )

    @classmethod
    def from_images(
        cls, markers: Sequence[tuple[str, np.ndarray, float]], config: MarkersConfig | None = None
    ) -> MarkerLibrary:
        """A library from pictures in memory (e.g. `gazefusion.fusion.synthetic.marker_texture`).

        Parameters
        ----------
        markers : Sequence[tuple[str, numpy.ndarray, float]]
            (id, picture, width_m) per marker.
        config : MarkersConfig or None
            Detector settings. (default: None, the defaults)
        """
        config = config or MarkersConfig()
        return cls(
            build_marker(str(marker_id), image, _width(width_m, f"marker {marker_id!r}"), config, f"<{marker_id}>")
            for marker_id, image, width_m in markers
        )


def build_marker(marker_id: str, image: np.ndarray, width_m: float, config: MarkersConfig, source: str) -> Marker:
    """Compute a marker's reference features at `REFERENCE_SCALES`.

    Raises
    ------
    FileFormatError
        When the picture has too little texture (fewer than `MIN_REFERENCE_KEYPOINTS`).
    """
    grey = to_grey(image)
    if grey is None:
        raise FileFormatError(f"{source}: the picture is empty")
    height_px, width_px = grey.shape[:2]
    orb = cv2.ORB_create(nfeatures=config.n_features, scaleFactor=1.2, nlevels=8)
    base = REFERENCE_SIDE_PX / max(width_px, height_px)
    levels = []
    for level_index, relative in enumerate(REFERENCE_SCALES):
        scale = base * relative
        size = (max(1, round(width_px * scale)), max(1, round(height_px * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        resized = grey if size == (width_px, height_px) else cv2.resize(grey, size, interpolation=interpolation)
        keypoints, descriptors = orb.detectAndCompute(resized, None)
        if level_index == 0 and len(keypoints) < MIN_REFERENCE_KEYPOINTS:
            raise FileFormatError(
                f"marker {marker_id!r} ({source}): too little texture: {len(keypoints)} ORB keypoints, "
                f"needs at least {MIN_REFERENCE_KEYPOINTS} (use a busier picture: print, photo, pattern)"
            )
        if descriptors is None or len(keypoints) < 8:
            continue
        sx, sy = size[0] / width_px, size[1] / height_px
        points = np.array([kp.pt for kp in keypoints], np.float32)
        points = (points + 0.5) / np.array([sx, sy], np.float32) - 0.5
        levels.append(ReferenceLevel(points, descriptors))
    height_m = width_m * height_px / width_px
    return Marker(marker_id, float(width_m), float(height_m), (width_px, height_px), tuple(levels), source)


def _width(value: object, what: str) -> float:
    if isinstance(value, bool):
        raise FileFormatError(f"{what}: width_m must be a positive number of metres, got {value!r}")
    try:
        width_m = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FileFormatError(f"{what}: width_m must be a positive number of metres, got {value!r}") from None
    if not math.isfinite(width_m) or width_m <= 0:
        raise FileFormatError(f"{what}: width_m must be a positive number of metres, got {value!r}")
    return width_m
