"""The background-source base that camera sources and trackers share, and the queue they feed.

A source reads on threads of its own (:class:`BackgroundSource`: start the threads, stop them,
report typed events). What it reads goes into :class:`Inbox` lanes: an inbox is one queue
that any number of producers push timestamped items into and one consumer blocks on; each
producer pushes through its own :class:`Lane`, which holds at most `limit` items waiting, so a
fast producer never crowds out another (a full lane drops the new item and counts it, or, for
a producer that must lose nothing and can wait, blocks).

The runner gives the camera and the tracker a lane each of one inbox and blocks on it: no
polling. A recorder tap of a camera is an inbox of its own with one lane.

>>> inbox: Inbox[str] = Inbox()
>>> frames, samples = inbox.lane("frames", limit=1), inbox.lane("samples", limit=10)
>>> frames.put("frame 0"), frames.put("frame 1"), samples.put("sample 0")
(True, False, True)
>>> inbox.get(0), inbox.get(0), frames.dropped
('frame 0', 'sample 0', 1)
>>> frames.close(); samples.close(); inbox.get(None) is None and inbox.closed
True
"""

from __future__ import annotations

import collections
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
E = TypeVar("E")


class Lane(Generic[T]):
    """One producer's way into an :class:`Inbox`, holding at most `limit` of its items waiting.

    Made by :meth:`Inbox.lane`.

    Attributes
    ----------
    name : str
        The producer, for statistics.
    limit : int
        Items of this lane the inbox holds at most.
    dropped : int
        Items refused because the lane was full.
    """

    def __init__(self, inbox: Inbox[T], name: str, limit: int) -> None:
        self.inbox = inbox
        self.name = name
        self.limit = max(1, int(limit))
        self.dropped = 0
        self.waiting = 0
        self.closed = False

    def put(self, item: T, block: bool = False) -> bool:
        """Queue `item`; when the lane is full, drop it (False, counted) or, with `block`, wait for room.

        A closed lane (or inbox) takes nothing more: False.
        """
        return self.inbox._put(self, item, block)

    def close(self) -> None:
        """No more items from this producer (the source ended); what is queued stays readable."""
        self.inbox._close_lane(self)

    @property
    def finished(self) -> bool:
        """Closed, and every item it queued has been taken."""
        with self.inbox._cond:
            return self.closed and self.waiting == 0


class Inbox(Generic[T]):
    """One queue, many producers (each through a :class:`Lane`), one consumer that blocks on :meth:`get`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: collections.deque[tuple[Lane[T], T]] = collections.deque()
        self._lanes: list[Lane[T]] = []
        self._woken = False
        self._shut = False

    def lane(self, name: str, limit: int) -> Lane[T]:
        """A new producer's lane holding at most `limit` waiting items."""
        lane = Lane(self, name, limit)
        with self._cond:
            self._lanes.append(lane)
        return lane

    def _put(self, lane: Lane[T], item: T, block: bool) -> bool:
        with self._cond:
            while lane.waiting >= lane.limit and block and not (lane.closed or self._shut):
                self._cond.wait(0.1)
            if lane.closed or self._shut:
                return False
            if lane.waiting >= lane.limit:
                lane.dropped += 1
                return False
            lane.waiting += 1
            self._items.append((lane, item))
            self._cond.notify_all()
            return True

    def _close_lane(self, lane: Lane[T]) -> None:
        with self._cond:
            lane.closed = True
            self._cond.notify_all()

    def get(self, timeout_s: float | None = None) -> T | None:
        """The next item, waiting up to `timeout_s` (None: until one comes, :meth:`wake`, or every lane closes).

        Returns None after the timeout, on :meth:`wake`, and once every lane is closed and
        nothing is left.
        """
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._woken or self.closed, timeout_s):
                return None
            self._woken = False
            if not self._items:
                return None
            lane, item = self._items.popleft()
            lane.waiting -= 1
            self._cond.notify_all()  # a producer blocked on a full lane
            return item

    def wake(self) -> None:
        """Make a waiting (or the next) :meth:`get` return None at once."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def shut(self) -> None:
        """Refuse every item from now on and release producers blocked on a full lane."""
        with self._cond:
            self._shut = True
            for lane in self._lanes:
                lane.closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Every lane is closed (an inbox without lanes is not)."""
        return bool(self._lanes) and all(lane.closed for lane in self._lanes)

    @property
    def dropped(self) -> int:
        """Items refused by full lanes, over all lanes."""
        with self._cond:
            return sum(lane.dropped for lane in self._lanes)

    def __len__(self) -> int:
        return len(self._items)


class BackgroundSource(ABC, Generic[E]):
    """A source that reads on threads of its own and reports typed events.

    Subclasses spawn their threads with :meth:`_spawn` (and end them when closed), report
    what happens with :meth:`_event`, and count what they deliver in :meth:`stats`. Events are
    kept (at most `event_capacity`, beyond which they are dropped and counted) for
    :meth:`pop_events` and :meth:`next_event`, or, once a lane is given to
    :meth:`attach_events`, pushed into it instead.

    Parameters
    ----------
    name : str
        The source in logs and errors (never with credentials).
    event_capacity : int
        Events kept for :meth:`pop_events`. (default: 10000)
    """

    def __init__(self, name: str, event_capacity: int = 10_000) -> None:
        self.name = name
        self._threads: list[threading.Thread] = []
        self._event_cond = threading.Condition()
        self._events: collections.deque[E] = collections.deque()
        self._event_capacity = event_capacity
        self._event_lanes: list[Lane[E]] = []
        self.events_dropped = 0

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        """Start a daemon thread running `target`, joined by :meth:`_join_threads`."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _join_threads(self, timeout_s: float = 5.0) -> None:
        """Wait for the threads to end (never for the calling one) and forget them."""
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=timeout_s)
        self._threads.clear()

    def _event(self, event: E) -> None:
        """Report an event: kept for :meth:`pop_events` and pushed into the attached lanes."""
        with self._event_cond:
            lanes = list(self._event_lanes)
            if not lanes and len(self._events) >= self._event_capacity:
                self.events_dropped += 1
            elif not lanes:
                self._events.append(event)
                self._event_cond.notify_all()
        for lane in lanes:
            if not lane.put(event):
                self.events_dropped += 1

    def pop_events(self) -> list[E]:
        """The events since the last call, oldest first (events pushed into lanes are not kept)."""
        with self._event_cond:
            events = list(self._events)
            self._events.clear()
        return events

    def next_event(self, timeout_s: float | None = 0) -> E | None:
        """The oldest event not taken yet, waiting up to `timeout_s` (0: no wait; None: until one comes)."""
        with self._event_cond:
            if not self._event_cond.wait_for(lambda: self._events, timeout_s):
                return None
            return self._events.popleft()

    def attach_events(self, lane: Lane[E]) -> None:
        """Push every event from now on into `lane` (instead of keeping it for :meth:`pop_events`)."""
        with self._event_cond:
            self._event_lanes.append(lane)

    @abstractmethod
    def stats(self) -> object:
        """What the source has delivered so far."""
