"""A recorded session folder as a camera source: registered like every kind, played at its timing."""

from __future__ import annotations

import pytest

from gazefusion.fusion.camera import RecordedSource, open_camera
from gazefusion.fusion.errors import CameraError
from gazefusion.fusion.runner import Runner
from tests.fusion.session.test_recorder import record
from tests.fusion.sessionkit import make_config


def test_a_session_folder_opens_as_a_recorded_source_without_importing_the_session(tmp_path):
    record(tmp_path / "s").close()
    assert isinstance(open_camera(str(tmp_path / "s")), RecordedSource)


def test_a_session_without_frames_is_a_camera_error(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "session.yaml").write_text("config: {}\n")
    with pytest.raises(CameraError, match="has no frames.tsv and video.mjpeg"):
        open_camera(str(tmp_path / "s")).start()


def test_a_recorded_session_is_a_camera_source(tmp_path):
    record(tmp_path / "s").close()
    config = make_config(camera__source=str(tmp_path / "s"), tracker__spec=f"replay:{tmp_path / 's'}")
    runner = Runner(config).start()
    assert runner.wait(20), "the replayed tracker ends the run"
    runner.stop()
    runner.raise_error()
    assert runner.core.stats.samples == 100
    assert runner.core.stats.frames == 10
