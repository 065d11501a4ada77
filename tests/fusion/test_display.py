"""The display's keys (no window is opened) and the session folder as a camera source."""

from __future__ import annotations

import pytest

from gazefusion.fusion.display import Display
from gazefusion.fusion.errors import DisplayError
from gazefusion.fusion.overlay import LAYERS
from gazefusion.fusion.runner import Runner
from tests.fusion.sessionkit import make_config
from tests.fusion.test_session import record


@pytest.fixture
def display(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")  # only consulted, never connected to: no window is opened here
    return Display(Runner(make_config()))


def test_keys_quit_pause_toggle_layers_and_mark(display):
    assert display._key(ord(" ")) and display.paused
    assert display._key(ord(" ")) and not display.paused
    for number, layer in enumerate(LAYERS, start=1):
        display._key(ord(str(number)))
        assert layer not in display.layers
        display._key(ord(str(number)))
        assert layer in display.layers
    display._key(ord("m"))
    display._key(ord("m"))
    marks = [display.runner._control.get_nowait()[1].text for _ in range(2)]
    assert marks == ["key mark 1", "key mark 2"]
    assert display._key(ord("q")) is False and display._key(27) is False


def test_no_display_means_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayError, match="run with --headless"):
        Display(Runner(make_config()))


def test_a_recorded_session_is_a_camera_source(tmp_path):
    record(tmp_path / "s").close()
    config = make_config(camera__source=str(tmp_path / "s"), tracker__spec=f"replay:{tmp_path / 's'}")
    runner = Runner(config).start()
    assert runner.wait(20), "the replayed tracker ends the run"
    runner.stop()
    runner.raise_error()
    assert runner.samples_fed == 100
    assert runner.frames_fed == 10
