"""The examples in the docstrings run, and give what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gazefusion.calibration
import gazefusion.fusion
import gazefusion.trackers

MODULES = sorted(
    info.name
    for package in (gazefusion.fusion, gazefusion.trackers, gazefusion.calibration)
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
)
WITH_EXAMPLES = [
    name
    for name in MODULES
    if doctest.DocTestFinder().find(importlib.import_module(name))
    and any(test.examples for test in doctest.DocTestFinder().find(importlib.import_module(name)))
]


def test_the_examples_are_found() -> None:
    assert {"gazefusion.fusion.errors", "gazefusion.fusion.registry", "gazefusion.fusion.fixations"} <= set(
        WITH_EXAMPLES
    )


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, report=False)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples in {name} failed (run python -m doctest)"
    )
