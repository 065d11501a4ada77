"""The fusion core per frame, look latency, and replay speed, on a rendered scene.

Scene: the demo scene (five textured markers 0.7-1.5 m away at known poses, a slowly swaying
camera), 640x480 at 30 fps, JPEG at quality 85 as an IP camera sends it; a library of the five
markers. Gaze: 250 Hz, fixations of 0.5 s on the markers' centres in turn (mapped to the
screen through the full-screen default), with a look away between, 0.3 px noise, linear
40 ms saccades.

Figures:
- core time per frame during a fixation (median, p95) — the core's ``feed_frame`` with
  detect-then-track in the AOI — against a peer measured in the same run on the same frames:
  plain whole-frame detection (``MarkerDetector.detect`` without ROI) on every frame.
- look latency: frames between a fixation's start event and its first look, in input order,
  and the time from the start event to that frame.
- ``replay --fast`` speed: the scene recorded as a session (JPEG bytes, gaze, fed order), then
  replayed through a new core as fast as possible, in order on one thread (the peer) and in
  parts cut between fixations on two threads (the default on two CPUs); session seconds per
  wall second.

Run:  nice -n 10 python bench/bench_fusion.py [--seconds S]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simplejpeg

from gazefusion.calibration.mapping import TrackerCameraMapping
from gazefusion.fusion.config import load_config
from gazefusion.fusion.core import FusionCore, LookEvent, make_core, seeded_detector
from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.markers import MarkerDetector, MarkerLibrary
from gazefusion.fusion.replay import replay_session
from gazefusion.fusion.session import SessionRecorder
from gazefusion.fusion.types import FixationEvent, Frame
from gazefusion.trackers.types import GazeSample

FPS = 30.0
RATE_HZ = 250.0


def scene_inputs(scene: DemoScene, seconds: float, seed: int = 0) -> tuple[list[GazeSample], list[Frame]]:
    """Gaze on each marker in turn (a look away between), and the frames, on one clock."""
    rng = np.random.default_rng(seed)
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), scene.size)
    to_screen = np.linalg.inv(mapping.params)
    t0 = 1000.0
    targets_cam = [truth.centre_px for truth in scene.truth_at_rest().values()]
    plan: list[tuple[float, float, float]] = []
    for k, cam in enumerate(targets_cam):
        p = to_screen @ np.array([cam[0], cam[1], 1.0])
        plan.append((p[0] / p[2], p[1] / p[2], 0.5))
        if k % 2 == 1:
            plan.append((1700.0, 980.0, 0.3))  # look away, onto the background
    samples: list[GazeSample] = []
    t = t0
    previous = None
    while t - t0 < seconds:
        for x, y, dwell in plan:
            if previous is not None:
                steps = int(0.04 * RATE_HZ)
                for k in range(steps):
                    a = (k + 1) / steps
                    samples.append(
                        GazeSample(
                            t, t - t0, previous[0] + a * (x - previous[0]), previous[1] + a * (y - previous[1]), True
                        )
                    )
                    t += 1 / RATE_HZ
            for _ in range(int(dwell * RATE_HZ)):
                samples.append(GazeSample(t, t - t0, x + rng.normal(0, 0.3), y + rng.normal(0, 0.3), True))
                t += 1 / RATE_HZ
            previous = (x, y)
            if t - t0 >= seconds:
                break
    frames = []
    for index in range(int(seconds * FPS)):
        image, _ = scene.render(index / FPS)
        jpeg = simplejpeg.encode_jpeg(image, quality=85, colorspace="BGR")
        frames.append(
            Frame(index, t0 + index / FPS + 0.004, math.nan, simplejpeg.decode_jpeg(jpeg, colorspace="BGR"), jpeg)
        )
    return samples, frames


def ordered(samples: list[GazeSample], frames: list[Frame]) -> list[GazeSample | Frame]:
    """Host-time order, samples first on ties (as the runner's reorder buffer gives)."""
    keyed = [(s.t, 0, i, s) for i, s in enumerate(samples)] + [(f.t, 1, i, f) for i, f in enumerate(frames)]
    return [item for *_, item in sorted(keyed, key=lambda k: k[:3])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="scene length, s (default: 12)")
    args = parser.parse_args(argv)

    scene = DemoScene()
    work = Path(tempfile.mkdtemp(prefix="bench_fusion_"))
    markers = scene.write_library(work / "markers")
    intrinsics = scene.write_intrinsics(work / "intrinsics.yaml")
    config = load_config(
        None,
        {
            "markers.file": str(markers),
            "calibration.intrinsics": str(intrinsics),
            "aoi.size_deg": 4.5,
            "record.flush_every_s": 0.5,
        },
    )
    print(f"rendering {args.seconds:g} s of the demo scene at {FPS:g} fps, gaze at {RATE_HZ:g} Hz ...", file=sys.stderr)
    samples, frames = scene_inputs(scene, args.seconds)
    inputs = ordered(samples, frames)

    # --- the core, timed per frame during fixations; outputs for the latency figure ---------
    core: FusionCore = make_core(config)
    core_ms: list[float] = []
    core_cpu_ms: list[float] = []
    frames_seen = 0
    start_at: dict[int, int] = {}
    first_look: dict[int, tuple[int, float]] = {}
    start_t: dict[int, float] = {}
    for item in inputs:
        if isinstance(item, Frame):
            frames_seen += 1
            active = core.state.fixation is not None
            began, began_cpu = time.perf_counter(), time.process_time()
            outputs = core.feed_frame(item)
            if active:
                core_ms.append((time.perf_counter() - began) * 1000)
                core_cpu_ms.append((time.process_time() - began_cpu) * 1000)
        else:
            outputs = core.feed_sample(item)
        for output in outputs:
            if isinstance(output, FixationEvent) and output.kind == "start":
                start_at[output.fixation.id] = frames_seen
                start_t[output.fixation.id] = output.t
            elif isinstance(output, LookEvent) and output.kind == "first":
                first_look[output.fixation.id] = (frames_seen, output.look.t)
    core.finish()

    # --- the peer: whole-frame detection on every frame of the same fixations -----------------
    library = MarkerLibrary.load(markers, config.markers)
    detector = seeded_detector(MarkerDetector, library, scene.intrinsics, config.markers)  # the core's index
    peer_ms: list[float] = []
    peer_cpu_ms: list[float] = []
    for frame in frames[: max(1, len(core_ms))]:
        began, began_cpu = time.perf_counter(), time.process_time()
        detector.detect(frame.image)
        peer_ms.append((time.perf_counter() - began) * 1000)
        peer_cpu_ms.append((time.process_time() - began_cpu) * 1000)

    def stats(values: list[float]) -> tuple[float, float]:
        return statistics.median(values), float(np.percentile(values, 95))

    core_median, core_p95 = stats(core_ms)
    peer_median, peer_p95 = stats(peer_ms)
    print(
        f"core per frame during fixations (n={len(core_ms)}): median {core_median:.2f} ms, p95 {core_p95:.2f} ms "
        f"(target median <= 10 ms: {'met' if core_median <= 10 else 'NOT met'})"
    )
    print(f"peer, whole-frame detection   (n={len(peer_ms)}): median {peer_median:.2f} ms, p95 {peer_p95:.2f} ms")
    print(f"ratio peer/core median: {peer_median / core_median:.1f}x")
    print(
        f"CPU time per frame (process, all threads; less sensitive to other load): core median "
        f"{statistics.median(core_cpu_ms):.2f} ms, peer median {statistics.median(peer_cpu_ms):.2f} ms"
    )

    delays_frames = [first_look[i][0] - start_at[i] for i in start_at if i in first_look]
    delays_ms = [(first_look[i][1] - start_t[i]) * 1000 for i in start_at if i in first_look]
    print(
        f"look latency over {len(delays_frames)} fixations: frames after the start event: max {max(delays_frames)}, "
        f"mean {statistics.mean(delays_frames):.2f}; frame time - start event time: "
        f"max {max(delays_ms):+.1f} ms (one frame = {1000 / FPS:.1f} ms; target <= 1 frame: "
        f"{'met' if max(delays_frames) <= 1 else 'NOT met'})"
    )

    # --- replay --fast: record the scene as a session, replay it ---------------------------------
    session = work / "session"
    recorder = SessionRecorder(session, config)
    for item in inputs:
        if isinstance(item, Frame):
            recorder.write_frame(item, recorder.samples_written)
        else:
            recorder.write(item)
    recorder.close()
    for workers in (1, 2):
        began_cpu = time.process_time()
        result = replay_session(session, work / f"replay{workers}", fast=True, workers=workers)
        cpu_s = time.process_time() - began_cpu
        ratio = result.duration_s / result.wall_s
        how = "in order (one thread)" if workers == 1 else f"in {workers} parts at once"
        print(
            f"replay --fast {how}: {result.duration_s:.1f} s of session in {result.wall_s:.2f} s = {ratio:.1f}x real time "
            f"(target >= 5x: {'met' if ratio >= 5 else 'NOT met'}); {result.fixations} fixations, {result.looks} looks; "
            f"CPU {cpu_s:.2f} s = {result.duration_s / cpu_s:.1f} session s per CPU s"
        )
    same = all(
        (work / "replay1" / name).read_text() == (work / "replay2" / name).read_text()
        for name in ("fixations.tsv", "looks.tsv")
    )
    print(f"both replays give the same fixations.tsv and looks.tsv: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
