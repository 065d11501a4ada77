"""The configuration: defaults, the documented default.yaml, overrides, clear errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from gazefusion.fusion.config import MOVED_TRACKER_KEYS, Config, load_config, override_config, validate_config
from gazefusion.fusion.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def test_default_yaml_documents_every_key_with_its_default() -> None:
    documented = yaml.safe_load((CONFIG_DIR / "default.yaml").read_text())
    assert documented == Config().to_dict()


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIG_DIR.glob("*.yaml")))
def test_shipped_configs_validate(name: str) -> None:
    load_config(CONFIG_DIR / name)


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("aoi:\n  size_deg: 4.5\n")
    config = load_config(path)
    assert config.aoi.size_deg == 4.5
    assert config.camera == Config().camera


def test_overrides_beat_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("camera:\n  source: http://a/\n")
    config = load_config(path, {"camera.source": "0", "tracker.spec": None})
    assert config.camera.source == "0"
    assert config.tracker.spec == "mock"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("camera:\n  sauce: x\n", "camera.sauce: unknown key", id="unknown-key"),
        # The one marker search: the old fast/accurate switch is refused, not ignored.
        pytest.param("markers:\n  search: fast\n", "markers.search: unknown key", id="removed-markers-search"),
        pytest.param("aoi:\n  size_deg: big\n", "aoi.size_deg: 'big' is not valid", id="wrong-type"),
        pytest.param("aoi:\n  size_deg: -1\n", "aoi.size_deg: -1 is not valid", id="out-of-range"),
        pytest.param("- 1\n- 2\n", "expected a mapping of sections", id="not-a-mapping"),
        pytest.param("camera: [\n", "is not valid YAML", id="bad-yaml"),
        pytest.param(
            "tracker:\n  iviewx:\n    eye_distance_mm: [900, 100]\n",
            r"tracker.iviewx.eye_distance_mm: \[900.0, 100.0\] is not valid: expected two distances in mm, low then high",
            id="eye-distances-reversed",
        ),
        pytest.param(
            "tracker:\n  iviewx:\n    calibration_eye: word\n",
            "tracker.iviewx.calibration_eye: 'word' is not valid: expected input should be 'number' or 'letter'",
            id="calibration-eye-form",
        ),
        pytest.param(
            "tracker:\n  calibration_eye: word\n",
            "tracker.iviewx.calibration_eye: 'word' is not valid: expected input should be 'number' or 'letter'",
            id="calibration-eye-form-under-its-old-key",
        ),
        pytest.param(
            "tracker:\n  lsl_unit: degrees\n",
            "tracker.lsl.unit: 'degrees' is not valid",
            id="lsl-unit-under-its-old-key",
        ),
        pytest.param(
            "tracker:\n  ping_timeout_s: 1\n  iviewx:\n    ping_timeout_s: 2\n",
            "tracker.ping_timeout_s and tracker.iviewx.ping_timeout_s are both given: keep tracker.iviewx.ping_timeout_s",
            id="old-and-new-key-both",
        ),
        pytest.param("tracker:\n  iviewx:\n    hots: x\n", "tracker.iviewx.hots: unknown key", id="unknown-iviewx-key"),
        pytest.param("tracker:\n  iviewx: 5\n", "tracker.iviewx: 5 is not valid", id="iviewx-not-a-section"),
    ],
)
def test_bad_config_names_key_value_and_expectation(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


#: tracker as version 0.1.0 wrote it into config files and every session.yaml: each kind's keys flat.
OLD_TRACKER = {
    "spec": "iviewx://10.0.0.7:4444",
    "host": "10.0.0.7",
    "command_port": 4444,
    "listen_port": 6000,
    "bind_address": "0.0.0.0",
    "ping_timeout_s": 3.5,
    "watchdog_s": 1.5,
    "sample_format": "%TU %ET %SX %SY",
    "stream_rate_hz": None,
    "queue_samples": 1000,
    "calibration_eye": "letter",
    "calibration_start_timeout_s": 5.0,
    "accept_any_sender": True,
    "eye_distance_mm": [50.0, 1500.0],
    "lsl_resolve_timeout_s": 9.0,
    "lsl_producer": "pupil-capture",
    "lsl_channels": {"x": 1, "y": "gaze_y"},
    "lsl_unit": "px",
    "lsl_origin": "bottom-left",
    "lsl_confidence_min": 0.8,
}


def _check_moved(config: Config) -> None:
    tracker = config.tracker
    assert (tracker.spec, tracker.watchdog_s, tracker.queue_samples) == ("iviewx://10.0.0.7:4444", 1.5, 1000)
    assert tracker.iviewx.model_dump() == {
        "host": "10.0.0.7",
        "command_port": 4444,
        "listen_port": 6000,
        "bind_address": "0.0.0.0",
        "ping_timeout_s": 3.5,
        "sample_format": "%TU %ET %SX %SY",
        "calibration_eye": "letter",
        "calibration_start_timeout_s": 5.0,
        "accept_any_sender": True,
        "eye_distance_mm": (50.0, 1500.0),
    }
    assert tracker.lsl.model_dump() == {
        "resolve_timeout_s": 9.0,
        "producer": "pupil-capture",
        "channels": {"x": 1, "y": "gaze_y"},
        "unit": "px",
        "origin": "bottom-left",
        "confidence_min": 0.8,
    }


def test_every_moved_key_has_a_place() -> None:
    tracker = Config().tracker
    assert set(MOVED_TRACKER_KEYS) == set(OLD_TRACKER) - {"spec", "watchdog_s", "stream_rate_hz", "queue_samples"}
    for old, new in MOVED_TRACKER_KEYS.items():
        section, key = new.split(".")
        assert hasattr(getattr(tracker, section), key), old


def test_an_old_config_file_loads_with_one_deprecation_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"tracker": OLD_TRACKER}))
    with caplog.at_level(logging.WARNING, logger="gazefusion.fusion.config"):
        config = load_config(path)
    _check_moved(config)
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: deprecated keys read in their new places ("
        + ", ".join(f"tracker.{old} is tracker.{new}" for old, new in MOVED_TRACKER_KEYS.items())
        + "): write them there"
    ]
    # Written back, the configuration has only the new keys, and reads again without a warning.
    caplog.clear()
    again = tmp_path / "new.yaml"
    again.write_text(yaml.safe_dump(config.to_dict()))
    assert load_config(again) == config and not caplog.records
    assert not set(MOVED_TRACKER_KEYS) & set(config.to_dict()["tracker"])


def test_an_old_session_yaml_config_is_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A session recorded by 0.1.0 stores the whole configuration with the flat keys (SessionReader
    and the batch read it through validate_config)."""
    recorded = {**Config().to_dict(), "tracker": OLD_TRACKER}
    with caplog.at_level(logging.WARNING, logger="gazefusion.fusion.config"):
        config = validate_config(recorded, "session s1/session.yaml config")
    _check_moved(config)
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith("session s1/session.yaml config: deprecated keys read in their")


def test_old_dotted_overrides_go_to_their_new_place(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gazefusion.fusion.config"):
        config = override_config(Config(), {"tracker.ping_timeout_s": 4.0, "tracker.lsl_unit": "normalized"})
        loaded = load_config(None, {"tracker.host": "10.1.1.1"})
    assert config.tracker.iviewx.ping_timeout_s == 4.0 and config.tracker.lsl.unit == "normalized"
    assert loaded.tracker.iviewx.host == "10.1.1.1"
    assert [r.getMessage() for r in caplog.records] == [
        "deprecated key tracker.ping_timeout_s read in its new place: tracker.iviewx.ping_timeout_s",
        "deprecated key tracker.lsl_unit read in its new place: tracker.lsl.unit",
        "deprecated key tracker.host read in its new place: tracker.iviewx.host",
    ]
