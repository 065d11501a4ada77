"""An iViewX server on UDP, driven by a gaze script, with fault injection.

It speaks the protocol in one of two modes. ``notes``: as the notes the client was first
written from read it (the first notes): ``ET_PNG``, ``ET_SRT``, ``ET_FRM`` (any format of the
specifiers), ``ET_STR``/``ET_EST`` streaming at the sample rate, monocular or binocular,
online fixation events (``ET_FIX``/``ET_EFX``, a dispersion detector), the calibration and
validation flow (``ET_CAL`` … ``ET_FIN``, ``ET_VLS`` with degree signs) and ``ET_REM``
(logged). ``real-world``: the forms independent clients saw real servers send beyond that
(:class:`RealWorld`; docs/protocol/iviewx.md gives the source of each). Data goes to the
address commands come from, to the port they come from or to a fixed `data_port` (as a
configured iViewX does).

Faults: loss, duplication, reordering, junk datagrams, a clock restart, a stall, several
lines per datagram, echoes of every command. Everything sent is recorded (:attr:`sent`), so
tests compare what the client got with what was sent, sample for sample.
"""

from __future__ import annotations

import logging
import math
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Literal, NamedTuple

from gazefusion.fusion.errors import ConfigError, TrackerError
from gazefusion.fusion.geometry import ScreenGeometry
from gazefusion.trackers.iviewx.protocol import SampleFormat, split_command, split_lines
from gazefusion.trackers.script import GazeScript, ScriptedGaze

log = logging.getLogger(__name__)

MAX_RATE_HZ = 20000.0  # real trackers: 60 to 1250 Hz; above that for stress benchmarks
_CLOCK_START_US = 100_527_771_763  # beyond 32 bits, as real iViewX clocks are
VERGENCE_PX = 3.0
"""Each eye's gaze lies this far from the script's, screen px (left eye left, right eye right)."""
_CALIBRATION_GRIDS = {
    2: [(0.25, 0.5), (0.75, 0.5)],
    5: [(0.5, 0.5), (0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)],
    9: [(0.5, 0.5), (0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9), (0.5, 0.1), (0.1, 0.5), (0.9, 0.5), (0.5, 0.9)],
    13: [
        (0.5, 0.5),
        (0.1, 0.1),
        (0.9, 0.1),
        (0.1, 0.9),
        (0.9, 0.9),
        (0.5, 0.1),
        (0.1, 0.5),
        (0.9, 0.5),
        (0.5, 0.9),
        (0.3, 0.3),
        (0.7, 0.3),
        (0.3, 0.7),
        (0.7, 0.7),
    ],
}
_VALIDATION_GRID = [(0.3, 0.3), (0.7, 0.3), (0.3, 0.7), (0.7, 0.7)]
_EYE_WORDS = {"l": "left", "r": "right"}
# ET_CAL's eye as PyViewX sends it, the only form the real-world mode answers.
_NUMBERED_EYES = {"1": "r", "2": "l"}
# Values a RED was logged sending after the requested ones (their meaning is not documented).
_TRAILING = {"b": "3.09 2.82 3", "l": "3.09 3", "r": "3.09 3"}
# One eye lost by its distance alone, in runs: samples whose index // 25 has this remainder mod 10.
_DISTANCE_LOSS_PHASE = 3

Mode = Literal["notes", "real-world"]
#: The simulator's modes: the notes' reading of the protocol, or what real servers sent.
MODES: tuple[Mode, ...] = ("notes", "real-world")


class RealWorld(NamedTuple):
    """Forms real servers were seen to send beyond the notes (each on in the real-world mode).

    Attributes
    ----------
    validation_forms : bool
        The validation sequence ends with ``ET_FIN``, then ``ET_VLS`` lines in the form
        ``validation_form`` picks (:data:`VALIDATION_FORMS`: the eye as a word, degree
        signs apart or absent, UTF-8, fields missing or extra, no line). (default: True)
    numeric_eye : bool
        ``ET_CAL`` takes its eye as a number (1 right, 2 left); a letter starts nothing.
        (default: True)
    trailing_values : bool
        Every sample ends with values the format did not ask for. (default: True)
    other_address : bool
        Replies come from another address of this machine (another port where the
        listening address is not a loopback one). (default: True)
    same_gaze : bool
        Binocular gaze is the same for both eyes. (default: True)
    next_point_accept : bool
        ``ET_ACC`` carries the number of the next target (bare after the last), and the first
        target is announced twice. (default: True)
    distance_loss : bool
        An eye is lost in runs by its distance alone (``EZ`` and pupil 0, gaze still there).
        (default: True)
    verbatim_remarks : bool
        ``ET_REM`` keeps the rest of the line as it came, quotes included. (default: True)
    """

    validation_forms: bool = True
    numeric_eye: bool = True
    trailing_values: bool = True
    other_address: bool = True
    same_gaze: bool = True
    next_point_accept: bool = True
    distance_loss: bool = True
    verbatim_remarks: bool = True

    @classmethod
    def only(cls, name: str) -> RealWorld:
        """The notes with one real-world form turned on.

        Parameters
        ----------
        name : str
            A field of :class:`RealWorld`, e.g. ``"numeric_eye"``.
        """
        if name not in cls._fields:
            raise ValueError(f"no real-world form {name!r} (known: {', '.join(cls._fields)})")
        return cls(**{field: field == name for field in cls._fields})


def real_world(mode: str) -> RealWorld | None:
    """The forms of a mode: None for ``notes``, all of them for ``real-world``.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`.

    Raises
    ------
    ConfigError
        Not one of :data:`MODES`.
    """
    if mode not in MODES:
        raise ConfigError(f"simulator mode {mode!r} is not one of {', '.join(MODES)}")
    return RealWorld() if mode == "real-world" else None


def _eye_word(side: str, figures: str) -> tuple[str, str]:
    return f"ET_VLS {_EYE_WORDS[side]} {figures}", "cp1252"


#: Validation result lines as real servers and independent clients showed them: name to a
#: function of (eye, rms x, rms y, rms distance, mean x, mean y) giving the line and its encoding
#: (None: no line). The figures they carry: :func:`validation_truth`.
VALIDATION_FORMS: dict[str, Callable[[str, float, float, float, float, float], tuple[str | None, str]]] = {
    "eye-word": lambda e, x, y, d, mx, my: _eye_word(e, f"{x:.1f} {y:.1f} {d:.1f} {mx:.2f}\u00b0 {my:.2f}\u00b0"),
    "degree-apart": lambda e, x, y, d, mx, my: (
        f"ET_VLS {e} {x:.1f} {y:.1f} {d:.1f} {mx:.2f} \u00b0 {my:.2f} \u00b0",
        "cp1252",
    ),
    "no-degree": lambda e, x, y, d, mx, my: (f"ET_VLS {e} {x:.1f} {y:.1f} {d:.1f} {mx:.2f} {my:.2f}", "cp1252"),
    "utf-8": lambda e, x, y, d, mx, my: (
        f"ET_VLS {e.upper()} {x:.1f} {y:.1f} {d:.1f} {mx:.2f}\u00b0 {my:.2f}\u00b0",
        "utf-8",
    ),
    "ordinal-sign": lambda e, x, y, d, mx, my: _eye_word(e, f"{x:.1f} {y:.1f} {d:.1f} {mx:.2f}\u00ba {my:.2f}\u00ba"),
    "missing-field": lambda e, x, y, d, mx, my: (f"ET_VLS {e} {x:.1f} {y:.1f} {mx:.2f}\u00b0 {my:.2f}\u00b0", "cp1252"),
    "extra-field": lambda e, x, y, d, mx, my: (
        f"ET_VLS {e} {x:.1f} {y:.1f} {d:.1f} {mx:.2f}\u00b0 {my:.2f}\u00b0 13",
        "cp1252",
    ),
    "no-eye": lambda e, x, y, d, mx, my: (f"ET_VLS {x:.1f} {y:.1f} {d:.1f} {mx:.2f}\u00b0 {my:.2f}\u00b0", "cp1252"),
    "no-figures": lambda e, x, y, d, mx, my: _eye_word(e, "n/a"),
    "no-line": lambda e, x, y, d, mx, my: (None, "cp1252"),
}


def validation_truth(
    form: str, side: str, figures: tuple[float, ...], line_number: int
) -> tuple[str, tuple[float, ...]]:
    """The eye key and the figures a client should read from a line of `form` (nan: absent).

    Parameters
    ----------
    form : str
        A key of :data:`VALIDATION_FORMS`.
    side : str
        The eye the line is about.
    figures : tuple of float
        RMS x, y, distance (px), mean x, y (degrees), as rounded on the line.
    line_number : int
        The line's place among the result lines, from 1.
    """
    if form == "no-figures":
        return side, (math.nan,) * 5
    if form == "missing-field":
        return side, figures[:2] + (math.nan,) + figures[3:]
    return (f"line{line_number}" if form == "no-eye" else side), figures


class Faults(NamedTuple):
    """Faults the simulator injects (all off by default).

    Attributes
    ----------
    loss : float
        Probability that a sample is not sent. (default: 0.0)
    duplicate : float
        Probability that a sample's datagram is sent twice. (default: 0.0)
    reorder : float
        Probability that a sample is held back and sent after the next one. (default: 0.0)
    junk : float
        Probability, per sample, of a junk datagram before it (binary bytes, empty,
        whitespace, NUL padding, a broken ``ET_SPL``). (default: 0.0)
    restart_at_s : float or None
        Stream time at which the tracker clock restarts from near zero. (default: None)
    stall_at_s : float or None
        Stream time at which sending stops for `stall_s` (samples are made, not sent).
        (default: None)
    stall_s : float
        Length of the stall, s. (default: 0.0)
    lines_per_datagram : int
        Sample lines packed into one datagram. (default: 1)
    echo : bool
        Echo every command line back before answering it. (default: False)
    seed : int
        Seed of the fault draws. (default: 0)
    """

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    junk: float = 0.0
    restart_at_s: float | None = None
    stall_at_s: float | None = None
    stall_s: float = 0.0
    lines_per_datagram: int = 1
    echo: bool = False
    seed: int = 0


class SentSample(NamedTuple):
    """A sample the simulator made, with the values as written on the wire.

    Attributes
    ----------
    index : int
        Running sample number.
    time_us : int
        Tracker clock, µs.
    eye : str
        ``"l"``, ``"r"`` or ``"b"``.
    left, right : tuple of float or None
        (x px, y px, pupil) per eye as sent (0 for lost); None for the eye not sent.
    line : str
        The ``ET_SPL`` line.
    sent : bool
        False when the sample was lost (fault) or made during a stall.
    distance_lost : str
        The eye lost by its distance alone (``EZ`` and pupil 0, gaze still sent), or "".
        (default: "")
    """

    index: int  # type: ignore[assignment]  # the sample's number; shadows tuple.index
    time_us: int
    eye: str
    left: tuple[float, float, float] | None
    right: tuple[float, float, float] | None
    line: str
    sent: bool
    distance_lost: str = ""


# A fixation event of the server's detector: ("start" or "end", start µs, end µs, x, y).
_Fixation = tuple[str, int, int, float, float]


class _Dispersion:
    """A small online dispersion (I-DT) detector for the server's fixation events."""

    def __init__(self, min_duration_ms: float, dispersion_px: float) -> None:
        self.min_us = min_duration_ms * 1000.0
        self.max_px = dispersion_px
        self.window: list[tuple[int, float, float]] = []
        self.fixating = False
        self.bounds = [math.inf, -math.inf, math.inf, -math.inf]

    @staticmethod
    def _spread(points: list[tuple[int, float, float]]) -> float:
        xs = [p[1] for p in points]
        ys = [p[2] for p in points]
        return (max(xs) - min(xs)) + (max(ys) - min(ys))

    def _end(self) -> list[_Fixation]:
        points = self.window
        t0, t1 = points[0][0], points[-1][0]
        x = sum(p[1] for p in points) / len(points)
        y = sum(p[2] for p in points) / len(points)
        self.fixating = False
        return [("end", t0, t1, x, y)]

    def push(self, time_us: int, x: float, y: float, valid: bool) -> list[_Fixation]:
        """Events (``("start", t0, t0, x, y)`` or ``("end", t0, t1, x, y)``) after this sample."""
        out: list[_Fixation] = []
        if not valid:
            if self.fixating:
                out = self._end()
            self.window = []
            return out
        if self.fixating:
            b = self.bounds
            nb = [min(b[0], x), max(b[1], x), min(b[2], y), max(b[3], y)]
            if (nb[1] - nb[0]) + (nb[3] - nb[2]) > self.max_px:
                out = self._end()
                self.window = [(time_us, x, y)]
            else:
                self.bounds = nb
                self.window.append((time_us, x, y))
            return out
        self.window.append((time_us, x, y))
        while len(self.window) > 1 and self._spread(self.window) > self.max_px:
            self.window.pop(0)
        if self.window[-1][0] - self.window[0][0] >= self.min_us:
            self.fixating = True
            xs = [p[1] for p in self.window]
            ys = [p[2] for p in self.window]
            self.bounds = [min(xs), max(xs), min(ys), max(ys)]
            t0 = self.window[0][0]
            out.append(("start", t0, t0, sum(xs) / len(xs), sum(ys) / len(ys)))
        return out


def _wire(value: float) -> str:
    return "0" if value == 0 or value != value else f"{value:.3f}"


class IViewXSimulator:
    """A simulated iViewX server on UDP, running in its own threads.

    Parameters
    ----------
    script : GazeScript or None
        Where the eye looks; None: a seeded :class:`ScriptedGaze` on a 1920x1080 screen.
        (default: None)
    rate_hz : float
        Sample rate, Hz (60 to 1250 as real trackers; up to 20000 for stress benchmarks).
        (default: 500.0)
    binocular : bool
        Send both eyes (``b``) or the right eye only. (default: False)
    host : str
        Address to listen on. (default: "127.0.0.1")
    command_port : int
        UDP command port; 0 picks a free one (see :attr:`command_port`). (default: 0)
    data_port : int or None
        Send data to this port of the commanding host; None: to the port commands come
        from. (default: None)
    faults : Faults or None
        Faults to inject. (default: None)
    sample_format : str
        Sample format until a client sends ``ET_FRM``. (default: "%TS %ET %SX %SY")
    seed : int
        Seed of the default script and the validation figures. (default: 0)
    point_s : float
        Time each calibration target is shown before auto-accept, s. (default: 0.2)
    on_command : callable or None
        Called with each command line and the sender's address (the CLI prints them).
        (default: None)
    record : bool
        Keep every sample made in :attr:`sent` (tests); False keeps only the counts, for
        long runs. (default: True)
    real_world : RealWorld or None
        The real-world forms to send; None speaks the notes' reading. (default: None)
    validation_form : str or None
        With ``real_world.validation_forms``, the form of the result lines (a key of
        :data:`VALIDATION_FORMS`); None takes them in turn, one per validation. (default: None)
    """

    def __init__(
        self,
        script: GazeScript | None = None,
        rate_hz: float = 500.0,
        binocular: bool = False,
        host: str = "127.0.0.1",
        command_port: int = 0,
        data_port: int | None = None,
        faults: Faults | None = None,
        sample_format: str = "%TS %ET %SX %SY",
        seed: int = 0,
        point_s: float = 0.2,
        on_command: Callable[[str, tuple[str, int]], None] | None = None,
        record: bool = True,
        real_world: RealWorld | None = None,
        validation_form: str | None = None,
    ) -> None:
        if not 0 < rate_hz <= MAX_RATE_HZ:
            raise TrackerError(f"simulator: rate {rate_hz:g} Hz is outside 1..{MAX_RATE_HZ:g} Hz")
        self.script: GazeScript = script or ScriptedGaze(ScreenGeometry(1920, 1080, 531.0, 299.0, 650.0), seed=seed)
        self.rate_hz = float(rate_hz)
        self.binocular = binocular
        self.host = host
        self.data_port = data_port
        self.faults = faults or Faults()
        self.sample_format = SampleFormat(sample_format)
        self.point_s = point_s
        self.on_command = on_command
        if validation_form is not None and validation_form not in VALIDATION_FORMS:
            raise ConfigError(
                f"simulator: no validation form {validation_form!r} (known: {', '.join(VALIDATION_FORMS)})"
            )
        self.real_world = real_world or RealWorld(*(False,) * len(RealWorld._fields))
        self.validation_form = validation_form
        self.validation_runs = 0
        self.calibration_area = (1920, 1080)
        self.sent: list[SentSample] = []
        self.commands: list[str] = []
        self.remarks: list[str] = []
        self.fixation_lines: list[str] = []
        self.validation_lines: list[str] = []
        self.validation_truth: list[tuple[str, tuple[float, ...]]] = []
        self.record = record
        self.samples_sent = 0
        self.samples_made = 0
        self.datagrams_sent = 0
        self.junk_sent = 0
        self.duplicates_sent = 0
        self._requested = command_port
        self._sock: socket.socket | None = None
        self._reply_sock: socket.socket | None = None
        self._client: tuple[str, int] | None = None
        self._rng = random.Random(self.faults.seed)
        self._validation_rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._streaming = threading.Event()
        self._stream_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._index = 0
        self._stream_every = 1
        self._stream_t0 = 0.0
        self._stream_index0 = 0
        self._clock_offset_us = _CLOCK_START_US
        self._clock_index0 = 0
        self._restarted = False
        self._held: SentSample | None = None
        self._outbox: list[str] = []
        self._stall_until = -math.inf
        self._detector: _Dispersion | None = None
        self._auto_accept = True
        self._accept = threading.Event()
        self._abort = threading.Event()

    # ------------------------------------------------------------------ life cycle
    @property
    def command_port(self) -> int:
        """The UDP port commands go to (known once started)."""
        return self._sock.getsockname()[1] if self._sock is not None else self._requested

    @property
    def address(self) -> tuple[str, int]:
        """(host, command port)."""
        return self.host, self.command_port

    def start(self) -> IViewXSimulator:
        """Bind the command port and start the threads.

        Raises
        ------
        TrackerError
            The port is in use or the address cannot be bound.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            sock.bind((self.host, self._requested))
        except OSError as exc:
            sock.close()
            raise TrackerError(
                f"simulator: cannot listen on UDP {self.host}:{self._requested} ({exc.strerror})"
            ) from None
        sock.settimeout(0.1)
        self._sock = sock
        if self.real_world.other_address:
            self._reply_sock = self._bind_reply_socket()
        for target, name in ((self._serve, "iviewx-sim-commands"), (self._stream, "iviewx-sim-stream")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def _bind_reply_socket(self) -> socket.socket:
        """A socket on another address of this machine (another port where there is none)."""
        other = self.host
        if self.host.startswith("127."):
            other = "127.0.0.3" if self.host == "127.0.0.2" else "127.0.0.2"
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            sock.bind((other, 0))
        except OSError as exc:
            sock.close()
            raise TrackerError(f"simulator: cannot reply from {other} ({exc.strerror})") from None
        return sock

    @property
    def reply_address(self) -> tuple[str, int]:
        """(address, port) replies come from (known once started)."""
        sock = self._reply_sock or self._sock
        return sock.getsockname() if sock is not None else (self.host, self._requested)

    def stop(self) -> None:
        """Stop the threads and close the sockets; safe to call more than once."""
        self._stop.set()
        self._abort.set()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._threads.clear()
        for sock in (self._sock, self._reply_sock):
            if sock is not None:
                sock.close()
        self._sock = self._reply_sock = None

    def __enter__(self) -> IViewXSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def streaming(self) -> bool:
        """Whether samples are being sent."""
        return self._streaming.is_set()

    # ------------------------------------------------------------------ test controls
    def send_raw(self, data: bytes) -> None:
        """Send one datagram to the client as it is (to inject anything a real server might).

        Parameters
        ----------
        data : bytes
            The datagram.
        """
        self._send_datagram(data)

    def set_binocular(self, binocular: bool) -> None:
        """Switch between monocular and binocular samples mid-stream.

        Parameters
        ----------
        binocular : bool
            Send both eyes from now on.
        """
        self.binocular = binocular

    def stall(self, seconds: float) -> None:
        """Stop sending for a while from now (samples are made, not sent).

        Parameters
        ----------
        seconds : float
            How long, s.
        """
        self._stall_until = time.monotonic() + seconds

    def sent_samples(self) -> list[SentSample]:
        """The samples that went out, in the order they were sent."""
        with self._lock:
            return [sample for sample in self.sent if sample.sent]

    # ------------------------------------------------------------------ sending
    def _send_datagram(self, data: bytes) -> None:
        sock, client = self._reply_sock or self._sock, self._client
        if sock is None or client is None:
            return
        try:
            sock.sendto(data, client)
            self.datagrams_sent += 1
        except OSError as exc:
            log.debug("simulator: send failed: %s", exc)

    def _send_line(self, line: str, encoding: str = "latin-1") -> None:
        self._send_datagram((line + "\n").encode(encoding))

    def _junk(self) -> bytes:
        rng = self._rng
        kind = rng.randrange(5)
        if kind == 0:
            return bytes(rng.choice([b for b in range(256) if b not in (10, 13)]) for _ in range(rng.randint(1, 48)))
        return [b"", b" \t \r\n", b"\x00" * 16, b"ET_SPL not a sample\x00\x00"][kind - 1]

    def _emit(self, sample: SentSample) -> None:
        """Send one sample line (or pack it), with duplication."""
        n = max(1, self.faults.lines_per_datagram)
        self._outbox.append(sample.line)
        if len(self._outbox) >= n:
            self._flush()
        if self.faults.duplicate and self._rng.random() < self.faults.duplicate and n == 1:
            self.duplicates_sent += 1
            self._send_line(sample.line)

    def _flush(self) -> None:
        if self._outbox:
            self._send_datagram(("\n".join(self._outbox) + "\n").encode("latin-1"))
            self._outbox = []

    def _make(self, index: int) -> SentSample:
        stream_t = index / self.rate_hz
        faults = self.faults
        if faults.restart_at_s is not None and not self._restarted and stream_t >= faults.restart_at_s:
            self._restarted = True
            self._clock_offset_us, self._clock_index0 = 1000, index
        time_us = self._clock_offset_us + round((index - self._clock_index0) * 1e6 / self.rate_hz)
        x, y, valid = self.script(stream_t)
        forms = self.real_world
        eye = "b" if self.binocular else "r"
        # Lost by distance alone: the right eye (the only one, when monocular), in runs.
        distance_lost = "r" if forms.distance_loss and valid and (index // 25) % 10 == _DISTANCE_LOSS_PHASE else ""
        vergence_px = 0.0 if forms.same_gaze else VERGENCE_PX
        eyes: dict[str, dict[str, float]] = {}
        values: dict[str, tuple[float, float, float]] = {}
        for side, dx, ex in (("l", -vergence_px, -31.5), ("r", vergence_px, 31.5)):
            if valid:
                gx, gy = float(_wire(x + dx)), float(_wire(y))
                pupil, distance = (0.0, 0.0) if side == distance_lost else (12.105, 587.446)
                eyes[side] = {
                    "SX": gx,
                    "SY": gy,
                    "DX": pupil,
                    "DY": 0.0 if side == distance_lost else 10.957,
                    "PX": 379.808,
                    "PY": 654.02,
                    "CX": 438.805,
                    "CY": 425.142,
                    "EX": ex,
                    "EY": 3.225,
                    "EZ": distance,
                }
                values[side] = (gx, gy, pupil)
            else:
                eyes[side] = dict.fromkeys(("SX", "SY", "DX", "DY", "PX", "PY", "CX", "CY", "EX", "EY", "EZ"), 0.0)
                values[side] = (0.0, 0.0, 0.0)
        line = self.sample_format.format(time_us, eye, eyes["l"], eyes["r"], counter=index)
        if forms.trailing_values:
            line += " " + _TRAILING[eye]
        if self._detector is not None:
            for event in self._detector.push(time_us, x, y, valid):
                self._fixation_event(event, eye)
        return SentSample(
            index,
            time_us,
            eye,
            values["l"] if eye != "r" else None,
            values["r"] if eye != "l" else None,
            line,
            True,
            distance_lost,
        )

    def _fixation_event(self, event: _Fixation, eye: str) -> None:
        kind, t0, t1, x, y = event
        for side in ("l", "r") if eye == "b" else (eye,):
            if kind == "start":
                line = f"ET_FIX {side} {t0} {x:.0f} {y:.0f}"
            else:
                line = f"ET_EFX {side} {t0} {t1} {(t1 - t0) // 1000} {x:.0f} {y:.0f}"
            self.fixation_lines.append(line)
            self._send_line(line)

    def _produce(self, index: int, now: float) -> None:
        faults = self.faults
        rng = self._rng
        sample = self._make(index)
        stream_t = index / self.rate_hz
        stalled = now < self._stall_until or (
            faults.stall_at_s is not None and faults.stall_at_s <= stream_t < faults.stall_at_s + faults.stall_s
        )
        if faults.junk and rng.random() < faults.junk and not stalled:
            self.junk_sent += 1
            self._send_datagram(self._junk())
        lost = stalled or (faults.loss > 0 and rng.random() < faults.loss)
        self.samples_made += 1
        if lost:
            self._keep(sample._replace(sent=False))
            return
        if self._held is not None:
            held, self._held = self._held, None
            self._keep(sample)
            self._keep(held)
            self._emit(sample)
            self._emit(held)
            return
        if faults.reorder and rng.random() < faults.reorder:
            self._held = sample
            return
        self._keep(sample)
        self._emit(sample)

    def _keep(self, sample: SentSample) -> None:
        if sample.sent:
            self.samples_sent += 1
        if self.record:
            with self._lock:
                self.sent.append(sample)

    def _stream(self) -> None:
        nap = 0.0005 if self.rate_hz > 1000 else 0.001
        while not self._stop.is_set():
            if not self._streaming.wait(0.05):
                continue
            with self._stream_lock:  # ET_EST waits for the batch: nothing goes out after it
                now = time.monotonic()
                due = (
                    self._stream_index0
                    + int((now - self._stream_t0) * self.rate_hz / self._stream_every) * self._stream_every
                    + 1
                )
                while self._index < due and self._streaming.is_set():
                    if (self._index - self._stream_index0) % self._stream_every == 0:
                        self._produce(self._index, now)
                    self._index += 1
            time.sleep(nap)

    # ------------------------------------------------------------------ commands
    def _serve(self) -> None:
        while not self._stop.is_set():
            sock = self._sock
            if sock is None:
                return
            try:
                data, address = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                continue
            if self.data_port is not None:
                self._client = (address[0], self.data_port)
            else:
                self._client = address
            for line in split_lines(data):
                self.commands.append(line)
                if self.on_command is not None:
                    self.on_command(line, address)
                if self.faults.echo:
                    self._send_line(line)
                self._command(line)

    def _command(self, line: str) -> None:
        tokens = split_command(line)
        command, args = tokens[0], tokens[1:]
        if command == "ET_PNG":
            self._send_line("ET_PNG")
        elif command == "ET_SRT":
            self._send_line(f"ET_SRT {self.rate_hz:g}")
        elif command == "ET_FRM" and args:
            try:
                self.sample_format = SampleFormat(" ".join(args))
            except ValueError as exc:
                log.warning("simulator: %s", exc)
        elif command == "ET_STR":
            self._start_stream(args)
        elif command == "ET_EST":
            with self._stream_lock:
                self._streaming.clear()
                if self._held is not None:
                    self._keep(self._held)
                    self._emit(self._held)
                    self._held = None
                self._flush()
        elif command == "ET_FIX":
            numbers = [float(a) for a in args[:2]] if len(args) >= 2 else [100.0, 30.0]
            self._detector = _Dispersion(numbers[0], numbers[1])
        elif command == "ET_EFX":
            self._detector = None
            self._send_line("ET_EFX")
        elif command == "ET_CSZ" and len(args) >= 2:
            self.calibration_area = (int(float(args[0])), int(float(args[1])))
        elif command == "ET_CPA" and len(args) >= 2 and args[0] == "2":
            self._auto_accept = args[1] != "0"
        elif command == "ET_CAL":
            points = int(args[0]) if args and args[0].isdigit() and int(args[0]) in _CALIBRATION_GRIDS else 9
            if self.real_world.numeric_eye and args[1:] and args[1] not in _NUMBERED_EYES:
                log.info("simulator: ET_CAL eye %r is not 1 or 2: no calibration", args[1])
                return
            self._run_in_thread(lambda: self._calibration(points, args[1:2]))
        elif command == "ET_VLS":
            self._run_in_thread(self._validation)
        elif command == "ET_ACC":
            self._accept.set()
        elif command == "ET_BRK":
            self._abort.set()
        elif command == "ET_REM":
            text = line.split(None, 1)[1] if args else ""
            if not self.real_world.verbatim_remarks and len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1]  # the notes' reading: a quoted argument
            self.remarks.append(text)
        else:
            log.info("simulator: unknown command %r", line)

    def _start_stream(self, args: list[str]) -> None:
        if self._streaming.is_set():
            return
        every = 1
        if args:
            try:
                every = max(1, round(self.rate_hz / max(1.0, min(float(args[0]), self.rate_hz))))
            except ValueError:
                pass
        self._stream_every = every
        self._stream_t0 = time.monotonic() - (self._index / self.rate_hz if self._index else 0.0)
        self._stream_index0 = 0
        self._streaming.set()

    def _run_in_thread(self, target: Callable[[], None]) -> None:
        self._abort.clear()
        self._accept.clear()
        thread = threading.Thread(target=target, name="iviewx-sim-calibration", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _targets(self, grid: list[tuple[float, float]]) -> list[tuple[int, int, int]]:
        w, h = self.calibration_area
        return [(i, round(fx * w), round(fy * h)) for i, (fx, fy) in enumerate(grid, start=1)]

    def _show(self, targets: list[tuple[int, int, int]]) -> bool:
        """Show each target and wait for its acceptance; False when aborted."""
        next_point = self.real_world.next_point_accept
        for position, (index, _, _) in enumerate(targets):
            self._accept.clear()  # before showing: the client may accept at once
            self._send_line(f"ET_CHG {index}")
            if next_point and position == 0:
                self._send_line(f"ET_CHG {index}")
            if self._auto_accept:
                if self._abort.wait(self.point_s):
                    self._send_line("ET_BRK")
                    return False
            else:
                while not self._accept.wait(0.05):
                    if self._abort.is_set():
                        self._send_line("ET_BRK")
                        return False
            if not next_point:
                self._send_line(f"ET_ACC {index}")
            elif position + 1 < len(targets):
                self._send_line(f"ET_ACC {targets[position + 1][0]}")
            else:
                self._send_line("ET_ACC")
        return True

    def _calibration(self, points: int, eye: list[str]) -> None:
        targets = self._targets(_CALIBRATION_GRIDS[points])
        self._send_line(f"ET_CAL {points}" + (f" {eye[0]}" if eye else ""))
        self._send_line(f"ET_CSZ {self.calibration_area[0]} {self.calibration_area[1]}")
        for index, x, y in targets:
            self._send_line(f"ET_PNT {index} {x} {y}")
        if self._show(targets):
            self._send_line("ET_FIN 1")

    def _validation(self) -> None:
        targets = self._targets(_VALIDATION_GRID)
        for index, x, y in targets:
            self._send_line(f"ET_PNT {index} {x} {y}")
        if not self._show(targets):
            return
        forms = list(VALIDATION_FORMS)
        form = self.validation_form or forms[self.validation_runs % len(forms)]
        self.validation_runs += 1
        if self.real_world.validation_forms:
            self._send_line("ET_FIN 1")
        rng = self._validation_rng
        for number, side in enumerate(("l", "r") if self.binocular else ("r",), start=1):
            rx, ry = round(rng.uniform(4, 12), 1), round(rng.uniform(4, 12), 1)
            figures = (
                rx,
                ry,
                round(math.hypot(rx, ry), 1),
                round(rng.uniform(0.1, 0.6), 2),
                round(rng.uniform(0.1, 0.6), 2),
            )
            if self.real_world.validation_forms:
                line, encoding = VALIDATION_FORMS[form](side, *figures)
                truth = validation_truth(form, side, figures, number)
            else:
                line, encoding = (
                    f"ET_VLS {side} {figures[0]:.1f} {figures[1]:.1f} {figures[2]:.1f} {figures[3]:.2f}\xb0 {figures[4]:.2f}\xb0",
                    "latin-1",
                )
                truth = (side, figures)
            if line is None:
                continue
            self.validation_lines.append(line)
            self.validation_truth.append(truth)
            self._send_line(line, encoding)
