"""Files the user hands over or gazefusion writes: one YAML reader, one atomic writer.

Reading names the file and what is wrong with it in one line; writing goes to a temporary
file beside the target that is renamed into place, so a half-written file never appears
(a crash or a full disk leaves the old file, or none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gazefusion.fusion.errors import FileFormatError, GazefusionError, OutputError


def read_yaml(path: str | Path, what: str, error: type[GazefusionError] = FileFormatError) -> Any:
    """Load a YAML file with ``yaml.safe_load``.

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
        return yaml.safe_load(path.read_text(encoding="utf-8"))
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
