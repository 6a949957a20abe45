"""Leader election on a real kube-apiserver: kcore candidates (both twins) on one Lease, a leader
cut off from the server, and client-go's own LeaderElector sharing the Lease with kcore's.

Short durations (lease 2 s, renew deadline 1.5 s, retry 0.5 s) keep the tests quick; every
ordering is judged on this process's monotonic clock, by the callbacks' own records."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import threading
import time
import uuid
from typing import Any, Callable, Iterator, Optional

import pytest

from kcore import Config, aio
from kcore.clients import Clientset
from kcore.controller import LeaderElector
from kcore.testenv import ControlPlane
from tests.e2e.leader_election_upstream_driver import GoCandidate
from tests.silent_proxy import SilentProxy

FAST: dict[str, Any] = {"lease_duration": 2.0, "renew_deadline": 1.5, "retry_period": 0.5}
# A cut-off leader gives up at most retry_period + renew_deadline (2 s) after its last renewal;
# a lease of 3 s leaves the others a margin they need not race.
CUT_OFF: dict[str, Any] = {"lease_duration": 3.0, "renew_deadline": 1.5, "retry_period": 0.5}
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
WAIT = 30.0


def lease_name() -> str:
    return f"lock-{uuid.uuid4().hex[:8]}"


class Record:
    """What a candidate's callbacks saw, with this process's monotonic time."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self.events: list[tuple[float, str, str]] = []
        self._changed = threading.Condition()

    def add(self, what: str, detail: str = "") -> None:
        with self._changed:
            self.events.append((time.monotonic(), what, detail))
            self._changed.notify_all()

    def at(self, what: str, detail: Optional[str] = None) -> Optional[float]:
        return next((t for t, w, d in self.events if w == what and (detail is None or d == detail)), None)

    def wait_for(self, what: str, detail: Optional[str] = None, timeout: float = WAIT) -> float:
        with self._changed:
            if not self._changed.wait_for(lambda: self.at(what, detail) is not None, timeout):
                raise AssertionError(f"{self.identity}: no {what} {detail or ''} within {timeout} s: {self.events}")
        at = self.at(what, detail)
        assert at is not None
        return at


_candidates: list["Candidate"] = []


@pytest.fixture(autouse=True)
def stop_candidates() -> Iterator[None]:
    """A failed test leaves no candidate running on."""
    yield
    while _candidates:
        _candidates.pop().elector.stop()


class Candidate:
    """A blocking kcore candidate running on a thread of its own."""

    def __init__(self, clientset: Clientset, name: str, identity: str, **options: Any) -> None:
        self.record = Record(identity)
        self.elector = LeaderElector(
            clientset,
            namespace="default",
            name=name,
            identity=identity,
            on_started_leading=self._lead,
            on_stopped_leading=self._stopped,
            on_new_leader=lambda who: self.record.add("new_leader", who),
            **options,
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        _candidates.append(self)

    def _run(self) -> None:
        self.elector.run()
        self.record.add("returned")

    def _lead(self, stop_event: threading.Event) -> None:
        self.record.add("started")
        stop_event.wait()
        self.record.add("stop_event")

    def _stopped(self) -> None:
        self.record.add("stopped", "stop event set" if self.elector.stop_event.is_set() else "stop event NOT set")

    def run_thread_events(self) -> list[tuple[str, str]]:
        """What the election's own thread reported, in order (the leading thread runs apart)."""
        return [(w, d) for _, w, d in self.record.events if w in ("stopped", "returned")]

    def stop(self) -> None:
        self.elector.stop()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


def spec_of(clientset: Clientset, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = dict(clientset.coordination_v1.leases("default").get(name)["spec"])
    return spec


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


# -- kcore candidates (blocking twin) ----------------------------------------------------------


def test_one_of_two_candidates_leads_and_the_other_takes_over_once_the_leader_stops(config: Config) -> None:
    clientset = Clientset(config)
    name = lease_name()
    first = Candidate(clientset, name, "first", **FAST)
    first.record.wait_for("started")
    second = Candidate(clientset, name, "second", **FAST)
    second.record.wait_for("new_leader", "first")
    renewed = spec_of(clientset, name)["renewTime"]
    wait_until(lambda: spec_of(clientset, name)["renewTime"] != renewed, "the leader renews")
    assert second.record.at("started") is None  # the leader renews: the other waits
    first.stop()  # no release: the other waits for the lease to expire
    started = second.record.wait_for("started")
    assert first.record.wait_for("stop_event") < started
    assert first.run_thread_events() == [("stopped", "stop event set"), ("returned", "")]
    spec = spec_of(clientset, name)
    assert spec["holderIdentity"] == "second" and spec["leaseTransitions"] == 1
    second.stop()
    assert second.record.at("stopped") is not None


def test_release_on_cancel_hands_the_lease_over_without_waiting_for_it_to_expire(config: Config) -> None:
    clientset = Clientset(config)
    name = lease_name()
    long_lease = {**FAST, "lease_duration": 60.0}  # the other could not take it by expiry in this test
    first = Candidate(clientset, name, "first", release_on_cancel=True, **long_lease)
    first.record.wait_for("started")
    second = Candidate(clientset, name, "second", **long_lease)
    second.record.wait_for("new_leader", "first")
    first.stop()
    started = second.record.wait_for("started", timeout=WAIT)
    assert first.record.wait_for("stop_event") < started
    spec = spec_of(clientset, name)
    assert spec["holderIdentity"] == "second" and spec["leaseTransitions"] == 1
    second.stop()


def test_a_stopped_release_leaves_an_empty_holder_and_a_one_second_lease(config: Config) -> None:
    clientset = Clientset(config)
    name = lease_name()
    only = Candidate(clientset, name, "only", release_on_cancel=True, **FAST)
    only.record.wait_for("started")
    acquired = spec_of(clientset, name)
    only.stop()
    released = spec_of(clientset, name)
    assert released["holderIdentity"] == "" and released["leaseDurationSeconds"] == 1
    assert released["acquireTime"] == released["renewTime"] > acquired["renewTime"]
    assert released["leaseTransitions"] == acquired["leaseTransitions"] == 0
    assert only.run_thread_events() == [("stopped", "stop event set"), ("returned", "")]
    only.record.wait_for("stop_event")


def test_a_leader_cut_off_from_the_api_server_stops_leading_before_the_other_acquires(
    control_plane: ControlPlane, config: Config
) -> None:
    name = lease_name()
    with SilentProxy(control_plane) as proxy:
        cut = Candidate(Clientset(dataclasses.replace(config, server=proxy.url)), name, "cut", **CUT_OFF)
        cut.record.wait_for("started")
        other = Candidate(Clientset(config), name, "other", **CUT_OFF)
        other.record.wait_for("new_leader", "cut")
        assert proxy.silence() >= 1
        stopped = cut.record.wait_for("stop_event")
        taken = other.record.wait_for("started")
        assert stopped < taken
        cut.record.wait_for("stopped")
        assert not cut.elector.leading
        other.stop()
        cut.stop()


def test_stop_from_a_signal_handler_ends_run_on_the_main_thread_and_releases(config: Config) -> None:
    clientset = Clientset(config)
    name = lease_name()
    seen: list[str] = []
    elector = LeaderElector(
        clientset,
        namespace="default",
        name=name,
        identity="main",
        release_on_cancel=True,
        on_started_leading=lambda stop_event: seen.append("started"),
        on_stopped_leading=lambda: seen.append("stopped"),
        **FAST,
    )
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: elector.stop())
    try:

        def signal_once_leading() -> None:
            wait_until(lambda: elector.leading, "leading")
            os.kill(os.getpid(), signal.SIGUSR1)

        threading.Thread(target=signal_once_leading, daemon=True).start()
        elector.run()  # on the main thread, interrupted by the handler
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert seen == ["started", "stopped"] and elector.stop_event.is_set()
    assert spec_of(clientset, name)["holderIdentity"] == ""


# -- the asyncio twin --------------------------------------------------------------------------


class AsyncCandidate:
    """An asyncio kcore candidate: a coroutine on_started_leading waits for its asyncio.Event."""

    def __init__(self, clientset: aio.Clientset, name: str, identity: str, **options: Any) -> None:
        self.record = Record(identity)
        self.elector = aio.LeaderElector(
            clientset,
            namespace="default",
            name=name,
            identity=identity,
            on_started_leading=self._lead,
            on_stopped_leading=self._stopped,
            on_new_leader=lambda who: self.record.add("new_leader", who),
            **options,
        )
        self.task = asyncio.ensure_future(self.elector.run())

    async def _lead(self, stop_event: asyncio.Event) -> None:
        self.record.add("started")
        await stop_event.wait()
        self.record.add("stop_event")

    async def _stopped(self) -> None:
        self.record.add("stopped")

    async def wait_for(self, what: str, detail: Optional[str] = None) -> float:
        deadline = time.monotonic() + WAIT
        while (at := self.record.at(what, detail)) is None:
            assert time.monotonic() < deadline, f"{self.record.identity}: no {what}: {self.record.events}"
            await asyncio.sleep(0.02)
        return at

    async def stop(self) -> None:
        self.elector.stop()
        await asyncio.wait_for(self.task, WAIT)


def test_the_asyncio_twin_hands_over_on_release_when_stopped_by_a_signal(config: Config) -> None:
    async def scenario() -> None:
        clientset = aio.Clientset(config)
        name = lease_name()
        first = AsyncCandidate(clientset, name, "first", release_on_cancel=True, **{**FAST, "lease_duration": 60.0})
        await first.wait_for("started")
        second = AsyncCandidate(clientset, name, "second", **{**FAST, "lease_duration": 60.0})
        await second.wait_for("new_leader", "first")
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, first.elector.stop)  # stop() from a signal handler
        try:
            os.kill(os.getpid(), signal.SIGUSR1)
            await asyncio.wait_for(first.task, WAIT)
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)
        assert await first.wait_for("stop_event") < await second.wait_for("started")
        assert first.record.at("stopped") is not None
        await second.stop()
        lease = await clientset.coordination_v1.leases("default").get(name)
        assert lease["spec"]["holderIdentity"] == "second" and lease["spec"]["leaseTransitions"] == 1

    asyncio.run(scenario())


def test_the_asyncio_twin_cut_off_from_the_api_server_stops_leading_before_the_other_acquires(
    control_plane: ControlPlane, config: Config
) -> None:
    async def scenario(proxy: SilentProxy) -> None:
        name = lease_name()
        cut = AsyncCandidate(aio.Clientset(dataclasses.replace(config, server=proxy.url)), name, "cut", **CUT_OFF)
        await cut.wait_for("started")
        other = AsyncCandidate(aio.Clientset(config), name, "other", **CUT_OFF)
        await other.wait_for("new_leader", "cut")
        assert proxy.silence() >= 1
        stopped = await cut.wait_for("stop_event")
        assert stopped < await other.wait_for("started")
        await cut.wait_for("stopped")
        await other.stop()
        await cut.stop()

    with SilentProxy(control_plane) as proxy:
        asyncio.run(scenario(proxy))


# -- with client-go's LeaderElector ------------------------------------------------------------


def watch_leases(
    clientset: Clientset, name: str, written: list[dict[str, Any]], ready: threading.Event, stop: threading.Event
) -> None:
    """Every state the Lease takes, in order (each write is one ADDED or MODIFIED event); ``ready``
    is set once the watch's starting resourceVersion is fixed: no later write is missed."""
    leases = clientset.coordination_v1.leases("default")
    with leases.watch(field_selector=f"metadata.name={name}") as watch:
        ready.set()

        def close_when_told() -> None:
            stop.wait()
            watch.close()

        threading.Thread(target=close_when_told, daemon=True).start()
        for event_type, lease in watch:
            if event_type in ("ADDED", "MODIFIED"):
                written.append(lease)


def test_leadership_passes_between_client_go_and_kcore_candidates_that_write_the_lease_alike(
    control_plane: ControlPlane, config: Config
) -> None:
    clientset = Clientset(config)
    name = lease_name()
    written: list[dict[str, Any]] = []
    watching, stop_watching = threading.Event(), threading.Event()

    def watch() -> None:
        watch_leases(clientset, name, written, watching, stop_watching)

    threading.Thread(target=watch, daemon=True).start()
    assert watching.wait(WAIT)
    kubeconfig = control_plane.kubeconfig
    with GoCandidate(kubeconfig, name=name, identity="go-1", release_on_cancel=True, **FAST) as go_1:
        go_1.wait_for("started")
        ours = Candidate(clientset, name, "kcore", release_on_cancel=True, **FAST)
        ours.record.wait_for("new_leader", "go-1")
        wait_until(lambda: sum(s["holderIdentity"] == "go-1" for s in specs(written)) >= 3, "client-go renews")
        assert ours.record.at("started") is None
        go_1.kill()  # Go → kcore: the Lease client-go wrote expires by kcore's clock
        ours.record.wait_for("started")
    wait_until(lambda: sum(s["holderIdentity"] == "kcore" for s in specs(written)) >= 3, "kcore renews")
    with GoCandidate(kubeconfig, name=name, identity="go-2", release_on_cancel=True, **FAST) as go_2:
        go_2.wait_for("new_leader", "kcore")
        assert not any(e["event"] == "started" for e in go_2.events)
        ours.stop()  # kcore → Go: released, and taken by client-go at once
        started = go_2.wait_for("started")
        assert ours.record.wait_for("stop_event") < started["seen"]
        wait_until(lambda: sum(s["holderIdentity"] == "go-2" for s in specs(written)) >= 2, "client-go renews")
        assert go_2.stop() == 0  # client-go releases too
    wait_until(lambda: specs(written)[-1]["holderIdentity"] == "", "client-go's release")
    stop_watching.set()
    specs_written = specs(written)

    # holders in order, and leaseTransitions counting every new holder (releases keep the count)
    changes = [
        s
        for i, s in enumerate(specs_written)
        if i == 0 or s["holderIdentity"] != specs_written[i - 1]["holderIdentity"]
    ]
    assert [(s["holderIdentity"], s["leaseTransitions"]) for s in changes] == [
        ("go-1", 0),
        ("kcore", 1),
        ("", 1),
        ("go-2", 2),
        ("", 2),
    ]
    # the same fields, in the same formats, whoever wrote them
    for spec in specs_written:
        assert set(spec) == {"holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions"}
        assert MICRO_TIME.match(spec["acquireTime"]) and MICRO_TIME.match(spec["renewTime"]), spec
    for holder in ("go-1", "kcore", "go-2"):
        held = [s for s in specs_written if s["holderIdentity"] == holder]
        assert held[0]["acquireTime"] == held[0]["renewTime"]  # acquiring sets both to now
        assert {s["acquireTime"] for s in held} == {held[0]["acquireTime"]}  # renewing keeps acquireTime
        assert len({s["renewTime"] for s in held}) == len(held)  # and moves renewTime
        assert {s["leaseDurationSeconds"] for s in held} == {2}
    released = [s for s in specs_written if s["holderIdentity"] == ""]
    assert len(released) == 2  # kcore's release, then client-go's: alike
    for spec in released:
        assert spec["leaseDurationSeconds"] == 1 and spec["acquireTime"] == spec["renewTime"]
    # and each wrote the same fields, as the API server's field management records them
    for lease in written:
        assert set(lease["metadata"]) == set(written[0]["metadata"])
        assert not lease["metadata"].get("labels") and not lease["metadata"].get("annotations")
    by_go = next(lease for lease in written if lease["spec"]["holderIdentity"] == "go-2")
    by_kcore = next(lease for lease in written if lease["spec"]["holderIdentity"] == "kcore")
    assert (
        field_writes(by_go)
        == field_writes(by_kcore)
        == (
            {("Update", "coordination.k8s.io/v1")},
            {
                "f:spec.f:holderIdentity",
                "f:spec.f:leaseDurationSeconds",
                "f:spec.f:acquireTime",
                "f:spec.f:renewTime",
                "f:spec.f:leaseTransitions",
            },
        )
    )


def specs(written: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(lease["spec"]) for lease in written]


def field_writes(lease: dict[str, Any]) -> tuple[set[tuple[str, str]], set[str]]:
    """The writes the server's field management recorded, without who: the operations with their
    API versions, and every field written (a field a write left at its value stays its former
    writer's, so the fields are pooled over the managers)."""
    entries = lease["metadata"]["managedFields"]
    return (
        {(e["operation"], e["apiVersion"]) for e in entries},
        {f"{top}.{field}" for e in entries for top, fields in e["fieldsV1"].items() for field in fields},
    )
