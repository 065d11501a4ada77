"""Marker detection and pose against rendered ground truth, with the plain approach and SIFT
as peers measured in the same run.

Scene: textured 0.20 m markers (a library of four; one rendered per frame) in 640×480 frames
from a camera with fx = fy = 600, cx = 320, cy = 240, at distance 0.5–3 m, tilt 0–60° about a
random in-plane axis, random roll and random position in the frame, on a textured background;
then blur (sigma 0.5–1.2 px), sensor noise (sigma 3 grey levels) and a JPEG round trip at
quality 70. The gaze is the marker centre plus Gaussian error (sigma 4 px per axis); the AOI is
a fixed square of ``--aoi-px`` camera px centred on the gaze, clipped to the frame.

Methods: ``ours`` (MarkerDetector in the AOI: multi-scale reference, upscaled small AOI,
ratio test, USAC homography, verification, IPPE + LM); ``plain`` (single-scale ORB on the whole
frame against a single-scale reference, ratio 0.8, RANSAC, 10 inliers, solvePnP on the four
corners); ``sift`` (cv2.SIFT_create in the same AOI, ratio 0.75, RANSAC, 10 inliers, IPPE + LM
on the inliers). ``--variants`` also runs ours with each homography estimator and without
the LM refinement (summary only).

Run:  nice -n 10 python bench/bench_markers.py [--quick] [--variants]
      nice -n 10 python bench/bench_markers.py --tracking [--quick]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable

import cv2
import numpy as np

from gazefusion.calibration.intrinsics import CameraIntrinsics
from gazefusion.fusion.config import MarkersConfig
from gazefusion.fusion.geometry import plane_corners_m, texture_to_marker_m
from gazefusion.fusion.markers import HOMOGRAPHY_METHODS, MarkerDetector, MarkerLibrary, MarkerTracker
from gazefusion.fusion.markers.detector import clip_roi
from gazefusion.fusion.synthetic import (
    background_texture,
    degrade,
    marker_pose,
    marker_texture,
    render_plane,
)

SIZE = (640, 480)
CAMERA = np.array([[600.0, 0, 320], [0, 600, 240], [0, 0, 1]])
NO_DIST = np.zeros(5)
WIDTH_M = 0.20
TEXTURE_PX = 400
MARKER_SEEDS = (101, 102, 103, 104)
DISTANCES_M = (0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0)
TILTS_DEG = (0, 20, 40, 60)
GAZE_ERROR_PX = 4.0
CORRECT_CORNER_PX = 5.0
WRONG_ROTATION_DEG = 10.0
WRONG_TRANSLATION_PCT = 10.0

Result = tuple[str, np.ndarray, np.ndarray, np.ndarray, bool]  # id, corners, rvec, tvec, ambiguous
Method = Callable[[np.ndarray, tuple[int, int, int, int], tuple[float, float]], list[Result]]


def make_scene(distance_m: float, tilt_deg: float, seed: int, textures: dict[str, np.ndarray]):
    """One degraded frame with one marker at a random pose; returns the frame and the truth."""
    rng = np.random.default_rng(seed)
    marker_id = str(rng.choice(sorted(textures)))
    # Keep the whole marker in view where it fits (at 0.5 m it is 240 px wide).
    half_px = 0.5 * WIDTH_M * 600 / distance_m * 1.2
    cx = rng.uniform(min(half_px, 300), max(SIZE[0] - half_px, 340))
    cy = rng.uniform(min(half_px, 220), max(SIZE[1] - half_px, 260))
    rvec, tvec = marker_pose(distance_m, tilt_deg, rng.uniform(0, 360), rng.uniform(0, 360), (cx, cy), CAMERA)
    frame = background_texture(int(rng.integers(1 << 30)), SIZE)
    corners = render_plane(frame, textures[marker_id], WIDTH_M, rvec, tvec, CAMERA)
    frame = degrade(frame, rng.uniform(0.5, 1.2), 3.0, 70, rng)
    gaze = (cx + rng.normal(0, GAZE_ERROR_PX), cy + rng.normal(0, GAZE_ERROR_PX))
    return frame, marker_id, corners, rvec, tvec, gaze


def aoi_around(gaze: tuple[float, float], side_px: int) -> tuple[int, int, int, int]:
    box = clip_roi((round(gaze[0] - side_px / 2), round(gaze[1] - side_px / 2), side_px, side_px), SIZE)
    return box if box is not None else (0, 0, 1, 1)


def ours(detector: MarkerDetector) -> Method:
    def run(frame, aoi, gaze):
        return [
            (h.marker_id, h.corners, h.rotation, h.position_m, h.pose_ambiguous)
            for h in detector.detect(frame, aoi, gaze)
        ]

    return run


class FeaturePeer:
    """The peers: one feature type, one reference scale, RANSAC, a fixed inlier minimum."""

    def __init__(self, kind: str, textures: dict[str, np.ndarray]) -> None:
        self.kind = kind
        if kind == "plain":
            self.features = cv2.ORB_create(nfeatures=1000)
            self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
            self.ratio = 0.8
        else:
            self.features = cv2.SIFT_create()
            self.matcher = cv2.BFMatcher(cv2.NORM_L2)
            self.ratio = 0.75
        self.references = {}
        for marker_id, texture in textures.items():
            keypoints, descriptors = self.features.detectAndCompute(cv2.cvtColor(texture, cv2.COLOR_BGR2GRAY), None)
            self.references[marker_id] = (np.array([k.pt for k in keypoints], np.float32), descriptors)

    def __call__(self, frame, aoi, gaze):
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        x, y = 0, 0
        if self.kind == "sift":
            x, y, w, h = aoi
            grey = grey[y : y + h, x : x + w]
        keypoints, descriptors = self.features.detectAndCompute(grey, None)
        if descriptors is None or len(keypoints) < 10:
            return []
        points = np.array([k.pt for k in keypoints], np.float32) + (x, y)
        results = []
        for marker_id, (ref_points, ref_descriptors) in self.references.items():
            pairs = [p for p in self.matcher.knnMatch(descriptors, ref_descriptors, k=2) if len(p) == 2]
            good = [a for a, b in pairs if a.distance < self.ratio * b.distance]
            if len(good) < 10:
                continue
            src = ref_points[[m.trainIdx for m in good]]
            dst = points[[m.queryIdx for m in good]]
            homography, mask = cv2.findHomography(src.reshape(-1, 1, 2), dst.reshape(-1, 1, 2), cv2.RANSAC, 3.0)
            if homography is None or int(mask.sum()) < 10:
                continue
            outline = np.array(
                [[-0.5, -0.5], [TEXTURE_PX - 0.5, -0.5], [TEXTURE_PX - 0.5, TEXTURE_PX - 0.5], [-0.5, TEXTURE_PX - 0.5]]
            )
            corners = cv2.perspectiveTransform(outline.reshape(-1, 1, 2), homography).reshape(4, 2)
            if self.kind == "plain":
                ok, rvec, tvec = cv2.solvePnP(plane_corners_m(WIDTH_M, WIDTH_M), corners, CAMERA, NO_DIST)
            else:
                inlier = mask.ravel().astype(bool)
                affine = texture_to_marker_m((TEXTURE_PX, TEXTURE_PX), WIDTH_M)
                obj = np.column_stack([src[inlier] @ affine[:2, :2].T + affine[:2, 2], np.zeros(int(inlier.sum()))])
                ok, rvec, tvec = cv2.solvePnP(
                    obj, dst[inlier].astype(np.float64), CAMERA, NO_DIST, flags=cv2.SOLVEPNP_IPPE
                )
                if ok:
                    rvec, tvec = cv2.solvePnPRefineLM(obj, dst[inlier].astype(np.float64), CAMERA, NO_DIST, rvec, tvec)
            if ok and np.all(np.isfinite(tvec)):
                results.append((marker_id, corners, rvec.ravel(), tvec.ravel(), False))
        return results


def rotation_error_deg(rvec_a: np.ndarray, rvec_b: np.ndarray) -> float:
    relative = cv2.Rodrigues(np.asarray(rvec_a, np.float64))[0].T @ cv2.Rodrigues(np.asarray(rvec_b, np.float64))[0]
    return math.degrees(math.acos(float(np.clip((np.trace(relative) - 1) / 2, -1, 1))))


class Tally:
    """Per-cell outcomes of one method."""

    def __init__(self) -> None:
        self.frames = 0
        self.detected = 0
        self.correct = 0
        self.accepted = 0
        self.wrong = 0
        self.wrong_unflagged = 0
        self.wrong_id = 0
        self.ambiguous = 0
        self.translation_pct: list[float] = []
        self.rotation_deg: list[float] = []
        self.time_ms: list[float] = []
        self.cpu_ms: list[float] = []

    def add(self, other: Tally) -> None:
        for key, value in vars(other).items():
            setattr(self, key, getattr(self, key) + value)


def score(tally: Tally, results: list[Result], truth, elapsed_ms: tuple[float, float]) -> None:
    marker_id, corners, rvec, tvec = truth
    tally.frames += 1
    tally.time_ms.append(elapsed_ms[0])
    tally.cpu_ms.append(elapsed_ms[1])
    for found_id, found_corners, found_rvec, found_tvec, ambiguous in results:
        tally.accepted += 1
        if found_id != marker_id:
            tally.wrong += 1
            tally.wrong_unflagged += 1
            tally.wrong_id += 1
            continue
        translation = 100 * float(np.linalg.norm(found_tvec - tvec)) / float(np.linalg.norm(tvec))
        rotation = rotation_error_deg(found_rvec, rvec)
        tally.detected += 1
        tally.ambiguous += int(ambiguous)
        if float(np.max(np.linalg.norm(found_corners - corners, axis=1))) < CORRECT_CORNER_PX:
            tally.correct += 1
        tally.translation_pct.append(translation)
        tally.rotation_deg.append(rotation)
        bad = translation > WRONG_TRANSLATION_PCT or rotation > WRONG_ROTATION_DEG
        tally.wrong += int(bad)
        # An ambiguous pose reports its tilt as uncertain: only its position can be wrong.
        tally.wrong_unflagged += int(
            translation > WRONG_TRANSLATION_PCT or (rotation > WRONG_ROTATION_DEG and not ambiguous)
        )


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}" if whole else "  -  "


def stat(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q):6.2f}" if values else "   -  "


def print_cells(name: str, cells: dict[tuple[float, int], Tally]) -> None:
    print(f"\n## {name}: per distance and tilt")
    print(
        "dist_m tilt  n  detect%  correct%  t_err%_med  t_err%_p90  r_err_med  r_err_p90  wrong%  wrong_unflag%  ambig%  ms_med  cpu_ms"
    )
    for (distance, tilt), t in sorted(cells.items()):
        print(
            f"{distance:5.2f} {tilt:4d} {t.frames:3d}  {pct(t.detected, t.frames)}    {pct(t.correct, t.frames)}"
            f"      {stat(t.translation_pct, 50)}      {stat(t.translation_pct, 90)}     {stat(t.rotation_deg, 50)}"
            f"     {stat(t.rotation_deg, 90)}  {pct(t.wrong, t.accepted)}      {pct(t.wrong_unflagged, t.accepted)}"
            f"       {pct(t.ambiguous, t.detected)}  {stat(t.time_ms, 50)}  {stat(t.cpu_ms, 50)}"
        )


def pooled(cells: dict[tuple[float, int], Tally], keep: Callable[[float, int], bool]) -> Tally:
    total = Tally()
    for (distance, tilt), tally in cells.items():
        if keep(distance, tilt):
            total.add(tally)
    return total


def print_targets(results: dict[str, dict[tuple[float, int], Tally]]) -> None:
    print("\n## Against the targets (pooled cells)")
    header = "target".ljust(58) + "".join(name.rjust(16) for name in results)
    print(header)
    near = lambda d, t: d <= 1.0 and t <= 40  # noqa: E731
    rows = [
        (
            "correct detections, <=1 m & tilt<=40 (>= 95%)",
            lambda c: pct(pooled(c, near).correct, pooled(c, near).frames),
        ),
        (
            "correct detections, 2 m, tilt<=40 (>= 70%)",
            lambda c: pct(
                pooled(c, lambda d, t: d == 2.0 and t <= 40).correct,
                pooled(c, lambda d, t: d == 2.0 and t <= 40).frames,
            ),
        ),
        (
            "correct detections, 2 m, all tilts (info)",
            lambda c: pct(pooled(c, lambda d, t: d == 2.0).correct, pooled(c, lambda d, t: d == 2.0).frames),
        ),
        (
            "median translation err % of dist, <=1 m (<= 1%)",
            lambda c: stat(pooled(c, lambda d, t: d <= 1.0).translation_pct, 50),
        ),
        (
            "median translation err % of dist, 2 m (<= 3%)",
            lambda c: stat(pooled(c, lambda d, t: d == 2.0).translation_pct, 50),
        ),
        ("median rotation err deg, <=1 m (info)", lambda c: stat(pooled(c, lambda d, t: d <= 1.0).rotation_deg, 50)),
        (
            "wrong poses % of accepted, all (<= 1%)",
            lambda c: pct(pooled(c, lambda d, t: True).wrong, pooled(c, lambda d, t: True).accepted),
        ),
        (
            "  same, ambiguous tilt not counted as wrong",
            lambda c: pct(pooled(c, lambda d, t: True).wrong_unflagged, pooled(c, lambda d, t: True).accepted),
        ),
        ("wrong marker id reported (count)", lambda c: f"{pooled(c, lambda d, t: True).wrong_id:5d}"),
        (
            "median time per AOI (plain: frame), ms wall (<= 8)",
            lambda c: stat(pooled(c, lambda d, t: True).time_ms, 50),
        ),
        ("  same, CPU time of the detecting thread, ms", lambda c: stat(pooled(c, lambda d, t: True).cpu_ms, 50)),
    ]
    for label, measure in rows:
        print(label.ljust(58) + "".join(measure(cells).rjust(16) for cells in results.values()))


def tracking_benchmark(textures: dict[str, np.ndarray], sequences: int, frames: int, aoi_px: int) -> None:
    """Detect every frame against MarkerTracker (optical flow, re-detection every
    ``redetect_every`` frames) on slowly moving markers: time per frame and pose jitter."""
    config = MarkersConfig()
    library = MarkerLibrary.from_images([(k, v, WIDTH_M) for k, v in textures.items()], config)
    intrinsics = CameraIntrinsics(SIZE, CAMERA, NO_DIST)
    detector = MarkerDetector(library, intrinsics, config)
    results = {
        "detect every frame": defaultdict(list),
        f"tracker (redetect every {config.redetect_every})": defaultdict(list),
    }
    for sequence in range(sequences):
        rng = np.random.default_rng(1000 + sequence)
        marker_id = str(rng.choice(sorted(textures)))
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
            render_plane(frame, textures[marker_id], WIDTH_M, rvec, tvec, CAMERA)
            frame = degrade(frame, 0.8, 3.0, 70, rng)
            aoi = aoi_around(tuple(centre + rng.normal(0, GAZE_ERROR_PX, 2)), aoi_px)
            for name, run in zip(
                results,
                (
                    lambda frame=frame, aoi=aoi: detector.detect(frame, aoi),
                    lambda frame=frame, aoi=aoi, tracker=tracker: tracker.update(frame, aoi),
                ),
            ):
                start_cpu = time.thread_time()
                hits = [hit for hit in run() if hit.marker_id == marker_id]
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
    print(
        f"\n## Tracking: {sequences} sequences x {frames} frames, marker 0.7-1.5 m, tilt <= 35 deg, moving ~1.5 px/frame"
    )
    print("method".ljust(34) + "found%  pos_err_mm_med  jitter_mm_rms  cpu_ms_med")
    for name, values in results.items():
        found = 100 * len(values["found"]) / len(values["frames"])
        jitter = float(np.sqrt(np.mean(np.square(values["jitter_mm"])))) if values["jitter_mm"] else float("nan")
        print(
            f"{name:34s}{found:6.1f}  {stat(values['error_mm'], 50)}          {jitter:6.2f}        {stat(values['cpu_ms'], 50)}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 poses per cell instead of 30")
    parser.add_argument("--poses", type=int, default=None, help="poses per distance/tilt cell")
    parser.add_argument("--aoi-px", type=int, default=200, help="side of the square AOI, camera px (default: 200)")
    parser.add_argument("--variants", action="store_true", help="also: each homography estimator, no LM refinement")
    parser.add_argument("--no-peers", action="store_true", help="skip plain and SIFT")
    parser.add_argument("--tracking", action="store_true", help="only: detection every frame against MarkerTracker")
    args = parser.parse_args(argv)
    poses = args.poses or (6 if args.quick else 30)
    cv2.setNumThreads(1)
    textures = {f"m{seed}": marker_texture(seed, TEXTURE_PX) for seed in MARKER_SEEDS}
    if args.tracking:
        tracking_benchmark(textures, 2 if args.quick else 6, 60, args.aoi_px)
        return 0
    config = MarkersConfig()
    library = MarkerLibrary.from_images([(k, v, WIDTH_M) for k, v in textures.items()], config)
    intrinsics = CameraIntrinsics(SIZE, CAMERA, NO_DIST)
    methods: dict[str, Method] = {"ours": ours(MarkerDetector(library, intrinsics, config))}
    if not args.no_peers:
        methods["plain"] = FeaturePeer("plain", textures)
        methods["sift"] = FeaturePeer("sift", textures)
    if args.variants:
        for name in HOMOGRAPHY_METHODS:
            if name != config.homography:
                variant = MarkersConfig(homography=name)
                methods[f"ours/{name}"] = ours(
                    MarkerDetector(
                        MarkerLibrary.from_images([(k, v, WIDTH_M) for k, v in textures.items()], variant),
                        intrinsics,
                        variant,
                    )
                )
        methods["ours/no-LM"] = ours(MarkerDetector(library, intrinsics, config, refine=False))
        methods["ours/bf"] = ours(MarkerDetector(library, intrinsics, config, matcher="bf"))
    results: dict[str, dict[tuple[float, int], Tally]] = {name: defaultdict(Tally) for name in methods}
    print(
        f"{poses} poses per cell, {len(DISTANCES_M)} distances x {len(TILTS_DEG)} tilts, AOI {args.aoi_px} px, "
        f"camera 640x480 fx=fy=600, marker {WIDTH_M} m, JPEG 70, gaze error sigma {GAZE_ERROR_PX} px",
        flush=True,
    )
    for distance in DISTANCES_M:
        for tilt in TILTS_DEG:
            for index in range(poses):
                seed = hash((distance, tilt, index)) & 0x7FFFFFFF
                frame, marker_id, corners, rvec, tvec, gaze = make_scene(distance, tilt, seed, textures)
                aoi = aoi_around(gaze, args.aoi_px)
                for name, method in methods.items():
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    found = method(frame, aoi, gaze)
                    elapsed = (1000 * (time.perf_counter() - start), 1000 * (time.thread_time() - start_cpu))
                    score(results[name][(distance, tilt)], found, (marker_id, corners, rvec, tvec), elapsed)
        print(f"  done {distance} m", file=sys.stderr, flush=True)
    for name in ("ours", "plain", "sift"):
        if name in results:
            print_cells(name, results[name])
    print_targets(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
