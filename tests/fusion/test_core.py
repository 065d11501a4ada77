"""The fusion core: mapping, fixation events with camera centroids, AOIs, looks, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazefusion.calibration.mapping import TrackerCameraMapping
from gazefusion.fusion.core import FusionCore, LookEvent, mean_hit
from gazefusion.fusion.errors import CalibrationError
from gazefusion.fusion.fixations import make_detector
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.fusion.types import FixationEvent, Frame, MarkerHit, MovementEvent
from gazefusion.trackers.types import GazeSample

GEOMETRY = ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0)
CAMERA = (640, 480)
RATE_HZ = 250.0
FPS = 30.0


def gaze_plan(targets: list[tuple[float, float, float]], seed: int = 1) -> list[GazeSample]:
    """Fixations at (x, y) for dwell s each, 40 ms linear saccades between, 0.3 px noise."""
    rng = np.random.default_rng(seed)
    samples: list[GazeSample] = []
    t = 10.0
    previous = None
    for x, y, dwell_s in targets:
        if previous is not None:
            for k in range(int(0.04 * RATE_HZ)):
                a = (k + 1) / (0.04 * RATE_HZ)
                px, py = previous[0] + a * (x - previous[0]), previous[1] + a * (y - previous[1])
                samples.append(GazeSample(t, t, px, py, True))
                t += 1 / RATE_HZ
        for _ in range(int(dwell_s * RATE_HZ)):
            samples.append(GazeSample(t, t, x + rng.normal(0, 0.3), y + rng.normal(0, 0.3), True))
            t += 1 / RATE_HZ
        previous = (x, y)
    return samples


def frames_for(samples: list[GazeSample]) -> list[Frame]:
    image = np.zeros((CAMERA[1], CAMERA[0], 3), np.uint8)
    t0, t1 = samples[0].t, samples[-1].t
    return [Frame(i, t0 + i / FPS + 0.001, math.nan, image) for i in range(int((t1 - t0) * FPS))]


def run_core(core: FusionCore, samples: list[GazeSample], frames: list[Frame]) -> list:
    """Feed in host-time order (samples first on ties), as the runner and replay do."""
    items = sorted([(s.t, 0, i, s) for i, s in enumerate(samples)] + [(f.t, 1, i, f) for i, f in enumerate(frames)])
    outputs = []
    for _, kind, _, item in items:
        outputs += core.feed_sample(item) if kind == 0 else core.feed_frame(item)
    return outputs + core.finish()


def box_search(boxes: dict[str, tuple[float, float, float, float]]):
    """A stand-in marker search until the markers part lands: a hit for every box overlapping the AOI."""

    def search(image, aoi, gaze_xy):
        ax, ay, aw, ah = aoi
        hits = []
        for name, (x0, y0, x1, y1) in boxes.items():
            if x0 < ax + aw and ax < x1 and y0 < ay + ah and ay < y1:
                corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
                inside = x0 <= gaze_xy[0] <= x1 and y0 <= gaze_xy[1] <= y1
                hits.append(
                    MarkerHit(
                        name, corners, np.eye(3), 40, 0.5, np.array([0.1, 0.0, 1.0]), np.zeros(3), 1.005, False, inside
                    )
                )
        return sorted(hits, key=lambda h: not h.contains_gaze)

    return search


def make_core(**kwargs) -> FusionCore:
    return FusionCore(make_detector("ivt", GEOMETRY), GEOMETRY, **kwargs)


def test_fixations_get_camera_centroids_through_the_default_mapping():
    samples = gaze_plan([(960, 540, 0.5), (480, 300, 0.5)])
    outputs = run_core(make_core(), samples, frames_for(samples))
    ends = [o for o in outputs if isinstance(o, FixationEvent) and o.kind == "end"]
    assert len(ends) == 2
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), CAMERA)
    for end in ends:
        expected = mapping.to_camera(np.array([end.fixation.x, end.fixation.y]))
        assert end.fixation.cam_x == pytest.approx(expected[0])
        assert end.fixation.cam_y == pytest.approx(expected[1])
    # Screen centre is camera centre under the full-screen default.
    assert ends[0].fixation.cam_x == pytest.approx(320, abs=0.5)
    assert ends[0].fixation.cam_y == pytest.approx(240, abs=0.5)


def test_aoi_is_the_visual_angle_through_geometry_and_mapping():
    core = make_core(aoi_size_deg=3.0)
    core.set_camera_size(CAMERA)
    x, y, w, h = core.aoi_for(960, 540)
    # 3 degrees centred on the line of sight, in screen px, then the display scale (1080/480).
    side_screen_x = 2 * 650.0 * math.tan(math.radians(1.5)) / (531.0 / 1920)
    side_screen_y = 2 * 650.0 * math.tan(math.radians(1.5)) / (299.0 / 1080)
    assert w == pytest.approx(side_screen_x / 2.25, abs=2)
    assert h == pytest.approx(side_screen_y / 2.25, abs=2)
    assert x + w / 2 == pytest.approx(320, abs=1.5)


def test_aoi_is_clipped_to_the_frame():
    core = make_core(aoi_size_deg=6.0)
    core.set_camera_size(CAMERA)
    x, y, w, h = core.aoi_for(300, 5)  # near the letterboxed image's top-left corner
    assert x == 0 and y == 0 and x + w <= CAMERA[0] and y + h <= CAMERA[1]


def test_a_fixation_on_nothing_gives_a_look_at_nothing_first_and_at_its_end():
    samples = gaze_plan([(960, 540, 0.6)])
    outputs = run_core(make_core(), samples, frames_for(samples))
    looks = [o for o in outputs if isinstance(o, LookEvent)]
    assert [look.kind for look in looks] == ["first", "end"]
    assert all(look.marker_id is None and look.look.hit is None for look in looks)
    assert looks[-1].frames_searched > 10


def test_looks_name_the_marker_on_first_frame_change_and_summary():
    # Marker "a" around the camera centre, "b" near camera (107, 133) ~ screen (480, 300).
    search = box_search({"a": (300, 220, 340, 260), "b": (90, 115, 125, 155)})
    samples = gaze_plan([(960, 540, 0.5), (480, 300, 0.5), (1700, 100, 0.4)])
    frames = frames_for(samples)
    outputs = run_core(make_core(marker_search=search), samples, frames)
    looks = [o for o in outputs if isinstance(o, LookEvent)]
    by_fixation: dict[int, list[LookEvent]] = {}
    for look in looks:
        by_fixation.setdefault(look.fixation.id, []).append(look)
    markers = [[(look.kind, look.marker_id) for look in group] for group in by_fixation.values()]
    assert markers == [[("first", "a"), ("end", "a")], [("first", "b"), ("end", "b")], [("first", None), ("end", None)]]
    # The first look comes from the frame nearest the fixation, not later than its start event.
    starts = {o.fixation.id: o for o in outputs if isinstance(o, FixationEvent) and o.kind == "start"}
    for fixation_id, group in by_fixation.items():
        first = group[0].look
        assert first.t <= starts[fixation_id].t + 1 / FPS
        assert first.t >= starts[fixation_id].fixation.onset - 1 / FPS


def test_the_marker_changing_during_a_fixation_gives_a_change_look():
    state = {"calls": 0}
    hit_search = box_search({"a": (0, 0, 640, 480)})

    def flicker(image, aoi, gaze_xy):
        state["calls"] += 1
        return hit_search(image, aoi, gaze_xy) if state["calls"] > 3 else []

    samples = gaze_plan([(960, 540, 0.6)])
    looks = [
        o for o in run_core(make_core(marker_search=flicker), samples, frames_for(samples)) if isinstance(o, LookEvent)
    ]
    assert [(look.kind, look.marker_id) for look in looks] == [("first", None), ("change", "a"), ("end", "a")]
    assert looks[-1].frames_on_marker == looks[-1].frames_searched - 3


def test_same_input_same_output():
    search = box_search({"a": (300, 220, 340, 260)})
    samples = gaze_plan([(960, 540, 0.5), (480, 300, 0.5)], seed=4)
    frames = frames_for(samples)
    first = run_core(make_core(marker_search=search), samples, frames)
    second = run_core(make_core(marker_search=search), samples, frames)
    assert repr(first) == repr(second)


def test_a_mapping_for_another_camera_resolution_is_refused():
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), (1280, 720))
    core = make_core(mapping=mapping)
    frame = Frame(0, 1.0, math.nan, np.zeros((480, 640, 3), np.uint8))
    with pytest.raises(CalibrationError, match="1280x720 camera image but the camera gives 640x480"):
        core.feed_frame(frame)


def test_samples_outside_the_calibrated_area_are_flagged():
    area = np.array([[500, 300], [1400, 300], [1400, 800], [500, 800]], float)
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), CAMERA)._replace(calibrated_area=area)
    core = make_core(mapping=mapping)
    core.feed_sample(GazeSample(1.0, 1.0, 960, 540, True))
    assert core.state.gaze_outside is False
    core.feed_sample(GazeSample(1.004, 1.004, 100, 100, True))
    assert core.state.gaze_outside is True
    assert core.stats.samples_outside_calibrated == 1


def test_mean_hit_averages_the_pose():
    a = MarkerHit("m", np.zeros((4, 2)), np.eye(3), 20, 1.0, np.array([0.0, 0.0, 1.0]), np.zeros(3), 1.0)
    b = a._replace(inliers=40, reprojection_error_px=2.0, position_m=np.array([0.2, 0.0, 1.0]))
    mean = mean_hit([a, b])
    np.testing.assert_allclose(mean.position_m, [0.1, 0.0, 1.0])
    assert mean.distance_m == pytest.approx(math.hypot(0.1, 1.0))
    assert mean.inliers == 30 and mean.reprojection_error_px == pytest.approx(1.5)


def test_bursts_of_arrival_times_do_not_break_fixations():
    # Samples read in bursts of 8 share an arrival time (a busy host); the tracker clock is even.
    samples = gaze_plan([(960, 540, 0.6), (480, 300, 0.6)])
    bursty = [s._replace(t=samples[i - i % 8].t + 0.05, tracker_t=s.t - 10.0) for i, s in enumerate(samples)]
    for inputs in (samples, bursty):
        ends = [o for o in run_core(make_core(), inputs, []) if isinstance(o, FixationEvent) and o.kind == "end"]
        assert len(ends) == 2
        assert ends[0].fixation.n_samples > 0.5 * RATE_HZ * 0.9
        assert ends[0].fixation.onset == pytest.approx(inputs[0].t, abs=0.06)


def test_the_detector_clock_follows_a_drifting_tracker_clock():
    # Two minutes of gaze; the tracker clock runs 0.1 % slow; arrivals jitter by up to 8 ms.
    rng = np.random.default_rng(3)
    plan = gaze_plan([(960, 540, 0.5), (480, 300, 0.5)] * 120)
    drifting = [s._replace(t=s.t * 1.001 + rng.uniform(0, 0.008), tracker_t=s.t) for s in plan]
    core = make_core()
    ends = [o for o in run_core(core, drifting, []) if isinstance(o, FixationEvent) and o.kind == "end"]
    assert len(ends) == 240
    # The last fixation starts with the last dwell (0.5 s at the plan's end), on the host clock,
    # within the arrival jitter and a few samples, not 0.12 s off as a fixed offset would leave it.
    expected_onset = plan[-int(0.5 * RATE_HZ)].t * 1.001
    assert abs(ends[-1].fixation.onset - expected_onset) < 0.03


def pursuit_plan(seed: int = 2) -> tuple[list[GazeSample], list[Frame], object]:
    """Fixate (300, 540) for 0.6 s, follow a target moving right at 400 px/s (about 11 deg/s)
    for 1.5 s, fixate where it stopped; frames carry their index in pixel (0, 0)."""
    rng = np.random.default_rng(seed)
    samples = []
    t0 = 10.0
    for k in range(int(2.8 * RATE_HZ)):
        t = t0 + k / RATE_HZ
        moved = min(max(t - t0 - 0.6, 0.0), 1.5) * 400.0
        samples.append(GazeSample(t, t, 300.0 + moved + rng.normal(0, 0.3), 540.0 + rng.normal(0, 0.3), True))
    frames = []
    for i in range(int(2.8 * FPS)):
        image = np.zeros((CAMERA[1], CAMERA[0], 3), np.uint8)
        image[0, 0, 0] = i
        frames.append(Frame(i, t0 + i / FPS + 0.001, math.nan, image))
    still = box_search({"sign": (0.0, 200.0, 15.0, 280.0)})  # beside the first fixation, a distractor

    def search(image, aoi, gaze_xy):
        # "car" is where the moving target is at this frame's time; the full-screen mapping
        # shows the 640x480 image 1440 px wide in the middle of the 1920 px screen.
        t = frames[int(image[0, 0, 0])].t
        x = (300.0 + min(max(t - t0 - 0.6, 0.0), 1.5) * 400.0 - 240.0) / 2.25
        hits = still(image, aoi, gaze_xy) + box_search({"car": (x - 25.0, 215.0, x + 25.0, 265.0)})(image, aoi, gaze_xy)
        return sorted(hits, key=lambda hit: not hit.contains_gaze)

    return samples, frames, search


def test_a_pursuit_on_a_moving_marker_is_a_look_at_it() -> None:
    samples, frames, search = pursuit_plan()
    core = FusionCore(make_detector("ivdt", GEOMETRY), GEOMETRY, marker_search=search)
    outputs = run_core(core, samples, frames)
    pursuits = [o for o in outputs if isinstance(o, MovementEvent) and o.movement.kind == "pursuit"]
    assert [o.kind for o in pursuits][0] == "start" and [o.kind for o in pursuits][-1] == "end"
    pursuit = pursuits[-1].movement
    assert pursuit.onset == pytest.approx(10.6, abs=0.1) and pursuit.offset == pytest.approx(12.1, abs=0.25)
    looks = [o for o in outputs if isinstance(o, LookEvent) and o.kind == "pursuit"]
    assert len(looks) == 1
    look = looks[0]
    assert look.pursuit == pursuit and look.marker_id == "car"
    # Found on the frames along the path (from the pursuit's onset, out of the ring, on).
    assert look.frames_searched >= 0.8 * (pursuit.offset - pursuit.onset) * FPS
    assert look.frames_on_marker >= 0.8 * look.frames_searched
    assert look.fixation.id == pursuit.id and look.fixation.x == pytest.approx(pursuit.end_x)
    # Before it and after it, fixations on the car standing still.
    ends = [o for o in outputs if isinstance(o, LookEvent) and o.kind == "end"]
    assert [end.marker_id for end in ends] == ["car", "car"]
    assert core.stats.pursuits == 1 and core.stats.fixations == 2


def test_a_cancelled_fixation_gets_no_look_summary() -> None:
    samples, frames, search = pursuit_plan()
    # Right after a saccade the target moves off: the fixation the I-VT stages start is cancelled.
    jump = [s._replace(x=s.x + (200.0 if s.t >= 10.55 else 0.0)) for s in samples if s.t >= 10.3]
    core = FusionCore(make_detector("ivdt", GEOMETRY), GEOMETRY, marker_search=search)
    outputs = run_core(core, jump, frames[9:])
    cancelled = {o.fixation.id for o in outputs if isinstance(o, FixationEvent) and o.kind == "cancel"}
    summaries = {o.fixation.id for o in outputs if isinstance(o, LookEvent) and o.kind == "end"}
    assert not cancelled & summaries
