"""Soak: a recording ``gazefusion run`` against motion for an hour, the server killed every minute.

What grows? The run (headless, recording, annotated video) goes on in this process while a
thread kills motion (SIGKILL) every ``--kill-every`` seconds and starts it again
``--down`` seconds later on the same port, and takes a ``tracemalloc`` snapshot and the
process's resident memory each minute. The report (``--out``, markdown) gives the resident and
traced memory per minute, the allocation sites that grew most between the first snapshot after
the warm-up and the last, and the run's summary (frames, reconnects, outages recorded).

Run:  nice -n 10 python bench/soak_camera.py --minutes 60 --out soak.md
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gazefusion.fusion.cli import main  # noqa: E402
from gazefusion.fusion.session import SessionReader  # noqa: E402
from tests.fusion.camera.servers import MotionServer, make_clip  # noqa: E402

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1e6


def resident_mb() -> float:
    """This process's resident memory, MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE_MB


class Soak(threading.Thread):
    """Kills and restarts the server and takes the memory figures while the run goes on."""

    def __init__(
        self, server: MotionServer, minutes: float, kill_every_s: float, down_s: float, warmup_min: float
    ) -> None:
        super().__init__(daemon=True)
        self.warmup_min = warmup_min
        self.baseline_min: float | None = None
        self.server, self.minutes, self.kill_every_s, self.down_s = server, minutes, kill_every_s, down_s
        self.rows: list[tuple[float, float, float, int]] = []
        self.snapshots: list[tracemalloc.Snapshot] = []
        self.kills = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        next_kill = began + self.kill_every_s
        next_sample = began
        end = began + self.minutes * 60.0
        while not self.stopped.is_set() and time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                traced, _ = tracemalloc.get_traced_memory()
                minute = (now - began) / 60.0
                self.rows.append((minute, resident_mb(), traced / 1e6, self.kills))
                if tracemalloc.is_tracing() and (minute >= self.warmup_min or not self.snapshots):
                    # compared: the first after the warm-up and the newest
                    self.snapshots.append(tracemalloc.take_snapshot())
                    if minute >= self.warmup_min and self.baseline_min is None:
                        self.baseline_min = minute
                        self.snapshots = self.snapshots[-1:]
                    del self.snapshots[1:-1]
                next_sample += 60.0
            if now >= next_kill and now + self.down_s < end:
                self.server.kill()
                self.kills += 1
                time.sleep(self.down_s)
                self.server.start()
                next_kill += self.kill_every_s
            self.stopped.wait(0.5)


def report(soak: Soak, session: Path, warmup_min: float, command: str) -> str:
    """The markdown report."""
    rows = soak.rows
    lines = [
        f"Command: `{command}`",
        "",
        "| minute | resident MB | traced MB | kills so far |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {m:.0f} | {r:.1f} | {t:.2f} | {k} |" for m, r, t, k in rows]
    after = [row for row in rows if row[0] >= warmup_min]
    if len(after) >= 2:
        first, last = after[0], after[-1]
        lines += [
            "",
            f"From minute {first[0]:.0f} to {last[0]:.0f}: resident {first[1]:.1f} -> {last[1]:.1f} MB "
            f"({(last[1] - first[1]) / first[1] * 100:+.2f} %), traced {first[2]:.2f} -> {last[2]:.2f} MB "
            f"({last[2] - first[2]:+.3f} MB).",
        ]
    if len(soak.snapshots) >= 2:
        stats = soak.snapshots[-1].compare_to(soak.snapshots[0], "lineno")
        lines += ["", f"Allocation sites that grew most (minute {soak.baseline_min:.0f} -> the last):", ""]
        lines += [f"- {stat}" for stat in stats[:12]]
    reader = SessionReader(session)
    events = list(reader.events())
    outages = sum(e.get("kind") == "camera_outage" for e in events)
    reconnects = sum(e.get("kind") == "camera_reconnect" for e in events)
    frames = sum(1 for _ in reader.frame_records())
    lines += [
        "",
        f"Server kills: {soak.kills}; outages recorded: {outages}; reconnects recorded: {reconnects}; "
        f"frames recorded: {frames}; reader problems: {reader.problems or 'none'}.",
    ]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="gazefusion-soak-"))
    clip = make_clip(folder / "clip.mkv")
    (folder / "motion").mkdir()
    server = MotionServer(folder / "motion", clip, auth="digest")
    server.start()
    os.environ["GAZEFUSION_SOAK_PASSWORD"] = "hunter2-secret"
    config = folder / "camera.yaml"
    config.write_text(
        "camera:\n  username: operator\n  password_env: GAZEFUSION_SOAK_PASSWORD\n"
        f"display:\n  annotated_video: {'false' if args.no_video else 'true'}\n"
    )
    session = folder / "session"
    if not args.no_trace:
        tracemalloc.start(1)  # one frame per allocation: the sites, at the least cost to the run
    soak = Soak(server, args.minutes, args.kill_every, args.down, args.warmup)
    soak.start()
    argv = [
        "-q",
        "run",
        "--config",
        str(config),
        "--camera",
        server.stream_url,
        "--tracker",
        "mock:3?rate=60",
        "--record",
        str(session),
        "--headless",
        "--seconds",
        str(args.minutes * 60.0),
    ]
    try:
        code = main(argv)
    finally:
        soak.stopped.set()
        soak.join(timeout=30)
        server.stop()
    text = report(soak, session, args.warmup, "nice -n 10 python bench/soak_camera.py " + " ".join(sys.argv[1:]))
    Path(args.out).write_text(text)
    print(text)
    return code


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the run (default: 60)")
    parser.add_argument("--kill-every", type=float, default=60.0, help="seconds between server kills (default: 60)")
    parser.add_argument("--down", type=float, default=3.0, help="seconds the server stays down (default: 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="minutes before the growth is measured (default: 2)")
    parser.add_argument("--out", default="soak.md", help="the markdown report (default: soak.md)")
    parser.add_argument("--no-video", action="store_true", help="without the annotated video (default: with it)")
    parser.add_argument("--no-trace", action="store_true", help="resident memory only, no tracemalloc (default: trace)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse()))
