"""gazefusion's LSL outlets and marker inlet, against independent pylsl inlets and outlets on loopback."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pylsl
import pytest

from gazefusion.fusion.config import LslConfig
from gazefusion.fusion.core import LookEvent
from gazefusion.fusion.errors import GazefusionError
from gazefusion.fusion.lsl import (
    STREAMS,
    LslMarker,
    MarkerInlet,
    TrialPatterns,
    measure_clock_offset,
    offset_stability,
    open_outlets,
    outlet_prefix,
)
from gazefusion.fusion.types import Fixation, FixationEvent, Frame, Look, MarkerHit
from gazefusion.trackers.lsl import StreamQuery, read_channels
from gazefusion.trackers.types import GazeSample

from ..lslkit import Player, open_outlet, stream_info, unique_name


def inlet_for(name: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_byprop("name", name, timeout=5.0)
    assert len(found) == 1, name
    inlet = pylsl.StreamInlet(found[0], max_buflen=60)
    inlet.open_stream(timeout=5.0)
    return inlet


def pull_all(inlet: pylsl.StreamInlet, n: int, timeout_s: float = 10.0) -> tuple[list[Any], list[float]]:
    rows: list[Any] = []
    stamps: list[float] = []
    deadline = time.monotonic() + timeout_s
    while len(rows) < n and time.monotonic() < deadline:
        chunk, chunk_stamps = inlet.pull_chunk(timeout=0.1)
        rows += chunk
        stamps += chunk_stamps
    return rows, stamps


def _hit() -> MarkerHit:
    return MarkerHit(
        "poster",
        np.zeros((4, 2)),
        np.eye(3),
        42,
        0.8,
        np.array([0.1, -0.2, 1.5]),
        np.array([0.01, 0.02, 0.03]),
        1.5166,
        False,
        True,
    )


def test_outlets_send_what_they_are_given_with_stamps_on_the_lsl_clock() -> None:
    prefix = unique_name("gf")
    config = LslConfig(name=prefix)
    outlets = open_outlets(config, None, 500.0, {"session": "test"})
    assert outlets.names == {
        key: f"{prefix}_{key}" for key in ("gaze", "fixations", "looks", "looks_pose", "frames", "events")
    }
    inlets = {key: inlet_for(name) for key, name in outlets.names.items()}
    for outlet in outlets._outlets.values():
        assert outlet.wait_for_consumers(5.0)
    t0 = time.monotonic()
    samples = [GazeSample(t0 + i * 0.002, 100.0 + i * 0.002, 10.0 * i, 5.0 * i, i % 3 != 0, 3.25) for i in range(50)]
    for sample in samples:
        outlets.push_gaze(sample, (sample.x / 2, sample.y / 2))
    fixation = Fixation(7, t0, t0 + 0.2, 0.202, 300.5, 200.25, 0.4, 101, 150.0, 100.0)
    outlets.push_output(FixationEvent("start", fixation, t0 + 0.1), t0 + 0.1)
    outlets.push_output(FixationEvent("update", fixation, t0 + 0.15), t0 + 0.15)  # not sent
    outlets.push_output(FixationEvent("end", fixation, t0 + 0.2), t0 + 0.2)
    look = Look(fixation, _hit(), t0 + 0.12, 12, (0, 0, 10, 10))
    outlets.push_output(LookEvent("first", look, 1, 1), t0 + 0.12)
    outlets.push_output(LookEvent("end", look._replace(hit=None), 3, 0), t0 + 0.2)
    outlets.push_frame(Frame(12, t0 + 0.11, 55.5, np.zeros((2, 2, 3), np.uint8)))
    outlets.push_event("trial_start", "1", t0 + 0.05)
    outlets.push_event("mark", "late stamp", t0 + 0.01)  # earlier than the last: clamped
    offset = outlets.start_offset.offset_s

    rows, stamps = pull_all(inlets["gaze"], len(samples))
    assert len(rows) == len(samples)
    for row, stamp, s in zip(rows, stamps, samples):
        expected = [s.x, s.y, s.x / 2, s.y / 2, float(s.valid), s.pupil, s.tracker_t]
        assert row == expected
        assert stamp == pytest.approx(s.t + offset, abs=1e-9)
    assert stamps == sorted(stamps)

    rows, stamps = pull_all(inlets["fixations"], 2)
    assert [row[0] for row in rows] == [1.0, 2.0]
    assert rows[1][1:] == pytest.approx([7, t0 + offset, 0.202, 150.0, 100.0, 300.5, 200.25, 0.4, 101])
    assert stamps == pytest.approx([t0 + 0.1 + offset, t0 + 0.2 + offset])

    rows, _ = pull_all(inlets["looks"], 2)
    assert rows == [["poster", "first", "7"], ["", "end", "7"]]
    rows, _ = pull_all(inlets["looks_pose"], 2)
    assert rows[0] == pytest.approx([7, 0.1, -0.2, 1.5, 1.5166, 0.01, 0.02, 0.03, 42, 12])
    assert rows[1][0] == 7 and all(math.isnan(v) for v in rows[1][1:9]) and rows[1][9] == 12

    rows, stamps = pull_all(inlets["frames"], 1)
    assert rows == [[12.0, t0 + 0.11, 55.5]] and stamps[0] == pytest.approx(t0 + 0.11 + offset)
    rows, stamps = pull_all(inlets["events"], 2)
    assert rows == [["trial_start", "1"], ["mark", "late stamp"]]
    assert stamps[1] == stamps[0]

    outlets.close()
    header = outlets.header()
    assert header["streams"] == outlets.names
    assert abs(header["clock_offset_drift_s"]) < 1e-3
    assert header["samples_pushed"] == {
        "gaze": 50,
        "fixations": 2,
        "looks": 2,
        "looks_pose": 2,
        "frames": 1,
        "events": 2,
    }


def test_each_stream_describes_its_channels() -> None:
    prefix = unique_name("described")
    outlets = open_outlets(LslConfig(name=prefix, streams=("gaze", "frames")), None, 250.0, {"software": "x"})
    gaze = inlet_for(f"{prefix}_gaze").info(timeout=5.0)
    assert gaze.type() == "Gaze" and gaze.nominal_srate() == 250.0 and gaze.channel_format() == pylsl.cf_double64
    channels = read_channels(gaze)
    assert [c.label for c in channels] == [c.label for c in STREAMS["gaze"][0].channels]
    assert channels[0] == ("tracker_x", "both", "screenx", "pixels")
    assert channels[2].kind == "intersectionx"
    assert gaze.desc().child("synchronization").child_value("can_drop_samples") == "false"
    assert gaze.desc().child("gazefusion").child_value("software") == "x"
    frames = inlet_for(f"{prefix}_frames").info(timeout=5.0)
    assert frames.nominal_srate() == 0.0
    assert frames.desc().child("synchronization").child_value("can_drop_samples") == "true"
    outlets.close()


@pytest.mark.parametrize(
    ("name", "session", "expected"),
    [(None, "p01", "gazefusion_p01"), (None, None, "gazefusion"), ("lab3", "p01", "lab3")],
    ids=["session", "no-session", "configured"],
)
def test_stream_names_follow_the_session(name: str | None, session: str | None, expected: str) -> None:
    assert outlet_prefix(LslConfig(name=name), session) == expected


def test_the_clock_offset_is_stable_over_a_second() -> None:
    offsets = []
    for _ in range(10):
        offsets.append(measure_clock_offset())
        time.sleep(0.1)
    stability = offset_stability(offsets)
    assert all(o.uncertainty_s < 1e-3 for o in offsets)
    assert stability["range_s"] < 2e-4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trial_start 3", ("trial_start", "3")),
        ("TRIAL START: fruit", ("trial_start", "fruit")),
        ("trial-end", ("trial_end", "trial-end")),
        ("trialend 3", ("trial_end", "3")),
        ("trial_ending soon", None),
        ("stimulus on", None),
    ],
    ids=["start-name", "start-colon", "end-no-name", "no-separator", "no-word-boundary", "other"],
)
def test_default_trial_patterns(text: str, expected: tuple[str, str] | None) -> None:
    config = LslConfig()
    assert TrialPatterns(config.trial_start, config.trial_end).match(text) == expected


@pytest.mark.parametrize(
    ("channel_format", "rows", "texts"),
    [
        ("string", [["trial_start 1"], ["stimulus on"], ["trial_end 1"]], ["trial_start 1", "stimulus on", "trial_end 1"]),
        ("int32", [[11], [12]], ["11", "12"]),
        ("string", [["a", "b"]], ["a\tb"]),
    ],
    ids=["strings", "numbers", "two-channels"],
)
def test_the_marker_inlet_receives_every_marker_with_its_host_time(
    channel_format: str, rows: list[list[Any]], texts: list[str]
) -> None:
    name = unique_name("markers")
    outlet = open_outlet(stream_info(name, len(rows[0]), 0.0, channel_format, kind="Markers"))
    got: list[LslMarker] = []
    inlet = MarkerInlet(StreamQuery("name", name), got.append, resolve_timeout_s=5.0).start()
    assert outlet.wait_for_consumers(5.0)
    now = pylsl.local_clock()
    stamps = [now + 0.01 * i for i in range(len(rows))]
    Player(outlet, rows, stamps, realtime=False).start().join()
    deadline = time.monotonic() + 10
    while len(got) < len(rows) and time.monotonic() < deadline:
        time.sleep(0.02)
    inlet.stop()
    offset = measure_clock_offset().offset_s
    assert [m.text for m in got] == texts
    assert all(m.stream == name for m in got)
    for marker, stamp in zip(got, stamps):
        assert marker.lsl_t == pytest.approx(stamp + inlet.inlet.correction_s, abs=1e-9)
        assert marker.t == pytest.approx(stamp - offset, abs=1e-3)


def test_a_missing_marker_stream_is_one_clear_error() -> None:
    missing = unique_name("no-markers")
    inlet = MarkerInlet(StreamQuery("name", missing), lambda marker: None, resolve_timeout_s=0.3)
    with pytest.raises(GazefusionError) as caught:
        inlet.start()
    assert f"no LSL marker stream with name {missing!r} found within 0.3 s" in str(caught.value)
