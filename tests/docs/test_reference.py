"""The API reference (docs/reference/) shows numpydoc docstrings: every function and method on
its pages says what it does, names each parameter, and gives each default as ``(default: X)``."""

from __future__ import annotations

import re

import griffe
import pytest

from tests.conftest import REPO_ROOT
from tests.docs.test_configuration import hooks

LOADER = griffe.GriffeLoader(search_paths=[str(hooks.link_packages(REPO_ROOT))], docstring_parser=griffe.Parser.numpy)
NAMES = [
    name
    for page in sorted((REPO_ROOT / "docs" / "reference").glob("*.md"))
    for name in re.findall(r"^::: (\S+)", page.read_text(encoding="utf-8"), flags=re.M)
]


ROOT = LOADER.load("gazefusion")  # the whole namespace, parsed once


def _load(name: str) -> griffe.Object:
    obj = ROOT[name.removeprefix("gazefusion.")]
    return obj.final_target if obj.is_alias else obj


def _documented(docstring: griffe.Docstring | None, kinds: tuple[str, ...]) -> dict[str, str]:
    """Names and descriptions of the sections of `kinds`, the first kind winning (``a, b : x`` names two)."""
    found: dict[str, str] = {}
    if docstring is None:
        return found
    sections = docstring.parse(griffe.Parser.numpy)
    for kind in reversed(kinds):
        for section in sections:
            if section.kind.value == kind:
                for item in section.value:
                    found.update(dict.fromkeys((name.strip() for name in item.name.split(",")), item.description))
    return found


def _parameters(function: griffe.Function) -> list[griffe.Parameter]:
    return [p for p in function.parameters if p.name not in ("self", "cls") and p.kind.value.find("variadic") < 0]


def _check_parameters(where: str, params: list[griffe.Parameter], documented: dict[str, str]) -> list[str]:
    problems = []
    for param in params:
        if param.name not in documented:
            problems.append(f"{where}: parameter {param.name} is not documented")
        elif param.default is not None and "(default:" not in documented[param.name]:
            problems.append(f"{where}: parameter {param.name} lacks '(default: {param.default})'")
    return problems


def _inherits_doc(cls: griffe.Class, name: str) -> bool:
    for base in cls.resolved_bases:
        member = base.members.get(name)
        if member is not None and (member.docstring or _inherits_doc(base, name)):
            return True
    return False


def problems_of(obj: griffe.Object, where: str) -> list[str]:
    """What keeps `obj` (and its public members) from a complete numpydoc docstring."""
    if obj.is_alias:
        obj = obj.final_target
    if obj.is_function:
        if "property" in obj.labels:
            return [] if obj.docstring else [f"{where}: no docstring"]
        if not obj.docstring:
            return [f"{where}: no docstring"]
        return _check_parameters(where, _parameters(obj), _documented(obj.docstring, ("parameters",)))
    if obj.is_module:
        return [
            problem
            for name, member in obj.members.items()
            if not name.startswith("_") and not member.is_alias
            for problem in problems_of(member, f"{where}.{name}")
        ]
    if not obj.is_class:
        return []
    problems = [] if obj.docstring else [f"{where}: no docstring"]
    init = obj.members.get("__init__")
    if init is not None and not init.is_alias and init.is_function and not init.docstring:
        documented = _documented(obj.docstring, ("parameters", "attributes"))
        problems += _check_parameters(where, _parameters(init), documented)
    for name, member in obj.members.items():
        if name.startswith("_") or member.is_alias or not member.is_function:
            continue
        if not member.docstring and _inherits_doc(obj, name):
            continue
        problems += problems_of(member, f"{where}.{name}")
    return problems


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_the_reference_shows_complete_docstrings(name: str) -> None:
    problems = problems_of(_load(name), name)
    assert not problems, "\n".join(problems)


def test_a_missing_parameter_is_found() -> None:
    module = griffe.visit(
        "example",
        filepath=REPO_ROOT / "example.py",
        code='def f(a, b=1):\n    """Do.\n\n    Parameters\n    ----------\n    b : int\n        B.\n    """\n',
        docstring_parser=griffe.Parser.numpy,
    )
    assert problems_of(module["f"], "f") == ["f: parameter a is not documented", "f: parameter b lacks '(default: 1)'"]
