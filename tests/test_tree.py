"""Tests mirror the source tree: ``tests/fusion/markers/test_detector.py`` tests
``fusion/markers/detector.py`` (or the package ``fusion/markers/detector/``). A test module
that is about no one module is in :data:`CROSS_CUTTING`, with what it tests and why it stands
apart; a new one either sits beside its module or joins that list."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Test modules beside no source module, and why (paths from the repository root).
CROSS_CUTTING: dict[str, str] = {
    "tests/test_tree.py": "this rule",
    "tests/test_layers.py": "the import-linter layers cover every module",
    "tests/test_doctests.py": "every module's docstring examples",
    "tests/docs/test_api_example.py": "the README's API example, run as written",
    "tests/docs/test_configuration.py": "the generated configuration reference and the docs hook",
    "tests/docs/test_pages.py": "every command, flag, import and name the pages quote",
    "tests/docs/test_reference.py": "the numpydoc docstrings the API reference shows",
    "tests/calibration/test_calibrate_camera_cli.py": "`calibrate camera` from images and videos, end to end",
    "tests/calibration/test_calibrate_tracker_cli.py": "`calibrate tracker` against a scripted participant, end to end",
    "tests/calibration/test_live_capture.py": "calibration/camera.py's live capture from a real MJPEG server",
    "tests/calibration/test_tracker_iviewx.py": "the tracker calibration against the iViewX simulator over UDP",
    "tests/fusion/batch/test_faults.py": "a batch's faults on a real Dask scheduler and workers",
    "tests/fusion/camera/test_ffmpeg_source.py": "the HTTP source against ffmpeg's MJPEG server",
    "tests/fusion/camera/test_http_source.py": "the HTTP source against a scripted server (every fault)",
    "tests/fusion/camera/test_other_sources.py": "the OpenCV and none sources, and choosing a source by spec",
    "tests/fusion/camera/test_probe_cli.py": "`gazefusion probe`: figures, exit codes, one-line errors",
    "tests/fusion/camera/test_real_servers.py": "the sources against motion, VLC and GStreamer servers",
    "tests/fusion/cli/test_main.py": "the CLI's entry point: commands, --help, --version, errors",
    "tests/fusion/display/test_aoiwindow.py": "the AOI drawing window on Xvfb",
    "tests/fusion/display/test_windows.py": "every OpenCV window on Xvfb, driven by xdotool",
    "tests/fusion/fixations/test_cli.py": "`gazefusion fixations`: tables in, fixations out",
    "tests/fusion/fixations/test_detectors.py": "every registered detector on gaze with known fixations",
    "tests/fusion/fixations/test_scripted_gaze.py": "every detector on the scripted eye and its truth",
    "tests/trackers/iviewx/test_faults.py": "the client under the simulator's injected faults over UDP",
}


def _test_modules() -> list[str]:
    return sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py"))


def _beside_its_module(test: str) -> bool:
    path = Path(test).relative_to("tests")
    name = path.name.removeprefix("test_").removesuffix(".py")
    return (ROOT / path.parent / f"{name}.py").is_file() or (ROOT / path.parent / name / "__init__.py").is_file()


@pytest.mark.parametrize("test", _test_modules())
def test_each_test_module_sits_beside_its_module_or_says_why_not(test: str) -> None:
    assert _beside_its_module(test) or test in CROSS_CUTTING, (
        f"{test} tests no module at the same path: name it after its module, or add it to CROSS_CUTTING with why"
    )


def test_the_cross_cutting_list_is_current() -> None:
    tests = set(_test_modules())
    assert sorted(set(CROSS_CUTTING) - tests) == [], "listed, but no such test module"
    assert sorted(test for test in CROSS_CUTTING if _beside_its_module(test)) == [], (
        "beside its module: not cross-cutting"
    )
