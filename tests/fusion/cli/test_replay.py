"""`gazefusion replay` at the command line: output folder, re-analysis, damaged sessions."""

from __future__ import annotations

import cv2
import pytest

from gazefusion.fusion.cli import main
from gazefusion.fusion.session import SessionReader
from tests.fusion.sessionkit import make_config, run_for, scene_server


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A short live session: the scene over MJPEG, scripted gaze."""
    folder = tmp_path_factory.mktemp("live") / "s"
    with scene_server() as server:
        run_for(make_config(camera__source=server.url, tracker__spec="mock:7?rate=250", record__dir=str(folder)), 2.5)
    return folder


def test_replay_writes_a_session_like_folder(session, tmp_path, capsys):
    assert main(["replay", str(session), "--out", str(tmp_path / "out"), "--fast"]) == 0
    out = capsys.readouterr().out
    assert "summary:" in out and "x real time" in out
    for name in ("fixations.tsv", "looks.tsv", "events.jsonl", "session.yaml"):
        assert (tmp_path / "out" / name).exists()
    assert (tmp_path / "out" / "fixations.tsv").read_text() == (session / "fixations.tsv").read_text()


def test_replay_renders_the_annotated_video(session, tmp_path, capsys):
    video = tmp_path / "replayed.mp4"
    assert main(["replay", str(session), "--video", str(video), "--quiet-looks"]) == 0
    assert f"video: {video}" in capsys.readouterr().out
    capture = cv2.VideoCapture(str(video))
    ok, image = capture.read()
    frames = 1 if ok else 0
    while capture.grab():
        frames += 1
    capture.release()
    recorded = sum(1 for record in SessionReader(session).frame_records() if record.fed_after >= 0)
    assert ok and image.shape == (480, 640, 3) and recorded <= frames <= recorded + 1  # + the held end


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--video", "{tmp}/out.avi"], "the annotated video is an MP4 file", id="video-suffix"),
        pytest.param(["--map-all"], "--map-all needs a marker library", id="map-all-without-markers"),
    ],
)
def test_replay_flags_refused(session, tmp_path, capsys, args, expected):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    assert main(["replay", str(session), "--quiet-looks", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gazefusion: ") and expected in err


def test_changed_parameters_change_the_result(session, tmp_path, capsys):
    assert (
        main(["replay", str(session), "--out", str(tmp_path / "idt"), "--fast", "--method", "idt", "--aoi-deg", "8"])
        == 0
    )
    replayed = SessionReader(tmp_path / "idt")
    assert replayed.header["config"]["fixations"]["method"] == "idt"
    assert replayed.header["config"]["aoi"]["size_deg"] == 8.0
    looks = replayed.table("looks.tsv")
    assert looks and all(row["aoi_w"] != "" for row in looks)


def test_a_session_with_missing_and_cut_files_replays_what_is_there(session, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("session.yaml", "gaze.tsv", "frames.tsv"):
        (damaged / name).write_bytes((session / name).read_bytes())
    gaze = (damaged / "gaze.tsv").read_bytes()
    (damaged / "gaze.tsv").write_bytes(gaze[:-7])
    assert main(["replay", str(damaged), "--fast", "--quiet-looks"]) == 0
    captured = capsys.readouterr()
    assert "video.mjpeg missing: replaying gaze without frames" in captured.err
    rows = len(list(SessionReader(session).samples()))
    assert f"summary: {rows - 1} samples, 0 frames" in captured.out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["nowhere"], "session folder not found: nowhere", id="no-folder"),
        pytest.param(["{empty}"], "is not a session folder", id="empty-folder"),
        pytest.param(["{session}", "--method", "xyz"], "unknown fixation method 'xyz'", id="bad-method"),
        pytest.param(
            ["{session}", "--param", "velocity_threshold_deg_s"], "expected NAME=NUMBER", id="bad-param-syntax"
        ),
        pytest.param(["{session}", "--param", "warp=3"], "warp", id="unknown-param"),
        pytest.param(["{session}", "--speed", "0"], "--speed 0.0: expected a number > 0", id="bad-speed"),
    ],
)
def test_bad_replay_input_ends_with_one_line(session, tmp_path, args, expected, capsys):
    (tmp_path / "empty").mkdir()
    argv = [a.format(session=session, empty=tmp_path / "empty") for a in args]
    assert main(["replay", *argv, "--fast"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


def test_a_calibration_file_gone_since_the_recording_is_taken_from_session_yaml(tmp_path, capsys):
    import yaml

    from gazefusion.calibration.mapping import TrackerCameraMapping

    mapping = TrackerCameraMapping.fullscreen((1920, 1080), (640, 480))._replace(info={"note": "test"})
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(mapping.to_dict()))
    with scene_server() as server:
        run_for(
            make_config(
                camera__source=server.url,
                tracker__spec="mock:2?rate=250",
                record__dir=str(tmp_path / "s"),
                calibration__mapping=str(path),
            ),
            1.5,
        )
    path.unlink()
    assert main(["replay", str(tmp_path / "s"), "--out", str(tmp_path / "out"), "--fast"]) == 0
    assert f"mapping file {path} is gone: using the contents recorded in session.yaml" in capsys.readouterr().err
    assert (tmp_path / "out" / "fixations.tsv").read_text() == (tmp_path / "s" / "fixations.tsv").read_text()


@pytest.mark.slow
def test_a_moved_session_finds_the_files_it_kept_inside_itself(tmp_path, capsys):
    from tests.fusion.sessionkit import marker_gaze_tracker, scene_files

    folder = tmp_path / "s"
    folder.mkdir()
    files = scene_files(folder)
    with scene_server() as server:
        config = make_config(
            camera__source=server.url,
            record__dir=str(folder),
            aoi__size_deg=4.5,
            **{key.replace(".", "__"): value for key, value in files.items()},
        )
        run_for(config, 3.0, tracker=marker_gaze_tracker(config))
    moved = folder.rename(tmp_path / "moved")
    assert main(["replay", str(moved), "--out", str(tmp_path / "out"), "--fast"]) == 0
    for name in ("fixations.tsv", "looks.tsv"):
        assert (tmp_path / "out" / name).read_text() == (moved / name).read_text()
    assert any(row.split("\t")[2] not in ("", "nan") for row in (moved / "looks.tsv").read_text().splitlines()[1:])
