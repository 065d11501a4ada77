"""Tracker specs, as ``--tracker`` takes them, turned into trackers.

Forms:

- ``iviewx://HOST:PORT?listen=PORT&bind=ADDR``: the iViewX client (PORT is the server's
  command port; the query is optional, its keys default to the configuration's);
  ``iviewx`` alone takes host and ports from the configuration.
- ``mock`` or ``mock:SEED``, optionally ``?rate=HZ&eye=l|r|b&fast``: scripted gaze.
- ``replay:SESSION_DIR_OR_GAZE_TSV``, optionally ``?speed=X`` or ``?fast``: a gaze table.
- ``mouse``: gaze follows the mouse over the display window.
"""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qsl, urlsplit

from gazefusion.fusion.config import ScreenConfig, TrackerConfig
from gazefusion.fusion.errors import UserError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.base import Tracker

SPEC_FORMS = (
    "iviewx://HOST:PORT?listen=PORT[&bind=ADDR]",
    "mock[:SEED][?rate=HZ&eye=l|r|b&fast]",
    "replay:SESSION_DIR_OR_GAZE_TSV[?speed=X|fast]",
    "mouse",
)


def _bad(spec: str, why: str) -> UserError:
    return UserError(f"tracker spec {spec!r}: {why}; the forms are {', '.join(SPEC_FORMS)}")


def _query(spec: str, text: str, allowed: tuple[str, ...]) -> dict[str, str]:
    pairs = parse_qsl(text, keep_blank_values=True)
    for key, _ in pairs:
        if key not in allowed:
            raise _bad(spec, f"unknown option {key!r} (known: {', '.join(allowed)})")
    return dict(pairs)


def _number(spec: str, key: str, text: str, kind: type = float) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise _bad(spec, f"{key}={text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise _bad(spec, f"{key}={text!r} must be positive")
    return value


def _port(spec: str, key: str, text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise _bad(spec, f"{key} {text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise _bad(spec, f"{key} {port} is not a port number (0-65535)")
    return port


def screen_geometry(screen: ScreenConfig) -> ScreenGeometry:
    """The :class:`ScreenGeometry` of a screen configuration."""
    return ScreenGeometry(
        screen.size_px[0], screen.size_px[1], screen.size_mm[0], screen.size_mm[1], screen.distance_mm
    ).validate()


def open_tracker(spec: str, config: TrackerConfig, screen: ScreenConfig) -> Tracker:
    """Make the tracker a spec names (not opened yet: use it as a context manager).

    Parameters
    ----------
    spec : str
        One of the forms in :data:`SPEC_FORMS`.
    config : TrackerConfig
        Tracker settings (iViewX host and ports, timeouts, format, buffer size).
    screen : ScreenConfig
        The tracked screen (for the scripted gaze and the mouse).

    Raises
    ------
    UserError
        The spec is not one of the forms, or one of its values is bad.
    """
    spec = spec.strip()
    scheme = re.match(r"[A-Za-z]*", spec).group(0).lower()
    rest = spec[len(scheme) :]
    if rest.startswith(":"):
        rest = rest[1:]
    elif rest and not rest.startswith("?"):
        raise _bad(spec, "unknown tracker")
    if scheme == "iviewx":
        host, command_port, listen_port, bind = (
            config.host,
            config.command_port,
            config.listen_port,
            config.bind_address,
        )
        if rest:
            if not rest.startswith("//"):
                raise _bad(spec, "expected iviewx://HOST:PORT")
            parts = urlsplit(spec)
            try:
                port = parts.port
            except ValueError:
                raise _bad(spec, "the command port is not a port number") from None
            if not parts.hostname:
                raise _bad(spec, "no host")
            host = parts.hostname
            command_port = port if port is not None else command_port
            options = _query(spec, parts.query, ("listen", "bind"))
            if "listen" in options:
                listen_port = _port(spec, "listen", options["listen"])
            bind = options.get("bind", bind) or bind
        from gazefusion.trackers.iviewx.client import IViewXClient

        return IViewXClient(
            host=host,
            command_port=command_port,
            listen_port=listen_port,
            bind_address=bind,
            config=config,
        )
    if scheme == "mock":
        from gazefusion.trackers.mock import ScriptedTracker
        from gazefusion.trackers.script import ScriptedGaze

        seed_text, _, query = rest.partition("?")
        try:
            seed = int(seed_text) if seed_text else 0
        except ValueError:
            raise _bad(spec, f"seed {seed_text!r} is not an integer") from None
        options = _query(spec, query, ("rate", "eye", "fast"))
        rate = _number(spec, "rate", options["rate"]) if "rate" in options else float(config.stream_rate_hz or 500)
        eye = options.get("eye", "b")
        if eye not in ("l", "r", "b"):
            raise _bad(spec, f"eye={eye!r} must be l, r or b")
        script = ScriptedGaze(screen_geometry(screen), seed=seed)
        return ScriptedTracker(
            script, rate_hz=rate, eye=eye, realtime="fast" not in options, queue_samples=config.queue_samples
        )
    if scheme == "replay":
        from gazefusion.trackers.mock import ReplayTracker

        path, query = rest, ""
        head, sep, tail = rest.rpartition("?")
        if sep and (tail == "fast" or tail.startswith("speed=")):
            path, query = head, tail
        if not path:
            raise _bad(spec, "no session folder or gaze table")
        options = _query(spec, query, ("speed", "fast"))
        speed: float | None = 1.0
        if "fast" in options:
            speed = None
        elif "speed" in options:
            speed = None if options["speed"] == "fast" else _number(spec, "speed", options["speed"])
        return ReplayTracker(path, speed=speed, queue_samples=config.queue_samples)
    if scheme == "mouse" and not rest:
        from gazefusion.trackers.mock import MouseTracker

        return MouseTracker(
            screen.size_px, rate_hz=float(config.stream_rate_hz or 60), queue_samples=config.queue_samples
        )
    raise _bad(spec, "unknown tracker")
