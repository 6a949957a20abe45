"""The basic Queue: client-go's queue.go semantics."""

from __future__ import annotations

import queue as stdlib_queue
import threading
import time

import pytest

from kcore.workqueue import Empty, Queue


def drain(q: Queue) -> list:
    """Everything queued right now, in order, each marked done."""
    out = []
    while len(q):
        item, shutdown = q.get()
        assert not shutdown
        out.append(item)
        q.done(item)
    return out


def test_items_are_handed_out_in_the_order_they_were_first_added():
    q = Queue()
    for key in ["c", "a", "b"]:
        q.add(key)
    assert drain(q) == ["c", "a", "b"]


def test_adding_a_waiting_item_again_does_nothing():
    q = Queue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert drain(q) == ["a", "b"]


def test_get_returns_the_item_and_shutdown_false():
    q = Queue()
    q.add("ns/name")
    assert q.get() == ("ns/name", False)


def test_an_item_being_processed_is_not_handed_out_again_before_done():
    q = Queue()
    q.add("a")
    _item, _ = q.get()
    q.add("a")
    assert len(q) == 0
    with pytest.raises(Empty):
        q.get(timeout=0)


def test_an_item_added_while_processing_is_queued_again_at_done():
    q = Queue()
    q.add("a")
    q.add("b")
    q.get()
    q.add("a")
    q.done("a")
    assert drain(q) == ["b", "a"]


def test_adds_while_processing_collapse_to_one_more_round():
    q = Queue()
    q.add("a")
    q.get()
    q.add("a")
    q.add("a")
    q.done("a")
    assert drain(q) == ["a"]


def test_done_of_an_item_not_being_processed_is_ignored():
    q = Queue()
    q.done("never-added")
    q.add("a")
    q.done("a")  # queued, not handed out: client-go would queue it a second time; we do not
    assert drain(q) == ["a"]


def test_len_counts_queued_items_not_those_being_processed():
    q = Queue()
    q.add("a")
    q.add("b")
    assert len(q) == 2
    q.get()
    assert len(q) == 1


def test_items_may_be_any_hashable_value_compared_by_equality():
    q = Queue()
    q.add(("ns", "name"))
    q.add(42)
    q.add(frozenset({"x"}))
    q.add(("ns", "name"))  # an equal tuple, another object
    q.add(42.0)  # equal to 42, as in a dict
    assert drain(q) == [("ns", "name"), 42, frozenset({"x"})]


def test_objects_with_their_own_eq_and_hash_are_compared_with_them():
    class Key:
        def __init__(self, name):
            self.name = name

        def __eq__(self, other):
            return isinstance(other, Key) and other.name == self.name

        def __hash__(self):
            return hash(self.name)

    q = Queue()
    first = Key("a")
    q.add(first)
    q.add(Key("a"))
    assert len(q) == 1
    item, _ = q.get()
    assert item is first
    q.done(Key("a"))
    with pytest.raises(Empty):
        q.get(timeout=0)


def test_an_unhashable_item_raises_type_error():
    q = Queue()
    with pytest.raises(TypeError):
        q.add(["a", "list"])
    with pytest.raises(TypeError):
        q.done({})


def test_an_exception_from_eq_reaches_the_caller_and_leaves_the_queue_usable():
    class Bad:
        def __hash__(self):
            return 1

        def __eq__(self, other):
            raise RuntimeError("eq failed")

    q = Queue()
    q.add(Bad())
    with pytest.raises(RuntimeError, match="eq failed"):
        q.add(Bad())
    assert len(q) == 1
    q.add("fine")
    assert len(q) == 2


def test_eq_that_calls_back_into_the_same_queue_raises_instead_of_deadlocking():
    q = Queue()

    class Reentrant:
        def __hash__(self):
            return 7

        def __eq__(self, other):
            q.add("other")
            return False

    q.add(Reentrant())
    with pytest.raises(RuntimeError, match="called back into the workqueue"):
        q.add(Reentrant())


def test_get_blocks_until_an_item_is_added():
    q = Queue()
    got = []
    worker = threading.Thread(target=lambda: got.append(q.get()))
    worker.start()
    time.sleep(0.05)
    assert not got
    q.add("a")
    worker.join(timeout=5)
    assert got == [("a", False)]


def test_get_with_a_timeout_raises_queue_empty_when_nothing_comes():
    q = Queue()
    start = time.monotonic()
    with pytest.raises(stdlib_queue.Empty):
        q.get(timeout=0.05)
    assert time.monotonic() - start >= 0.05


def test_get_with_a_timeout_returns_an_item_that_comes_in_time():
    q = Queue()
    threading.Timer(0.02, q.add, args=("a",)).start()
    assert q.get(timeout=5) == ("a", False)


def test_get_rejects_a_negative_or_nan_timeout():
    q = Queue()
    with pytest.raises(ValueError):
        q.get(timeout=-1)
    with pytest.raises(ValueError):
        q.get(timeout=float("nan"))


def test_shut_down_lets_workers_drain_queued_items_then_reports_shutdown():
    q = Queue()
    q.add("a")
    q.add("b")
    q.shut_down()
    assert q.get() == ("a", False)
    assert q.get() == ("b", False)
    assert q.get() == (None, True)


def test_adds_after_shut_down_are_ignored():
    q = Queue()
    q.shut_down()
    q.add("a")
    assert len(q) == 0
    assert q.get() == (None, True)


def test_shut_down_wakes_blocked_getters():
    q = Queue()
    results = []
    workers = [threading.Thread(target=lambda: results.append(q.get())) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(0.05)
    q.shut_down()
    for w in workers:
        w.join(timeout=5)
    assert results == [(None, True)] * 4


def test_shutting_down_reports_whether_shut_down_was_called():
    q = Queue()
    assert not q.shutting_down()
    q.shut_down()
    assert q.shutting_down()


def test_shut_down_with_drain_waits_for_items_in_processing_to_be_done():
    q = Queue()
    q.add("a")
    q.get()
    finished = threading.Event()

    def drain_it():
        q.shut_down_with_drain()
        finished.set()

    threading.Thread(target=drain_it).start()
    assert not finished.wait(0.1)
    assert q.shutting_down()
    q.done("a")
    assert finished.wait(5)


def test_shut_down_with_drain_returns_at_once_when_nothing_is_processing():
    q = Queue()
    q.shut_down_with_drain()
    assert q.shutting_down()


def test_shut_down_ends_a_shut_down_with_drain_that_is_waiting():
    q = Queue()
    q.add("a")
    q.get()
    finished = threading.Event()
    threading.Thread(target=lambda: (q.shut_down_with_drain(), finished.set())).start()
    assert not finished.wait(0.1)
    q.shut_down()
    assert finished.wait(5)


def test_iteration_yields_items_until_shutdown():
    q = Queue()
    for key in ["a", "b"]:
        q.add(key)
    q.shut_down()
    seen = []
    for item in q:
        seen.append(item)
        q.done(item)
    assert seen == ["a", "b"]


@pytest.mark.timeout(10)  # holding the GIL would hang this test: nothing could add the item
def test_a_blocked_get_does_not_hold_the_gil():
    q = Queue()
    threading.Thread(target=q.get, daemon=True).start()
    time.sleep(0.02)
    counted = 0
    deadline = time.monotonic() + 0.1
    while time.monotonic() < deadline:
        counted += 1
    assert counted > 1000  # this thread kept running while the other one waited
    q.add("release")
