"""kcore.controller's logic with fake informers (events handed in by the test) and the real
workqueue: what each event enqueues, predicates, what each reconcile outcome does to its key,
the sync and stop rules, the metrics. Against the real API server: tests/e2e/test_controller.py."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Callable, Hashable, Optional

import pytest
from prometheus_client import CollectorRegistry

from kcore import Config, aio
from kcore.clients.resource import ResourceInfo
from kcore.controller import (
    AnnotationsChanged,
    CacheSyncTimeout,
    Controller,
    EventHandler,
    Filter,
    Funcs,
    GenerationChanged,
    LabelsChanged,
    Not,
    ResourceVersionChanged,
    Result,
    TerminalError,
)
from kcore.informer import DeletedFinalStateUnknown
from kcore.workqueue import RateLimiter
from tests.waiting import wait_for


class FakeRegistration:
    def __init__(self, informer: "FakeInformer", handlers: tuple[Callable[..., Any], ...]) -> None:
        self.informer, self.handlers = informer, handlers

    def has_synced(self) -> bool:
        return self.informer.synced

    def remove(self) -> None:
        self.informer.registrations.remove(self)


class FakeInformer:
    """An informer whose events the test hands in, synced when the test says so."""

    def __init__(
        self,
        kind: str = "ConfigMap",
        group: str = "",
        resource: str = "configmaps",
        namespaced: bool = True,
        synced: bool = True,
    ) -> None:
        self.info = ResourceInfo(group, "v1", resource, kind, namespaced)
        self.resource = resource
        self.synced = synced
        self.started = False
        self.registrations: list[FakeRegistration] = []

    def add_event_handler(self, on_add: Any, on_update: Any, on_delete: Any) -> FakeRegistration:
        registration = FakeRegistration(self, (on_add, on_update, on_delete))
        self.registrations.append(registration)
        return registration

    def start(self) -> None:
        self.started = True

    def add(self, obj: Any) -> None:
        for r in list(self.registrations):
            r.handlers[0](obj, False)

    def update(self, old: Any, new: Any) -> None:
        for r in list(self.registrations):
            r.handlers[1](old, new)

    def delete(self, obj: Any) -> None:
        for r in list(self.registrations):
            r.handlers[2](obj)


def obj(name: str, namespace: Optional[str] = "ns", **metadata: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **metadata}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta}


def owned_by(
    name: str, kind: str = "ConfigMap", api_version: str = "v1", controller: bool = True, **metadata: Any
) -> dict[str, Any]:
    ref = {"apiVersion": api_version, "kind": kind, "name": name, "uid": "u", "controller": controller}
    return obj("child", ownerReferences=[ref], **metadata)


class Recorder:
    """A reconcile that records each key and answers from a script (then None)."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, float]] = []
        self.lock = threading.Lock()

    def __call__(self, key: str) -> Any:
        with self.lock:
            self.calls.append((key, time.monotonic()))
            answer = self.script.pop(0) if self.script else None
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def keys(self) -> list[str]:
        with self.lock:
            return [key for key, _ in self.calls]


class RecordingLimiter(RateLimiter):
    """A rate limiter that records what the controller asks of it, with short delays."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.events: list[tuple[str, Hashable]] = []
        self.failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        self.events.append(("when", item))
        self.failures[item] = self.failures.get(item, 0) + 1
        return self.delay

    def forget(self, item: Hashable) -> None:
        self.events.append(("forget", item))
        self.failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self.failures.get(item, 0)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def metric(registry: CollectorRegistry, name: str, controller: str, **labels: str) -> Optional[float]:
    return registry.get_sample_value(name, {"controller": controller, **labels})


def running(
    reconcile: Any, registry: CollectorRegistry, *, limiter: Any = None, workers: int = 1, name: str = "c"
) -> tuple[Controller, FakeInformer]:
    informer = FakeInformer()
    controller = Controller(
        name, reconcile, workers=workers, rate_limiter=limiter or RecordingLimiter(), registry=registry
    ).for_(informer)
    controller.start()
    return controller, informer


# -- what each source enqueues ----------------------------------------------------------------


def test_for_enqueues_the_key_of_each_added_updated_and_deleted_object(registry: CollectorRegistry) -> None:
    reconcile = Recorder()
    controller, informer = running(reconcile, registry)
    try:
        informer.add(obj("a"))
        assert wait_for(lambda: reconcile.keys() == ["ns/a"], timeout=5)
        informer.update(obj("a"), obj("a", labels={"x": "1"}))
        assert wait_for(lambda: reconcile.keys() == ["ns/a"] * 2, timeout=5)
        informer.delete(obj("a"))
        assert wait_for(lambda: reconcile.keys() == ["ns/a"] * 3, timeout=5)
        informer.add(obj("node-1", namespace=None))
        assert wait_for(lambda: reconcile.keys()[-1:] == ["node-1"], timeout=5)
    finally:
        controller.stop()


def test_a_tombstone_enqueues_the_deleted_objects_key_even_without_its_last_state(registry: CollectorRegistry) -> None:
    reconcile = Recorder()
    controller, informer = running(reconcile, registry)
    try:
        informer.delete(DeletedFinalStateUnknown("ns/gone", obj("gone")))
        informer.delete(DeletedFinalStateUnknown("ns/unknown", None))
        assert wait_for(lambda: sorted(reconcile.keys()) == ["ns/gone", "ns/unknown"], timeout=5)
    finally:
        controller.stop()


def owner_keys_of(*events: Callable[[FakeInformer], None], owner: Optional[FakeInformer] = None) -> list[str]:
    """The keys queued by owns() for the events, the for_ resource being ``owner``."""
    children = FakeInformer(kind="Secret", resource="secrets")
    controller = Controller("owns", Recorder(), registry=CollectorRegistry())
    controller.for_(owner or FakeInformer()).owns(children)
    controller._begin_start()
    for event in events:
        event(children)
    keys = []
    while len(controller.queue):
        key, _ = controller.queue.get()
        keys.append(key)
        controller.queue.done(key)
    controller.stop()
    return keys


def test_owns_enqueues_the_controller_owner_in_the_objects_namespace() -> None:
    assert owner_keys_of(lambda i: i.add(owned_by("parent"))) == ["ns/parent"]
    assert owner_keys_of(lambda i: i.delete(owned_by("parent"))) == ["ns/parent"]
    assert owner_keys_of(lambda i: i.delete(DeletedFinalStateUnknown("ns/child", owned_by("parent")))) == ["ns/parent"]


def test_owns_ignores_owners_that_are_not_the_controller_or_not_of_the_reconciled_group_and_kind() -> None:
    assert owner_keys_of(lambda i: i.add(owned_by("parent", controller=False))) == []
    assert owner_keys_of(lambda i: i.add(owned_by("parent", kind="Secret"))) == []
    assert owner_keys_of(lambda i: i.add(owned_by("parent", api_version="example.com/v1"))) == []
    assert owner_keys_of(lambda i: i.add(obj("orphan"))) == []


def test_owns_matches_the_owners_group_and_kind_whatever_its_version() -> None:
    deployments = FakeInformer(kind="Deployment", group="apps", resource="deployments.apps")
    child = owned_by("web", kind="Deployment", api_version="apps/v1beta2")
    assert owner_keys_of(lambda i: i.add(child), owner=deployments) == ["ns/web"]


def test_owns_enqueues_a_cluster_scoped_owner_by_name_alone() -> None:
    nodes = FakeInformer(kind="Node", resource="nodes", namespaced=False)
    assert owner_keys_of(lambda i: i.add(owned_by("node-1", kind="Node")), owner=nodes) == ["node-1"]


def test_an_update_that_changes_the_controller_owner_enqueues_the_old_and_the_new_owner() -> None:
    assert owner_keys_of(lambda i: i.update(owned_by("before"), owned_by("after"))) == ["ns/before", "ns/after"]
    assert owner_keys_of(lambda i: i.update(owned_by("same"), owned_by("same"))) == ["ns/same"]


def test_owns_without_a_for_resource_is_refused_at_start() -> None:
    controller = Controller("orphan", Recorder(), registry=CollectorRegistry()).owns(FakeInformer())
    with pytest.raises(ValueError, match="no for_"):
        controller.start()


def test_watches_enqueues_the_keys_map_fn_returns_for_the_old_and_the_new_object(registry: CollectorRegistry) -> None:
    reconcile = Recorder()
    informer = FakeInformer()
    controller = Controller("maps", reconcile, registry=registry)
    answers: dict[str, Any] = {"one": "ns/x", "many": ["ns/y", "ns/z"], "none": None}
    controller.watches(informer, lambda o: answers[o["metadata"]["name"]])
    controller.start()
    try:
        informer.add(obj("none"))
        informer.add(obj("one"))
        assert wait_for(lambda: reconcile.keys() == ["ns/x"], timeout=5)
        informer.update(obj("one"), obj("many"))
        assert wait_for(lambda: sorted(reconcile.keys()) == ["ns/x", "ns/x", "ns/y", "ns/z"], timeout=5)
    finally:
        controller.stop()


def test_watches_with_an_event_handler_enqueues_what_the_method_of_each_event_kind_returns_after_it_ran(
    registry: CollectorRegistry,
) -> None:
    seen: list[str] = []
    reconcile = Recorder()

    class Handler(EventHandler):
        # Each method records that it ran: the key it returns must be reconciled after that.
        def create(self, obj: Any) -> Any:
            seen.append("create " + obj["metadata"]["name"])
            return "ns/created"

        def update(self, old: Any, new: Any) -> Any:
            seen.append(f"update {old['metadata']['name']}->{new['metadata']['name']}")
            return ["ns/updated", "ns/updated", "ns/also"]

        def delete(self, obj: Any) -> Any:
            seen.append("delete " + obj["metadata"]["name"])
            return None

    def reconcile_after_handler(key: str) -> None:
        assert seen, f"{key} reconciled before its handler ran"
        reconcile(key)

    informer = FakeInformer()
    controller = Controller("handled", reconcile_after_handler, registry=registry)
    controller.watches(informer, Handler())
    controller.start()
    try:
        informer.add(obj("a"))
        assert wait_for(lambda: reconcile.keys() == ["ns/created"], timeout=5)
        informer.update(obj("a"), obj("b"))
        assert wait_for(lambda: sorted(reconcile.keys()) == ["ns/also", "ns/created", "ns/updated"], timeout=5)
        informer.delete(DeletedFinalStateUnknown("ns/b", obj("b")))  # the handler gets the last known state
        informer.delete(DeletedFinalStateUnknown("ns/c", None))  # no state: nothing to hand over
        assert wait_for(lambda: seen[-1] == "delete b", timeout=5)
        assert seen == ["create a", "update a->b", "delete b"]
        assert sorted(reconcile.keys()) == ["ns/also", "ns/created", "ns/updated"]
    finally:
        controller.stop()


def test_an_event_handlers_methods_enqueue_nothing_unless_overridden(registry: CollectorRegistry) -> None:
    reconcile = Recorder()
    informer, sentinel = FakeInformer(), FakeInformer(resource="secrets")
    controller = Controller("silent", reconcile, registry=registry).watches(informer, EventHandler())
    controller.watches(sentinel, lambda o: "ns/sentinel")
    controller.start()
    try:
        informer.add(obj("a"))
        informer.update(obj("a"), obj("a"))
        informer.delete(obj("a"))
        sentinel.add(obj("s"))  # one worker, a FIFO queue: a key enqueued before would come first
        assert wait_for(lambda: reconcile.keys() == ["ns/sentinel"], timeout=5)
    finally:
        controller.stop()


# -- predicates ------------------------------------------------------------------------------


def test_generation_changed_lets_updates_through_only_when_the_generation_changed() -> None:
    p = GenerationChanged()
    assert p.update(obj("a", generation=1), obj("a", generation=2))
    assert not p.update(obj("a", generation=2, labels={"x": "1"}), obj("a", generation=2))
    assert not p.update(obj("a"), obj("a"))
    assert not p.update(None, obj("a", generation=2))
    assert p.create(obj("a")) and p.delete(obj("a"))


def test_labels_and_annotations_changed_compare_maps_where_none_and_empty_are_the_same() -> None:
    assert LabelsChanged().update(obj("a", labels={"x": "1"}), obj("a", labels={"x": "2"}))
    assert not LabelsChanged().update(obj("a"), obj("a", labels={}))
    assert not LabelsChanged().update(obj("a", labels={"x": "1"}, annotations={"n": "1"}), obj("a", labels={"x": "1"}))
    assert AnnotationsChanged().update(obj("a"), obj("a", annotations={"n": "1"}))
    assert not AnnotationsChanged().update(obj("a", labels={"x": "1"}), obj("a"))


def test_resource_version_changed_stops_resyncs() -> None:
    p = ResourceVersionChanged()
    assert p.update(obj("a", resourceVersion="1"), obj("a", resourceVersion="2"))
    assert not p.update(obj("a", resourceVersion="2"), obj("a", resourceVersion="2"))


def test_predicates_combine_with_and_or_not_per_event_kind() -> None:
    changed_gen = obj("a", generation=1), obj("a", generation=2)
    changed_labels = obj("a", labels={"x": "1"}), obj("a", labels={"x": "2"})
    either = GenerationChanged() | LabelsChanged()
    both = GenerationChanged() & LabelsChanged()
    assert either.update(*changed_gen) and either.update(*changed_labels)
    assert not both.update(*changed_gen) and not both.update(*changed_labels)
    assert both.update(obj("a", generation=1), obj("a", generation=2, labels={"x": "1"}))
    assert (~GenerationChanged()).update(*changed_labels)
    assert not Not(GenerationChanged()).create(obj("a"))
    no_deletes = Funcs(delete=lambda o: False)
    assert no_deletes.create(obj("a")) and no_deletes.update(obj("a"), obj("a")) and not no_deletes.delete(obj("a"))
    labelled = Filter(lambda o: "x" in (o["metadata"].get("labels") or {}))
    assert labelled.create(obj("a", labels={"x": ""})) and not labelled.delete(obj("a"))
    assert labelled.update(obj("a"), obj("a", labels={"x": ""}))


def test_a_sources_predicates_must_all_pass_and_a_tombstone_is_judged_by_its_last_state(
    registry: CollectorRegistry,
) -> None:
    reconcile = Recorder()
    informer = FakeInformer()
    controller = Controller("filtered", reconcile, registry=registry)
    labelled = Filter(lambda o: "x" in (o["metadata"].get("labels") or {}))
    controller.for_(informer, predicates=[labelled, ResourceVersionChanged()])
    controller.start()
    try:
        informer.add(obj("plain"))
        informer.update(
            obj("a", labels={"x": "1"}, resourceVersion="1"), obj("a", labels={"x": "1"}, resourceVersion="1")
        )
        informer.delete(DeletedFinalStateUnknown("ns/plain", obj("plain")))
        informer.update(
            obj("b", labels={"x": "1"}, resourceVersion="1"), obj("b", labels={"x": "1"}, resourceVersion="2")
        )
        informer.delete(DeletedFinalStateUnknown("ns/c", obj("c", labels={"x": "1"})))
        assert wait_for(lambda: sorted(reconcile.keys()) == ["ns/b", "ns/c"], timeout=5)
    finally:
        controller.stop()
    assert sorted(reconcile.keys()) == ["ns/b", "ns/c"]


# -- what a reconcile's outcome does to its key --------------------------------------------


def outcomes(
    registry: CollectorRegistry, *script: Any, until: Callable[[Recorder, RecordingLimiter], bool]
) -> tuple[Recorder, RecordingLimiter]:
    """Reconciles one added object "ns/a", answering from ``script``, until ``until(reconcile,
    limiter)``; the reconcile and the limiter, to read what happened."""
    limiter = RecordingLimiter()
    reconcile = Recorder(*script)
    controller, informer = running(reconcile, registry, limiter=limiter)
    try:
        informer.add(obj("a"))
        assert wait_for(lambda: until(reconcile, limiter), timeout=5)
    finally:
        controller.stop()
    return reconcile, limiter


def forgotten(reconcile: Recorder, limiter: RecordingLimiter) -> bool:
    return ("forget", "ns/a") in limiter.events


def test_a_reconcile_that_raises_is_requeued_through_the_rate_limiter_and_logged_with_its_key(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="kcore.controller"):
        reconcile, limiter = outcomes(registry, RuntimeError("flaky"), RuntimeError("flaky"), until=forgotten)
    assert reconcile.keys() == ["ns/a"] * 3
    assert limiter.events == [("when", "ns/a"), ("when", "ns/a"), ("forget", "ns/a")]
    errors = [r for r in caplog.records if "Reconciler error" in r.getMessage()]
    assert len(errors) == 2 and all("key=ns/a" in r.getMessage() and r.exc_info for r in errors)


def test_a_terminal_error_is_logged_and_not_requeued_nor_forgotten(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    def counted(reconcile: Recorder, limiter: RecordingLimiter) -> bool:
        return metric(registry, "controller_runtime_terminal_reconcile_errors_total", "c") == 1

    with caplog.at_level(logging.ERROR, logger="kcore.controller"):
        reconcile, limiter = outcomes(registry, TerminalError("invalid spec"), until=counted)
    assert limiter.events == []
    assert reconcile.keys() == ["ns/a"]
    assert any("terminal" in r.getMessage() and "key=ns/a" in r.getMessage() for r in caplog.records)


def test_requeue_after_forgets_the_failures_and_brings_the_key_back_after_that_delay(
    registry: CollectorRegistry,
) -> None:
    reconcile, limiter = outcomes(
        registry,
        RuntimeError("first"),
        Result(requeue_after=0.3),
        until=lambda reconcile, limiter: len(reconcile.calls) == 3,
    )
    assert limiter.events == [("when", "ns/a"), ("forget", "ns/a"), ("forget", "ns/a")]
    (_, second), (_, third) = reconcile.calls[1:]
    assert third - second >= 0.3


def test_requeue_brings_the_key_back_through_the_rate_limiter_without_counting_an_error(
    registry: CollectorRegistry,
) -> None:
    reconcile, limiter = outcomes(registry, Result(requeue=True), until=forgotten)
    assert reconcile.keys() == ["ns/a"] * 2
    assert limiter.events == [("when", "ns/a"), ("forget", "ns/a")]
    assert metric(registry, "controller_runtime_reconcile_total", "c", result="requeue") == 1
    assert metric(registry, "controller_runtime_reconcile_errors_total", "c") == 0


def test_a_reconcile_returning_anything_but_none_or_a_result_is_an_error(registry: CollectorRegistry) -> None:
    _reconcile, limiter = outcomes(registry, True, until=forgotten)
    assert limiter.events == [("when", "ns/a"), ("forget", "ns/a")]
    assert metric(registry, "controller_runtime_reconcile_errors_total", "c") == 1


def test_result_refuses_a_negative_delay() -> None:
    with pytest.raises(ValueError):
        Result(requeue_after=-1)


def test_the_default_rate_limiter_is_controller_runtimes_exponential_and_bucket(registry: CollectorRegistry) -> None:
    limiter = Controller("defaults", Recorder(), registry=registry).rate_limiter
    assert [limiter.when("k") for _ in range(4)] == [0.005, 0.01, 0.02, 0.04]
    assert max(limiter.when("k") for _ in range(30)) == 1000.0
    limiter.forget("k")
    assert limiter.when("k") == 0.005
    # 35 of the bucket's burst of 100 are spent: 65 more, then the bucket's 10 qps wait out-weighs 5 ms
    delays = [limiter.when(f"item-{n}") for n in range(100)]
    assert delays[:65] == [0.005] * 65 and max(delays) > 0.05


# -- concurrency, sync and stop -------------------------------------------------------------


def test_one_key_is_never_reconciled_by_two_workers_at_once_while_two_keys_are(registry: CollectorRegistry) -> None:
    informer = FakeInformer()
    lock = threading.Lock()
    inside: dict[str, int] = {}
    overlaps: list[str] = []
    both_in = threading.Barrier(2, timeout=10)
    met: list[bool] = []

    def reconcile(key: str) -> None:
        with lock:
            inside[key] = inside.get(key, 0) + 1
            if inside[key] > 1:
                overlaps.append(key)
        try:
            if not met:
                both_in.wait()  # "ns/a" and "ns/b" in reconcile together
                met.append(True)
            time.sleep(0.01)
            informer.add(obj(key.split("/")[1]))  # the same key again, while it is being reconciled
        finally:
            with lock:
                inside[key] -= 1

    controller = Controller("exclusive", reconcile, workers=4, registry=registry).for_(informer)
    controller.start()
    try:
        informer.add(obj("a"))
        informer.add(obj("b"))
        assert wait_for(
            lambda: (metric(registry, "controller_runtime_reconcile_total", "exclusive", result="success") or 0) >= 40,
            timeout=10,
        )
    finally:
        controller.stop()
    assert met and overlaps == []


def test_workers_start_only_after_every_source_has_synced(registry: CollectorRegistry) -> None:
    synced, unsynced = FakeInformer(), FakeInformer(synced=False)
    reconcile = Recorder()
    controller = Controller("waits", reconcile, registry=registry).for_(synced)
    controller.watches(unsynced, lambda o: None)
    starting = threading.Thread(target=controller.start)
    starting.start()
    try:
        assert wait_for(lambda: synced.registrations and synced.started and unsynced.started, timeout=5)
        synced.add(obj("a"))
        time.sleep(0.3)
        assert reconcile.keys() == [] and starting.is_alive()
        unsynced.synced = True
        starting.join(timeout=5)
        assert wait_for(lambda: reconcile.keys() == ["ns/a"], timeout=5)
    finally:
        controller.stop()


def test_an_informer_the_controller_only_reads_delays_the_workers_until_it_synced_and_enqueues_nothing(
    registry: CollectorRegistry,
) -> None:
    reconciled, read = FakeInformer(), FakeInformer(kind="Node", resource="nodes", namespaced=False, synced=False)
    reconcile = Recorder()
    controller = Controller("reader", reconcile, registry=registry).for_(reconciled).reads(read)
    assert controller.informers() == [reconciled, read]
    starting = threading.Thread(target=controller.start)
    starting.start()
    try:
        assert wait_for(lambda: read.started and read.registrations, timeout=5)
        reconciled.add(obj("a"))
        time.sleep(0.3)
        assert reconcile.keys() == [] and starting.is_alive()
        read.synced = True
        starting.join(timeout=5)
        read.add(obj("node-1", namespace=None))
        read.update(obj("node-1", namespace=None), obj("node-1", namespace=None, labels={"a": "b"}))
        assert wait_for(lambda: reconcile.keys() == ["ns/a"], timeout=5)
        time.sleep(0.2)
        assert reconcile.keys() == ["ns/a"]
    finally:
        controller.stop()


def test_start_raises_cache_sync_timeout_naming_the_informers_that_did_not_sync(registry: CollectorRegistry) -> None:
    never = FakeInformer(resource="widgets.example.com", synced=False)
    controller = Controller("stuck", Recorder(), cache_sync_timeout=0.3, registry=registry).for_(never)
    with pytest.raises(CacheSyncTimeout, match="widgets.example.com"):
        controller.start()
    assert never.registrations == [] and controller.queue.shutting_down()


def test_stop_waits_for_the_in_flight_reconcile_and_starts_no_new_one(registry: CollectorRegistry) -> None:
    entered, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def reconcile(key: str) -> None:
        entered.set()
        release.wait(10)
        finished.append(key)

    controller, informer = running(reconcile, registry)
    informer.add(obj("slow"))
    assert entered.wait(5)
    informer.add(obj("queued"))
    stopping = threading.Thread(target=controller.stop)
    stopping.start()
    stopping.join(0.3)
    assert stopping.is_alive() and finished == []
    release.set()
    stopping.join(5)
    assert not stopping.is_alive() and finished == ["ns/slow"]
    assert metric(registry, "controller_runtime_active_workers", "c") == 0


def test_the_thread_controller_refuses_an_asyncio_informer(registry: CollectorRegistry) -> None:
    informer = aio.SharedIndexInformer(aio.Clientset(Config(server="https://c:1")).core_v1.config_maps("ns"))
    with pytest.raises(TypeError, match="kcore.aio.Controller"):
        Controller("mixed", Recorder(), registry=registry).for_(informer)


def test_a_controller_reconciles_one_resource_so_for_is_given_once(registry: CollectorRegistry) -> None:
    controller = Controller("once", Recorder(), registry=registry).for_(FakeInformer())
    with pytest.raises(ValueError, match="already called"):
        controller.for_(FakeInformer())


def test_run_blocks_until_stop_is_called_from_another_thread(registry: CollectorRegistry) -> None:
    reconcile = Recorder()
    informer = FakeInformer()
    controller = Controller("runs", reconcile, registry=registry).for_(informer)
    running_thread = threading.Thread(target=controller.run)
    running_thread.start()
    assert wait_for(lambda: bool(informer.registrations), timeout=5)
    informer.add(obj("a"))
    assert wait_for(lambda: reconcile.keys() == ["ns/a"], timeout=5)
    assert running_thread.is_alive()
    assert controller.stop(timeout=5)
    running_thread.join(5)
    assert not running_thread.is_alive()


def test_sources_cannot_be_added_once_started(registry: CollectorRegistry) -> None:
    controller, _ = running(Recorder(), registry)
    try:
        with pytest.raises(RuntimeError, match="already started"):
            controller.watches(FakeInformer(), lambda o: None)
    finally:
        controller.stop()


# -- metrics ---------------------------------------------------------------------------------


def test_the_metrics_count_each_result_under_controller_runtimes_names(registry: CollectorRegistry) -> None:
    reconcile = Recorder(RuntimeError("e"), TerminalError("t"), Result(requeue_after=0.01), None)
    controller, informer = running(reconcile, registry, workers=3, name="counted")
    try:
        assert metric(registry, "controller_runtime_max_concurrent_reconciles", "counted") == 3
        assert metric(registry, "controller_runtime_reconcile_total", "counted", result="success") == 0
        informer.add(obj("a"))  # error, then terminal error (not requeued)
        assert wait_for(
            lambda: metric(registry, "controller_runtime_terminal_reconcile_errors_total", "counted") == 1, timeout=5
        )
        informer.add(obj("a"))  # requeue_after, then success
        assert wait_for(
            lambda: metric(registry, "controller_runtime_reconcile_total", "counted", result="success") == 1, timeout=5
        )
    finally:
        controller.stop()
    totals = {
        r: metric(registry, "controller_runtime_reconcile_total", "counted", result=r)
        for r in ("success", "error", "requeue", "requeue_after")
    }
    assert totals == {"success": 1, "error": 2, "requeue": 0, "requeue_after": 1}
    assert metric(registry, "controller_runtime_reconcile_errors_total", "counted") == 2
    assert metric(registry, "controller_runtime_reconcile_time_seconds_count", "counted") == 4
    assert metric(registry, "controller_runtime_active_workers", "counted") == 0
    assert registry.get_sample_value("workqueue_adds_total", {"name": "counted"}) == 4
    assert registry.get_sample_value("workqueue_retries_total", {"name": "counted"}) == 2


# -- the asyncio twin ------------------------------------------------------------------------


def test_the_asyncio_twin_awaits_async_reconciles_with_the_same_outcome_rules(registry: CollectorRegistry) -> None:
    limiter = RecordingLimiter()
    calls: list[str] = []
    script: list[Any] = [RuntimeError("once"), Result(requeue_after=0.01), TerminalError("stop")]

    async def reconcile(key: str) -> Optional[Result]:
        await asyncio.sleep(0)
        calls.append(key)
        answer = script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def scenario() -> None:
        informer = FakeInformer()
        controller = aio.Controller("async", reconcile, workers=2, rate_limiter=limiter, registry=registry)
        async with controller.for_(informer):
            informer.add(obj("a"))
            for _ in range(500):
                if metric(registry, "controller_runtime_terminal_reconcile_errors_total", "async") == 1:
                    break
                await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert calls == ["ns/a"] * 3
    assert limiter.events == [("when", "ns/a"), ("forget", "ns/a")]


def test_the_asyncio_twin_stops_after_its_in_flight_reconcile(registry: CollectorRegistry) -> None:
    finished: list[str] = []

    async def scenario() -> None:
        entered, release = asyncio.Event(), asyncio.Event()

        async def reconcile(key: str) -> None:
            entered.set()
            await release.wait()
            finished.append(key)

        informer = FakeInformer()
        controller = aio.Controller("async-stop", reconcile, registry=registry).for_(informer)
        await controller.start()
        informer.add(obj("slow"))
        await asyncio.wait_for(entered.wait(), 5)
        informer.add(obj("queued"))
        stopping = asyncio.ensure_future(controller.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done() and finished == []
        release.set()
        assert await asyncio.wait_for(stopping, 5)

    asyncio.run(scenario())
    assert finished == ["ns/slow"]
