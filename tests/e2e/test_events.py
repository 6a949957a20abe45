"""The event recorder against a real kube-apiserver: series, distinct events, an API server that
goes away, and the core/v1 fallback where events.k8s.io/v1 is not served."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any, Iterator

import pytest

from kcore import Config
from kcore.clients import Clientset
from kcore.controller import EventRecorder
from kcore.errors import KcoreError
from kcore.testenv import ControlPlane
from tests.clusters import admin_config, configmap
from tests.fault_proxy import FaultProxy
from tests.waiting import wait_for


def writes_of_events(proxy: FaultProxy) -> list[tuple[str, str]]:
    return [(method, path) for method, path in proxy.seen if method in ("POST", "PATCH", "PUT") and "/events" in path]


def test_a_burst_of_1000_identical_warnings_is_one_event_with_series_count_1000_after_a_handful_of_writes(
    control_plane: ControlPlane, config: Config, namespace: str
) -> None:
    direct = Clientset(config)
    target = direct.core_v1.config_maps(namespace).create(configmap("flaky"))
    with FaultProxy(control_plane) as proxy:
        recorder = EventRecorder(Clientset(dataclasses.replace(config, server=proxy.url)), "burst-controller", "host-a")
        for i in range(1000):
            recorder.event(target, type="Warning", reason="SyncFailed", action="Reconcile", note=f"attempt {i} failed")
        assert recorder.close(timeout=30)
        writes = writes_of_events(proxy)
    (event,) = direct.events_v1.events(namespace).list()["items"]
    assert event["series"]["count"] == 1000
    assert event["note"] == "attempt 0 failed"
    assert (event["type"], event["reason"], event["action"]) == ("Warning", "SyncFailed", "Reconcile")
    assert (event["reportingController"], event["reportingInstance"]) == ("burst-controller", "burst-controller-host-a")
    assert event["regarding"]["uid"] == target["metadata"]["uid"]
    assert event["metadata"]["name"].startswith("flaky.")
    # the create, the series patch of the 2nd occurrence, and close()'s last count
    assert [method for method, _ in writes] == ["POST", "PATCH", "PATCH"]


def test_distinct_events_are_all_recorded_each_as_its_own_event(config: Config, namespace: str) -> None:
    cs = Clientset(config)
    targets = [cs.core_v1.config_maps(namespace).create(configmap(f"cm-{i}")) for i in range(5)]
    recorder = EventRecorder(cs, "distinct-controller", "host-a")
    expected = set()
    for target in targets:
        for reason in ("Created", "Updated", "Scaled", "Deleted"):
            for type in ("Normal", "Warning"):
                recorder.event(target, type=type, reason=reason, action="Reconcile", note=f"{reason} {type}")
                expected.add((target["metadata"]["name"], type, reason))
    assert recorder.close(timeout=30)
    events = cs.events_v1.events(namespace).list()["items"]
    assert {(e["regarding"]["name"], e["type"], e["reason"]) for e in events} == expected
    assert len(events) == len(expected) == 40
    assert all("series" not in e or e["series"] is None for e in events)


def test_a_related_object_is_part_of_the_event_and_of_its_identity(config: Config, namespace: str) -> None:
    cs = Clientset(config)
    owner, one, other = (cs.core_v1.config_maps(namespace).create(configmap(n)) for n in ("owner", "one", "other"))
    recorder = EventRecorder(cs, "related-controller", "host-a")
    for related in (one, other, one):
        recorder.event(owner, related, type="Normal", reason="Copied", action="Copy", note="copied")
    assert recorder.close(timeout=30)
    events = cs.events_v1.events(namespace).list()["items"]
    counts = {e["related"]["name"]: (e.get("series") or {}).get("count", 1) for e in events}
    assert counts == {"one": 2, "other": 1}


@pytest.fixture
def restartable_plane() -> Iterator[ControlPlane]:
    """A plane of this test's own: restarting the shared one would disturb the other tests."""
    with ControlPlane() as plane:
        yield plane


def test_while_the_api_server_is_down_event_never_blocks_and_writes_are_retried_then_dropped_with_a_log_line(
    restartable_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    config = admin_config(restartable_plane)
    cs = Clientset(config)
    patient_target = cs.core_v1.config_maps("default").create(configmap("patient"))
    impatient_target = cs.core_v1.config_maps("default").create(configmap("impatient"))
    # client-go tries 12 times, 10 s apart; shorter intervals keep the test short: the patient
    # recorder's 12 tries outlast the outage, the impatient one's do not
    patient = EventRecorder(cs, "patient", "host-a", retry_interval=3.0)
    impatient = EventRecorder(cs, "impatient", "host-a", retry_interval=0.05)
    assert patient.uses_events_v1 and impatient.uses_events_v1

    def server_down() -> bool:
        try:
            cs.core_v1.namespaces().get("default")
            return False
        except KcoreError:
            return True

    outcome: list[bool] = []

    def during_the_outage() -> None:
        # the restart runs on the main thread: testenv's processes die with the thread that
        # started them (PR_SET_PDEATHSIG), so a restart from a helper thread would not outlive it
        if not wait_for(server_down, timeout=30, interval=0.05):
            outcome.append(False)
            return
        for i in range(100):  # none of these waits for the server
            patient.event(patient_target, type="Warning", reason="Unreachable", action="Sync", note=f"try {i}")
            impatient.event(impatient_target, type="Warning", reason="Unreachable", action="Sync", note=f"try {i}")
        outcome.append(wait_for(lambda: any("retry limit exceeded" in r.message for r in caplog.records), timeout=30))

    with caplog.at_level(logging.WARNING, logger="kcore.controller.events"):
        recording = threading.Thread(target=during_the_outage)
        recording.start()
        restartable_plane.restart_apiserver(down_for=4.0)
        recording.join()
        assert outcome == [True]

        def by_controller() -> dict[str, dict[str, Any]]:
            return {e["reportingController"]: e for e in cs.events_v1.events("default").list()["items"]}

        # the patient recorder's writes were retried until the server answered ...
        assert wait_for(lambda: "patient" in by_controller(), timeout=30)
        assert wait_for(lambda: (by_controller()["patient"].get("series") or {}).get("count") == 2, timeout=30)
        # ... the impatient one's were dropped, with a log line, after 12 tries
        assert "impatient" not in by_controller()
        assert patient.close(timeout=30) and impatient.close(timeout=30)
    assert any("may retry after sleeping" in r.message for r in caplog.records)
    # both series stayed counted in memory: close() writes their final count (the impatient
    # one's patch finds no Event and creates it, as client-go's finishing round would)
    final = by_controller()
    assert final["patient"]["series"]["count"] == final["impatient"]["series"]["count"] == 100


@pytest.fixture(scope="module")
def plane_without_events_v1() -> Iterator[ControlPlane]:
    """A plane whose API server does not serve events.k8s.io/v1 (only core/v1 events)."""
    with ControlPlane(apiserver_args={"runtime-config": "events.k8s.io/v1=false"}) as plane:
        yield plane


def core_events(cs: Clientset, namespace: str) -> list[dict[str, Any]]:
    return sorted(cs.core_v1.events(namespace).list()["items"], key=lambda e: e["metadata"]["name"])


def test_where_events_v1_is_not_served_identical_core_v1_events_are_counted_and_spam_filtered(
    plane_without_events_v1: ControlPlane,
) -> None:
    cs = Clientset(admin_config(plane_without_events_v1))
    target = cs.core_v1.config_maps("default").create(configmap("legacy-spam"))
    recorder = EventRecorder(cs, "legacy-controller", "host-a")
    assert not recorder.uses_events_v1
    for _ in range(30):
        recorder.event(target, type="Warning", reason="Failed", action="Sync", note="the same message")
    assert recorder.close(timeout=30)
    (event,) = [e for e in core_events(cs, "default") if e["involvedObject"]["name"] == "legacy-spam"]
    # the spam filter's burst of 25 per source + object + type; the first created, 24 patches
    assert event["count"] == 25 and event["message"] == "the same message"
    assert event["source"] == {"component": "legacy-controller", "host": "host-a"}
    assert (event["reportingComponent"], event["reportingInstance"]) == ("legacy-controller", "host-a")


def test_where_events_v1_is_not_served_ten_distinct_messages_are_combined(
    plane_without_events_v1: ControlPlane,
) -> None:
    cs = Clientset(admin_config(plane_without_events_v1))
    target = cs.core_v1.config_maps("default").create(configmap("legacy-combined"))
    recorder = EventRecorder(cs, "legacy-controller", "host-a")
    for i in range(12):
        recorder.event(target, type="Normal", reason="Progress", action="Sync", note=f"step {i}")
    assert recorder.close(timeout=30)
    events = [e for e in core_events(cs, "default") if e["involvedObject"]["name"] == "legacy-combined"]
    singles = sorted(e["message"] for e in events if not e["message"].startswith("(combined"))
    (combined,) = [e for e in events if e["message"].startswith("(combined")]
    assert singles == sorted(f"step {i}" for i in range(9))
    assert combined["message"] == "(combined from similar events): step 11" and combined["count"] == 3
