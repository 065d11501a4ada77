"""The plan: sessions named by their path below a common folder, every combination of a sweep, each once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gazefusion.fusion.batch.plan import expand_sessions, parse_sweep, plan_tasks, session_names


@pytest.mark.parametrize(
    ("folders", "names"),
    [
        pytest.param(["/d/p01/s1", "/d/p02/s1"], ["p01/s1", "p02/s1"], id="same-name-other-participant"),
        pytest.param(["/d/a", "/d/b"], ["a", "b"], id="siblings"),
        pytest.param(["/d/x/a", "/e/b"], ["d/x/a", "e/b"], id="far-apart"),
        pytest.param(["/d/only"], ["only"], id="one"),
    ],
)
def test_session_names_are_paths_below_the_common_folder(folders: list[str], names: list[str]) -> None:
    assert session_names([Path(f) for f in folders]) == names


def test_globs_take_folders_in_order_and_pass_over_files(tmp_path: Path) -> None:
    for name in ("b", "a", "c"):
        (tmp_path / name).mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert expand_sessions([str(tmp_path / "*")]) == [tmp_path / n for n in ("a", "b", "c")]
    assert expand_sessions([str(tmp_path / "c"), str(tmp_path / "[ab]")]) == [tmp_path / n for n in ("c", "a", "b")]


def test_every_combination_of_the_sweep_in_order(tmp_path: Path) -> None:
    params = parse_sweep(["fixations.params.velocity_threshold_deg_s=20,30", "aoi.size_deg=3,4.5,6"])
    assert [p.values for p in params] == [(20, 30), (3, 4.5, 6)]
    tasks = plan_tasks([tmp_path / "a", tmp_path / "b"], params)
    assert len(tasks) == 12 and len({task.out for task in tasks}) == 12
    assert tasks[0].params == (("fixations.params.velocity_threshold_deg_s", "20"), ("aoi.size_deg", "3"))
    assert tasks[0].overrides == (("fixations.params.velocity_threshold_deg_s", 20), ("aoi.size_deg", 3))
    assert tasks[0].out == "sessions/a/velocity_threshold_deg_s=20,size_deg=3"
    assert [t.session for t in tasks] == ["a"] * 6 + ["b"] * 6


def test_labels_are_one_folder_name_each(tmp_path: Path) -> None:
    params = parse_sweep(["markers.min_inliers=8,12", "fixations.params.min_duration_s=0.06"])
    assert plan_tasks([tmp_path / "a"], params)[0].out == "sessions/a/min_inliers=8,min_duration_s=0.06"
    files = tmp_path / "lib"
    files.mkdir()
    for name in ("one.yaml", "two.yaml"):
        (files / name).write_text("[]")
    params = parse_sweep([f"markers.file={files / 'one.yaml'},{files / 'two.yaml'}"])
    outs = [task.out for task in plan_tasks([tmp_path / "a"], params)]
    assert len(set(outs)) == 2 and all("/" not in out.removeprefix("sessions/a/") for out in outs)


def test_no_sweep_is_one_task_per_session(tmp_path: Path) -> None:
    tasks = plan_tasks([tmp_path / "a"], parse_sweep([]))
    assert [(t.session, t.params, t.out) for t in tasks] == [("a", (), "sessions/a")]
