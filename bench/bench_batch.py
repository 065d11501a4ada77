"""Benchmark of `gazefusion batch`: many sessions at once against replaying them one after another.

In one run, on recorded demo sessions made at different seeds (cached under ``--cache``,
made by ``gazefusion demo`` the first time):

1. alone, one after another (today's way): each session through ``replay_session`` as
   ``gazefusion replay --fast`` does (its parts on threads), in this process;
2. the per-core replay speed: the same, one thread of replay per session (``workers=1``, as a
   batch task runs), session-seconds per CPU-second: what bounds a batch;
3. ``gazefusion batch --workers N`` (a local Dask cluster started and stopped by the command,
   the tables gathered), timed from outside as a user sees it;
4. Dask's overhead per task: trivial tasks on a local cluster of the same size; the cost of
   starting the cluster; the cost of gathering the tables again;
5. where one replay's CPU goes: JPEG decoding, the core without the marker search, the
   marker search, the rest (reading, tables).

Printed: session-seconds per wall-second of (1) and (3), the batch against its ceiling
(N cores x the speed of (2)), whether every per-session table of (3) is byte-identical to
(1)'s, and the model of a large study on a cluster from these measurements.

Usage::

    python bench/bench_batch.py [--sessions 20] [--seconds 20] [--workers 2] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SESSION_FILES = (
    "fixations.tsv",
    "looks.tsv",
    "pursuits.tsv",
    "gaze_on_markers.tsv",
    "fixations_on_markers.tsv",
    "marker_positions.tsv",
    "events.jsonl",
)
GAZEFUSION = str(Path(sys.executable).with_name("gazefusion"))
NFS_BYTES_S = 110e6
"""What a 1 GbE NFS share serves, bytes per second (about 90 % of the line rate)."""


def _cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def make_sessions(cache: Path, count: int, seconds: float) -> list[Path]:
    """Demo sessions at seeds 0..count-1, made one after another (each in real time) unless cached."""
    from gazefusion.fusion.files import read_yaml

    sessions = []
    for seed in range(count):
        folder = cache / f"seed{seed:02d}"
        done = (folder / "session.yaml").exists() and "end_time" in (
            read_yaml(folder / "session.yaml", "session") or {}
        )
        if not done:
            if folder.exists():
                subprocess.run(["rm", "-rf", str(folder)], check=True)
            print(f"recording demo session {seed + 1}/{count} ({seconds:g} s) into {folder}", flush=True)
            subprocess.run(
                [
                    GAZEFUSION,
                    "demo",
                    "--headless",
                    "--seconds",
                    str(seconds),
                    "--seed",
                    str(seed),
                    "--out",
                    str(folder),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        sessions.append(folder)
    return sessions


def replay_alone(sessions: list[Path], out: Path, workers: int | None) -> tuple[float, float, float]:
    """Each session replayed in turn in this process: (session s, wall s, CPU s)."""
    from gazefusion.fusion.replay import replay_session

    total = 0.0
    wall0, cpu0 = time.monotonic(), _cpu_s()
    for session in sessions:
        total += replay_session(session, out / session.name, fast=True, workers=workers).duration_s
    return total, time.monotonic() - wall0, _cpu_s() - cpu0


def run_batch_command(sessions: list[Path], out: Path, workers: int) -> tuple[float, float]:
    """``gazefusion batch`` as a user runs it: (wall s, CPU s of it and its worker processes)."""
    cpu0 = _cpu_s(resource.RUSAGE_CHILDREN)
    wall0 = time.monotonic()
    subprocess.run(
        [GAZEFUSION, "batch", *map(str, sessions), "--out", str(out), "--workers", str(workers), "--progress", "never"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - wall0, _cpu_s(resource.RUSAGE_CHILDREN) - cpu0


def identical(alone: Path, batch: Path, sessions: list[Path]) -> int:
    """How many sessions' tables (and events) from the batch are byte-identical to the replay alone."""
    same = 0
    for session in sessions:
        mine, theirs = alone / session.name, batch / "sessions" / session.name
        same += all((mine / name).read_bytes() == (theirs / name).read_bytes() for name in SESSION_FILES)
    return same


def _fed_frames(session: Path) -> int:
    """Frames the live core took (frames.tsv rows with fed_after >= 0)."""
    from gazefusion.fusion.tables import TableReader

    return sum(1 for row in TableReader(session / "frames.tsv") if int(row["fed_after"]) >= 0)


def _recorded_frames(session: Path) -> int:
    from gazefusion.fusion.tables import TableReader

    return sum(1 for _ in TableReader(session / "frames.tsv"))


def _noop(i: int) -> int:
    return i


def dask_overheads(workers: int, tasks: int = 400) -> dict[str, float]:
    """A local cluster's start, and its cost per trivial task with `workers` one-thread workers."""
    from distributed import Client, LocalCluster, as_completed

    wall0 = time.monotonic()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster, set_as_default=False)
    start_s = time.monotonic() - wall0
    try:
        client.gather(client.map(_noop, range(workers * 4), pure=False))  # warm: functions known to the workers
        wall0 = time.monotonic()
        futures = client.map(_noop, range(tasks), pure=False)
        for future in as_completed(futures, loop=client.loop):
            future.result()
        per_task_s = (time.monotonic() - wall0) / tasks
    finally:
        client.close()
        cluster.close()
    return {"start_s": start_s, "per_task_s": per_task_s, "tasks": tasks}


def replay_profile(session: Path) -> dict[str, float]:
    """CPU seconds of one replay (``workers=1``) by part: decoding, core, marker search, the rest."""
    from gazefusion.fusion.core import make_core
    from gazefusion.fusion.replay import _opencv_single_threaded, _relocated, replay_session
    from gazefusion.fusion.session import SessionReader
    from gazefusion.fusion.types import Frame

    with tempfile.TemporaryDirectory() as folder:
        cpu0 = time.process_time()
        duration = replay_session(session, Path(folder) / "out", fast=True, workers=1).duration_s
        total = time.process_time() - cpu0
    reader = SessionReader(session)
    cpu0 = time.process_time()
    for _ in reader.frames(lambda record: record.fed_after >= 0):
        pass
    decode = time.process_time() - cpu0
    config = _relocated(reader.config, session)
    core = make_core(config)
    search = core.marker_search
    spent = [0.0]

    def timed(*args: Any) -> Any:
        t0 = time.process_time()
        try:
            return search(*args)  # type: ignore[misc]
        finally:
            spent[0] += time.process_time() - t0

    core.marker_search = timed
    cpu0 = time.process_time()
    with _opencv_single_threaded():  # as in the replay
        for item in reader.inputs(prefetch=False):
            core.feed_frame(item) if isinstance(item, Frame) else core.feed_sample(item)
        core.finish()
    in_core = time.process_time() - cpu0
    return {
        "duration": duration,
        "total": total,
        "decode": decode,
        "search": spent[0],
        "core": in_core - spent[0] - decode,
        "rest": total - in_core,
        "frames_searched": core.stats.frames_searched,
        "frames": core.stats.frames,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="demo sessions (default: 20)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each, s (default: 20)")
    parser.add_argument("--workers", type=int, default=2, help="batch workers (default: 2)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "gazefusion-bench-batch",
        help="where the recorded sessions are kept between runs (default: $TMPDIR/gazefusion-bench-batch)",
    )
    args = parser.parse_args()
    cache = args.cache / f"{args.sessions}x{args.seconds:g}s"
    sessions = make_sessions(cache, args.sessions, args.seconds)
    video_bytes = sum((s / "video.mjpeg").stat().st_size for s in sessions)
    frame_bytes = video_bytes / sum(_recorded_frames(s) for s in sessions)
    fed = {s: _fed_frames(s) for s in sessions}
    print(
        f"sessions: {len(sessions)} demo sessions of {args.seconds:g} s in {cache}, {video_bytes / 1e6:.0f} MB of video"
    )
    rates = sorted(frames / args.seconds for frames in fed.values())
    print(
        f"frames the live core took: {sum(fed.values())} ({rates[0]:.0f} to {rates[-1]:.0f} per s of session, median "
        f"{rates[len(rates) // 2]:.0f}: the demo's camera renders fewer than 30 fps on a loaded machine)"
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        session_s, wall_a, cpu_a = replay_alone(sessions, root / "alone", None)
        _, wall_b, cpu_b = replay_alone(sessions, root / "per-core", 1)
        wall_c, cpu_c = run_batch_command(sessions, root / "batch", args.workers)
        same = identical(root / "alone", root / "batch", sessions)
        from gazefusion.fusion.batch.gather import gather
        from gazefusion.fusion.batch.plan import parse_sweep, plan_tasks
        from gazefusion.fusion.batch.task import finished_outcome

        tasks = plan_tasks([s.resolve() for s in sessions], parse_sweep([]))
        outcomes = [finished_outcome(root / "batch", task) for task in tasks]
        gather_cpu0, gather_wall0 = _cpu_s(), time.monotonic()
        gather(root / "batch", [o for o in outcomes if o is not None], [])
        gather_s = time.monotonic() - gather_wall0
        gather_cpu = _cpu_s() - gather_cpu0
        gathered_bytes = sum(p.stat().st_size for p in (root / "batch").glob("*.tsv"))
        task_cpu = sum(o.cpu_s for o in outcomes if o is not None)
        from gazefusion.fusion.batch import AoiSettings
        from gazefusion.fusion.batch.task import aoi_metrics

        metrics_cpu0 = time.process_time()
        for task in tasks:  # again, in place (the same table): the part of a task that is not its replay
            aoi_metrics(task, root / "batch" / task.out, AoiSettings())
        metrics_cpu = time.process_time() - metrics_cpu0
    overheads = dask_overheads(args.workers)
    fullest = max(sessions, key=lambda s: fed[s])  # the nearest to the demo's 30 fps: the cost of a full-rate replay
    profile = replay_profile(fullest)

    per_core = session_s / cpu_b
    ceiling = args.workers * per_core
    rate_a, rate_c = session_s / wall_a, session_s / wall_c
    print()
    print(
        f"alone, one after another (replay --fast, parts on threads): {rate_a:5.2f} session-s per wall-s "
        f"({session_s:.0f} s of sessions in {wall_a:.1f} s, {cpu_a:.1f} CPU-s)"
    )
    print(
        f"per-core replay speed (workers=1):                          {per_core:5.2f} session-s per CPU-s "
        f"({cpu_b:.1f} CPU-s, {wall_b:.1f} s wall)"
    )
    print(
        f"batch --workers {args.workers} (local Dask cluster, gathered):          {rate_c:5.2f} session-s per wall-s "
        f"({wall_c:.1f} s wall, {cpu_c:.1f} CPU-s in the command and its workers, {task_cpu:.1f} CPU-s in its tasks)"
    )
    print(
        f"batch against its ceiling ({args.workers} cores x {per_core:.2f}):               {rate_c / ceiling:5.1%} "
        f"(target >= 90 %); batch against alone: {rate_c / rate_a:.2f}x"
    )
    share = cpu_c / (wall_c * args.workers)
    print(
        f"  the batch had {share:.0%} of the {args.workers} cores (the rest went to other processes; load average "
        f"{os.getloadavg()[0]:.1f} now)"
    )
    print(
        f"  CPU: {session_s / cpu_c:.2f} session-s per CPU-s for the whole batch against {per_core:.2f} alone "
        f"({session_s / cpu_c / per_core:.0%}); of its {cpu_c:.1f} CPU-s, {task_cpu:.1f} in the replays "
        f"({task_cpu / cpu_c:.0%}), {cpu_c - task_cpu:.1f} in starting the cluster, imports, scheduling and "
        f"gathering; the replays cost {task_cpu / cpu_b - 1:+.0%} CPU against alone"
    )
    print(
        f"  of the tasks' CPU, {metrics_cpu:.1f} CPU-s ({metrics_cpu / task_cpu:.0%}) is their AOI metrics, "
        "which a replay alone does not compute"
    )
    print(f"identical per-session tables (batch vs alone):              {same}/{len(sessions)}")
    print(
        f"Dask: local cluster start {overheads['start_s']:.2f} s; {1000 * overheads['per_task_s']:.2f} ms per trivial task "
        f"({overheads['tasks']:.0f} tasks on {args.workers} workers); gathering {len(sessions)} sessions' tables "
        f"{gather_s:.3f} s wall, {gather_cpu:.3f} CPU-s, {gathered_bytes / 1e6:.1f} MB of project tables"
    )
    p = profile
    print(
        f"one replay (workers=1) of {fullest.name} ({fed[fullest] / args.seconds:.0f} frames per s): "
        f"{p['duration'] / p['total']:.2f} session-s per CPU-s, {p['total']:.2f} CPU-s; marker search {p['search']:.2f} "
        f"({p['search'] / p['total']:.0%}) on {p['frames_searched']:.0f} of {p['frames']:.0f} frames; JPEG decoding "
        f"{p['decode']:.2f} ({p['decode'] / p['total']:.0%}); core without search {p['core']:.2f} "
        f"({p['core'] / p['total']:.0%}); reading, tables, start {p['rest']:.2f} ({p['rest'] / p['total']:.0%})"
    )

    # The model of a large study on a cluster: 1,000 sessions of 10 min on 64 one-core workers, from the
    # measured per-core replay speed, and again at the demo camera's full 30 frames per second (the CPU
    # of a frame: its search and decoding, from the profile; the rest per session-second).
    per_frame_cpu = (p["search"] + p["decode"]) / p["frames"]
    other_cpu = (p["total"] - p["search"] - p["decode"]) / p["duration"]
    full_rate = 1.0 / (other_cpu + 30.0 * per_frame_cpu)
    median_fps = rates[len(rates) // 2]
    print()
    print(
        f"cost model of a replay: {1000 * per_frame_cpu:.1f} ms of CPU per frame the live core took (search and "
        f"decoding) + {other_cpu:.3f} CPU-s per session-second: at 30 frames per s {full_rate:.2f} session-s per CPU-s"
    )
    for label, speed, fps in (
        (f"as measured ({median_fps:.0f} frames per s)", per_core, median_fps),
        ("at 30 frames per s", full_rate, 30.0),
    ):
        _model(label, speed, overheads["per_task_s"], gather_cpu / session_s, frame_bytes * fps)
    print(
        f"  the project tables: {gathered_bytes / session_s / 1e3:.1f} kB per session-second "
        f"({gathered_bytes / session_s * 600e3 / 1e9:.1f} GB for 1,000 x 10 min), written by the client alone"
    )
    return 0


def _model(label: str, per_core: float, per_task_s: float, gather_cpu_per_session_s: float, video_rate: float) -> None:
    """1,000 sessions of 10 min on 64 one-core workers: compute, scheduling, gathering, and the storage it needs."""
    n, minutes, cluster_workers = 1000, 10.0, 64
    task_cpu_s = minutes * 60.0 / per_core
    waves = -(-n // cluster_workers)
    makespan_s = waves * task_cpu_s  # equal sessions: whole waves, the last one partly idle
    scheduling_s = n * per_task_s
    gather_model_s = gather_cpu_per_session_s * n * minutes * 60.0  # one process after the tasks, CPU-bound
    need_mb_s = cluster_workers * per_core * video_rate / 1e6
    storage_s = n * minutes * 60.0 * video_rate / NFS_BYTES_S  # every frame read once over the network
    print(
        f"model {label}: {n} sessions x {minutes:g} min on {cluster_workers} workers: {task_cpu_s:.0f} CPU-s per "
        f"session, {waves} waves: {makespan_s / 3600:.2f} h (ideal {n * task_cpu_s / cluster_workers / 3600:.2f} h); "
        f"scheduling {scheduling_s:.1f} s; gathering {gather_model_s / 60:.0f} min; total about "
        f"{(makespan_s + scheduling_s + gather_model_s) / 3600:.2f} h"
    )
    print(
        f"  video read at {video_rate / 1e6:.2f} MB per session-second: {cluster_workers} workers need "
        f"{need_mb_s:.0f} MB/s from shared storage; 1 GbE NFS (about {NFS_BYTES_S / 1e6:.0f} MB/s) keeps "
        f"{min(1.0, NFS_BYTES_S / 1e6 / need_mb_s):.0%} of them busy and takes {storage_s / 3600:.2f} h to serve "
        f"the video: total about {(max(makespan_s, storage_s) + scheduling_s + gather_model_s) / 3600:.2f} h"
    )


if __name__ == "__main__":
    sys.exit(main())
