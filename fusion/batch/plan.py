"""What a batch will do, checked before any work starts: the sessions, the parameter sets, the tasks.

Every bad input here is a :class:`~gazefusion.fusion.errors.ConfigError` (one line, exit 2):
a glob matching no folder, a path that is not there or not a folder, the same session twice,
a sweep key that does not exist or does not change a replay, a value of the wrong type, a
detector parameter the session's method does not have, a file a sweep names that is not
there. A folder that exists but does not hold a readable session is not refused here: its
task fails and its row in the summary says why, while the rest finish.
"""

from __future__ import annotations

import glob
import itertools
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from gazefusion.fusion.analyse import DEFAULT_MARGIN_DEG, load_pictures
from gazefusion.fusion.config import Config, override_config, validate_config
from gazefusion.fusion.errors import ConfigError, GazefusionError
from gazefusion.fusion.files import read_yaml
from gazefusion.fusion.fixations import make_detector
from gazefusion.fusion.session import relocated_config

SWEEP_SECTIONS = ("fixations", "aoi", "markers", "screen", "calibration")
"""The configuration sections a replay reads; the others (camera, tracker, record, display) do not change it."""
FILE_KEYS = ("markers.file", "calibration.intrinsics", "calibration.mapping")
"""Keys naming a file: a swept value must name one that is there."""


class Param(NamedTuple):
    """One swept key and its values.

    Attributes
    ----------
    key : str
        The dotted configuration key, e.g. ``fixations.params.velocity_threshold_deg_s``.
    texts : tuple of str
        The values as given (they become the parameter column's cells).
    values : tuple
        The values as YAML reads them (numbers, booleans, strings), as the replay gets them.
    """

    key: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]


class AoiSettings(NamedTuple):
    """How each replay's AOI metrics are computed (``gazefusion metrics``'s flags).

    Attributes
    ----------
    aoi_file : str or None
        AOIs per marker instead of the marker library's (an absolute path). (default: None)
    margin_deg : float
        Margin around every AOI, degrees of visual angle. (default: `DEFAULT_MARGIN_DEG`)
    """

    aoi_file: str | None = None
    margin_deg: float = DEFAULT_MARGIN_DEG


class Task(NamedTuple):
    """One replay: a session under one parameter set.

    Attributes
    ----------
    session : str
        The session's name in the batch (its path below the sessions' common folder).
    path : str
        The session folder, absolute.
    params : tuple of (str, str)
        The swept keys with their values as given; () without a sweep.
    overrides : tuple of (str, object)
        The same keys with their values as the replay takes them.
    out : str
        The task's output folder, relative to the batch's output folder.
    """

    session: str
    path: str
    params: tuple[tuple[str, str], ...]
    overrides: tuple[tuple[str, Any], ...]
    out: str


def expand_sessions(patterns: Sequence[str]) -> list[Path]:
    """The session folders named by paths and globs, in the order given, each once.

    A glob takes the folders it matches (files it matches are passed over, so ``data/*``
    may hold a README); a plain path must be a folder.

    Raises
    ------
    ConfigError
        No sessions named; a glob matching no folder; a path that is not there or not a
        folder; the same folder named twice (directly, through a glob or a link).
    """
    if not patterns:
        raise ConfigError(
            "no sessions given: name session folders or globs, e.g. gazefusion batch 'data/*' --out results"
        )
    folders: list[Path] = []
    named: dict[Path, str] = {}
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        if glob.has_magic(expanded):
            matches = [Path(match) for match in sorted(glob.glob(expanded)) if Path(match).is_dir()]
            if not matches:
                raise ConfigError(
                    f"{pattern!r} matches no folder: check the pattern (quote it to let gazefusion expand it)"
                )
        else:
            path = Path(expanded)
            if not path.exists():
                raise ConfigError(f"session folder not found: {pattern}")
            if not path.is_dir():
                raise ConfigError(f"{pattern} is not a folder: a session is a folder (session.yaml, gaze.tsv, ...)")
            matches = [path]
        for match in matches:
            resolved = match.resolve()
            if resolved in named:
                raise ConfigError(
                    f"session {resolved} is named twice ({named[resolved]!r} and {pattern!r}): name each session once"
                )
            named[resolved] = pattern
            folders.append(resolved)
    return folders


def session_names(folders: Sequence[Path]) -> list[str]:
    """Each folder's name in the batch: its path below the folders' common parent (``p01/s1``)."""
    if len(folders) == 1:
        return [folders[0].name or "session"]
    common = Path(os.path.commonpath([str(folder.parent) for folder in folders]))
    return [folder.relative_to(common).as_posix() for folder in folders]


def parse_sweep(specs: Sequence[str]) -> list[Param]:
    """``KEY=V1,V2,...`` flags as parameters (keys and values checked against the defaults).

    Raises
    ------
    ConfigError
        Not ``KEY=VALUES``; a key given twice or outside the sections a replay reads; an
        empty or repeated value; a key the configuration does not have, or a value of the
        wrong type for it.
    """
    params: list[Param] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        texts = tuple(text.strip() for text in values.split(","))
        if not sep or not key or not all(texts):
            raise ConfigError(
                f"--sweep {spec!r}: expected KEY=VALUE[,VALUE...], e.g. --sweep aoi.size_deg=3,4.5 (no empty values)"
            )
        if key.split(".")[0] not in SWEEP_SECTIONS:
            raise ConfigError(
                f"--sweep {key}: not a key a replay reads; sweep keys of {', '.join(SWEEP_SECTIONS)} "
                "(see config/default.yaml)"
            )
        if isinstance(_default(key), dict):
            raise ConfigError(
                f"--sweep {key} is a section, not a value: sweep one of its keys (see config/default.yaml), "
                "e.g. fixations.params.velocity_threshold_deg_s=20,30"
            )
        if any(param.key == key for param in params):
            raise ConfigError(f"--sweep {key} is given twice: list all its values in one flag, comma-separated")
        repeated = sorted({text for text in texts if texts.count(text) > 1})
        if repeated:
            raise ConfigError(f"--sweep {key}: the value {repeated[0]} is listed twice")
        values_read = tuple(_read_value(text) for text in texts)
        for text, value in zip(texts, values_read):
            _check_value(Config(), key, text, value)
            if key in FILE_KEYS and not Path(str(value)).expanduser().is_file():
                raise ConfigError(f"--sweep {key}={text}: file not found")
        params.append(Param(key, texts, values_read))
    return params


def _default(key: str) -> Any:
    """The default configuration's value at a dotted key (None where it has none)."""
    node: Any = Config().to_dict()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _read_value(text: str) -> Any:
    """A value as a YAML scalar (``20`` a number, ``true`` a boolean, ``ivt`` a string)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, str, bool)) else text


def _check_value(config: Config, key: str, text: str, value: Any, where: str = "") -> None:
    """Raise ConfigError if `key` = `value` does not validate over `config` (the detector's parameters too)."""
    source = f"--sweep {key}={text}{where}"
    changed = override_config(config, {key: value}, source)
    try:
        make_detector(changed.fixations.method, changed.screen.geometry(), dict(changed.fixations.params))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def check_sweep_for_sessions(params: Sequence[Param], folders: Sequence[Path], names: Sequence[str]) -> None:
    """Each parameter set over each readable session's recorded configuration (its method's parameters).

    A session whose session.yaml is missing or unreadable is passed over here: its task
    fails with the reason.

    Raises
    ------
    ConfigError
        A combination that does not validate for a session, naming the session.
    """
    if not params:
        return
    for folder, name in zip(folders, names):
        config = _recorded_config(folder)
        if config is None:
            continue
        for combination in itertools.product(*(zip(p.texts, p.values) for p in params)):
            for param, (text, value) in zip(params, combination):
                _check_value(config, param.key, text, value, f" (session {name})")


def _recorded_config(folder: Path) -> Config | None:
    try:
        header = read_yaml(folder / "session.yaml", "session")
        recorded = header.get("config") if isinstance(header, dict) else None
        return relocated_config(validate_config(recorded if isinstance(recorded, dict) else {}, "session"), folder)
    except GazefusionError:
        return None


def check_aoi_settings(
    aoi_file: str | Path | None, margin_deg: float, folders: Sequence[Path], params: Sequence[Param]
) -> AoiSettings:
    """The AOI metrics' settings, checked against every marker library the replays will use.

    Raises
    ------
    ConfigError
        A margin that is not a number of degrees >= 0; an AOI file that is missing or
        malformed, names a marker a library lacks or draws outside its picture; an AOI file
        without any session having a marker library.
    """
    if not math.isfinite(margin_deg) or margin_deg < 0:
        raise ConfigError(f"--margin-deg {margin_deg:g}: expected a number of degrees >= 0")
    if aoi_file is None:
        return AoiSettings(None, margin_deg)
    swept = next((param for param in params if param.key == "markers.file"), None)
    libraries: set[str] = set() if swept is None else {str(Path(str(v)).expanduser()) for v in swept.values}
    if swept is None:
        for folder in folders:
            config = _recorded_config(folder)
            if config is not None and config.markers.file is not None:
                libraries.add(config.markers.file)
    if not libraries:
        raise ConfigError(f"--aois {aoi_file}: none of the sessions has a marker library to draw AOIs on")
    for library in sorted(libraries):
        try:
            load_pictures(Path(library), aoi_file)
        except GazefusionError as exc:
            raise ConfigError(f"--aois: {exc}") from None
    return AoiSettings(str(Path(aoi_file).expanduser().resolve()), margin_deg)


def _labels(params: Sequence[Param], combinations: list[tuple[str, ...]]) -> list[str]:
    """Folder names of the parameter sets: ``velocity_threshold_deg_s=20,size_deg=3`` (full keys if short ones clash)."""

    def label(keys: Iterable[str], texts: Iterable[str]) -> str:
        return re.sub(r"[^\w.=,+-]", "_", ",".join(f"{k}={t}" for k, t in zip(keys, texts)))

    for keys in ([p.key.split(".")[-1] for p in params], [p.key for p in params]):
        labels = [label(keys, texts) for texts in combinations]
        if len(set(labels)) == len(labels) and all(len(name) <= 200 for name in labels):
            return labels
    return [f"params-{i:03d}" for i in range(1, len(combinations) + 1)]


def plan_tasks(folders: Sequence[Path], params: Sequence[Param]) -> list[Task]:
    """Every session under every combination of the parameters, sessions in the order given.

    Outputs go to ``sessions/NAME`` (``sessions/NAME/LABEL`` per parameter set with a sweep).
    """
    names = session_names(folders)
    combinations = list(itertools.product(*(zip(p.texts, p.values) for p in params)))
    labels = _labels(params, [tuple(text for text, _ in combo) for combo in combinations]) if params else [""]
    tasks: list[Task] = []
    for folder, name in zip(folders, names):
        for combo, label in zip(combinations, labels):
            keyed = tuple(zip((p.key for p in params), combo))
            out = f"sessions/{name}" + (f"/{label}" if label else "")
            tasks.append(
                Task(
                    name,
                    str(folder),
                    tuple((key, text) for key, (text, _) in keyed),
                    tuple((key, value) for key, (_, value) in keyed),
                    out,
                )
            )
    return tasks
