"""The one registry of interchangeable implementations: names, spec matching, errors."""

from __future__ import annotations

import pytest

from gazefusion.fusion.errors import CameraError, ConfigError
from gazefusion.fusion.registry import Registry


def test_decorator_registers_and_returns_the_item() -> None:
    registry: Registry[object] = Registry("widget")

    @registry.register("round", help="a round widget")
    class Round:
        pass

    assert registry["round"] is Round
    assert "round" in registry and list(registry) == ["round"] and len(registry) == 1
    assert registry.help("round") == "a round widget"
    assert registry.items() == [("round", Round)]


def test_unknown_name_names_it_the_key_and_the_known_ones() -> None:
    registry: Registry[int] = Registry("estimator", key="markers.homography")
    registry.add("b", 2)
    registry.add("a", 1)
    with pytest.raises(ConfigError, match=r"^unknown estimator 'c' \(markers\.homography\); known: b, a$"):
        registry["c"]


def test_error_class_is_the_registry_s() -> None:
    registry: Registry[int] = Registry("camera source kind", error=CameraError)
    with pytest.raises(CameraError, match="unknown camera source kind 'x'; known: $"):
        registry["x"]


def test_registering_a_name_again_replaces_it() -> None:
    registry: Registry[int] = Registry("number")
    registry.add("one", 1)
    registry.add("one", 11)
    assert registry["one"] == 11 and registry.names() == ["one"]
    registry.remove("one")
    registry.remove("one")  # forgetting twice is no error
    assert "one" not in registry


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("http://cam", "url"), ("clip.avi", "avi"), ("clip.mp4", "file"), ("nothing", None)],
    ids=["first-match", "before-fallback", "fallback", "no-match"],
)
def test_match_takes_the_first_accepting_entry_and_fallbacks_last(spec: str, expected: str | None) -> None:
    registry: Registry[str] = Registry("source")
    registry.add("file", "file", matches=lambda s: "." in s, fallback=True)
    registry.add("url", "url", matches=lambda s: s.startswith("http://"))
    registry.add("avi", "avi", matches=lambda s: s.endswith(".avi"))
    registry.add("named", "named")  # no matcher: picked by name only
    entry = registry.match(spec)
    assert (entry.item if entry is not None else None) == expected
