"""The handlers' bookkeeping (kcore.informer.handlers), as client-go's sharedProcessor and
processorListener keep it: who hears resync-only notifications, when a handler has synced."""

from __future__ import annotations

from typing import Any

from kcore.informer.handlers import Add, Delete, Listener, Processor, Update, resync_period


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def listener(clock: Clock, resync: float = 0.0, synced: bool = True) -> Listener:
    return Listener(None, None, None, resync, resync, clock(), lambda: synced)


def drained(lst: Listener) -> list[Any]:
    out = []
    while (n := lst.take()) is not None:
        out.append(n)
        lst.delivered(n)
    return out


def test_a_new_handler_hears_resync_only_notifications_until_the_first_resync_check() -> None:
    clock = Clock()
    processor = Processor(clock)
    quiet = listener(clock, resync=0)
    processor.add(quiet)
    same = Update({"rv": "1"}, {"rv": "1"})
    processor.distribute(same, sync=True)
    assert drained(quiet) == [same]  # client-go adds listeners as "syncing"
    processor.should_resync()
    processor.distribute(same, sync=True)
    assert drained(quiet) == []  # the check found it has no resync: no more


def test_only_handlers_whose_resync_is_due_hear_a_resync() -> None:
    clock = Clock()
    processor = Processor(clock)
    every_5, every_60 = listener(clock, resync=5), listener(clock, resync=60)
    processor.add(every_5)
    processor.add(every_60)
    clock.now += 6
    assert processor.should_resync()
    processor.distribute(Update(1, 1), sync=True)
    assert len(drained(every_5)) == 1 and drained(every_60) == []
    clock.now += 1
    assert not processor.should_resync()  # every_5's next resync is 5 s after the last


def test_changes_reach_every_handler_whatever_its_resync() -> None:
    clock = Clock()
    processor = Processor(clock)
    handlers = [listener(clock, resync=r) for r in (0, 5)]
    for h in handlers:
        processor.add(h)
    processor.should_resync()
    processor.distribute(Delete("x"), sync=False)
    assert [drained(h) for h in handlers] == [[Delete("x")], [Delete("x")]]


def test_a_handler_has_synced_once_every_initial_add_was_delivered_and_the_informer_synced() -> None:
    clock = Clock()
    lst = listener(clock)
    lst.add(Add("a", True))
    lst.add(Add("b", True))
    assert not lst.has_synced()
    first = lst.take()
    assert first is not None
    lst.delivered(first)
    assert not lst.has_synced()
    drained(lst)
    assert lst.has_synced()
    assert not listener(clock, synced=False).has_synced()


def test_a_raising_handler_loses_only_its_notification() -> None:
    calls = []

    def on_add(obj: Any, initial: bool) -> None:
        if obj == "boom":
            raise RuntimeError("handler failure")
        calls.append(obj)

    lst = Listener(on_add, None, None, 0, 0, 0.0, lambda: True)
    for obj in ("a", "boom", "b"):
        lst.call(Add(obj, False))
    assert calls == ["a", "b"]


def test_resync_periods_are_raised_to_the_informers_check_period_and_off_without_one() -> None:
    assert resync_period(0, 10) == 0
    assert resync_period(5, 10) == 10
    assert resync_period(30, 10) == 30
    assert resync_period(30, 0) == 0
