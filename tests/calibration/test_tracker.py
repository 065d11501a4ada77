"""Pure tracker-to-camera calibration: layouts, sample selection, fitting, cross-validation, validation."""

from __future__ import annotations

import numpy as np
import pytest

from gazefusion.calibration.mapping import TrackerCameraMapping, load_mapping
from gazefusion.calibration.participant import HiddenTransform, TrueMapping
from gazefusion.calibration.tracker import (
    CameraView,
    calibration_targets,
    check_layout,
    fit_and_choose,
    fit_mapping,
    select_samples,
    target_validation,
    validate_mapping,
    validation_targets,
)
from gazefusion.fusion.errors import CalibrationError, ConfigError
from gazefusion.fusion.geometry import ScreenGeometry

GEOMETRY = ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0)
VIEW = CameraView(GEOMETRY, (640, 480))
TRANSFORM = HiddenTransform((1920, 1080))


def _tracker_px(camera_px: np.ndarray) -> np.ndarray:
    return TRANSFORM.apply(VIEW.camera_to_screen(camera_px))


@pytest.mark.parametrize("n_points", [9, 13], ids=["9-points", "13-points"])
def test_layouts_cover_the_image_inside_the_margin_and_validation_targets_differ(n_points: int) -> None:
    calibration = calibration_targets(n_points, (640, 480), margin_frac=0.1)
    validation = validation_targets(n_points, (640, 480), margin_frac=0.1)
    assert len(calibration) == n_points and len(validation) == 4
    assert calibration[:, 0].min() == pytest.approx(64) and calibration[:, 0].max() == pytest.approx(576)
    assert calibration[:, 1].min() == pytest.approx(48) and calibration[:, 1].max() == pytest.approx(432)
    distances = np.linalg.norm(validation[:, None] - calibration[None], axis=2)
    assert distances.min() > 50


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(ConfigError, match="--points must be one of 9, 13"):
        calibration_targets(5, (640, 480))


def test_camera_view_round_trips_and_matches_the_fullscreen_default() -> None:
    camera = np.array([[0.0, 0.0], [640.0, 480.0], [123.0, 45.0]])
    screen = VIEW.camera_to_screen(camera)
    # 640x480 on 1920x1080: scale 2.25, pillarboxed by 240 px on each side.
    np.testing.assert_allclose(screen[0], [240, 0])
    np.testing.assert_allclose(screen[1], [1680, 1080])
    np.testing.assert_allclose(VIEW.screen_to_camera(screen), camera, atol=1e-9)
    fullscreen = TrackerCameraMapping.fullscreen((1920, 1080), (640, 480))
    np.testing.assert_allclose(fullscreen.to_camera(screen), camera, atol=1e-9)


def test_angles_follow_the_screen_geometry() -> None:
    centre = np.array([[320.0, 240.0]])
    one_degree_right_screen = GEOMETRY.to_pixels(1.0, 0.0)
    right = VIEW.screen_to_camera(np.array([[float(one_degree_right_screen[0]), 540.0]]))
    assert VIEW.angle_deg(centre, right)[0] == pytest.approx(1.0, abs=1e-9)


def test_select_samples_rejects_outliers_and_keeps_the_centre() -> None:
    rng = np.random.default_rng(1)
    samples = np.array([800.0, 400.0]) + rng.normal(0, 8, (200, 2))
    samples[::25] += [0.0, 150.0]  # blink-edge artefacts, ~3.7 deg down
    selection = select_samples(samples, GEOMETRY)
    assert not selection.keep[::25].any()
    assert selection.keep.sum() >= 180
    np.testing.assert_allclose(selection.centre_px, [800, 400], atol=2.0)


def test_select_samples_keeps_noise_free_data() -> None:
    selection = select_samples(np.tile([[100.0, 200.0]], (10, 1)), GEOMETRY)
    assert selection.keep.all()
    np.testing.assert_allclose(selection.centre_px, [100, 200])


@pytest.mark.parametrize(
    ("points", "kind", "message"),
    [
        pytest.param([[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]], "homography", "collinear", id="all-collinear"),
        pytest.param([[0, 0], [1, 0], [2, 0], [3, 0], [1, 1]], "homography", "no 4 points", id="four-on-a-line"),
        pytest.param([[0, 0], [1, 0], [0, 1]], "homography", "needs at least 4", id="too-few-homography"),
        pytest.param([[0, 0], [1, 0], [0, 1], [1, 1], [2, 2]], "poly2", "needs at least 6", id="too-few-poly2"),
        pytest.param([[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]], "poly2", "one conic", id="two-lines-poly2"),
    ],
)
def test_degenerate_layouts_are_refused(points: list[list[float]], kind: str, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        check_layout(np.array(points, dtype=float) * 100, kind)


@pytest.mark.parametrize("kind", ["homography", "poly2"])
def test_general_layouts_pass(kind: str) -> None:
    check_layout(calibration_targets(9, (640, 480)), kind)


def test_homography_recovers_an_exact_projective_map() -> None:
    truth = np.array([[0.3, 0.01, -20.0], [0.02, 0.35, -5.0], [1e-5, 2e-5, 1.0]])
    tracker = calibration_targets(9, (1920, 1080))
    camera = TrackerCameraMapping("homography", truth, (1920, 1080), (640, 480)).to_camera(tracker)
    mapping = fit_mapping("homography", tracker, camera, (1920, 1080), (640, 480))
    np.testing.assert_allclose(mapping.params, truth, rtol=1e-6, atol=1e-9)
    probe = np.array([[700.0, 300.0], [1500.0, 900.0]])
    np.testing.assert_allclose(
        mapping.to_camera(probe),
        TrackerCameraMapping("homography", truth, (1920, 1080), (640, 480)).to_camera(probe),
        atol=1e-6,
    )


def test_nonlinear_distortion_chooses_the_polynomial_by_cross_validation() -> None:
    camera = calibration_targets(13, (640, 480))
    result = fit_and_choose(_tracker_px(camera), camera, VIEW)
    assert result.mapping.kind == "poly2", result.reason
    cv = {kind: report.cross_validation.summary()["rms_deg"] for kind, report in result.models.items()}
    assert cv["poly2"] < cv["homography"]
    assert result.models["homography"].fit.summary()["rms_px"] > 0


def test_projective_distortion_chooses_the_homography() -> None:
    linear = HiddenTransform((1920, 1080), nonlinearity=0.0)
    camera = calibration_targets(13, (640, 480))
    rng = np.random.default_rng(3)
    tracker = linear.apply(VIEW.camera_to_screen(camera)) + rng.normal(0, 2.0, (13, 2))
    result = fit_and_choose(tracker, camera, VIEW)
    assert result.mapping.kind == "homography", result.reason


def test_too_few_targets_for_the_polynomial_fall_back_to_the_homography() -> None:
    camera = calibration_targets(9, (640, 480))[[1, 3, 6, 8, 0]]
    result = fit_and_choose(_tracker_px(camera), camera, VIEW)
    assert result.mapping.kind == "homography"
    assert "polynomial was refused" in result.reason
    assert result.models["poly2"].mapping is None


def test_too_few_targets_for_any_model_are_refused() -> None:
    camera = calibration_targets(9, (640, 480))[[1, 3, 8]]
    with pytest.raises(
        CalibrationError, match="calibration refused, nothing written: 3 valid targets: a homography needs at least 4"
    ):
        fit_and_choose(_tracker_px(camera), camera, VIEW)


def test_collinear_targets_are_refused() -> None:
    camera = np.vstack([calibration_targets(9, (640, 480))[[1, 2, 3]], [[200.0, 48.0]], [[500.0, 48.0]]])
    with pytest.raises(CalibrationError, match="collinear"):
        fit_and_choose(_tracker_px(camera), camera, VIEW)


def test_calibrated_area_is_the_hull_of_the_targets_in_tracker_px() -> None:
    camera = calibration_targets(9, (640, 480))
    tracker = _tracker_px(camera)
    mapping = fit_mapping("homography", tracker, camera, (1920, 1080), (640, 480))
    centre = tracker[0]
    outside = tracker[1] - [30.0, 30.0]  # beyond the top-left target
    inside = tracker[1] + [30.0, 30.0]
    result = mapping.in_calibrated_area(np.array([centre, outside, inside, [np.nan, np.nan]]))
    assert result.tolist() == [True, False, True, False]
    # The hull's vertices are gaze centres themselves, in tracker px.
    assert all(np.any(np.all(vertex == tracker, axis=1)) for vertex in mapping.calibrated_area)


def test_validation_figures_against_known_noise() -> None:
    camera = calibration_targets(9, (640, 480))
    validation = validation_targets(9, (640, 480))
    result = fit_and_choose(_tracker_px(camera), camera, VIEW)
    rng = np.random.default_rng(7)
    sigma_deg = 0.2
    sigma_px = np.array(GEOMETRY.px_per_deg) * sigma_deg
    samples = [
        TRANSFORM.apply(VIEW.camera_to_screen(target) + rng.normal(0, 1, (300, 2)) * sigma_px) for target in validation
    ]
    summary = validate_mapping(result.mapping, ["V1", "V2", "V3", "V4"], validation, samples + [None], VIEW)
    overall = summary.overall()
    # White noise of sigma per axis: mean radial offset sigma*sqrt(pi/2), RMS sample-to-sample 2*sigma.
    assert overall["accuracy_deg"] == pytest.approx(sigma_deg * np.sqrt(np.pi / 2), rel=0.15)
    assert overall["precision_deg"] == pytest.approx(2 * sigma_deg, rel=0.1)
    assert overall["n_targets"] == 4 and overall["n_samples"] > 1100
    truth = TrueMapping(TRANSFORM, np.linalg.inv(VIEW.display_matrix))
    floor = validate_mapping(truth, ["V1", "V2", "V3", "V4"], validation, samples, VIEW).overall()  # type: ignore[arg-type]
    assert overall["accuracy_deg"] - floor["accuracy_deg"] < 0.05


def test_a_failed_validation_target_is_named() -> None:
    camera = calibration_targets(9, (640, 480))
    validation = validation_targets(9, (640, 480))
    result = fit_and_choose(_tracker_px(camera), camera, VIEW)
    samples = [np.tile(_tracker_px(target), (5, 1)) for target in validation[:3]] + [None]
    summary = validate_mapping(
        result.mapping, ["V1", "V2", "V3", "V4"], validation, samples, VIEW, {"V4": "never fixated"}
    )
    data = summary.to_dict()
    assert data["failed"] == ["V4"]
    assert data["targets"][3]["failed"] == "never fixated"
    assert data["overall"]["n_targets"] == 3


def test_true_mapping_inverts_the_hidden_transform() -> None:
    camera = np.array([[100.0, 50.0], [600.0, 400.0], [320.0, 240.0]])
    truth = TrueMapping(TRANSFORM, np.linalg.inv(VIEW.display_matrix))
    np.testing.assert_allclose(truth.to_camera(_tracker_px(camera)), camera, atol=1e-6)


def test_target_validation_uses_the_kept_samples_only() -> None:
    mapping = TrackerCameraMapping.fullscreen((1920, 1080), (640, 480))
    samples = np.array([[960.0, 540.0], [960.0, 540.0], [1900.0, 50.0]])
    result = target_validation("V1", np.array([320.0, 240.0]), samples, mapping, VIEW, np.array([True, True, False]))
    assert result.n_samples == 3 and result.n_used == 2
    assert result.accuracy_deg == pytest.approx(0.0) and result.precision_deg == pytest.approx(0.0)


def test_mapping_file_round_trips_with_its_info(tmp_path) -> None:
    from gazefusion.calibration.mapping import save_mapping

    camera = calibration_targets(9, (640, 480))
    mapping = fit_and_choose(_tracker_px(camera), camera, VIEW).mapping._replace(
        info={"date": "2026-01-01T00:00:00+00:00", "validation": {"overall": {"accuracy_deg": 0.3}}}
    )
    path = tmp_path / "mapping.yaml"
    save_mapping(mapping, path)
    loaded = load_mapping(path)
    assert loaded.kind == mapping.kind and loaded.info == mapping.info
    np.testing.assert_allclose(loaded.params, mapping.params)
    np.testing.assert_allclose(loaded.calibrated_area, mapping.calibrated_area)
    probe = np.array([[500.0, 300.0]])
    np.testing.assert_allclose(loaded.to_camera(probe), mapping.to_camera(probe))
    assert [p.name for p in tmp_path.iterdir()] == ["mapping.yaml"]


def test_mapping_from_another_camera_resolution_is_refused_with_the_reason() -> None:
    camera = calibration_targets(9, (640, 480))
    mapping = fit_and_choose(_tracker_px(camera), camera, VIEW).mapping
    mapping.check_camera_size((640, 480))
    with pytest.raises(CalibrationError, match="calibrated for a 640x480 camera image but the camera gives 1280x720"):
        mapping.check_camera_size((1280, 720))
