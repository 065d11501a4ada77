"""The ``iviewx`` tracker spec: ``iviewx://HOST:PORT?listen=PORT&bind=ADDR``, or ``iviewx`` alone.

PORT is the server's command port; the query is optional and its keys default to the
configuration's ``tracker.iviewx`` section (host, command_port, listen_port, bind_address).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gazefusion.fusion.config import ScreenConfig, TrackerConfig
from gazefusion.trackers.iviewx.client import IViewXClient
from gazefusion.trackers.spec import TRACKER_KINDS, bad_spec, port_number, spec_options


@TRACKER_KINDS.register("iviewx", help="iviewx://HOST:PORT?listen=PORT[&bind=ADDR]")
def open_iviewx(spec: str, rest: str, config: TrackerConfig, screen: ScreenConfig) -> IViewXClient:
    """The iViewX client a spec names (host and ports from the configuration where it names none)."""
    settings = config.iviewx
    host, command_port, listen_port, bind = (
        settings.host,
        settings.command_port,
        settings.listen_port,
        settings.bind_address,
    )
    if rest:
        if not rest.startswith("//"):
            raise bad_spec(spec, "expected iviewx://HOST:PORT")
        parts = urlsplit(spec)
        try:
            port = parts.port
        except ValueError:
            raise bad_spec(spec, "the command port is not a port number") from None
        if not parts.hostname:
            raise bad_spec(spec, "no host")
        host = parts.hostname
        command_port = port if port is not None else command_port
        options = spec_options(spec, parts.query, ("listen", "bind"))
        if "listen" in options:
            listen_port = port_number(spec, "listen", options["listen"])
        bind = options.get("bind", bind) or bind
    return IViewXClient(host=host, command_port=command_port, listen_port=listen_port, bind_address=bind, config=config)
