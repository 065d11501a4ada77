"""The configuration: one validated, immutable object, loaded from YAML, overridden by flags.

Every key has a default here; ``config/default.yaml`` documents every key and a test keeps it
equal to these defaults. A file needs only the keys it changes. Errors name the key, the
value and what was expected, in one line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gazefusion.fusion.errors import ConfigError
from gazefusion.fusion.files import invalid_line, read_yaml
from gazefusion.fusion.geometry import ScreenGeometry

log = logging.getLogger(__name__)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class CameraConfig(_Section):
    """Where frames come from and how the reader behaves."""

    source: str = "none"
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(5.0, gt=0)
    reconnect_initial_s: float = Field(0.25, gt=0)
    reconnect_max_s: float = Field(8.0, gt=0)
    snapshot_rate_hz: float = Field(10.0, gt=0)
    max_part_bytes: int = Field(16_000_000, gt=1024)
    recorder_queue_frames: int = Field(256, ge=1)
    max_decode_lag_s: float = Field(0.05, gt=0)
    decoder: Literal["simplejpeg", "fast", "half", "cv2"] = "simplejpeg"
    stale_after_s: float = Field(1.0, gt=0)
    username: str | None = None
    password: str | None = None
    password_env: str | None = None


GazeRole = Literal[
    "x", "y", "left_x", "left_y", "right_x", "right_y", "pupil", "left_pupil", "right_pupil", "valid", "confidence"
]
"""What a channel of an LSL gaze stream can carry for a gaze sample."""


class IViewXConfig(_Section):
    """The iViewX client (``tracker.iviewx``): the server's address, the talk, the sample format."""

    host: str = "127.0.0.1"
    command_port: int = Field(4444, ge=1, le=65535)
    listen_port: int = Field(5555, ge=0, le=65535)
    bind_address: str = "0.0.0.0"
    ping_timeout_s: float = Field(2.0, gt=0)
    sample_format: str = "%TU %ET %SX %SY %DX %DY"
    calibration_eye: Literal["number", "letter"] = "number"
    calibration_start_timeout_s: float = Field(5.0, gt=0)
    accept_any_sender: bool = False
    eye_distance_mm: tuple[float, float] = (100.0, 2000.0)

    @field_validator("eye_distance_mm")
    @classmethod
    def _distance_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] < value[1]:
            raise ValueError(
                f"tracker.iviewx.eye_distance_mm: {[*value]} is not valid: "
                "expected two distances in mm, low then high, above 0"
            )
        return value


class LslInletConfig(_Section):
    """A Lab Streaming Layer gaze stream as the tracker (``tracker.lsl``; ``lsl:`` specs)."""

    resolve_timeout_s: float = Field(5.0, gt=0)
    producer: Literal["auto", "tobii-pro", "pupil-capture", "gazefusion", "xdf"] = "auto"
    channels: dict[GazeRole, int | str] = Field(default_factory=dict)
    unit: Literal["auto", "px", "normalized"] = "auto"
    origin: Literal["auto", "top-left", "bottom-left"] = "auto"
    confidence_min: float = Field(0.6, ge=0, le=1)


class TrackerConfig(_Section):
    """The gaze source. `spec` is what ``--tracker`` sets; each kind's own settings are a section."""

    spec: str = "mock"
    watchdog_s: float = Field(1.0, gt=0)
    stream_rate_hz: int | None = Field(None, ge=1)
    queue_samples: int = Field(200_000, ge=1)
    iviewx: IViewXConfig = IViewXConfig()
    lsl: LslInletConfig = LslInletConfig()


MOVED_TRACKER_KEYS: dict[str, str] = {
    **{key: f"iviewx.{key}" for key in IViewXConfig.model_fields},
    **{f"lsl_{key}": f"lsl.{key}" for key in LslInletConfig.model_fields},
}
"""Keys of ``tracker`` before each tracker kind had its section, and where they are now."""


def migrate_tracker_keys(data: dict[str, Any], source: str) -> None:
    """Move the flat ``tracker`` keys of an older file into their sections, in place, with a
    one-line deprecation warning (older session.yaml files and configurations still load).

    Parameters
    ----------
    data : dict
        Plain configuration data (nested sections), as read.
    source : str
        Where the data came from, for the warning and the error.

    Raises
    ------
    ConfigError
        A key given both flat and in its section.
    """
    tracker = data.get("tracker")
    if not isinstance(tracker, dict):
        return
    moved = [key for key in MOVED_TRACKER_KEYS if key in tracker]
    if not moved:
        return
    tracker = data["tracker"] = dict(tracker)
    for key in moved:
        section, name = MOVED_TRACKER_KEYS[key].split(".")
        nested = tracker.get(section)
        nested = dict(nested) if isinstance(nested, dict) else {}
        if name in nested:
            raise ConfigError(
                f"{source}: tracker.{key} and tracker.{section}.{name} are both given: keep tracker.{section}.{name}"
            )
        nested[name] = tracker.pop(key)
        tracker[section] = nested
    log.warning(
        "%s: deprecated keys read in their new places (%s): write them there",
        source,
        ", ".join(f"tracker.{key} is tracker.{MOVED_TRACKER_KEYS[key]}" for key in moved),
    )


class ScreenConfig(_Section):
    """The tracked screen: size in px and mm, viewing distance in mm."""

    size_px: tuple[int, int] = (1920, 1080)
    size_mm: tuple[float, float] = (531.0, 299.0)
    distance_mm: float = Field(650.0, gt=0)

    def geometry(self) -> ScreenGeometry:
        """The screen as :class:`~gazefusion.fusion.geometry.ScreenGeometry` (degrees per axis).

        Raises
        ------
        ConfigError
            A size that is not positive, named.
        """
        (width_px, height_px), (width_mm, height_mm) = self.size_px, self.size_mm
        geometry = ScreenGeometry(int(width_px), int(height_px), float(width_mm), float(height_mm), self.distance_mm)
        return geometry.validate()


DEFAULT_FIXATION_METHOD = "ivdt"
"""The fixation detector a configuration names unless it says otherwise."""


class FixationConfig(_Section):
    """The fixation detector: a registry name and its parameters (degrees, seconds)."""

    method: str = DEFAULT_FIXATION_METHOD
    params: dict[str, float] = Field(default_factory=dict)


class AoiConfig(_Section):
    """The area of interest drawn around each fixation."""

    size_deg: float = Field(3.0, gt=0)


class MarkersConfig(_Section):
    """The marker library and the detector's settings."""

    file: str | None = None
    n_features: int = Field(1000, ge=50)
    ratio: float = Field(0.8, gt=0, lt=1)
    min_inliers: int = Field(12, ge=4)
    max_reprojection_px: float = Field(3.0, gt=0)
    redetect_every: int = Field(5, ge=1)
    homography: str = "usac_magsac"


class CalibrationConfig(_Section):
    """Calibration files used by a run (paths; None means the stated default)."""

    intrinsics: str | None = None
    mapping: str | None = None


class RecordConfig(_Section):
    """Session recording."""

    dir: str | None = None
    flush_every_s: float = Field(0.5, ge=0)
    participant: str = ""
    condition: str = ""


class DisplayConfig(_Section):
    """The window, or what a headless run writes instead."""

    headless: bool = False
    fullscreen: bool = False
    annotated_video: bool = True
    look_snapshots: bool = True


LslStream = Literal["gaze", "fixations", "looks", "frames", "events"]
"""A kind of stream gazefusion can send to Lab Streaming Layer."""


class LslConfig(_Section):
    """Lab Streaming Layer: gazefusion's outlets, and a marker inlet that marks trials."""

    outlets: bool = False
    name: str | None = None
    streams: tuple[LslStream, ...] = ("gaze", "fixations", "looks", "frames", "events")
    markers: str | None = None
    trial_start: str = r"(?i)^trial[ _-]?start\b[\s:=-]*(?P<name>.*)$"
    trial_end: str = r"(?i)^trial[ _-]?end\b[\s:=-]*(?P<name>.*)$"
    resolve_timeout_s: float = Field(5.0, gt=0)
    wait_for_consumers_s: float = Field(0.0, ge=0)

    @field_validator("trial_start", "trial_end")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"a regular expression ({exc})") from None
        return value


class Config(_Section):
    """The whole configuration (``config/default.yaml`` documents every key)."""

    camera: CameraConfig = CameraConfig()
    tracker: TrackerConfig = TrackerConfig()
    screen: ScreenConfig = ScreenConfig()
    fixations: FixationConfig = FixationConfig()
    aoi: AoiConfig = AoiConfig()
    markers: MarkersConfig = MarkersConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    record: RecordConfig = RecordConfig()
    display: DisplayConfig = DisplayConfig()
    lsl: LslConfig = LslConfig()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, not tuples) for writing into session.yaml."""
        data: dict[str, Any] = _plain(self.model_dump())
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict) and key != "params":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def validate_config(data: Mapping[str, Any], source: str = "configuration") -> Config:
    """Validate plain data into a :class:`Config`.

    Parameters
    ----------
    data : Mapping
        Nested sections, partial; missing keys take their defaults.
    source : str
        Where the data came from, for the error message. (default: "configuration")

    Raises
    ------
    ConfigError
        One line naming the first bad key, its value and the expectation.
    """
    data = dict(data)
    migrate_tracker_keys(data, source)
    try:
        return Config.model_validate(_merge(Config().model_dump(), data))
    except ValidationError as exc:
        line = invalid_line(exc, source)
        hint = "; see config/default.yaml for the keys" if exc.errors()[0]["type"] == "extra_forbidden" else ""
        raise ConfigError(line + hint) from None


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Load a YAML configuration over the defaults, then apply overrides.

    Parameters
    ----------
    path : str or pathlib.Path or None
        A YAML file with any subset of the keys; None for the defaults alone. (default: None)
    overrides : Mapping or None
        Dotted keys to values, e.g. ``{"camera.source": "http://…"}`` (CLI flags; None values
        are ignored). (default: None)
    """
    data: dict[str, Any] = {}
    source = "configuration"
    if path is not None:
        path = Path(path)
        source = str(path)
        loaded = read_yaml(path, "configuration", ConfigError)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"configuration {path}: expected a mapping of sections, got {type(loaded).__name__}")
        data = loaded
    _set_dotted(data, overrides or {})
    return validate_config(data, source)


def override_config(config: Config, overrides: Mapping[str, Any] | None = None, source: str = "parameters") -> Config:
    """A configuration with dotted-key overrides applied (None values ignored), validated.

    New ``fixations.params`` for the same method keep the other parameters of `config`.

    Parameters
    ----------
    config : Config
        The configuration to start from.
    overrides : Mapping or None
        Dotted keys to values, e.g. ``{"fixations.method": "idt"}``. (default: None)
    source : str
        What the overrides are, for the error message. (default: "parameters")
    """
    data = config.to_dict()
    overrides = dict(overrides or {})
    method = overrides.get("fixations.method")
    params = overrides.get("fixations.params")
    if params is not None and method in (None, config.fixations.method):
        overrides["fixations.params"] = {**config.fixations.params, **params}
    _set_dotted(data, overrides)
    return validate_config(data, source)


def _set_dotted(data: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Set ``"section.key"`` values into nested `data` in place; None values are skipped (a
    deprecated flat tracker key goes to its new place, with a warning)."""
    for dotted, value in overrides.items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        if section == "tracker" and key in MOVED_TRACKER_KEYS:
            log.warning("deprecated key tracker.%s read in its new place: tracker.%s", key, MOVED_TRACKER_KEYS[key])
            dotted = f"tracker.{MOVED_TRACKER_KEYS[key]}"
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[leaf] = value
