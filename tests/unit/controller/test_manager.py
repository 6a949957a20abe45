"""The manager's plan, probes and options, and the finalizer helpers, with fakes in place of
the API server (tests/e2e/test_manager.py runs them against a real one)."""

from __future__ import annotations

import socket
import uuid
from typing import Any, Optional

import pytest
from prometheus_client import CollectorRegistry

from kcore.controller.finalizers import Finalizer, finalizer_patch, has_finalizer, is_being_deleted
from kcore.controller.health import answer
from kcore.controller.manager import (
    GracefulShutdownTimeout,
    LeaderElectionLost,
    LeaderElectionOptions,
    ManagerCore,
    StartElector,
    StopCaches,
    StopControllers,
    StopElector,
    WaitForStop,
)

# -- fakes ----------------------------------------------------------------------------------------


class FakeInformer:
    def __init__(self, resource: str, synced: bool = False) -> None:
        self.resource = resource
        self.synced = synced
        self.started = False

    def has_synced(self) -> bool:
        return self.synced

    def start(self) -> None:
        self.started = True


class FakeFactory:
    def __init__(self, *informers: FakeInformer) -> None:
        self.made = list(informers)
        self.started = False

    def informers(self) -> list[FakeInformer]:
        return list(self.made)

    def start(self) -> None:
        self.started = True


class FakeController:
    def __init__(self, name: str, *informers: FakeInformer) -> None:
        self.name = name
        self.fed_by = list(informers)

    def informers(self) -> list[FakeInformer]:
        return list(self.fed_by)


class FakeManager(ManagerCore[Any, Any]):
    """The core, with a twin that only records what it was asked to do."""

    def __init__(
        self,
        factory: FakeFactory,
        *,
        leader_election: Optional[LeaderElectionOptions] = None,
        graceful_shutdown_timeout: Optional[float] = 30.0,
        metrics_address: Any = None,
    ) -> None:
        super().__init__(
            None,
            None,
            factory,
            namespace=None,
            leader_election=leader_election,  # type: ignore[arg-type]
            metrics_address=metrics_address,
            health_address=None,
            graceful_shutdown_timeout=graceful_shutdown_timeout,
            registry=CollectorRegistry(),
        )
        self.controllers_started = 0

    def start_controllers(self) -> None:
        self.controllers_started += 1

    def stop(self) -> None:
        self.request_stop()


def election() -> LeaderElectionOptions:
    return LeaderElectionOptions("default", "lease", identity="me")


# -- options ---------------------------------------------------------------------------------------


def test_the_default_identity_is_the_hostname_an_underscore_and_a_random_uuid_as_controller_runtimes() -> None:
    first, second = LeaderElectionOptions("ns", "lease"), LeaderElectionOptions("ns", "lease")
    hostname, _, rest = first.identity.rpartition("_")
    assert hostname == socket.gethostname()
    assert str(uuid.UUID(rest)) == rest
    assert first.identity != second.identity


def test_leader_election_options_default_to_client_gos_timings_and_keep_the_lease_on_cancel() -> None:
    options = LeaderElectionOptions("ns", "lease")
    assert (options.lease_duration, options.renew_deadline, options.retry_period) == (15.0, 10.0, 2.0)
    assert options.release_on_cancel is False


@pytest.mark.parametrize(
    "timings",
    [
        dict(lease_duration=10, renew_deadline=10),
        dict(retry_period=9),
        dict(lease_duration=-1, renew_deadline=-2, retry_period=-3),
    ],
)
def test_leader_election_options_refuse_the_timings_client_go_refuses(timings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LeaderElectionOptions("ns", "lease", **timings)


def test_leader_election_options_need_a_lease_name() -> None:
    with pytest.raises(ValueError):
        LeaderElectionOptions("ns", "")


def test_a_port_alone_listens_on_every_interface_as_gos_colon_port() -> None:
    manager = FakeManager(FakeFactory(), metrics_address=8080)
    assert manager.metrics_address == ("", 8080)
    assert manager.health_address is None


# -- building ---------------------------------------------------------------------------------------


def test_two_controllers_of_one_name_are_refused_since_names_label_the_metrics() -> None:
    manager = FakeManager(FakeFactory())
    manager.add(FakeController("a"))
    with pytest.raises(ValueError):
        manager.add(FakeController("a"))


def test_a_controller_added_once_the_manager_runs_is_refused() -> None:
    manager = FakeManager(FakeFactory())
    next(manager.plan())
    with pytest.raises(RuntimeError):
        manager.add(FakeController("late"))


def test_checks_need_unique_names_without_a_slash() -> None:
    manager = FakeManager(FakeFactory())
    manager.add_healthz_check("db", lambda: True)
    with pytest.raises(ValueError):
        manager.add_healthz_check("db", lambda: True)
    with pytest.raises(ValueError):
        manager.add_readyz_check("a/b", lambda: True)


# -- probes -------------------------------------------------------------------------------------------


def test_readyz_fails_until_every_informer_of_the_factory_and_of_the_controllers_has_synced() -> None:
    pods, own = FakeInformer("pods"), FakeInformer("widgets.example.com")
    manager = FakeManager(FakeFactory(pods))
    manager.add(FakeController("c", own))
    next(manager.plan())
    checks = manager.checks("readyz")
    assert checks is not None
    assert answer("readyz", checks, None, False)[0] == 500
    pods.synced = True
    assert answer("readyz", checks, None, False)[0] == 500
    own.synced = True
    assert answer("readyz", checks, None, False) == (200, "ok")


def test_the_caches_start_on_every_replica_the_factorys_and_the_controllers() -> None:
    pods, own = FakeInformer("pods"), FakeInformer("widgets.example.com")
    factory = FakeFactory(pods)
    manager = FakeManager(factory, leader_election=election())
    manager.add(FakeController("c", own))
    assert isinstance(next(manager.plan()), StartElector)
    assert factory.started and pods.started and own.started
    assert manager.controllers_started == 0  # not leading yet


def test_a_failing_check_fails_the_probe_with_500_naming_it_and_withholding_the_reason() -> None:
    def broken() -> None:
        raise RuntimeError("secret detail")

    status, body = answer("healthz", {"ping": lambda: True, "db": broken, "cache": lambda: False}, None, False)
    assert status == 500
    assert body == "[-]cache failed: reason withheld\n[-]db failed: reason withheld\n[+]ping ok\nhealthz check failed\n"
    assert "secret" not in body


def test_a_passing_probe_answers_ok_or_lists_its_checks_when_verbose() -> None:
    assert answer("readyz", {"a": lambda: True}, None, False) == (200, "ok")
    assert answer("readyz", {"a": lambda: None}, None, True) == (200, "[+]a ok\nreadyz check passed\n")


def test_a_probe_of_one_check_runs_only_that_one_and_an_unknown_check_is_404() -> None:
    checks = {"good": lambda: True, "bad": lambda: False}
    assert answer("healthz", checks, "good", False) == (200, "ok")
    assert answer("healthz", checks, "missing", False)[0] == 404


# -- the plan -----------------------------------------------------------------------------------------


def test_without_leader_election_the_controllers_start_at_once_and_stop_within_the_graceful_timeout() -> None:
    manager = FakeManager(FakeFactory(), graceful_shutdown_timeout=7.0)
    plan = manager.plan()
    assert isinstance(next(plan), WaitForStop)
    assert manager.controllers_started == 1
    assert plan.send(None) == StopControllers(7.0)
    assert isinstance(plan.send(True), StopCaches)
    with pytest.raises(StopIteration):
        plan.send(None)


def test_with_leader_election_the_controllers_start_only_once_leading() -> None:
    manager = FakeManager(FakeFactory(), leader_election=election())
    plan = manager.plan()
    assert isinstance(next(plan), StartElector)
    assert isinstance(plan.send(None), WaitForStop)
    assert manager.controllers_started == 0
    manager.on_started_leading(None)
    assert manager.controllers_started == 1 and manager.leading


def test_losing_the_lease_ends_the_run_with_leader_election_lost_without_waiting_for_reconciles() -> None:
    manager = FakeManager(FakeFactory(), leader_election=election(), graceful_shutdown_timeout=30.0)
    plan = manager.plan()
    next(plan)
    plan.send(None)
    manager.on_started_leading(None)
    manager.on_stopped_leading()
    assert plan.send(None) == StopControllers(0.0)  # controller-runtime skips the graceful shutdown
    assert isinstance(plan.send(True), StopCaches)
    assert isinstance(plan.send(None), StopElector)
    with pytest.raises(LeaderElectionLost, match="^leader election lost$"):
        plan.send(None)


def test_a_replica_elected_while_stopping_starts_no_controller_and_its_stopping_is_no_loss() -> None:
    manager = FakeManager(FakeFactory(), leader_election=election())
    plan = manager.plan()
    next(plan)
    plan.send(None)
    manager.stop()
    manager.on_started_leading(None)
    manager.on_stopped_leading()
    assert manager.controllers_started == 0
    assert plan.send(None) == StopControllers(30.0)
    plan.send(True)
    plan.send(None)
    with pytest.raises(StopIteration):
        plan.send(None)


def test_reconciles_outlasting_the_graceful_timeout_end_the_run_with_graceful_shutdown_timeout() -> None:
    manager = FakeManager(FakeFactory())
    plan = manager.plan()
    next(plan)
    plan.send(None)
    plan.send(False)
    with pytest.raises(GracefulShutdownTimeout):
        plan.send(None)


def test_a_controller_failing_to_start_stops_the_manager_and_its_error_ends_the_run() -> None:
    manager = FakeManager(FakeFactory())
    plan = manager.plan()
    next(plan)
    manager.fail(TimeoutError("caches did not sync"))
    plan.send(None)
    plan.send(True)
    with pytest.raises(TimeoutError, match="caches did not sync"):
        plan.send(None)


# -- finalizers ---------------------------------------------------------------------------------------


def obj(finalizers: Optional[list[str]] = None, deleting: bool = False, rv: str = "7") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "x", "namespace": "ns", "resourceVersion": rv}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": metadata}


def test_a_finalizer_patch_sets_the_whole_list_locked_to_the_resource_version_it_was_computed_from() -> None:
    assert finalizer_patch(obj(), "f", present=True) == {"metadata": {"finalizers": ["f"], "resourceVersion": "7"}}
    assert finalizer_patch(obj(["a", "f"]), "f", present=False) == {
        "metadata": {"finalizers": ["a"], "resourceVersion": "7"}
    }


def test_no_patch_is_needed_when_the_finalizer_already_is_or_is_not_there() -> None:
    assert finalizer_patch(obj(["f"]), "f", present=True) is None
    assert finalizer_patch(obj(["a"]), "f", present=False) is None


def test_a_finalizer_patch_needs_the_objects_resource_version() -> None:
    with pytest.raises(ValueError):
        finalizer_patch(obj(rv=""), "f", present=True)


def test_has_finalizer_and_is_being_deleted_read_the_metadata() -> None:
    assert has_finalizer(obj(["f"]), "f") and not has_finalizer(obj(), "f")
    assert is_being_deleted(obj(deleting=True)) and not is_being_deleted(obj())


class FakeClient:
    info = type("Info", (), {"namespaced": True, "resource": "configmaps"})()
    namespace = "ns"

    def __init__(self) -> None:
        self.patches: list[tuple[str, Any, str]] = []

    def patch(self, name: str, patch: Any, *, patch_type: str) -> None:
        self.patches.append((name, patch, patch_type))


def test_finalizer_reconcile_adds_the_finalizer_to_a_live_object_and_says_it_is_not_being_deleted() -> None:
    client, cleaned = FakeClient(), list[Any]()
    assert Finalizer(client, "f").reconcile(obj(), cleanup=cleaned.append) is False  # type: ignore[arg-type]
    assert client.patches == [("x", {"metadata": {"finalizers": ["f"], "resourceVersion": "7"}}, "merge")]
    assert cleaned == []


def test_finalizer_reconcile_runs_cleanup_then_removes_the_finalizer_of_an_object_being_deleted() -> None:
    client, order = FakeClient(), []
    finalizer = Finalizer(client, "f")  # type: ignore[arg-type]
    deleting = obj(["other", "f"], deleting=True)
    assert finalizer.reconcile(deleting, cleanup=lambda o: order.append(len(client.patches))) is True
    assert order == [0]  # cleanup ran before any patch
    assert client.patches == [("x", {"metadata": {"finalizers": ["other"], "resourceVersion": "7"}}, "merge")]


def test_a_cleanup_that_raises_keeps_the_finalizer_and_the_error_propagates() -> None:
    client = FakeClient()

    def cleanup(o: Any) -> None:
        raise RuntimeError("bucket still full")

    with pytest.raises(RuntimeError, match="bucket still full"):
        Finalizer(client, "f").reconcile(obj(["f"], deleting=True), cleanup=cleanup)  # type: ignore[arg-type]
    assert client.patches == []


def test_an_object_being_deleted_without_the_finalizer_needs_no_cleanup() -> None:
    client, cleaned = FakeClient(), list[Any]()
    assert (
        Finalizer(client, "f").reconcile(
            obj(["other"], deleting=True),  # type: ignore[arg-type]
            cleanup=cleaned.append,
        )
        is True
    )
    assert cleaned == [] and client.patches == []


def test_a_namespaced_finalizer_needs_a_client_of_the_objects_namespace() -> None:
    client = FakeClient()
    client.namespace = None  # type: ignore[assignment]
    with pytest.raises(ValueError):
        Finalizer(client, "f").reconcile(obj(), cleanup=print)  # type: ignore[arg-type]
