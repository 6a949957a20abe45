"""Many producers and workers at once: the guarantees hold under contention."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from kcore.workqueue import Queue

PRODUCERS = 16
WORKERS = 16
ADDS = 1_000_000
KEYS = 2_000  # few enough that adds often hit a key that is queued or being processed


@pytest.mark.timeout(300)
def test_sixteen_producers_and_workers_a_million_adds_no_overlap_no_loss_and_drain_finishes_in_flight_work():
    q = Queue()
    keys = [f"ns/name-{i}" for i in range(KEYS)]
    clock = itertools.count()  # next() is atomic under the GIL: a global order of events
    last_add = {}
    last_start = {}
    active = {}  # key -> token of the get that is processing it
    overlaps = []
    done_tokens = set()

    def produce(start):
        add = q.add
        for i in range(start, ADDS, PRODUCERS):
            key = keys[(i * 7919) % KEYS]
            last_add[key] = next(clock)
            add(key)

    def work():
        get, done = q.get, q.done
        while True:
            key, shutdown = get()
            if shutdown:
                return
            token = next(clock)
            last_start[key] = token
            if active.setdefault(key, token) != token:  # setdefault is atomic under the GIL
                overlaps.append(key)
            if token % 997 == 0:
                time.sleep(0.001)  # keep some items in flight for a while
            del active[key]
            done_tokens.add(token)
            done(key)

    workers = [threading.Thread(target=work) for _ in range(WORKERS)]
    producers = [threading.Thread(target=produce, args=(p,)) for p in range(PRODUCERS)]
    for t in workers + producers:
        t.start()
    for t in producers:
        t.join()
    in_flight = set(active.values())
    q.shut_down_with_drain()
    unfinished = in_flight - done_tokens
    for t in workers:
        t.join(timeout=60)

    assert not overlaps, f"processed by two workers at once: {overlaps[:5]}"
    assert not unfinished, "shut_down_with_drain returned before in-flight items were done"
    assert not any(t.is_alive() for t in workers)
    assert set(last_add) == set(keys)
    lost = [k for k in keys if last_start.get(k, -1) < last_add[k]]
    assert not lost, f"added but never processed afterwards: {lost[:5]}"
    assert len(q) == 0
