"""Calibration against the iViewX simulator over real UDP: the server's own calibration
flow (ET_CAL … ET_FIN, ET_VLS), aborts with ET_BRK, and gazefusion's calibration end to end."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from gazefusion.calibration.participant import SimulatedParticipant
from gazefusion.calibration.tracker import CameraView
from gazefusion.calibration.tracker_procedure import (
    CalibrationAborted,
    HeadlessPresenter,
    ProcedureSettings,
    Target,
    TrackerCalibration,
)
from gazefusion.calibration.tracker_sources import run_tracker_calibration
from gazefusion.fusion.cli import main
from gazefusion.fusion.config import load_config
from gazefusion.fusion.errors import TrackerError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers import open_tracker
from gazefusion.trackers.iviewx.simulator import MODES, IViewXSimulator, real_world

GEOMETRY = ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0)
VIEW = CameraView(GEOMETRY, (640, 480))
CONFIG = load_config()
MARGIN_DEG = 0.05  # validation accuracy may exceed the simulated noise floor by this much


class _Recorder(HeadlessPresenter):
    """Headless, remembering what was shown."""

    def __init__(self, participant: SimulatedParticipant, key_after: tuple[int, str] | None = None) -> None:
        super().__init__(participant)
        self.shown: list[Target] = []
        self.key_after = key_after

    def show(self, target: Target | None) -> None:
        super().show(target)
        if target is not None:
            self.shown.append(target)

    def poll(self) -> str | None:
        if self.key_after is not None and len(self.shown) >= self.key_after[0]:
            return self.key_after[1]
        return None


def _client(simulator: IViewXSimulator):
    return open_tracker(f"iviewx://127.0.0.1:{simulator.command_port}?listen=0", CONFIG.tracker, CONFIG.screen)


@pytest.mark.parametrize("mode", MODES)
def test_the_servers_own_calibration_and_validation_are_followed_and_reported(mode: str) -> None:
    participant = SimulatedParticipant(GEOMETRY)
    presenter = _Recorder(participant)
    with (
        IViewXSimulator(script=participant, binocular=True, point_s=0.05, real_world=real_world(mode)) as simulator,
        _client(simulator) as tracker,
    ):
        figures = run_tracker_calibration(tracker, VIEW, presenter, points=9)
    assert figures["points"] == 9 and figures["accepted"] == 9
    assert set(figures) >= {"l_rms_px", "r_rms_px", "l_mean_x_deg", "r_mean_y_deg"}
    assert figures["lines"] == " | ".join(simulator.validation_lines)
    # Nine calibration targets, then the four validation targets, at the server's screen px.
    assert [t.name for t in presenter.shown] == [f"T{i}" for i in range(1, 10)] + [f"TV{i}" for i in range(1, 5)]
    assert presenter.shown[0].screen_px.tolist() == [960.0, 540.0]
    assert any(c.startswith("ET_CSZ 1920 1080") for c in simulator.commands)


def test_et_brk_from_the_server_aborts_its_calibration() -> None:
    participant = SimulatedParticipant(GEOMETRY)
    with IViewXSimulator(script=participant, point_s=0.5) as simulator, _client(simulator) as tracker:
        threading.Timer(0.3, simulator.send_raw, (b"ET_BRK\n",)).start()
        with pytest.raises(
            CalibrationAborted, match=r"iViewX calibration aborted by the tracker \(ET_BRK\): nothing written"
        ):
            run_tracker_calibration(tracker, VIEW, _Recorder(participant))


def test_escape_during_the_servers_calibration_sends_et_brk() -> None:
    participant = SimulatedParticipant(GEOMETRY)
    with IViewXSimulator(script=participant, point_s=0.2) as simulator, _client(simulator) as tracker:
        with pytest.raises(CalibrationAborted, match="iViewX calibration aborted by the user"):
            run_tracker_calibration(tracker, VIEW, _Recorder(participant, key_after=(2, "abort")))
        assert "ET_BRK" in simulator.commands


def test_et_brk_from_the_server_aborts_gazefusions_calibration() -> None:
    participant = SimulatedParticipant(GEOMETRY)
    with IViewXSimulator(script=participant, binocular=True) as simulator, _client(simulator) as tracker:
        procedure = TrackerCalibration(tracker, VIEW, _Recorder(participant), ProcedureSettings(dwell_s=0.3))
        threading.Timer(0.8, simulator.send_raw, (b"ET_BRK\n",)).start()
        with pytest.raises(CalibrationAborted, match=r"calibration aborted by the tracker \(ET_BRK\): nothing written"):
            procedure.run()


def test_the_servers_calibration_needs_an_iviewx_tracker() -> None:
    from gazefusion.trackers.mock import ScriptedTracker

    with ScriptedTracker(SimulatedParticipant(GEOMETRY), realtime=False) as tracker:
        with pytest.raises(TrackerError, match="--tracker-calibration runs the iViewX server's own calibration"):
            run_tracker_calibration(tracker, VIEW, HeadlessPresenter())


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["sim", "sim?mode=real-world"], ids=MODES)
def test_calibration_through_the_simulator_over_udp_with_a_real_camera(
    ffmpeg_camera, tmp_path: Path, capsys, spec: str
) -> None:
    out = tmp_path / "mapping.yaml"
    code = main(
        [
            "-q",
            "calibrate",
            "tracker",
            "--tracker",
            spec,
            "--camera",
            ffmpeg_camera.url,
            "--headless",
            "--simulate-participant",
            "--tracker-calibration",
            "--dwell",
            "0.3",
            "--seed",
            "11",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    data = yaml.safe_load(out.read_text())
    overall = data["validation"]["overall"]
    floor = data["figures"]["noise floor (true inverse, same samples)"]
    assert data["failed_targets"] == [] and data["kind"] == "poly2"
    assert overall["accuracy_deg"] <= floor["accuracy_deg"] + MARGIN_DEG
    assert overall["offset_of_mean_deg"] <= floor["offset_of_mean_deg"] + MARGIN_DEG
    server = data["figures"]["iViewX (server's own calibration and ET_VLS)"]
    assert server["points"] == 9 and server["accepted"] == 9 and "r_rms_px" in server
    assert server["lines"].startswith("ET_VLS l") if spec == "sim" else server["lines"].startswith("ET_VLS left")
    printed = capsys.readouterr().out
    assert "iViewX (server's own calibration and ET_VLS): points 9" in printed and "noise floor" in printed
    assert (tmp_path / "mapping.png").is_file()
