"""The iViewX protocol, pure: line splitting, sample formats and layouts, messages, commands."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gazefusion.trackers.iviewx.protocol import (
    LONG_FORMAT,
    VALIDATION_FIELDS,
    SampleFormat,
    format_command,
    parse_message,
    split_lines,
)


@pytest.mark.parametrize(
    "datagram, lines",
    [
        (b"", []),
        (b"  \t\r\n", []),
        (b"\x00" * 8, []),
        (b"ET_PNG\n", ["ET_PNG"]),
        (b"ET_SPL 1 r 10 20\x00\x00\x00", ["ET_SPL 1 r 10 20"]),
        (b"ET_SPL 1 r 10 20\r\nET_SPL 2 r 11 21\n\nET_PNG\n", ["ET_SPL 1 r 10 20", "ET_SPL 2 r 11 21", "ET_PNG"]),
        (b"ET_VLS l 8.6 6.3 10.7 0.32\xb0 0.24\xb0\n", ["ET_VLS l 8.6 6.3 10.7 0.32° 0.24°"]),
    ],
    ids=["empty", "whitespace", "nul", "one", "nul-padded", "several", "latin-1"],
)
def test_split_lines(datagram: bytes, lines: list[str]) -> None:
    assert split_lines(datagram) == lines


def test_format_command_quotes() -> None:
    assert format_command("ET_FRM", "%TS %SX %SY") == b'ET_FRM "%TS %SX %SY"\n'
    assert format_command("ET_SAV", 'C:\\data\\p "1".idf') == b"ET_SAV \"C:\\data\\p '1'.idf\"\n"
    assert format_command("ET_CAL", 9) == b"ET_CAL 9\n"
    assert format_command("ET_CAL", 9, 1) == b"ET_CAL 9 1\n"
    assert format_command("ET_STR") == b"ET_STR\n"


@pytest.mark.parametrize(
    "text, line",
    [
        ('trial "3" start', b'ET_REM trial "3" start\n'),
        ("trial 3\nstart", b"ET_REM trial 3 start\n"),
        ("blank.bmp", b"ET_REM blank.bmp\n"),
        ("caf\u00e9 \u2713", b"ET_REM caf\xe9 ?\n"),
    ],
    ids=["quotes", "line-break", "word", "not-latin-1"],
)
def test_remarks_go_as_written(text: str, line: bytes) -> None:
    assert format_command("ET_REM", text) == line


# The examples of docs/protocol/iviewx.md, format -> datagram -> (tracker_t, eye, left gaze, right gaze).
EXAMPLES = [
    ("%TS %ET %SX %SY", "1234567 b 399 398 200 199", 1234.567, "b", (399, 200), (398, 199)),
    ("%SX %SY", "400 202", math.nan, "r", None, (400, 202)),
    (
        "%ET %TS %SX %SY %EX %EY %EZ",
        "b 100527788 790 790 255 255 -59.923  3.225 14.816 17.588 587.446 580.656",
        100527.788,
        "b",
        (790, 255),
        (790, 255),
    ),
    (
        "%TU %ET %SX %SY %DX %DY %EX %EY %EZ %PX %PY",
        "100527771763 b 788 788 258 258 12.105186 10.957320 12.105186 10.957320 -59.875  3.226 14.819 17.609 "
        "586.966 580.848 379.807800 654.019907 438.804785 425.142153",
        100527.771763,
        "b",
        (788, 258),
        (788, 258),
    ),
    ("%TU %ET %SX %SY", "5000000 l 10.5 -20.25", 5.0, "l", (10.5, -20.25), None),
]


@pytest.mark.parametrize(
    "fmt, tokens, tracker_t, eye, left, right",
    EXAMPLES,
    ids=["ts-b", "xy-only", "et-first-eye-pos", "long-tu", "mono-left"],
)
def test_documented_examples(
    fmt: str, tokens: str, tracker_t: float, eye: str, left: tuple | None, right: tuple | None
) -> None:
    sample = SampleFormat(fmt).parse(tokens.split(), t=1.0)
    assert sample is not None
    assert sample.t == 1.0 and sample.eye == eye
    assert (math.isnan(tracker_t) and math.isnan(sample.tracker_t)) or sample.tracker_t == pytest.approx(
        tracker_t, abs=1e-9
    )
    for got, want in ((sample.left, left), (sample.right, right)):
        if want is None:
            assert got is None
        else:
            assert (got.x, got.y) == want
    valid = [e for e in (sample.left, sample.right) if e is not None]
    assert sample.x == pytest.approx(sum(e.x for e in valid) / len(valid))


def test_long_format_pupil_and_timestamp_beyond_32_bits() -> None:
    fmt = SampleFormat(LONG_FORMAT)
    sample = fmt.parse(
        "100527771763 b 788 790 258 260 12.1 12.3 10.9 11.1 -59.8 3.2 14.8 17.6 586.9 580.8".split(), 0.0
    )
    assert sample.tracker_t == pytest.approx(100527.771763)
    assert (sample.x, sample.y, sample.pupil) == pytest.approx((789, 259, 12.2))


def test_lost_tracking_is_not_the_point_zero() -> None:
    fmt = SampleFormat("%TU %ET %SX %SY %DX %DY")
    mono = fmt.parse("1000 r 0 0 0 0".split(), 0.0)
    assert mono.valid is False and math.isnan(mono.x) and math.isnan(mono.pupil)
    one_eye = fmt.parse("1000 b 0 500 0 300 0 12 0 11".split(), 0.0)
    assert one_eye.valid and (one_eye.x, one_eye.y) == (500, 300) and one_eye.left.valid is False
    negative = fmt.parse("1000 r -15 2000 3 3".split(), 0.0)
    assert negative.valid and (negative.x, negative.y) == (-15, 2000)


@pytest.mark.parametrize(
    "tokens, parsed_eye",
    [
        ("1000 r 10 20 3 3", "r"),  # monocular
        ("1000 b 10 12 20 22 3 3 3 3", "b"),  # binocular: the other layout, still fits
        ("1000 b 10 20 3 3", None),  # mono count but eye type b: an old-format sample in flight
        ("1000 r 10 12 20 22 3 3 3 3", "r"),  # monocular, four values after the format
        ("1000 r 10 20 3", None),  # too short for its eye type
        ("1000 r 10 20 3 3 9", "r"),  # one value after the format
        ("1000 b 10 12 20 22 3 3 3 3 9 8 7", "b"),
        ("1000 x 10 20 3 3", None),  # not an eye type
        ("1000 r ten 20 3 3", None),  # not a number
        ("10.5 r 10 20 3 3", None),  # time must be an integer
    ],
    ids=[
        "mono",
        "eye-switch",
        "eye-type-mismatch-mono",
        "mono-trailing-4",
        "short",
        "mono-trailing-1",
        "bino-trailing-3",
        "bad-eye-type",
        "nan-token",
        "float-time",
    ],
)
def test_token_count_and_eye_layout(tokens: str, parsed_eye: str | None) -> None:
    sample = SampleFormat("%TU %ET %SX %SY %DX %DY").parse(tokens.split(), 0.0)
    assert (sample.eye if sample else None) == parsed_eye
    if sample is not None:
        count = 6 if parsed_eye != "b" else 10
        assert sample.extras == tuple(tokens.split()[count:]) and sample.x in (10, 11)


@pytest.mark.parametrize(
    "fmt, tokens, eye, extras",
    [
        ("%SX %SY", "400 202", "r", ()),
        ("%SX %SY", "400 202 7", "r", ("7",)),  # more than monocular, less than binocular
        ("%SX %SY", "399 398 200 199", "b", ()),
        ("%SX %SY", "399 398 200 199 5 6", "b", ("5", "6")),
        ("%SX %SY %ET", "399 398 200 199 b 5", "b", ("5",)),  # the eye type after per-eye values
        ("%SX %SY %ET", "400 202 r 5 6", "r", ("5", "6")),
    ],
    ids=["mono", "mono-extra", "bino", "bino-extras", "eye-type-last-bino", "eye-type-last-mono"],
)
def test_layout_by_count_and_by_late_eye_type(fmt: str, tokens: str, eye: str, extras: tuple[str, ...]) -> None:
    sample = SampleFormat(fmt).parse(tokens.split(), 0.0)
    assert (sample.eye, sample.extras) == (eye, extras)


def test_the_logged_red_sample_parses_with_its_seven_trailing_values() -> None:
    # Logged from a RED by an independent client (docs/protocol/iviewx.md); the request it answered is not recorded.
    tokens = (
        "100527771763 b 788 788 258 258 12.105186 10.957320 12.105186 10.957320 -59.875  3.226 14.819 17.609 "
        "586.966 580.848 379.807800 654.019907 438.804785 425.142153 3.09 2.82 3"
    ).split()
    sample = SampleFormat(LONG_FORMAT).parse(tokens, 0.0)
    assert sample.tracker_t == pytest.approx(100527.771763) and (sample.x, sample.y) == (788, 258)
    assert sample.pupil == pytest.approx((12.105186 + 10.957320) / 2) and len(sample.extras) == 7


@pytest.mark.parametrize(
    "distances, left_valid, right_valid",
    [
        ("586.9 580.8", True, True),
        ("586.9 0", True, False),  # one eye lost by its distance, its gaze still there
        ("0 0", False, False),
        ("586.9 3000", True, False),  # out of range
        ("50 580.8", False, True),
    ],
    ids=["both", "right-zero", "both-zero", "right-too-far", "left-too-near"],
)
def test_eye_distance_decides_lost_tracking(distances: str, left_valid: bool, right_valid: bool) -> None:
    tokens = f"1000 b 788 788 258 258 12.1 12.3 10.9 11.1 -59.8 3.2 14.8 17.6 {distances}".split()
    sample = SampleFormat(LONG_FORMAT).parse(tokens, 0.0)
    assert (sample.left.valid, sample.right.valid, sample.valid) == (left_valid, right_valid, left_valid or right_valid)
    assert (sample.x == 788) == (left_valid or right_valid)


def test_eye_distance_range_is_a_setting() -> None:
    tokens = "1000 r 500 300 3 3 0 0 300".split()
    assert SampleFormat("%TU %ET %SX %SY %DX %DY %EX %EY %EZ").parse(tokens, 0.0).valid
    assert not SampleFormat("%TU %ET %SX %SY %DX %DY %EX %EY %EZ", (400.0, 900.0)).parse(tokens, 0.0).valid


def test_literals_are_copied_and_skipped() -> None:
    fmt = SampleFormat("%TS gaze %SX %SY")
    line = fmt.format(2_000_000, "r", {}, {"SX": 10.0, "SY": 20.0})
    assert line == "ET_SPL 2000 gaze 10.000 20.000"
    assert fmt.parse(line.split()[1:], 0.0).x == 10.0


@pytest.mark.parametrize("fmt", ["%TS %ET %SX %SY", LONG_FORMAT, "%SC %TU %SX %SY %PX %PY %CX %CY"])
@pytest.mark.parametrize("eye", ["l", "r", "b"])
def test_format_then_parse(fmt: str, eye: str) -> None:
    values = {
        "SX": 100.5,
        "SY": 200.25,
        "DX": 12.0,
        "DY": 11.0,
        "PX": 1.0,
        "PY": 2.0,
        "CX": 3.0,
        "CY": 4.0,
        "EX": -30.0,
        "EY": 3.0,
        "EZ": 600.0,
    }
    other = dict(values, SX=104.5)
    sample_format = SampleFormat(fmt)
    line = sample_format.format(123_456_789, eye, values, other, counter=7)
    sample = sample_format.parse(line.split()[1:], 0.0)
    assert sample is not None
    resolution = 1e-3 if "%TS" in fmt else 1e-6
    assert sample.tracker_t == pytest.approx(123.456789, abs=resolution)
    expected_x = {"l": 100.5, "r": 104.5, "b": 102.5}[eye]
    assert sample.x == expected_x and sample.y == 200.25


@pytest.mark.parametrize(
    "fmt, fragment",
    [("%TS %XX %SY", "unknown specifier '%XX'"), ("%SX %SX %SY", "repeated"), ("%TS %DX", "no gaze")],
    ids=["unknown", "repeated", "no-gaze"],
)
def test_bad_formats(fmt: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        SampleFormat(fmt)


@pytest.mark.parametrize(
    "line, kind, fields",
    [
        ("ET_PNG", "ping", {}),
        ("ET_SRT 500", "rate", {"rate_hz": 500.0}),
        ('ET_FRM "%TS %SX %SY"', "format", {"format": "%TS %SX %SY"}),
        ("ET_FIX l 100527788000 512 384", "fixation_start", {"eye": "l", "x": 512.0, "y": 384.0}),
        ("ET_FIX 100 30", "fixation_on", {"min_duration_ms": 100.0, "dispersion_px": 30.0}),
        ("ET_FIX", "fixation_on", {}),
        (
            "ET_EFX r 1000000 1250000 250 510 380",
            "fixation_end",
            {"eye": "r", "start_s": 1.0, "end_s": 1.25, "duration_s": 0.25},
        ),
        ("ET_EFX", "fixation_off", {}),
        ("ET_EFX r 12", "malformed", {}),
        ("ET_CAL 9", "calibration_start", {"points": 9}),
        ("ET_CSZ 1280 1024", "calibration_area", {"width_px": 1280.0, "height_px": 1024.0}),
        ("ET_PNT 3 640 100", "calibration_point", {"index": 3, "x": 640.0, "y": 100.0}),
        ("ET_CHG 3", "calibration_change", {"index": 3}),
        ("ET_ACC", "calibration_accept", {}),
        ("ET_FIN 1", "calibration_finish", {"code": 1}),
        ("ET_BRK", "calibration_abort", {}),
        ("ET_VLS", "validation_start", {}),
        (
            "ET_VLS l 8.6 6.3 10.7 0.32° 0.24°",
            "validation",
            {
                "eye": "l",
                "rms_x_px": 8.6,
                "rms_y_px": 6.3,
                "rms_distance_px": 10.7,
                "mean_x_deg": 0.32,
                "mean_y_deg": 0.24,
            },
        ),
        ('ET_REM "trial 3 start"', "remark", {"text": '"trial 3 start"'}),  # the rest of the line, as it came
        ("ET_REM trial 3 start", "remark", {"text": "trial 3 start"}),
        ("ET_CSP 1 2 3", "raw", {"command": "ET_CSP"}),
        ("ET_XYZ", "raw", {"command": "ET_XYZ"}),
        ("\x89PNG\x1a garbage", "malformed", {}),
        ("ET_PNT x y z", "malformed", {}),
    ],
    ids=lambda v: v if isinstance(v, str) and v.isidentifier() else None,
)
def test_messages(line: str, kind: str, fields: dict) -> None:
    message = parse_message(line)
    assert message.kind == kind and message.raw == line
    data = dict(message.data)
    for key, value in fields.items():
        assert data[key] == pytest.approx(value) if isinstance(value, float) else data[key] == value


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_datagram_parses_without_raising(datagram: bytes) -> None:
    fmt = SampleFormat(LONG_FORMAT)
    for line in split_lines(datagram):
        assert line == line.strip(" \t\r\n\x00") and line
        if line.startswith("ET_SPL"):
            fmt.parse(line.split()[1:], 0.0)
        else:
            assert parse_message(line).raw == line


@given(
    st.integers(min_value=0, max_value=2**45),
    st.sampled_from(["l", "r", "b"]),
    st.lists(st.floats(min_value=-5000, max_value=5000).map(lambda v: round(v, 3)), min_size=2, max_size=2),
)
@settings(max_examples=200, deadline=None)
def test_long_format_round_trip(time_us: int, eye: str, gaze: list[float]) -> None:
    fmt = SampleFormat(LONG_FORMAT)
    values = {"SX": gaze[0], "SY": gaze[1], "DX": 12.0, "DY": 11.0, "EX": -30.0, "EY": 3.0, "EZ": 600.0}
    sample = fmt.parse(fmt.format(time_us, eye, values, values).split()[1:], 0.0)
    assert sample.tracker_t == time_us * 1e-6 and sample.eye == eye
    if gaze == [0.0, 0.0]:
        assert not sample.valid
    else:
        assert (sample.x, sample.y) == (gaze[0], gaze[1])


NAN = math.nan


@pytest.mark.parametrize(
    "datagram, eye, figures, extras",
    [
        (b"ET_VLS l 8.6 6.3 10.7 0.32\xb0 0.24\xb0", "l", (8.6, 6.3, 10.7, 0.32, 0.24), ()),
        (b"ET_VLS left 100 200 300 4\xba 5\xba", "l", (100, 200, 300, 4, 5), ()),
        ("ET_VLS Right 8.6 6.3 10.7 0.32° 0.24°".encode(), "r", (8.6, 6.3, 10.7, 0.32, 0.24), ()),
        (b"ET_VLS r 8.6 6.3 10.7 0.32 \xb0 0.24 \xb0", "r", (8.6, 6.3, 10.7, 0.32, 0.24), ()),
        (b"ET_VLS r 8.6 6.3 10.7 0.32 0.24", "r", (8.6, 6.3, 10.7, 0.32, 0.24), ()),
        (b"ET_VLS r 8.6 6.3 0.32\xb0 0.24\xb0", "r", (8.6, 6.3, NAN, 0.32, 0.24), ()),
        (b"ET_VLS r 8.6 6.3", "r", (8.6, 6.3, NAN, NAN, NAN), ()),
        (b"ET_VLS r 8.6 6.3 10.7 0.32\xb0 0.24\xb0 13", "r", (8.6, 6.3, 10.7, 0.32, 0.24), (13.0,)),
        (b"ET_VLS 8.6 6.3 10.7 0.32\xb0 0.24\xb0", "", (8.6, 6.3, 10.7, 0.32, 0.24), ()),
        (b"ET_VLS L: 8,6 6,3 10,7 0,32\xb0 0,24\xb0", "l", (8.6, 6.3, 10.7, 0.32, 0.24), ()),
        (b"ET_VLS b n/a", "b", (NAN,) * 5, ()),
    ],
    ids=[
        "notes",
        "eye-word-ordinal-sign",
        "utf-8",
        "degree-apart",
        "no-degree",
        "missing-rms-distance",
        "rms-only",
        "extra-field",
        "no-eye",
        "decimal-comma",
        "no-figures",
    ],
)
def test_validation_lines_are_read_leniently(
    datagram: bytes, eye: str, figures: tuple[float, ...], extras: tuple[float, ...]
) -> None:
    message = parse_message(split_lines(datagram)[0])
    data = dict(message.data)
    assert message.kind == "validation" and data["eye"] == eye and data["extras"] == extras
    assert [data[name] for name in VALIDATION_FIELDS] == pytest.approx(list(figures), nan_ok=True)
    assert "\u00c2" not in message.raw and message.raw.encode("utf-8").decode("utf-8") == message.raw
