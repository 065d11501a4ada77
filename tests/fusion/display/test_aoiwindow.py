"""The AOI drawing window for real on Xvfb: click a polygon on a marker picture, name it, the YAML is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from gazefusion.fusion.aoiwindow import WINDOW
from gazefusion.fusion.demo.scene import DemoScene
from tests.fusion.display.conftest import Command, XDisplay, wait_for


def test_click_a_polygon_name_it_and_the_file_is_written(xdisplay: XDisplay, tmp_path: Path) -> None:
    library = DemoScene().write_library(tmp_path / "markers")
    out = tmp_path / "aois.yaml"
    command = Command(xdisplay, ["aois", str(library), "--out", str(out), "--marker", "poster"], tmp_path)
    try:
        window = xdisplay.wait_window(WINDOW, command)
        # The 400 px picture is shown twice its size (800 px) with a status bar under it.
        wait_for(lambda: xdisplay.geometry(window)[2:] == (800, 830), "the window fits the picture")
        before = xdisplay.grab_window(window)
        for x, y in ((100, 100), (500, 100), (500, 300), (100, 300)):
            xdisplay.xdotool("mousemove", "--window", str(window), str(x), str(y), "click", "1")
        wait_for(lambda: not np.array_equal(xdisplay.grab_window(window), before), "the corners are drawn")
        xdisplay.key(window, "Return", "t", "i", "t", "l", "e", "Return", "q")
        code, _, err = command.finish()
    finally:
        command.kill()
    assert code == 0, err
    written = yaml.safe_load(out.read_text())
    assert [aoi["name"] for aoi in written["poster"]] == ["title"]
    # Shown px / 2 - 0.5: the picture px of the clicks.
    expected = [[49.5, 49.5], [249.5, 49.5], [249.5, 149.5], [49.5, 149.5]]
    np.testing.assert_allclose(written["poster"][0]["polygon"], expected, atol=1.0)
