"""RateLimitingQueue: add_rate_limited, forget, num_requeues (client-go's rate_limiting_queue.go)."""

from __future__ import annotations

import time

import pytest

from kcore.workqueue import (
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    RateLimiter,
    RateLimitingQueue,
)


def test_a_rate_limiting_queue_is_a_delaying_queue():
    q = RateLimitingQueue()
    assert isinstance(q, DelayingQueue)
    q.add_after("a", 0)
    assert q.get() == ("a", False)


def test_add_rate_limited_waits_as_long_as_the_limiter_says():
    q = RateLimitingQueue(ItemExponentialFailureRateLimiter(0.05, 10))
    start = time.monotonic()
    q.add_rate_limited("a")
    assert len(q) == 0
    assert q.get(timeout=5) == ("a", False)
    assert time.monotonic() - start >= 0.05


def test_num_requeues_counts_rate_limited_adds_until_forget():
    q = RateLimitingQueue(ItemExponentialFailureRateLimiter(0.001, 0.001))
    assert q.num_requeues("a") == 0
    q.add_rate_limited("a")
    q.add_rate_limited("a")
    assert q.num_requeues("a") == 2
    assert q.num_requeues("b") == 0
    q.forget("a")
    assert q.num_requeues("a") == 0


def test_forget_does_not_remove_the_item_from_the_queue():
    q = RateLimitingQueue(ItemExponentialFailureRateLimiter(0, 0))
    q.add_rate_limited("a")
    q.forget("a")
    assert q.get(timeout=5) == ("a", False)


def test_the_default_limiter_starts_at_five_milliseconds():
    q = RateLimitingQueue()
    start = time.monotonic()
    q.add_rate_limited("a")
    assert q.get(timeout=5) == ("a", False)
    assert time.monotonic() - start >= 0.005
    assert q.num_requeues("a") == 1


def test_queues_with_the_default_limiter_do_not_share_it():
    first, second = RateLimitingQueue(), RateLimitingQueue()
    first.add_rate_limited("a")
    assert second.num_requeues("a") == 0


def test_a_limiter_written_in_python_is_used():
    class Fixed(RateLimiter):
        def __init__(self):
            self.seen = []

        def when(self, item):
            self.seen.append(item)
            return 0.0

        def forget(self, item):
            self.seen.remove(item)

        def num_requeues(self, item):
            return self.seen.count(item)

    limiter = Fixed()
    q = RateLimitingQueue(limiter)
    q.add_rate_limited("a")
    assert q.get(timeout=5) == ("a", False)
    assert q.num_requeues("a") == 1
    q.forget("a")
    assert limiter.seen == []


def test_an_object_without_the_limiter_methods_is_refused():
    with pytest.raises(TypeError, match="num_requeues"):
        RateLimitingQueue(object())


def test_an_exception_in_a_python_limiter_reaches_the_caller():
    class Broken(RateLimiter):
        def when(self, item):
            raise KeyError(item)

        def forget(self, item):
            pass

        def num_requeues(self, item):
            return 0

    q = RateLimitingQueue(Broken())
    with pytest.raises(KeyError):
        q.add_rate_limited("a")
    assert len(q) == 0
