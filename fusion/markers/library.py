"""The marker library: known planar markers with their physical size.

Two kinds in one YAML list (docs/formats/markers.md):

- pictures ``{id, image, width_m}``: any textured picture (a poster, a book cover, a screen);
  the image path is relative to the YAML file;
- fiducials ``{id, aruco: {dictionary, tag}, width_m}``: a printed tag of OpenCV's ``aruco``
  module (ArUco or AprilTag), or a board of several tags on one object
  ``{id, aruco: {dictionary, board: [{tag, centre_m: [x, y]}, ...]}, width_m}``.

Every marker may carry ``aois:``, named polygons in the picture's px (used by the gaze-on-marker
analysis). The file is validated whole before anything starts: a bad entry is one line naming
the marker and the field.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.errors import FileFormatError
from gazefusion.fusion.files import read_yaml
from gazefusion.fusion.geometry import texture_to_marker_m
from gazefusion.fusion.images import to_grey

#: The texture check looks at the picture resized so its longest side has this many px.
REFERENCE_SIDE_PX = 480
#: A picture with fewer ORB keypoints than this at that size is refused as too plain.
MIN_REFERENCE_KEYPOINTS = 80
#: A fiducial's layout is drawn (and its homography expressed) at this many px per metre.
FIDUCIAL_PX_PER_M = 1000.0
#: OpenCV's predefined dictionaries by name (the upper-case aliases of the AprilTag ones too).
ARUCO_DICTIONARIES: dict[str, int] = {
    name: getattr(cv2.aruco, name) for name in dir(cv2.aruco) if name.startswith("DICT_")
}

MarkerKind = Literal["picture", "aruco"]


class MarkerAoi(NamedTuple):
    """A named area of interest on a marker.

    Attributes
    ----------
    name : str
        Unique on its marker.
    polygon_px : numpy.ndarray
        (N, 2) float64 vertices in the marker picture's px.
    """

    name: str
    polygon_px: np.ndarray


@dataclass(frozen=True)
class Fiducial:
    """The tags of a fiducial marker.

    Attributes
    ----------
    dictionary : str
        OpenCV's name of the dictionary, e.g. ``DICT_APRILTAG_36h11``.
    tags : tuple[int, ...]
        The tag ids (one for a single tag, several for a board).
    corners_m : numpy.ndarray
        (T, 4, 3) each tag's corners (top-left, top-right, bottom-right, bottom-left) in the
        marker frame, m (origin at the centre of the rectangle the tags span, z = 0).
    """

    dictionary: str
    tags: tuple[int, ...]
    corners_m: np.ndarray

    @property
    def is_board(self) -> bool:
        """Whether this is a board of several tags."""
        return len(self.tags) > 1


@dataclass(frozen=True)
class Marker:
    """One known planar marker.

    Attributes
    ----------
    marker_id : str
        Its id in the library.
    width_m, height_m : float
        Physical size, m (a picture's height follows its aspect ratio; a fiducial's is the
        rectangle its tags span).
    image_size : tuple[int, int]
        (width, height) of the picture, px (a fiducial's layout at `FIDUCIAL_PX_PER_M`).
    picture : numpy.ndarray or None
        The picture, grey uint8 (the detector computes its reference features); None for a
        fiducial.
    source : str
        Where the picture came from (a path, or a name given by the caller).
    fiducial : Fiducial or None
        The tags, for a fiducial marker. (default: None)
    aois : tuple[MarkerAoi, ...]
        Named areas of interest on the picture. (default: ())
    """

    marker_id: str
    width_m: float
    height_m: float
    image_size: tuple[int, int]
    picture: np.ndarray | None
    source: str
    fiducial: Fiducial | None = None
    aois: tuple[MarkerAoi, ...] = field(default=())

    @property
    def kind(self) -> MarkerKind:
        """``"picture"`` or ``"aruco"``."""
        return "picture" if self.fiducial is None else "aruco"

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

    def to_picture_px(self, points_m: np.ndarray) -> np.ndarray:
        """Marker-frame points to picture px (the inverse of `to_marker_m`).

        Parameters
        ----------
        points_m : numpy.ndarray
            (N, 2) or (N, 3) points in the marker frame, m (z ignored).

        Returns
        -------
        numpy.ndarray
            (N, 2) picture px.
        """
        affine = texture_to_marker_m(self.image_size, self.width_m)
        points = np.asarray(points_m, np.float64).reshape(len(points_m), -1)[:, :2]
        return (points - affine[:2, 2]) / np.diag(affine)[:2]

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
        #: Reference features by detector settings, computed once (`detector.LibraryIndex.build`).
        self.reference_cache: dict[object, object] = {}
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

    @property
    def fiducials(self) -> list[tuple[int, Marker]]:
        """(index, marker) of the fiducial markers."""
        return [(number, marker) for number, marker in enumerate(self.markers) if marker.fiducial is not None]

    @classmethod
    def load(cls, path: str | Path, config: MarkersConfig | None = None) -> MarkerLibrary:
        """Read and validate a markers YAML file.

        Parameters
        ----------
        path : str or pathlib.Path
            The YAML list of markers.
        config : MarkersConfig or None
            Detector settings (features for the texture check). (default: None, the defaults)

        Raises
        ------
        FileFormatError
            A missing or malformed file, or any bad entry: one line naming the marker (or the
            entry's number) and the field, with the reason.
        """
        path = Path(path)
        return cls.parse(read_yaml(path, "markers"), path.parent, f"markers file {path}", config)

    @classmethod
    def parse(
        cls, data: Any, folder: str | Path = ".", source: str = "markers", config: MarkersConfig | None = None
    ) -> MarkerLibrary:
        """Validate the plain data of a markers file (a list of entries) and load its pictures.

        Parameters
        ----------
        data : Any
            What the YAML file holds.
        folder : str or pathlib.Path
            Image paths are relative to this folder. (default: ".")
        source : str
            Where the data came from, for the error message. (default: "markers")
        config : MarkersConfig or None
            Detector settings. (default: None, the defaults)

        Raises
        ------
        FileFormatError
            As `load`.
        """
        config = config or MarkersConfig()
        if not isinstance(data, list) or not data:
            raise FileFormatError(
                f"{source}: expected a non-empty list of markers ({{id, image, width_m}} or {{id, aruco, width_m}})"
            )
        entries = [_validate_entry(entry, number, source) for number, entry in enumerate(data, start=1)]
        _check_across(entries, source)
        folder = Path(folder)
        markers = []
        for entry in entries:
            where = f"{source}, marker {entry.id!r}"
            if entry.aruco is not None:
                markers.append(_fiducial_marker(entry))
                continue
            assert entry.image is not None
            image_path = (folder / entry.image).resolve()
            if not image_path.is_file():
                raise FileFormatError(f"{where}: image: not found: {image_path}")
            image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
            if image is None or image.size == 0:
                raise FileFormatError(f"{where}: image: not a readable picture: {image_path}")
            marker = build_marker(entry.id, image, entry.width_m, config, str(image_path))
            markers.append(_with_aois(marker, entry, where))
        return cls(markers)

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
        built = []
        for marker_id, image, width_m in markers:
            if isinstance(width_m, bool) or not isinstance(width_m, (int, float)) or not 0 < width_m < math.inf:
                raise FileFormatError(
                    f"marker {marker_id!r}: width_m must be a positive number of metres, got {width_m!r}"
                )
            built.append(build_marker(str(marker_id), image, float(width_m), config, f"<{marker_id}>"))
        return cls(built)


# --- the file's entries -------------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BoardTag(_Entry):
    """One tag of a board: its id, its centre on the object (m, x right, y down) and its side."""

    tag: int = Field(ge=0)
    centre_m: tuple[float, float]
    width_m: float | None = None

    @field_validator("width_m")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        return None if value is None else _positive_metres(value)

    @field_validator("centre_m")
    @classmethod
    def _finite(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(math.isfinite(v) for v in value):
            raise ValueError(f"must be two finite numbers of metres, got {list(value)}")
        return value


class ArucoSpec(_Entry):
    """A printed tag (``tag``) or a board of tags (``board``) of one OpenCV dictionary."""

    dictionary: str
    tag: int | None = Field(None, ge=0)
    board: list[BoardTag] | None = Field(None, min_length=1)

    @field_validator("dictionary")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in ARUCO_DICTIONARIES:
            known = ", ".join(
                sorted(name for name in ARUCO_DICTIONARIES if not name.endswith(("H5", "H9", "H10", "H11", "H12")))
            )
            raise ValueError(f"unknown dictionary {value!r} (known: {known})")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ArucoSpec:
        if (self.tag is None) == (self.board is None):
            raise ValueError("give either tag (one printed tag) or board (a list of {tag, centre_m})")
        return self

    @property
    def tags(self) -> list[int]:
        """The tag ids, in file order."""
        return [self.tag] if self.tag is not None else [item.tag for item in self.board or ()]


class AoiSpec(_Entry):
    """A named polygon in the marker picture's px."""

    name: str = Field(min_length=1)
    polygon: list[tuple[float, float]] = Field(min_length=3)

    @field_validator("polygon")
    @classmethod
    def _finite(cls, value: list[tuple[float, float]]) -> list[tuple[float, float]]:
        if not all(math.isfinite(v) for point in value for v in point):
            raise ValueError("points must be finite numbers of px")
        return value


class MarkerEntry(_Entry):
    """One entry of the markers file."""

    id: str = Field(min_length=1)
    image: str | None = None
    aruco: ArucoSpec | None = None
    width_m: float
    aois: list[AoiSpec] = Field(default_factory=list)

    @field_validator("id", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("must not be empty")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value.strip() if isinstance(value, str) else value

    @field_validator("width_m", mode="before")
    @classmethod
    def _width(cls, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a positive number of metres, got {value!r}")
        return _positive_metres(float(value))

    @model_validator(mode="after")
    def _one_kind(self) -> MarkerEntry:
        if (self.image is None) == (self.aruco is None):
            raise ValueError("give either image (a picture) or aruco (a printed tag or board)")
        names = [aoi.name for aoi in self.aois]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"aois: names must be unique on a marker: {', '.join(map(repr, twice))} appear twice")
        if self.aruco is not None and self.aois:
            raise ValueError("aois: only picture markers have aois (polygons in the picture's px)")
        return self


def _positive_metres(value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a positive number of metres, got {value!r}")
    return value


_KEYS = ", ".join(MarkerEntry.model_fields)


def _validate_entry(entry: Any, number: int, source: str) -> MarkerEntry:
    """One entry validated, or a FileFormatError naming the marker (or the entry's number) and the field."""
    where = f"{source}, entry {number}"
    if not isinstance(entry, Mapping):
        raise FileFormatError(f"{where}: expected a mapping with id, width_m and image or aruco")
    if isinstance(entry.get("id"), (str, int, float)) and str(entry["id"]).strip():
        where = f"{source}, marker {str(entry['id']).strip()!r}"
    try:
        return MarkerEntry.model_validate(dict(entry))
    except ValidationError as exc:
        raise FileFormatError(f"{where}: {_describe(exc.errors()[0])}") from None


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``field: what is wrong``."""
    loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"lacks {loc}"
    if error["type"] == "extra_forbidden":
        return f"unknown key {loc} (known: {_KEYS})" if "." not in loc else f"{loc}: unknown key"
    if error["type"] == "value_error":
        return f"{loc}: {message}" if loc else message
    return f"{loc}: {error['input']!r} is not valid: {message[:1].lower()}{message[1:]}"


def _check_across(entries: list[MarkerEntry], source: str) -> None:
    """What no single entry shows: duplicate ids, a printed tag used twice, overlapping board tags,
    tag ids outside their dictionary."""
    seen_ids: set[str] = set()
    printed: dict[tuple[int, bytes], tuple[str, str, int]] = {}
    for number, entry in enumerate(entries, start=1):
        if entry.id in seen_ids:
            raise FileFormatError(f"{source}, entry {number}: duplicate marker id {entry.id!r}")
        seen_ids.add(entry.id)
        spec = entry.aruco
        if spec is None:
            continue
        where = f"{source}, marker {entry.id!r}"
        dictionary = cv2.aruco.getPredefinedDictionary(ARUCO_DICTIONARIES[spec.dictionary])
        count = int(dictionary.bytesList.shape[0])
        field_name = "aruco.tag" if spec.tag is not None else "aruco.board[{}].tag"
        for position, tag in enumerate(spec.tags):
            name = field_name.format(position)
            if tag >= count:
                raise FileFormatError(f"{where}: {name}: tag {tag} is outside {spec.dictionary} (tags 0-{count - 1})")
            # The same printed pattern, whichever dictionary names it (DICT_4X4_50 is a prefix of DICT_4X4_100).
            key = (int(dictionary.markerSize), dictionary.bytesList[tag].tobytes())
            if key in printed:
                other, other_dictionary, other_tag = printed[key]
                same = "this board" if other == entry.id else f"marker {other!r}"
                raise FileFormatError(
                    f"{where}: {name}: {spec.dictionary} tag {tag} is the same printed tag as {same} "
                    f"({other_dictionary} tag {other_tag}): each tag may mark one place only"
                )
            printed[key] = (entry.id, spec.dictionary, tag)
        if spec.board is not None:
            _check_board(spec.board, entry.width_m, where)


def _check_board(board: list[BoardTag], width_m: float, where: str) -> None:
    for first in range(len(board)):
        for second in range(first):
            a, b = board[first], board[second]
            reach = ((a.width_m or width_m) + (b.width_m or width_m)) / 2.0
            if abs(a.centre_m[0] - b.centre_m[0]) < reach and abs(a.centre_m[1] - b.centre_m[1]) < reach:
                raise FileFormatError(
                    f"{where}: aruco.board[{first}]: tag {a.tag} overlaps tag {b.tag} (board[{second}]): "
                    f"centres {list(a.centre_m)} and {list(b.centre_m)} m are closer than their half sides"
                )


def _fiducial_marker(entry: MarkerEntry) -> Marker:
    """A fiducial marker: its tags' corners in a frame centred on the rectangle they span."""
    spec = entry.aruco
    assert spec is not None
    placed = [(spec.tag, (0.0, 0.0), entry.width_m)] if spec.tag is not None else []
    for item in spec.board or ():
        placed.append((item.tag, item.centre_m, item.width_m or entry.width_m))
    square = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    corners = np.array([np.asarray(centre) + side * square for _, centre, side in placed])
    low, high = corners.reshape(-1, 2).min(axis=0), corners.reshape(-1, 2).max(axis=0)
    corners = corners - (low + high) / 2.0
    width_m, height_m = (high - low).tolist()
    corners_m = np.concatenate([corners, np.zeros((len(placed), 4, 1))], axis=2)
    size = (max(2, round(width_m * FIDUCIAL_PX_PER_M)), max(2, round(height_m * FIDUCIAL_PX_PER_M)))
    fiducial = Fiducial(spec.dictionary, tuple(tag for tag, _, _ in placed), corners_m)
    return Marker(entry.id, float(width_m), float(width_m * size[1] / size[0]), size, None, spec.dictionary, fiducial)


def _with_aois(marker: Marker, entry: MarkerEntry, where: str) -> Marker:
    """The marker with its AOIs, each checked to lie on the picture."""
    width, height = marker.image_size
    aois = []
    for number, aoi in enumerate(entry.aois):
        polygon = np.array(aoi.polygon, np.float64)
        outside = (
            (polygon[:, 0] < -0.5)
            | (polygon[:, 0] > width - 0.5)
            | (polygon[:, 1] < -0.5)
            | (polygon[:, 1] > height - 0.5)
        )
        if outside.any():
            x, y = polygon[np.argmax(outside)]
            raise FileFormatError(
                f"{where}: aois[{number}].polygon: point ({x:g}, {y:g}) lies outside the {width}x{height} picture"
            )
        aois.append(MarkerAoi(aoi.name, polygon))
    return Marker(
        marker.marker_id,
        marker.width_m,
        marker.height_m,
        marker.image_size,
        marker.picture,
        marker.source,
        None,
        tuple(aois),
    )


def build_marker(marker_id: str, image: np.ndarray, width_m: float, config: MarkersConfig, source: str) -> Marker:
    """A picture marker, refused when its picture has too little texture.

    Raises
    ------
    FileFormatError
        When the picture, at `REFERENCE_SIDE_PX`, has fewer than `MIN_REFERENCE_KEYPOINTS`
        ORB keypoints.
    """
    grey = to_grey(image)
    if grey is None:
        raise FileFormatError(f"marker {marker_id!r} ({source}): the picture is empty")
    height_px, width_px = grey.shape[:2]
    scale = REFERENCE_SIDE_PX / max(width_px, height_px)
    resized = cv2.resize(
        grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    keypoints = cv2.ORB_create(nfeatures=config.n_features).detect(resized, None)
    if len(keypoints) < MIN_REFERENCE_KEYPOINTS:
        raise FileFormatError(
            f"marker {marker_id!r} ({source}): too little texture: {len(keypoints)} ORB keypoints, "
            f"needs at least {MIN_REFERENCE_KEYPOINTS} (use a busier picture: print, photo, pattern; "
            "or a printed ArUco/AprilTag: aruco: {dictionary, tag})"
        )
    height_m = width_m * height_px / width_px
    return Marker(marker_id, float(width_m), float(height_m), (width_px, height_px), grey, source)
