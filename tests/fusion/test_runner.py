"""The live pipeline over real parts: an MJPEG camera on loopback, a streaming tracker, recording.

Replay of a recorded live run gives the same fixations and looks; a camera that drops out
and comes back, and a disk that fills, do not stop the run.
"""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import pytest

from gazefusion.fusion.api import Pipeline
from gazefusion.fusion.cli import main
from gazefusion.fusion.core import LookEvent
from gazefusion.fusion.replay import replay_session
from gazefusion.fusion.runner import Runner
from gazefusion.fusion.session import TABLES, SessionReader
from gazefusion.fusion.types import FixationEvent
from tests.fusion.sessionkit import make_config, marker_gaze_tracker, run_for, run_until, scene_files, scene_server

ON_MARKERS = ("gaze_on_markers.tsv", "fixations_on_markers.tsv", "marker_positions.tsv")


def events_of(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_replay_of_a_live_run_gives_the_same_fixations_looks_and_gaze_on_markers(tmp_path):
    files = scene_files(tmp_path)
    looks_at_markers: list[str] = []

    def on_event(event: object) -> None:
        if isinstance(event, LookEvent) and event.kind == "end" and event.look.hit is not None:
            looks_at_markers.append(event.look.hit.marker_id)

    def enough(runner: Runner) -> bool:  # work done, however long a loaded machine takes for it
        return runner.core.stats.frames >= 30 and len(looks_at_markers) >= 6 and len(set(looks_at_markers)) >= 3

    with scene_server() as server:
        config = make_config(camera__source=server.url, record__dir=str(tmp_path / "live"), aoi__size_deg=4.5, **files)
        runner = run_until(config, enough, tracker=marker_gaze_tracker(config), on_event=on_event)
    live = tmp_path / "live"
    # In order, and in parts at once (cut between fixations): the same rows as the live run.
    for workers in (1, 3):
        out = tmp_path / f"replay{workers}"
        result = replay_session(live, out, workers=workers)
        assert result.problems == ()
        assert result.samples == runner.core.stats.samples and result.frames == runner.core.stats.frames
        for name in ("fixations.tsv", "looks.tsv", *ON_MARKERS):
            live_rows = (live / name).read_text().splitlines()
            assert len(live_rows) > 5, name
            assert (out / name).read_text().splitlines() == live_rows, (workers, name)
        kinds = [e["kind"] for e in events_of(out) if e["kind"].startswith(("fixation_", "look_"))]
        assert kinds == [e["kind"] for e in events_of(live) if e["kind"].startswith(("fixation_", "look_"))]
    # Every fixation searched on a frame has one summary look (on a starved machine a fixation
    # may pass while no frame comes: it has none), and the gaze on the markers finds them.
    looks = SessionReader(live).table("looks.tsv")
    ends = [row for row in looks if row["kind"] == "end"]
    searched = {row["fixation_id"] for row in looks if row["kind"] != "pursuit"}
    assert sorted(row["fixation_id"] for row in ends) == sorted(searched)
    assert searched <= {row["id"] for row in SessionReader(live).table("fixations.tsv")}
    assert len(ends) <= runner.outputs.fixations
    assert len({row["marker"] for row in ends} - {""}) >= 3
    # Every fixation on a marker has its position on it; every table loads with pandas.
    on_markers = pd.read_csv(live / "fixations_on_markers.tsv", sep="\t")
    looked = {(int(row["fixation_id"]), row["marker"]) for row in ends if row["marker"]}
    assert looked <= set(zip(on_markers.fixation_id, on_markers.marker))
    for name in ON_MARKERS:
        table = pd.read_csv(live / name, sep="\t")
        assert list(table.columns) == list(TABLES[name].names)
        assert set(json.loads((live / TABLES[name].sidecar).read_text())) == {"Description", *TABLES[name].names}


@pytest.mark.slow
def test_a_camera_that_drops_out_comes_back_and_gaze_goes_on(tmp_path):
    server = scene_server()
    port = server.port
    config = make_config(
        camera__source=server.url,
        tracker__spec="mock:1?rate=200",
        record__dir=str(tmp_path / "s"),
        camera__read_timeout_s=0.5,
        camera__reconnect_initial_s=0.1,
        camera__reconnect_max_s=0.2,
    )
    state = {"phase": 0, "restarted": None}

    def during(runner, elapsed_s):
        nonlocal server
        if state["phase"] == 0 and elapsed_s > 1.0:
            server.close()
            state["phase"] = 1
        elif state["phase"] == 1 and elapsed_s > 2.2:
            server = scene_server(port=port)
            state["phase"], state["restarted"] = 2, time.monotonic()

    try:
        runner = run_for(config, 4.5, during)
    finally:
        server.close()
    assert runner.summary()["camera_reconnects"] >= 1
    events = events_of(tmp_path / "s")
    kinds = [event["kind"] for event in events]
    assert "camera_outage" in kinds and "camera_reconnect" in kinds
    outage = next(e["t"] for e in events if e["kind"] == "camera_outage")
    back = next(e["t"] for e in events if e["kind"] == "camera_reconnect")
    reader = SessionReader(tmp_path / "s")
    frame_times = [record.t for record in reader.frame_records()]
    sample_times = [sample.t for sample in reader.samples()]
    assert any(t > back for t in frame_times), "frames resume after the reconnect"
    assert not any(outage + 0.1 < t < back - 0.1 for t in frame_times)
    assert sum(outage < t < back for t in sample_times) > 100, "gaze goes on during the outage"


def test_a_full_disk_stops_the_recording_not_the_run(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    os.symlink("/dev/full", folder / "events.jsonl")  # fails at the first event, a fixation start
    seen = []
    with scene_server() as server:
        config = make_config(camera__source=server.url, tracker__spec="mock:2?rate=200", record__dir=str(folder))
        with Pipeline(config) as pipeline:
            pipeline.on_fixation(seen.append)
            time.sleep(2.5)
            summary = pipeline.stop()
    assert "the disk is full (writing events.jsonl)" in summary["recording_error"]
    assert summary["samples"] > 300 and summary["fixations"] >= 2, "the run went on"
    assert sum(1 for e in seen if isinstance(e, FixationEvent) and e.kind == "end") == summary["fixations"]
    written = list(SessionReader(folder).samples())
    assert 0 < len(written) < summary["samples"], "what was written before is kept"


def test_the_api_iterates_looks_and_marks_into_the_recording(tmp_path):
    with scene_server() as server:
        with Pipeline(None, camera=server.url, tracker="mock:4?rate=200", record=tmp_path / "a") as pipeline:
            pipeline.trial_start("1")
            pipeline.mark("a key press")
            looks = list(pipeline.looks(timeout_s=2.0))
            pipeline.trial_end("1")
            pipeline.stop_recording()
            pipeline.start_recording(tmp_path / "b")
            time.sleep(0.5)
    assert looks and all(isinstance(look, LookEvent) for look in looks)
    marks = [
        (e["kind"], e["text"]) for e in events_of(tmp_path / "a") if e["kind"] in ("mark", "trial_start", "trial_end")
    ]
    assert marks == [("trial_start", "1"), ("mark", "a key press"), ("trial_end", "1")]
    assert len(list(SessionReader(tmp_path / "b").samples())) > 50
    assert replay_session(tmp_path / "b").samples == len(list(SessionReader(tmp_path / "b").samples()))


def test_a_tracker_stall_is_reported_and_recorded_and_the_run_goes_on(tmp_path, capsys):
    from gazefusion.trackers.iviewx.simulator import Faults, IViewXSimulator

    (tmp_path / "config.yaml").write_text("tracker:\n  watchdog_s: 0.3\n")
    with IViewXSimulator(rate_hz=250, faults=Faults(stall_at_s=0.5, stall_s=0.8)) as simulator:
        code = main(
            [
                "run",
                "--config",
                str(tmp_path / "config.yaml"),
                "--camera",
                "none",
                "--tracker",
                f"iviewx://127.0.0.1:{simulator.command_port}?listen=0",
                "--record",
                str(tmp_path / "s"),
                "--seconds",
                "2.2",
                "--headless",
            ]
        )
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert "tracker stall" in printed and "tracker resume" in printed[printed.index("tracker stall") :]
    events = events_of(tmp_path / "s")
    assert [e["kind"] for e in events if e["kind"].startswith("tracker_")] == ["tracker_stall", "tracker_resume"]
    resumed = next(e["t"] for e in events if e["kind"] == "tracker_resume")
    samples = list(SessionReader(tmp_path / "s").samples())
    assert sum(s.t > resumed for s in samples) > 100, "samples come again after the stall"
    assert any(line.startswith(f"summary: {len(samples)} samples") and "1 tracker stalls" in line for line in printed)


def test_two_marker_searches_find_exactly_the_same(tmp_path):
    # A replay builds its own detector: its matching must not differ from the live run's.
    from gazefusion.fusion.core import LazyMarkerSearch
    from tests.fusion.sessionkit import SCENE

    config = make_config(**scene_files(tmp_path))
    image, truth = SCENE.render(0.5)
    for marker in truth.values():
        x, y = marker.centre_px
        aoi = (int(x) - 50, int(y) - 50, 100, 100)
        first, second = (LazyMarkerSearch(config)(image, aoi, (x, y)) for _ in range(2))
        assert first and [h.marker_id for h in first] == [h.marker_id for h in second]
        assert [(h.inliers, h.position_m.tolist(), h.rotation.tolist()) for h in first] == [
            (h.inliers, h.position_m.tolist(), h.rotation.tolist()) for h in second
        ]
