"""The iViewX client over real UDP on loopback, against the simulator in both of its modes:
sample for sample, every fault of docs/protocol/iviewx.md, and each form real servers were seen to send
(docs/protocol/iviewx.md), each alone (so that a client reading the notes fails on it) and
all together."""

from __future__ import annotations

import json
import logging
import math
import socket
import time
from pathlib import Path

import pytest

from gazefusion.fusion.api import Pipeline
from gazefusion.fusion.config import TrackerConfig
from gazefusion.fusion.errors import ConfigError, TrackerError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.iviewx.client import IViewXClient, SenderFilter
from gazefusion.trackers.iviewx.protocol import LONG_FORMAT
from gazefusion.trackers.iviewx.simulator import (
    VALIDATION_FORMS,
    Faults,
    IViewXSimulator,
    RealWorld,
    SentSample,
    real_world,
)
from gazefusion.trackers.script import ScriptedGaze
from gazefusion.trackers.types import GazeSample

from .conftest import FAST, connect, events, stop_and_take, stream, wait_until, with_iviewx

FORMATS = {
    "default": "%TU %ET %SX %SY %DX %DY",
    "long": LONG_FORMAT,
    "ms-clock": "%TS %ET %SX %SY",
    "no-eye-type": "%SC %TU %SX %SY %PX %PY %CX %CY",
}


def _matches(got: GazeSample, sent: SentSample, scale: float, sample_format: str) -> bool:
    if got.tracker_t != (sent.time_us // 1000 if scale == 1e-3 else sent.time_us) * scale:
        return False
    for side, eye, values in (("l", got.left, sent.left), ("r", got.right, sent.right)):
        if values is None:
            if eye is not None:
                return False
            continue
        # Lost: gaze 0, or (where the format carries it) the eye distance alone.
        if values[:2] == (0.0, 0.0) or (sent.distance_lost == side and "%EZ" in sample_format):
            if eye.valid or not math.isnan(eye.x):
                return False
        elif (eye.x, eye.y, eye.pupil if not math.isnan(eye.pupil) else values[2]) != values:
            return False
    return got.eye == sent.eye


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("binocular", [False, True], ids=["monocular", "binocular"])
@pytest.mark.parametrize("sample_format", FORMATS.values(), ids=FORMATS.keys())
def test_records_everything_the_simulator_sends(
    geometry: ScreenGeometry, binocular: bool, sample_format: str, mode: str
) -> None:
    script = ScriptedGaze(geometry, seed=3, blink_probability=1.0, fixation_s=(0.05, 0.1))
    with IViewXSimulator(script=script, rate_hz=500, binocular=binocular, real_world=real_world(mode)) as sim:
        with connect(sim, with_iviewx(sample_format=sample_format)) as client:
            got = stream(client, sim, 0.3, min_samples=100)
            stats = client.stats()
    sent = sim.sent_samples()
    assert len(sent) >= 100 and len(got) == len(sent)
    scale = 1e-3 if "%TS" in sample_format else 1e-6
    for g, s in zip(got, sent):
        if "%ET" not in sample_format:
            s = s._replace(eye="b" if binocular else "r")
        assert _matches(g, s, scale, sample_format), (g, s)
    assert any(not g.valid for g in got)  # the script blinks: lost samples arrive as invalid
    assert stats == stats._replace(
        received=len(sent), malformed=0, dropped=0, gaps=0, duplicates=0, out_of_order=0, restarts=0
    )


def test_handshake_sets_rate_and_format(simulator: IViewXSimulator, client: IViewXClient) -> None:
    assert client.sample_rate_hz == 500
    assert wait_until(lambda: len(simulator.commands) >= 3)
    assert simulator.commands[:3] == ["ET_PNG", "ET_SRT", 'ET_FRM "%TU %ET %SX %SY %DX %DY"']
    assert simulator.sample_format.text == client.sample_format.text


@pytest.mark.parametrize(
    "datagram",
    [b"", b"   \t\r\n", b"\x00" * 32, bytes(range(256)).replace(b"\n", b"").replace(b"\r", b""), b"\xff\xfe junk"],
    ids=["empty", "whitespace", "nul", "binary", "not-et"],
)
def test_junk_datagrams_are_counted_and_survived(
    simulator: IViewXSimulator, client: IViewXClient, datagram: bytes
) -> None:
    simulator.send_raw(datagram)
    simulator.send_raw(b"ET_SPL 1000 r 10 20 3 3\x00\x00")
    sample = client.get_sample(2.0)
    assert sample is not None and (sample.x, sample.y) == (10, 20)
    assert client.stats().malformed == 1


def test_several_lines_in_one_datagram(simulator: IViewXSimulator, client: IViewXClient) -> None:
    simulator.send_raw(b"ET_SPL 1000 r 10 20 3 3\r\nET_SPL 3000 r 11 21 3 3\nET_CSP 1 2\n\x00")
    first, second = client.get_sample(2.0), client.get_sample(2.0)
    assert (first.tracker_t, second.tracker_t) == (0.001, 0.003)
    assert wait_until(lambda: client.stats().gaps == 0 and client.echoes == 0)
    raw = [e for e in events(client) if e.kind == "raw"]
    assert [e.raw for e in raw] == ["ET_CSP 1 2"]


def test_unknown_commands_are_raw_events(simulator: IViewXSimulator, client: IViewXClient) -> None:
    simulator.send_raw(b"ET_XYZ 1 2 3\n")
    event = client.next_event(5.0)
    assert (event.kind, event.raw, event.get("command")) == ("raw", "ET_XYZ 1 2 3", "ET_XYZ")
    assert client.stats().malformed == 0


def test_echoes_of_own_commands(script: ScriptedGaze, mode: str) -> None:
    with IViewXSimulator(
        script=script, rate_hz=500, faults=Faults(echo=True), point_s=0.01, real_world=real_world(mode)
    ) as sim:
        with connect(sim) as client:
            client.send_message("trial 1")
            result = client.calibrate(5)
            got = stream(client, sim, 0.2)
            assert result.finished and result.shown == [1, 2, 3, 4, 5]
            assert len(got) == len(sim.sent_samples())
            assert client.echoes >= 4 and client.stats().malformed == 0
            assert not [e for e in events(client) if e.kind == "raw"]


def test_format_change_and_eye_switch(simulator: IViewXSimulator, client: IViewXClient) -> None:
    client.set_format("%TU %ET %SX %SY")
    assert wait_until(lambda: simulator.sample_format.text == "%TU %ET %SX %SY")
    simulator.send_raw(b"ET_SPL 1000 b 10 12 20 22\n")  # the other eye layout of the new format
    simulator.send_raw(b"ET_SPL 2000 r 10 20 3 3\n")  # an old-format sample in flight: its start fits
    simulator.send_raw(b"ET_SPL 3000 b 10 12\n")  # too short for the binocular layout
    simulator.send_raw(b"ET_SPL 4000 r 10\n")  # too short
    simulator.send_raw(b"ET_SPL 5000 r 30 40\n")
    first, second, third = client.get_sample(2.0), client.get_sample(2.0), client.get_sample(2.0)
    assert (first.eye, first.x, first.y) == ("b", 11, 21)
    assert (second.eye, second.x, second.y, second.extras) == ("r", 10, 20, ("3", "3"))
    assert (third.eye, third.tracker_t, third.extras) == ("r", 0.005, ())
    assert client.stats().malformed == 2


def test_eye_switch_mid_stream(simulator: IViewXSimulator, client: IViewXClient) -> None:
    client.start_streaming()
    assert wait_until(lambda: len(simulator.sent) > 50)
    simulator.set_binocular(True)
    assert wait_until(lambda: len(simulator.sent) > 100)
    got = stop_and_take(client, simulator)
    assert {g.eye for g in got} == {"r", "b"}
    assert len(got) == len(simulator.sent_samples()) and client.stats().malformed == 0


def test_fixation_end_with_and_without_arguments(simulator: IViewXSimulator, client: IViewXClient) -> None:
    simulator.send_raw(b"ET_EFX l 1000000 1250000 250 510 380\n")  # with no ET_FIX before it
    simulator.send_raw(b"ET_EFX\n")  # the acknowledgement of a stop: not an event
    simulator.send_raw(b"ET_FIX r 2000000 700 300\n")
    assert wait_until(lambda: len(client._events) >= 2)
    time.sleep(0.05)
    kinds = [(e.kind, e.get("eye")) for e in events(client)]
    assert kinds == [("fixation_end", "l"), ("fixation_start", "r")]
    assert client.stats().malformed == 0


def test_server_fixation_events(simulator: IViewXSimulator, client: IViewXClient) -> None:
    client.start_fixation_detection(min_duration_ms=80, dispersion_px=40)
    stream(client, simulator, 1.0)
    client.stop_fixation_detection()
    assert wait_until(lambda: "ET_EFX" in simulator.commands)
    got: list[str] = []
    wait_until(
        lambda: (
            got.extend(e.raw for e in events(client) if e.kind.startswith("fixation"))
            or len(got) >= len(simulator.fixation_lines)
        )
    )
    assert got and got == simulator.fixation_lines


def test_any_address_of_this_machine_is_the_local_trackers(simulator: IViewXSimulator, client: IViewXClient) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.5", 0))
        other.sendto(b"ET_SPL 1000 r 10 20 3 3\n", ("127.0.0.1", client.listen_port))
    sample = client.get_sample(2.0)
    assert sample is not None and (sample.x, sample.y) == (10, 20) and client.foreign_datagrams == 0


@pytest.mark.parametrize(
    "addresses, local, any_sender, sender, admitted",
    [
        ({"192.0.2.77"}, False, False, "192.0.2.77", True),
        ({"192.0.2.77"}, False, False, "127.0.0.1", False),  # this machine is not the remote tracker
        ({"192.0.2.77", "198.51.100.7"}, False, False, "198.51.100.7", True),  # its other interface
        ({"127.0.0.1"}, True, False, "127.0.0.9", True),
        ({"127.0.0.1"}, True, False, "203.0.113.9", False),  # not an address of this machine
        ({"127.0.0.1"}, True, True, "203.0.113.9", True),
    ],
    ids=[
        "remote-tracker",
        "remote-tracker-stranger",
        "remote-tracker-other-nic",
        "local-any-loopback",
        "local-stranger",
        "any-sender",
    ],
)
def test_sender_filter(
    addresses: set[str], local: bool, any_sender: bool, sender: str, admitted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    senders = SenderFilter(addresses, local, any_sender)
    with caplog.at_level(logging.INFO, logger="gazefusion.trackers.iviewx.client"):
        answers = [senders.admit((sender, 4444)) for _ in range(3)]
    assert answers == [admitted] * 3
    assert senders.dropped == ({} if admitted else {sender: 3})
    assert len([r for r in caplog.records if sender in r.getMessage()]) == 1  # each sender is logged once


def test_silent_server_is_a_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        client = IViewXClient("127.0.0.1", port, 0, "127.0.0.1", with_iviewx(TrackerConfig(), ping_timeout_s=0.3))
        with pytest.raises(TrackerError) as info:
            client.open()
        assert silent.recv(100).startswith(b"ET_PNG")
    message = str(info.value)
    assert message.startswith(f"iViewX at 127.0.0.1:{port} did not answer") and "\n" not in message
    client.close()
    client.close()


def test_stall_is_reported_once_and_resumes(simulator: IViewXSimulator) -> None:
    client = connect(simulator, FAST.model_copy(update={"watchdog_s": 0.4}))
    client.start_streaming()
    assert wait_until(lambda: client.stats().received > 20)
    simulator.stall(1.2)
    assert wait_until(lambda: client.stats().stalls == 1)
    assert wait_until(lambda: client.latest_sample() is not None and client._stalled is False)
    client.close()
    kinds = [e.kind for e in events(client) if e.kind in ("stall", "resume")]
    assert kinds == ["stall", "resume"]
    assert client.stats().stalls == 1 and client.stats().gaps > 0


def test_port_in_use(simulator: IViewXSimulator) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        client = IViewXClient("127.0.0.1", simulator.command_port, port, "127.0.0.1", FAST)
        with pytest.raises(TrackerError, match=f"cannot listen on UDP port {port}: the port is in use"):
            client.open()


def test_unresolvable_host() -> None:
    client = IViewXClient("no-such-tracker.invalid", 4444, 0, "127.0.0.1", FAST)
    with pytest.raises(TrackerError, match="iViewX host 'no-such-tracker.invalid' does not resolve"):
        client.open()


def test_close_sends_est_once_and_is_idempotent(simulator: IViewXSimulator) -> None:
    client = connect(simulator)
    client.start_streaming()
    assert wait_until(lambda: simulator.streaming)
    assert wait_until(lambda: client.stats().received > 0)  # something to stay readable after close
    client.close()
    client.close()
    assert wait_until(lambda: not simulator.streaming)
    assert simulator.commands.count("ET_EST") == 1
    assert client._sock is None
    assert list(client.samples()) and client.finished  # what arrived stays readable after close


def test_send_message_is_a_remark(simulator: IViewXSimulator, client: IViewXClient) -> None:
    client.send_message('trial 3 "start"')
    assert wait_until(lambda: simulator.remarks == ['trial 3 "start"'])
    assert client.next_event().get("text") == 'trial 3 "start"'


def test_calibration_and_validation(simulator: IViewXSimulator, client: IViewXClient) -> None:
    seen = []
    result = client.calibrate(9, area_px=(1280, 1024), on_target=seen.append)
    assert result.finished and not result.aborted
    assert [p.index for p in result.points] == list(range(1, 10)) and result.shown == list(range(1, 10))
    assert result.points[0][1:] == (640, 512) and seen == [result.points[i - 1] for i in result.shown]
    validation = client.validate()
    assert list(validation.eyes) == ["r"] and validation.lines == tuple(simulator.validation_lines)
    key, figures = simulator.validation_truth[0]
    assert tuple(validation.eyes[key][:5]) == figures


def test_binocular_validation_left_first(script: ScriptedGaze, mode: str) -> None:
    with IViewXSimulator(script=script, binocular=True, point_s=0.01, real_world=real_world(mode)) as sim:
        with connect(sim) as client:
            assert list(client.validate().eyes) == ["l", "r"]


def test_manual_accept_and_abort(simulator: IViewXSimulator, client: IViewXClient) -> None:
    manual = client.calibrate(5, auto_accept=False, timeout_s=10.0, on_target=lambda point: client.accept_point())
    assert manual.finished and manual.accepted == [1, 2, 3, 4, 5]
    aborted = client.calibrate(
        5,
        auto_accept=False,
        timeout_s=10.0,
        on_target=lambda point: client.abort() if point.index == 2 else client.accept_point(),
    )
    assert aborted.aborted and not aborted.finished and aborted.shown == [1, 2]


def test_bad_calibration_points(client: IViewXClient) -> None:
    with pytest.raises(ConfigError, match="7 points is not one of 2, 5, 9, 13"):
        client.calibrate(7)


# ---------------------------------------------------------------------------------------------
# What real servers were seen to send (docs/protocol/iviewx.md), each form alone: a client that
# reads the protocol as the notes did fails each of these.


def _alone(script: ScriptedGaze, form: str, **kwargs: object) -> IViewXSimulator:
    return IViewXSimulator(script=script, rate_hz=500, point_s=0.01, real_world=RealWorld.only(form), **kwargs)


@pytest.mark.parametrize("form", VALIDATION_FORMS)
def test_validation_results_in_every_form_seen(
    script: ScriptedGaze, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    with _alone(script, "validation_forms", binocular=True, validation_form=form) as sim, connect(sim) as client:
        with caplog.at_level(logging.WARNING, logger="gazefusion.trackers.iviewx.client"):
            result = client.validate(timeout_s=8.0)
        event_lines = [e.raw for e in events(client) if e.kind == "validation" and e.get("step") == "validation"]
    assert not result.aborted and result.lines == tuple(sim.validation_lines) == tuple(event_lines)
    assert sorted(result.eyes) == sorted(key for key, _ in sim.validation_truth)
    for (key, figures), line in zip(sim.validation_truth, sim.validation_lines):
        got = result.eyes[key]
        assert got.raw == line and all(_same(a, b) for a, b in zip(got[:5], figures)), (got, figures)
    warned = [r.getMessage() for r in caplog.records]
    if form in ("no-line", "no-figures"):
        assert len(warned) == (1 if form == "no-line" else 2) and all("\n" not in w for w in warned)
    else:
        assert warned == []


def test_validation_lines_are_recorded_in_the_session(script: ScriptedGaze, tmp_path: Path) -> None:
    with _alone(script, "validation_forms", binocular=True, validation_form="utf-8") as sim:
        tracker = f"iviewx://127.0.0.1:{sim.command_port}?listen=0"
        with Pipeline(None, camera="none", tracker=tracker, record=tmp_path / "s") as pipeline:
            result = pipeline.runner.tracker.validate(timeout_s=8.0)
            time.sleep(0.3)  # the runner records tracker events as it goes
    recorded = [json.loads(line) for line in (tmp_path / "s" / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    raw = [r["raw"] for r in recorded if r["kind"] == "tracker_validation" and r["step"] == "validation"]
    assert raw == list(result.lines) and len(raw) == 2 and all("\u00b0" in line for line in raw)


def test_calibration_names_the_eye_as_a_number(script: ScriptedGaze) -> None:
    with _alone(script, "numeric_eye") as sim, connect(sim) as client:
        result = client.calibrate(5, eye="l", timeout_s=5.0)
    assert result.finished and "ET_CAL 5 2" in sim.commands


def test_calibration_that_does_not_start_names_the_eye_setting(script: ScriptedGaze) -> None:
    config = with_iviewx(calibration_eye="letter", calibration_start_timeout_s=0.5)
    with _alone(script, "numeric_eye") as sim, connect(sim, config) as client:
        with pytest.raises(TrackerError) as info:
            client.calibrate(5, eye="r", timeout_s=5.0)
        assert wait_until(lambda: "ET_BRK" in sim.commands)
    message = str(info.value)
    assert "'ET_CAL 5 r'" in message and "tracker.iviewx.calibration_eye: number" in message and "\n" not in message


def test_the_letter_form_of_the_eye_where_a_server_takes_it(script: ScriptedGaze) -> None:
    config = with_iviewx(calibration_eye="letter")
    with IViewXSimulator(script=script, point_s=0.01) as sim, connect(sim, config) as client:
        assert client.calibrate(5, eye="r", timeout_s=5.0).finished and "ET_CAL 5 r" in sim.commands


@pytest.mark.parametrize("binocular", [False, True], ids=["monocular", "binocular"])
@pytest.mark.parametrize("sample_format", FORMATS.values(), ids=FORMATS.keys())
def test_samples_with_values_after_the_requested_ones(
    script: ScriptedGaze, binocular: bool, sample_format: str
) -> None:
    with _alone(script, "trailing_values", binocular=binocular) as sim:
        with connect(sim, with_iviewx(sample_format=sample_format)) as client:
            got = stream(client, sim, 0.3, min_samples=100)
            stats = client.stats()
    sent = sim.sent_samples()
    assert len(sent) >= 100 and len(got) == len(sent) and stats.malformed == 0
    assert {g.extras for g in got} == {tuple(s.line.split()[-3 if binocular else -2 :]) for s in sent}
    assert [g.tracker_t for g in got][:3] and all(g.eye == ("b" if binocular else "r") for g in got)


def test_replies_from_another_address_of_the_trackers_host(
    script: ScriptedGaze, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gazefusion.trackers.iviewx.client"):
        with _alone(script, "other_address") as sim, connect(sim) as client:
            reply_host, reply_port = sim.reply_address
            got = stream(client, sim, 0.2, min_samples=50)
    assert reply_host == "127.0.0.2" and len(got) == len(sim.sent_samples()) >= 50
    assert [r.getMessage() for r in caplog.records if "127.0.0.2" in r.getMessage()] == [
        f"iViewX: accepting datagrams from 127.0.0.2 (port {reply_port})"
    ]


def test_acceptance_follows_the_target_sequence_not_the_number_of_et_acc(script: ScriptedGaze) -> None:
    with _alone(script, "next_point_accept") as sim, connect(sim) as client:
        result = client.calibrate(5, timeout_s=5.0)
    assert result.accepted == [1, 2, 3, 4, 5] and result.shown == [1, 2, 3, 4, 5]
    assert result.accept_messages == (2, 3, 4, 5, None)


@pytest.mark.parametrize("binocular", [False, True], ids=["monocular", "binocular"])
def test_an_eye_lost_by_its_distance_alone_is_invalid(script: ScriptedGaze, binocular: bool) -> None:
    with _alone(script, "distance_loss", binocular=binocular) as sim:
        with connect(sim, with_iviewx(sample_format=LONG_FORMAT)) as client:
            got = stream(client, sim, 0.8, min_samples=400)  # runs of 25 lost samples in every 250
    sent = sim.sent_samples()
    lost = [(g, s) for g, s in zip(got, sent) if s.distance_lost]
    assert len(got) == len(sent) and len(lost) >= 25
    for g, s in lost:
        assert s.right is not None and s.right[:2] != (0.0, 0.0)  # the gaze alone would read as tracking
        assert g.right is not None and not g.right.valid
        assert g.valid == binocular and (not binocular or (g.x, g.y) == s.left[:2])


@pytest.mark.parametrize("text", ['trial 3 "start"', "trial 3 start", "stimulus.bmp"], ids=["quotes", "spaces", "word"])
def test_remarks_reach_the_recording_as_written(script: ScriptedGaze, text: str) -> None:
    with _alone(script, "verbatim_remarks") as sim, connect(sim) as client:
        client.send_message(text)
        assert wait_until(lambda: sim.remarks == [text], 2.0), sim.remarks


def test_the_whole_real_world_mode(script: ScriptedGaze) -> None:
    with IViewXSimulator(script=script, binocular=True, point_s=0.01, real_world=real_world("real-world")) as sim:
        with connect(sim, with_iviewx(sample_format=LONG_FORMAT)) as client:
            calibration = client.calibrate(9, eye="r", timeout_s=10.0)
            validation = client.validate(timeout_s=10.0)
            client.send_message('trial "1"')
            got = stream(client, sim, 0.3)
            assert wait_until(lambda: sim.remarks == ['trial "1"'])
    assert calibration.finished and calibration.accepted == list(range(1, 10)) and "ET_CAL 9 1" in sim.commands
    assert validation.lines == tuple(sim.validation_lines) and set(validation.eyes) == {"l", "r"}
    assert len(got) == len(sim.sent_samples()) and all(g.extras == ("3.09", "2.82", "3") for g in got)
    assert all(g.left.x == g.right.x for g in got if g.left.valid and g.right.valid)  # the same gaze for both eyes
    assert client.stats().malformed == 0 and client.foreign_datagrams == 0
