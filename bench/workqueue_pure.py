"""A faithful pure-Python workqueue: client-go's queue.go semantics on threading.Condition,
optionally with client-go's metrics through prometheus-client, called per item as a naive port
would. It is the yardstick bench/workqueue.py measures kcore.workqueue against."""

from __future__ import annotations

import asyncio
import collections
import functools
import threading
import time
from typing import Any, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BUCKETS = [10e-9 * 10**i for i in range(10)]


class PureMetrics:
    """client-go's defaultQueueMetrics, each call straight to prometheus-client."""

    def __init__(self, name: str, registry: CollectorRegistry) -> None:
        self.depth = Gauge("workqueue_depth", "depth", ["name"], registry=registry).labels(name)
        self.adds = Counter("workqueue_adds_total", "adds", ["name"], registry=registry).labels(name)
        self.latency = Histogram(
            "workqueue_queue_duration_seconds", "latency", ["name"], buckets=BUCKETS, registry=registry
        ).labels(name)
        self.work = Histogram(
            "workqueue_work_duration_seconds", "work", ["name"], buckets=BUCKETS, registry=registry
        ).labels(name)
        self.add_times: dict = {}
        self.start_times: dict = {}

    def add(self, item: Any) -> None:
        self.adds.inc()
        self.depth.inc()
        self.add_times.setdefault(item, time.monotonic())

    def get(self, item: Any) -> None:
        self.depth.dec()
        now = time.monotonic()
        self.start_times[item] = now
        added = self.add_times.pop(item, None)
        if added is not None:
            self.latency.observe(now - added)

    def done(self, item: Any) -> None:
        started = self.start_times.pop(item, None)
        if started is not None:
            self.work.observe(time.monotonic() - started)


def _wake(fut: "asyncio.Future[None]") -> None:
    if not fut.done():
        fut.set_result(None)


class PureQueue:
    def __init__(self, metrics: Optional[PureMetrics] = None) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0  # notify only when someone waits, as Go's Cond.Signal costs nothing then
        self._queue: collections.deque = collections.deque()
        self._dirty: set = set()
        self._processing: set = set()
        self._shutting_down = False
        self._metrics = metrics
        self._async_waiters: collections.deque = collections.deque()

    def _signal(self) -> None:
        if self._waiting:
            self._cond.notify()
        if self._async_waiters:
            self._async_waiters.popleft()()

    def add(self, item: Any) -> None:
        with self._lock:
            if self._shutting_down or item in self._dirty:
                return
            if self._metrics:
                self._metrics.add(item)
            self._dirty.add(item)
            if item in self._processing:
                return
            self._queue.append(item)
            self._signal()

    def _pop(self) -> tuple:
        item = self._queue.popleft()
        if self._metrics:
            self._metrics.get(item)
        self._processing.add(item)
        self._dirty.discard(item)
        return item, False

    def get(self) -> tuple:
        with self._lock:
            while not self._queue and not self._shutting_down:
                self._waiting += 1
                self._cond.wait()
                self._waiting -= 1
            if not self._queue:
                return None, True
            return self._pop()

    async def aget(self) -> tuple:
        loop = asyncio.get_running_loop()
        while True:
            fut = loop.create_future()
            with self._lock:
                if self._queue:
                    return self._pop()
                if self._shutting_down:
                    return None, True
                self._async_waiters.append(functools.partial(loop.call_soon_threadsafe, _wake, fut))
            await fut

    def done(self, item: Any) -> None:
        with self._lock:
            if self._metrics:
                self._metrics.done(item)
            self._processing.discard(item)
            if item in self._dirty:
                self._queue.append(item)
                self._signal()
            elif not self._processing and self._waiting:
                self._cond.notify_all()

    def shut_down(self) -> None:
        with self._lock:
            self._shutting_down = True
            self._cond.notify_all()
            while self._async_waiters:
                self._async_waiters.popleft()()
