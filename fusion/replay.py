"""Replay: a recorded session's frames and gaze through the same fusion core.

The inputs go in exactly the order the live core took them (frames.tsv's ``fed_after``), so
with unchanged parameters the fixations and looks are the live run's. Parameters may be
changed for re-analysis (fixation method and parameters, AOI size, marker library).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from gazefusion.fusion.config import Config, validate_config
from gazefusion.fusion.core import CoreOutput, LookEvent
from gazefusion.fusion.runner import make_core
from gazefusion.fusion.session import SessionReader, SessionRecorder
from gazefusion.fusion.types import FixationEvent, Frame

log = logging.getLogger(__name__)


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


def override_config(config: Config, overrides: Mapping[str, Any] | None = None, source: str = "parameters") -> Config:
    """A configuration with dotted-key overrides applied (None values ignored), validated.

    New ``fixations.params`` for the same method keep the other parameters of `config`.
    """
    data = config.to_dict()
    overrides = dict(overrides or {})
    method = overrides.get("fixations.method")
    params = overrides.get("fixations.params")
    if params is not None and method in (None, config.fixations.method):
        overrides["fixations.params"] = {**config.fixations.params, **params}
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return validate_config(data, source)


def replay_session(
    session: str | Path,
    out_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    fast: bool = True,
    speed: float = 1.0,
    progress: bool = False,
    on_output: Callable[[CoreOutput], None] | None = None,
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
        Called with every fixation event and look as it is made. (default: None)
    """
    reader = SessionReader(session)
    config = override_config(reader.config, overrides, "replay parameters")
    core = make_core(config)
    recorder = None
    if out_dir is not None:
        recorder = SessionRecorder(out_dir, config, media=False, extra={"replay_of": str(Path(session).resolve())})
    total = _count_lines(reader.directory / "gaze.tsv") + _count_lines(reader.directory / "frames.tsv")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="input", desc="replay", leave=False, mininterval=0.25)
    samples = frames = fixations = looks = 0
    first_t = last_t = None
    wall_start = time.monotonic()

    def emit(outputs: list[CoreOutput]) -> None:
        nonlocal fixations, looks
        for output in outputs:
            if isinstance(output, LookEvent):
                looks += 1
            elif isinstance(output, FixationEvent) and output.kind == "end":
                fixations += 1
            if recorder is not None:
                recorder.write_output(output)
            if on_output is not None:
                on_output(output)

    try:
        for item in reader.inputs():
            if first_t is None:
                first_t = item.t
            last_t = item.t
            if not fast:
                wait = wall_start + (item.t - first_t) / speed - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            if isinstance(item, Frame):
                frames += 1
                emit(core.feed_frame(item))
            else:
                samples += 1
                emit(core.feed_sample(item))
            if bar is not None:
                bar.update(1)
        emit(core.finish())
    finally:
        if bar is not None:
            bar.close()
        if recorder is not None:
            for problem in reader.problems:
                recorder.write_event({"kind": "replay_problem", "t": last_t, "text": problem})
            recorder.close({"samples": samples, "frames": frames, "fixations": fixations, "looks": looks})
    duration = 0.0 if first_t is None else float(last_t - first_t)
    return ReplayResult(samples, frames, fixations, looks, duration, time.monotonic() - wall_start,
                        tuple(dict.fromkeys(reader.problems)), None if out_dir is None else Path(out_dir))
