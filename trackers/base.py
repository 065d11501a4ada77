"""The tracker interface: a small blocking API over a background receiver.

Every tracker (the iViewX client, the scripted, replay and mouse mocks) is a
:class:`Tracker`: a context manager that opens a source, streams samples into a bounded
buffer from a receiver thread (or, for sources read as fast as consumed, produces them on
demand), and hands them out in order with :meth:`Tracker.get_sample` /
:meth:`Tracker.samples`. The bookkeeping every source needs lives here once: the counters of
:class:`~gazefusion.trackers.types.TrackerStats`, gaps inferred from the sample rate and the
tracker clock, duplicates, out-of-order samples, restarts (the tracker clock jumping back)
and stalls (a silent stream, found by :meth:`Tracker._check_stall`).

A tracker is a :class:`~gazefusion.fusion.sources.BackgroundSource`, as a camera is: its
threads, its typed events (:class:`~gazefusion.trackers.types.TrackerEvent`). Its samples go
to its own bounded buffer, or, once :meth:`Tracker.attach` gave it a lane of an
:class:`~gazefusion.fusion.sources.Inbox` (the runner's), into that lane.

Subclasses implement ``_open``, ``_close``, ``_start`` and ``_stop`` and feed samples with
``_push_sample`` and events with ``_event``; a pull source sets ``_pull_mode`` and
implements ``_pull`` (attached to an inbox, a pump thread pulls it, waiting for room rather
than dropping).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from gazefusion.fusion.errors import TrackerError
from gazefusion.fusion.sources import BackgroundSource, Inbox, Lane
from gazefusion.trackers.types import EyeGaze, GazeSample, TrackerEvent, TrackerStats


def _same(a: float, b: float) -> bool:
    """Equal, with nan equal to nan (a repeated lost-tracking sample is still a repeat)."""
    return a == b or (a != a and b != b)


class Tracker(BackgroundSource[TrackerEvent]):
    """Base class of every gaze source.

    Parameters
    ----------
    sample_rate_hz : float
        Nominal sample rate, Hz; gaps are inferred from it. 0 when unknown (no gap
        inference). (default: 0.0)
    queue_samples : int
        Samples buffered for a consumer that falls behind; beyond that, samples are dropped
        and counted in ``stats().dropped``. (default: 200000)
    watchdog_s : float or None
        Seconds without a sample while streaming before a ``"stall"`` event; None disables
        the watchdog. (default: None)
    restart_after_s : float
        A tracker clock that goes back by more than this is a restart, less is an
        out-of-order sample, s. (default: 0.5)
    clock_resolution_s : float
        Resolution of the tracker's timestamps (1e-3 for iViewX ``%TS``), s; gap inference
        allows for it. (default: 1e-6)

    Attributes
    ----------
    sample_rate_hz : float
        Nominal sample rate, Hz.
    description : str
        What this tracker is, for logs and session files (never credentials).
    events_dropped : int
        Events lost because nobody took them (the event queue holds 10,000).
    """

    description: str = "tracker"

    def __init__(
        self,
        sample_rate_hz: float = 0.0,
        queue_samples: int = 200_000,
        watchdog_s: float | None = None,
        restart_after_s: float = 0.5,
        clock_resolution_s: float = 1e-6,
    ) -> None:
        super().__init__(self.description)
        self.sample_rate_hz = float(sample_rate_hz)
        self._capacity = int(queue_samples)
        self._watchdog_s = watchdog_s
        self._restart_after_s = restart_after_s
        self._clock_resolution_s = clock_resolution_s
        self._cond = threading.Condition(threading.Lock())
        self._buffer: deque[GazeSample] = deque()
        self._lane: Lane[GazeSample] | None = None
        self._latest: GazeSample | None = None
        self._last: GazeSample | None = None
        self._last_arrival = math.nan
        self._stalled = False
        self._source_done = False
        self._pull_mode = False
        self._opened = False
        self._closed = False
        self._streaming = False
        self._state_lock = threading.Lock()
        self._received = self._malformed = self._dropped = self._gaps = 0
        self._duplicates = self._out_of_order = self._restarts = self._stalls = self._reconnects = 0

    # ----------------------------------------------------------------- life cycle
    def __enter__(self) -> Tracker:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect to the source (a no-op when already open).

        Raises
        ------
        TrackerError
            The source cannot be opened (the message says why and what to do).
        """
        with self._state_lock:
            if self._closed:
                raise TrackerError(f"{self.description} is closed: open a new tracker")
            if self._opened:
                return
            self._open()
            self._opened = True

    def close(self) -> None:
        """Stop streaming and release the source; safe to call more than once, in any state."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._opened:
                    self._close()
            finally:
                self._streaming = False
                if self._lane is not None:
                    self._lane.close()  # releases a pump waiting for room
                self._join_threads()
                with self._cond:
                    self._source_done = True
                    self._cond.notify_all()

    def start_streaming(self) -> None:
        """Start the sample stream (opens the tracker first if needed)."""
        self.open()
        with self._state_lock:
            if self._streaming:
                return
            self._last_arrival = time.monotonic()
            self._stalled = False
            self._start()
            self._streaming = True
            if self._pull_mode and self._lane is not None:
                self._spawn(self._pump, "gazefusion-tracker-pump")

    def stop_streaming(self) -> None:
        """Stop the sample stream; samples already buffered stay readable."""
        with self._state_lock:
            if not self._streaming:
                return
            self._streaming = False
            self._stop()

    @property
    def streaming(self) -> bool:
        """Whether the stream has been started and not stopped."""
        return self._streaming

    @property
    def finished(self) -> bool:
        """True when the source has ended (replay ran out, tracker closed) and every buffered
        sample has been taken."""
        with self._cond:
            return self._source_done and not self._buffer

    # ------------------------------------------------------------------ consumer side
    def get_sample(self, timeout_s: float | None = None) -> GazeSample | None:
        """The next sample in order, waiting up to `timeout_s`.

        Parameters
        ----------
        timeout_s : float or None
            Seconds to wait; 0 does not wait; None waits until a sample arrives or the
            source ends. A source read as fast as consumed makes the next sample at once and
            does not wait. (default: None)

        Returns
        -------
        GazeSample or None
            None on timeout or at the end of the stream (see :attr:`finished`).
        """
        if self._pull_mode:
            with self._cond:
                if self._buffer:
                    return self._buffer.popleft()
            while self._streaming and not self._source_done:
                if not self._pull():
                    self._end_of_stream()
                with self._cond:
                    if self._buffer:
                        return self._buffer.popleft()
            with self._cond:
                return self._buffer.popleft() if self._buffer else None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while not self._buffer:
                if self._source_done:
                    return None
                if deadline is None:
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
            return self._buffer.popleft()

    def samples(self, timeout_s: float | None = None) -> Iterator[GazeSample]:
        """Every sample in order, until the stream ends or none comes for `timeout_s`.

        Parameters
        ----------
        timeout_s : float or None
            Stop after this many seconds without a sample; None waits for the end of the
            stream. (default: None)
        """
        while True:
            sample = self.get_sample(timeout_s)
            if sample is None:
                return
            yield sample

    def latest_sample(self) -> GazeSample | None:
        """The newest sample received (for display), whether or not it was taken yet."""
        return self._latest

    def attach(self, inbox: Inbox[Any], limit: int | None = None) -> Lane[GazeSample]:
        """Push every sample and event from now on into `inbox` (instead of this tracker's buffer).

        Parameters
        ----------
        inbox : Inbox
            Where the samples and the events go, each through a lane of their own.
        limit : int or None
            Samples waiting at most: beyond it a new sample is dropped and counted in
            ``stats().dropped`` (a pull source waits instead); None: ``queue_samples``, or 4096
            for a pull source. (default: None)

        Returns
        -------
        Lane
            The samples' lane (``finished`` once the stream ended and its samples were taken).
        """
        lane: Lane[GazeSample] = inbox.lane(
            f"tracker {self.description}", limit or (4096 if self._pull_mode else self._capacity)
        )
        self.attach_events(inbox.lane(f"tracker {self.description} events", 10_000))
        with self._cond:
            self._lane = lane
            if self._source_done:
                lane.close()
        return lane

    def send_message(self, text: str) -> None:
        """Put a marker text into the tracker's recording (here: a ``"message"`` event).

        Parameters
        ----------
        text : str
            The message, one line.
        """
        self._event(TrackerEvent(time.monotonic(), "message", (("text", text),)))

    def stats(self) -> TrackerStats:
        """Counters since the tracker was opened."""
        return TrackerStats(
            received=self._received,
            malformed=self._malformed,
            dropped=self._dropped,
            gaps=self._gaps,
            duplicates=self._duplicates,
            out_of_order=self._out_of_order,
            restarts=self._restarts,
            stalls=self._stalls,
            reconnects=self._reconnects,
        )

    def tracker_time(self) -> float:
        """The tracker clock now, s, estimated from the latest sample and the host clock
        (``nan`` before the first sample)."""
        latest = self._latest
        if latest is None:
            return math.nan
        return latest.tracker_t + (time.monotonic() - latest.t)

    # ------------------------------------------------------------------ producer side
    def _push_sample(self, sample: GazeSample) -> None:
        """Account for one sample and buffer it (receiver thread, or the consumer in pull mode)."""
        self._last_arrival = sample.t
        if self._stalled:
            self._stalled = False
            self._event(TrackerEvent(sample.t, "resume"))
        last = self._last
        dt = math.nan if last is None else sample.tracker_t - last.tracker_t
        if last is not None and dt == dt:  # nan: no previous sample, or no tracker clock to keep books by
            if dt == 0.0 and _same(sample.x, last.x) and _same(sample.y, last.y) and _same(sample.pupil, last.pupil):
                self._duplicates += 1
                return
            if dt < 0.0:
                if -dt > self._restart_after_s:
                    self._restarts += 1
                    self._event(
                        TrackerEvent(sample.t, "restart", (("from_s", last.tracker_t), ("to_s", sample.tracker_t)))
                    )
                else:
                    # A late sample fills a gap counted when its successor came first.
                    self._out_of_order += 1
                    if self._gaps > 0:
                        self._gaps -= 1
                    self._deliver(sample, advance=False)
                    return
            elif self.sample_rate_hz > 0.0:
                missing = self._periods(dt) - 1
                if missing > 0:
                    self._gaps += missing
        self._deliver(sample, advance=True)

    def _periods(self, dt: float) -> int:
        """Sample periods in a tracker clock step of `dt` s, allowing for the clock's resolution."""
        slack = self._clock_resolution_s * self.sample_rate_hz
        if slack < 0.5:
            return round(dt * self.sample_rate_hz)
        # A coarse clock (ms stamps at 1000 Hz and above): the fewest periods that fit.
        return math.ceil((dt - self._clock_resolution_s) * self.sample_rate_hz - 1e-6)

    def _deliver(self, sample: GazeSample, advance: bool) -> None:
        if advance:
            self._last = sample
        self._latest = sample
        lane = self._lane
        if lane is not None:
            if lane.put(sample, block=self._pull_mode):
                self._received += 1
            elif not lane.closed:
                self._dropped += 1
            return
        with self._cond:
            if len(self._buffer) >= self._capacity:
                self._dropped += 1
                return
            self._buffer.append(sample)
            self._received += 1
            self._cond.notify()

    def _count_malformed(self, n: int = 1) -> None:
        self._malformed += n

    def _count_reconnect(self) -> None:
        self._reconnects += 1

    def _check_stall(self, now: float) -> None:
        """Report a stall once when streaming has been silent for ``watchdog_s``."""
        if (
            self._watchdog_s is not None
            and self._streaming
            and not self._stalled
            and now - self._last_arrival > self._watchdog_s
        ):
            self._stalled = True
            self._stalls += 1
            self._event(TrackerEvent(now, "stall", (("silent_s", now - self._last_arrival),)))

    def _end_of_stream(self) -> None:
        """The source has no more samples (replay ran out)."""
        with self._cond:
            self._source_done = True
            self._cond.notify_all()
        if self._lane is not None:
            self._lane.close()

    def _pump(self) -> None:
        """Pull mode, attached to an inbox: pull until the end, waiting for room in the lane."""
        while self._streaming and not self._source_done and not self._closed:
            if not self._pull():
                self._end_of_stream()

    # ------------------------------------------------------------------ to implement
    def _open(self) -> None:
        """Connect; raise TrackerError when the source is not usable."""

    def _close(self) -> None:
        """Release the source; threads must end soon after (``_closed`` is set)."""

    def _start(self) -> None:
        """Start the stream."""

    def _stop(self) -> None:
        """Stop the stream."""

    def _pull(self) -> bool:
        """Pull mode: produce the next sample(s) with ``_push_sample``; False at the end."""
        raise NotImplementedError


def monocular_sample(t: float, tracker_t: float, eye: str, gaze: EyeGaze) -> GazeSample:
    """A one-eye sample.

    Parameters
    ----------
    t : float
        Host monotonic arrival time, s.
    tracker_t : float
        Tracker clock, s.
    eye : str
        ``"l"`` or ``"r"``.
    gaze : EyeGaze
        That eye's data (see :func:`eye_gaze`).
    """
    side = (gaze, None) if eye == "l" else (None, gaze)
    return GazeSample(t, tracker_t, gaze.x, gaze.y, gaze.valid, gaze.pupil, eye, *side)


def eye_gaze(x: float, y: float, pupil: float = math.nan) -> EyeGaze:
    """One eye's data; a gaze that is not finite is lost tracking (``valid=False``, all nan).

    A tracker with its own way of saying "lost" (iViewX reports 0) turns it into nan first
    (:func:`gazefusion.trackers.iviewx.conventions.wire_eye`).

    Parameters
    ----------
    x, y : float
        Gaze, px.
    pupil : float
        Pupil diameter; nan where absent. (default: nan)

    >>> eye_gaze(0.0, 0.0).valid, eye_gaze(float("nan"), 5.0).valid
    (True, False)
    """
    if not (math.isfinite(x) and math.isfinite(y)):
        return EyeGaze(math.nan, math.nan, math.nan, False)
    return EyeGaze(x, y, pupil if math.isfinite(pupil) else math.nan, True)


def binocular_sample(t: float, tracker_t: float, left: EyeGaze, right: EyeGaze) -> GazeSample:
    """A two-eye sample whose gaze and pupil are the means over the valid eyes.

    Parameters
    ----------
    t : float
        Host monotonic arrival time, s.
    tracker_t : float
        Tracker clock, s.
    left, right : EyeGaze
        Each eye (see :func:`eye_gaze`).
    """
    if left.valid and right.valid:
        pupils = [p for p in (left.pupil, right.pupil) if p == p]
        pupil = sum(pupils) / len(pupils) if pupils else math.nan
        return GazeSample(
            t, tracker_t, (left.x + right.x) / 2.0, (left.y + right.y) / 2.0, True, pupil, "b", left, right
        )
    if left.valid or right.valid:
        eye = left if left.valid else right
        return GazeSample(t, tracker_t, eye.x, eye.y, True, eye.pupil, "b", left, right)
    return GazeSample(t, tracker_t, math.nan, math.nan, False, math.nan, "b", left, right)
