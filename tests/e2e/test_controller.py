"""kcore.controller against the real kube-apiserver through real informers: a controller that
keeps a derived Secret per labelled ConfigMap (owning the Secrets), retries with backoff,
terminal errors, requeue_after, the sync rule, graceful stop, and the asyncio twin."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, Optional

import pytest
from prometheus_client import CollectorRegistry

from kcore import Clientset, aio
from kcore.config import Config
from kcore.controller import Controller, Filter, Result, TerminalError
from kcore.errors import AlreadyExists, NotFound
from kcore.informer import SharedIndexInformer, SharedInformerFactory
from kcore.testenv import ControlPlane
from kcore.workqueue import ItemExponentialFailureRateLimiter
from tests.clusters import admin_config, configmap
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def clientset(config: Config) -> Clientset:
    return Clientset(config)


@pytest.fixture
def factory(clientset: Clientset, namespace: str) -> Iterator[SharedInformerFactory]:
    factory = SharedInformerFactory(clientset, namespace=namespace)
    yield factory
    factory.shutdown()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def unique(prefix: str) -> str:
    """A controller name of this test's own (names label the metrics and the workqueue)."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def labelled(cm: Any) -> bool:
    return "mirror" in (cm["metadata"].get("labels") or {})


def derived_secret(cm: Any) -> dict[str, Any]:
    """The Secret kept for a labelled ConfigMap: its data, owned by it (controller=true)."""
    meta = cm["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"{meta['name']}-derived",
            "namespace": meta["namespace"],
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": meta["name"], "uid": meta["uid"], "controller": True}
            ],
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in (cm.get("data") or {}).items()},
    }


class Mirror:
    """The reconcile of the test controller: the derived Secret of each labelled ConfigMap
    exists and holds its data; a ConfigMap gone takes its Secret along (kcore.testenv runs no
    garbage collector)."""

    def __init__(
        self, clientset: Clientset, namespace: str, configmaps: SharedIndexInformer, secrets: SharedIndexInformer
    ) -> None:
        self.client = clientset.core_v1.secrets(namespace)
        self.configmaps, self.secrets = configmaps.lister(), secrets.lister()
        self.keys: list[str] = []

    def __call__(self, key: str) -> None:
        self.keys.append(key)
        namespace, name = key.split("/")
        try:
            cm = self.configmaps.namespace(namespace).get(name)
        except NotFound:
            try:
                self.client.delete(f"{name}-derived")
            except NotFound:
                pass
            return
        if not labelled(cm):
            return
        want = derived_secret(cm)
        try:
            have = self.secrets.namespace(namespace).get(want["metadata"]["name"])
        except NotFound:
            try:
                self.client.create(want)
            except AlreadyExists:  # the cache is behind: the event of the Secret will bring the key back
                pass
            return
        if dict(have.get("data") or {}) != want["data"]:
            self.client.update({**have.to_dict(), "data": want["data"]})


def secret_data(clientset: Clientset, namespace: str, name: str) -> Optional[dict[str, str]]:
    try:
        secret = clientset.core_v1.secrets(namespace).get(name)
    except NotFound:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def test_a_controller_keeps_a_derived_secret_per_labelled_configmap_and_repairs_what_is_deleted(
    clientset: Clientset, namespace: str, factory: SharedInformerFactory, registry: CollectorRegistry
) -> None:
    cms = clientset.core_v1.config_maps(namespace)
    cms.create({**configmap("a", k="1"), "metadata": {"name": "a", "labels": {"mirror": "yes"}}})
    cms.create(configmap("plain", k="1"))
    configmaps, secrets = factory.core_v1.config_maps(), factory.core_v1.secrets()
    reconcile = Mirror(clientset, namespace, configmaps, secrets)
    name = unique("mirror")
    controller = Controller(name, reconcile, workers=2, registry=registry)
    controller.for_(configmaps, predicates=[Filter(labelled)]).owns(secrets)
    with controller:
        assert wait_for(lambda: secret_data(clientset, namespace, "a-derived") == {"k": "1"})
        first_uid = clientset.core_v1.secrets(namespace).get("a-derived")["metadata"]["uid"]

        clientset.core_v1.secrets(namespace).delete("a-derived")  # owns(): the owner is reconciled again
        assert wait_for(
            lambda: (
                secret_data(clientset, namespace, "a-derived") == {"k": "1"}
                and clientset.core_v1.secrets(namespace).get("a-derived")["metadata"]["uid"] != first_uid
            )
        )

        a = cms.get("a")
        cms.update({**a, "data": {"k": "2"}})
        assert wait_for(lambda: secret_data(clientset, namespace, "a-derived") == {"k": "2"})

        cms.create({**configmap("late", k="3"), "metadata": {"name": "late", "labels": {"mirror": ""}}})
        assert wait_for(lambda: secret_data(clientset, namespace, "late-derived") == {"k": "3"})

        cms.delete("a")  # a deleted object's key is still reconciled: it finds the object gone
        assert wait_for(lambda: secret_data(clientset, namespace, "a-derived") is None)
    assert secret_data(clientset, namespace, "plain-derived") is None
    assert f"{namespace}/plain" not in reconcile.keys
    assert registry.get_sample_value("controller_runtime_reconcile_errors_total", {"controller": name}) == 0
    assert registry.get_sample_value(
        "controller_runtime_reconcile_total", {"controller": name, "result": "success"}
    ) == len(reconcile.keys)
    assert registry.get_sample_value("workqueue_adds_total", {"name": name}) >= len(set(reconcile.keys))


class Attempts:
    """A reconcile that records when it was called and answers from a script (then None)."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.times: list[float] = []

    def __call__(self, key: str) -> Optional[Result]:
        self.times.append(time.monotonic())
        answer = self.script.pop(0) if self.script else None
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:])]


def one_configmap(clientset: Clientset, namespace: str, factory: SharedInformerFactory) -> SharedIndexInformer:
    clientset.core_v1.config_maps(namespace).create(configmap("only", k="1"))
    return factory.core_v1.config_maps()


def test_a_reconcile_that_raises_is_retried_with_the_limiters_backoff_until_it_succeeds(
    clientset: Clientset, namespace: str, factory: SharedInformerFactory, registry: CollectorRegistry
) -> None:
    reconcile = Attempts(RuntimeError("not yet"), RuntimeError("not yet"), RuntimeError("not yet"))
    name = unique("retry")
    controller = Controller(
        name, reconcile, rate_limiter=ItemExponentialFailureRateLimiter(0.1, 10), registry=registry
    ).for_(one_configmap(clientset, namespace, factory))
    with controller:
        assert wait_for(
            lambda: (
                registry.get_sample_value(
                    "controller_runtime_reconcile_total", {"controller": name, "result": "success"}
                )
                == 1
            )
        )
    gaps = reconcile.gaps()
    assert len(gaps) == 3
    assert [gap >= wait for gap, wait in zip(gaps, [0.1, 0.2, 0.4])] == [True, True, True]
    assert registry.get_sample_value("controller_runtime_reconcile_errors_total", {"controller": name}) == 3
    assert registry.get_sample_value("workqueue_retries_total", {"name": name}) == 3


def test_a_terminal_error_is_not_retried_but_a_later_change_reconciles_the_key_again(
    clientset: Clientset, namespace: str, factory: SharedInformerFactory, registry: CollectorRegistry
) -> None:
    reconcile = Attempts(TerminalError("invalid"))
    name = unique("terminal")
    controller = Controller(
        name, reconcile, rate_limiter=ItemExponentialFailureRateLimiter(0.01, 0.01), registry=registry
    ).for_(one_configmap(clientset, namespace, factory))
    with controller:
        assert wait_for(lambda: len(reconcile.times) == 1)
        time.sleep(0.5)  # a retry would have come after 10 ms
        assert len(reconcile.times) == 1
        clientset.core_v1.config_maps(namespace).patch("only", {"data": {"k": "2"}})
        assert wait_for(lambda: len(reconcile.times) == 2)
    assert registry.get_sample_value("controller_runtime_terminal_reconcile_errors_total", {"controller": name}) == 1


def test_requeue_after_reconciles_the_key_again_after_the_delay(
    clientset: Clientset, namespace: str, factory: SharedInformerFactory, registry: CollectorRegistry
) -> None:
    reconcile = Attempts(Result(requeue_after=0.5))
    name = unique("later")
    controller = Controller(name, reconcile, registry=registry).for_(one_configmap(clientset, namespace, factory))
    with controller:
        assert wait_for(lambda: len(reconcile.times) == 2)
    assert reconcile.gaps()[0] >= 0.5
    assert (
        registry.get_sample_value("controller_runtime_reconcile_total", {"controller": name, "result": "requeue_after"})
        == 1
    )


def test_workers_start_only_after_every_informer_has_handed_over_its_initial_list(
    clientset: Clientset, namespace: str, factory: SharedInformerFactory, registry: CollectorRegistry
) -> None:
    for n in range(20):
        clientset.core_v1.config_maps(namespace).create(configmap(f"cm-{n}", k=str(n)))
    configmaps, secrets = factory.core_v1.config_maps(), factory.core_v1.secrets()
    seen: list[tuple[str, bool, int]] = []

    def reconcile(key: str) -> None:
        seen.append(
            (
                key,
                configmaps.has_synced() and secrets.has_synced(),
                len(configmaps.lister().namespace(namespace).list()),
            )
        )

    controller = Controller(unique("synced"), reconcile, workers=4, registry=registry)
    controller.for_(configmaps).owns(secrets)
    with controller:
        assert wait_for(lambda: len(seen) >= 20)
    assert sorted(key for key, _, _ in seen) == sorted(f"{namespace}/cm-{n}" for n in range(20))
    assert all(synced and cached == 20 for _, synced, cached in seen)


def test_ten_thousand_objects_converge_under_eight_workers_never_two_on_one_key(registry: CollectorRegistry) -> None:
    """Reconcile-all at scale, on a plane of its own (10,000 objects would slow every other
    test's informers): each reconcile's own patch re-enqueues its key, maybe mid-reconcile."""
    count = 10_000
    with ControlPlane() as plane:
        clientset = Clientset(admin_config(plane))
        cms = clientset.core_v1.config_maps("default")
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: cms.create(configmap(f"cm-{n}", k=str(n))), range(count)))
        factory = SharedInformerFactory(clientset, namespace="default")
        configmaps = factory.core_v1.config_maps()
        lock = threading.Lock()
        in_flight: set[str] = set()
        overlaps: list[str] = []

        def reconcile(key: str) -> None:
            with lock:
                if key in in_flight:
                    overlaps.append(key)
                in_flight.add(key)
            try:
                name = key.split("/")[1]
                cm = configmaps.lister().namespace("default").get(name)
                if "reconciled" not in (cm["metadata"].get("annotations") or {}):
                    cms.patch(name, {"metadata": {"annotations": {"reconciled": cm["data"]["k"]}}})
            finally:
                with lock:
                    in_flight.discard(key)

        try:
            with Controller(unique("many"), reconcile, workers=8, registry=registry).for_(configmaps):
                assert wait_for(lambda: len(configmaps.lister().list(label_selector=None)) == count, timeout=60)
                assert wait_for(
                    lambda: all(
                        "reconciled" in (cm["metadata"].get("annotations") or {}) for cm in configmaps.lister().list()
                    ),
                    timeout=240,
                )
        finally:
            factory.shutdown()
        listed = cms.list()["items"]  # the server's view, not the cache's
        assert len(listed) == count
        assert all(cm["metadata"]["annotations"]["reconciled"] == cm["data"]["k"] for cm in listed)
        assert overlaps == []


def test_stop_waits_for_an_in_flight_reconcile_to_finish_its_write(
    clientset: Clientset, namespace: str, factory: SharedInformerFactory, registry: CollectorRegistry
) -> None:
    entered, release = threading.Event(), threading.Event()

    def reconcile(key: str) -> None:
        entered.set()
        release.wait(10)
        clientset.core_v1.config_maps(namespace).create(configmap("written-while-stopping"))

    controller = Controller(unique("drain"), reconcile, registry=registry)
    controller.for_(one_configmap(clientset, namespace, factory))
    controller.start()
    assert entered.wait(30)
    stopping = threading.Thread(target=controller.stop)
    stopping.start()
    stopping.join(0.3)
    assert stopping.is_alive()
    release.set()
    stopping.join(10)
    assert not stopping.is_alive()
    assert clientset.core_v1.config_maps(namespace).get("written-while-stopping")


def test_the_asyncio_twin_reconciles_through_async_informers_and_retries_a_failure(
    config: Config, namespace: str, registry: CollectorRegistry
) -> None:
    name = unique("async")

    async def scenario() -> Optional[dict[str, str]]:
        clientset = aio.Clientset(config)
        await clientset.core_v1.config_maps(namespace).create(
            {**configmap("a", k="1"), "metadata": {"name": "a", "labels": {"mirror": "yes"}}}
        )
        factory = aio.SharedInformerFactory(clientset, namespace=namespace)
        configmaps, secrets = factory.core_v1.config_maps(), factory.core_v1.secrets()
        failures = [RuntimeError("once")]

        async def reconcile(key: str) -> None:
            if failures:
                raise failures.pop()
            cm = configmaps.lister().namespace(namespace).get(key.split("/")[1])
            try:
                secrets.lister().namespace(namespace).get(f"{cm['metadata']['name']}-derived")
            except NotFound:
                await clientset.core_v1.secrets(namespace).create(derived_secret(cm))

        controller = aio.Controller(name, reconcile, workers=2, registry=registry)
        controller.for_(configmaps, predicates=[Filter(labelled)]).owns(secrets)
        try:
            async with controller:
                for _ in range(300):
                    try:
                        secret = await clientset.core_v1.secrets(namespace).get("a-derived")
                        return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
                    except NotFound:
                        await asyncio.sleep(0.1)
                return None
        finally:
            await factory.shutdown()

    assert asyncio.run(scenario()) == {"k": "1"}
    assert registry.get_sample_value("controller_runtime_reconcile_errors_total", {"controller": name}) == 1
