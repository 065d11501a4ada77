"""The errors a user can cause, as a small tree a script can tell apart.

Every one carries the one line the command line prints (``gazefusion: <message>``) and the
exit status it ends with; the command line never shows a traceback for them. A message names
what was wrong and what to do, and never holds credentials (show camera URLs with
:func:`gazefusion.fusion.camera.redact_url`).

::

    GazefusionError
    ├── ConfigError        a configuration key, a flag, a parameter or a method name
    ├── FileFormatError    an input file that is missing, unreadable or not in its format
    ├── OutputError        an output that cannot be written (folder taken, disk full, no permission)
    ├── CameraError        a camera source that cannot be opened or gives no frames
    ├── TrackerError       a tracker spec, or a tracker that does not answer as it should
    ├── CalibrationError   a calibration that cannot be made, or does not fit the data
    └── DisplayError       no display to open a window on

>>> try:
...     raise CameraError("camera http://***@10.0.0.5/video: connection refused")
... except GazefusionError as exc:
...     print(f"gazefusion: {exc}", exc.exit_code)
gazefusion: camera http://***@10.0.0.5/video: connection refused 2
"""

from __future__ import annotations


class GazefusionError(Exception):
    """An error caused by input the user controls (a flag, a file, a URL, a device).

    Parameters
    ----------
    message : str
        One line: what was wrong, and what to do about it.
    exit_code : int or None
        Process exit status; None takes the class's (2, bad input). (default: None)
    """

    exit_code: int = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        """The one line the command line prints after ``gazefusion: ``."""
        return str(self)


class ConfigError(GazefusionError):
    """A configuration key, a flag, a parameter or a method name that does not validate.

    The message names the key, the value and what was expected.
    """


class FileFormatError(GazefusionError):
    """An input file that is missing, unreadable or not in its format (YAML, tables, sidecars, sessions)."""


class OutputError(GazefusionError):
    """An output that cannot be written: the folder holds a session already, the disk is full, no permission."""


class CameraError(GazefusionError):
    """A camera source that names nothing openable, cannot be reached, refuses, or gives no frames."""


class TrackerError(GazefusionError):
    """A tracker spec that is not one of the forms, or a tracker that does not answer as it should."""


class CalibrationError(GazefusionError):
    """A calibration that cannot be made (too few views, a degenerate layout) or does not fit the data
    (intrinsics or a mapping made for another resolution or screen)."""


class DisplayError(GazefusionError):
    """No display to open a window on (run headless instead)."""
