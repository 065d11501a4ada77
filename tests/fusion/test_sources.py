"""The background-source base: lanes that drop and count or wait for room, one queue to block on, typed events."""

from __future__ import annotations

import threading
import time

from gazefusion.fusion.sources import BackgroundSource, Inbox


def test_a_full_lane_drops_and_counts_without_touching_the_others() -> None:
    inbox: Inbox[int] = Inbox()
    frames, samples = inbox.lane("frames", 2), inbox.lane("samples", 100)
    assert [frames.put(i) for i in range(4)] == [True, True, False, False]
    assert all(samples.put(i) for i in range(50))
    assert frames.dropped == 2 and samples.dropped == 0 and inbox.dropped == 2
    assert [inbox.get(0) for _ in range(52)] == [0, 1, *range(50)]
    assert inbox.get(0) is None


def test_a_blocking_put_waits_for_room_and_loses_nothing() -> None:
    inbox: Inbox[int] = Inbox()
    lane = inbox.lane("pull", 3)

    def produce() -> None:
        for i in range(20):
            lane.put(i, block=True)
        lane.close()

    producer = threading.Thread(target=produce)
    producer.start()
    taken = []
    while (item := inbox.get(5.0)) is not None:
        taken.append(item)
    producer.join(5.0)
    assert taken == list(range(20)) and lane.dropped == 0 and lane.finished and inbox.closed


def test_get_blocks_until_an_item_or_a_wake() -> None:
    inbox: Inbox[str] = Inbox()
    lane = inbox.lane("one", 10)
    threading.Timer(0.05, lambda: lane.put("late")).start()
    assert inbox.get(5.0) == "late"
    threading.Timer(0.05, inbox.wake).start()
    began = time.monotonic()
    assert inbox.get(5.0) is None
    assert time.monotonic() - began < 4.0  # woken, not timed out


def test_a_shut_inbox_releases_a_blocked_producer() -> None:
    inbox: Inbox[int] = Inbox()
    lane = inbox.lane("full", 1)
    lane.put(0)
    result: list[bool] = []
    producer = threading.Thread(target=lambda: result.append(lane.put(1, block=True)))
    producer.start()
    inbox.shut()
    producer.join(5.0)
    assert result == [False] and lane.dropped == 0


class _Source(BackgroundSource[str]):
    def stats(self) -> dict[str, int]:
        return {}


def test_events_are_kept_until_a_lane_takes_them() -> None:
    source = _Source("test", event_capacity=2)
    for text in ("a", "b", "c"):
        source._event(text)
    assert source.pop_events() == ["a", "b"] and source.events_dropped == 1
    source._event("d")
    assert source.next_event(0) == "d" and source.next_event(0) is None
    inbox: Inbox[str] = Inbox()
    source.attach_events(inbox.lane("events", 10))
    source._event("e")
    assert inbox.get(0) == "e" and source.pop_events() == []


def test_threads_are_spawned_and_joined() -> None:
    source = _Source("test")
    ran = threading.Event()
    source._spawn(ran.set, "test-thread")
    source._join_threads(5.0)
    assert ran.is_set() and source._threads == []
