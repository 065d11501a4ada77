"""The configuration: defaults, the documented default.yaml, overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gazefusion.fusion.config import Config, load_config
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
            "tracker:\n  eye_distance_mm: [900, 100]\n",
            r"tracker.eye_distance_mm: \[900.0, 100.0\] is not valid: expected two distances in mm, low then high",
            id="eye-distances-reversed",
        ),
        pytest.param(
            "tracker:\n  calibration_eye: word\n",
            "tracker.calibration_eye: 'word' is not valid: expected input should be 'number' or 'letter'",
            id="calibration-eye-form",
        ),
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
