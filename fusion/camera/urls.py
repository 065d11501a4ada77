"""Camera URLs: credentials split off for authentication and removed for display."""

from __future__ import annotations

import os
import re
from typing import Final, NamedTuple
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from requests.utils import get_netrc_auth

from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import ConfigError

# Query parameters that cameras use to carry credentials (``?user=admin&pwd=…``).
_SECRET_QUERY: Final = re.compile(
    r"^(user(name)?|usr|login|pass(word)?|pwd|passwd|token|key|api_?key|auth|sig(nature)?|secret)$", re.IGNORECASE
)
_USERINFO: Final = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*://)([^/@?#]*@)")
REDACTED: Final = "***"


class SplitUrl(NamedTuple):
    """A URL without its userinfo, and the credentials that were in it.

    Attributes
    ----------
    url : str
        The URL with ``user:pass@`` removed (query credentials stay: the camera needs them).
    username, password : str or None
        Percent-decoded credentials, None where absent.
    """

    url: str
    username: str | None
    password: str | None


def split_credentials(url: str) -> SplitUrl:
    """Take ``user:pass@`` out of a URL.

    Parameters
    ----------
    url : str
        An http(s) or rtsp URL.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return SplitUrl(url, None, None)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return SplitUrl(bare, username, password)


def camera_credentials(url: str, config: CameraConfig) -> SplitUrl:
    """The URL without userinfo and the credentials to use for it.

    In order: the URL's own ``user:pass@``; the config's ``username`` with the password from
    the environment variable ``password_env`` names, or ``password``; the ``~/.netrc`` entry
    for the host (``$NETRC`` names another file). The last three never touch the command line.

    Parameters
    ----------
    url : str
        A camera URL (any scheme).
    config : CameraConfig
        ``username``, ``password``, ``password_env``.

    Raises
    ------
    ConfigError
        ``password_env`` names a variable that is not set.
    """
    split = split_credentials(url)
    if split.username is not None or split.password is not None:
        return split
    if config.username is not None or config.password is not None or config.password_env is not None:
        password = config.password
        if config.password_env is not None:
            password = os.environ.get(config.password_env)
            if password is None:
                raise ConfigError(
                    f"camera.password_env names {config.password_env}, which is not set in the environment: "
                    f"export {config.password_env}=… before the run"
                )
        return SplitUrl(split.url, config.username or "", password)
    netrc = get_netrc_auth(split.url)
    if netrc is not None:
        return SplitUrl(split.url, netrc[0], netrc[1])
    return split


def with_credentials(split: SplitUrl) -> str:
    """The URL with the credentials put back as ``user:pass@`` (for OpenCV, in-process only)."""
    if split.username is None and split.password is None:
        return split.url
    parts = urlsplit(split.url)
    userinfo = quote(split.username or "", safe="")
    if split.password is not None:
        userinfo += ":" + quote(split.password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query, parts.fragment))


def redact_url(url: str) -> str:
    """The URL as it may appear in a log line, an error message or a file: no credentials.

    ``user:pass@`` becomes ``***@`` and the values of query parameters that carry
    credentials (user, password, pwd, token, key, …) become ``***``. Anything that does
    not parse as a URL is returned with its userinfo part removed all the same.

    Parameters
    ----------
    url : str
        Any camera source string.

    Examples
    --------
    >>> redact_url("http://admin:secret@10.0.0.5/video.mjpg?resolution=640x480&pwd=secret")
    'http://***@10.0.0.5/video.mjpg?resolution=640x480&pwd=***'
    """
    text = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", url, count=1)
    if "://" not in text or "?" not in text:
        return text
    try:
        parts = urlsplit(text)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return text
    if not any(_SECRET_QUERY.match(key) for key, _ in query):
        return text
    cleaned = urlencode([(key, REDACTED if _SECRET_QUERY.match(key) else value) for key, value in query], safe="*")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, cleaned, parts.fragment))
