"""Errors a user can cause, reported as one clear line and a non-zero exit."""

from __future__ import annotations


class UserError(Exception):
    """An error caused by input the user controls (a flag, a file, a URL, a device).

    The command line prints ``gazefusion: <message>`` and exits with `exit_code`; it never
    shows a traceback for these. The message names what was wrong and what to do, and must
    never contain credentials (use :func:`gazefusion.fusion.camera.redact_url`).

    Parameters
    ----------
    message : str
        One line: what was wrong, and what to do about it.
    exit_code : int
        Process exit status. (default: 2)
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ConfigError(UserError):
    """A configuration value that does not validate: names the key, the value and the expectation."""
