"""The iViewX client over real UDP on loopback: sample for sample, and every fault of docs/protocol/iviewx.md."""

from __future__ import annotations

import math
import socket
import time

import pytest

from gazefusion.fusion.config import TrackerConfig
from gazefusion.fusion.errors import ConfigError, TrackerError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.iviewx.client import IViewXClient
from gazefusion.trackers.iviewx.protocol import LONG_FORMAT
from gazefusion.trackers.iviewx.simulator import Faults, IViewXSimulator, SentSample
from gazefusion.trackers.script import ScriptedGaze
from gazefusion.trackers.types import GazeSample

from .conftest import FAST, connect, events, stream, wait_until


def _matches(got: GazeSample, sent: SentSample, scale: float) -> bool:
    if got.tracker_t != (sent.time_us // 1000 if scale == 1e-3 else sent.time_us) * scale:
        return False
    for eye, values in ((got.left, sent.left), (got.right, sent.right)):
        if values is None:
            if eye is not None:
                return False
            continue
        if values[:2] == (0.0, 0.0):
            if eye.valid or not math.isnan(eye.x):
                return False
        elif (eye.x, eye.y, eye.pupil if not math.isnan(eye.pupil) else values[2]) != values:
            return False
    return got.eye == sent.eye


@pytest.mark.parametrize("binocular", [False, True], ids=["monocular", "binocular"])
@pytest.mark.parametrize(
    "sample_format",
    ["%TU %ET %SX %SY %DX %DY", LONG_FORMAT, "%TS %ET %SX %SY", "%SC %TU %SX %SY %PX %PY %CX %CY"],
    ids=["default", "long", "ms-clock", "no-eye-type"],
)
def test_records_everything_the_simulator_sends(geometry: ScreenGeometry, binocular: bool, sample_format: str) -> None:
    script = ScriptedGaze(geometry, seed=3, blink_probability=1.0, fixation_s=(0.05, 0.1))
    with IViewXSimulator(script=script, rate_hz=500, binocular=binocular) as sim:
        with connect(sim, FAST.model_copy(update={"sample_format": sample_format})) as client:
            got = stream(client, sim, 0.3)
            stats = client.stats()
    sent = sim.sent_samples()
    assert len(sent) >= 100 and len(got) == len(sent)
    scale = 1e-3 if "%TS" in sample_format else 1e-6
    for g, s in zip(got, sent):
        if "%ET" not in sample_format:
            s = s._replace(eye="b" if binocular else "r")
        assert _matches(g, s, scale), (g, s)
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


def test_echoes_of_own_commands(script: ScriptedGaze) -> None:
    with IViewXSimulator(script=script, rate_hz=500, faults=Faults(echo=True), point_s=0.01) as sim:
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
    simulator.send_raw(b"ET_SPL 2000 r 10 20 3 3\n")  # an old-format sample still in flight
    simulator.send_raw(b"ET_SPL 3000 r 10\n")
    simulator.send_raw(b"ET_SPL 4000 r 30 40\n")
    first, second = client.get_sample(2.0), client.get_sample(2.0)
    assert (first.eye, first.x, first.y) == ("b", 11, 21)
    assert (second.eye, second.tracker_t) == ("r", 0.004)
    assert client.stats().malformed == 2


def test_eye_switch_mid_stream(simulator: IViewXSimulator, client: IViewXClient) -> None:
    client.start_streaming()
    assert wait_until(lambda: len(simulator.sent) > 50)
    simulator.set_binocular(True)
    assert wait_until(lambda: len(simulator.sent) > 100)
    client.stop_streaming()
    assert wait_until(lambda: not simulator.streaming)
    wait_until(lambda: client.stats().received >= simulator.samples_sent)
    got = list(client.samples(timeout_s=0.3))
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


def test_foreign_datagrams_are_dropped(simulator: IViewXSimulator, client: IViewXClient) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        stranger.bind(("127.0.0.2", 0))
        stranger.sendto(b"ET_SPL 1000 r 10 20 3 3\n", ("127.0.0.1", client.listen_port))
    assert wait_until(lambda: client.foreign_datagrams == 1)
    assert client.get_sample(0.1) is None and client.stats().received == 0


def test_silent_server_is_a_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        client = IViewXClient("127.0.0.1", port, 0, "127.0.0.1", TrackerConfig(ping_timeout_s=0.3))
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
    client.close()
    client.close()
    assert wait_until(lambda: not simulator.streaming)
    assert simulator.commands.count("ET_EST") == 1
    assert client._sock is None
    assert list(client.samples()) and client.finished  # what arrived stays readable after close


def test_send_message_is_a_remark(simulator: IViewXSimulator, client: IViewXClient) -> None:
    client.send_message('trial 3 "start"')
    assert wait_until(lambda: simulator.remarks == ["trial 3 'start'"])
    assert client.next_event().get("text") == 'trial 3 "start"'


def test_calibration_and_validation(simulator: IViewXSimulator, client: IViewXClient) -> None:
    seen = []
    result = client.calibrate(9, area_px=(1280, 1024), on_target=seen.append)
    assert result.finished and not result.aborted
    assert [p.index for p in result.points] == list(range(1, 10)) and result.shown == list(range(1, 10))
    assert result.points[0][1:] == (640, 512) and seen == [result.points[i - 1] for i in result.shown]
    validation = client.validate()
    assert list(validation.eyes) == ["r"]
    line = simulator.validation_lines[0].split()
    assert validation.eyes["r"].rms_x_px == float(line[2]) and validation.eyes["r"].mean_y_deg == float(line[6][:-1])


def test_binocular_validation_left_first(script: ScriptedGaze) -> None:
    with IViewXSimulator(script=script, binocular=True, point_s=0.01) as sim, connect(sim) as client:
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
