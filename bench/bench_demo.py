"""Benchmark of the live demo: CPU use, keeping up with a 30 fps camera, look latency.

Runs, in one process and one after the other:

1. the peer: the demo's MJPEG server and the real HTTP camera source reading it with a
   recorder tap (what serving and reading cost without the core), for the same time;
2. the demo: the whole pipeline (server, iViewX simulator, camera, core, recording).

CPU use is the process's user + system time per wall second, as % of the machine's cores;
the difference of the two runs is the core's share (fixations, marker search, recording).
Look latency is the time from a fixation's start event to its first look event, in ms and
in frame intervals (the target is at most one).

Usage::

    nice python bench/bench_demo.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

FRAME_INTERVAL_MS = 1000.0 / 30.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def serve_and_read(seconds: float) -> dict[str, float]:
    """The peer: the built-in camera served and read (tap drained), no core."""
    from gazefusion.fusion.camera import open_camera
    from gazefusion.fusion.config import CameraConfig
    from gazefusion.fusion.demo.scene import DemoScene
    from gazefusion.fusion.demo.server import MjpegServer

    scene = DemoScene()
    cpu0, wall0 = _cpu_s(), time.monotonic()
    received = 0
    with MjpegServer(lambda index, t_scene: scene.render(t_scene)[0]) as server:
        with open_camera(server.url, CameraConfig()) as camera:
            camera.start()
            tap = camera.tap(256)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if tap.get(timeout_s=0.1) is not None:
                    received += 1
            served = server.stats().rendered
            stats = camera.stats()
    wall = time.monotonic() - wall0
    return {"cpu_s": _cpu_s() - cpu0, "wall_s": wall, "served": served, "received": received,
            "dropped": stats.dropped + stats.tap_dropped + stats.skipped}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run, s (default: 20)")
    args = parser.parse_args(argv)
    from gazefusion.fusion.demo.run import run_demo

    cores = os.cpu_count() or 1
    peer = serve_and_read(args.seconds)
    with tempfile.TemporaryDirectory() as folder:
        cpu0, wall0 = _cpu_s(), time.monotonic()
        result = run_demo(Path(folder) / "session", args.seconds, headless=True, echo=None)
        demo_cpu, demo_wall = _cpu_s() - cpu0, time.monotonic() - wall0
    camera = result.camera
    received = camera.frames if camera is not None else 0
    camera_dropped = (camera.dropped + camera.tap_dropped + camera.skipped) if camera is not None else 0
    latencies_ms = sorted(1000.0 * look.latency_s for look in result.looks if look.latency_s == look.latency_s)

    def pct(cpu_s: float, wall_s: float) -> float:
        return 100.0 * cpu_s / wall_s / cores

    demo_pct, peer_pct = pct(demo_cpu, demo_wall), pct(peer["cpu_s"], peer["wall_s"])
    print(f"gazefusion demo benchmark: {args.seconds:g} s runs, 640x480 at 30 fps, {cores} cores, "
          f"5 markers in the library")
    print(f"{'run':<34} {'CPU % of cores':>15} {'served':>7} {'received':>9} {'dropped':>8}")
    print(f"{'serve + read (peer, no core)':<34} {peer_pct:>14.1f}% {peer['served']:>7.0f} {peer['received']:>9.0f} "
          f"{peer['dropped']:>8.0f}")
    print(f"{'demo (whole pipeline, recording)':<34} {demo_pct:>14.1f}% {result.server.rendered:>7d} {received:>9d} "
          f"{camera_dropped + result.runner.get('frames_skipped', 0):>8d}")
    print(f"the core's share: {demo_pct - peer_pct:.1f} % of the cores; headroom: {100.0 - demo_pct:.1f} %")
    print(f"frames: served {result.server.rendered} (skipped by the server {result.server.skipped}), "
          f"received {received} ({100.0 * received / max(1, result.server.rendered):.1f} %), "
          f"fed to the core {result.runner.get('frames', 0)}, skipped by the core {result.runner.get('frames_skipped', 0)}")
    if latencies_ms:
        median = statistics.median(latencies_ms)
        p95 = latencies_ms[min(len(latencies_ms) - 1, int(0.95 * len(latencies_ms)))]
        print(f"look latency (fixation start event -> first look event), {len(latencies_ms)} fixations: "
              f"median {median:.1f} ms = {median / FRAME_INTERVAL_MS:.2f} frame intervals, "
              f"p95 {p95:.1f} ms = {p95 / FRAME_INTERVAL_MS:.2f}, max {latencies_ms[-1]:.1f} ms = "
              f"{latencies_ms[-1] / FRAME_INTERVAL_MS:.2f} (target <= 1)")
    else:
        print("look latency: no looks")
    print(f"accuracy: worst marker position error {result.summary.worst_error_percent:.2f} % of distance, "
          f"fixations on markers {100 * result.summary.fraction_on_markers:.0f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
