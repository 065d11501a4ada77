"""The iViewX client: SMI's UDP remote command protocol, in Python 3, over one socket.

The client binds its listening port (where iViewX sends data), sends its commands from that
same socket to the server's command port, and runs one receiver thread that only parses and
enqueues. Before anything else it pings (``ET_PNG``) until ``ping_timeout_s``: UDP sends
never fail, so silence is the only sign of an absent tracker. Then it asks the sample rate
(``ET_SRT``) and sets its own sample format (``ET_FRM``), which it parses by its own
description. Datagrams are accepted from every address of the tracker's host (every address
of this machine when the tracker runs here), or from any sender with ``accept_any_sender``;
the others are counted and dropped. What each rule rests on: ``docs/protocol/iviewx.md``.
"""

from __future__ import annotations

import errno
import logging
import math
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from gazefusion.fusion.config import TrackerConfig
from gazefusion.fusion.errors import ConfigError, TrackerError
from gazefusion.trackers.base import Tracker
from gazefusion.trackers.iviewx.protocol import (
    VALIDATION_FIELDS,
    Message,
    SampleFormat,
    format_command,
    parse_message,
    split_lines,
)
from gazefusion.trackers.types import TrackerEvent, TrackerEventKind

log = logging.getLogger(__name__)

_RECEIVE_BYTES = 65536
_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
# Message kinds that only acknowledge a command; an echo of our own line is one too.
_ACKS = {"format", "stream_start", "stream_stop", "fixation_on", "fixation_off", "remark"}
_CALIBRATION = {
    "calibration_start",
    "calibration_area",
    "calibration_point",
    "calibration_change",
    "calibration_accept",
    "calibration_finish",
    "calibration_abort",
    "validation_start",
    "validation",
}
# Only the server sends these: the first of them shows that a calibration has started.
_STARTED = {"calibration_point", "calibration_change", "calibration_finish", "calibration_abort"}
# ET_CAL's eye argument in each of its forms (PyViewX: 1 right, 2 left).
_EYE_FORMS: dict[str, dict[str, int | str]] = {"number": {"r": 1, "l": 2}, "letter": {"r": "r", "l": "l"}}
# After a result line, how long the other eye's may take; after the last target, the first's.
_VALIDATION_GRACE_S = (0.5, 1.0)


class CalibrationPoint(NamedTuple):
    """A calibration or validation target, screen px, numbered from 1 as iViewX does."""

    index: int  # type: ignore[assignment]  # iViewX's name for it; shadows tuple.index
    x: float
    y: float


class CalibrationResult(NamedTuple):
    """What a calibration run did.

    Attributes
    ----------
    points : list of CalibrationPoint
        The targets iViewX announced (``ET_PNT``).
    shown : list of int
        Target indices in the order iViewX showed them (``ET_CHG``; a point may repeat).
    accepted : list of int
        Targets accepted, in order: iViewX moved on from them (the next ``ET_CHG``, or
        ``ET_FIN`` for the last). ``ET_ACC``'s number is not used: PyViewX reads it as the next
        target, not the accepted one.
    finished : bool
        iViewX ended the run with ``ET_FIN``.
    aborted : bool
        The run ended with ``ET_BRK``.
    accept_messages : tuple of int or None
        Every ``ET_ACC`` that arrived, its number as sent (None when bare). (default: ())
    """

    points: list[CalibrationPoint]
    shown: list[int]
    accepted: list[int]
    finished: bool
    aborted: bool
    accept_messages: tuple[int | None, ...] = ()


class EyeValidation(NamedTuple):
    """One eye's validation figures (``ET_VLS``): RMS deviation in px, mean deviation in degrees.

    A figure the line did not carry is nan; `raw` is the line as received (UTF-8 or cp1252).
    """

    rms_x_px: float
    rms_y_px: float
    rms_distance_px: float
    mean_x_deg: float
    mean_y_deg: float
    raw: str = ""


class ValidationResult(NamedTuple):
    """What a validation run did: its targets, the figures per eye and the result lines.

    Attributes
    ----------
    points : list of CalibrationPoint
        The targets iViewX announced.
    shown : list of int
        Target indices in the order iViewX showed them.
    eyes : dict of str to EyeValidation
        By eye (``"l"``, ``"r"``, ``"b"``); a line that names no eye is ``"line1"``,
        ``"line2"`` by arrival.
    aborted : bool
        The run ended with ``ET_BRK``.
    lines : tuple of str
        Every result line as received, parsed or not. (default: ())
    """

    points: list[CalibrationPoint]
    shown: list[int]
    eyes: dict[str, EyeValidation]
    aborted: bool
    lines: tuple[str, ...] = ()


class IViewXClient(Tracker):
    """A tracker that talks to an SMI iViewX server over UDP.

    Parameters
    ----------
    host : str
        The iViewX machine (name or address). (default: "127.0.0.1")
    command_port : int
        iViewX's command port. (default: 4444)
    listen_port : int
        The port iViewX sends data to (this client binds it; 0 picks a free one, usable when
        the server answers to the sender's port, as the simulator does). (default: 5555)
    bind_address : str
        Local address to bind. (default: "0.0.0.0")
    config : TrackerConfig or None
        Timeouts, sample format, stream rate, buffer size, the form of ``ET_CAL``'s eye, the
        senders accepted and the eye distances that count as tracking; None for the
        defaults. (default: None)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        command_port: int = 4444,
        listen_port: int = 5555,
        bind_address: str = "0.0.0.0",
        config: TrackerConfig | None = None,
    ) -> None:
        config = config or TrackerConfig()
        self.eye_distance_mm = config.iviewx.eye_distance_mm
        try:
            self.sample_format = SampleFormat(config.iviewx.sample_format, self.eye_distance_mm)
        except ValueError as exc:
            raise ConfigError(f"tracker.iviewx.sample_format: {exc}") from None
        super().__init__(
            sample_rate_hz=0.0,
            queue_samples=config.queue_samples,
            watchdog_s=config.watchdog_s,
            clock_resolution_s=self.sample_format.clock_resolution_s,
        )
        self.host = host
        self.command_port = command_port
        self.listen_port = listen_port
        self.bind_address = bind_address
        self.ping_timeout_s = config.iviewx.ping_timeout_s
        self.stream_rate_hz = config.stream_rate_hz
        self.calibration_eye = config.iviewx.calibration_eye
        self.calibration_start_timeout_s = config.iviewx.calibration_start_timeout_s
        self.accept_any_sender = config.iviewx.accept_any_sender
        self.echoes = 0
        self.description = f"iViewX at {host}:{command_port} (listening on {bind_address}:{listen_port})"
        self._sock: socket.socket | None = None
        self._tracker_ip = ""
        self._senders = SenderFilter(set(), False, self.accept_any_sender)
        self._sent: deque[str] = deque(maxlen=64)
        self._answers: dict[str, threading.Event] = {"ping": threading.Event(), "rate": threading.Event()}
        self._calibration: queue.Queue[Message] = queue.Queue()
        self._sock_lock = threading.Lock()

    @property
    def foreign_datagrams(self) -> int:
        """Datagrams dropped because they came from a sender that is not the tracker."""
        return sum(self._senders.dropped.values())

    # ------------------------------------------------------------------ life cycle
    def _open(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, self.command_port, socket.AF_INET, socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError):
            raise TrackerError(
                f"iViewX host {self.host!r} does not resolve: check the tracker address "
                "(iviewx://HOST:PORT or tracker.iviewx.host)"
            ) from None
        self._tracker_ip = str(infos[0][4][0])
        addresses = {str(info[4][0]) for info in infos}
        self._senders = SenderFilter(addresses, any(_is_local(ip) for ip in addresses), self.accept_any_sender)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER_BYTES)
            sock.bind((self.bind_address, self.listen_port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise TrackerError(
                    f"cannot listen on UDP port {self.listen_port}: the port is in use by another "
                    "program; choose another with iviewx://HOST:PORT?listen=PORT (and set iViewX to send there)"
                ) from None
            raise TrackerError(
                f"cannot listen on {self.bind_address}:{self.listen_port} ({exc.strerror}): "
                "check tracker.iviewx.bind_address and the listen port"
            ) from None
        sock.settimeout(min(0.1, (self._watchdog_s or 0.4) / 4))
        self._sock = sock
        self.listen_port = sock.getsockname()[1]
        self.description = (
            f"iViewX at {self.host}:{self.command_port} (listening on {self.bind_address}:{self.listen_port})"
        )
        self._spawn(self._receive, "gazefusion-iviewx")
        try:
            self._handshake()
        except BaseException:
            self._shutdown()
            raise

    def _handshake(self) -> None:
        if not self._ask("ping", "ET_PNG"):
            strangers = ", ".join(sorted(self._senders.dropped))
            raise TrackerError(
                f"iViewX at {self.host}:{self.command_port} did not answer ET_PNG within "
                f"{self.ping_timeout_s:g} s: "
                + (
                    f"datagrams came from {strangers}, not the tracker's address: if that is the tracker, "
                    "address it there or set tracker.iviewx.accept_any_sender: true"
                    if strangers
                    else f"check that iViewX runs, its command port, and that it sends to this machine's "
                    f"port {self.listen_port} (iviewx://HOST:PORT?listen=PORT)"
                )
            )
        if not self._ask("rate", "ET_SRT"):
            log.warning("iViewX did not tell its sample rate (ET_SRT); gaps are not inferred")
        self._send("ET_FRM", self.sample_format.text)

    def _ask(self, answer: str, command: str) -> bool:
        """Send `command` until its answer comes (resent, since UDP may lose either way)."""
        event = self._answers[answer]
        event.clear()
        deadline = time.monotonic() + self.ping_timeout_s
        while True:
            self._send(command)
            remaining = deadline - time.monotonic()
            if event.wait(min(0.25, max(remaining, 0.0))):
                return True
            if time.monotonic() >= deadline:
                return False

    def _start(self) -> None:
        if self.stream_rate_hz is not None:
            self._send("ET_STR", self.stream_rate_hz)
        else:
            self._send("ET_STR")

    def _stop(self) -> None:
        self._send("ET_EST")

    def _close(self) -> None:
        if self._sock is not None:
            try:
                self._send("ET_EST")
            except OSError:
                pass
        self._shutdown()

    def _shutdown(self) -> None:
        """End the receiver and close the socket, once."""
        self._closed = True
        self._join_threads()
        with self._sock_lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    # ------------------------------------------------------------------ commands
    def _send(self, command: str, *args: object) -> None:
        line = format_command(command, *args)
        self._sent.append(line.decode("latin-1").strip())
        with self._sock_lock:
            if self._sock is None:
                raise TrackerError(f"{self.description} is not open")
            self._sock.sendto(line, (self._tracker_ip, self.command_port))

    def send_message(self, text: str) -> None:
        """Write a marker into iViewX's recording (``ET_REM``) and log it as a ``"message"`` event.

        Parameters
        ----------
        text : str
            One line.
        """
        self._send("ET_REM", text)
        super().send_message(text)

    def set_format(self, text: str) -> None:
        """Change the sample format (``ET_FRM``); samples in flight in the old one still parse
        where they fit an eye layout of the new one, else they count as malformed.

        Parameters
        ----------
        text : str
            Space-separated specifiers, e.g. ``"%TU %ET %SX %SY"``.
        """
        try:
            sample_format = SampleFormat(text, self.eye_distance_mm)
        except ValueError as exc:
            raise ConfigError(f"sample format: {exc}") from None
        self.sample_format = sample_format
        self._clock_resolution_s = sample_format.clock_resolution_s
        self._send("ET_FRM", sample_format.text)

    def start_fixation_detection(self, min_duration_ms: int = 100, dispersion_px: int = 30) -> None:
        """Ask iViewX for its online fixation events (``ET_FIX``); they arrive as events.

        Parameters
        ----------
        min_duration_ms : int
            Shortest fixation, ms. (default: 100)
        dispersion_px : int
            Largest dispersion, px. (default: 30)
        """
        self._send("ET_FIX", min_duration_ms, dispersion_px)

    def stop_fixation_detection(self) -> None:
        """Stop iViewX's fixation events (``ET_EFX``)."""
        self._send("ET_EFX")

    def accept_point(self) -> None:
        """Accept the calibration point shown now (``ET_ACC``)."""
        self._send("ET_ACC")

    def abort(self) -> None:
        """Abort a calibration or validation (``ET_BRK``)."""
        self._send("ET_BRK")

    def _drain_calibration(self) -> None:
        while True:
            try:
                self._calibration.get_nowait()
            except queue.Empty:
                return

    def _next_calibration(self, deadline: float, what: str, why: str = "") -> Message:
        """The next calibration message; at `deadline`, abort and raise `why` (or: not finished in time)."""
        try:
            return self._calibration.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self.abort()
            raise TrackerError(why or f"{what}: iViewX did not finish in time (aborted with ET_BRK)") from None

    def calibrate(
        self,
        points: int = 9,
        eye: str | None = None,
        area_px: tuple[int, int] | None = None,
        auto_accept: bool = True,
        timeout_s: float = 60.0,
        on_target: Callable[[CalibrationPoint], None] | None = None,
    ) -> CalibrationResult:
        """Run a calibration on iViewX and follow it to its end.

        Parameters
        ----------
        points : int
            2, 5, 9 or 13 targets. (default: 9)
        eye : str or None
            ``"l"`` or ``"r"`` for one eye, sent in the form ``tracker.iviewx.calibration_eye``
            names; None for the tracker's default. (default: None)
        area_px : tuple of int or None
            Calibration area (``ET_CSZ``); None keeps iViewX's. (default: None)
        auto_accept : bool
            Let iViewX accept each point (``ET_CPA 2 1``); else call :meth:`accept_point`
            (from `on_target` or another thread). (default: True)
        timeout_s : float
            Give up (and abort) after this long, s. (default: 60.0)
        on_target : callable or None
            Called with each target as iViewX shows it, to draw it. (default: None)

        Raises
        ------
        ConfigError
            A bad number of points or eye.
        TrackerError
            iViewX not announcing its targets within
            ``calibration_start_timeout_s``, or not finishing within `timeout_s`.
        """
        if points not in (2, 5, 9, 13):
            raise ConfigError(f"calibration: {points} points is not one of 2, 5, 9, 13")
        if eye is not None and eye not in ("l", "r"):
            raise ConfigError(f"calibration: eye {eye!r} is not l or r")
        self._drain_calibration()
        if area_px is not None:
            self._send("ET_CSZ", int(area_px[0]), int(area_px[1]))
        self._send("ET_CPA", 2, 1 if auto_accept else 0)
        arguments: tuple[object, ...] = (points,) if eye is None else (points, _EYE_FORMS[self.calibration_eye][eye])
        self._send("ET_CAL", *arguments)
        targets: dict[int, CalibrationPoint] = {}
        shown: list[int] = []
        accepted: list[int] = []
        accept_messages: list[int | None] = []
        now = time.monotonic()
        deadline = now + timeout_s
        start_deadline = now + min(timeout_s, self.calibration_start_timeout_s)
        started = False
        while True:
            if started:
                message = self._next_calibration(deadline, "calibration")
            else:
                message = self._next_calibration(start_deadline, "calibration", self._no_start(arguments))
            kind = message.kind
            fields = dict(message.data)
            started = started or kind in _STARTED
            # A target is accepted when iViewX moves on from it: to another target, or to the end.
            if shown and (
                kind == "calibration_finish" or (kind == "calibration_change" and fields["index"] != shown[-1])
            ):
                accepted.append(shown[-1])
            if _follow_targets(kind, fields, targets, shown, on_target):
                continue
            if kind == "calibration_accept":
                index = fields.get("index")
                accept_messages.append(None if index is None else int(str(index)))
            elif kind in ("calibration_finish", "calibration_abort"):
                finished = kind == "calibration_finish"
                return CalibrationResult(
                    sorted(targets.values()), shown, accepted, finished, not finished, tuple(accept_messages)
                )

    def _no_start(self, arguments: tuple[object, ...]) -> str:
        """Why iViewX did not start calibrating, naming the setting of the eye's form if one was sent."""
        command = format_command("ET_CAL", *arguments).decode("latin-1").strip()
        why = (
            f"calibration: iViewX did not announce its targets within {self.calibration_start_timeout_s:g} s "
            f"of {command!r} (aborted with ET_BRK)"
        )
        if len(arguments) < 2:
            return why + ": check that iViewX is connected to its eye tracker and is not calibrating already"
        other = "letter" if self.calibration_eye == "number" else "number"
        return (
            why + f": it may expect the eye as a {other}; set tracker.iviewx.calibration_eye: {other} "
            f"(now {self.calibration_eye}), or calibrate without naming an eye"
        )

    def validate(
        self,
        timeout_s: float = 60.0,
        on_target: Callable[[CalibrationPoint], None] | None = None,
    ) -> ValidationResult:
        """Run a validation (``ET_VLS``) and return the accuracy per eye.

        Result lines are read leniently (see :func:`~gazefusion.trackers.iviewx.protocol.parse_validation`)
        and kept as received. The run ends after two result lines, half a second after the
        last one, or a second after iViewX ends its target sequence (``ET_FIN``) without one;
        a line without figures, or no line at all, is a one-line warning, not a wait.

        Parameters
        ----------
        timeout_s : float
            Give up (and abort) after this long, s. (default: 60.0)
        on_target : callable or None
            Called with each target as iViewX shows it. (default: None)
        """
        self._drain_calibration()
        self._send("ET_VLS")
        targets: dict[int, CalibrationPoint] = {}
        shown: list[int] = []
        eyes: dict[str, EyeValidation] = {}
        lines: list[str] = []
        deadline = time.monotonic() + timeout_s
        ends = math.inf  # when the sequence is over: set by a result line or by ET_FIN
        while len(lines) < 2:
            try:
                message = self._calibration.get(timeout=max(0.0, min(deadline, ends) - time.monotonic()))
            except queue.Empty:
                if ends < math.inf:
                    break
                self.abort()
                raise TrackerError("validation: iViewX did not finish in time (aborted with ET_BRK)") from None
            fields = dict(message.data)
            if _follow_targets(message.kind, fields, targets, shown, on_target):
                continue
            if message.kind == "validation":
                lines.append(message.raw)
                figures = EyeValidation._make([*(float(str(fields[name])) for name in VALIDATION_FIELDS), message.raw])
                eyes[str(fields["eye"]) or f"line{len(lines)}"] = figures
                if all(math.isnan(value) for value in figures[:5]):
                    log.warning("iViewX validation: no figures in %r (kept as received)", message.raw)
                ends = time.monotonic() + _VALIDATION_GRACE_S[0]
            elif message.kind == "calibration_finish":
                ends = min(ends, time.monotonic() + _VALIDATION_GRACE_S[1])
            elif message.kind == "calibration_abort":
                return ValidationResult(sorted(targets.values()), shown, eyes, True, tuple(lines))
        if not lines:
            log.warning("iViewX ended its validation without a result line (ET_VLS): no figures")
        return ValidationResult(sorted(targets.values()), shown, eyes, False, tuple(lines))

    # ------------------------------------------------------------------ receiver thread
    def _receive(self) -> None:
        """Receive, parse, enqueue; nothing heavy (this runs at up to thousands of datagrams/s)."""
        sock = self._sock
        assert sock is not None
        recvfrom = sock.recvfrom
        admitted = self._senders.accepted
        admit = self._senders.admit
        monotonic = time.monotonic
        push = self._push_sample
        while not self._closed:
            try:
                data, address = recvfrom(_RECEIVE_BYTES)
            except TimeoutError:
                self._check_stall(monotonic())
                continue
            except OSError:
                if self._closed:
                    return
                continue
            t = monotonic()
            if address[0] not in admitted and not admit(address):
                continue
            if data[:6] == b"ET_SPL":
                stripped = data.rstrip(b" \t\r\n\x00")
                if b"\n" not in stripped and b"\r" not in stripped:
                    # The common case, one sample per datagram, without the general splitter.
                    sample = self.sample_format.parse(stripped.decode("latin-1").split()[1:], t)
                    if sample is None:
                        self._count_malformed()
                    else:
                        push(sample)
                    continue
            lines = split_lines(data)
            if not lines:
                self._count_malformed()
            for line in lines:
                if line.startswith("ET_SPL"):
                    sample = self.sample_format.parse(line.split()[1:], t)
                    if sample is None:
                        self._count_malformed()
                    else:
                        push(sample)
                else:
                    self._on_message(parse_message(line), t)
            self._check_stall(t)

    def _on_message(self, message: Message, t: float) -> None:
        kind = message.kind
        if kind == "malformed":
            self._count_malformed()
        elif kind == "ping":
            self._answers["ping"].set()
        elif kind == "rate":
            rate = float(str(dict(message.data)["rate_hz"]))
            if rate > 0 and math.isfinite(rate):
                self.sample_rate_hz = float(self.stream_rate_hz or rate)
                self._answers["rate"].set()
        elif kind in _ACKS or (kind == "raw" and message.raw in self._sent):
            if message.raw in self._sent:
                self.echoes += 1
        elif kind in ("fixation_start", "fixation_end"):
            fixation: TrackerEventKind = "fixation_start" if kind == "fixation_start" else "fixation_end"
            self._event(TrackerEvent(t, fixation, message.data, message.raw))
        elif kind in _CALIBRATION:
            if message.raw in self._sent and kind in ("calibration_start", "calibration_area", "validation_start"):
                self.echoes += 1
            self._calibration.put(message)
            event_kind: TrackerEventKind = "validation" if kind.startswith("validation") else "calibration"
            self._event(TrackerEvent(t, event_kind, (("step", kind),) + message.data, message.raw))
        else:
            self._event(TrackerEvent(t, "raw", message.data, message.raw))


def _follow_targets(
    kind: str,
    fields: dict[str, object],
    targets: dict[int, CalibrationPoint],
    shown: list[int],
    on_target: Callable[[CalibrationPoint], None] | None,
) -> bool:
    """Keep the target list of a calibration or validation up to date (ET_PNT, ET_CHG).

    Returns True when the message was one of those, so the caller has nothing more to do.
    """
    if kind == "calibration_point":
        index = int(str(fields["index"]))
        targets[index] = CalibrationPoint(index, float(str(fields["x"])), float(str(fields["y"])))
        return True
    if kind == "calibration_change":
        index = int(str(fields["index"]))
        if shown and shown[-1] == index:
            return True  # the same target again: still showing
        shown.append(index)
        if on_target is not None and index in targets:
            on_target(targets[index])
        return True
    return False


class SenderFilter:
    """Which senders' datagrams are the tracker's: every address of its host, or any sender.

    No independent client filters by sender; a tracker PC with several interfaces, or a
    server on this machine addressed as 127.0.0.1 that replies from another address, must
    still be heard. Each sender is decided once, and logged once.

    Parameters
    ----------
    addresses : set of str
        The tracker host's addresses (what its name resolves to).
    local : bool
        The tracker runs on this machine: any address of this machine is its.
    any_sender : bool
        Accept every sender (``tracker.iviewx.accept_any_sender``).
    """

    def __init__(self, addresses: set[str], local: bool, any_sender: bool) -> None:
        self.addresses = addresses
        self.local = local
        self.any_sender = any_sender
        self.accepted: set[str] = set()
        self.dropped: dict[str, int] = {}

    def admit(self, address: tuple[str, int]) -> bool:
        """Whether a datagram from `address` (ip, port) is the tracker's; counts those that are not.

        Parameters
        ----------
        address : tuple of (str, int)
            The sender, as ``recvfrom`` gives it.
        """
        ip = address[0]
        if ip in self.accepted:
            return True
        if ip in self.dropped:
            self.dropped[ip] += 1
            return False
        if self.any_sender or ip in self.addresses or (self.local and _is_local(ip)):
            self.accepted.add(ip)
            log.info("iViewX: accepting datagrams from %s (port %d)", ip, address[1])
            return True
        self.dropped[ip] = 1
        log.warning(
            "iViewX: dropping datagrams from %s, not an address of the tracker's host (tracker.iviewx.accept_any_sender takes them)",
            ip,
        )
        return False


def _is_local(address: str) -> bool:
    """Whether `address` is one of this machine's (a socket can be bound to it)."""
    if address.startswith("127."):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True
