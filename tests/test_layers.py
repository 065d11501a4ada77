"""Every module sits in one of the layers the import-linter contract enforces (pyproject.toml)."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import gazefusion.calibration
import gazefusion.fusion
import gazefusion.trackers

ROOT = Path(__file__).resolve().parents[1]


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [name.strip() for layer in contract["layers"] for name in layer.replace(":", "|").split("|")]


def test_every_module_is_in_a_layer() -> None:
    layers = _layers()
    assert len(layers) == len(set(layers)), "a module is named in two layers"
    modules = [
        info.name
        for package in (gazefusion.fusion, gazefusion.trackers, gazefusion.calibration)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    ]
    outside = [m for m in modules if not any(m == layer or m.startswith(layer + ".") for layer in layers)]
    assert outside == [], f"modules in no layer of the import-linter contract: {outside}"
