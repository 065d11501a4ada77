"""The iViewX client: SMI's UDP remote command protocol, in Python 3, over one socket.

The client binds its listening port (where iViewX sends data), sends its commands from that
same socket to the server's command port, and runs one receiver thread that only parses and
enqueues. Before anything else it pings (``ET_PNG``) until ``ping_timeout_s``: UDP sends
never fail, so silence is the only sign of an absent tracker. Then it asks the sample rate
(``ET_SRT``) and sets its own sample format (``ET_FRM``), which it parses by its own
description. Datagrams from any address but the tracker's are counted and dropped.
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
from gazefusion.trackers.iviewx.protocol import Message, SampleFormat, format_command, parse_message, split_lines
from gazefusion.trackers.types import TrackerEvent

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


class CalibrationPoint(NamedTuple):
    """A calibration or validation target, screen px, numbered from 1 as iViewX does."""

    index: int
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
        Targets accepted (``ET_ACC``).
    finished : bool
        iViewX ended the run with ``ET_FIN``.
    aborted : bool
        The run ended with ``ET_BRK``.
    """

    points: list[CalibrationPoint]
    shown: list[int]
    accepted: list[int]
    finished: bool
    aborted: bool


class EyeValidation(NamedTuple):
    """One eye's validation figures (``ET_VLS``): RMS deviation in px, mean deviation in degrees."""

    rms_x_px: float
    rms_y_px: float
    rms_distance_px: float
    mean_x_deg: float
    mean_y_deg: float


class ValidationResult(NamedTuple):
    """What a validation run did: its targets and the figures per eye (``"l"``, ``"r"``)."""

    points: list[CalibrationPoint]
    shown: list[int]
    eyes: dict[str, EyeValidation]
    aborted: bool


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
        Timeouts, sample format, stream rate and buffer size; None for the defaults.
        (default: None)
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
        try:
            self.sample_format = SampleFormat(config.sample_format)
        except ValueError as exc:
            raise ConfigError(f"tracker.sample_format: {exc}") from None
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
        self.ping_timeout_s = config.ping_timeout_s
        self.stream_rate_hz = config.stream_rate_hz
        self.foreign_datagrams = 0
        self.echoes = 0
        self.description = f"iViewX at {host}:{command_port} (listening on {bind_address}:{listen_port})"
        self._sock: socket.socket | None = None
        self._tracker_ip = ""
        self._sent: deque[str] = deque(maxlen=64)
        self._answers: dict[str, threading.Event] = {"ping": threading.Event(), "rate": threading.Event()}
        self._calibration: queue.Queue[Message] = queue.Queue()
        self._sock_lock = threading.Lock()

    # ------------------------------------------------------------------ life cycle
    def _open(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, self.command_port, socket.AF_INET, socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError):
            raise TrackerError(
                f"iViewX host {self.host!r} does not resolve: check the tracker address "
                "(iviewx://HOST:PORT or tracker.host)"
            ) from None
        self._tracker_ip = infos[0][4][0]
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
                "check tracker.bind_address and the listen port"
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
            raise TrackerError(
                f"iViewX at {self.host}:{self.command_port} did not answer ET_PNG within "
                f"{self.ping_timeout_s:g} s: check that iViewX runs, its command port, and that it "
                f"sends to this machine's port {self.listen_port} (iviewx://HOST:PORT?listen=PORT)"
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
            sample_format = SampleFormat(text)
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

    def _next_calibration(self, deadline: float, what: str) -> Message:
        try:
            return self._calibration.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self.abort()
            raise TrackerError(f"{what}: iViewX did not finish in time (aborted with ET_BRK)") from None

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
            ``"l"`` or ``"r"`` for one eye; None for the tracker's default. (default: None)
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
        TrackerError
            A bad number of points, or iViewX not finishing within `timeout_s`.
        """
        if points not in (2, 5, 9, 13):
            raise ConfigError(f"calibration: {points} points is not one of 2, 5, 9, 13")
        self._drain_calibration()
        if area_px is not None:
            self._send("ET_CSZ", int(area_px[0]), int(area_px[1]))
        self._send("ET_CPA", 2, 1 if auto_accept else 0)
        if eye is None:
            self._send("ET_CAL", points)
        else:
            self._send("ET_CAL", points, eye)
        targets: dict[int, CalibrationPoint] = {}
        shown: list[int] = []
        accepted: list[int] = []
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._next_calibration(deadline, "calibration")
            fields = dict(message.data)
            if _follow_targets(message.kind, fields, targets, shown, on_target):
                continue
            if message.kind == "calibration_accept" and shown:
                accepted.append(int(fields.get("index", shown[-1])))
            elif message.kind in ("calibration_finish", "calibration_abort"):
                finished = message.kind == "calibration_finish"
                return CalibrationResult(sorted(targets.values()), shown, accepted, finished, not finished)

    def validate(
        self,
        timeout_s: float = 60.0,
        on_target: Callable[[CalibrationPoint], None] | None = None,
    ) -> ValidationResult:
        """Run a validation (``ET_VLS``) and return the accuracy per eye.

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
        deadline = time.monotonic() + timeout_s
        while True:
            if eyes:
                # One line per eye, left first: after the left one, the right may follow.
                try:
                    message = self._calibration.get(timeout=0.5 if "r" not in eyes else 0.0)
                except queue.Empty:
                    return ValidationResult(sorted(targets.values()), shown, eyes, False)
            else:
                message = self._next_calibration(deadline, "validation")
            fields = dict(message.data)
            if _follow_targets(message.kind, fields, targets, shown, on_target):
                continue
            if message.kind == "validation":
                eyes[str(fields["eye"])] = EyeValidation(
                    float(fields["rms_x_px"]),
                    float(fields["rms_y_px"]),
                    float(fields["rms_distance_px"]),
                    float(fields["mean_x_deg"]),
                    float(fields["mean_y_deg"]),
                )
                if "r" in eyes:
                    return ValidationResult(sorted(targets.values()), shown, eyes, False)
            elif message.kind == "calibration_abort":
                return ValidationResult(sorted(targets.values()), shown, eyes, True)

    # ------------------------------------------------------------------ receiver thread
    def _receive(self) -> None:
        """Receive, parse, enqueue; nothing heavy (this runs at up to thousands of datagrams/s)."""
        sock = self._sock
        assert sock is not None
        recvfrom = sock.recvfrom
        tracker_ip = self._tracker_ip
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
            if address[0] != tracker_ip:
                self.foreign_datagrams += 1
                continue
            if data[:6] == b"ET_SPL":
                line = data.rstrip(b" \t\r\n\x00")
                if b"\n" not in line and b"\r" not in line:
                    # The common case, one sample per datagram, without the general splitter.
                    sample = self.sample_format.parse(line.decode("latin-1").split()[1:], t)
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
            rate = float(dict(message.data)["rate_hz"])
            if rate > 0 and math.isfinite(rate):
                self.sample_rate_hz = float(self.stream_rate_hz or rate)
                self._answers["rate"].set()
        elif kind in _ACKS or (kind == "raw" and message.raw in self._sent):
            if message.raw in self._sent:
                self.echoes += 1
        elif kind in ("fixation_start", "fixation_end"):
            self._event(TrackerEvent(t, kind, message.data, message.raw))
        elif kind in _CALIBRATION:
            if message.raw in self._sent and kind in ("calibration_start", "calibration_area", "validation_start"):
                self.echoes += 1
            self._calibration.put(message)
            event_kind = "validation" if kind.startswith("validation") else "calibration"
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
        index = int(fields["index"])
        targets[index] = CalibrationPoint(index, float(fields["x"]), float(fields["y"]))
        return True
    if kind == "calibration_change":
        index = int(fields["index"])
        shown.append(index)
        if on_target is not None and index in targets:
            on_target(targets[index])
        return True
    return False
