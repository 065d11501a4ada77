"""The iViewX remote command protocol, pure: lines in, typed messages and samples out.

No sockets here (see ``client.py`` and ``simulator.py``). The protocol and the evidence each
rule rests on are in ``docs/protocol/iviewx.md``: one text line per datagram (sometimes
several), latin-1, fields separated by runs of spaces or tabs, trailing whitespace and NUL
padding stripped. Samples (``ET_SPL``) follow the layout the client set with ``ET_FRM``:
``TS``/``TU``/``ET``/``SC`` give one token each, every per-eye specifier one token when
monocular and two (left, right) when binocular; the requested specifiers are read by
position from the start and tokens after them are kept as extras (a RED was logged sending
values its format did not ask for).
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from gazefusion.trackers.base import binocular_sample, monocular_sample
from gazefusion.trackers.iviewx.conventions import EYE_DISTANCE_MM, wire_eye
from gazefusion.trackers.types import EyeGaze, GazeSample

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
    """One client-to-server line.

    ``ET_REM`` text goes as written, unquoted, to the end of the line (as Psychtoolbox's
    iViewX toolbox sends it: quotes would be the recording's if the server keeps the rest of
    the line). Other arguments with spaces, and any ``ET_FRM`` format, are double-quoted.

    Parameters
    ----------
    command : str
        ``ET_...``.
    *args : object
        Arguments, formatted with ``str``; line breaks become spaces (one line per datagram),
        double quotes inside a quoted argument become single quotes.
    """
    parts = [command]
    for arg in args:
        text = str(arg).replace("\n", " ").replace("\r", " ")
        if command != "ET_REM" and (command == "ET_FRM" or not text or any(c in text for c in " \t")):
            text = '"' + text.replace('"', "'") + '"'
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
        # Positions read for every sample, resolved once: time, eye, gaze, pupil, eye distance.
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
        self.lz, self.rz = self.left.get("EZ", -1), self.right.get("EZ", -1)


class SampleFormat:
    """An ``ET_FRM`` format: its description, the parser of its samples and their formatter.

    Parameters
    ----------
    text : str
        Space-separated specifiers (``%TU %ET %SX %SY``) and literal tokens (copied into
        every sample, skipped when parsing).
    eye_distance_mm : tuple of float
        Eye distances (``%EZ``) that count as tracking, mm; outside them, and at 0, the eye is
        lost whatever its gaze reads. (default: EYE_DISTANCE_MM)

    Raises
    ------
    ValueError
        A ``%`` token that is not a known specifier, a repeated specifier, or no gaze.
    """

    def __init__(self, text: str, eye_distance_mm: tuple[float, float] = EYE_DISTANCE_MM) -> None:
        self.text = " ".join(text.split())
        self.eye_distance_mm = (float(eye_distance_mm[0]), float(eye_distance_mm[1]))
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

    def _layout(self, tokens: Sequence[str]) -> _Layout | None:
        """The eye layout the tokens are in: by the eye type where the format has ``%ET``,
        else by the count (exact counts first; more than binocular is binocular with extras)."""
        n = len(tokens)
        mono, bino = self.mono, self.bino
        if self.has_eye_type:
            if n > bino.eye_index and tokens[bino.eye_index] == "b":
                return bino if n >= bino.count else None
            if n > mono.eye_index and tokens[mono.eye_index] in ("l", "r"):
                return mono if n >= mono.count else None
            return None
        if n == mono.count:
            return mono
        if n >= bino.count:
            return bino
        return mono if n > mono.count else None

    def parse(self, tokens: Sequence[str], t: float) -> GazeSample | None:
        """A sample from the tokens after ``ET_SPL``, or None when its known fields do not fit.

        The requested specifiers are read by position from the start, in the eye layout the
        sample is in (a sample in flight after an eye switch has the other one); tokens after
        them are kept in :attr:`GazeSample.extras`. An eye whose distance (``%EZ``) is 0 or out
        of range is lost, whatever its gaze reads.

        Parameters
        ----------
        tokens : Sequence[str]
            The sample's tokens, ``ET_SPL`` excluded.
        t : float
            Host arrival time, s.
        """
        layout = self._layout(tokens)
        if layout is None:
            return None
        try:
            tracker_t = int(tokens[layout.time_index]) * layout.time_scale if layout.time_index >= 0 else math.nan
            eye = tokens[layout.eye_index] if layout.eye_index >= 0 else ("b" if layout.binocular else "r")
            if layout.binocular:
                sample = binocular_sample(
                    t,
                    tracker_t,
                    self._eye(tokens, layout.lx, layout.ly, layout.lp, layout.lz),
                    self._eye(tokens, layout.rx, layout.ry, layout.rp, layout.rz),
                )
            else:
                sample = monocular_sample(
                    t, tracker_t, eye, self._eye(tokens, layout.lx, layout.ly, layout.lp, layout.lz)
                )
        except ValueError:
            return None
        if len(tokens) > layout.count:
            return sample._replace(extras=tuple(tokens[layout.count :]))
        return sample

    def _eye(self, tokens: Sequence[str], x: int, y: int, pupil: int, distance: int) -> EyeGaze:
        return wire_eye(
            float(tokens[x]),
            float(tokens[y]),
            float(tokens[pupil]) if pupil >= 0 else math.nan,
            float(tokens[distance]) if distance >= 0 else math.nan,
            self.eye_distance_mm,
        )

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


#: Eye names seen in validation lines (a letter or a word), to the eye letter.
VALIDATION_EYES = {"l": "l", "left": "l", "r": "r", "right": "r", "b": "b", "both": "b", "binocular": "b"}
#: The fields of a validation line, in the order servers were seen to send them.
VALIDATION_FIELDS = ("rms_x_px", "rms_y_px", "rms_distance_px", "mean_x_deg", "mean_y_deg")
# A number, and a degree sign (or the ordinal sign some servers write for it) attached or apart.
_VALIDATION_NUMBER = re.compile(r"([-+]?(?:\d+(?:[.,]\d+)?|[.,]\d+))\s*([\u00b0\u00ba])?")


def recode(line: str) -> str:
    """A line read as latin-1, decoded again as UTF-8 where it is UTF-8, else as cp1252.

    Parameters
    ----------
    line : str
        As :func:`split_lines` decoded it.
    """
    data = line.encode("latin-1")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_validation(text: str) -> tuple[tuple[str, object], ...]:
    """The fields of a validation result (the text after ``ET_VLS``), read leniently.

    The eye comes first as a letter or a word, or not at all (``eye`` is then ""). Numbers
    marked with a degree sign (attached or apart) are the mean deviations, in order; the
    others are the RMS deviations x, y and distance, in order. Without any degree sign the
    numbers are taken in the order RMS x, y, distance, mean x, mean y. Missing fields are nan;
    numbers beyond them are kept in ``extras``.

    Parameters
    ----------
    text : str
        The line after ``ET_VLS``, decoded (see :func:`recode`).
    """
    words = text.split(None, 1)
    eye = VALIDATION_EYES.get(words[0].lower().rstrip(":,;")) if words else None
    rest = words[1] if eye is not None and len(words) > 1 else "" if eye is not None else text
    degrees: list[float] = []
    plain: list[float] = []
    for number, sign in _VALIDATION_NUMBER.findall(rest):
        (degrees if sign else plain).append(float(number.replace(",", ".")))
    if degrees:
        values, extras = plain[:3] + [math.nan] * (3 - len(plain[:3])) + degrees[:2], plain[3:] + degrees[2:]
    else:
        values, extras = plain[:5], plain[5:]
    values += [math.nan] * (5 - len(values))
    return (("eye", eye or ""), *zip(VALIDATION_FIELDS, values), ("extras", tuple(extras)))


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
            if not args:
                return Message("validation_start", (), line)
            text = recode(line)
            return Message("validation", parse_validation(text.split(None, 1)[1]), text)
        if command == "ET_REM":
            return Message("remark", (("text", line[len(command) :].strip()),), line)
    except (ValueError, IndexError):
        return Message("malformed", (), line)
    return Message("raw", (("command", command),), line)
