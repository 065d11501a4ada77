"""gazefusion's LSL outlets and marker inlet, against independent pylsl inlets and outlets on loopback."""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any

import numpy as np
import pylsl
import pytest
import yaml

from gazefusion.fusion.analysis.join import FixationOnMarker, MarkerPoint
from gazefusion.fusion.config import LslConfig
from gazefusion.fusion.core import LookEvent
from gazefusion.fusion.errors import GazefusionError
from gazefusion.fusion.lsl import (
    STREAMS,
    LslLink,
    LslOutlets,
    MarkerInlet,
    TrialPatterns,
    measure_clock_offset,
    offset_stability,
    outlet_prefix,
)
from gazefusion.fusion.runner import Runner
from gazefusion.fusion.session import SessionReader
from gazefusion.fusion.tables import TableWriter
from gazefusion.fusion.types import Fixation, FixationEvent, Frame, Look, LslMarker, MarkerHit
from gazefusion.trackers.gazetable import GAZE_COLUMNS, read_gaze_table, sample_to_row
from gazefusion.trackers.lsl import StreamQuery, read_channels
from gazefusion.trackers.types import GazeSample

from ..lslkit import (
    OUTLET_KEYS,
    ChannelSpec,
    Collector,
    Player,
    PlayerProcess,
    check_received,
    open_outlet,
    same_value,
    stream_info,
    unique_name,
)
from .sessionkit import make_config, marker_gaze_tracker, run_for, scene_files, scene_server


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


def link(config: LslConfig, rate_hz: float = 500.0) -> LslLink:
    return LslLink(
        config, None, rate_hz, {"software": "x"}, lambda marker, trial: None, lambda kind, text: None, lambda p: p / 2
    )


def test_outlets_send_what_they_are_given_with_stamps_on_the_lsl_clock() -> None:
    prefix = unique_name("gf")
    lsl = link(LslConfig(outlets=True, name=prefix))
    outlets = lsl.outlets
    assert isinstance(outlets, LslOutlets)
    assert outlets.names == {
        key: f"{prefix}_{key}" for key in ("gaze", "fixations", "looks", "looks_pose", "frames", "events")
    }
    inlets = {key: inlet_for(name) for key, name in outlets.names.items()}
    for outlet in outlets._outlets.values():
        assert outlet.wait_for_consumers(5.0)
    t0 = time.monotonic()
    samples = [GazeSample(t0 + i * 0.002, 100.0 + i * 0.002, 10.0 * i, 5.0 * i, i % 3 != 0, 3.25) for i in range(50)]
    for sample in samples:
        outlets.push_gaze(sample)
    fixation = Fixation(7, t0, t0 + 0.2, 0.202, 300.5, 200.25, 0.4, 101, 150.0, 100.0)
    outlets.push_output(FixationEvent("start", fixation, t0 + 0.1), t0 + 0.1)
    outlets.push_output(FixationEvent("update", fixation, t0 + 0.15), t0 + 0.15)  # not sent
    outlets.push_output(FixationEvent("end", fixation, t0 + 0.2), t0 + 0.2)
    look = Look(fixation, _hit(), t0 + 0.12, 12, (0, 0, 10, 10))
    outlets.push_output(LookEvent("first", look, 1, 1), t0 + 0.12)
    outlets.push_output(LookEvent("end", look._replace(hit=None), 3, 0), t0 + 0.2)
    point = MarkerPoint("poster", 0.25, 0.75, 100.0, 300.0, True, (0.1, -0.2, 1.5), 42.0)
    outlets.push_output(FixationOnMarker(fixation, 80, point), t0 + 1.2)
    outlets.push_frame(Frame(12, t0 + 0.11, 55.5, np.zeros((2, 2, 3), np.uint8)))
    outlets.push_event("trial_start", "1", t0 + 0.05)
    outlets.push_event("mark", "late stamp", t0 + 0.01)  # earlier than the last: clamped
    outlets.flush()
    offset = outlets.offset.offset_s

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

    rows, _ = pull_all(inlets["looks"], 3)
    assert rows == [["poster", "first", "7"], ["", "end", "7"], ["poster", "on_marker", "7"]]
    rows, stamps = pull_all(inlets["looks_pose"], 3)
    assert rows[0][:10] == pytest.approx([7, 0.1, -0.2, 1.5, 1.5166, 0.01, 0.02, 0.03, 42, 12])
    assert rows[1][0] == 7 and all(math.isnan(v) for v in rows[1][1:9]) and rows[1][9] == 12
    assert all(math.isnan(v) for v in rows[0][10:] + rows[1][10:])  # a look's u, v: its fixation's row has them
    assert rows[2][0] == 7 and all(math.isnan(v) for v in rows[2][1:10]) and rows[2][10:] == [0.25, 0.75]
    assert stamps[2] == pytest.approx(t0 + 1.2 + offset)

    rows, stamps = pull_all(inlets["frames"], 1)
    assert rows == [[12.0, t0 + 0.11, 55.5]] and stamps[0] == pytest.approx(t0 + 0.11 + offset)
    rows, stamps = pull_all(inlets["events"], 2)
    assert rows == [["trial_start", "1"], ["mark", "late stamp"]]
    assert stamps[1] == stamps[0]

    lsl.close()
    header = lsl.header()
    assert header["outlets"] == outlets.names and header["clock_offset_start_s"] == offset
    assert abs(header["clock_offset_drift_s"]) < 1e-3
    assert header["samples_pushed"] == {
        "gaze": 50,
        "fixations": 2,
        "looks": 3,
        "looks_pose": 3,
        "frames": 1,
        "events": 2,
    }


def test_each_stream_describes_its_channels() -> None:
    prefix = unique_name("described")
    lsl = link(LslConfig(outlets=True, name=prefix, streams=("gaze", "frames")), 250.0)
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
    assert lsl.outlets is not None and set(lsl.outlets.names) == {"gaze", "frames"}
    lsl.close()


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
        (
            "string",
            [["trial_start 1"], ["stimulus on"], ["trial_end 1"]],
            ["trial_start 1", "stimulus on", "trial_end 1"],
        ),
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


# ------------------------------------------------------------------ runs with LSL on


def _start_when_consumed(runner: Runner, names: list[str]) -> dict[str, Collector]:
    """Start `runner` (it waits for consumers) and connect an independent inlet to each stream."""
    starter = threading.Thread(target=runner.start, daemon=True)
    starter.start()
    collectors = {name: Collector(name) for name in names}
    starter.join(30.0)
    assert not starter.is_alive()
    return collectors


@pytest.mark.slow
def test_an_independent_inlet_receives_exactly_what_the_run_recorded(tmp_path) -> None:
    files = scene_files(tmp_path)
    prefix = unique_name("run")
    folder = tmp_path / "s"
    with scene_server() as server:
        config = make_config(
            camera__source=server.url,
            record__dir=str(folder),
            aoi__size_deg=4.5,
            lsl__outlets=True,
            lsl__name=prefix,
            lsl__wait_for_consumers_s=20.0,
            **files,
        )
        runner = Runner(config, tracker=marker_gaze_tracker(config))
        collectors = _start_when_consumed(runner, [f"{prefix}_{key}" for key in OUTLET_KEYS])
        try:
            time.sleep(4.0)
            runner.mark("a mark")
        finally:
            runner.stop()
        runner.raise_error()
    got = {key: collectors[f"{prefix}_{key}"].stop() for key in OUTLET_KEYS}
    header = check_received(got, folder)
    assert len(got["gaze"].rows) == runner.core.stats.samples
    assert sum(1 for row in got["gaze"].rows if math.isfinite(row[2])) > 0.9 * len(got["gaze"].rows)
    assert sum(1 for row in got["fixations"].rows if row[0] == 2.0) == runner.outputs.fixations >= 5
    assert len({row[0] for row in got["looks"].rows} - {""}) >= 3
    assert header["samples_pushed"] == {key: len(collector.rows) for key, collector in got.items()}
    assert ["mark", "a mark"] in got["events"].rows


def _lund_screen(sidecar: dict[str, Any]) -> dict[str, Any]:
    return {
        "screen__size_px": sidecar["screen_px"],
        "screen__size_mm": sidecar["screen_mm"],
        "screen__distance_mm": sidecar["viewing_distance_mm"],
    }


@pytest.mark.slow
def test_a_gaze_table_played_as_an_lsl_stream_is_recorded_as_the_table_and_gives_replays_fixations(
    tmp_path, lund_dir
) -> None:
    table = lund_dir / "TH34_img_Europe.tsv"
    screen = _lund_screen(json.loads(table.with_suffix(".json").read_text()))
    rows = list(read_gaze_table(table))[:3000]  # 6 s of a participant's gaze at 500 Hz
    period = rows[1].t - rows[0].t
    cut = tmp_path / "gaze.tsv"
    with TableWriter(cut, GAZE_COLUMNS) as writer:
        for sample in rows:
            writer.write(sample_to_row(sample))

    replayed = tmp_path / "replay"
    run_for(make_config(tracker__spec=f"replay:{cut}?fast", record__dir=str(replayed), **screen), 60.0)

    name = unique_name("lund")
    channels = [ChannelSpec("x", "pixels", "ScreenX"), ChannelSpec("y", "pixels", "ScreenY")]
    player = PlayerProcess(name, channels, 500.0, [[s.x, s.y] for s in rows], [s.t - rows[0].t for s in rows])
    streamed = tmp_path / "lsl"
    # The producer is a spawned process: on a starved machine its outlet may take a while to appear.
    config = make_config(
        tracker__spec=f"lsl:{name}", tracker__lsl__resolve_timeout_s=60.0, record__dir=str(streamed), **screen
    )
    runner = Runner(config).start()
    try:
        player.wait_ready()
        player.go()
        stamps = player.finish()
        deadline = time.monotonic() + 10
        while runner.core.stats.samples < len(rows) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
        player.stop()
    runner.raise_error()
    correction = runner.tracker.correction_s

    recorded = list(SessionReader(streamed).samples())
    assert len(recorded) == len(rows)
    for got, sent, stamp in zip(recorded, rows, stamps):
        assert same_value(got.x, sent.x) and same_value(got.y, sent.y) and got.valid == sent.valid
        # The applied correction follows LSL's estimates at most 100 µs per s (6 s here).
        assert got.tracker_t == pytest.approx(stamp + correction, abs=1e-3)
    live = SessionReader(streamed).table("fixations.tsv")
    replay = SessionReader(replayed).table("fixations.tsv")
    # The same fixations, up to one sample where a velocity sits on the threshold: the LSL
    # run's times are the table's plus the LSL clock (thousands of s), and the detector's
    # floating-point arithmetic at that magnitude can tip such a sample (the table shifted by
    # 1000 s through the detector alone does the same).
    assert len(live) == len(replay) >= 10
    assert [a["id"] for a in live] == [b["id"] for b in replay]
    exact = 0
    for a, b in zip(live, replay):
        assert abs(int(a["n_samples"]) - int(b["n_samples"])) <= 1
        assert float(a["duration"]) == pytest.approx(float(b["duration"]), abs=period + 1e-4)
        assert float(a["x"]) == pytest.approx(float(b["x"]), abs=1.0)
        assert float(a["y"]) == pytest.approx(float(b["y"]), abs=1.0)
        exact += a["n_samples"] == b["n_samples"] and float(a["x"]) == float(b["x"])
    assert exact >= len(live) - 2


@pytest.mark.slow
def test_markers_from_another_program_land_in_events_and_split_trials(tmp_path) -> None:
    name = unique_name("psychopy")
    outlet = open_outlet(stream_info(name, 1, 0.0, "string", kind="Markers"))
    folder = tmp_path / "s"
    config = make_config(
        camera__source="none", tracker__spec="mock:3?rate=250", record__dir=str(folder), lsl__markers=name
    )
    runner = Runner(config).start()
    sent = []
    try:
        assert outlet.wait_for_consumers(10.0)
        for text in ("trial_start 1", "stimulus on", "trial_end 1", "trial_start 2", "trial_end 2"):
            time.sleep(0.4)
            sent.append((text, pylsl.local_clock()))
            outlet.push_sample([text])
        time.sleep(0.5)
    finally:
        runner.stop()
    runner.raise_error()
    reader = SessionReader(folder)
    records = list(reader.events())
    markers = [r for r in records if r["kind"] == "lsl_marker"]
    assert [m["text"] for m in markers] == [text for text, _ in sent]
    offset = yaml.safe_load((folder / "session.yaml").read_text())["lsl"]["clock_offset_start_s"]
    for marker, (_, stamp) in zip(markers, sent):
        assert marker["stream"] == name
        assert marker["t"] == pytest.approx(stamp - offset, abs=2e-3)
    trials = [(r["kind"], r["text"], r["t"]) for r in records if r["kind"] in ("trial_start", "trial_end")]
    assert [(kind, text) for kind, text, _ in trials] == [
        ("trial_start", "1"),
        ("trial_end", "1"),
        ("trial_start", "2"),
        ("trial_end", "2"),
    ]
    assert [t for _, _, t in trials] == [markers[i]["t"] for i in (0, 2, 3, 4)]
    samples = [s.t for s in reader.samples()]
    for (_, _, begin), (_, _, end) in (trials[0:2], trials[2:4]):
        inside = [t for t in samples if begin <= t < end]
        assert 0.7 * 250 * (end - begin) < len(inside) <= 1.1 * 250 * (end - begin) + 1
    assert yaml.safe_load((folder / "session.yaml").read_text())["lsl"]["markers"] == {"stream": name, "received": 5}
