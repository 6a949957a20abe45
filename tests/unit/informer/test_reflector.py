"""The reflector's plan, step by step: each test plays the server's part (answering or failing
each command) and checks what the reflector asks next and what reaches its store. The rules
are client-go v0.37.2's tools/cache/reflector.go; the end-to-end tests prove them on a real
server."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from kcore.clients.watch import INITIAL_EVENTS_END, NEXT_EVENT, Backoff, ListPage, OpenWatch, Sleep
from kcore.codec import DecodeError
from kcore.errors import Forbidden, Gone, Invalid, TooManyRequests, TransportError
from kcore.informer.reflector import PAGE_SIZE, Reflector


def obj(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": rv}}


def page(rv: str, *items: dict[str, Any], token: Optional[str] = None) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": rv, **({"continue": token} if token else {})}, "items": list(items)}


def status(code: int, reason: str) -> dict[str, Any]:
    return {"kind": "Status", "code": code, "reason": reason, "message": reason}


def bookmark(rv: str, initial_events_end: bool = False) -> dict[str, Any]:
    annotations = {INITIAL_EVENTS_END: "true"} if initial_events_end else {}
    return {"metadata": {"resourceVersion": rv, "annotations": annotations}}


class Recorder:
    """A ReflectorStore that records what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def replace(self, objects: list[Any], resource_version: str) -> None:
        self.calls.append(("replace", [o["metadata"]["name"] for o in objects], resource_version))

    def add(self, o: Any) -> None:
        self.calls.append(("add", o["metadata"]["name"]))

    def update(self, o: Any) -> None:
        self.calls.append(("update", o["metadata"]["name"]))

    def delete(self, o: Any) -> None:
        self.calls.append(("delete", o["metadata"]["name"]))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key_of(o: Any) -> str:
    return f"{o['metadata']['namespace']}/{o['metadata']['name']}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def reflector(store: Recorder, clock: Clock, watch_list: bool = False, **kw: Any) -> Reflector:
    errors: list[BaseException] = []
    r = Reflector(
        store, key_of, use_watch_list=watch_list, clock=clock, watch_error_handler=lambda _r, e: errors.append(e), **kw
    )
    r.errors = errors  # type: ignore[attr-defined]
    return r


def open_watch_after_list(store: Recorder, clock: Clock) -> tuple[Reflector, Any, Any]:
    r = reflector(store, clock)
    plan = r.run()
    assert next(plan) == ListPage("0", PAGE_SIZE)
    command = plan.send(page("10", obj("a", "5"), obj("b", "7")))
    return r, plan, command


def test_the_first_list_asks_for_version_0_in_pages_of_500_and_replaces_the_store() -> None:
    store, clock = Recorder(), Clock()
    r, _plan, command = open_watch_after_list(store, clock)
    assert store.calls == [("replace", ["a", "b"], "10")]
    assert r.last_sync_resource_version == "10"
    assert isinstance(command, OpenWatch) and command.resource_version == "10"
    assert 300 <= command.timeout_seconds < 600 and not command.send_initial_events


def test_pages_are_followed_by_their_continue_tokens_without_a_version() -> None:
    store, clock = Recorder(), Clock()
    plan = reflector(store, clock).run()
    assert next(plan) == ListPage("0", PAGE_SIZE)
    assert plan.send(page("10", obj("a", "5"), token="t1")) == ListPage(None, PAGE_SIZE, "t1")
    command = plan.send(page("10", obj("b", "6")))
    assert isinstance(command, OpenWatch)
    assert store.calls == [("replace", ["a", "b"], "10")]


def test_an_expired_continue_token_falls_back_to_one_full_list_at_the_version_asked_for() -> None:
    store, clock = Recorder(), Clock()
    plan = reflector(store, clock).run()
    next(plan)
    assert plan.send(page("10", obj("a", "5"), token="t1")) == ListPage(None, PAGE_SIZE, "t1")
    assert plan.throw(Gone(status(410, "Expired"))) == ListPage("0")
    plan.send(page("12", obj("a", "5"), obj("b", "11")))
    assert store.calls == [("replace", ["a", "b"], "12")]


def test_a_list_at_an_expired_version_is_retried_at_once_as_a_quorum_read() -> None:
    store, clock = Recorder(), Clock()
    plan = reflector(store, clock).run()
    next(plan)
    assert plan.throw(Gone(status(410, "Expired"))) == ListPage("", PAGE_SIZE)


def test_watch_events_reach_the_store_and_advance_the_version() -> None:
    store, clock = Recorder(), Clock()
    r, plan, _ = open_watch_after_list(store, clock)
    assert plan.send(None) is NEXT_EVENT
    plan.send(("ADDED", obj("c", "11")))
    plan.send(("MODIFIED", obj("a", "12")))
    plan.send(("DELETED", obj("b", "13")))
    plan.send(("BOOKMARK", bookmark("14")))
    assert store.calls[1:] == [("add", "c"), ("update", "a"), ("delete", "b")]
    assert r.last_sync_resource_version == "14"


def test_a_stream_that_ends_is_watched_again_from_the_last_version_without_a_relist() -> None:
    store, clock = Recorder(), Clock()
    _, plan, _ = open_watch_after_list(store, clock)
    plan.send(None)
    plan.send(("MODIFIED", obj("a", "15")))
    clock.now += 5
    command = plan.send(None)  # the server closed the stream (its timeout)
    assert isinstance(command, OpenWatch) and command.resource_version == "15"
    assert [c[0] for c in store.calls] == ["replace", "update"]


def test_a_broken_connection_mid_stream_is_watched_again_from_the_last_version() -> None:
    store, clock = Recorder(), Clock()
    _, plan, _ = open_watch_after_list(store, clock)
    plan.send(None)
    plan.send(("MODIFIED", obj("a", "15")))
    command = plan.throw(TransportError("connection reset"))
    assert isinstance(command, OpenWatch) and command.resource_version == "15"


def test_a_410_during_the_watch_relists_from_the_last_synced_version_after_a_backoff() -> None:
    store, clock = Recorder(), Clock()
    r, plan, _ = open_watch_after_list(store, clock)
    plan.send(None)
    plan.send(("MODIFIED", obj("a", "15")))
    command = plan.throw(Gone(status(410, "Expired")))
    assert isinstance(command, Sleep) and 0.8 <= command.seconds < 1.6
    assert plan.send(None) == ListPage("15", None)  # the watch cache serves it whole: no paging
    assert r.errors == []  # type: ignore[attr-defined]


def test_429_and_refused_connections_back_off_and_watch_again_without_relisting() -> None:
    store, clock = Recorder(), Clock()
    _, plan, _ = open_watch_after_list(store, clock)
    first = plan.throw(TooManyRequests(status(429, "TooManyRequests")))
    assert isinstance(first, Sleep)
    assert isinstance(plan.send(None), OpenWatch)
    second = plan.throw(TransportError("connection refused"))
    assert isinstance(second, Sleep) and second.seconds >= 1.6  # doubled: never a hot loop
    command = plan.send(None)
    assert isinstance(command, OpenWatch) and command.resource_version == "10"


def test_a_watch_that_ends_at_once_without_events_is_an_error_and_relists_after_a_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = Recorder(), Clock()
    _, plan, _ = open_watch_after_list(store, clock)
    plan.send(None)
    command = plan.send(None)  # ended within a second, no event
    assert isinstance(command, Sleep)
    assert "very short watch" in caplog.text
    assert isinstance(plan.send(None), ListPage)


def test_an_undecodable_frame_ends_the_watch_with_an_internal_error_and_relists() -> None:
    store, clock = Recorder(), Clock()
    _, plan, _ = open_watch_after_list(store, clock)
    plan.send(None)
    command = plan.throw(DecodeError("watch event at stream byte 7: bad frame"))
    assert isinstance(command, Sleep)
    assert plan.send(None) == ListPage("10", None)


def test_a_refusal_to_open_the_watch_ends_the_round_reported_to_the_error_handler() -> None:
    store, clock = Recorder(), Clock()
    r, plan, _ = open_watch_after_list(store, clock)
    command = plan.throw(Forbidden(status(403, "Forbidden")))
    assert isinstance(command, Sleep)
    assert isinstance(r.errors[0], Forbidden)  # type: ignore[attr-defined]


def test_a_streaming_list_gathers_objects_until_the_initial_events_end_and_keeps_the_watch() -> None:
    store, clock = Recorder(), Clock()
    r = reflector(store, clock, watch_list=True)
    plan = r.run()
    command = next(plan)
    assert isinstance(command, OpenWatch) and command.send_initial_events and command.resource_version == ""
    assert plan.send(None) is NEXT_EVENT
    plan.send(("ADDED", obj("a", "5")))
    plan.send(("ADDED", obj("b", "7")))
    assert store.calls == []  # nothing reaches the store before the end of the initial events
    command = plan.send(("BOOKMARK", bookmark("20", initial_events_end=True)))
    assert store.calls == [("replace", ["a", "b"], "20")]
    assert r.last_sync_resource_version == "20"
    assert command is NEXT_EVENT  # the same watch goes on
    plan.send(("MODIFIED", obj("a", "21")))
    assert store.calls[-1] == ("update", "a") and r.last_sync_resource_version == "21"


def test_a_streaming_list_the_server_refuses_falls_back_to_list() -> None:
    store, clock = Recorder(), Clock()
    plan = reflector(store, clock, watch_list=True).run()
    next(plan)
    assert plan.throw(Invalid(status(422, "Invalid"))) == ListPage("0", PAGE_SIZE)


def test_a_streaming_list_at_an_expired_version_starts_again_from_the_newest() -> None:
    store, clock = Recorder(), Clock()
    r = reflector(store, clock, watch_list=True)
    r.last_sync_resource_version = "5"
    plan = r.run()
    assert next(plan).resource_version == "5"
    command = plan.throw(Gone(status(410, "Expired")))
    assert isinstance(command, OpenWatch) and command.resource_version == "" and command.send_initial_events


def test_the_backoff_doubles_from_0_8_s_to_a_30_s_cap_with_jitter_and_resets_after_2_quiet_minutes() -> None:
    clock = Clock()
    backoff = Backoff(clock, rng=lambda: 0.5)
    delays = [backoff.next_delay() for _ in range(8)]
    assert delays == pytest.approx([1.2, 2.4, 4.8, 9.6, 19.2, 38.4, 45.0, 45.0])
    clock.now += 121
    assert backoff.next_delay() == pytest.approx(1.2)
