"""The display's keys (no window is opened), through the public API."""

from __future__ import annotations

import pytest

from gazefusion.fusion.api import Pipeline
from gazefusion.fusion.display import KEYS_HELP, Display
from gazefusion.fusion.errors import DisplayError
from gazefusion.fusion.overlay import LAYERS
from tests.fusion.sessionkit import make_config


@pytest.fixture
def display(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")  # only consulted, never connected to: no window is opened here
    return Display(Pipeline(make_config()))


def test_keys_quit_pause_toggle_layers_and_mark(display):
    told: list[str] = []
    display.echo = told.append
    assert display._key(ord(" ")) and display.paused
    assert display._key(ord(" ")) and not display.paused
    for number, layer in enumerate(LAYERS, start=1):
        display._key(ord(str(number)))
        assert layer not in display.layers
        display._key(ord(str(number)))
        assert layer in display.layers
    display._key(ord("m"))
    display._key(ord("m"))
    marks = [display.pipeline.runner._inbox.get(0).value.text for _ in range(2)]
    assert marks == ["key mark 1", "key mark 2"]
    assert display._key(ord("q")) is False and display._key(27) is False
    # Each effect is told once the window has shown it (after its next wait for a key), not before.
    assert told == []
    display._tell()
    assert told == [
        "picture paused (the run and the recording go on): space resumes",
        "picture resumed",
        *(f"layer {layer} {state}" for layer in LAYERS for state in ("off", "on")),
        "mark 1: key mark 1",
        "mark 2: key mark 2",
    ]
    display._tell()
    assert len(told) == 12


def test_no_display_means_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DisplayError, match="run with --headless"):
        Display(Pipeline(make_config()))


def test_the_keys_help_names_every_key() -> None:
    assert KEYS_HELP == "q/Esc quit, space pause, 1-4 toggle layers, m mark"
