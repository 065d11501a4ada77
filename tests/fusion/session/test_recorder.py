"""The session folder: written as it goes, read back whole, cut off, or with parts missing."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import simplejpeg
import yaml

from gazefusion.fusion.config import load_config
from gazefusion.fusion.core import FusionCore, LookEvent
from gazefusion.fusion.fixations import make_detector
from gazefusion.fusion.session import SessionReader, SessionRecorder
from gazefusion.fusion.types import Fixation, FixationEvent, Frame, Look, MarkerHit, MovementEvent
from gazefusion.trackers.types import EyeGaze, GazeSample
from tests.fusion.test_core import GEOMETRY, pursuit_plan, run_core

CONFIG = load_config(None, {"camera.source": "http://user:secret@127.0.0.1:9/stream", "record.flush_every_s": 0.0})


def sample(i: int) -> GazeSample:
    t = 100.0 + i / 250
    valid = i % 50 != 0
    x, y = (900.0 + i % 7, 500.25) if valid else (math.nan, math.nan)
    return GazeSample(t, 5.0 + i / 250, x, y, valid, 3.5, "b", EyeGaze(899.0, 500.0, 3.4), EyeGaze(901.0, 500.5, 3.6))


def frame(i: int) -> Frame:
    image = np.full((48, 64, 3), i * 20 % 255, np.uint8)
    jpeg = simplejpeg.encode_jpeg(image, quality=90, colorspace="BGR")
    return Frame(i, 100.0 + i / 30 + 0.001, math.nan, simplejpeg.decode_jpeg(jpeg, colorspace="BGR"), jpeg)


def look_event(fixation_id: int, marker: str | None) -> LookEvent:
    fixation = Fixation(fixation_id, 100.0, 100.3, 0.304, 900.0, 500.0, 0.4, 76, 280.0, 222.2)
    hit = None
    if marker:
        hit = MarkerHit(
            marker,
            np.zeros((4, 2)),
            np.eye(3),
            33,
            0.7,
            np.array([0.1, -0.05, 1.2]),
            np.array([0.0, 0.1, 0.0]),
            1.2052,
            False,
            True,
        )
    return LookEvent("first", Look(fixation, hit, 100.2, 6, (250, 190, 60, 64)), 1, 1 if marker else 0)


def record(directory: Path, n_samples: int = 100, n_frames: int = 10) -> SessionRecorder:
    recorder = SessionRecorder(directory, CONFIG)
    fed = 0
    for i in range(n_samples):
        recorder.write(sample(i))
        fed += 1
        if i % 10 == 9 and i // 10 < n_frames:
            recorder.write_frame(frame(i // 10), fed if i // 10 != 3 else -1)
    end = FixationEvent("end", Fixation(1, 100.0, 100.3, 0.304, 900.0, 500.0, 0.4, 76, 280.0, 222.2), 100.31)
    recorder.write(end)
    recorder.write(look_event(1, "poster"))
    recorder.write(look_event(2, None))
    recorder.mark("trial 1 start", 100.05)
    return recorder


def test_a_session_reads_back_what_was_recorded(tmp_path):
    recorder = record(tmp_path / "s")
    recorder.close({"samples": 100})
    reader = SessionReader(tmp_path / "s")
    assert list(reader.samples()) == [sample(i) for i in range(100)]
    frames = list(reader.frames())
    assert [f.jpeg for _, f in frames] == [frame(i).jpeg for i in range(10)]
    assert [r.fed_after for r, _ in frames] == [10, 20, 30, -1, 50, 60, 70, 80, 90, 100]
    np.testing.assert_array_equal(frames[2][1].image, frame(2).image)
    # Inputs in the live order: frame k after exactly fed_after samples; the skipped frame is skipped.
    order = ["f" if isinstance(item, Frame) else "s" for item in reader.inputs()]
    assert order.count("f") == 9 and order.index("f") == 10 and len(order) == 109
    looks = reader.table("looks.tsv")
    assert [(row["fixation_id"], row["marker"], row["kind"]) for row in looks] == [
        ("1", "poster", "first"),
        ("2", "", "first"),
    ]
    assert float(looks[0]["z_m"]) == 1.2 and looks[0]["inliers"] == "33" and looks[1]["z_m"] == ""
    assert reader.table("fixations.tsv")[0]["cam_y"] == "222.2"
    kinds = [event["kind"] for event in reader.events()]
    assert kinds == ["fixation_end", "look_first", "look_first", "mark"]
    header = yaml.safe_load((tmp_path / "s" / "session.yaml").read_text())
    assert header["software"]["name"] == "gazefusion" and header["summary"] == {"samples": 100}
    assert header["config"]["screen"]["size_px"] == [1920, 1080] and "end_time" in header
    assert "secret" not in (tmp_path / "s" / "session.yaml").read_text()
    assert reader.problems == []


def test_it_is_flushed_as_it_goes(tmp_path):
    recorder = record(tmp_path / "s")  # not closed: as a killed run leaves it
    reader = SessionReader(tmp_path / "s")
    assert len(list(reader.samples())) == 100
    assert len(list(reader.frames())) == 10
    assert len(list(reader.events())) == 4
    recorder.close()


def test_truncated_files_are_read_up_to_the_cut(tmp_path):
    record(tmp_path / "s").close()
    folder = tmp_path / "s"
    gaze = (folder / "gaze.tsv").read_bytes()
    (folder / "gaze.tsv").write_bytes(gaze[: len(gaze) - 30])  # cut inside the last row
    video = (folder / "video.mjpeg").read_bytes()
    (folder / "video.mjpeg").write_bytes(video[: len(video) - 100])  # the last JPEG cut off
    events = (folder / "events.jsonl").read_bytes()
    (folder / "events.jsonl").write_bytes(events[:-10])
    reader = SessionReader(folder)
    assert list(reader.samples()) == [sample(i) for i in range(99)]
    assert len(list(reader.frames())) == 9
    assert len(list(reader.events())) == 3
    assert any("video.mjpeg is cut off" in problem for problem in reader.problems)
    assert any("events.jsonl ends in a cut-off line" in problem for problem in reader.problems)


@pytest.mark.parametrize("missing", ["video.mjpeg", "gaze.tsv", "session.yaml"])
def test_missing_files_are_named_and_the_rest_is_read(tmp_path, missing):
    record(tmp_path / "s").close()
    (tmp_path / "s" / missing).unlink()
    reader = SessionReader(tmp_path / "s")
    assert any(problem.startswith(missing) for problem in reader.problems)
    assert len(list(reader.samples())) == (0 if missing == "gaze.tsv" else 100)
    assert len(list(reader.frames())) == (0 if missing == "video.mjpeg" else 10)


def test_recording_into_a_session_is_refused(tmp_path):
    record(tmp_path / "s").close()
    with pytest.raises(Exception, match="already holds a session"):
        SessionRecorder(tmp_path / "s", CONFIG)


def test_disk_full_stops_recording_with_one_message_and_keeps_what_was_written(tmp_path, caplog):
    folder = tmp_path / "s"
    folder.mkdir()
    os.symlink("/dev/full", folder / "video.mjpeg")  # every write to it fails with ENOSPC
    recorder = SessionRecorder(folder, CONFIG)
    recorder.write(sample(0))
    recorder.write_event({"kind": "mark", "t": 1.0, "text": "before"})
    recorder.write_frame(frame(0), 1)
    assert recorder.error is not None and "the disk is full (writing video.mjpeg)" in recorder.error
    assert not recorder.active
    recorder.write(sample(1))  # ignored from now on, without another message
    recorder.write_event({"kind": "mark", "t": 2.0, "text": "after"})
    recorder.close()
    assert [r.message for r in caplog.records if "recording stopped" in r.message] == [recorder.error]
    assert list(SessionReader(folder).samples()) == [sample(0)]
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert [event["text"] for event in events] == ["before"]


def test_frames_without_jpeg_are_recorded_as_the_core_saw_them(tmp_path):
    from gazefusion.fusion.camera.recorded import as_jpeg_frame

    rng = np.random.default_rng(0)
    raw = Frame(0, 1.0, math.nan, rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    seen = as_jpeg_frame(raw)
    assert seen.jpeg is not None and not np.array_equal(seen.image, raw.image)  # JPEG is lossy
    recorder = SessionRecorder(tmp_path / "s", CONFIG)
    recorder.write_frame(seen, 0)
    recorder.close()
    ((_, replayed),) = SessionReader(tmp_path / "s").frames()
    np.testing.assert_array_equal(replayed.image, seen.image)


def test_pursuits_go_into_their_table_events_and_looks(tmp_path):
    samples, frames, search = pursuit_plan()
    outputs = run_core(FusionCore(make_detector("ivdt", GEOMETRY), GEOMETRY, marker_search=search), samples, frames)
    recorder = SessionRecorder(tmp_path / "s", CONFIG)
    for output in outputs:
        recorder.write(output)
    recorder.close()
    reader = SessionReader(tmp_path / "s")
    pursuits = reader.table("pursuits.tsv")
    ended = [
        o.movement for o in outputs if isinstance(o, MovementEvent) and o.kind == "end" and o.movement.kind == "pursuit"
    ]
    assert len(pursuits) == len(ended) == 1
    row, pursuit = pursuits[0], ended[0]
    assert float(row["onset"]) == pursuit.onset and float(row["mean_velocity_deg_s"]) == pursuit.mean_velocity_deg_s
    assert float(row["direction_deg"]) == pytest.approx(0.0, abs=2.0) or float(row["direction_deg"]) > 358.0
    sidecar = json.loads((tmp_path / "s" / "pursuits.json").read_text())
    assert [name for name in sidecar if name != "Description"] == list(row)
    assert sidecar["mean_velocity_deg_s"]["Units"] == "deg/s"
    kinds = [record["kind"] for record in reader.events()]
    assert "pursuit_start" in kinds and "pursuit_end" in kinds and "look_pursuit" in kinds
    assert kinds.index("pursuit_start") < kinds.index("pursuit_end") < kinds.index("look_pursuit")
    assert "saccade_end" not in kinds or kinds.count("saccade_end") == sum(
        1 for o in outputs if isinstance(o, MovementEvent) and o.movement.kind == "saccade"
    )
    looks = [look for look in reader.table("looks.tsv") if look["kind"] == "pursuit"]
    assert len(looks) == 1 and looks[0]["marker"] == "car"
    assert looks[0]["pursuit_id"] == row["id"] and looks[0]["fixation_id"] == ""
