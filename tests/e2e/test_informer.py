"""kcore.informer against the real kube-apiserver: the cache, the handlers, the listers, the
factory and the asyncio twin (faults are in test_informer_faults.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Iterator

import pytest
from prometheus_client import CollectorRegistry

from kcore import Clientset, aio
from kcore.config import Config
from kcore.errors import NotFound
from kcore.informer import DeletedFinalStateUnknown, SharedIndexInformer, SharedInformerFactory, metrics, object_key
from tests.clusters import configmap
from tests.waiting import wait_for


@pytest.fixture(scope="module")
def clientset(config: Config) -> Clientset:
    return Clientset(config)


class Recorded:
    """A handler that records every call as a tuple, thread-safely."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()

    def on_add(self, obj: Any, initial: bool) -> None:
        with self._lock:
            self.calls.append(("add", object_key(obj), obj["metadata"]["resourceVersion"], initial))

    def on_update(self, old: Any, new: Any) -> None:
        with self._lock:
            self.calls.append(
                ("update", object_key(new), old["metadata"]["resourceVersion"], new["metadata"]["resourceVersion"])
            )

    def on_delete(self, obj: Any) -> None:
        with self._lock:
            if isinstance(obj, DeletedFinalStateUnknown):
                self.calls.append(("delete", obj.key, "tombstone"))
            else:
                self.calls.append(("delete", object_key(obj), obj["metadata"]["resourceVersion"]))

    def kinds(self) -> list[str]:
        with self._lock:
            return [c[0] for c in self.calls]

    def register(self, informer: Any, **kw: Any) -> Any:
        return informer.add_event_handler(on_add=self.on_add, on_update=self.on_update, on_delete=self.on_delete, **kw)


@pytest.fixture
def configmaps(clientset: Clientset, namespace: str) -> Iterator[SharedIndexInformer]:
    informer = SharedIndexInformer(clientset.core_v1.config_maps(namespace))
    yield informer
    informer.stop()


def test_an_informer_fills_its_cache_and_the_lister_reads_it_like_the_api(
    clientset: Clientset, namespace: str, configmaps: SharedIndexInformer
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    for name in ("a", "b", "c"):
        client.create(configmap(name, k=name))
    configmaps.start()
    assert configmaps.wait_for_cache_sync(timeout=30)
    lister = configmaps.lister()
    assert lister.namespace(namespace).get("b")["data"] == {"k": "b"}
    assert sorted(o["metadata"]["name"] for o in lister.namespace(namespace).list()) == ["a", "b", "c"]
    with pytest.raises(NotFound) as missing:
        lister.namespace(namespace).get("zzz")
    assert missing.value.message == 'configmaps "zzz" not found'
    fresh = client.list()
    assert configmaps.indexer.resource_versions() == {
        f"{namespace}/{o['metadata']['name']}": o["metadata"]["resourceVersion"] for o in fresh["items"]
    }
    assert configmaps.last_sync_resource_version


def test_cached_objects_are_read_only_and_to_dict_gives_a_private_copy(
    clientset: Clientset, namespace: str, configmaps: SharedIndexInformer
) -> None:
    clientset.core_v1.config_maps(namespace).create(configmap("a", k="v"))
    with configmaps:
        assert configmaps.wait_for_cache_sync(timeout=30)
        cached = configmaps.lister().namespace(namespace).get("a")
        with pytest.raises(TypeError):
            cached["data"]["k"] = "changed"
        mine = cached.to_dict()
        mine["data"]["k"] = "changed"
        assert configmaps.lister().namespace(namespace).get("a")["data"]["k"] == "v"


def test_managed_fields_are_stripped_by_default_and_kept_without_a_transform(
    clientset: Clientset, namespace: str
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    client.create(configmap("a", k="v"), field_manager="tester")
    stripped = SharedIndexInformer(client)
    kept = SharedIndexInformer(client)
    kept.set_transform(None)
    with stripped, kept:
        assert stripped.wait_for_cache_sync(timeout=30) and kept.wait_for_cache_sync(timeout=30)
        assert "managedFields" not in stripped.indexer.get_by_key(f"{namespace}/a")["metadata"]
        assert kept.indexer.get_by_key(f"{namespace}/a")["metadata"]["managedFields"][0]["manager"] == "tester"


def test_handlers_hear_the_initial_list_then_every_change_in_order(
    clientset: Clientset, namespace: str, configmaps: SharedIndexInformer
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    first = client.create(configmap("a", k="1"))
    recorded = Recorded()
    registration = recorded.register(configmaps)
    configmaps.start()
    assert wait_for(registration.has_synced)
    assert recorded.calls == [("add", f"{namespace}/a", first["metadata"]["resourceVersion"], True)]
    updated = client.patch("a", {"data": {"k": "2"}})
    created = client.create(configmap("b"))
    client.delete("a")
    assert wait_for(lambda: len(recorded.calls) == 4)
    assert recorded.calls[1:] == [
        ("update", f"{namespace}/a", first["metadata"]["resourceVersion"], updated["metadata"]["resourceVersion"]),
        ("add", f"{namespace}/b", created["metadata"]["resourceVersion"], False),
        ("delete", f"{namespace}/a", recorded.calls[3][2]),
    ]


def test_a_handler_added_after_start_gets_the_whole_cache_as_initial_adds(
    clientset: Clientset, namespace: str, configmaps: SharedIndexInformer
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    for name in ("a", "b"):
        client.create(configmap(name))
    with configmaps:
        assert configmaps.wait_for_cache_sync(timeout=30)
        late = Recorded()
        registration = late.register(configmaps)
        assert wait_for(registration.has_synced)
        assert sorted((c[0], c[1], c[3]) for c in late.calls) == [
            ("add", f"{namespace}/a", True),
            ("add", f"{namespace}/b", True),
        ]
        registration.remove()
        client.create(configmap("c"))
        time.sleep(1)
        assert len(late.calls) == 2  # removed: hears nothing more


def test_a_raising_handler_loses_only_that_notification_and_a_slow_one_holds_back_no_other(
    clientset: Clientset, namespace: str, configmaps: SharedIndexInformer
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    calls: list[str] = []
    release = threading.Event()

    def flaky(obj: Any, initial: bool) -> None:
        if obj["metadata"]["name"] == "boom":
            raise RuntimeError("handler failure")
        calls.append(obj["metadata"]["name"])

    def slow(obj: Any, initial: bool) -> None:
        release.wait(30)

    configmaps.add_event_handler(on_add=flaky)
    configmaps.add_event_handler(on_add=slow)
    fast = Recorded()
    fast.register(configmaps)
    with configmaps:
        assert configmaps.wait_for_cache_sync(timeout=30)
        for name in ("before", "boom", "after"):
            client.create(configmap(name))
        assert wait_for(lambda: len(fast.calls) == 3)  # while `slow` is still stuck on its first
        assert wait_for(lambda: calls == ["before", "after"])
        release.set()


def test_fifty_handlers_on_one_informer_each_hear_every_event(
    clientset: Clientset, namespace: str, configmaps: SharedIndexInformer
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    handlers = [Recorded() for _ in range(50)]
    for handler in handlers:
        handler.register(configmaps)
    with configmaps:
        assert configmaps.wait_for_cache_sync(timeout=30)
        for i in range(10):
            client.create(configmap(f"c{i}"))
        assert wait_for(lambda: all(len(h.calls) == 10 for h in handlers))
        assert all(h.calls == handlers[0].calls for h in handlers)


def test_a_handler_with_a_resync_period_hears_each_object_again_as_an_unchanged_update(
    clientset: Clientset, namespace: str
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    created = client.create(configmap("a"))
    informer = SharedIndexInformer(client, resync_period=1.0)
    resyncing, quiet = Recorded(), Recorded()
    resyncing.register(informer)
    quiet.register(informer, resync_period=0)
    with informer:
        rv = created["metadata"]["resourceVersion"]
        assert wait_for(lambda: resyncing.calls.count(("update", f"{namespace}/a", rv, rv)) >= 2, timeout=10)
        assert quiet.kinds() == ["add"]


def test_indexers_and_selectors_answer_from_the_cache(
    clientset: Clientset, namespace: str, configmaps: SharedIndexInformer
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    for name, team in (("a", "red"), ("b", "blue"), ("c", "red")):
        client.create({**configmap(name, team=team), "metadata": {"name": name, "labels": {"team": team}}})
    configmaps.add_indexers({"by_team": lambda o: [o["data"]["team"]]})
    with configmaps:
        assert configmaps.wait_for_cache_sync(timeout=30)
        indexer = configmaps.indexer
        assert sorted(o["metadata"]["name"] for o in indexer.by_index("by_team", "red")) == ["a", "c"]
        assert sorted(indexer.index_keys("namespace", namespace)) == [f"{namespace}/{n}" for n in "abc"]
        lister = configmaps.lister()
        assert [o["metadata"]["name"] for o in lister.list(label_selector="team=blue")] == ["b"]
        assert sorted(o["metadata"]["name"] for o in lister.namespace(namespace).list(label_selector="team!=blue")) == [
            "a",
            "c",
        ]
        assert [o["metadata"]["name"] for o in lister.list(field_selector="metadata.name=c")] == ["c"]


def test_the_factory_shares_one_informer_per_resource_under_the_clientsets_names(
    clientset: Clientset, namespace: str
) -> None:
    clientset.core_v1.config_maps(namespace).create(configmap("a"))
    factory = SharedInformerFactory(clientset, namespace=namespace)
    assert factory.core_v1.config_maps() is factory.core_v1.config_maps()
    secrets = factory.core_v1.secrets()
    try:
        factory.start()
        synced = factory.wait_for_cache_sync(timeout=30)
        assert synced == {("", "v1", "configmaps"): True, ("", "v1", "secrets"): True}
        assert factory.core_v1.config_maps().lister().namespace(namespace).get("a")
        assert secrets.has_synced()
    finally:
        factory.shutdown()


def test_the_asyncio_twin_runs_coroutine_handlers_on_the_callers_loop(
    config: Config, clientset: Clientset, namespace: str
) -> None:
    clientset.core_v1.config_maps(namespace).create(configmap("a"))

    async def scenario() -> list[tuple[str, str, bool]]:
        seen: list[tuple[str, str, bool]] = []
        loop = asyncio.get_running_loop()

        async def on_add(obj: Any, initial: bool) -> None:
            assert asyncio.get_running_loop() is loop
            await asyncio.sleep(0)
            seen.append(("add", obj["metadata"]["name"], initial))

        factory = aio.SharedInformerFactory(aio.Clientset(config), namespace=namespace)
        informer = factory.core_v1.config_maps()
        informer.add_event_handler(on_add=on_add)
        factory.start()
        try:
            assert (await factory.wait_for_cache_sync(timeout=30)) == {("", "v1", "configmaps"): True}
            await aio.Clientset(config).core_v1.config_maps(namespace).create(configmap("b"))
            for _ in range(300):
                if len(seen) == 2:
                    break
                await asyncio.sleep(0.1)
        finally:
            await factory.shutdown()
        return seen

    assert asyncio.run(scenario()) == [("add", "a", True), ("add", "b", False)]


def test_reflector_metrics_count_lists_watches_and_the_last_version(
    clientset: Clientset, namespace: str, configmaps: SharedIndexInformer
) -> None:
    client = clientset.core_v1.config_maps(namespace)
    client.create(configmap("a"))
    registry = CollectorRegistry()
    metrics.track(configmaps, registry)
    label = {"name": "configmaps"}
    with configmaps:
        assert configmaps.wait_for_cache_sync(timeout=30)
        created = client.create(configmap("b"))
        rv = float(created["metadata"]["resourceVersion"])
        assert wait_for(lambda: registry.get_sample_value("reflector_last_resource_version", label) == rv)
        assert registry.get_sample_value("reflector_lists_total", label) == 1
        assert registry.get_sample_value("reflector_items_per_list_count", label) == 1
        assert registry.get_sample_value("reflector_items_per_list_sum", label) == 1  # "a"; "b" came by watch
        assert registry.get_sample_value("reflector_short_watches_total", label) == 0


def test_a_metadata_only_informer_caches_partial_object_metadata(clientset: Clientset, namespace: str) -> None:
    client = clientset.core_v1.config_maps(namespace)
    client.create({**configmap("a", big="x" * 10000), "metadata": {"name": "a", "labels": {"team": "red"}}})
    factory = SharedInformerFactory(clientset, namespace=namespace)
    names = factory.metadata("", "v1", "configmaps")
    assert names is factory.metadata("", "v1", "configmaps") and names is not factory.core_v1.config_maps()
    try:
        factory.start()
        assert factory.wait_for_cache_sync(timeout=30) == {
            ("", "v1", "configmaps", "metadata"): True,
            ("", "v1", "configmaps"): True,
        }
        cached = names.lister().namespace(namespace).get("a")
        assert (cached["kind"], cached["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
        assert "data" not in cached and cached["metadata"]["labels"] == {"team": "red"}
        assert [o["metadata"]["name"] for o in names.lister().list(label_selector="team=red")] == ["a"]
    finally:
        factory.shutdown()
