"""The lsl: tracker over real LSL on loopback: producers' layouts, clock correction, faults, bad input."""

from __future__ import annotations

import math
import time
from typing import Any

import pylsl
import pytest

from gazefusion.fusion.config import LslInletConfig, ScreenConfig, TrackerConfig
from gazefusion.fusion.errors import TrackerError
from gazefusion.trackers import open_tracker
from gazefusion.trackers.lsl import LslTracker, StreamQuery
from gazefusion.trackers.types import GazeSample

from ..lslkit import PUPIL_CAPTURE, TOBII_PRO, ChannelSpec, Player, open_outlet, stream_info, unique_name

SCREEN = (1920, 1080)
FAST = TrackerConfig(watchdog_s=0.3, lsl=LslInletConfig(resolve_timeout_s=3.0))


def tracker(name: str, config: TrackerConfig = FAST, prop: str = "name") -> LslTracker:
    return LslTracker(StreamQuery(prop, name), SCREEN, config)


def take(source: LslTracker, n: int, timeout_s: float = 10.0) -> list[GazeSample]:
    """The next `n` samples (fewer if they do not come in time)."""
    got: list[GazeSample] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        sample = source.get_sample(0.1)
        if sample is not None:
            got.append(sample)
    return got


def events(source: LslTracker) -> list[Any]:
    found = []
    while (event := source.next_event(0)) is not None:
        found.append(event)
    return found


def push_rows(outlet: pylsl.StreamOutlet, rows: list[list[float]], rate_hz: float = 500.0) -> list[float]:
    """Push rows with stamps one period apart, ending now; returns the stamps."""
    now = pylsl.local_clock()
    stamps = [now - (len(rows) - 1 - i) / rate_hz for i in range(len(rows))]
    Player(outlet, rows, stamps, realtime=False).start().join()
    return stamps


NAN = math.nan

# (producer found, channels, rows pushed, expected (x, y, valid, pupil, eye, left (x, y, valid) or None, right …))
LAYOUTS = {
    "tobii-pro": (
        "tobii-pro",
        TOBII_PRO,
        [[0.25, 0.5, 3.0, 0.35, 0.5, 3.4], [NAN, NAN, NAN, 0.75, 0.25, 3.2], [NAN] * 6],
        [
            (576.0, 540.0, True, 3.2, "b", (480.0, 540.0, True), (672.0, 540.0, True)),
            (1440.0, 270.0, True, 3.2, "b", (NAN, NAN, False), (1440.0, 270.0, True)),
            (NAN, NAN, False, NAN, "b", (NAN, NAN, False), (NAN, NAN, False)),
        ],
    ),
    "pupil-capture": (
        "pupil-capture",
        PUPIL_CAPTURE,
        [
            [0.9, 0.25, 0.75] + [0.0] * 15 + [30.0, 31.0, 3.0, 4.0],
            [0.3, 0.5, 0.5] + [0.0] * 15 + [30.0, 31.0, NAN, 4.0],
        ],
        [(480.0, 270.0, True, 3.5, "b", None, None), (NAN, NAN, False, 4.0, "b", None, None)],
    ),
    "xdf-binocular-px": (
        "xdf",
        [
            ChannelSpec("lx", "pixels", "ScreenX", "left"),
            ChannelSpec("ly", "pixels", "ScreenY", "left"),
            ChannelSpec("rx", "pixels", "ScreenX", "right"),
            ChannelSpec("ry", "pixels", "ScreenY", "right"),
            ChannelSpec("rd", "mm", "Diameter", "right"),
        ],
        [[100.0, 200.0, 110.0, 210.0, 4.0]],
        [(105.0, 205.0, True, 4.0, "b", (100.0, 200.0, True), (110.0, 210.0, True))],
    ),
    "pupil-companion": (
        "xdf",
        [ChannelSpec("x", "pixels", "ScreenX", "both"), ChannelSpec("y", "pixels", "ScreenY", "both")],
        [[800.5, 600.25], [NAN, NAN]],
        [(800.5, 600.25, True, NAN, "b", None, None), (NAN, NAN, False, NAN, "b", None, None)],
    ),
    "gazefusion": (
        "gazefusion",
        [
            ChannelSpec("tracker_x", "pixels", "ScreenX", "both"),
            ChannelSpec("tracker_y", "pixels", "ScreenY", "both"),
            ChannelSpec("camera_x", "pixels", "IntersectionX", "both"),
            ChannelSpec("camera_y", "pixels", "IntersectionY", "both"),
            ChannelSpec("valid", "", "Validity", "both"),
            ChannelSpec("pupil", "", "Diameter", "both"),
        ],
        [[10.0, 20.0, 5.0, 6.0, 1.0, 3.0], [10.0, 20.0, 5.0, 6.0, 0.0, 3.0]],
        [(10.0, 20.0, True, 3.0, "b", None, None), (NAN, NAN, False, 3.0, "b", None, None)],
    ),
}


def _same(a: float, b: float) -> bool:
    return (a != a and b != b) or a == pytest.approx(b)


def _check(sample: GazeSample, expected: tuple[Any, ...]) -> None:
    x, y, valid, pupil, eye, left, right = expected
    assert _same(sample.x, x) and _same(sample.y, y), sample
    assert sample.valid is valid and _same(sample.pupil, pupil) and sample.eye == eye, sample
    for got, want in ((sample.left, left), (sample.right, right)):
        if want is None:
            assert got is None
        else:
            assert got is not None and _same(got.x, want[0]) and _same(got.y, want[1]) and got.valid is want[2]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (StreamQuery("name", "tobii"), True),
        (StreamQuery("name", "Tobii"), False),
        (StreamQuery("type", "Gaze"), True),
        (StreamQuery("type", "Markers"), False),
        (StreamQuery("source_id", "tobii-123"), True),
        (StreamQuery("source_id", "tobii"), False),
    ],
    ids=["name", "name-case", "type", "other-type", "source-id", "source-id-prefix"],
)
def test_a_query_matches_a_stream_by_its_property(query: StreamQuery, expected: bool) -> None:
    assert query.matches(pylsl.StreamInfo("tobii", "Gaze", 2, 500.0, "float32", "tobii-123")) is expected


@pytest.mark.parametrize("layout", list(LAYOUTS), ids=list(LAYOUTS))
def test_known_producers_are_read_by_their_description(layout: str) -> None:
    producer, channels, rows, expected = LAYOUTS[layout]
    name = unique_name(layout)
    outlet = open_outlet(stream_info(name, channels))
    with tracker(name) as source:
        assert source.layout is not None and source.layout.producer == producer
        source.start_streaming()
        assert outlet.wait_for_consumers(5.0)
        stamps = push_rows(outlet, rows)
        got = take(source, len(rows))
    assert len(got) == len(rows)
    for sample, want, stamp in zip(got, expected, stamps):
        _check(sample, want)
        assert sample.tracker_t == pytest.approx(stamp + source.correction_s, abs=1e-9)


@pytest.mark.parametrize(
    ("channels", "rows", "override", "expected"),
    [
        (
            [ChannelSpec("gx"), ChannelSpec("gy"), ChannelSpec("ok")],
            [[0.5, 0.25, 1.0], [0.5, 0.25, 0.0]],
            {"channels": {"x": "GX", "y": "gy", "valid": "ok"}, "unit": "normalized"},
            [(960.0, 270.0, True), (NAN, NAN, False)],
        ),
        (3, [[7.0, 100.0, 200.0]], {"channels": {"x": 1, "y": 2}}, [(100.0, 200.0, True)]),
        (
            [ChannelSpec("a", "normalized"), ChannelSpec("b", "normalized")],
            [[0.25, 0.25]],
            {"channels": {"x": 0, "y": 1}, "origin": "bottom-left"},
            [(480.0, 810.0, True)],
        ),
    ],
    ids=["labels-normalised", "indices-no-description", "bottom-left-origin"],
)
def test_configured_channels_read_any_stream(
    channels: Any, rows: list[list[float]], override: dict[str, Any], expected: list[tuple[float, float, bool]]
) -> None:
    name = unique_name("custom")
    outlet = open_outlet(stream_info(name, channels, rate_hz=0.0))
    config = FAST.model_copy(update={"lsl": FAST.lsl.model_copy(update=override)})
    with tracker(name, config) as source:
        assert source.layout is not None and source.layout.producer == "configuration"
        assert source.sample_rate_hz == 0.0
        source.start_streaming()
        assert outlet.wait_for_consumers(5.0)
        push_rows(outlet, rows)
        got = take(source, len(rows))
    assert len(got) == len(expected)
    for sample, (x, y, valid) in zip(got, expected):
        assert _same(sample.x, x) and _same(sample.y, y) and sample.valid is valid, sample


def test_a_table_streamed_in_real_time_arrives_sample_for_sample_with_corrected_stamps() -> None:
    name = unique_name("realtime")
    channels = [ChannelSpec("x", "pixels", "ScreenX"), ChannelSpec("y", "pixels", "ScreenY")]
    outlet = open_outlet(stream_info(name, channels, rate_hz=500.0, channel_format="float32"))
    rows = [[float(i % 1900), float(i % 1000)] for i in range(400)]
    with tracker(name) as source:
        source.start_streaming()
        assert outlet.wait_for_consumers(5.0)
        start = pylsl.local_clock() + 0.05
        stamps = [start + i / 500.0 for i in range(len(rows))]
        player = Player(outlet, rows, stamps).start()
        got = take(source, len(rows))
        player.join()
        stats = source.stats()
    assert [(s.x, s.y) for s in got] == [tuple(r) for r in rows]
    assert [s.tracker_t - source.correction_s for s in got] == pytest.approx(stamps, abs=1e-9)
    assert abs(source.correction_s) < 1e-3  # one machine: the clocks are one, the estimate is near 0
    arrivals = [s.t for s in got]
    assert arrivals == sorted(arrivals)
    assert stats == stats._replace(received=len(rows), gaps=0, dropped=0, reconnects=0)


def test_a_stream_that_goes_away_and_comes_back_is_reconnected_and_its_gap_counted() -> None:
    name = unique_name("flaky")
    channels = [ChannelSpec("x", "pixels", "ScreenX"), ChannelSpec("y", "pixels", "ScreenY")]
    outlet = open_outlet(stream_info(name, channels, rate_hz=100.0))
    with tracker(name) as source:
        source.start_streaming()
        assert outlet.wait_for_consumers(5.0)
        t0 = pylsl.local_clock()
        Player(outlet, [[1.0, 1.0]] * 10, [t0 + i / 100 for i in range(10)], realtime=False).start().join()
        assert len(take(source, 10)) == 10
        del outlet  # the producer quits …
        assert source.get_sample(1.0) is None
        outlet = open_outlet(stream_info(name, channels, rate_hz=100.0))  # … and starts again
        assert outlet.wait_for_consumers(10.0)
        # 40 samples (0.4 s at 100 Hz) were never sent while it was away.
        back = [t0 + i / 100 for i in range(50, 60)]
        Player(outlet, [[2.0, 2.0]] * 10, back, realtime=False).start().join()
        after = take(source, 10)
        stats = source.stats()
        kinds = [event.kind for event in events(source)]
    assert [s.x for s in after] == [2.0] * 10
    assert stats.reconnects == 1 and stats.gaps == 40 and stats.received == 20
    assert "lost" in kinds and "reconnect" in kinds and kinds.index("lost") < kinds.index("reconnect")
    assert "stall" in kinds  # the watchdog saw the silence


def test_a_stream_that_comes_back_in_another_shape_is_not_used() -> None:
    name = unique_name("reshaped")
    two = [ChannelSpec("x", "pixels", "ScreenX"), ChannelSpec("y", "pixels", "ScreenY")]
    outlet = open_outlet(stream_info(name, two))
    with tracker(name) as source:
        source.start_streaming()
        assert outlet.wait_for_consumers(5.0)
        del outlet
        wider = open_outlet(stream_info(name, [*two, ChannelSpec("z")]))
        deadline = time.monotonic() + 10
        seen: list[Any] = []
        while time.monotonic() < deadline and not any(e.kind == "error" for e in seen):
            seen += events(source)
            time.sleep(0.05)
        assert not wider.have_consumers()
        del wider
        outlet = open_outlet(stream_info(name, two))
        assert outlet.wait_for_consumers(10.0)
        push_rows(outlet, [[5.0, 6.0]])
        got = take(source, 1)
        seen += events(source)
    errors = [str(e.get("text")) for e in seen if e.kind == "error"]
    assert len(errors) == 1 and "came back with 3 channels" in errors[0] and "not used" in errors[0]
    assert [(s.x, s.y) for s in got] == [(5.0, 6.0)]
    assert source.stats().reconnects == 1


# ------------------------------------------------------------------ bad input: one clear error


def _open_error(name: str, config: TrackerConfig = FAST) -> str:
    with pytest.raises(TrackerError) as caught:
        tracker(name, config).open()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_stream_names_the_query_and_the_streams_seen() -> None:
    other = unique_name("present")
    outlet = open_outlet(stream_info(other, 2))
    missing = unique_name("absent")
    message = _open_error(
        missing, FAST.model_copy(update={"lsl": FAST.lsl.model_copy(update={"resolve_timeout_s": 0.5})})
    )
    assert f"no LSL gaze stream with name {missing!r} found within 0.5 s" in message
    assert other in message
    del outlet


@pytest.mark.parametrize(
    ("channels", "channel_format", "override", "expected"),
    [
        (1, "string", {}, "carries strings, not numbers"),
        ([ChannelSpec("x", "pixels", "ScreenX")], "float32", {}, "has 1 channel: gaze needs at least x and y"),
        (3, "float32", {}, "no <channels> description"),
        (
            [ChannelSpec("a"), ChannelSpec("b")],
            "float32",
            {},
            "does not have a known producer's gaze channels: name them in tracker.lsl.channels",
        ),
        (3, "float32", {"channels": {"x": 0, "y": 3}}, "tracker.lsl.channels.y: channel 3 does not exist"),
        (
            [ChannelSpec("gx"), ChannelSpec("gy")],
            "float32",
            {"channels": {"x": "gx", "y": "gaze_y"}},
            "no channel labelled 'gaze_y'",
        ),
        (3, "float32", {"channels": {"pupil": 2}}, "names no gaze position"),
        (
            [ChannelSpec("x", "degrees", "ScreenX"), ChannelSpec("y", "degrees", "ScreenY")],
            "float32",
            {},
            "is in 'degrees'",
        ),
        (
            [ChannelSpec("x", "pixels", "ScreenX"), ChannelSpec("y", "pixels", "ScreenY")],
            "float32",
            {"producer": "tobii-pro"},
            "does not have the tobii-pro layout's gaze channels",
        ),
    ],
    ids=[
        "strings",
        "one-channel",
        "undescribed",
        "unknown-layout",
        "index-out-of-range",
        "label-missing",
        "no-gaze-role",
        "unit-degrees",
        "wrong-producer",
    ],
)
def test_streams_that_cannot_be_gaze_are_one_clear_error(
    channels: Any, channel_format: str, override: dict[str, Any], expected: str
) -> None:
    name = unique_name("bad")
    outlet = open_outlet(stream_info(name, channels, channel_format=channel_format))
    config = FAST.model_copy(update={"lsl": FAST.lsl.model_copy(update=override)})
    assert expected in _open_error(name, config)
    del outlet


def test_a_description_that_disagrees_with_the_channel_count_is_refused() -> None:
    name = unique_name("miscounted")
    info = pylsl.StreamInfo(name, "Gaze", 3, 100, "float32", name)
    node = info.desc().append_child("channels")
    for label in ("x", "y"):
        node.append_child("channel").append_child_value("label", label)
    outlet = open_outlet(info)
    assert "has 3 channels but its description lists 2" in _open_error(name)
    del outlet


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("lsl:", "no stream name or property value"),
        ("lsl:color=red", "unknown stream property 'color'"),
        ("lsl:type=", "no stream name or property value"),
        ("lsl:g?timeout=soon", "timeout='soon' is not a number"),
        ("lsl:g?timeout=0", "timeout='0' must be positive"),
        ("lsl:g?producer=eyelink", "producer='eyelink' is not one of auto, tobii-pro"),
        ("lsl:g?rate=5", "unknown option 'rate'"),
    ],
    ids=["empty", "unknown-prop", "empty-value", "timeout-text", "timeout-zero", "producer", "option"],
)
def test_bad_specs_are_one_clear_error(spec: str, expected: str) -> None:
    with pytest.raises(TrackerError) as caught:
        open_tracker(spec, TrackerConfig(), ScreenConfig())
    assert expected in str(caught.value) and "lsl:NAME" in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "query", "timeout_s", "producer"),
    [
        ("lsl:EyeStream", ("name", "EyeStream"), 5.0, "auto"),
        ("lsl:type=Gaze?timeout=2.5", ("type", "Gaze"), 2.5, "auto"),
        ("lsl:source_id=tobii-123?producer=tobii-pro", ("source_id", "tobii-123"), 5.0, "tobii-pro"),
    ],
    ids=["name", "type", "source-id"],
)
def test_specs_name_the_query_and_options(spec: str, query: tuple[str, str], timeout_s: float, producer: str) -> None:
    source = open_tracker(spec, TrackerConfig(), ScreenConfig())
    assert isinstance(source, LslTracker)
    assert tuple(source.query) == query
    assert source.settings.lsl.resolve_timeout_s == timeout_s and source.settings.lsl.producer == producer


def test_resolving_by_type_takes_the_newest_stream() -> None:
    kind = unique_name("Type")
    channels = [ChannelSpec("x", "pixels", "ScreenX"), ChannelSpec("y", "pixels", "ScreenY")]
    older = open_outlet(stream_info(unique_name("old"), channels, kind=kind))
    time.sleep(0.05)
    newer_name = unique_name("new")
    newer = open_outlet(stream_info(newer_name, channels, kind=kind))
    with tracker(kind, prop="type") as source:
        assert source.stream_name == newer_name
    del older, newer
