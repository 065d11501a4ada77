"""The reader design every camera source shares: threads, newest-frame slot, taps, statistics.

A source subclass only says how to connect, how to read until the connection is lost, and
how to disconnect. This base class runs that in a reader thread with reconnection (capped
exponential backoff, one log line when an outage starts and one when it ends), keeps the
newest frame in a slot that a slow consumer reads without ever getting a backlog, feeds
every frame to the recorder taps through bounded queues (a full queue drops and counts,
it never blocks the reader), and, for JPEG sources, decodes on a second thread so that
receiving and parsing run on one core and decoding on the other.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

import numpy as np

from gazefusion.fusion.config import CameraConfig
from gazefusion.fusion.errors import CameraError, GazefusionError
from gazefusion.fusion.registry import Registry
from gazefusion.fusion.sources import BackgroundSource, Inbox, Lane
from gazefusion.fusion.types import CameraEvent, CameraEventKind, Frame

log = logging.getLogger("gazefusion.camera")

_LATENCY_WINDOW: Final = 2048  # latencies kept for the median/p95/max figures
_FPS_WINDOW: Final = 64  # frame times kept for the fps figure
_READER_WAIT_MAX_S: Final = 0.002  # longest the reader waits per frame for a decoder that is behind
_DECODE_BACKLOG: Final = 64  # undecoded JPEGs held at most, whatever their age (bounds memory)

Decoder = Callable[[bytes], np.ndarray]
SourceFactory = Callable[[str, CameraConfig], "CameraSource"]

SOURCE_KINDS: Registry[SourceFactory] = Registry("camera source kind", error=CameraError)
"""Camera source kinds by name: (spec, config) -> an unstarted source. Each kind registers the
specs it opens (``matches``); :func:`gazefusion.fusion.camera.open_camera` takes the first
that accepts a spec, the video-file kind last."""


class SourceError(Exception):
    """A connection could not be made or was lost; the message names why, without credentials.

    Parameters
    ----------
    reason : str
        Why, in words.
    lost_at : float or None
        Host time the stream was last known good (a stall is noticed only after the read
        timeout; the outage is recorded from here); None: now. (default: None)
    """

    def __init__(self, reason: str, lost_at: float | None = None) -> None:
        super().__init__(reason)
        self.lost_at = lost_at


class SourceFinished(Exception):
    """The source has no more frames (end of a video file); no reconnection."""


@dataclass(slots=True)
class _Outage:
    """A connection loss until a frame comes again: when it began, the attempts, the next wait."""

    began: float
    wait_s: float
    attempts: int = 0
    max_wait_s: float = math.inf
    connected_at: float | None = None

    def backoff(self) -> None:
        self.wait_s = min(self.wait_s * 2.0, self.max_wait_s)


@dataclass(frozen=True, slots=True)
class CameraStats:
    """What a camera source has delivered so far.

    Attributes
    ----------
    frames : int
        Frames decoded and published.
    fps : float
        Frame rate over the most recent frames, Hz (nan before two frames).
    corrupt : int
        Parts refused or JPEGs that did not decode (skipped; the stream went on).
    dropped : int
        Frames overwritten in the newest-frame slot before any consumer saw them (counted once
        a consumer has called ``latest``).
    tap_dropped : int
        Frames a recorder tap could not take because its queue was full.
    skipped : int
        Received JPEGs not decoded because the decoder was behind by more than
        ``max_decode_lag_s`` (the newest wins).
    reconnects : int
        Reconnections after an outage (counted when the first frame comes through the new connection).
    stale : int
        Frames an OpenCV source dropped because their stream timestamps showed they were
        buffered before a stall (see ``stale_after_s``).
    latency_median_ms, latency_p95_ms, latency_max_ms : float
        Arrival-to-consumer latency (the time from a frame's last byte to ``latest``
        returning it), ms, over the most recent frames; nan before any.
    width, height : int
        Frame size, px; 0 before the first frame.
    connected : bool
        Whether the source is connected now.
    """

    frames: int
    fps: float
    corrupt: int
    dropped: int
    tap_dropped: int
    skipped: int
    reconnects: int
    stale: int
    latency_median_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    width: int
    height: int
    connected: bool

    def as_dict(self) -> dict[str, float | int | bool]:
        """The figures as a plain dict (JSON-ready; nan stays nan)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


FrameTap = Inbox[Frame]
"""A recorder tap: every frame of a source from the tap on, in order, through a bounded lane
(a full lane drops the new frame and counts it in ``dropped``; the reader never waits)."""


class CameraSource(BackgroundSource[CameraEvent]):
    """A camera: connect with `start`, read the newest frame with `latest`, stop with `close`.

    Parameters
    ----------
    name : str
        How the source is named in logs and errors (credentials already removed).
    config : CameraConfig
        Timeouts, backoff, limits.
    decoder : callable or None
        JPEG bytes -> BGR image, for sources that deliver JPEGs (a second thread decodes);
        None for sources that deliver images. (default: None)
    """

    #: Whether losing the connection leads to reconnection attempts (False: the source ends).
    reconnects_on_loss: bool = True

    def __init__(self, name: str, config: CameraConfig, decoder: Decoder | None = None) -> None:
        super().__init__(name)
        self.config = config
        self._stop = threading.Event()
        self._decoder = decoder
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._latest_seen = True
        self._consumer_seen = False
        self._next_index = 0
        self._taps: list[Lane[Frame]] = []
        self._pending: collections.deque[tuple[bytes, float, float]] = collections.deque()
        self._pending_cond = threading.Condition()
        self._decoding = False
        self._frame_times: collections.deque[float] = collections.deque(maxlen=_FPS_WINDOW)
        self._latencies_s: collections.deque[float] = collections.deque(maxlen=_LATENCY_WINDOW)
        self._counts = {
            "frames": 0,
            "corrupt": 0,
            "dropped": 0,
            "tap_dropped": 0,
            "skipped": 0,
            "reconnects": 0,
            "stale": 0,
        }
        self._size: tuple[int, int] | None = None
        self._connected = False
        self._started = False
        self._finished = False
        self._outage: _Outage | None = None

    # -- what a source implements -------------------------------------------------------
    @abstractmethod
    def _connect(self, timeout_s: float) -> None:
        """Open the connection (raise SourceError with a credential-free reason, or CameraError
        for a cause that retrying cannot fix on the first attempt)."""

    @abstractmethod
    def _read(self) -> None:
        """Read frames until the connection is lost (raise SourceError), the source ends
        (raise SourceFinished) or `_stop` is set (return)."""

    @abstractmethod
    def _disconnect(self) -> None:
        """Close the connection; safe to call when not connected, and from another thread."""

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> CameraSource:
        """Connect (CameraError if the first connection fails) and start the reader thread(s)."""
        if self._started:
            return self
        try:
            self._connect(self.config.connect_timeout_s)
        except SourceError as exc:
            self._disconnect()
            raise CameraError(f"camera {self.name}: {exc}") from None
        except GazefusionError:
            self._disconnect()
            raise
        self._started = True
        self._connected = True
        self._spawn(self._reader_main, "camera-reader")
        if self._decoder is not None:
            self._spawn(self._decoder_main, "camera-decoder")
        return self

    def close(self) -> None:
        """Stop the threads and disconnect; idempotent."""
        self._stop.set()
        self._disconnect()
        with self._pending_cond:
            self._pending_cond.notify_all()
        self._join_threads(self.config.read_timeout_s + 1.0)
        self._connected = False
        with self._cond:
            self._finished = True
            self._cond.notify_all()
        for tap in self._taps:
            tap.close()

    def __enter__(self) -> CameraSource:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- what consumers use -------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the frames, px; None before the first frame."""
        return self._size

    @property
    def finished(self) -> bool:
        """Whether no more frames will come (closed, or the end of a file)."""
        return self._finished

    def latest(self, newer_than: int = -1, timeout_s: float | None = None) -> Frame | None:
        """The newest frame, optionally waiting for one with ``index > newer_than``.

        Parameters
        ----------
        newer_than : int
            Only a frame with a larger index is returned. (default: -1)
        timeout_s : float or None
            Longest wait for such a frame, s; None waits until one comes or the source
            finishes, 0 does not wait. (default: None)

        Returns
        -------
        Frame or None
            The newest frame, or None if none newer came in time.
        """
        with self._cond:
            self._consumer_seen = True
            ready = self._cond.wait_for(
                lambda: (self._latest is not None and self._latest.index > newer_than) or self._finished,
                timeout_s,
            )
            frame = self._latest
            if not ready or frame is None or frame.index <= newer_than:
                return None
            if not self._latest_seen:
                self._latest_seen = True
                self._latencies_s.append(time.monotonic() - frame.t)
            return frame

    def tap(self, maxsize: int | None = None) -> FrameTap:
        """A new recorder tap that gets every frame from now on.

        Parameters
        ----------
        maxsize : int or None
            Queue length; None takes ``config.recorder_queue_frames``. (default: None)
        """
        tap: FrameTap = Inbox()
        self.attach(tap, maxsize)
        return tap

    def attach(self, inbox: Inbox[Any], limit: int | None = None, events: bool = False) -> Lane[Frame]:
        """Push every frame from now on into `inbox`, through a lane of its own (and, with `events`,
        every event through another).

        Parameters
        ----------
        inbox : Inbox
            Where the frames go.
        limit : int or None
            Frames waiting at most before new ones are dropped (counted in ``tap_dropped``);
            None takes ``config.recorder_queue_frames``. (default: None)
        events : bool
            Push the events into `inbox` too, instead of keeping them for ``pop_events``.
            (default: False)

        Returns
        -------
        Lane
            The frames' lane (``finished`` once the source ended and its frames were taken).
        """
        lane: Lane[Frame] = inbox.lane(f"camera {self.name}", limit or self.config.recorder_queue_frames)
        if events:
            self.attach_events(inbox.lane(f"camera {self.name} events", 10_000))
        with self._cond:
            self._taps.append(lane)
            if self._finished:
                lane.close()  # nothing will come: a consumer must not wait for it
        return lane

    def stats(self) -> CameraStats:
        """The figures so far."""
        with self._cond:
            times = list(self._frame_times)
            latencies = np.asarray(self._latencies_s, dtype=float) * 1000.0
            counts = dict(self._counts)
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) >= 2 and times[-1] > times[0] else math.nan
        if latencies.size:
            median, p95, worst = (
                float(v) for v in (np.median(latencies), np.percentile(latencies, 95), latencies.max())
            )
        else:
            median = p95 = worst = math.nan
        width, height = self._size or (0, 0)
        return CameraStats(
            fps=fps,
            latency_median_ms=median,
            latency_p95_ms=p95,
            latency_max_ms=worst,
            width=width,
            height=height,
            connected=self._connected,
            **counts,
        )

    # -- for subclasses -------------------------------------------------------------------
    def _publish(self, image: np.ndarray, t: float, t_source: float = math.nan, jpeg: bytes | None = None) -> Frame:
        """Number a decoded frame, put it in the slot and into every tap."""
        with self._cond:
            frame = Frame(self._next_index, t, t_source, image, jpeg)
            self._next_index += 1
            if not self._latest_seen and self._consumer_seen:
                self._counts["dropped"] += 1
            self._latest = frame
            self._latest_seen = False
            self._size = (image.shape[1], image.shape[0])
            self._counts["frames"] += 1
            self._frame_times.append(t)
            outage = self._outage
            if outage is not None and outage.connected_at is not None and t >= outage.connected_at:
                self._end_outage()  # a frame through the new connection (not one decoded late from the old)
            taps = list(self._taps)
            self._cond.notify_all()
        for tap in taps:
            if not tap.put(frame):
                with self._cond:
                    self._counts["tap_dropped"] += 1
        return frame

    def _count_corrupt(self, reason: str) -> None:
        with self._cond:
            self._counts["corrupt"] += 1
        log.debug("camera %s: skipped a corrupt frame (%s)", self.name, reason)

    def _submit_jpeg(self, jpeg: bytes, t: float, t_source: float = math.nan) -> None:
        """Hand a received JPEG to the decoder thread.

        A burst (several JPEGs in one read) is decoded in full, so the taps get every frame;
        when the decoder falls behind for longer than ``max_decode_lag_s``, the oldest waiting
        JPEGs are skipped (counted) so that the newest frame never ages in a backlog.
        """
        max_lag_s = self.config.max_decode_lag_s
        with self._pending_cond:
            self._pending.append((jpeg, t, t_source))
            skipped = 0
            while len(self._pending) > 1 and (
                t - self._pending[0][1] > max_lag_s or len(self._pending) > _DECODE_BACKLOG
            ):
                self._pending.popleft()
                skipped += 1
            self._pending_cond.notify_all()
            if len(self._pending) > 1:
                # The decoder is behind. Wait for it to take the next JPEG, but never long: the
                # reader still takes at least 1 / _READER_WAIT_MAX_S frames per second (more than
                # any camera sends), so a real stream never ages in the socket, while a sender
                # faster than that is not read just to be skipped. Waiting also hands the
                # interpreter lock to the decoder, which a reader that never blocks would starve.
                self._pending_cond.wait_for(lambda: len(self._pending) <= 1 or self._stop.is_set(), _READER_WAIT_MAX_S)
        if skipped:
            with self._cond:
                self._counts["skipped"] += skipped

    def _report(self, kind: CameraEventKind, text: str, t: float | None = None) -> None:
        """An outage, a reconnection, stale frames dropped or the end, as a :class:`CameraEvent`
        (see ``pop_events``); `t` is when it happened, None: now."""
        self._event(CameraEvent(time.monotonic() if t is None else t, kind, text))

    def _count_stale(self, count: int, reason: str) -> None:
        """Frames dropped as stale: counted, and recorded as one ``stale`` event."""
        with self._cond:
            self._counts["stale"] += count
        log.info("camera %s: dropped %d stale frame%s (%s)", self.name, count, "" if count == 1 else "s", reason)
        self._report("stale", f"{count} frame{'' if count == 1 else 's'} dropped: {reason}")

    # -- threads ------------------------------------------------------------------------

    def _decoder_main(self) -> None:
        decode = self._decoder
        assert decode is not None
        while True:
            with self._pending_cond:
                self._decoding = False
                self._pending_cond.notify_all()
                self._pending_cond.wait_for(lambda: self._pending or self._stop.is_set())
                if self._stop.is_set():
                    return
                jpeg, t, t_source = self._pending.popleft()
                self._decoding = True
                self._pending_cond.notify_all()  # a reader waiting for the pick-up
            try:
                image = decode(jpeg)
            except Exception as exc:  # any decoder complaint means a corrupt frame, never a crash
                self._count_corrupt(f"does not decode: {exc}")
                continue
            self._publish(image, t, t_source, jpeg)

    def _reader_main(self) -> None:
        while not self._stop.is_set():
            try:
                self._read()
                if self._stop.is_set():
                    break
                raise SourceError("the camera closed the stream")
            except SourceFinished as exc:
                self._end(str(exc) or "end of source")
                return
            except SourceError as exc:
                if self._stop.is_set():
                    break
                self._connected = False
                self._disconnect()
                if not self.reconnects_on_loss:
                    self._end(str(exc))
                    return
                if not self._reconnect(str(exc), exc.lost_at):
                    break
            except Exception as exc:  # a bug must not leave consumers waiting forever
                log.error("camera %s: reader failed: %s: %s", self.name, type(exc).__name__, exc)
                self._end(f"reader failed: {type(exc).__name__}")
                return

    def _reconnect(self, reason: str, lost_at: float | None = None) -> bool:
        """Retry with capped exponential backoff until connected (True) or closed (False).

        A connection counts as a reconnection only once a frame comes through it (see
        `_publish`): a server that accepts and then delivers nothing (a page that is not a
        stream, a camera that hangs up at once) continues the outage, and its backoff, instead
        of starting a new one.
        """
        with self._cond:
            outage = self._outage
            if outage is None:
                outage = self._outage = _Outage(
                    time.monotonic() if lost_at is None else lost_at,
                    self.config.reconnect_initial_s,
                    max_wait_s=self.config.reconnect_max_s,
                )
                log.warning("camera %s: connection lost (%s); reconnecting", self.name, reason)
                self._report("outage", reason, outage.began)
            else:
                outage.connected_at = None
                outage.backoff()
                log.debug(
                    "camera %s: the new connection brought no frame (%s); next attempt in %g s",
                    self.name,
                    reason,
                    outage.wait_s,
                )
        while not self._stop.wait(outage.wait_s):
            outage.attempts += 1
            try:
                self._connect(self.config.connect_timeout_s)
            except (SourceError, GazefusionError) as exc:
                self._disconnect()
                outage.backoff()
                log.debug(
                    "camera %s: reconnection attempt %d failed: %s; next in %g s",
                    self.name,
                    outage.attempts,
                    exc,
                    outage.wait_s,
                )
                continue
            if self._stop.is_set():
                return False
            self._connected = True
            with self._cond:
                outage.connected_at = time.monotonic()
            return True
        return False

    def _end_outage(self) -> None:
        """The first frame after a reconnection: the outage is over (called holding ``_cond``)."""
        outage, self._outage = self._outage, None
        if outage is None:
            return
        self._counts["reconnects"] += 1
        outage_s = time.monotonic() - outage.began
        log.warning("camera %s: reconnected after %.1f s (%d attempts)", self.name, outage_s, outage.attempts)
        self._report("reconnect", f"after {outage_s:.1f} s, {outage.attempts} attempts")

    def _end(self, reason: str) -> None:
        self._connected = False
        self._report("end", reason)
        log.info("camera %s: %s", self.name, reason)
        # let the decoder finish what it holds before consumers are told there is no more
        if self._decoder is not None:
            with self._pending_cond:
                self._pending_cond.wait_for(lambda: not (self._pending or self._decoding) or self._stop.is_set(), 5.0)
        with self._cond:
            self._finished = True
            self._cond.notify_all()
        for tap in self._taps:
            tap.close()
