"""The resume plan behind ResourceClient.watch (kcore.clients.watch.resuming_watch), step by
step: what it asks for after each answer or failure. The e2e tests run it on a real server."""

from __future__ import annotations

from typing import Any

import pytest

from kcore.clients.watch import NEXT_EVENT, Emit, OpenWatch, Sleep, WatchState, resuming_watch
from kcore.errors import Forbidden, Gone, InternalError, TooManyRequests, TransportError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cm(rv: str) -> dict[str, Any]:
    return {"metadata": {"name": "c", "resourceVersion": rv}}


def status(code: int, reason: str) -> dict[str, Any]:
    return {"kind": "Status", "code": code, "reason": reason}


def test_one_timed_watch_emits_its_events_and_ends_with_the_stream() -> None:
    state = WatchState("5")
    plan = resuming_watch(state, timeout_seconds=30)
    assert next(plan) == OpenWatch("5", 30, False)
    assert plan.send(None) is NEXT_EVENT
    assert plan.send(("ADDED", cm("6"))) == Emit(("ADDED", cm("6")))
    assert plan.send(None) is NEXT_EVENT
    with pytest.raises(StopIteration):
        plan.send(None)
    assert state.resource_version == "6"


def test_a_resuming_watch_reopens_from_the_last_version_it_saw_bookmarks_included() -> None:
    clock = Clock()
    state = WatchState("5")
    plan = resuming_watch(state, None, clock)
    first = next(plan)
    assert isinstance(first, OpenWatch) and first.resource_version == "5" and 300 <= first.timeout_seconds < 600
    plan.send(None)
    plan.send(("BOOKMARK", cm("9")))
    plan.send(None)
    clock.now += 60
    again = plan.send(None)
    assert isinstance(again, OpenWatch) and again.resource_version == "9"


@pytest.mark.parametrize(
    "failure",
    [
        TransportError("reset"),
        TooManyRequests(status(429, "TooManyRequests")),
        InternalError(status(500, "InternalError")),
    ],
)
def test_a_failure_worth_retrying_backs_off_then_reopens(failure: Exception) -> None:
    plan = resuming_watch(WatchState("5"), None, Clock())
    next(plan)
    pause = plan.throw(failure)
    assert isinstance(pause, Sleep) and 0.8 <= pause.seconds < 1.6
    assert isinstance(plan.send(None), OpenWatch)


@pytest.mark.parametrize("failure", [Gone(status(410, "Expired")), Forbidden(status(403, "Forbidden"))])
def test_a_410_or_a_refusal_is_raised_to_the_caller(failure: Exception) -> None:
    plan = resuming_watch(WatchState("5"), None, Clock())
    next(plan)
    with pytest.raises(type(failure)):
        plan.throw(failure)


def test_a_stream_that_ends_at_once_is_not_reopened_in_a_hot_loop() -> None:
    plan = resuming_watch(WatchState("5"), None, Clock())
    next(plan)
    plan.send(None)
    pause = plan.send(None)  # ended with no time passing
    assert isinstance(pause, Sleep)


def test_a_streaming_list_broken_before_its_initial_events_end_starts_again() -> None:
    state = WatchState(None, send_initial_events=True)
    plan = resuming_watch(state, None, Clock())
    assert next(plan).send_initial_events
    plan.send(None)
    plan.send(("ADDED", cm("3")))
    assert isinstance(plan.throw(TransportError("reset")), Sleep)
    reopened = plan.send(None)
    assert isinstance(reopened, OpenWatch) and reopened.send_initial_events
