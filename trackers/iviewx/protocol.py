"""The iViewX remote command protocol, pure: lines in, typed messages and samples out.

No sockets here (see ``client.py`` and ``simulator.py``). The protocol is described in
docs/protocol/iviewx.md: one text line per datagram (sometimes several), latin-1, fields separated by runs
of spaces or tabs, trailing whitespace and NUL padding stripped. Samples (``ET_SPL``) follow
the layout the client set with ``ET_FRM``: ``TS``/``TU``/``ET``/``SC`` give one token each,
every per-eye specifier one token when monocular and two (left, right) when binocular.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from gazefusion.trackers.base import binocular_sample, monocular_sample
from gazefusion.trackers.iviewx.conventions import wire_eye
from gazefusion.trackers.types import GazeSample

#: Specifiers that give one token whatever the eye layout.
SINGLE_SPECIFIERS = ("TS", "TU", "ET", "SC")
#: Specifiers that give one token per eye.
EYE_SPECIFIERS = ("SX", "SY", "DX", "DY", "PX", "PY", "CX", "CY", "EX", "EY", "EZ")
#: The long binocular format of the benchmark (docs/protocol/iviewx.md).
LONG_FORMAT = "%TU %ET %SX %SY %DX %DY %EX %EY %EZ"

_STRIP = " \t\r\n\x00"


def split_lines(datagram: bytes) -> list[str]:
    """The non-empty lines of a datagram, latin-1, whitespace and NUL stripped.

    Parameters
    ----------
    datagram : bytes
        As received (up to 64 KiB).
    """
    text = datagram.decode("latin-1")
    if "\n" not in text and "\r" not in text:
        text = text.strip(_STRIP)
        return [text] if text else []
    lines = []
    for line in text.replace("\r", "\n").split("\n"):
        line = line.strip(_STRIP)
        if line:
            lines.append(line)
    return lines


def format_command(command: str, *args: object) -> bytes:
    """One client-to-server line: arguments with spaces (or any ET_FRM / ET_REM text) quoted.

    Parameters
    ----------
    command : str
        ``ET_...``.
    *args : object
        Arguments, formatted with ``str``; double quotes inside become single quotes.
    """
    parts = [command]
    for arg in args:
        text = str(arg).replace('"', "'").replace("\n", " ").replace("\r", " ")
        if command in ("ET_FRM", "ET_REM") or not text or any(c in text for c in " \t"):
            text = f'"{text}"'
        parts.append(text)
    return (" ".join(parts) + "\n").encode("latin-1", errors="replace")


def split_command(line: str) -> list[str]:
    """Tokens of a line, double-quoted arguments kept whole (a malformed quote: plain split)."""
    try:
        return shlex.split(line, posix=True)
    except ValueError:
        return line.split()


class _Layout:
    """Token positions of one eye layout (monocular or binocular) of a sample format."""

    def __init__(self, fields: Sequence[str], binocular: bool) -> None:
        self.binocular = binocular
        self.index: dict[str, int] = {}
        self.left: dict[str, int] = {}
        self.right: dict[str, int] = {}
        position = 0
        for field in fields:
            if field in EYE_SPECIFIERS:
                self.left[field] = position
                self.right[field] = position + 1 if binocular else position
                position += 2 if binocular else 1
            else:
                if field in SINGLE_SPECIFIERS:
                    self.index[field] = position
                position += 1
        self.count = position
        # Positions read for every sample, resolved once: time, eye, gaze and pupil.
        if "TU" in self.index:
            self.time_index, self.time_scale = self.index["TU"], 1e-6
        elif "TS" in self.index:
            self.time_index, self.time_scale = self.index["TS"], 1e-3
        else:
            self.time_index, self.time_scale = -1, math.nan
        self.eye_index = self.index.get("ET", -1)
        self.lx, self.ly = self.left.get("SX", -1), self.left.get("SY", -1)
        self.rx, self.ry = self.right.get("SX", -1), self.right.get("SY", -1)
        self.lp, self.rp = self.left.get("DX", -1), self.right.get("DX", -1)


class SampleFormat:
    """An ``ET_FRM`` format: its description, the parser of its samples and their formatter.

    Parameters
    ----------
    text : str
        Space-separated specifiers (``%TU %ET %SX %SY``) and literal tokens (copied into
        every sample, skipped when parsing).

    Raises
    ------
    ValueError
        A ``%`` token that is not a known specifier, a repeated specifier, or no gaze.
    """

    def __init__(self, text: str) -> None:
        self.text = " ".join(text.split())
        self.fields: list[str] = []
        self.literals: dict[int, str] = {}
        for token in self.text.split():
            if token.startswith("%"):
                name = token[1:]
                if name not in SINGLE_SPECIFIERS and name not in EYE_SPECIFIERS:
                    raise ValueError(
                        f"unknown specifier {token!r} in sample format {text!r} "
                        f"(known: {', '.join('%' + s for s in SINGLE_SPECIFIERS + EYE_SPECIFIERS)})"
                    )
                if name in self.fields:
                    raise ValueError(f"specifier {token!r} repeated in sample format {text!r}")
                self.fields.append(name)
            else:
                self.literals[len(self.fields)] = token
                self.fields.append("")
        if "SX" not in self.fields or "SY" not in self.fields:
            raise ValueError(f"sample format {text!r} has no gaze: it needs %SX and %SY")
        self.mono = _Layout(self.fields, binocular=False)
        self.bino = _Layout(self.fields, binocular=True)
        self.has_eye_type = "ET" in self.fields
        self.clock_resolution_s = 1e-6 if "TU" in self.fields else 1e-3 if "TS" in self.fields else math.nan

    def __repr__(self) -> str:
        return f"SampleFormat({self.text!r})"

    def parse(self, tokens: Sequence[str], t: float) -> GazeSample | None:
        """A sample from the tokens after ``ET_SPL``, or None when they fit neither layout.

        The layout is chosen by the token count (a sample still in flight after a format
        change or an eye switch may have the other one); where the format has ``%ET``, the
        eye type must agree with the layout.

        Parameters
        ----------
        tokens : Sequence[str]
            The sample's tokens, ``ET_SPL`` excluded.
        t : float
            Host arrival time, s.
        """
        n = len(tokens)
        if n == self.mono.count:
            layout = self.mono
        elif n == self.bino.count:
            layout = self.bino
        else:
            return None
        try:
            tracker_t = int(tokens[layout.time_index]) * layout.time_scale if layout.time_index >= 0 else math.nan
            if layout.eye_index >= 0:
                eye = tokens[layout.eye_index]
                if (eye == "b") != layout.binocular or eye not in ("l", "r", "b"):
                    return None
            else:
                eye = "b" if layout.binocular else "r"
            if layout.binocular:
                left = wire_eye(
                    float(tokens[layout.lx]),
                    float(tokens[layout.ly]),
                    float(tokens[layout.lp]) if layout.lp >= 0 else math.nan,
                )
                right = wire_eye(
                    float(tokens[layout.rx]),
                    float(tokens[layout.ry]),
                    float(tokens[layout.rp]) if layout.rp >= 0 else math.nan,
                )
                return binocular_sample(t, tracker_t, left, right)
            return monocular_sample(
                t,
                tracker_t,
                eye,
                wire_eye(
                    float(tokens[layout.lx]),
                    float(tokens[layout.ly]),
                    float(tokens[layout.lp]) if layout.lp >= 0 else math.nan,
                ),
            )
        except ValueError:
            return None

    def format(
        self,
        time_us: int,
        eye: str,
        left: Mapping[str, float],
        right: Mapping[str, float],
        counter: int = 0,
    ) -> str:
        """The ``ET_SPL`` line of one sample (the server side, for the simulator).

        Parameters
        ----------
        time_us : int
            Tracker clock, µs (``%TS`` gets ms).
        eye : str
            ``"l"``, ``"r"`` or ``"b"``.
        left, right : Mapping[str, float]
            Per-eye values by specifier name (``"SX"``, ``"DX"``, …); a monocular sample
            uses the mapping of its eye. Lost tracking is 0.
        counter : int
            Scene counter (``%SC``). (default: 0)
        """
        out = ["ET_SPL"]
        mono = left if eye == "l" else right
        for position, field in enumerate(self.fields):
            if not field:
                out.append(self.literals[position])
            elif field == "TU":
                out.append(str(time_us))
            elif field == "TS":
                out.append(str(time_us // 1000))
            elif field == "ET":
                out.append(eye)
            elif field == "SC":
                out.append(str(counter))
            elif eye == "b":
                out.append(_number(left[field]))
                out.append(_number(right[field]))
            else:
                out.append(_number(mono[field]))
        return " ".join(out)


def _number(value: float) -> str:
    """A value as iViewX writes it: 0 for lost, else up to 3 decimals."""
    if value == 0 or value != value:
        return "0"
    return f"{value:.3f}"


class Message(NamedTuple):
    """A server line that is not a sample.

    Attributes
    ----------
    kind : str
        ``"ping"``, ``"rate"``, ``"format"``, ``"stream_start"``, ``"stream_stop"``,
        ``"fixation_start"``, ``"fixation_end"``, ``"fixation_on"`` (ack of ET_FIX),
        ``"fixation_off"`` (bare ET_EFX, ack of the stop), ``"calibration_start"``,
        ``"calibration_area"``, ``"calibration_point"``, ``"calibration_change"``,
        ``"calibration_accept"``, ``"calibration_finish"``, ``"calibration_abort"``,
        ``"validation_start"``, ``"validation"``, ``"remark"``, ``"raw"`` (an unknown
        ``ET_`` line) or ``"malformed"``.
    data : tuple of (str, object)
        Typed fields.
    raw : str
        The line.
    """

    kind: str
    data: tuple[tuple[str, object], ...]
    raw: str


def _num(token: str) -> float:
    """A number, degree sign and any other unit suffix stripped."""
    return float(token.rstrip("°%").replace(",", "."))  # noqa: B005 (a set of suffix characters)


def parse_message(line: str) -> Message:
    """Classify a server line that is not ``ET_SPL``.

    Parameters
    ----------
    line : str
        One stripped line (latin-1 decoded).
    """
    tokens = line.split()
    command = tokens[0] if tokens else ""
    args = tokens[1:]
    try:
        if not command.startswith("ET_"):
            return Message("malformed", (), line)
        if command == "ET_PNG":
            return Message("ping", (), line)
        if command == "ET_SRT" and args:
            return Message("rate", (("rate_hz", _num(args[0])),), line)
        if command == "ET_FRM":
            quoted = split_command(line)
            return Message("format", (("format", " ".join(quoted[1:])),), line)
        if command == "ET_STR":
            return Message("stream_start", (), line)
        if command == "ET_EST":
            return Message("stream_stop", (), line)
        if command == "ET_FIX":
            if len(args) == 4 and args[0] in ("l", "r", "b"):
                return Message(
                    "fixation_start",
                    (
                        ("eye", args[0]),
                        ("start_s", int(args[1]) * 1e-6),
                        ("x", _num(args[2])),
                        ("y", _num(args[3])),
                    ),
                    line,
                )
            return Message("fixation_on", tuple(zip(("min_duration_ms", "dispersion_px"), map(_num, args))), line)
        if command == "ET_EFX":
            if len(args) == 6 and args[0] in ("l", "r", "b"):
                return Message(
                    "fixation_end",
                    (
                        ("eye", args[0]),
                        ("start_s", int(args[1]) * 1e-6),
                        ("end_s", int(args[2]) * 1e-6),
                        ("duration_s", (int(args[2]) - int(args[1])) * 1e-6),
                        ("duration", _num(args[3])),
                        ("x", _num(args[4])),
                        ("y", _num(args[5])),
                    ),
                    line,
                )
            if not args:
                return Message("fixation_off", (), line)
            return Message("malformed", (), line)
        if command == "ET_CAL":
            data: tuple[tuple[str, object], ...] = (("points", int(args[0])),) if args else ()
            if len(args) > 1:
                data += (("eye", args[1]),)
            return Message("calibration_start", data, line)
        if command == "ET_CSZ" and len(args) >= 2:
            return Message("calibration_area", (("width_px", _num(args[0])), ("height_px", _num(args[1]))), line)
        if command == "ET_PNT" and len(args) >= 3:
            return Message(
                "calibration_point", (("index", int(args[0])), ("x", _num(args[1])), ("y", _num(args[2]))), line
            )
        if command == "ET_CHG" and args:
            return Message("calibration_change", (("index", int(args[0])),), line)
        if command == "ET_ACC":
            return Message("calibration_accept", (("index", int(args[0])),) if args else (), line)
        if command == "ET_FIN":
            return Message("calibration_finish", (("code", int(args[0])),) if args else (), line)
        if command == "ET_BRK":
            return Message("calibration_abort", (), line)
        if command == "ET_VLS":
            if len(args) == 6 and args[0] in ("l", "r", "b"):
                return Message(
                    "validation",
                    (
                        ("eye", args[0]),
                        ("rms_x_px", _num(args[1])),
                        ("rms_y_px", _num(args[2])),
                        ("rms_distance_px", _num(args[3])),
                        ("mean_x_deg", _num(args[4])),
                        ("mean_y_deg", _num(args[5])),
                    ),
                    line,
                )
            if not args:
                return Message("validation_start", (), line)
            return Message("malformed", (), line)
        if command == "ET_REM":
            quoted = split_command(line)
            return Message("remark", (("text", " ".join(quoted[1:])),), line)
    except (ValueError, IndexError):
        return Message("malformed", (), line)
    return Message("raw", (("command", command),), line)
