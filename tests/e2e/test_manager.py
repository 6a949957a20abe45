"""kcore.controller.Manager (and kcore.aio.Manager) against the real kube-apiserver: a manager
runs its controllers, serves /healthz, /readyz and /metrics, elects one leader among replicas
on a Lease, shuts down gracefully; finalizers keep objects until their cleanup has run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
from prometheus_client import CollectorRegistry

from kcore import Clientset, aio
from kcore.config import Config
from kcore.controller import (
    Finalizer,
    GracefulShutdownTimeout,
    LeaderElectionLost,
    LeaderElectionOptions,
    Manager,
    has_finalizer,
)
from kcore.errors import NotFound
from kcore.testenv import ControlPlane
from tests.clusters import configmap
from tests.waiting import wait_for

FINALIZER = "kcore.example.com/cleanup"
ROOT = Path(__file__).resolve().parents[2]


def fast_election(namespace: str, lease: str, identity: str) -> LeaderElectionOptions:
    return LeaderElectionOptions(
        namespace,
        lease,
        identity=identity,
        lease_duration=4.0,
        renew_deadline=3.0,
        retry_period=0.5,
        release_on_cancel=True,
    )


def http_get(address: Optional[tuple[str, int]], path: str) -> tuple[int, str]:
    assert address is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Running:
    """A manager's run() on a thread of its own; what it raised is kept."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.manager.run(handle_signals=False)
        except BaseException as error:
            self.error = error

    def stop(self) -> None:
        self.manager.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()


@pytest.fixture
def running() -> Iterator[Callable[[Manager], Running]]:
    started: list[Running] = []

    def run(manager: Manager) -> Running:
        started.append(Running(manager))
        return started[-1]

    yield run
    for r in started:
        r.manager.stop()
        r.thread.join(60)


def new_manager(config: Config, namespace: str, **options: Any) -> Manager:
    options.setdefault("registry", CollectorRegistry())
    options.setdefault("metrics_address", ("127.0.0.1", 0))
    options.setdefault("health_address", ("127.0.0.1", 0))
    return Manager(config, namespace=namespace, **options)


def key_recorder(manager: Manager, keys: list[str]) -> Callable[[str], None]:
    lister = manager.informers.core_v1.config_maps().lister()

    def reconcile(key: str) -> None:
        namespace, name = key.split("/")
        try:
            lister.namespace(namespace).get(name)
        except NotFound:
            return
        keys.append(key)

    return reconcile


def test_a_manager_runs_its_controller_and_serves_readyz_once_synced_healthz_and_metrics(
    config: Config, namespace: str, running: Callable[[Manager], Running]
) -> None:
    manager = new_manager(config, namespace)
    keys: list[str] = []
    name = f"cms-{uuid.uuid4().hex[:6]}"
    configmaps = manager.informers.core_v1.config_maps()
    manager.controller(name, key_recorder(manager, keys), workers=2).for_(configmaps)
    manager.clientset.core_v1.config_maps(namespace).create(configmap("first", k="1"))
    run = running(manager)

    readiness: list[tuple[int, bool]] = []

    def ready() -> bool:
        if manager.health_address is None or manager.health_address[1] == 0:
            return False
        status, _ = http_get(manager.health_address, "/readyz")
        readiness.append((status, configmaps.has_synced()))
        return status == 200

    assert wait_for(ready)
    assert all(synced for status, synced in readiness if status == 200)
    assert wait_for(lambda: f"{namespace}/first" in keys)
    manager.clientset.core_v1.config_maps(namespace).create(configmap("second", k="2"))
    assert wait_for(lambda: f"{namespace}/second" in keys)

    assert http_get(manager.health_address, "/healthz") == (200, "ok")
    status, body = http_get(manager.health_address, "/readyz?verbose")
    assert status == 200 and "[+]informers ok" in body
    status, metrics = http_get(manager.metrics_address, "/metrics")
    assert status == 200
    assert f'controller_runtime_reconcile_total{{controller="{name}",result="success"}}' in metrics
    assert f'controller_runtime_max_concurrent_reconciles{{controller="{name}"}} 2.0' in metrics
    assert f'workqueue_adds_total{{name="{name}"}}' in metrics

    run.stop()
    assert run.error is None


def test_a_failing_readyz_check_added_makes_readyz_fail_and_names_it(
    config: Config, namespace: str, running: Callable[[Manager], Running]
) -> None:
    manager = new_manager(config, namespace, metrics_address=None)
    manager.informers.core_v1.config_maps()
    manager.add_readyz_check("database", lambda: False)
    manager.add_healthz_check("worker", lambda: True)
    running(manager)
    assert wait_for(lambda: manager.health_address is not None and manager.health_address[1] != 0)
    assert wait_for(lambda: "[+]informers ok" in http_get(manager.health_address, "/readyz")[1])
    status, body = http_get(manager.health_address, "/readyz")
    assert status == 500 and "[-]database failed" in body
    assert http_get(manager.health_address, "/readyz/informers") == (200, "ok")
    assert http_get(manager.health_address, "/healthz/worker") == (200, "ok")


def test_only_the_leader_reconciles_and_stopping_it_hands_the_controllers_over(
    config: Config, namespace: str, running: Callable[[Manager], Running]
) -> None:
    lease = f"mgr-{uuid.uuid4().hex[:6]}"
    keys = {"a": [], "b": []}  # type: dict[str, list[str]]
    managers = {}
    for who in ("a", "b"):
        managers[who] = new_manager(config, namespace, leader_election=fast_election(namespace, lease, who))
        managers[who].controller("cms", key_recorder(managers[who], keys[who])).for_(
            managers[who].informers.core_v1.config_maps()
        )
    run_a = running(managers["a"])
    assert wait_for(lambda: managers["a"].leading)
    run_b = running(managers["b"])
    assert wait_for(lambda: all(i.has_synced() for i in managers["b"].all_informers()))

    manager_a = managers["a"]
    manager_a.clientset.core_v1.config_maps(namespace).create(configmap("one", k="1"))
    assert wait_for(lambda: f"{namespace}/one" in keys["a"])
    assert not managers["b"].leading and keys["b"] == []
    assert not managers["b"].controllers[0].started

    run_a.stop()
    assert run_a.error is None
    assert wait_for(lambda: f"{namespace}/one" in keys["b"])  # b leads: its controller lists and reconciles
    manager_a.clientset.core_v1.config_maps(namespace).create(configmap("two", k="2"))
    assert wait_for(lambda: f"{namespace}/two" in keys["b"])
    assert f"{namespace}/two" not in keys["a"]
    run_b.stop()
    assert run_b.error is None


def test_a_leader_whose_lease_is_taken_ends_its_run_with_leader_election_lost(
    config: Config, namespace: str, running: Callable[[Manager], Running]
) -> None:
    lease = f"mgr-{uuid.uuid4().hex[:6]}"
    manager = new_manager(config, namespace, leader_election=fast_election(namespace, lease, "a"))
    manager.controller("cms", key_recorder(manager, [])).for_(manager.informers.core_v1.config_maps())
    run = running(manager)
    assert wait_for(lambda: manager.leading)
    leases = manager.clientset.coordination_v1.leases(namespace)
    taken = leases.get(lease)
    leases.update({**taken, "spec": {**taken["spec"], "holderIdentity": "intruder", "leaseDurationSeconds": 60}})
    run.thread.join(30)
    assert not run.thread.is_alive()
    assert isinstance(run.error, LeaderElectionLost) and str(run.error) == "leader election lost"


class Blocking:
    """A reconcile that blocks until released: ``entered`` once it runs, ``finished`` once it
    returns."""

    def __init__(self) -> None:
        self.entered, self.release, self.finished = threading.Event(), threading.Event(), threading.Event()

    def __call__(self, key: str) -> None:
        self.entered.set()
        self.release.wait(30)
        self.finished.set()


def stopped_while_reconciling(
    manager: Manager, namespace: str, running: Callable[[Manager], Running]
) -> tuple[Running, Blocking]:
    """The manager runs a Blocking reconcile of one ConfigMap, and stop() was called during it."""
    reconcile = Blocking()
    manager.controller("slow", reconcile).for_(manager.informers.core_v1.config_maps())
    manager.clientset.core_v1.config_maps(namespace).create(configmap("one", k="1"))
    run = running(manager)
    assert reconcile.entered.wait(30)
    manager.stop()
    return run, reconcile


def test_graceful_shutdown_waits_for_the_in_flight_reconcile(
    config: Config, namespace: str, running: Callable[[Manager], Running]
) -> None:
    run, reconcile = stopped_while_reconciling(new_manager(config, namespace), namespace, running)
    run.thread.join(0.5)
    assert run.thread.is_alive() and not reconcile.finished.is_set()  # run() is waiting for the reconcile
    reconcile.release.set()
    run.thread.join(30)
    assert reconcile.finished.is_set() and not run.thread.is_alive() and run.error is None


def test_a_reconcile_outlasting_the_graceful_shutdown_timeout_ends_run_with_graceful_shutdown_timeout(
    config: Config, namespace: str, running: Callable[[Manager], Running]
) -> None:
    manager = new_manager(config, namespace, graceful_shutdown_timeout=0.2)
    run, reconcile = stopped_while_reconciling(manager, namespace, running)
    run.thread.join(30)
    assert not run.thread.is_alive() and not reconcile.finished.is_set()
    reconcile.release.set()
    assert isinstance(run.error, GracefulShutdownTimeout)


def test_sigterm_stops_a_manager_run_from_the_main_thread(config: Config, namespace: str) -> None:
    manager = new_manager(config, namespace)
    manager.controller("cms", key_recorder(manager, [])).for_(manager.informers.core_v1.config_maps())
    previous = signal.getsignal(signal.SIGTERM)

    def terminate_once_running() -> None:
        assert wait_for(lambda: manager.controllers[0].started and all(i.has_synced() for i in manager.all_informers()))
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_running, daemon=True).start()
    manager.run()  # returns: the handler began the graceful shutdown
    assert manager.stopping and manager.controllers[0].stopping
    assert signal.getsignal(signal.SIGTERM) == previous


def test_a_finalizer_runs_cleanup_before_the_object_goes_and_a_failing_cleanup_keeps_it(
    config: Config, namespace: str, running: Callable[[Manager], Running]
) -> None:
    manager = new_manager(config, namespace)
    client = manager.clientset.core_v1.config_maps(namespace)
    lister = manager.informers.core_v1.config_maps().lister()
    finalizer = Finalizer(client, FINALIZER)
    cleaned: list[str] = []
    failing = {"stubborn"}

    def cleanup(obj: Any) -> None:
        name = obj["metadata"]["name"]
        cleaned.append(name)
        if name in failing:
            raise RuntimeError(f"cannot clean up {name} yet")

    def reconcile(key: str) -> None:
        try:
            obj = lister.namespace(namespace).get(key.split("/")[1])
        except NotFound:
            return
        finalizer.reconcile(obj, cleanup=cleanup)

    manager.controller("finalizing", reconcile).for_(manager.informers.core_v1.config_maps())
    client.create(configmap("easy", k="1"))
    client.create(configmap("stubborn", k="1"))
    run = running(manager)
    assert wait_for(lambda: all(has_finalizer(client.get(n), FINALIZER) for n in ("easy", "stubborn")))

    def gone(name: str) -> bool:
        try:
            client.get(name)
        except NotFound:
            return True
        return False

    client.delete("easy")
    client.delete("stubborn")
    assert wait_for(lambda: gone("easy"))
    assert "easy" in cleaned
    assert wait_for(lambda: cleaned.count("stubborn") >= 2)  # retried with backoff, the finalizer kept
    stubborn = client.get("stubborn")
    assert stubborn["metadata"]["deletionTimestamp"] and has_finalizer(stubborn, FINALIZER)
    failing.clear()
    assert wait_for(lambda: gone("stubborn"))
    run.stop()
    assert run.error is None


def test_the_asyncio_manager_runs_an_async_controller_with_a_finalizer_and_serves_its_probes(
    config: Config, namespace: str
) -> None:
    async def scenario() -> list[str]:
        manager = aio.Manager(
            config,
            namespace=namespace,
            metrics_address=("127.0.0.1", 0),
            health_address=("127.0.0.1", 0),
            registry=CollectorRegistry(),
        )
        client = manager.clientset.core_v1.config_maps(namespace)
        lister = manager.informers.core_v1.config_maps().lister()
        finalizer = aio.Finalizer(client, FINALIZER)
        cleaned: list[str] = []

        async def cleanup(obj: Any) -> None:
            cleaned.append(obj["metadata"]["name"])

        async def reconcile(key: str) -> None:
            try:
                obj = lister.namespace(namespace).get(key.split("/")[1])
            except NotFound:
                return
            await finalizer.reconcile(obj, cleanup=cleanup)

        manager.controller("async-finalizing", reconcile).for_(manager.informers.core_v1.config_maps())
        await client.create(configmap("one", k="1"))
        run = asyncio.get_running_loop().create_task(manager.run(handle_signals=False))

        async def until(condition: Callable[[], Any]) -> None:
            for _ in range(300):
                if await condition():
                    return
                await asyncio.sleep(0.1)
            raise AssertionError("condition not met")

        async def has_it() -> bool:
            return has_finalizer(await client.get("one"), FINALIZER)

        await until(has_it)
        status = await asyncio.to_thread(http_get, manager.health_address, "/readyz")
        assert status == (200, "ok")
        assert (await asyncio.to_thread(http_get, manager.health_address, "/healthz")) == (200, "ok")
        metrics = (await asyncio.to_thread(http_get, manager.metrics_address, "/metrics"))[1]
        assert 'controller_runtime_reconcile_total{controller="async-finalizing",result="success"}' in metrics

        await client.delete("one")

        async def gone() -> bool:
            try:
                await client.get("one")
            except NotFound:
                return True
            return False

        await until(gone)
        manager.stop()
        await asyncio.wait_for(run, 30)
        return cleaned

    assert asyncio.run(scenario()) == ["one"]


def test_the_asyncio_managers_graceful_shutdown_waits_for_the_in_flight_reconcile(
    config: Config, namespace: str
) -> None:
    async def scenario() -> None:
        manager = aio.Manager(
            config, namespace=namespace, metrics_address=None, health_address=None, registry=CollectorRegistry()
        )
        entered, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def reconcile(key: str) -> None:
            entered.set()
            await release.wait()
            finished.set()

        manager.controller("slow", reconcile).for_(manager.informers.core_v1.config_maps())
        await manager.clientset.core_v1.config_maps(namespace).create(configmap("one", k="1"))
        run = asyncio.get_running_loop().create_task(manager.run(handle_signals=False))
        await asyncio.wait_for(entered.wait(), 30)
        manager.stop()
        await asyncio.sleep(0.5)
        assert not run.done() and not finished.is_set()  # run() is waiting for the reconcile
        release.set()
        await asyncio.wait_for(run, 30)
        assert finished.is_set()

    asyncio.run(scenario())


def test_two_asyncio_managers_on_one_lease_hand_over_when_the_leader_stops(config: Config, namespace: str) -> None:
    async def scenario() -> None:
        lease = f"mgr-{uuid.uuid4().hex[:6]}"
        keys: dict[str, list[str]] = {"a": [], "b": []}
        managers = {}
        for who in ("a", "b"):
            manager = aio.Manager(
                config,
                namespace=namespace,
                metrics_address=None,
                health_address=None,
                registry=CollectorRegistry(),
                leader_election=fast_election(namespace, lease, who),
            )

            async def reconcile(key: str, who: str = who) -> None:
                keys[who].append(key)

            manager.controller("cms", reconcile).for_(manager.informers.core_v1.config_maps())
            managers[who] = manager
        loop = asyncio.get_running_loop()
        runs = {"a": loop.create_task(managers["a"].run(handle_signals=False))}

        async def until(condition: Callable[[], bool]) -> None:
            for _ in range(300):
                if condition():
                    return
                await asyncio.sleep(0.1)
            raise AssertionError("condition not met")

        await until(lambda: managers["a"].leading)
        runs["b"] = loop.create_task(managers["b"].run(handle_signals=False))
        await managers["a"].clientset.core_v1.config_maps(namespace).create(configmap("one", k="1"))
        await until(lambda: f"{namespace}/one" in keys["a"])
        await until(lambda: all(i.has_synced() for i in managers["b"].all_informers()))
        assert keys["b"] == [] and not managers["b"].leading
        managers["a"].stop()
        await asyncio.wait_for(runs["a"], 30)
        await until(lambda: f"{namespace}/one" in keys["b"])
        managers["b"].stop()
        await asyncio.wait_for(runs["b"], 30)

    asyncio.run(scenario())


def test_sigterm_to_the_leading_replica_process_releases_the_lease_and_the_other_replica_takes_over(
    config: Config, control_plane: ControlPlane, namespace: str, running: Callable[[Manager], Running]
) -> None:
    lease = f"mgr-{uuid.uuid4().hex[:6]}"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.manager_replica", str(control_plane.kubeconfig), namespace, lease, "proc"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.strip() for line in process.stdout or ()), daemon=True)
    reader.start()
    try:
        clientset = Clientset(config)

        def holder() -> str:
            try:
                return str(clientset.coordination_v1.leases(namespace).get(lease)["spec"].get("holderIdentity") or "")
            except NotFound:
                return ""

        assert wait_for(lambda: holder() == "proc")
        keys: list[str] = []
        other = new_manager(config, namespace, leader_election=fast_election(namespace, lease, "in-process"))
        other.controller("replica", key_recorder(other, keys)).for_(other.informers.core_v1.config_maps())
        run = running(other)
        clientset.core_v1.config_maps(namespace).create(configmap("one", k="1"))
        assert wait_for(lambda: f"reconciled {namespace}/one" in lines)
        assert wait_for(lambda: all(i.has_synced() for i in other.all_informers()))
        assert keys == [] and not other.leading

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        reader.join(5)
        assert lines[-1] == "exited"
        assert wait_for(lambda: f"{namespace}/one" in keys)  # the other replica leads and reconciles
        assert holder() == "in-process"
        run.stop()
        assert run.error is None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
