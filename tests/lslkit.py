"""Helpers of the LSL tests: stream names unique per test, producers' gaze outlets, playing samples.

liblsl stays on loopback with a session id of this test run (tests/conftest.py).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pylsl


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
        found = pylsl.resolve_byprop("name", name, timeout=timeout_s)
        if not found:
            raise TimeoutError(f"LSL stream {name!r} not found")
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
