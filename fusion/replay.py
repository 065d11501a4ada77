"""Replay: a recorded session's frames and gaze through the same fusion core.

The inputs go in exactly the order the live core took them (frames.tsv's ``fed_after``), so
with unchanged parameters the fixations and looks are the live run's. Parameters may be
changed for re-analysis (fixation method and parameters, AOI size, marker library).

Gaze on markers: replayed in order, the core maps gaze as the live run did; replayed in
parts, every search is known afterwards and one pass over the recorded gaze and frame times
(:func:`join_recorded`, nothing decoded) gives the same rows. With ``map_all`` every frame
is searched whole instead (offline, where time is cheap), so every sample, in a fixation or
not, maps onto whatever marker is in view. ``video`` renders the annotated video.
"""

from __future__ import annotations

import bisect
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import cv2
from tqdm import tqdm

from gazefusion.fusion.camera.recorded import FrameRecord
from gazefusion.fusion.config import Config, override_config
from gazefusion.fusion.core import (
    CoreOutput,
    FusionCore,
    LazyMarkerSearch,
    OutputCounts,
    make_core,
    mapping_note,
)
from gazefusion.fusion.errors import ConfigError, OutputError
from gazefusion.fusion.files import write_yaml_atomic
from gazefusion.fusion.fixations import make_detector
from gazefusion.fusion.overlay import draw_overlay
from gazefusion.fusion.overlay_video import RealTimeVideo
from gazefusion.fusion.session import SessionReader, SessionRecorder, relocated_config
from gazefusion.fusion.types import Fixation, FixationEvent, Frame, MovementEvent, SearchedFrame

RING_LEAD_FRAMES = 40
"""Frames a part of a replay feeds before its own (more than the core's ring of 32)."""


class ReplayResult(NamedTuple):
    """What a replay did."""

    samples: int
    frames: int
    fixations: int
    looks: int
    duration_s: float
    wall_s: float
    problems: tuple[str, ...]
    out_dir: Path | None


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1)
    except OSError:
        return 0


def split_points(
    reader: SessionReader, config: Config, parts: int
) -> tuple[list[int], int, float | None, float | None]:
    """Sample counts at which no fixation is in progress, cutting a session into `parts`.

    Runs the fixation detector alone over the recorded gaze (cheap): after each returned
    count of samples, every fixation begun has ended, so the parts' looks are independent
    (the marker search starts afresh at every fixation).

    Returns
    -------
    tuple
        (sorted distinct cut points, number of samples, first and last sample time or None)
    """
    geometry = config.screen.geometry()
    core = FusionCore(make_detector(config.fixations.method, geometry, dict(config.fixations.params)), geometry)
    count = 0
    active = False
    free: list[int] = []
    first_t = last_t = None
    for sample in reader.samples():
        count += 1
        first_t = sample.t if first_t is None else first_t
        last_t = sample.t
        for output in core.feed_sample(sample):
            # No cut inside a fixation or a pursuit: each part must give the live run's events.
            if isinstance(output, FixationEvent) and output.kind in ("start", "end", "cancel"):
                active = output.kind == "start"
            elif isinstance(output, MovementEvent) and output.movement.kind == "pursuit":
                active = output.kind != "end"
        if not active:
            free.append(count)
    points: set[int] = set()
    for k in range(1, parts):
        target = count * k / parts
        i = bisect.bisect_left(free, target)
        near = [c for c in free[max(0, i - 1) : i + 1] if 0 < c < count]
        if near:
            points.add(min(near, key=lambda c: abs(c - target)))
    return sorted(points), count, first_t, last_t


def _replay_part(directory: Path, config: Config, first: int, last: int | None) -> list[CoreOutput]:
    """The outputs of the fixations that start between `first` and `last` samples fed.

    Every sample from the start goes through the fixation detector (its state depends on
    all of them); frames from `RING_LEAD_FRAMES` before the part on (the nearest-frame join
    needs the ring full); the marker search runs only within the part.
    """
    reader = SessionReader(directory)
    records = [record for record in reader.frame_records() if record.fed_after >= 0]
    at = next((i for i, record in enumerate(records) if record.fed_after >= first), len(records))
    lower = records[max(0, at - RING_LEAD_FRAMES)].fed_after if records else 0
    core = make_core(config, join=False)  # gaze is joined once the parts are done
    search = core.marker_search
    outputs: list[CoreOutput] = []
    count = 0

    def wanted(record: Any) -> bool:
        return record.fed_after >= lower and (last is None or record.fed_after < last)

    for item in reader.inputs(wanted=wanted):
        if last is not None and count >= last:
            break
        owned = count >= first
        core.marker_search = search if owned else None
        if isinstance(item, Frame):
            produced = core.feed_frame(item)
        else:
            count += 1
            produced = core.feed_sample(item)
        if owned:
            outputs.extend(produced)
    if last is None:
        outputs.extend(core.finish())
    return outputs


def replay_session(
    session: str | Path,
    out_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    fast: bool = True,
    speed: float = 1.0,
    progress: bool = False,
    on_output: Callable[[CoreOutput], None] | None = None,
    workers: int | None = None,
    map_all: bool = False,
    video: str | Path | None = None,
) -> ReplayResult:
    """Feed a session through a new fusion core; optionally write the results to `out_dir`.

    Parameters
    ----------
    session : str or pathlib.Path
        The recorded session folder.
    out_dir : str, pathlib.Path or None
        Where to write fixations.tsv, looks.tsv, events.jsonl and session.yaml; None writes
        nothing. (default: None)
    overrides : Mapping or None
        Dotted config keys to change, e.g. ``{"fixations.method": "idt"}``. (default: None)
    fast : bool
        As fast as possible; otherwise at the original timing divided by `speed`.
        (default: True)
    speed : float
        Playback speed factor when not `fast`. (default: 1.0)
    progress : bool
        Show a tqdm progress bar on stderr. (default: False)
    on_output : callable or None
        Called with every fixation event and look, in order (when replaying in parts, after
        the parts are done). (default: None)
    workers : int or None
        With `fast`, a marker library and a recorded feed order, cut the session between
        fixations into this many parts replayed on threads at once (the outputs are the
        same, in the same order); None: the number of CPUs, at most 4. (default: None)
    map_all : bool
        Search every frame whole for markers and map every gaze sample onto those in view
        (gaze_on_markers.tsv, fixations_on_markers.tsv and marker_positions.tsv from that
        search; fixations and looks as usual). (default: False)
    video : str, pathlib.Path or None
        Render the annotated video into this ``.mp4`` file, each frame at its recorded time
        (the live run's writer, :class:`~gazefusion.fusion.overlay_video.RealTimeVideo`); the
        session is then replayed in order. (default: None)

    Raises
    ------
    GazefusionError
        A session that cannot be read, a parameter that does not validate, an output that
        cannot be written.
    """
    reader = SessionReader(session)
    config = override_config(relocated_config(reader.config, Path(session)), overrides, "replay parameters")
    if out_dir is not None:
        config = _recorded_calibration(reader, config, Path(out_dir))
    workers = min(os.cpu_count() or 1, 4) if workers is None else max(1, int(workers))
    markers = config.markers.file is not None
    if map_all and not markers:
        raise ConfigError("--map-all needs a marker library: the session has none (give one with --markers)")
    if video is not None and Path(video).suffix.lower() != ".mp4":
        raise OutputError(f"video {video}: the annotated video is an MP4 file: name it OUT.mp4")
    recorder = None
    if out_dir is not None:
        recorder = SessionRecorder(out_dir, config, media=False, extra={"replay_of": str(Path(session).resolve())})
    counts = {"samples": 0, "frames": 0}
    delivered = OutputCounts()
    span = [None, None]  # first and last input time
    wall_start = time.monotonic()
    note = mapping_note(config)
    if note is not None:
        reader.problems.append(note)
    parallel = fast and workers > 1 and markers and reader.has_feed_order and video is None
    join_after = markers and (parallel or map_all)
    searched: list[SearchedFrame] = []
    ended: list[Fixation] = []

    def from_core(outputs: list[CoreOutput]) -> None:
        """Core outputs, with what the join afterwards needs kept aside (map_all: its own searches)."""
        kept = []
        for output in outputs:
            if join_after and isinstance(output, SearchedFrame):
                if map_all:
                    continue
                searched.append(output)
            elif join_after and isinstance(output, FixationEvent) and output.kind == "end":
                ended.append(output.fixation)
            kept.append(output)
        emit(kept)

    def emit(outputs: list[CoreOutput]) -> None:
        for output in outputs:
            delivered.add(output)
            if recorder is not None:
                recorder.write(output)
            if on_output is not None:
                on_output(output)

    try:
        with _opencv_single_threaded():
            if parallel:
                _replay_in_parts(reader, config, workers, counts, span, from_core, progress)
            else:
                _replay_in_order(reader, config, fast, speed, counts, span, from_core, progress, not join_after, video)
            if join_after:
                if map_all:
                    searched = list(search_every_frame(reader, config, progress))
                    emit(list(searched))
                emit(join_recorded(reader, config, searched, ended))
    finally:
        if recorder is not None:
            for problem in dict.fromkeys(reader.problems):
                recorder.write_event({"kind": "replay_problem", "t": span[1], "text": problem})
            recorder.close({**counts, "fixations": delivered.fixations, "looks": delivered.looks})
    duration = 0.0 if span[0] is None else float(span[1] - span[0])
    return ReplayResult(
        counts["samples"],
        counts["frames"],
        delivered.fixations,
        delivered.looks,
        duration,
        time.monotonic() - wall_start,
        tuple(dict.fromkeys(reader.problems)),
        None if out_dir is None else Path(out_dir),
    )


@contextmanager
def _opencv_single_threaded() -> Iterator[None]:
    """OpenCV's own thread pool off while replaying (the outputs do not change).

    On the small AOI crops its threads cost more CPU than they save (a replay of the demo
    session took 15 % more CPU with them, docs/benchmarks/batch.md); the parallelism of a
    replay is its parts, and of a batch its workers.
    """
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _relocated(config: Config, session: Path) -> Config:
    """Files the recording kept inside its own folder, found where the folder is now.

    A session that was moved or copied (the demo keeps its marker library and intrinsics
    inside the session) names them by the folder it was recorded into; a missing file under
    that folder is looked for at the same place under `session`.
    """
    recorded_dir = config.record.dir
    if recorded_dir is None:
        return config
    changes: dict[str, str] = {}
    for key, path in (
        ("markers.file", config.markers.file),
        ("calibration.intrinsics", config.calibration.intrinsics),
        ("calibration.mapping", config.calibration.mapping),
    ):
        if path is None or Path(path).exists():
            continue
        try:
            inside = Path(path).relative_to(recorded_dir)
        except ValueError:
            continue
        if (session / inside).exists():
            changes[key] = str(session / inside)
    return override_config(config, changes, "replay parameters") if changes else config


def _recorded_calibration(reader: SessionReader, config: Config, out_dir: Path) -> Config:
    """Calibration files that have gone since the recording: use the contents recorded in session.yaml.

    They are written into ``out_dir/calibration/`` and the configuration points there;
    each is named in the reader's problems.
    """
    recorded = reader.header.get("calibration") or {}
    changes: dict[str, str] = {}
    for key in ("intrinsics", "mapping"):
        path = getattr(config.calibration, key)
        entry = recorded.get(key)
        if path is None or Path(path).exists() or not isinstance(entry, dict):
            continue
        if not isinstance(entry.get("contents"), dict) or entry.get("path") != path:
            continue
        folder = out_dir / "calibration"
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / Path(path).name
        write_yaml_atomic(copy, entry["contents"])
        changes[f"calibration.{key}"] = str(copy)
        reader.problems.append(f"{key} file {path} is gone: using the contents recorded in session.yaml")
    return override_config(config, changes, "replay parameters") if changes else config


def _progress_bar(total: int, enabled: bool, unit: str) -> Any:
    if not enabled:
        return None
    return tqdm(total=total, unit=unit, desc="replay", leave=False, mininterval=0.25)


def _replay_in_order(
    reader: SessionReader,
    config: Config,
    fast: bool,
    speed: float,
    counts: dict[str, int],
    span: list[Any],
    emit: Callable[[list[CoreOutput]], None],
    progress: bool,
    join: bool = True,
    video: str | Path | None = None,
) -> None:
    core = make_core(config, join=join)
    total = _count_lines(reader.directory / "gaze.tsv") + _count_lines(reader.directory / "frames.tsv")
    bar = _progress_bar(total, progress, "input")
    wall_start = time.monotonic()
    writer: RealTimeVideo | None = None
    try:
        for item in reader.inputs():
            if span[0] is None:
                span[0] = item.t
            span[1] = item.t
            if not fast:
                wait = wall_start + (item.t - span[0]) / speed - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            if isinstance(item, Frame):
                counts["frames"] += 1
                emit(core.feed_frame(item))
                if video is not None:
                    size = (item.image.shape[1], item.image.shape[0])
                    if writer is None:
                        writer = RealTimeVideo(Path(video), size, item.t)
                    writer.write(draw_overlay(item.image, core.state, core.intrinsics_for(size)), item.t)
            else:
                counts["samples"] += 1
                emit(core.feed_sample(item))
            if bar is not None:
                bar.update(1)
        emit(core.finish())
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close(span[1])


def search_every_frame(reader: SessionReader, config: Config, progress: bool = False) -> Iterator[SearchedFrame]:
    """Every frame the core took, searched whole for markers (detect, then track between detections).

    Parameters
    ----------
    reader : SessionReader
        The session.
    config : Config
        Its configuration (marker library, detector settings, intrinsics).
    progress : bool
        Show a tqdm progress bar on stderr. (default: False)
    """
    search = LazyMarkerSearch(config)
    bar = _progress_bar(_count_lines(reader.directory / "frames.tsv"), progress, "frame")
    try:
        for item in reader.inputs():
            if not isinstance(item, Frame):
                continue
            height, width = item.image.shape[:2]
            hits = search(item.image, (0, 0, width, height), (math.nan, math.nan))
            if bar is not None:
                bar.update(1)
            if hits:
                yield SearchedFrame(item.index, item.t, (width, height), tuple(hits))
    finally:
        if bar is not None:
            bar.close()


def join_recorded(
    reader: SessionReader, config: Config, searched: Iterable[SearchedFrame], fixations: Iterable[Fixation]
) -> list[CoreOutput]:
    """Gaze and fixations on markers from a session's recorded inputs and known searches.

    One pass over gaze.tsv and frames.tsv in the live feed order (no frame decoded), through
    the same join the live core runs: given the searches the core made, the rows are the
    live run's.

    Parameters
    ----------
    reader : SessionReader
        The session.
    config : Config
        The configuration replayed (mapping, screen, marker library, intrinsics).
    searched : Iterable[SearchedFrame]
        Every searched frame with its markers.
    fixations : Iterable[Fixation]
        Every fixation, at its end.
    """
    core = make_core(config)
    join = core.join
    if join is None:
        return []
    by_frame: dict[int, list[SearchedFrame]] = {}
    for found in searched:
        by_frame.setdefault(found.frame_index, []).append(found)
        if core.camera_size is None:
            core.set_camera_size(found.image_size)
    rows: list[CoreOutput] = []
    for fixation in fixations:
        rows.extend(join.fixation_end(fixation))
    for item in reader.feed_order():
        if isinstance(item, FrameRecord):
            rows.extend(join.frame(item.index, item.t))
            for found in by_frame.get(item.index, ()):
                join.searched(found)
        else:
            valid = bool(item.valid) and math.isfinite(item.x) and math.isfinite(item.y)
            join.sample(core.sample_time(item), item.x, item.y, valid)
    rows.extend(join.finish())
    return rows


def _replay_in_parts(
    reader: SessionReader,
    config: Config,
    workers: int,
    counts: dict[str, int],
    span: list[Any],
    emit: Callable[[list[CoreOutput]], None],
    progress: bool,
) -> None:
    points, total_samples, first_t, last_t = split_points(reader, config, workers)
    bounds = list(zip([0, *points], [*points, None]))
    frame_times = [record.t for record in reader.frame_records() if record.fed_after >= 0]
    counts["samples"], counts["frames"] = total_samples, len(frame_times)
    bar = _progress_bar(len(bounds), progress, "part")
    try:
        with ThreadPoolExecutor(max_workers=len(bounds), thread_name_prefix="gazefusion-replay") as pool:
            futures = [pool.submit(_replay_part, reader.directory, config, first, last) for first, last in bounds]
            for future in futures:
                emit(future.result())
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    times = [t for t in (first_t, last_t, *frame_times[:1], *frame_times[-1:]) if t is not None]
    if times:
        span[0], span[1] = min(times), max(times)
