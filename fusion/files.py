"""Files the user hands over or gazefusion writes: one YAML reader, one validator, one atomic writer.

Reading names the file and what is wrong with it in one line; a file format is a pydantic
model (:func:`read_model`), its errors worded as the configuration's; writing goes to a
temporary file beside the target that is renamed into place, so a half-written file never
appears (a crash or a full disk leaves the old file, or none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gazefusion.fusion.errors import FileFormatError, GazefusionError, OutputError

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""``yaml.safe_load``'s loader, libyaml's where PyYAML has it: the same documents, eight times faster
(a replay reads its session.yaml several times; docs/benchmarks/batch.md)."""


def read_yaml(path: str | Path, what: str, error: type[GazefusionError] = FileFormatError) -> Any:
    """Load a YAML file as ``yaml.safe_load`` does (with :data:`SAFE_LOADER`).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    what : str
        What the file is, for the error message ("intrinsics", "mapping", "configuration").
    error : type of GazefusionError
        The error raised. (default: FileFormatError)

    Raises
    ------
    GazefusionError
        `error`: ``<what> file not found: <path>``, ``cannot read <what> file <path>: <why>``
        or ``<what> file <path> is not valid YAML (line N)``.
    """
    path = Path(path)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError:
        raise error(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise error(f"{what} file {path} is a folder") from None
    except UnicodeDecodeError:
        raise error(f"{what} file {path} is not valid YAML (not UTF-8 text)") from None
    except OSError as exc:
        raise error(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise error(f"{what} file {path} is not valid YAML{where}") from None


M = TypeVar("M", bound=BaseModel)


def describe_invalid(error: ErrorDetails) -> str:
    """One pydantic error as the part of a one-line message after the file or section name.

    ``lacks KEY``; ``KEY: unknown key (value V)``; a validator's own sentence; otherwise
    ``KEY: V is not valid: expected …``.
    """
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"lacks {key}"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (value {error['input']!r})"
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    return f"{key}: {error['input']!r} is not valid: expected {error['msg'].lower()}"


def invalid_line(exc: ValidationError, source: str) -> str:
    """The one line of a failed validation: `source`, then the first problem (every missing key at once)."""
    errors = exc.errors()
    missing = [".".join(str(part) for part in e["loc"]) for e in errors if e["type"] == "missing"]
    if errors[0]["type"] == "missing":
        return f"{source} lacks {', '.join(missing)}"
    return f"{source}: {describe_invalid(errors[0])}"


def read_model(path: str | Path, what: str, model: type[M], error: type[GazefusionError] = FileFormatError) -> M:
    """Read a YAML mapping and validate it with a pydantic `model`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    what : str
        What the file is, for the error message ("intrinsics", "mapping").
    model : type of pydantic.BaseModel
        The file's format.
    error : type of GazefusionError
        The error raised. (default: FileFormatError)

    Raises
    ------
    GazefusionError
        `error`, one line: the file (as :func:`read_yaml`), not a mapping (naming the
        required keys), the missing keys, or the first bad value.
    """
    data = read_yaml(path, what, error)
    if not isinstance(data, dict):
        required = [name for name, field in model.model_fields.items() if field.is_required()]
        raise error(f"{what} file {path}: expected a mapping with {', '.join(required)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(invalid_line(exc, f"{what} file {path}")) from None


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it into place.

    Raises
    ------
    OutputError
        ``cannot write <path>: <why>``; no temporary file is left behind.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_yaml_atomic(path: str | Path, data: Any) -> None:
    """Write `data` as YAML (keys in their order) with :func:`write_bytes_atomic`."""
    write_bytes_atomic(path, yaml.safe_dump(data, sort_keys=False).encode("utf-8"))
