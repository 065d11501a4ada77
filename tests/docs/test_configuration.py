"""The pages the site's hook generates: the configuration reference (docs/configuration.md), made from
config/default.yaml, names every key of the code's configuration with the code's default; the
tables page (docs/formats/tables.md) lists every session table and column the code declares."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from gazefusion.fusion.config import Config
from tests.conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location("gazefusion_docs", REPO_ROOT / "docs" / "_hooks" / "gazefusion_docs.py")
assert _spec is not None and _spec.loader is not None
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)

REFERENCE = hooks.config_reference()


def _keys(model: BaseModel, section: str = "") -> list[tuple[str, str, object]]:
    """(section, key, default) of every leaf key of `model`, subsections by their dotted path."""
    keys = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            keys += _keys(value, f"{section}.{name}" if section else name)
        elif section:
            keys.append((section, name, value))
    return keys


KEYS = _keys(Config())


def _rows() -> dict[str, tuple[str, str]]:
    """Each key of the generated tables with its default cell and its meaning."""
    rows = {}
    for line in REFERENCE.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", cells[0])
        values = re.findall(r"`([^`]*)`", cells[1])
        assert len(names) == len(values), line
        rows.update({name: (value, cells[2]) for name, value in zip(names, values, strict=True)})
    return rows


ROWS = _rows()


def test_the_page_has_the_marker() -> None:
    assert hooks.MARKER in (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("section", "key", "default"), KEYS, ids=[f"{s}.{k}" for s, k, _ in KEYS])
def test_every_key_is_documented_with_its_default(section: str, key: str, default: object) -> None:
    name = f"{section}.{key}"
    assert name in ROWS, f"{name} is not in the configuration reference (add it to config/default.yaml)"
    value, meaning = ROWS[name]
    assert meaning, f"{name} has no comment in config/default.yaml"
    expected = list(default) if isinstance(default, tuple) else default
    assert yaml.safe_load(value) == expected


def test_no_key_the_code_does_not_know() -> None:
    assert set(ROWS) == {f"{s}.{k}" for s, k, _ in KEYS}


def test_a_comment_documents_the_keys_after_it() -> None:
    text = "camera:\n  # Where from.\n  source: none\n  # Backoff.\n  first_s: 1\n  max_s: 2\ndisplay:\n  headless: false\n"
    assert hooks.config_blocks(text) == [
        ("camera", "Where from.", ["source"]),
        ("camera", "Backoff.", ["first_s", "max_s"]),
        ("display", "", ["headless"]),
    ]


def test_a_key_without_a_value_opens_a_subsection() -> None:
    text = (
        "tracker:\n  # Source.\n  spec: mock\n  # The iviewx kind.\n  iviewx:\n    # Where.\n    host: a\n"
        "    port: 1\n  lsl:\n    unit: px\n  # Back in tracker.\n  watchdog_s: 1\nscreen:\n  size: 2\n"
    )
    assert hooks.config_blocks(text) == [
        ("tracker", "Source.", ["spec"]),
        ("tracker.iviewx", "The iviewx kind.", []),
        ("tracker.iviewx", "Where.", ["host", "port"]),
        ("tracker.lsl", "", ["unit"]),  # no introduction: its keys start its block
        ("tracker", "Back in tracker.", ["watchdog_s"]),
        ("screen", "", ["size"]),
    ]


def test_the_packages_are_linked_under_their_installed_names(tmp_path: Path) -> None:
    for name in hooks.PACKAGES:
        (tmp_path / name).mkdir()
    search_path = hooks.link_packages(tmp_path)
    hooks.link_packages(tmp_path)  # again: links already there are kept
    for name in hooks.PACKAGES:
        assert (search_path / "gazefusion" / name).resolve() == (tmp_path / name).resolve()


def test_the_tables_page_lists_every_declared_table_and_column() -> None:
    from gazefusion.fusion.session.tables import TABLES

    page = hooks.session_tables()
    assert hooks.TABLES_MARKER in (REPO_ROOT / "docs" / "formats" / "tables.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        section = page.split(f"## `{table.file}`", 1)[1].split("\n## ", 1)[0]
        assert [f"`{column.name}`" for column in table.columns] == re.findall(r"^\| (`[^`]+`) \|", section, flags=re.M)
