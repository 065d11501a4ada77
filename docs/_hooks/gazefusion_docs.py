"""MkDocs hooks of the gazefusion site (mkdocs.yml, ``hooks:``); nothing here fetches anything.

- ``on_startup``: links the package folders under ``build/docs-api/gazefusion/`` so that
  mkdocstrings finds ``gazefusion.fusion`` etc. by the names they install as (setup.py maps
  the folders ``fusion/``, ``trackers/``, ``calibration/`` onto the ``gazefusion`` namespace,
  which a static reader of the source tree cannot see).
- ``on_page_markdown``: replaces ``<!-- config-reference -->`` with the tables of every key of
  ``config/default.yaml`` (default and meaning from the file's own comments), so the
  configuration page cannot drift from the file; and ``<!-- session-tables -->`` with every
  table a session holds, its columns, units and descriptions, as ``fusion/session/tables.py``
  declares them (the same declarations write the tables and their JSON sidecars).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from gazefusion.fusion.session.tables import TABLES

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("fusion", "trackers", "calibration")
MARKER = "<!-- config-reference -->"
TABLES_MARKER = "<!-- session-tables -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][A-Za-z0-9_]*):(?P<rest>.*)$")


def link_packages(root: Path = ROOT) -> Path:
    """Link the package folders as ``build/docs-api/gazefusion/<name>``; returns the search path."""
    namespace = root / "build" / "docs-api" / "gazefusion"
    namespace.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        link = namespace / name
        if link.is_symlink() and link.resolve() == (root / name).resolve():
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(root / name, target_is_directory=True)
    return namespace.parent


def config_blocks(text: str) -> list[tuple[str, str, list[str]]]:
    """The documented keys of a configuration file, in order.

    Parameters
    ----------
    text : str
        The YAML text of ``config/default.yaml``: top-level sections, each key under one
        preceded by the comment lines that document it (a comment may document several
        keys that follow it without a comment of their own). A key without a value opens a
        subsection (``tracker.iviewx``): its comment introduces it, its keys follow indented.

    Returns
    -------
    list of (str, str, list of str)
        ``(section, comment, keys)`` per comment block, in file order; a subsection's
        introduction is a block without keys.
    """
    blocks: list[tuple[str, str, list[str]]] = []
    path: list[tuple[int, str]] = []  # (indent, name) of the sections the line is in
    comment: list[str] = []
    fresh = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if line.startswith(" "):
                comment = comment if fresh else []
                comment.append(stripped.lstrip("# ").rstrip())
                fresh = True
            continue
        match = _KEY.match(line)
        if match is None:
            continue
        indent = len(match["indent"])
        while path and path[-1][0] >= indent:
            path.pop()
        if not path or not match["rest"].strip():
            path.append((indent, match["key"]))
            if len(path) > 1:
                blocks.append((".".join(name for _, name in path), " ".join(comment) if fresh else "", []))
            comment, fresh = [], False
            continue
        section = ".".join(name for _, name in path)
        if fresh or not blocks or blocks[-1][0] != section:
            blocks.append((section, " ".join(comment) if fresh else "", [match["key"]]))
        else:
            blocks[-1][2].append(match["key"])
        fresh = False
    return blocks


def _value(value: Any) -> str:
    return "`" + (yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()) + "`"


def config_reference(path: Path = ROOT / "config" / "default.yaml") -> str:
    """Markdown tables of every key of the configuration file: key, default, meaning."""
    text = path.read_text(encoding="utf-8")
    defaults = yaml.safe_load(text)
    out: list[str] = []
    current = None
    for section, comment, keys in config_blocks(text):
        if section != current:
            current = section
            out += ["", f"## `{section}` {{#{section.replace('.', '-')}}}", ""]
            if not keys:  # a subsection's introduction
                out += [comment, ""] if comment else []
            out += ["| key | default | meaning |", "|---|---|---|"]
        if not keys:
            continue
        values_here = defaults
        for name in section.split("."):
            values_here = values_here[name]
        names = ", ".join(f"`{section}.{key}`" for key in keys)
        values = ", ".join(_value(values_here[key]) for key in keys)
        out.append(f"| {names} | {values} | {comment.replace('|', '&#124;')} |")
    return "\n".join(out).strip() + "\n"


def session_tables() -> str:
    """Markdown of every declared session table: a section per file with its columns."""
    out: list[str] = []
    for table in TABLES.values():
        anchor = table.file.replace(".", "")
        written = "live runs only (a replay does not rewrite it)" if table.media else "live runs and replays"
        out += ["", f"## `{table.file}` {{#{anchor}}}", "", f"{table.description} Written by {written}.", ""]
        out += ["| column | unit | meaning |", "|---|---|---|"]
        out += [f"| `{c.name}` | {c.unit} | {c.description.replace('|', '&#124;')} |" for c in table.columns]
    return "\n".join(out).strip() + "\n"


def on_startup(command: str, dirty: bool) -> None:
    # Before any plugin's on_config: mkdocstrings keeps only search paths that exist then.
    link_packages()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, config_reference())
    if TABLES_MARKER in markdown:
        markdown = markdown.replace(TABLES_MARKER, session_tables())
    return markdown
