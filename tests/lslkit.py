"""Helpers of the LSL tests: stream names unique per test, producers' gaze outlets, playing samples,
independent inlets and what they received set beside the recorded session.

liblsl stays on loopback with a session id of this test run (tests/conftest.py).
"""

from __future__ import annotations

import math
import multiprocessing
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pylsl
import pytest
import yaml

from gazefusion.fusion.session import SessionReader

#: The kinds of gazefusion's outlets (``PREFIX_KIND``).
OUTLET_KEYS = ("gaze", "fixations", "looks", "looks_pose", "frames", "events")


def unique_name(prefix: str) -> str:
    """A stream name no other test (and no other test run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class ChannelSpec(tuple):
    """(label, unit, type, eye) of one described channel; "" leaves a field out."""

    def __new__(cls, label: str, unit: str = "", kind: str = "", eye: str = "") -> ChannelSpec:
        return super().__new__(cls, (label, unit, kind, eye))


TOBII_PRO = [
    ChannelSpec("left_x", "screencoords", "ScreenX", "left"),
    ChannelSpec("left_y", "screencoords", "ScreenY", "left"),
    ChannelSpec("left_pupil", "", "pupilsize", "left"),
    ChannelSpec("right_x", "screencoords", "ScreenX", "right"),
    ChannelSpec("right_y", "screencoords", "ScreenY", "right"),
    ChannelSpec("right_pupil", "", "pupilsize", "right"),
]
"""The Tobii Pro LSL app's six channels (labstreaminglayer/App-TobiiPro, mainwindow.cpp)."""

PUPIL_CAPTURE = [
    ChannelSpec("confidence", "normalized", "Confidence", "both"),
    ChannelSpec("norm_pos_x", "normalized", "ScreenX", "both"),
    ChannelSpec("norm_pos_y", "normalized", "ScreenY", "both"),
    *(ChannelSpec(f"gaze_point_3d_{a}", "mm", f"Direction{a.upper()}", "both") for a in "xyz"),
    *(
        ChannelSpec(f"eye_center{e}_3d_{a}", "mm", f"Position{a.upper()}", ("right", "left")[e])
        for e in (0, 1)
        for a in "xyz"
    ),
    *(
        ChannelSpec(f"gaze_normal{e}_{a}", "mm", f"Position{a.upper()}", ("right", "left")[e])
        for e in (0, 1)
        for a in "xyz"
    ),
    ChannelSpec("diameter0_2d", "pixels", "Diameter", "right"),
    ChannelSpec("diameter1_2d", "pixels", "Diameter", "left"),
    ChannelSpec("diameter0_3d", "mm", "Diameter", "right"),
    ChannelSpec("diameter1_3d", "mm", "Diameter", "left"),
]
"""Pupil Capture's LSL relay gaze stream (labstreaminglayer/App-PupilLabs, gaze_scene_camera.py)."""


def stream_info(
    name: str,
    channels: Sequence[ChannelSpec] | int,
    rate_hz: float = 500.0,
    channel_format: str = "double64",
    kind: str = "Gaze",
    source_id: str = "",
) -> pylsl.StreamInfo:
    """A stream description with a ``<channels>`` block (a bare count: no description)."""
    count = channels if isinstance(channels, int) else len(channels)
    info = pylsl.StreamInfo(name, kind, count, rate_hz, channel_format, source_id or name)
    if not isinstance(channels, int):
        node = info.desc().append_child("channels")
        for label, unit, channel_kind, eye in channels:
            channel = node.append_child("channel")
            for key, value in (("label", label), ("eye", eye), ("type", channel_kind), ("unit", unit)):
                if value:
                    channel.append_child_value(key, value)
    return info


def open_outlet(info: pylsl.StreamInfo) -> pylsl.StreamOutlet:
    """An outlet for `info` (visible to resolvers at once)."""
    return pylsl.StreamOutlet(info)


def wait_for_consumer(outlet: pylsl.StreamOutlet, timeout_s: float = 10.0) -> None:
    """Block until an inlet is connected to `outlet`."""
    if not outlet.wait_for_consumers(timeout_s):
        raise TimeoutError("no inlet connected to the test outlet")


class Player:
    """Push rows into an outlet from a thread, at their stamps' pace (or all at once).

    Parameters
    ----------
    outlet : pylsl.StreamOutlet
        Where to push.
    rows : sequence of sequence of float
        One row of channel values per sample.
    stamps : sequence of float
        Their LSL time stamps, s (``local_clock`` domain).
    realtime : bool
        Push each row when ``local_clock`` reaches its stamp; else as fast as possible.
        (default: True)
    """

    def __init__(
        self, outlet: pylsl.StreamOutlet, rows: Sequence[Sequence[Any]], stamps: Sequence[float], realtime: bool = True
    ) -> None:
        self.outlet, self.rows, self.stamps, self.realtime = outlet, rows, stamps, realtime
        self.pushed = 0
        self._thread = threading.Thread(target=self._run, name="lsl-test-player", daemon=True)

    def start(self) -> Player:
        self._thread.start()
        return self

    def _run(self) -> None:
        for row, stamp in zip(self.rows, self.stamps):
            if self.realtime:
                delay = stamp - pylsl.local_clock()
                if delay > 0:
                    time.sleep(delay)
            self.outlet.push_sample(list(row), stamp)
            self.pushed += 1

    def join(self, timeout_s: float = 60.0) -> None:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError("the player did not finish")


def _resolve(name: str, timeout_s: float) -> list[pylsl.StreamInfo]:
    """The stream named `name`: searched for by name, and between searches in a listing of all
    streams (in whole-suite runs on a loaded machine a search by name has missed a stream for
    minutes that a listing showed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = pylsl.resolve_byprop("name", name, timeout=min(2.0, timeout_s))
        found = found or [info for info in pylsl.resolve_streams(wait_time=1.0) if info.name() == name]
        if found:
            return found
    raise TimeoutError(f"LSL stream {name!r} not found")


class Collector:
    """An independent pylsl inlet on one stream, pulling everything into lists from a thread.

    Parameters
    ----------
    name : str
        The stream's name (resolved now, up to `timeout_s`).
    timeout_s : float
        How long to look for it. (default: 10.0)
    """

    def __init__(self, name: str, timeout_s: float = 10.0) -> None:
        found = _resolve(name, timeout_s)
        self.inlet = pylsl.StreamInlet(found[0], max_buflen=360)
        self.inlet.open_stream(timeout=timeout_s)
        self.info = self.inlet.info(timeout=timeout_s)
        self.rows: list[Any] = []
        self.stamps: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lsl-test-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rows, stamps = self.inlet.pull_chunk(timeout=0.05)
            except Exception:  # the outlet went away: what came is kept
                return
            self.rows += rows
            self.stamps += stamps

    def stop(self, quiet_s: float = 1.0) -> Collector:
        """Stop once nothing more has come for `quiet_s`."""
        count = -1
        while count != len(self.rows):
            count = len(self.rows)
            time.sleep(quiet_s)
        self._stop.set()
        self._thread.join(5.0)
        self.inlet.close_stream()  # an inlet left open keeps looking for its lost stream
        del self.inlet
        return self


def _play_in_child(
    name: str,
    channels: list[tuple[str, str, str, str]],
    rate_hz: float,
    rows: list[list[float]],
    offsets_s: list[float],
    conn: Any,
) -> None:
    """The child of :class:`PlayerProcess`: an outlet that plays `rows` at start + `offsets_s` once consumed."""
    outlet = open_outlet(stream_info(name, [ChannelSpec(*c) for c in channels], rate_hz))
    if not outlet.wait_for_consumers(60.0):
        conn.send(("error", "no consumer"))
        return
    conn.send(("ready", None))
    conn.recv()  # go
    start = pylsl.local_clock() + 0.1
    for row, offset in zip(rows, offsets_s):
        delay = start + offset - pylsl.local_clock()
        if delay > 0:
            time.sleep(delay)
        outlet.push_sample(row, start + offset)
    conn.send(("done", start))
    conn.recv()  # keep the outlet until the consumer has everything


class PlayerProcess:
    """A gaze producer in its own process (as a tracker's software is): plays rows at their times.

    Parameters
    ----------
    name : str
        The stream's name.
    channels : sequence of ChannelSpec
        Its described channels.
    rate_hz : float
        Its nominal rate.
    rows : sequence of sequence of float
        One row per sample.
    offsets_s : sequence of float
        Each row's time after the start, s; its stamp is the start (``local_clock`` + 0.1 s
        when :meth:`go` is called) plus it.
    """

    def __init__(
        self,
        name: str,
        channels: Sequence[ChannelSpec],
        rate_hz: float,
        rows: Sequence[Sequence[float]],
        offsets_s: Sequence[float],
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(
            target=_play_in_child,
            args=(
                name,
                [tuple(c) for c in channels],
                rate_hz,
                [list(map(float, r)) for r in rows],
                list(offsets_s),
                child,
            ),
            daemon=True,
        )
        self.process.start()
        self.offsets_s = list(offsets_s)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until a consumer is connected to the child's outlet."""
        if not self._conn.poll(timeout_s):
            raise TimeoutError("the player process did not get a consumer")
        kind, detail = self._conn.recv()
        if kind != "ready":
            raise RuntimeError(f"the player process failed: {detail}")

    def go(self) -> None:
        """Start playing."""
        self._conn.send("go")

    def finish(self, timeout_s: float = 120.0) -> list[float]:
        """Wait until every row is pushed; the stamps they were pushed with."""
        if not self._conn.poll(timeout_s):
            raise TimeoutError("the player process did not finish")
        kind, start = self._conn.recv()
        if kind != "done":
            raise RuntimeError(f"the player process failed: {start}")
        return [start + offset for offset in self.offsets_s]

    def stop(self) -> None:
        """Let the child close its outlet and end."""
        try:
            self._conn.send("stop")
        except OSError:
            pass
        self.process.join(10.0)
        if self.process.is_alive():
            self.process.kill()


def same_value(a: float, b: float) -> bool:
    """Equal, or both nan."""
    return a == b or (a != a and b != b)


def check_received(got: dict[str, Collector], folder: Path) -> dict[str, Any]:
    """Assert that what independent inlets received on a run's outlets is its recording in `folder`.

    Gaze rows are gaze.tsv sample for sample, stamped at ``t`` + the clock offset, in order;
    fixation ends are fixations.tsv, starts the ``fixation_start`` events; looks are
    looks.tsv and the ``on_marker`` rows fixations_on_markers.tsv (with u, v); frames are
    frames.tsv. Returns session.yaml's ``lsl`` block.
    """
    header: dict[str, Any] = yaml.safe_load((folder / "session.yaml").read_text())["lsl"]
    offset = header["clock_offset_start_s"]
    assert abs(header["clock_offset_drift_s"]) < 1e-3
    assert header["outlets"] == {key: collector.info.name() for key, collector in got.items()}
    reader = SessionReader(folder)

    samples = list(reader.samples())
    gaze = got["gaze"]
    assert len(samples) == len(gaze.rows) == header["samples_pushed"]["gaze"] > 500
    for row, stamp, sample in zip(gaze.rows, gaze.stamps, samples):
        expected = [sample.x, sample.y, float(sample.valid), sample.pupil, sample.tracker_t]
        assert all(same_value(a, b) for a, b in zip([row[0], row[1], row[4], row[5], row[6]], expected)), (row, sample)
        assert stamp == pytest.approx(sample.t + offset, abs=1e-9)
    assert gaze.stamps == sorted(gaze.stamps)

    ends = [row for row in got["fixations"].rows if row[0] == 2.0]
    fixations = reader.table("fixations.tsv")
    assert len(fixations) == len(ends) >= 3
    for row, recorded in zip(ends, fixations):
        values = [float(recorded[c]) for c in ("id", "onset", "duration", "cam_x", "cam_y", "x", "y")]
        values[1] += offset
        values += [float(recorded["dispersion_deg"]), float(recorded["n_samples"])]
        assert row[1:] == pytest.approx(values, rel=1e-12, abs=1e-9)
    starts = sum(1 for e in reader.events() if e["kind"] == "fixation_start")
    assert sum(1 for row in got["fixations"].rows if row[0] == 1.0) == starts
    assert got["fixations"].stamps == sorted(got["fixations"].stamps)

    assert len(got["looks"].rows) == len(got["looks_pose"].rows)
    assert got["looks"].stamps == got["looks_pose"].stamps == sorted(got["looks"].stamps)
    pairs = list(zip(got["looks"].rows, got["looks_pose"].rows))
    looks = reader.table("looks.tsv")
    look_pairs = [(text, pose) for text, pose in pairs if text[1] != "on_marker"]
    assert [text for text, _ in look_pairs] == [[row["marker"], row["kind"], row["fixation_id"]] for row in looks]
    for (_, pose), row in zip(look_pairs, looks):
        if row["marker"]:
            expected = [float(row[c]) for c in ("fixation_id", "x_m", "y_m", "z_m", "distance_m", "rx", "ry", "rz")]
            assert pose[:8] == pytest.approx(expected, rel=1e-12)
            assert pose[8] == float(row["inliers"])
        assert pose[9] == float(row["frame_index"]) and all(math.isnan(v) for v in pose[10:])
    assert len({row["marker"] for row in looks} - {""}) >= 2
    on_markers = reader.table("fixations_on_markers.tsv")
    mapped = [(text, pose) for text, pose in pairs if text[1] == "on_marker"]
    assert len(mapped) == len(on_markers) >= 2
    for (text, pose), row in zip(mapped, on_markers):
        assert text == [row["marker"], "on_marker", row["fixation_id"]]
        assert pose[0] == float(row["fixation_id"]) and all(math.isnan(v) for v in pose[1:10])
        assert pose[10:] == pytest.approx([float(row["u"]), float(row["v"])], rel=1e-12)

    frames = list(reader.frame_records())
    assert [row[0] for row in got["frames"].rows] == [float(f.index) for f in frames]
    assert [row[1] for row in got["frames"].rows] == [f.t for f in frames]
    assert got["frames"].stamps == pytest.approx([f.t + offset for f in frames], abs=1e-9)
    return header


def run_cli_received(args: Sequence[str], prefix: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Collector]]:
    """Run ``gazefusion ARGS --lsl --lsl-name PREFIX --lsl-wait 120`` in its own process while an
    independent inlet takes each of its streams; the finished process and the collectors, stopped.

    The inlets connect at the same time (the run waits for all of them: on a starved machine
    one after another could outlast the wait)."""
    command = [sys.executable, "-c", "import sys; from gazefusion.fusion.cli import main; sys.exit(main())"]
    process = subprocess.Popen(
        [*command, *args, "--lsl", "--lsl-name", prefix, "--lsl-wait", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with ThreadPoolExecutor(len(OUTLET_KEYS)) as pool:
            futures = {key: pool.submit(Collector, f"{prefix}_{key}", 120.0) for key in OUTLET_KEYS}
            collectors = {key: future.result() for key, future in futures.items()}
        out, err = process.communicate(timeout=240)
    except BaseException:
        process.kill()
        out, err = process.communicate()
        print(f"gazefusion {' '.join(args)}:\n{out}\n{err}", file=sys.stderr)  # shown by pytest on failure
        raise
    assert process.returncode == 0, err
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return done, {key: collector.stop() for key, collector in collectors.items()}
