"""The ``gazefusion`` command line: a thin layer over the public API.

Each command lives in its own module here with ``add_arguments(parser)`` and
``run(args) -> int``. Errors a user can cause (:class:`GazefusionError`) end with one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from gazefusion.fusion.errors import ConfigError, GazefusionError
from gazefusion.fusion.nativelog import native_stderr_to_log
from gazefusion.fusion.version import software_version

# (words, module, one-line help). Two words make a command group ("calibrate camera").
COMMANDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("demo",), "demo", "the whole pipeline on a synthetic scene: MJPEG camera, iViewX simulator, markers"),
    (("run",), "run", "live: camera + tracker -> fixations, looks, display, recording"),
    (("replay",), "replay", "a recorded session through the same pipeline"),
    (("metrics",), "metrics", "AOI metrics, heatmaps and scanpaths of recorded sessions"),
    (("aois",), "aois", "draw AOIs on the marker pictures in a window; writes an AOI file"),
    (("batch",), "batch", "many sessions replayed at once on Dask, their tables gathered"),
    (("fixations",), "fixations", "offline fixation detection on a gaze table"),
    (("locate",), "locate", "find markers and their 3D pose in one image"),
    (("markers", "print"), "markers_print", "a printable PNG/PDF of an ArUco/AprilTag marker at its true size"),
    (("probe",), "probe", "read frames from a camera source and report what arrives"),
    (("calibrate", "camera"), "calibrate_camera", "camera intrinsics from chessboard views"),
    (("calibrate", "tracker"), "calibrate_tracker", "tracker-to-camera mapping with validation"),
    (("simulate", "iviewx"), "simulate_iviewx", "run the iViewX simulator on UDP"),
)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line and exit 2, like every other user error."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see {self.prog} --help)")


def _chosen(argv: Sequence[str]) -> tuple[str, ...] | None:
    """The words of the command `argv` names, or None (no command, or an unknown one)."""
    words = [token for token in argv if not token.startswith("-")][:2]
    for command, _, _ in COMMANDS:
        if tuple(words[: len(command)]) == command:
            return command
    return None


def build_parser(chosen: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """The parser: every command listed, the arguments of the `chosen` one added.

    Only the chosen command's module is imported (``gazefusion --help`` imports none), so the
    command line starts fast; None adds every command's arguments.

    Parameters
    ----------
    chosen : tuple of str or None
        The command's words, e.g. ``("calibrate", "camera")``. (default: None)
    """
    parser = _Parser(prog="gazefusion", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gazefusion {software_version()}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    groups: dict[str, argparse._SubParsersAction[_Parser]] = {}
    for words, module_name, help_text in COMMANDS:
        if len(words) == 1:
            sub = top.add_parser(words[0], help=help_text, description=help_text)
        else:
            group = groups.get(words[0])
            if group is None:
                group_parser = top.add_parser(
                    words[0], help=f"{words[0]} ({', '.join(w[1] for w, _, _ in COMMANDS if w[0] == words[0])})"
                )
                group = group_parser.add_subparsers(dest="subcommand", metavar="WHAT", parser_class=_Parser)
                group.required = True
                groups[words[0]] = group
            sub = group.add_parser(words[1], help=help_text, description=help_text)
        if chosen is None or chosen == words:
            module = importlib.import_module(f"gazefusion.fusion.cli.{module_name}")
            module.add_arguments(sub)
            sub.set_defaults(handler=module.run)
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose >= 2 else logging.INFO
    logging.basicConfig(level=level, format="gazefusion: %(message)s", stream=sys.stderr)
    # FFmpeg's and OpenCV's own lines (see fusion.nativelog): shown with -v
    logging.getLogger("gazefusion.native").setLevel(logging.INFO if verbose and not quiet else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        arguments = sys.argv[1:] if argv is None else list(argv)
        parser = build_parser(_chosen(arguments) or ())
        args = parser.parse_args(arguments)
        if getattr(args, "handler", None) is None:
            parser.print_help()
            return 2
        with native_stderr_to_log():
            _setup_logging(args.verbose, args.quiet)
            return int(args.handler(args) or 0)
    except GazefusionError as exc:
        print(f"gazefusion: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gazefusion: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
