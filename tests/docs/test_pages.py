"""The documentation against the code: every command and flag it quotes exists, the README's
API example is the site's, and the README stays short and links to pages that exist."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from gazefusion.fusion.cli import build_parser
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
PAGES = sorted([REPO_ROOT / "README.md", *DOCS.rglob("*.md")])
_FENCE = re.compile(r"^```")
_INLINE = re.compile(r"`(gazefusion [^`]+)`")
_HEADING = re.compile(r"^#{1,6} ")
_FLAG = re.compile(r"--[a-z][a-z0-9-]*")
_SHELL_END = ("#", "|", "&&", ";", "&", ">", "2>")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_flags() -> dict[tuple[str, ...], set[str]]:
    """Every command of the CLI (``("calibrate", "camera")``) with its long options."""
    out: dict[tuple[str, ...], set[str]] = {}
    for word, parser in _subcommands(build_parser()).items():
        inner = _subcommands(parser)
        for words, sub in ({(word, w): p for w, p in inner.items()} if inner else {(word,): parser}).items():
            out[words] = {s for action in sub._actions for s in action.option_strings if s.startswith("--")}
    return out


COMMANDS = command_flags()


def _command_at(tokens: list[str]) -> tuple[str, ...] | None:
    for words in COMMANDS:
        if tuple(tokens[: len(words)]) == words:
            return words
    return None


def mentions(page: Path) -> list[tuple[int, tuple[str, ...] | None, str, list[str]]]:
    """Each quoted ``gazefusion ...`` call of a page: (line, command, text, flags).

    Calls are taken from code blocks (a line starting with ``gazefusion`` or ``$ gazefusion``,
    backslash continuations joined) and inline code; flags in the first cell of a table row
    count for the command named in the section's heading.
    """
    found = []
    fence = False
    section: tuple[str, ...] | None = None
    lines = page.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        if _FENCE.match(line):
            fence = not fence
            continue
        texts: list[str] = []
        if fence:
            stripped = line.strip().removeprefix("$ ")
            if stripped.startswith("gazefusion "):
                while stripped.endswith("\\") and number < len(lines):
                    stripped = stripped[:-1] + " " + lines[number].strip()
                    number += 1
                texts.append(stripped)
        else:
            texts.extend(_INLINE.findall(line))
            if _HEADING.match(line):
                named = [_command_at(text.split()[1:]) for text in _INLINE.findall(line)]
                section = next((words for words in named if words), None)
            elif section and line.startswith("| `--"):
                flags = _FLAG.findall(line.split("|")[1])
                found.append((number, section, line, flags))
        for text in texts:
            try:
                tokens = shlex.split(text, comments=True)
            except ValueError:
                tokens = text.split()
            tokens = [token for token in tokens[1:] if token not in ("-v", "-q", "-vv")]
            for index, token in enumerate(tokens):
                if token in _SHELL_END:
                    tokens = tokens[:index]
                    break
            words = _command_at(tokens)
            flags = [match for token in tokens for match in _FLAG.findall(token) if token.lstrip("[(").startswith("--")]
            found.append((number, words, text, flags))
    return found


MENTIONS = [(page, *mention) for page in PAGES for mention in mentions(page)]


def test_the_pages_quote_commands() -> None:
    quoted = {words for _, _, words, _, _ in MENTIONS}
    assert set(COMMANDS) <= quoted, f"commands no page quotes: {set(COMMANDS) - quoted}"


@pytest.mark.parametrize(
    ("page", "number", "words", "text", "flags"),
    MENTIONS,
    ids=[f"{page.relative_to(REPO_ROOT)}:{number}" for page, number, *_ in MENTIONS],
)
def test_quoted_command_and_flags_exist(
    page: Path, number: int, words: tuple[str, ...] | None, text: str, flags: list[str]
) -> None:
    where = f"{page.relative_to(REPO_ROOT)}:{number}: {text}"
    assert words is not None, f"{where}: not a gazefusion command (known: {sorted(' '.join(w) for w in COMMANDS)})"
    unknown = [flag for flag in flags if flag not in COMMANDS[words]]
    assert not unknown, f"{where}: gazefusion {' '.join(words)} has no {', '.join(unknown)}"


def _code_block(text: str, language: str) -> str:
    match = re.search(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)
    assert match, f"no {language} block"
    return match.group(1)


def test_readme_api_example_is_the_sites() -> None:
    snippet = (DOCS / "_snippets" / "api_example.py").read_text(encoding="utf-8")
    assert _code_block((REPO_ROOT / "README.md").read_text(encoding="utf-8"), "python") == snippet


def test_the_api_example_compiles_against_the_api() -> None:
    from gazefusion.fusion.api import LookEvent, Pipeline

    code = (DOCS / "_snippets" / "api_example.py").read_text(encoding="utf-8")
    compile(code, "api_example.py", "exec")
    for name in re.findall(r"\bp\.(\w+)\(", code):
        assert callable(getattr(Pipeline, name, None)), f"Pipeline has no {name}()"
    assert isinstance(LookEvent.marker_id, property)


def test_readme_is_short_and_links_to_pages_that_exist() -> None:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert targets, "the README links into the docs"
    missing = [target for target in targets if not target.startswith("http") and not (REPO_ROOT / target).exists()]
    assert not missing, f"README links to missing files: {missing}"


def _python_imports() -> list[tuple[str, str]]:
    """Every ``from gazefusion... import ...`` statement of the pages' Python blocks (and inline code)."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
        for block in blocks:
            for statement in re.findall(r"^from gazefusion\S* import [^\n(]+(?:\([^)]*\))?", block, flags=re.M):
                found.append((str(page.relative_to(REPO_ROOT)), statement))
    return found


IMPORTS = _python_imports()


@pytest.mark.parametrize(("page", "statement"), IMPORTS, ids=[f"{p}:{s.split()[1]}" for p, s in IMPORTS])
def test_the_pages_python_imports_exist(page: str, statement: str) -> None:
    exec(compile(statement, page, "exec"), {})


def test_the_pages_name_modules_that_exist() -> None:
    import importlib

    missing = set()
    for page in PAGES:
        for name in set(re.findall(r"`(gazefusion(?:\.\w+)+)", page.read_text(encoding="utf-8"))):
            parts = name.split(".")
            for cut in range(len(parts), 1, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                for attr in parts[cut:]:
                    obj = getattr(obj, attr, None)
                if obj is None:
                    missing.add(f"{page.relative_to(REPO_ROOT)}: {name}")
                break
            else:
                missing.add(f"{page.relative_to(REPO_ROOT)}: {name}")
    assert not missing, "\n".join(sorted(missing))
