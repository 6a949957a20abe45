"""aget and async iteration: asyncio waits that never block the event loop."""

from __future__ import annotations

import asyncio
import threading

from kcore.workqueue import DelayingQueue, Queue


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=10))


def test_aget_returns_a_queued_item_at_once():
    q = Queue()
    q.add("a")
    assert run(q.aget()) == ("a", False)


def test_aget_waits_without_blocking_the_event_loop():
    async def scenario():
        q = Queue()
        getter = asyncio.ensure_future(q.aget())
        ticks = 0
        for _ in range(5):
            await asyncio.sleep(0.01)
            ticks += 1
        assert not getter.done()
        q.add("a")
        return await getter, ticks

    assert run(scenario()) == (("a", False), 5)


def test_aget_is_woken_by_an_add_from_another_thread():
    async def scenario():
        q = Queue()
        threading.Timer(0.05, q.add, args=("a",)).start()
        return await q.aget()

    assert run(scenario()) == ("a", False)


def test_aget_is_woken_by_a_delayed_item():
    async def scenario():
        q = DelayingQueue()
        q.add_after("a", 0.05)
        return await q.aget()

    assert run(scenario()) == ("a", False)


def test_aget_returns_shutdown_when_the_queue_shuts_down():
    async def scenario():
        q = Queue()
        getters = [asyncio.ensure_future(q.aget()) for _ in range(3)]
        await asyncio.sleep(0.01)
        q.shut_down()
        return await asyncio.gather(*getters)

    assert run(scenario()) == [(None, True)] * 3


def test_a_cancelled_aget_loses_no_item():
    async def scenario():
        q = Queue()
        cancelled = asyncio.ensure_future(q.aget())
        waiting = asyncio.ensure_future(q.aget())
        await asyncio.sleep(0.01)
        q.add("a")  # wakes the first waiter, which is cancelled before it runs
        cancelled.cancel()
        return await waiting

    assert run(scenario()) == ("a", False)


def test_each_waiting_aget_gets_its_own_item():
    async def scenario():
        q = Queue()
        getters = [asyncio.ensure_future(q.aget()) for _ in range(3)]
        await asyncio.sleep(0.01)
        for key in "abc":
            q.add(key)
        return sorted(item for item, _ in await asyncio.gather(*getters))

    assert run(scenario()) == ["a", "b", "c"]


def test_async_iteration_yields_items_until_shutdown():
    async def scenario():
        q = Queue()
        for key in "ab":
            q.add(key)
        q.shut_down()
        seen = []
        async for item in q:
            seen.append(item)
            q.done(item)
        return seen

    assert run(scenario()) == ["a", "b"]
