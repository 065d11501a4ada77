"""Tracker specs, as ``--tracker`` takes them, turned into trackers.

A spec is ``KIND`` or ``KIND:REST`` (``iviewx://HOST:PORT?listen=PORT``, ``mock:7?rate=500``,
``replay:SESSION``, ``mouse``). Each kind registers, where its tracker is defined, an opener
and the form it takes::

    @TRACKER_KINDS.register("mouse", form="mouse")
    def open_mouse(spec: str, rest: str, config: TrackerConfig, screen: ScreenConfig) -> Tracker: ...

`rest` is what follows ``KIND:`` (or ``KIND`` for ``KIND?…`` and ``KIND//…`` forms).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from urllib.parse import parse_qsl

from gazefusion.fusion.config import ScreenConfig, TrackerConfig
from gazefusion.fusion.errors import TrackerError
from gazefusion.fusion.registry import Registry
from gazefusion.trackers.base import Tracker

TrackerOpener = Callable[[str, str, TrackerConfig, ScreenConfig], Tracker]

TRACKER_KINDS: Registry[TrackerOpener] = Registry("tracker", key="tracker.spec", error=TrackerError)
"""Tracker kinds by the spec's scheme; each entry's help is the form its specs take."""


def spec_forms() -> list[str]:
    """The forms of the registered tracker specs, for help texts and errors."""
    return [TRACKER_KINDS.help(name) for name in TRACKER_KINDS]


def bad_spec(spec: str, why: str) -> TrackerError:
    """The error of a spec that is not one of the forms: what is wrong, and the forms."""
    return TrackerError(f"tracker spec {spec!r}: {why}; the forms are {', '.join(spec_forms())}")


def spec_options(spec: str, text: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """The ``key=value&…`` options of a spec, refusing keys not in `allowed`."""
    pairs = parse_qsl(text, keep_blank_values=True)
    for key, _ in pairs:
        if key not in allowed:
            raise bad_spec(spec, f"unknown option {key!r} (known: {', '.join(allowed)})")
    return dict(pairs)


def positive_number(spec: str, key: str, text: str, kind: type = float) -> float:
    """An option's value as a positive finite number."""
    try:
        value: float = kind(text)
    except ValueError:
        raise bad_spec(spec, f"{key}={text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise bad_spec(spec, f"{key}={text!r} must be positive")
    return value


def port_number(spec: str, key: str, text: str) -> int:
    """An option's value as a port number (0-65535)."""
    try:
        port = int(text)
    except ValueError:
        raise bad_spec(spec, f"{key} {text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise bad_spec(spec, f"{key} {port} is not a port number (0-65535)")
    return port


def open_tracker(spec: str, config: TrackerConfig, screen: ScreenConfig) -> Tracker:
    """Make the tracker a spec names (not opened yet: use it as a context manager).

    Parameters
    ----------
    spec : str
        One of the forms of :func:`spec_forms`.
    config : TrackerConfig
        Tracker settings (timeouts, buffer size, and the kinds' own sections).
    screen : ScreenConfig
        The tracked screen (for the scripted gaze and the mouse).

    Raises
    ------
    TrackerError
        The spec is not one of the forms, or one of its values is bad.
    """
    spec = spec.strip()
    match = re.match(r"[A-Za-z]*", spec)
    scheme = match.group(0).lower() if match else ""
    rest = spec[len(scheme) :]
    if rest.startswith(":"):
        rest = rest[1:]
    elif rest and not rest.startswith("?"):
        raise bad_spec(spec, "unknown tracker")
    if scheme not in TRACKER_KINDS:
        raise bad_spec(spec, "unknown tracker")
    return TRACKER_KINDS[scheme](spec, rest, config, screen)
