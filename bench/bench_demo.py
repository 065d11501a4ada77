"""Benchmark of the live demo: CPU use, keeping up with a 30 fps camera, look latency.

Runs, in one process and one after the other:

1. the peer: the demo's devices (MJPEG camera, iViewX simulator; a child process) and this
   process reading the camera with the real HTTP source, tap drained: reading alone;
2. the demo: the whole pipeline (camera reading, tracker client, fixations, marker search,
   recording, headless overlay video and snapshots) against the same devices.

CPU use is a process's user + system time per wall second, as % of the machine's cores; the
difference of the two pipeline figures is the core's share.
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


def _cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def serve_and_read(seconds: float, folder: Path) -> dict[str, float]:
    """The peer: the demo's devices running, this process only reading the camera (tap drained)."""
    from gazefusion.fusion.camera import open_camera
    from gazefusion.fusion.config import CameraConfig
    from gazefusion.fusion.demo.devices import DemoDevices
    from gazefusion.fusion.geometry import ScreenGeometry

    devices = DemoDevices(folder / "peer-truth.tsv", ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0), _free_udp_port())
    children0 = _cpu_s(resource.RUSAGE_CHILDREN)
    with devices:
        cpu0, wall0 = _cpu_s(), time.monotonic()
        received = 0
        with open_camera(devices.url, CameraConfig()) as camera:
            camera.start()
            tap = camera.tap(256)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if tap.get(timeout_s=0.1) is not None:
                    received += 1
            stats = camera.stats()
        cpu, wall = _cpu_s() - cpu0, time.monotonic() - wall0
    report = devices.report
    return {
        "cpu_s": cpu,
        "wall_s": wall,
        "devices_cpu_s": _cpu_s(resource.RUSAGE_CHILDREN) - children0,
        "served": report.server.rendered if report else float("nan"),
        "received": received,
        "dropped": stats.dropped + stats.tap_dropped + stats.skipped,
    }


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run, s (default: 20)")
    args = parser.parse_args(argv)
    from gazefusion.fusion.demo.run import run_demo

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        peer = serve_and_read(args.seconds, Path(folder))
        children0 = _cpu_s(resource.RUSAGE_CHILDREN)
        wall0 = time.monotonic()
        result = run_demo(Path(folder) / "session", args.seconds, headless=True, echo=None)
        demo_cpu, demo_wall = result.cpu_s, result.wall_s
        devices_cpu, devices_wall = _cpu_s(resource.RUSAGE_CHILDREN) - children0, time.monotonic() - wall0
        load = os.getloadavg()
    camera = result.camera
    received = camera.frames if camera is not None else 0
    camera_dropped = (camera.dropped + camera.tap_dropped + camera.skipped) if camera is not None else 0
    latencies_ms = sorted(1000.0 * look.latency_s for look in result.looks if look.latency_s == look.latency_s)

    def pct(cpu_s: float, wall_s: float) -> float:
        return 100.0 * cpu_s / wall_s / cores

    demo_pct, peer_pct = pct(demo_cpu, demo_wall), pct(peer["cpu_s"], peer["wall_s"])
    devices_pct = pct(devices_cpu, devices_wall)
    print(
        f"gazefusion demo benchmark: {args.seconds:g} s runs, 640x480 at 30 fps, gaze at 250 Hz, {cores} cores, "
        f"5 markers in the library; load average at the end {load[0]:.1f}"
    )
    print("CPU: the pipeline's process (user + system per wall second, % of all cores); the camera and the")
    print("tracker stand-ins run in a child process, shown apart (real devices are other machines)")
    print(f"{'run':<38} {'pipeline CPU':>12} {'devices CPU':>12} {'served':>7} {'received':>9} {'dropped':>8}")
    print(
        f"{'peer: read the camera only (no core)':<38} {peer_pct:>11.1f}% {pct(peer['devices_cpu_s'], peer['wall_s']):>11.1f}% "
        f"{peer['served']:>7.0f} {peer['received']:>9.0f} {peer['dropped']:>8.0f}"
    )
    print(
        f"{'demo: whole pipeline, recording':<38} {demo_pct:>11.1f}% {devices_pct:>11.1f}% "
        f"{result.server.rendered:>7d} {received:>9d} {camera_dropped:>8d}"
    )
    print(
        f"the core's share (demo - peer): {demo_pct - peer_pct:.1f} % of the cores; "
        f"headroom with the devices on the same machine: {100.0 - demo_pct - devices_pct:.1f} %"
    )
    # Per frame, CPU time is what the machine's load changes least; scaled to 30 fps it is the
    # CPU use the pipeline needs to keep up with the camera.
    demo_ms = 1000.0 * demo_cpu / max(1, received)
    peer_ms = 1000.0 * peer["cpu_s"] / max(1, peer["received"])
    print(
        f"pipeline CPU per received frame: demo {demo_ms:.1f} ms, peer {peer_ms:.1f} ms; at 30 fps that is "
        f"{3.0 * demo_ms / cores:.1f} % of the cores (peer {3.0 * peer_ms / cores:.1f} %, the core's share "
        f"{3.0 * (demo_ms - peer_ms) / cores:.1f} %)"
    )
    print(
        f"frames: served {result.server.rendered} (skipped by the server {result.server.skipped}), "
        f"received {received} ({100.0 * received / max(1, result.server.rendered):.1f} %), "
        f"fed to the core {result.runner.get('frames', 0)}, skipped by the core {result.runner.get('frames_skipped', 0)}"
    )
    if latencies_ms:
        median = statistics.median(latencies_ms)
        p95 = latencies_ms[min(len(latencies_ms) - 1, int(0.95 * len(latencies_ms)))]
        print(
            f"look latency (fixation start event -> first look event), {len(latencies_ms)} fixations: "
            f"median {median:.1f} ms = {median / FRAME_INTERVAL_MS:.2f} frame intervals, "
            f"p95 {p95:.1f} ms = {p95 / FRAME_INTERVAL_MS:.2f}, max {latencies_ms[-1]:.1f} ms = "
            f"{latencies_ms[-1] / FRAME_INTERVAL_MS:.2f} (target <= 1)"
        )
    else:
        print("look latency: no looks")
    print(
        f"accuracy: worst marker position error {result.summary.worst_error_percent:.2f} % of distance, "
        f"fixations on markers {100 * result.summary.fraction_on_markers:.0f} %"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
