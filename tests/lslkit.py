"""Helpers of the LSL tests: stream names unique per test, producers' gaze outlets, playing samples.

liblsl stays on loopback with a session id of this test run (tests/conftest.py).
"""

from __future__ import annotations

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
    *(ChannelSpec(f"eye_center{e}_3d_{a}", "mm", f"Position{a.upper()}", ("right", "left")[e]) for e in (0, 1) for a in "xyz"),
    *(ChannelSpec(f"gaze_normal{e}_{a}", "mm", f"Position{a.upper()}", ("right", "left")[e]) for e in (0, 1) for a in "xyz"),
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
