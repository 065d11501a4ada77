"""Marker search on real photographs: the looked-at marker, its pose, its cost, against peers
measured in the same run on the same frames and AOIs.

Data: the Oxford affine sequences in ``../shared/data/oxford`` (real photographs with true
homographies; see its README).

Rows
----
- ``viewpoint``: real viewpoint changes. ``img1`` of ``wall`` (20-60 deg out of plane) and of
  ``bark`` (zoom, rotation) located in ``img2..img6``: the photograph at full size (whole
  frame searched) and scaled so the picture spans 100, 150, 200 and 300 px, pasted at a random
  place of a 640x480 frame on a real background, the AOI as the core builds it around the
  picture's centre. A find is the right id with mean corner error under 5 % of the span.
- ``rendered``: real pictures (the left halves of ``img1`` of ``bikes``, ``leuven``, ``trees``,
  ``ubc``, 0.20 m wide) rendered at known poses into 640x480 frames (fx = fy = 600) on real
  backgrounds (the right halves of ``trees`` and ``ubc`` turned a quarter, never the marker's own photograph):
  0.5-3 m, tilts 0/35/55 deg about a random axis, random roll, blur sigma 0.5-1 px, noise
  sigma 2-4, JPEG quality 60-80. The gaze is a random point of the marker's inner 60 % plus
  Gaussian error (sigma 3 px); the AOI is what `FusionCore.aoi_for` builds around it with the
  default configuration (3 deg on the default screen: 56x56 camera px). A find is the right id
  first with the distance within 10 %.
- ``empty``: as many AOIs on the same backgrounds with no marker drawn: any hit is a false
  positive.
- ``textures``: the generated textures of `gazefusion.fusion.synthetic` in the same scenes
  (their own library of four, with the real library's distractors).
- ``fiducial``: AprilTag 36h11 tags of 0.10 and 0.20 m, 0.5-5 m.

The library holds 8 pictures: the 6 markers (wall, bark, bikes, leuven, trees, ubc) and 2
distractors that are never shown (the right halves of ``bikes`` and ``leuven``: the same
scenes' textures, the hardest kind of wrong id).

Tuning and held out: the detector was tuned on ``wall`` (viewpoint), ``bikes`` and ``leuven``
(rendered, seeds 0-9999) and the textures; ``bark``, ``trees`` and ``ubc`` with seeds from
10000 on were not run while tuning. ``--part tune|held-out|all`` picks them.

Methods: ``ours`` (MarkerDetector as configured), ``v1`` (the detector before issue 10, as
the same class with its old settings), ``sift`` (the same search, matching, verification and
pose with OpenCV's SIFT), ``orb`` (plain ORB: OpenCV's defaults on the AOI against the
picture, ratio 0.8, RANSAC, IPPE), ``msorb`` (multi-scale ORB: reference ORB at five scales,
the AOI upscaled 2x when it is small, ratio 0.8, RANSAC, IPPE). Time: CPU time of the thread,
ms per AOI.

Run:  nice -n 10 python bench/bench_markers.py [--quick] [--part all] [--rows viewpoint,rendered,...]
      nice -n 10 python bench/bench_markers.py --tracking [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.config import Config, MarkersConfig
from gazefusion.fusion.core import FusionCore
from gazefusion.fusion.geometry import texture_to_marker_m
from gazefusion.fusion.markers import MarkerDetector, MarkerLibrary, MarkerTracker
from gazefusion.fusion.markers.detector import DetectorTuning, search_box
from gazefusion.fusion.markers.fiducials import draw_fiducial
from gazefusion.fusion.synthetic import (
    background_texture,
    degrade,
    marker_pose,
    marker_texture,
    render_plane,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SIZE = (640, 480)
CAMERA = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
NO_DIST = np.zeros(5)
WIDTH_M = 0.20
DISTANCES_M = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
TILTS_DEG = (0, 35, 55)
SPANS_PX = (100, 150, 200, 300)
GAZE_ERROR_PX = 3.0
FOUND_CORNER_FRACTION = 0.05
WRONG_DISTANCE_FRACTION = 0.10
TUNE_SEEDS, HELD_OUT_SEEDS = 0, 10_000
MARKER_PICTURES = ("bikes", "leuven", "trees", "ubc")
HELD_OUT = {"bark", "trees", "ubc"}
BACKGROUNDS = ("trees", "ubc")
TAG_WIDTHS_M = (0.10, 0.20)
TAG_DISTANCES_M = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
TAG_PX_PER_M = 4000.0

Result = tuple[str, np.ndarray, np.ndarray, np.ndarray]  # id, corners (4, 2), rvec, tvec
Method = Callable[[np.ndarray, tuple[int, int, int, int] | None, tuple[float, float], CameraIntrinsics], list[Result]]
Pictures = dict[str, tuple[np.ndarray, float]]  # id -> (picture, width_m)


def oxford_dir() -> Path:
    """../shared/data/oxford beside the repository (or beside its worktree folder)."""
    for root in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        candidate = root / "shared" / "data" / "oxford"
        if candidate.is_dir():
            return candidate
    raise SystemExit(f"benchmark data missing: {REPO_ROOT.parent / 'shared' / 'data' / 'oxford'}")


def read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return image


def halves(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left and right halves of a photograph (disjoint: one a marker, the other a distractor or background)."""
    middle = image.shape[1] // 2
    return image[:, :middle].copy(), image[:, middle:].copy()


@dataclass
class Data:
    """The pictures of the run: library pictures (id -> BGR), backgrounds, viewpoint sequences."""

    pictures: dict[str, np.ndarray]
    backgrounds: dict[str, np.ndarray]
    sequences: dict[str, tuple[list[np.ndarray], list[np.ndarray]]]  # name -> (images 2..6, H1toN)

    @classmethod
    def load(cls, folder: Path) -> Data:
        pictures = {name: read(folder / name / "img1.jpg") for name in ("wall", "bark")}
        backgrounds = {}
        for name in MARKER_PICTURES:
            left, right = halves(read(folder / name / "img1.jpg"))
            pictures[name] = left
            if name in BACKGROUNDS:
                backgrounds[name] = right
            else:
                pictures[f"{name}-right"] = right
        sequences = {}
        for name in ("wall", "bark"):
            images = [read(folder / name / f"img{n}.jpg") for n in range(2, 7)]
            homographies = [np.loadtxt(folder / name / f"H1to{n}p") for n in range(2, 7)]
            sequences[name] = (images, homographies)
        return cls(pictures, backgrounds, sequences)


# --- the AOI as the core builds it -------------------------------------------------------------


class AoiBuilder:
    """`FusionCore.aoi_for` with the default configuration, from a gaze point in camera px."""

    def __init__(self, size_deg: float) -> None:
        config = Config()
        self.core = FusionCore(None, config.screen.geometry(), size_deg)  # type: ignore[arg-type]
        self.core.set_camera_size(SIZE)
        assert self.core.mapping is not None
        self.to_screen = np.linalg.inv(self.core.mapping.params)

    def __call__(self, gaze_px: tuple[float, float]) -> tuple[int, int, int, int] | None:
        x, y, w = self.to_screen @ np.array([gaze_px[0], gaze_px[1], 1.0])
        return self.core.aoi_for(x / w, y / w)


# --- cases ------------------------------------------------------------------------------------


class Case(NamedTuple):
    """One search: a frame, an AOI (None: the whole frame), the gaze, and the truth."""

    row: str  # viewpoint, rendered, empty, textures, fiducial
    group: str  # the cell it is tallied in
    part: str  # tune or held-out
    frame: np.ndarray
    aoi: tuple[int, int, int, int] | None
    gaze: tuple[float, float]
    intrinsics: CameraIntrinsics
    marker_id: str | None
    corners: np.ndarray | None
    tvec: np.ndarray | None


def real_background(data: Data, rng: np.random.Generator, avoid: str) -> np.ndarray:
    """A sharp 640x480 crop of a real background photograph (not `avoid`'s): the half photograph
    turned a quarter either way, so it fills the frame at 0.96x (trees) or 1.2x (ubc), not blown
    up (an upscaled background is smooth, and a smooth background makes the search easy)."""
    name = str(rng.choice([b for b in BACKGROUNDS if b != avoid]))
    turn = cv2.ROTATE_90_CLOCKWISE if rng.uniform() < 0.5 else cv2.ROTATE_90_COUNTERCLOCKWISE
    source = cv2.rotate(data.backgrounds[name], turn)
    scale = max(SIZE[0] / source.shape[1], SIZE[1] / source.shape[0]) * rng.uniform(1.0, 1.05)
    scaled = cv2.resize(source, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    x0 = int(rng.integers(0, scaled.shape[1] - SIZE[0] + 1))
    y0 = int(rng.integers(0, scaled.shape[0] - SIZE[1] + 1))
    return scaled[y0 : y0 + SIZE[1], x0 : x0 + SIZE[0]].copy()


def viewpoint_cases(data: Data, aoi_for: AoiBuilder, parts: set[str]) -> Iterator[Case]:
    for name, (images, homographies) in data.sequences.items():
        part = "held-out" if name in HELD_OUT else "tune"
        if part not in parts:
            continue
        picture = data.pictures[name]
        h1, w1 = picture.shape[:2]
        outline = np.array([[-0.5, -0.5], [w1 - 0.5, -0.5], [w1 - 0.5, h1 - 0.5], [-0.5, h1 - 0.5]])
        for number, (image, homography) in enumerate(zip(images, homographies), start=2):
            rng = np.random.default_rng([number, len(name)])
            corners = cv2.perspectiveTransform(outline.reshape(-1, 1, 2), homography).reshape(4, 2)
            size = (image.shape[1], image.shape[0])
            full = CameraIntrinsics.from_fov(size)
            yield Case(
                "viewpoint", f"{name} full", part, image, None, tuple(corners.mean(0)), full, name, corners, None
            )
            for span in SPANS_PX:
                scale = span / float(max(np.ptp(corners, axis=0)))
                centre = corners.mean(0) * scale
                target = np.array([rng.uniform(200, 440), rng.uniform(160, 320)])
                shift = np.array([[scale, 0, target[0] - centre[0]], [0, scale, target[1] - centre[1]]])
                frame = real_background(data, rng, "")
                placed = cv2.warpAffine(image, shift, SIZE, flags=cv2.INTER_AREA)
                inside = cv2.warpAffine(np.full(image.shape[:2], 255, np.uint8), shift, SIZE, flags=cv2.INTER_NEAREST)
                frame[inside > 0] = placed[inside > 0]
                frame = degrade(frame, 0.0, 2.0, 75, rng)
                frame_corners = corners * scale + shift[:, 2]
                gaze = tuple(frame_corners.mean(0) + rng.normal(0, GAZE_ERROR_PX, 2))
                intrinsics = CameraIntrinsics(SIZE, CAMERA, NO_DIST)
                yield Case(
                    "viewpoint",
                    f"{name} {span}px",
                    part,
                    frame,
                    aoi_for(gaze),
                    gaze,
                    intrinsics,
                    name,
                    frame_corners,
                    None,
                )


def rendered_case(
    data: Data,
    textures: dict[str, np.ndarray],
    marker_id: str,
    width_m: float,
    distance_m: float,
    tilt_deg: float,
    seed: int,
    aoi_for: AoiBuilder,
    avoid: str = "",
) -> tuple[Case, Case]:
    """A frame with one picture at a random pose, and the same frame without it (for false positives)."""
    rng = np.random.default_rng(seed)
    texture = textures[marker_id]
    height_m = width_m * texture.shape[0] / texture.shape[1]
    half_px = 0.5 * max(width_m, height_m) * 600 / distance_m
    cx = rng.uniform(min(half_px, 300), max(SIZE[0] - half_px, 340))
    cy = rng.uniform(min(half_px, 220), max(SIZE[1] - half_px, 260))
    rvec, tvec = marker_pose(distance_m, tilt_deg, rng.uniform(0, 360), rng.uniform(0, 360), (cx, cy), CAMERA)
    background = real_background(data, rng, avoid)
    frame = background.copy()
    corners = render_plane(frame, texture, width_m, rvec, tvec, CAMERA)
    blur, noise, quality = rng.uniform(0.5, 1.0), rng.uniform(2.0, 4.0), int(rng.integers(60, 81))
    frame = degrade(frame, blur, noise, quality, rng)
    empty = degrade(background, blur, noise, quality, rng)
    # The gaze: a random point of the marker's inner 60 %, then the tracker's error.
    affine = texture_to_marker_m((texture.shape[1], texture.shape[0]), width_m)
    u, v = rng.uniform(0.2, 0.8) * texture.shape[1], rng.uniform(0.2, 0.8) * texture.shape[0]
    point = np.array([[*(affine @ [u, v, 1.0])[:2], 0.0]])
    looked, _ = cv2.projectPoints(point, rvec, tvec, CAMERA, NO_DIST)
    gaze = tuple(looked.reshape(2) + rng.normal(0, GAZE_ERROR_PX, 2))
    aoi = aoi_for(gaze)
    intrinsics = CameraIntrinsics(SIZE, CAMERA, NO_DIST)
    part = "held-out" if seed >= HELD_OUT_SEEDS else "tune"
    cell = f"{distance_m:.1f} m {tilt_deg:2.0f}°"
    return (
        Case("", cell, part, frame, aoi, gaze, intrinsics, marker_id, corners, tvec),
        Case("empty", cell, part, empty, aoi, gaze, intrinsics, None, None, None),
    )


def generated_textures() -> dict[str, np.ndarray]:
    """The textures row's markers: four pictures of `synthetic.marker_texture`."""
    return {f"texture{seed}": marker_texture(seed, 400) for seed in (101, 102, 103, 104)}


def rendered_cases(data: Data, aoi_for: AoiBuilder, parts: set[str], per_cell: int, rows: set[str]) -> Iterator[Case]:
    textures = {name: data.pictures[name] for name in MARKER_PICTURES}
    generated = generated_textures()
    for part, base in (("tune", TUNE_SEEDS), ("held-out", HELD_OUT_SEEDS)):
        if part not in parts:
            continue
        markers = [name for name in MARKER_PICTURES if (name in HELD_OUT) == (part == "held-out")]
        for distance in DISTANCES_M:
            for tilt in TILTS_DEG:
                for index in range(per_cell):
                    seed = base + 100 * index + 10 * DISTANCES_M.index(distance) + TILTS_DEG.index(tilt)
                    if "rendered" in rows or "empty" in rows:
                        marker_id = markers[index % len(markers)]
                        case, empty = rendered_case(
                            data, textures, marker_id, WIDTH_M, distance, tilt, seed, aoi_for, marker_id
                        )
                        if "rendered" in rows:
                            yield case._replace(row="rendered")
                        if "empty" in rows:
                            yield empty
                    if "textures" in rows:
                        marker_id = sorted(generated)[index % len(generated)]
                        case, _ = rendered_case(data, generated, marker_id, WIDTH_M, distance, tilt, seed + 1, aoi_for)
                        yield case._replace(row="textures")
        if "fiducial" not in rows:
            continue
        tags, pictures = fiducial_library(), {}
        for marker in tags:
            picture = draw_fiducial(marker, TAG_PX_PER_M)
            pictures[marker.marker_id] = cv2.cvtColor(picture, cv2.COLOR_GRAY2BGR)
        for distance in TAG_DISTANCES_M:
            for tilt in TILTS_DEG:
                for index in range(per_cell):
                    for marker in tags:
                        seed = base + 5000 + 100 * index + 10 * TAG_DISTANCES_M.index(distance) + TILTS_DEG.index(tilt)
                        # The printed picture is the tag plus its white border, centred alike.
                        printed_m = pictures[marker.marker_id].shape[1] / TAG_PX_PER_M
                        case, _ = rendered_case(
                            data, pictures, marker.marker_id, printed_m, distance, tilt, seed, aoi_for
                        )
                        cell = f"{marker.width_m:.2f} m tag {distance:.1f} m {tilt:2d}°"
                        yield case._replace(row="fiducial", group=cell)


def fiducial_library() -> MarkerLibrary:
    """The fiducial row's tags: AprilTag 36h11 tags of each `TAG_WIDTHS_M`."""
    return MarkerLibrary.parse(
        [
            {
                "id": f"tag{width:.2f}",
                "aruco": {"dictionary": "DICT_APRILTAG_36h11", "tag": 7 + number},
                "width_m": width,
            }
            for number, width in enumerate(TAG_WIDTHS_M)
        ]
    )


# --- peers ---------------------------------------------------------------------------------


def ours(detector: MarkerDetector) -> Method:
    def run(frame, aoi, gaze, intrinsics):
        return [(h.marker_id, h.corners, h.rotation, h.position_m) for h in detector.detect(frame, aoi, gaze)]

    return run


class FeaturePeer:
    """A simple peer: ORB on the AOI widened as ours is (upscaled 2x when small, for the multi-scale one), ratio-tested
    brute-force matches per picture, RANSAC homography (3 px, >= 10 inliers), IPPE + LM pose."""

    def __init__(self, pictures: dict[str, tuple[np.ndarray, float]], multiscale: bool) -> None:
        self.multiscale = multiscale
        self.orb = cv2.ORB_create(nfeatures=1000 if multiscale else 500)
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self.references = {}
        for marker_id, (picture, width_m) in pictures.items():
            grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
            base = 480.0 / max(grey.shape) if multiscale else 1.0
            points, descriptors = [], []
            for relative in (1.0, 0.7, 0.5, 0.35, 0.25) if multiscale else (1.0,):
                scale = base * relative
                level = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale != 1 else grey
                keypoints, found = self.orb.detectAndCompute(level, None)
                if found is not None:
                    points.append(cv2.KeyPoint_convert(keypoints).reshape(-1, 2) / scale)
                    descriptors.append(found)
            size = (grey.shape[1], grey.shape[0])
            self.references[marker_id] = (np.concatenate(points), np.concatenate(descriptors), size, width_m)

    def __call__(self, frame, aoi, gaze, intrinsics):
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        size = (grey.shape[1], grey.shape[0])
        # The same search box as ours: the AOI widened to DetectorTuning.min_search_px.
        x, y, w, h = search_box(aoi, DetectorTuning().min_search_px, size) if aoi is not None else (0, 0, *size)
        x0, y0 = max(x - 16, 0), max(y - 16, 0)
        crop = grey[y0 : y + h + 16, x0 : x + w + 16]
        scale = 2.0 if self.multiscale and max(crop.shape) < 240 else 1.0
        if scale != 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        keypoints, descriptors = self.orb.detectAndCompute(crop, None)
        if descriptors is None or len(keypoints) < 10:
            return []
        points = cv2.KeyPoint_convert(keypoints).reshape(-1, 2) / scale + (x0, y0)
        results = []
        for marker_id, (ref_points, ref_descriptors, size, width_m) in self.references.items():
            pairs = [p for p in self.matcher.knnMatch(descriptors, ref_descriptors, k=2) if len(p) == 2]
            good = [a for a, b in pairs if a.distance < 0.8 * b.distance]
            if len(good) < 10:
                continue
            src = ref_points[[m.trainIdx for m in good]].astype(np.float32)
            dst = points[[m.queryIdx for m in good]].astype(np.float32)
            homography, mask = cv2.findHomography(src.reshape(-1, 1, 2), dst.reshape(-1, 1, 2), cv2.RANSAC, 3.0)
            if homography is None or int(mask.sum()) < 10:
                continue
            inlier = mask.ravel().astype(bool)
            outline = np.array(
                [[-0.5, -0.5], [size[0] - 0.5, -0.5], [size[0] - 0.5, size[1] - 0.5], [-0.5, size[1] - 0.5]]
            )
            corners = cv2.perspectiveTransform(outline.reshape(-1, 1, 2), homography).reshape(4, 2)
            affine = texture_to_marker_m(size, width_m)
            obj = np.column_stack([src[inlier] @ affine[:2, :2].T + affine[:2, 2], np.zeros(int(inlier.sum()))])
            image_px = dst[inlier].astype(np.float64)
            ok, rvec, tvec = cv2.solvePnP(obj, image_px, intrinsics.camera_matrix, NO_DIST, flags=cv2.SOLVEPNP_IPPE)
            if ok:
                rvec, tvec = cv2.solvePnPRefineLM(obj, image_px, intrinsics.camera_matrix, NO_DIST, rvec, tvec)
            if ok and np.all(np.isfinite(tvec)):
                results.append((int(inlier.sum()), (marker_id, corners, rvec.ravel(), tvec.ravel())))
        return [result for _, result in sorted(results, key=lambda pair: -pair[0])]


# --- tallies ----------------------------------------------------------------------------------


@dataclass
class Tally:
    cases: int = 0
    found: int = 0
    accepted: int = 0
    wrong_id: int = 0
    wrong_pose: int = 0
    false_positive: int = 0
    translation_pct: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for key, value in vars(other).items():
            setattr(self, key, getattr(self, key) + value)


def score(tally: Tally, case: Case, results: list[Result], cpu_ms: float) -> None:
    tally.cases += 1
    tally.cpu_ms.append(cpu_ms)
    if case.marker_id is None:
        tally.false_positive += int(bool(results))
        return
    tally.accepted += int(bool(results))
    tally.wrong_id += int(any(result[0] != case.marker_id for result in results))
    right = [result for result in results if result[0] == case.marker_id]
    if not right:
        return
    _, corners, _, tvec = right[0]
    if case.tvec is None:  # a real photograph: corners only
        span = float(max(np.ptp(case.corners, axis=0)))
        error = float(np.mean(np.linalg.norm(corners - case.corners, axis=1)))
        tally.found += int(error < FOUND_CORNER_FRACTION * span)
        return
    distance = float(np.linalg.norm(case.tvec))
    tally.translation_pct.append(100 * float(np.linalg.norm(tvec - case.tvec)) / distance)
    wrong = abs(float(np.linalg.norm(tvec)) - distance) > WRONG_DISTANCE_FRACTION * distance
    tally.wrong_pose += int(wrong)
    tally.found += int(results[0][0] == case.marker_id and not wrong)


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}" if whole else "   - "


def median(values: list[float]) -> str:
    return f"{np.median(values):6.2f}" if values else "    - "


def group_order(group: str) -> list[tuple[int, float, str]]:
    """ "wall full" < "wall 100px" < "wall 150px"; "0.5 m 0°" < "0.5 m 35°" < "1.0 m 0°"."""
    key = []
    for word in group.replace("px", "").replace("°", "").split():
        try:
            key.append((1, float(word), ""))
        except ValueError:
            key.append((0, 0.0, word if word != "full" else ""))
    return key


def print_row(
    name: str, results: dict[str, dict[tuple[str, str, str], Tally]], row: str, parts: list[str], by_distance: bool
) -> None:
    """One table per row: found % (false positives % for empty AOIs) per cell (or per distance)
    and method, then the pooled figures."""
    methods = list(results)
    cell = (lambda g: g.rsplit(" m ", 1)[0] + " m") if by_distance and row != "viewpoint" else (lambda g: g)
    groups = sorted(
        {cell(group) for tallies in results.values() for (r, group, _) in tallies if r == row}, key=group_order
    )
    if not groups:
        return

    def pooled(method: str, keep: Callable[[str], bool]) -> Tally:
        total = Tally()
        for (r, g, part), tally in results[method].items():
            if r == row and keep(g) and part in parts:
                total.add(tally)
        return total

    empty = row == "empty"
    print(f"\n## {name}")
    print("| cell | n | " + " | ".join(methods) + " |")
    print("|---|---:|" + "---:|" * len(methods))
    for group in groups:
        cells = [pooled(method, lambda g, group=group: cell(g) == group) for method in methods]
        values = [pct(t.false_positive if empty else t.found, t.cases) for t in cells]
        print(f"| {group} | {cells[0].cases} | " + " | ".join(values) + " |")
    totals = [pooled(method, lambda g: True) for method in methods]
    measures = [("all", lambda t: pct(t.false_positive if empty else t.found, t.cases))]
    if not empty:
        measures += [
            ("wrong ids", lambda t: str(t.wrong_id)),
            ("wrong poses % of accepted", lambda t: pct(t.wrong_pose, t.accepted)),
        ]
        if row != "viewpoint":
            measures.append(("median translation error, % of distance", lambda t: median(t.translation_pct).strip()))
    measures.append(("median CPU ms per AOI", lambda t: median(t.cpu_ms).strip()))
    for label, measure in measures:
        print(f"| **{label}** | {totals[0].cases} | " + " | ".join(measure(t) for t in totals) + " |")
    if empty or row == "viewpoint":
        return
    # The accuracy targets are per distance: median translation error, % of distance.
    distance = lambda g: g.rsplit(" m ", 1)[0] + " m"  # noqa: E731
    print("\n| median translation error, % of distance | " + " | ".join(methods) + " |")
    print("|---|" + "---:|" * len(methods))
    raw = {g for tallies in results.values() for (r, g, _) in tallies if r == row}
    for group in sorted({distance(g) for g in raw}, key=group_order):
        cells = [pooled(method, lambda g, group=group: distance(g) == group) for method in methods]
        print(f"| {group} | " + " | ".join(median(t.translation_pct).strip() for t in cells) + " |")


# --- tracking (the detector against detect-then-track on moving markers) ----------------------


def tracking_benchmark(picture: np.ndarray, sequences: int, frames: int, aoi_for: AoiBuilder) -> None:
    """Detect every frame against MarkerTracker (optical flow, re-detection every
    ``redetect_every`` frames) on a slowly moving real picture: time per frame and pose jitter."""
    config = MarkersConfig()
    library = MarkerLibrary.from_images([("picture", picture, WIDTH_M)], config)
    intrinsics = CameraIntrinsics(SIZE, CAMERA, NO_DIST)
    detector = MarkerDetector(library, intrinsics, config)
    results: dict[str, dict[str, list[float]]] = {
        "detect every frame": defaultdict(list),
        f"tracker (redetect every {config.redetect_every})": defaultdict(list),
    }
    for sequence in range(sequences):
        rng = np.random.default_rng(1000 + sequence)
        background = background_texture(int(rng.integers(1 << 30)), SIZE)
        distance, tilt, axis, roll = rng.uniform(0.7, 1.5), rng.uniform(0, 35), rng.uniform(0, 360), rng.uniform(0, 360)
        start = np.array([rng.uniform(220, 420), rng.uniform(180, 300)])
        step = rng.normal(0, 1.5, 2)
        tracker = MarkerTracker(MarkerDetector(library, intrinsics, config))
        previous: dict[str, np.ndarray] = {}
        for index in range(frames):
            centre = start + step * index
            rvec, tvec = marker_pose(distance, tilt, axis, roll + 0.2 * index, tuple(centre), CAMERA)
            frame = background.copy()
            render_plane(frame, picture, WIDTH_M, rvec, tvec, CAMERA)
            frame = degrade(frame, 0.8, 3.0, 70, rng)
            aoi = aoi_for(tuple(centre + rng.normal(0, GAZE_ERROR_PX, 2)))
            runs = (
                lambda frame=frame, aoi=aoi: detector.detect(frame, aoi),
                lambda frame=frame, aoi=aoi, tracker=tracker: tracker.update(frame, aoi),
            )
            for name, run in zip(results, runs):
                start_cpu = time.thread_time()
                hits = run()
                results[name]["cpu_ms"].append(1000 * (time.thread_time() - start_cpu))
                results[name]["frames"].append(1)
                if not hits:
                    previous.pop(name, None)
                    continue
                error = hits[0].position_m - tvec
                results[name]["found"].append(1)
                results[name]["error_mm"].append(1000 * float(np.linalg.norm(error)))
                if name in previous:
                    results[name]["jitter_mm"].append(1000 * float(np.linalg.norm(error - previous[name])))
                previous[name] = error
    print(f"\n## Tracking: {sequences} sequences x {frames} frames, 0.7-1.5 m, tilt <= 35 deg, moving ~1.5 px/frame")
    print("method".ljust(34) + "found%  pos_err_mm_med  jitter_mm_rms  cpu_ms_med")
    for name, values in results.items():
        found = 100 * len(values["found"]) / len(values["frames"])
        jitter = float(np.sqrt(np.mean(np.square(values["jitter_mm"])))) if values["jitter_mm"] else float("nan")
        print(
            f"{name:34s}{found:6.1f}  {median(values['error_mm'])}          {jitter:6.2f}        {median(values['cpu_ms'])}"
        )


# --- main ---------------------------------------------------------------------------------------


#: The detector before issue 10, as a peer: the same class with its old settings (400 features
#: per region, three reference levels 2x apart with OpenCV's edge margin, no oblique views,
#: no widened AOI, no guided matching, every feature looked up at once).
V1 = DetectorTuning(
    reference_step=2.0,
    reference_min_px=120,
    reference_features=0,
    reference_edge_px=31,
    reference_orb_levels=8,
    reference_tilts=(),
    work_side_px=480,
    min_search_px=0,
    guided_radius_px=0.0,
    coverage_of_visible=False,
    reprojection_fraction=0.0,
    reference_blurred_px=(),
    guided_views=0,
    search_queries=(),
    fast_threshold=8,
)

#: Settings of the methods that are this project's detector (``--methods`` names them).
TUNINGS: dict[str, tuple[DetectorTuning, MarkersConfig]] = {
    "ours": (DetectorTuning(), MarkersConfig()),
    "v1": (V1, MarkersConfig(n_features=400)),
    "sift": (DetectorTuning.sift(), MarkersConfig()),
}


class Methods:
    """Every method of the run, built per library and frame size on first use."""

    def __init__(
        self, names: list[str], libraries: dict[str, Pictures], tunings: dict[str, tuple[DetectorTuning, MarkersConfig]]
    ) -> None:
        unknown = [name for name in names if name not in tunings and name not in ("orb", "msorb")]
        if unknown:
            raise SystemExit(f"unknown method {', '.join(unknown)} (known: {', '.join([*tunings, 'orb', 'msorb'])})")
        self.names = names
        self.libraries = libraries
        self.tunings = tunings
        self._made: dict[tuple[str, str, tuple[int, int]], Method] = {}
        self._marker_libraries: dict[tuple[str, int], MarkerLibrary] = {}

    def applies(self, name: str, row: str) -> bool:
        """Peers other than this project's detector search pictures only."""
        return row != "fiducial" or name == "ours"

    def get(self, name: str, library: str, intrinsics: CameraIntrinsics) -> Method:
        key = (name, library, intrinsics.image_size)
        if key not in self._made:
            pictures = self.libraries[library]
            if name in ("orb", "msorb"):
                self._made[key] = FeaturePeer(pictures, name == "msorb")
            else:
                tuning, config = self.tunings[name]
                built = (library, config.n_features)
                if built not in self._marker_libraries:
                    made = MarkerLibrary.from_images([(k, v, w) for k, (v, w) in pictures.items()], config)
                    if library == "fiducial":  # both kinds in one library
                        made = MarkerLibrary([*made, *fiducial_library()])
                    self._marker_libraries[built] = made
                self._made[key] = ours(MarkerDetector(self._marker_libraries[built], intrinsics, config, tuning=tuning))
        return self._made[key]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 frames per cell instead of 6")
    parser.add_argument("--per-cell", type=int, default=None, help="frames per distance x tilt cell and part")
    parser.add_argument("--part", default="all", choices=("tune", "held-out", "all"))
    parser.add_argument("--rows", default="viewpoint,rendered,empty,textures,fiducial")
    parser.add_argument("--methods", default="ours,v1,sift,orb,msorb")
    parser.add_argument(
        "--aoi-deg", type=float, default=Config().aoi.size_deg, help="AOI side, degrees (default: the configuration's)"
    )
    parser.add_argument("--by-distance", action="store_true", help="one line per distance (tilts pooled)")
    parser.add_argument("--tracking", action="store_true", help="only: detection every frame against MarkerTracker")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    data = Data.load(oxford_dir())
    aoi_for = AoiBuilder(args.aoi_deg)
    if args.tracking:
        tracking_benchmark(data.pictures["bikes"], 2 if args.quick else 6, 60, aoi_for)
        return 0
    per_cell = args.per_cell or (2 if args.quick else 6)
    parts = {"tune", "held-out"} if args.part == "all" else {args.part}
    rows = set(args.rows.split(","))
    real = {name: (picture, WIDTH_M) for name, picture in data.pictures.items()}
    generated = {name: (picture, WIDTH_M) for name, picture in generated_textures().items()}
    distractors = {name: real[name] for name in real if name.endswith("-right")}
    libraries = {"real": real, "textures": {**generated, **distractors}, "fiducial": real}
    methods = Methods(args.methods.split(","), libraries, TUNINGS)
    results: dict[str, dict[tuple[str, str, str], Tally]] = {name: defaultdict(Tally) for name in methods.names}
    cases: list[Iterator[Case]] = []
    if "viewpoint" in rows:
        cases.append(viewpoint_cases(data, aoi_for, parts))
    cases.append(rendered_cases(data, aoi_for, parts, per_cell, rows))
    count = 0
    for case in (case for source in cases for case in source):
        for name in methods.names:
            if not methods.applies(name, case.row):
                continue
            library = {"textures": "textures", "fiducial": "fiducial"}.get(case.row, "real")
            method = methods.get(name, library, case.intrinsics)
            start = time.thread_time()
            found = method(case.frame, case.aoi, case.gaze, case.intrinsics)
            elapsed = 1000 * (time.thread_time() - start)
            score(results[name][(case.row, case.group, case.part)], case, found, elapsed)
        count += 1
        if count % 50 == 0:
            print(f"  {count} cases", file=sys.stderr, flush=True)
    part_names = sorted(parts)
    print(
        f"library: {len(real)} real pictures ({len(generated)} textures + {len(distractors)} for the textures row); parts {', '.join(part_names)}; {per_cell} frames per cell; "
        f"AOI {args.aoi_deg} deg (the core's, default screen); methods {', '.join(methods.names)}"
    )
    print_row("Real viewpoint changes (oxford wall, bark): found %", results, "viewpoint", part_names, args.by_distance)
    print_row("Real pictures rendered at known poses: found %", results, "rendered", part_names, args.by_distance)
    print_row("Empty AOIs on real backgrounds: false positives %", results, "empty", part_names, args.by_distance)
    print_row("Generated textures: found %", results, "textures", part_names, args.by_distance)
    fiducial = {name: tallies for name, tallies in results.items() if methods.applies(name, "fiducial")}
    print_row(
        "AprilTag 36h11 tags (0.10 and 0.20 m), library of pictures and tags: found %",
        fiducial,
        "fiducial",
        part_names,
        args.by_distance,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
