"""The README's ten-line API example runs as written against a real MJPEG camera and a scripted
tracker; only its literals (the configuration file, the addresses, the folder, 10 s) change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazefusion.fusion.demo.scene import DemoScene
from gazefusion.fusion.demo.server import MjpegServer
from tests.conftest import REPO_ROOT

EXAMPLE = (REPO_ROOT / "docs" / "_snippets" / "api_example.py").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_api_example_records_a_session_with_its_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scene = DemoScene()
    config = tmp_path / "experiment.yaml"
    config.write_text("display:\n  headless: true\n", encoding="utf-8")
    session = tmp_path / "sessions" / "p01"
    with MjpegServer(lambda index, t_s: scene.render(t_s)[0], fps=30) as camera:
        code = (
            EXAMPLE.replace('"experiment.yaml"', repr(str(config)))
            .replace('"http://cam.local/stream"', repr(camera.url))
            .replace('"iviewx://192.168.1.2:4444"', repr("mock:1"))
            .replace('"sessions/p01"', repr(str(session)))
            .replace("timeout_s=10", "timeout_s=3")
        )
        assert code.count(repr(camera.url)) == 1 and "timeout_s=3" in code, "the example's literals changed"
        exec(compile(code, "api_example.py", "exec"), {})
    events = [json.loads(line) for line in (session / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    kinds = [event["kind"] for event in events]
    assert kinds.count("trial_start") == 1 and kinds.count("trial_end") == 1
    assert kinds.index("trial_start") < kinds.index("trial_end")
    assert any(kind == "fixation_end" for kind in kinds), "3 s of scripted gaze give fixations"
    for name in ("session.yaml", "gaze.tsv", "video.mjpeg", "frames.tsv", "fixations.tsv", "looks.tsv"):
        assert (session / name).stat().st_size > 0, name
    capsys.readouterr()
