"""The event recorder's rules (client-go v0.37.2 tools/events and tools/record), without a server:
the series core and the legacy correlator with given times, the recorder over a fake clientset."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Optional

import pytest

from kcore.controller import EventCorrelator, EventRecorder
from kcore.controller.event_correlator import LRU, SpamFilter, TokenBucket
from kcore.controller.events import (
    FINISH_TIME,
    MAX_TRIES_PER_EVENT,
    LegacyCore,
    Occurrence,
    SeriesCore,
    Write,
    event_name,
    micro_time,
    object_reference,
    truncate_utf8,
)
from kcore.errors import AlreadyExists, Invalid, NotFound, TransportError
from tests.waiting import wait_for

S = 1_000_000_000  # nanoseconds in a second
T0 = 1_700_000_000 * S + 123_456_789

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "resourceVersion": "7"},
}
NODE: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u-n"}}


def occurrence(
    note: str = "it broke",
    *,
    at: int = T0,
    regarding: Optional[dict] = None,
    related: Optional[dict] = None,
    type: str = "Warning",
    reason: str = "Failed",
    action: str = "Sync",
) -> Occurrence:
    ref = object_reference(regarding or POD)
    assert ref is not None
    return Occurrence(ref, object_reference(related), type, reason, action, note, at)


def observe(core: SeriesCore, occurrence: Occurrence, now_ns: int) -> Optional[Write]:
    """The one write (or None) an occurrence needs while the cache has room."""
    writes = core.observe(occurrence, now_ns)
    assert len(writes) <= 1
    return writes[0] if writes else None


def status(code: int, reason: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": reason,
    }


# -- names, times, references, limits -------------------------------------------------------------


def test_an_event_is_named_after_what_it_regards_and_the_hex_unix_nanoseconds() -> None:
    assert event_name("web-0", T0) == f"web-0.{T0:x}"


def test_an_event_name_that_is_no_dns_subdomain_becomes_a_random_uuid() -> None:
    name = event_name("Not_Valid", T0)
    assert str(uuid.UUID(name)) == name
    assert str(uuid.UUID(event_name("a" * 250, T0))) != ""


def test_event_time_is_a_microsecond_utc_timestamp() -> None:
    assert micro_time(T0) == "2023-11-14T22:13:20.123456Z"


def test_a_reference_holds_what_client_go_copies_from_the_object() -> None:
    assert object_reference(POD) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "web-0",
        "namespace": "shop",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert object_reference({"kind": "Node", "name": "n1", "apiVersion": "v1"}) == {
        "kind": "Node",
        "name": "n1",
        "apiVersion": "v1",
    }
    assert object_reference({"metadata": {"name": "no-kind"}}) is None


def test_an_object_without_its_kind_as_list_items_come_is_referred_to_with_the_kind_given() -> None:
    item = {"metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1"}}
    assert object_reference(item, kind="Pod", api_version="v1") == {
        "kind": "Pod",
        "apiVersion": "v1",
        "name": "web-0",
        "namespace": "shop",
        "uid": "u-1",
    }


def test_a_note_is_cut_to_1024_bytes_never_inside_a_character() -> None:
    assert truncate_utf8("x" * 2000, 1024) == "x" * 1024
    cut = truncate_utf8("é" * 600, 1024)  # 2 bytes each
    assert cut == "é" * 512
    assert len(truncate_utf8("a" + "é" * 600, 1024).encode()) == 1023


# -- the events.k8s.io/v1 series ------------------------------------------------------------------


def test_the_first_occurrence_is_created_as_client_go_makes_it() -> None:
    core = SeriesCore("ctl", "ctl-host")
    write = observe(core, occurrence(related=NODE), T0)
    assert write is not None and write.patch is None
    assert write.namespace == "shop" and write.name == f"web-0.{T0:x}"
    assert write.body == {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"web-0.{T0:x}", "namespace": "shop"},
        "eventTime": "2023-11-14T22:13:20.123456Z",
        "reportingController": "ctl",
        "reportingInstance": "ctl-host",
        "action": "Sync",
        "reason": "Failed",
        "type": "Warning",
        "note": "it broke",
        "regarding": object_reference(POD),
        "related": object_reference(NODE),
    }


def test_an_event_about_a_cluster_scoped_object_goes_to_namespace_default() -> None:
    write = observe(SeriesCore("ctl", "ctl-host"), occurrence(regarding=NODE), T0)
    assert write is not None and write.namespace == "default"


def test_the_second_isomorphic_occurrence_patches_a_series_of_count_two_at_once() -> None:
    core = SeriesCore("ctl", "ctl-host")
    first = observe(core, occurrence(), T0)
    second = observe(core, occurrence(at=T0 + S), T0 + S)
    assert first is not None and second is not None
    assert second.name == first.name
    assert second.patch == {"series": {"count": 2, "lastObservedTime": micro_time(T0 + S)}}
    assert second.body["series"] == second.patch["series"]  # a create after NotFound carries it too


def test_later_isomorphic_occurrences_are_only_counted_in_memory() -> None:
    core = SeriesCore("ctl", "ctl-host")
    writes = [observe(core, occurrence(at=T0 + i), T0 + i) for i in range(100)]
    assert [w for w in writes[2:] if w is not None] == []
    (entry,) = core.cache.values()
    assert entry.event["series"] == {"count": 100, "lastObservedTime": micro_time(T0 + 99)}


def test_events_differing_only_in_their_note_are_isomorphic() -> None:
    core = SeriesCore("ctl", "ctl-host")
    observe(core, occurrence("first note"), T0)
    write = observe(core, occurrence("another note"), T0 + 1)
    assert write is not None and write.patch is not None
    assert write.body["note"] == "first note"  # the Event keeps its first note, as client-go's


@pytest.mark.parametrize(
    "change",
    [
        {"type": "Normal"},
        {"action": "Delete"},
        {"reason": "Other"},
        {"regarding": {**POD, "metadata": {**POD["metadata"], "resourceVersion": "8"}}},
        {"related": NODE},
    ],
)
def test_each_part_of_the_isomorphic_key_makes_a_new_event(change: dict) -> None:
    core = SeriesCore("ctl", "ctl-host")
    observe(core, occurrence(), T0)
    write = observe(core, occurrence(at=T0 + 1, **change), T0 + 1)
    assert write is not None and write.patch is None and len(core.cache) == 2


def test_recorders_of_other_controllers_or_instances_never_share_an_event() -> None:
    one, other = SeriesCore("ctl", "ctl-a"), SeriesCore("ctl", "ctl-b")
    assert one.key(one.make_event(occurrence())) != other.key(other.make_event(occurrence()))


def test_the_heartbeat_patches_every_open_series_with_its_count_now() -> None:
    core = SeriesCore("ctl", "ctl-host")
    for i in range(5):
        observe(core, occurrence(at=T0 + i), T0 + i)
    observe(core, occurrence(reason="Single"), T0)
    (write,) = core.heartbeat()
    assert write.patch == {"series": {"count": 5, "lastObservedTime": micro_time(T0 + 4)}}


def test_a_series_idle_for_more_than_six_minutes_gets_a_last_patch_then_is_forgotten() -> None:
    core = SeriesCore("ctl", "ctl-host")
    for i in range(3):
        observe(core, occurrence(at=T0 + i), T0 + i)
    assert core.finish(T0 + 2 + int(FINISH_TIME * S)) == []  # idle exactly 6 minutes: still open
    (last,) = core.finish(T0 + 3 + int(FINISH_TIME * S))
    assert last.patch == {"series": {"count": 3, "lastObservedTime": micro_time(T0 + 2)}}
    core.forget(last.key)
    fresh = observe(core, occurrence(at=T0 + 10 * 60 * S), T0 + 10 * 60 * S)
    assert fresh is not None and fresh.patch is None and fresh.name != last.name


def test_a_single_event_older_than_six_minutes_is_forgotten_so_its_next_occurrence_is_a_new_event() -> None:
    core = SeriesCore("ctl", "ctl-host")
    observe(core, occurrence(), T0)
    assert core.finish(T0 + 7 * 60 * S) == []
    assert core.cache == {}


def test_a_full_cache_ends_its_least_recently_observed_event_to_make_room() -> None:
    core = SeriesCore("ctl", "ctl-host", max_entries=2)
    for i in range(3):
        observe(core, occurrence(reason="Old"), T0 + i)  # a series of 3
    observe(core, occurrence(reason="Single"), T0 + 3)
    observe(core, occurrence(reason="Old"), T0 + 4)  # the series is now the most recent
    made_room = core.observe(occurrence(reason="New", at=T0 + 5), T0 + 5)
    assert [w.body["reason"] for w in made_room] == ["New"]  # the single event went, silently
    last, new = core.observe(occurrence(reason="Newer", at=T0 + 6), T0 + 6)
    assert last.patch == {"series": {"count": 4, "lastObservedTime": micro_time(T0 + 4)}}
    assert new.body["reason"] == "Newer" and len(core.cache) == 2


def test_close_patches_only_the_series_counted_since_their_last_write() -> None:
    core = SeriesCore("ctl", "ctl-host")
    observe(core, occurrence(), T0)
    second = observe(core, occurrence(at=T0 + 1), T0 + 1)
    assert second is not None
    core.written(second, {})
    assert core.flush() == []
    observe(core, occurrence(at=T0 + 2), T0 + 2)
    (write,) = core.flush()
    assert write.patch is not None and write.patch["series"]["count"] == 3


def test_which_failed_writes_are_tried_again() -> None:
    core, legacy = SeriesCore("ctl", "i"), LegacyCore("ctl", "h")
    single, series = Write("ns", "n", {}), Write("ns", "n", {}, patch={"series": {}}, is_series=True)
    no_answer = TransportError("connection refused")
    assert core.retry_after(no_answer, single) and legacy.retry_after(no_answer, single)
    assert not core.retry_after(Invalid(status(422, "Invalid")), single)
    assert not core.retry_after(AlreadyExists(status(409, "AlreadyExists")), single)
    assert core.retry_after(AlreadyExists(status(409, "AlreadyExists")), series)
    assert not legacy.retry_after(AlreadyExists(status(409, "AlreadyExists")), single)


# -- the legacy correlator (core/v1) --------------------------------------------------------------


def core_event(
    message: str = "it broke",
    *,
    reason: str = "Failed",
    type: str = "Warning",
    name: str = "web-0",
    component: str = "ctl",
) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{name}.{uuid.uuid4().hex[:8]}", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "apiVersion": "v1", "namespace": "shop", "name": name, "uid": "u"},
        "reason": reason,
        "message": message,
        "type": type,
        "count": 1,
        "firstTimestamp": "t0",
        "lastTimestamp": "t0",
        "source": {"component": component, "host": "h"},
    }


def test_an_identical_event_becomes_a_patch_of_the_first_with_count_plus_one() -> None:
    correlator = EventCorrelator()
    first = correlator.correlate(core_event(), 0.0)
    assert first.event is not None and first.patch is None
    second_event = core_event()
    second_event["lastTimestamp"] = "t1"
    second = correlator.correlate(second_event, 1.0)
    assert second.event is not None and second.event["metadata"]["name"] == first.event["metadata"]["name"]
    assert second.patch == {"count": 2, "lastTimestamp": "t1", "message": "it broke"}
    assert second.event["firstTimestamp"] == "t0"


def test_ten_distinct_messages_within_600_seconds_each_are_combined_into_one_event() -> None:
    correlator = EventCorrelator()
    results = [correlator.correlate(core_event(f"message {i}"), 500.0 * i) for i in range(12)]
    assert all(r.event is not None and r.patch is None for r in results[:9])
    combined = [r.event for r in results[9:]]
    assert [e["message"] for e in combined if e] == [
        "(combined from similar events): message 9",
        "(combined from similar events): message 10",
        "(combined from similar events): message 11",
    ]
    assert results[10].patch is not None and results[10].patch["count"] == 2
    assert results[11].patch is not None and results[11].patch["count"] == 3
    assert len({e["metadata"]["name"] for e in combined if e}) == 1


def test_aggregation_starts_over_after_more_than_600_seconds_of_quiet() -> None:
    correlator = EventCorrelator()
    for i in range(9):
        correlator.correlate(core_event(f"message {i}"), float(i))
    after_quiet = correlator.correlate(core_event("message 9"), 8.0 + 600.5)
    assert after_quiet.event is not None and after_quiet.event["message"] == "message 9"


def test_events_of_another_reason_are_not_combined() -> None:
    correlator = EventCorrelator()
    for i in range(9):
        correlator.correlate(core_event(f"message {i}", reason=f"R{i}"), float(i))
    result = correlator.correlate(core_event("message 9", reason="R9"), 9.0)
    assert result.event is not None and result.event["message"] == "message 9"


def test_the_spam_filter_lets_a_burst_of_25_through_then_one_per_300_seconds() -> None:
    spam = SpamFilter()
    assert [spam.filter(core_event(), 0.0) for _ in range(26)] == [False] * 25 + [True]
    assert spam.filter(core_event(), 299.0) is True
    assert spam.filter(core_event(), 300.5) is False
    assert spam.filter(core_event(), 301.0) is True


def test_the_spam_filter_keys_by_source_object_and_type_not_by_reason_or_message() -> None:
    spam = SpamFilter()
    for i in range(25):
        assert not spam.filter(core_event(f"m{i}", reason=f"R{i}"), 0.0)
    assert spam.filter(core_event("new", reason="New"), 0.0)
    assert not spam.filter(core_event(type="Normal"), 0.0)
    assert not spam.filter(core_event(name="web-1"), 0.0)
    assert not spam.filter(core_event(component="other"), 0.0)


def test_the_correlator_skips_what_the_spam_filter_refuses() -> None:
    correlator = EventCorrelator()
    results = [correlator.correlate(core_event(), float(i) / 100) for i in range(30)]
    assert [r.skip for r in results] == [False] * 25 + [True] * 5


def test_a_token_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(qps=1.0, burst=2, now=0.0)
    assert bucket.try_accept(1000.0) and bucket.try_accept(1000.0) and not bucket.try_accept(1000.0)


def test_the_caches_are_lrus_evicting_the_least_recently_used() -> None:
    lru: LRU[str, int] = LRU(2)
    lru.add("a", 1)
    lru.add("b", 2)
    assert lru.get("a") == 1
    lru.add("c", 3)
    assert "b" not in lru and "a" in lru and len(lru) == 2


def test_after_a_write_the_correlator_remembers_the_servers_copy() -> None:
    correlator = EventCorrelator()
    first = correlator.correlate(core_event(), 0.0)
    assert first.event is not None
    correlator.update_state({**first.event, "metadata": {**first.event["metadata"], "resourceVersion": "42"}})
    second = correlator.correlate(core_event(), 1.0)
    assert second.event is not None and second.event["metadata"]["resourceVersion"] == "42"


# -- the recorder over a fake clientset -----------------------------------------------------------


class FakeEvents:
    """events_v1 / core_v1 of a fake clientset: records the calls; ``fail`` decides per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: Any = None  # an exception (instance) to raise, or a callable(verb) returning one
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()

    def events(self, namespace: str) -> "FakeEvents":
        return self

    def _call(self, verb: str, name: str, body: Any) -> Any:
        self.gate.wait()
        with self.lock:
            self.calls.append((verb, name, body))
        error = self.fail(verb) if callable(self.fail) else self.fail
        if error is not None:
            raise error
        return body

    def create(self, body: Any) -> Any:
        return self._call("create", body["metadata"]["name"], body)

    def patch(self, name: str, patch: Any, *, patch_type: str) -> Any:
        assert patch_type == "strategic"
        return self._call("patch", name, patch)


class FakeClientset:
    def __init__(self) -> None:
        self.events_v1 = self.core_v1 = FakeEvents()


def test_a_burst_of_identical_events_is_written_as_a_create_a_patch_and_a_last_patch_at_close() -> None:
    cs = FakeClientset()
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True)
    for i in range(500):
        recorder.event(POD, type="Warning", reason="Failed", action="Sync", note=f"attempt {i}")
    assert recorder.close()
    verbs = [(verb, body.get("series", {}).get("count")) for verb, _, body in cs.events_v1.calls]
    assert verbs == [("create", None), ("patch", 2), ("patch", 500)]


def test_event_never_blocks_and_a_full_queue_drops_events_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    cs = FakeClientset()
    cs.events_v1.gate.clear()  # the server never answers
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True, max_queued=5)
    with caplog.at_level(logging.ERROR, logger="kcore.controller.events"):
        for i in range(20):
            recorder.event(POD, type="Normal", reason=f"R{i}", action="Sync", note="")
    assert sum("too many queued events, dropped event" in r.message for r in caplog.records) >= 14
    cs.events_v1.gate.set()
    assert recorder.close()


def test_events_the_server_would_refuse_are_dropped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    cs = FakeClientset()
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True)
    with caplog.at_level(logging.ERROR, logger="kcore.controller.events"):
        recorder.event(POD, type="Error", reason="R", action="A")
        recorder.event(POD, type="Normal", reason="R" * 129, action="A")
        recorder.event(POD, type="Normal", reason="R", action="")
        recorder.event({"metadata": {"name": "no-kind"}}, type="Normal", reason="R", action="A")
    assert recorder.close()
    assert cs.events_v1.calls == []
    assert len(caplog.records) == 4


def test_a_long_note_and_reporting_instance_are_cut_to_the_servers_limits() -> None:
    cs = FakeClientset()
    recorder = EventRecorder(cs, "ctl", "h" * 200, events_v1=True)
    recorder.eventf(POD, "Normal", "R", "A", "%s", "n" * 5000)
    assert recorder.close()
    ((_, _, body),) = cs.events_v1.calls
    assert len(body["note"]) == 1024 and len(body["reportingInstance"]) == 128


def test_a_write_without_an_answer_is_tried_twelve_times_then_dropped_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = FakeClientset()
    cs.events_v1.fail = TransportError("connection refused")
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True, retry_interval=0.001)
    with caplog.at_level(logging.ERROR, logger="kcore.controller.events"):
        recorder.event(POD, type="Warning", reason="Failed", action="Sync")
        assert wait_for(lambda: any("retry limit exceeded" in r.message for r in caplog.records))
    assert len(cs.events_v1.calls) == MAX_TRIES_PER_EVENT
    recorder.close()
    assert len(cs.events_v1.calls) == MAX_TRIES_PER_EVENT


def test_a_write_the_server_rejects_is_not_tried_again() -> None:
    cs = FakeClientset()
    cs.events_v1.fail = Invalid(status(422, "Invalid"))
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True, retry_interval=0.001)
    recorder.event(POD, type="Warning", reason="Failed", action="Sync")
    assert recorder.close()
    assert len(cs.events_v1.calls) == 1


def test_a_series_patch_answered_not_found_creates_the_event_with_its_series() -> None:
    cs = FakeClientset()
    cs.events_v1.fail = lambda verb: NotFound(status(404, "NotFound")) if verb == "patch" else None
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True)
    recorder.event(POD, type="Warning", reason="Failed", action="Sync")
    recorder.event(POD, type="Warning", reason="Failed", action="Sync")
    assert recorder.close()
    assert [verb for verb, _, _ in cs.events_v1.calls] == ["create", "patch", "create"]
    assert cs.events_v1.calls[2][2]["series"]["count"] == 2


def test_close_tries_a_pending_retry_once_more_at_once() -> None:
    cs = FakeClientset()
    failures = iter([TransportError("refused")])
    cs.events_v1.fail = lambda verb: next(failures, None)
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True, retry_interval=3600)
    recorder.event(POD, type="Warning", reason="Failed", action="Sync")
    assert wait_for(lambda: len(cs.events_v1.calls) == 1)
    assert recorder.close()
    assert [verb for verb, _, _ in cs.events_v1.calls] == ["create", "create"]


def test_close_gives_up_at_its_timeout_when_the_server_does_not_answer(caplog: pytest.LogCaptureFixture) -> None:
    cs = FakeClientset()
    cs.events_v1.gate.clear()  # the server never answers
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True)
    recorder.event(POD, type="Warning", reason="Failed", action="Sync")
    with caplog.at_level(logging.ERROR, logger="kcore.controller.events"):
        assert recorder.close(timeout=0.2) is False
    assert "abandoned" in caplog.records[-1].message
    cs.events_v1.gate.set()


def test_events_after_close_are_dropped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    cs = FakeClientset()
    recorder = EventRecorder(cs, "ctl", "host", events_v1=True)
    recorder.close()
    with caplog.at_level(logging.ERROR, logger="kcore.controller.events"):
        recorder.event(POD, type="Normal", reason="R", action="A")
    assert cs.events_v1.calls == [] and "closed" in caplog.records[0].message


def test_without_events_v1_the_recorder_writes_correlated_core_v1_events() -> None:
    cs = FakeClientset()
    recorder = EventRecorder(cs, "ctl", "host", events_v1=False)
    assert not recorder.uses_events_v1
    for _ in range(3):
        recorder.event(POD, related=NODE, type="Warning", reason="Failed", action="Sync", note="same")
    assert recorder.close()
    (create_, _, event), (patch1, name1, p1), (patch2, name2, p2) = cs.core_v1.calls
    assert (create_, patch1, patch2) == ("create", "patch", "patch")
    assert name1 == name2 == event["metadata"]["name"]
    assert event["involvedObject"] == object_reference(POD) and "related" not in event and "action" not in event
    assert event["source"] == {"component": "ctl", "host": "host"}
    assert event["reportingComponent"] == "ctl" and event["reportingInstance"] == "host"
    assert (p1["count"], p2["count"]) == (2, 3)
