"""DelayingQueue: client-go's delaying_queue.go semantics. Timing is checked with tolerance."""

from __future__ import annotations

import time

import pytest

from kcore.workqueue import DelayingQueue, Empty, Queue

TOLERANCE = 0.5  # seconds of scheduling slack on a busy, shared machine


def test_a_delaying_queue_is_a_queue():
    q = DelayingQueue()
    assert isinstance(q, Queue)
    q.add("a")
    assert q.get() == ("a", False)


def test_add_after_adds_the_item_once_the_delay_has_passed():
    q = DelayingQueue()
    start = time.monotonic()
    q.add_after("a", 0.1)
    assert len(q) == 0
    assert q.get(timeout=5) == ("a", False)
    assert 0.1 <= time.monotonic() - start < 0.1 + TOLERANCE


def test_add_after_with_a_zero_or_negative_delay_adds_now():
    q = DelayingQueue()
    q.add_after("a", 0)
    q.add_after("b", -1)
    assert len(q) == 2


def test_items_become_ready_in_order_of_ready_time():
    q = DelayingQueue()
    q.add_after("late", 0.2)
    q.add_after("early", 0.05)
    q.add_after("middle", 0.1)
    assert [q.get(timeout=5)[0] for _ in range(3)] == ["early", "middle", "late"]


def test_a_second_add_after_keeps_the_earlier_ready_time():
    q = DelayingQueue()
    q.add_after("a", 0.05)
    q.add_after("a", 10)
    start = time.monotonic()
    assert q.get(timeout=5) == ("a", False)
    assert time.monotonic() - start < TOLERANCE


def test_a_second_add_after_with_an_earlier_time_moves_the_item_forward():
    q = DelayingQueue()
    q.add_after("a", 10)
    q.add_after("a", 0.05)
    assert q.get(timeout=5) == ("a", False)


def test_a_superseded_ready_time_coming_due_after_its_item_was_done_with_leaves_the_timer_running():
    # The later entry stays in the timer's heap; by the time it comes due the item has been
    # handed out and done, so the queue has forgotten it (a controller's requeue_after followed
    # by a rate-limited retry after a failure does this).
    q = DelayingQueue()
    q.add_after("a", 0.3)
    q.add_after("a", 0.01)
    assert q.get(timeout=5) == ("a", False)
    q.done("a")
    time.sleep(0.5)
    q.add_after("b", 0.01)
    assert q.get(timeout=5) == ("b", False)
    q.add_after("a", 0.01)  # the forgotten item's slot serves again
    assert q.get(timeout=5) == ("a", False)


def test_a_delayed_item_collapses_with_the_same_item_already_queued():
    q = DelayingQueue()
    q.add("a")
    q.add_after("a", 0.05)
    time.sleep(0.15)
    assert len(q) == 1


def test_a_delayed_item_comes_back_after_an_immediate_round_was_done():
    q = DelayingQueue()
    q.add_after("a", 0.1)
    q.add("a")
    item, _ = q.get()
    q.done(item)
    assert q.get(timeout=5) == ("a", False)


def test_waiting_items_are_dropped_at_shutdown():
    q = DelayingQueue()
    q.add_after("a", 0.05)
    q.shut_down()
    time.sleep(0.1)
    assert q.get() == (None, True)


def test_add_after_is_ignored_after_shutdown():
    q = DelayingQueue()
    q.shut_down()
    q.add_after("a", 0)
    assert len(q) == 0


def test_add_after_rejects_a_nan_delay():
    q = DelayingQueue()
    with pytest.raises(ValueError):
        q.add_after("a", float("nan"))


def test_a_delay_too_long_to_represent_never_becomes_ready():
    q = DelayingQueue()
    q.add_after("a", float("inf"))
    with pytest.raises(Empty):
        q.get(timeout=0.05)
