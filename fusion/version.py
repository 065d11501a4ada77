"""The installed gazefusion version (``gazefusion --version``, session.yaml)."""

from __future__ import annotations

import importlib.metadata


def software_version() -> str:
    """The installed gazefusion version, or "unknown" when it is not installed."""
    try:
        return importlib.metadata.version("gazefusion")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
