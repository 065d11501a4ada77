"""The demo's devices in a child process: a camera and a tracker that answer, a clear failure."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests
import simplejpeg

from gazefusion.fusion.demo.devices import DemoDevices
from gazefusion.fusion.demo.scene import DEFAULT_MARKERS
from gazefusion.fusion.demo.truth import TRUTH_COLUMNS
from gazefusion.fusion.errors import GazefusionError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.tables import TableReader

GEOMETRY = ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0)


def test_camera_serves_and_tracker_answers(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(5.0)
        client.bind(("127.0.0.1", 0))
        with DemoDevices(tmp_path / "truth.tsv", GEOMETRY, client.getsockname()[1]) as devices:
            answer = requests.get(devices.snapshot_url, timeout=10)
            assert simplejpeg.decode_jpeg(answer.content).shape == (480, 640, 3)
            # The simulator answers a ping, to the data port it was given (as iViewX does).
            client.sendto(b"ET_PNG\n", ("127.0.0.1", devices.command_port))
            assert client.recvfrom(1024)[0].strip() == b"ET_PNG"
    report = devices.report
    assert report is not None and report.server.rendered > 0
    rows = list(TableReader(tmp_path / "truth.tsv", TRUTH_COLUMNS))
    assert len(rows) == len(DEFAULT_MARKERS) * report.server.rendered
    assert devices.stop() is report  # idempotent


def test_a_device_that_cannot_start_is_one_clear_line(tmp_path: Path) -> None:
    devices = DemoDevices(tmp_path / "missing" / "truth.tsv", GEOMETRY, 9)
    with pytest.raises(GazefusionError, match="the demo's devices failed to start: .*truth.tsv") as info:
        devices.start()
    assert "\n" not in str(info.value)
