"""YAML files the user hands over or gazefusion writes: one clear error, never half a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gazefusion.fusion.errors import UserError


def read_yaml(path: str | Path, what: str) -> Any:
    """Load a YAML file with ``yaml.safe_load``.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    what : str
        What the file is, for the error message ("intrinsics", "mapping", "markers").

    Raises
    ------
    UserError
        ``<what> file not found: <path>`` or ``<what> file <path> is not readable YAML``.
    """
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what} file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise UserError(f"{what} file {path} is not readable YAML") from None


def write_yaml_atomic(path: str | Path, data: Any) -> None:
    """Write YAML to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
