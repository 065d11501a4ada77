"""The AOI editor's state: clicks, Enter, naming, refusals; what it draws."""

from __future__ import annotations

import numpy as np
import pytest

from gazefusion.fusion.analysis.aois import Aoi
from gazefusion.fusion.analysis.editor import KEY_BACKSPACE, KEY_ESCAPE, AoiEditor

ENTER = 13


def _type(editor: AoiEditor, text: str) -> None:
    for char in text:
        editor.key(ord(char))


@pytest.fixture
def editor() -> AoiEditor:
    return AoiEditor("poster", np.full((300, 400, 3), 128, np.uint8), [Aoi(name="old", rect=(0, 0, 10, 10))], scale=2.0)


def test_click_close_and_name(editor: AoiEditor) -> None:
    for x, y in ((21, 31), (221, 31), (221, 131), (21, 131), (900, 900)):  # the last is off the picture
        editor.click(x, y)
    editor.key(KEY_BACKSPACE[0])
    editor.click(21, 131)
    editor.key(ENTER)
    assert editor.naming == ""
    editor.click(300, 300)  # ignored while naming
    _type(editor, "titlex")
    editor.key(KEY_BACKSPACE[0])
    editor.key(ENTER)
    assert [aoi.name for aoi in editor.aois] == ["old", "title"]
    np.testing.assert_allclose(editor.aois[1].vertices, [[10, 15], [110, 15], [110, 65], [10, 65]])
    assert editor.vertices == [] and editor.naming is None
    editor.key(ord("u"))
    assert [aoi.name for aoi in editor.aois] == ["old"]


def test_refusals(editor: AoiEditor) -> None:
    editor.click(10, 10)
    editor.click(100, 10)
    editor.key(ENTER)
    assert editor.naming is None and "at least 3" in editor.message
    for x, y in ((100, 100), (10, 100)):
        editor.click(x, y)
    # (10,10) (100,10) (100,100) (10,100) in a bow-tie order: it crosses itself
    editor.vertices = [editor.vertices[i] for i in (0, 2, 1, 3)]
    editor.key(ENTER)
    assert editor.naming is None and "crosses itself" in editor.message
    editor.key(KEY_ESCAPE)
    assert editor.vertices == []
    for x, y in ((10, 10), (100, 10), (100, 100)):
        editor.click(x, y)
    editor.key(ENTER)
    _type(editor, "old")
    editor.key(ENTER)
    assert "taken" in editor.message and editor.naming == "old"
    editor.key(KEY_ESCAPE)
    assert len(editor.aois) == 1


def test_render_shows_the_regions(editor: AoiEditor) -> None:
    plain = editor.render()
    assert plain.shape == (600 + 30, 800, 3)
    for x, y in ((100, 100), (300, 100), (300, 300)):
        editor.click(x, y)
    drawing = editor.render()
    assert not np.array_equal(plain[:600], drawing[:600])
