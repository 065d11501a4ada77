"""Fiducial markers: printed ArUco / AprilTag tags and boards of them, found with OpenCV's
``cv2.aruco.ArucoDetector`` in the same (upscaled) search region as the picture markers.

A tag's four corners are its correspondences; the library says where each tag sits on its
marker, so one tag or any visible part of a board gives the marker's pose (IPPE for a square,
IPPE then Levenberg-Marquardt on every corner of a board).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from gazefusion.fusion.markers.library import ARUCO_DICTIONARIES, Marker, MarkerLibrary


class TagCorners(NamedTuple):
    """The tags of one fiducial marker seen in a frame.

    Attributes
    ----------
    marker_index : int
        The marker's index in the library.
    object_m : numpy.ndarray
        (4K, 3) the seen tags' corners in the marker frame, m.
    frame_px : numpy.ndarray
        (4K, 2) float32 their images, frame px.
    tags : int
        K, the tags seen.
    """

    marker_index: int
    object_m: np.ndarray
    frame_px: np.ndarray
    tags: int


def detector_parameters() -> cv2.aruco.DetectorParameters:
    """OpenCV's detector settings with sub-pixel corner refinement (the pose needs exact corners)."""
    parameters = cv2.aruco.DetectorParameters()
    parameters.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    return parameters


class FiducialSearch:
    """Every fiducial marker of a library, by dictionary.

    Parameters
    ----------
    library : MarkerLibrary
        The library; its picture markers are ignored here.
    """

    def __init__(self, library: MarkerLibrary) -> None:
        self._detectors: list[tuple[cv2.aruco.ArucoDetector, dict[int, tuple[int, int]]]] = []
        by_dictionary: dict[str, dict[int, tuple[int, int]]] = {}
        for number, marker in library.fiducials:
            assert marker.fiducial is not None
            owners = by_dictionary.setdefault(marker.fiducial.dictionary, {})
            for position, tag in enumerate(marker.fiducial.tags):
                owners[tag] = (number, position)
        self._library = library
        for name, owners in by_dictionary.items():
            dictionary = cv2.aruco.getPredefinedDictionary(ARUCO_DICTIONARIES[name])
            self._detectors.append((cv2.aruco.ArucoDetector(dictionary, detector_parameters()), owners))

    def __bool__(self) -> bool:
        return bool(self._detectors)

    def find(self, work: np.ndarray, scale: float, origin: tuple[int, int]) -> list[TagCorners]:
        """The library's tags in a grey working image, grouped by marker.

        Parameters
        ----------
        work : numpy.ndarray
            Grey uint8 crop of the frame, upscaled by `scale`.
        scale : float
            Working px per frame px.
        origin : tuple[int, int]
            Frame px of the crop's top-left corner.
        """
        seen: dict[int, list[tuple[int, np.ndarray]]] = {}
        for detector, owners in self._detectors:
            corners, ids, _ = detector.detectMarkers(work)
            if ids is None:
                continue
            for tag_corners, tag in zip(corners, ids.ravel()):
                owner = owners.get(int(tag))
                if owner is None:
                    continue  # a tag that is not in the library
                frame_px = (tag_corners.reshape(4, 2) + 0.5) / scale - 0.5 + np.array(origin, np.float32)
                seen.setdefault(owner[0], []).append((owner[1], frame_px.astype(np.float32)))
        found = []
        for number, tags in seen.items():
            fiducial = self._library.markers[number].fiducial
            assert fiducial is not None
            positions = {position: frame_px for position, frame_px in tags}  # a tag seen twice: the last
            object_m = np.concatenate([fiducial.corners_m[position] for position in positions])
            frame_px = np.concatenate(list(positions.values()))
            found.append(TagCorners(number, object_m, frame_px, len(positions)))
        return found


def draw_fiducial(marker: Marker, px_per_m: float, margin_m: float | None = None) -> np.ndarray:
    """A fiducial marker's printable picture: its tags on white, with a white quiet zone around.

    Parameters
    ----------
    marker : Marker
        A fiducial marker of the library.
    px_per_m : float
        Resolution, px per metre (e.g. 300 dpi is about 11 811 px per metre).
    margin_m : float or None
        White border around the tags' rectangle, m; None: a quarter of the smallest tag's
        side (OpenCV needs at least one tag bit of white around each tag). (default: None)

    Returns
    -------
    numpy.ndarray
        Grey uint8 picture of ``(height_m + 2 margin) x (width_m + 2 margin)`` at `px_per_m`;
        the marker's centre is the picture's centre.
    """
    fiducial = marker.fiducial
    if fiducial is None:
        raise ValueError(f"marker {marker.marker_id!r} is a picture, not a fiducial")
    sides = np.linalg.norm(fiducial.corners_m[:, 1] - fiducial.corners_m[:, 0], axis=1)
    margin = float(sides.min()) / 4.0 if margin_m is None else float(margin_m)
    width_px = int(round((marker.width_m + 2 * margin) * px_per_m))
    height_px = int(round((marker.height_m + 2 * margin) * px_per_m))
    picture = np.full((height_px, width_px), 255, np.uint8)
    dictionary = cv2.aruco.getPredefinedDictionary(ARUCO_DICTIONARIES[fiducial.dictionary])
    centre = np.array([width_px, height_px], np.float64) / 2.0
    for tag, corners_m, side_m in zip(fiducial.tags, fiducial.corners_m, sides):
        side_px = int(round(side_m * px_per_m))
        left, top = np.round(corners_m[0, :2] * px_per_m + centre).astype(int)
        picture[top : top + side_px, left : left + side_px] = cv2.aruco.generateImageMarker(dictionary, tag, side_px)
    return picture
