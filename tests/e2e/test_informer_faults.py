"""The informer under the faults a real cluster throws. Each scenario ends the same way: at
quiescence the cache equals a fresh LIST (keys and resourceVersions), and the handlers were
handed every object's final state."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, Iterator

import pytest

from kcore import Clientset
from kcore.config import Config
from kcore.informer import DeletedFinalStateUnknown, SharedIndexInformer, object_key
from kcore.testenv import ControlPlane
from tests.clusters import admin_config, compact_etcd, configmap
from tests.fault_proxy import FaultProxy
from tests.silent_proxy import SilentProxy
from tests.waiting import wait_for


class FinalStates:
    """What the handlers were told last of each key: its resourceVersion, until deleted.
    Tombstones (DeletedFinalStateUnknown) are kept apart, to be checked."""

    def __init__(self, informer: SharedIndexInformer) -> None:
        self.rvs: dict[str, str] = {}
        self.tombstones: list[str] = []
        self._lock = threading.Lock()
        informer.add_event_handler(
            on_add=lambda o, _initial: self._set(o), on_update=lambda _old, o: self._set(o), on_delete=self._delete
        )

    def _set(self, obj: Any) -> None:
        with self._lock:
            self.rvs[object_key(obj)] = obj["metadata"]["resourceVersion"]

    def _delete(self, obj: Any) -> None:
        with self._lock:
            if isinstance(obj, DeletedFinalStateUnknown):
                self.tombstones.append(obj.key)
                self.rvs.pop(obj.key, None)
            else:
                self.rvs.pop(object_key(obj), None)

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self.rvs)


def server_state(client: Any) -> dict[str, str]:
    return {object_key(o): o["metadata"]["resourceVersion"] for o in client.list()["items"]}


def converged(informer: SharedIndexInformer, handlers: FinalStates, client: Any, timeout: float = 60) -> bool:
    """The cache and the handlers' view both equal a fresh LIST (asked again while they catch up)."""
    return wait_for(
        lambda: informer.indexer.resource_versions() == handlers.snapshot() == server_state(client),
        timeout=timeout,
        interval=0.3,
    )


def healthy_watch(client: Any, handlers: FinalStates, namespace: str) -> None:
    """Let an event through the open watch: cut now, it is no "very short watch" (one that ends
    within a second without an event counts as failed and relists, in client-go as here)."""
    client.create(configmap("healthy"))
    assert wait_for(lambda: f"{namespace}/healthy" in handlers.snapshot())


def is_relist(path: str) -> bool:
    """A LIST, or a streaming list (a watch that starts with every current object)."""
    return "watch=true" not in path or "sendInitialEvents=true" in path


def through(proxy: FaultProxy, config: Config) -> Clientset:
    return Clientset(dataclasses.replace(config, server=proxy.url))


def test_the_cache_survives_its_watch_being_cut_again_and_again_while_objects_change(
    control_plane: ControlPlane, config: Config, namespace: str
) -> None:
    direct = Clientset(config).core_v1.config_maps(namespace)
    with FaultProxy(control_plane) as proxy:
        informer = SharedIndexInformer(through(proxy, config).core_v1.config_maps(namespace))
        handlers = FinalStates(informer)
        with informer:
            assert informer.wait_for_cache_sync(timeout=30)
            for round in range(6):
                for i in range(5):
                    direct.create(configmap(f"r{round}-{i}"))
                direct.patch(f"r{round}-0", {"data": {"changed": "yes"}})
                if round:
                    direct.delete(f"r{round - 1}-1")
                assert wait_for(lambda: proxy.cut_streams() > 0, timeout=10)  # mid-stream, while events flow
            # A watch cut within a second of opening, before any event, counts as failed and
            # relists (as client-go's does): deletions may then arrive as tombstones. Either way:
            assert converged(informer, handlers, direct)


def test_a_410_on_resume_relists_and_objects_deleted_meanwhile_arrive_as_tombstones(
    etcd_backed_plane: ControlPlane,
) -> None:
    config = admin_config(etcd_backed_plane)
    direct = Clientset(config).core_v1.config_maps("default")
    names = [f"gap-{i}" for i in range(4)]
    for name in names:
        direct.create(configmap(name))
    with FaultProxy(etcd_backed_plane) as proxy:
        informer = SharedIndexInformer(through(proxy, config).core_v1.config_maps("default"))
        handlers = FinalStates(informer)
        with informer:
            assert informer.wait_for_cache_sync(timeout=30)
            proxy.faults.extend(["drop", "drop"])  # the next re-watches find no server: ≥ 2.4 s of backoff
            assert proxy.cut_streams() > 0
            for name in names[:2]:
                direct.delete(name)
            direct.patch(names[2], {"data": {"changed": "yes"}})
            compact_etcd(etcd_backed_plane)  # the version the watch resumes from is gone: 410
            assert converged(informer, handlers, direct)
            assert sorted(handlers.tombstones) == [f"default/{n}" for n in names[:2]]
        for name in names[2:]:
            direct.delete(name)


def test_a_storm_of_503s_is_met_with_backoff_not_a_hot_loop(
    control_plane: ControlPlane, config: Config, namespace: str
) -> None:
    direct = Clientset(config).core_v1.config_maps(namespace)
    direct.create(configmap("a"))
    with FaultProxy(control_plane) as proxy:
        proxy.faults.extend(["503-no-retry-after"] * 1000)
        informer = SharedIndexInformer(through(proxy, config).core_v1.config_maps(namespace))
        handlers = FinalStates(informer)
        with informer:
            time.sleep(5)
            # Streaming list, then LIST, each failing: at t=0, then after ≥0.8 s, ≥2.4 s, ≥5.6 s.
            assert 2 <= len(proxy.seen) <= 6, proxy.seen
            proxy.faults.clear()
            assert informer.wait_for_cache_sync(timeout=60)
            assert converged(informer, handlers, direct)


@pytest.mark.parametrize(
    ("faults", "relists", "logged"),
    [
        (["429"] * 3, False, ""),  # throttled (Retry-After honoured): resume from where it was
        (["corrupt"], True, "unable to decode an event from the watch stream"),  # a clear error, then relist
    ],
    ids=["429s", "corrupt-frame"],
)
def test_a_fault_on_the_resumed_watch_is_survived_as_client_go_survives_it(
    control_plane: ControlPlane,
    config: Config,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
    faults: list[str],
    relists: bool,
    logged: str,
) -> None:
    direct = Clientset(config).core_v1.config_maps(namespace)
    with FaultProxy(control_plane) as proxy:
        informer = SharedIndexInformer(through(proxy, config).core_v1.config_maps(namespace))
        handlers = FinalStates(informer)
        with informer:
            assert informer.wait_for_cache_sync(timeout=30)
            healthy_watch(direct, handlers, namespace)
            seen_before = len(proxy.seen)
            proxy.faults.extend(faults)
            proxy.cut_streams()
            direct.create(configmap("during"))
            assert converged(informer, handlers, direct)
            after = [path for _, path in proxy.seen[seen_before:]]
            assert any(is_relist(path) for path in after) == relists, after
            assert logged in caplog.text


@pytest.fixture
def restartable_plane() -> Iterator[ControlPlane]:
    """A plane of this test's own: restarting the shared one would disturb the other tests."""
    with ControlPlane() as plane:
        yield plane


def test_the_cache_survives_a_kube_apiserver_restart_under_load(restartable_plane: ControlPlane) -> None:
    config = admin_config(restartable_plane)
    direct = Clientset(config).core_v1.config_maps("default")
    informer = SharedIndexInformer(Clientset(config).core_v1.config_maps("default"))
    handlers = FinalStates(informer)
    stop = threading.Event()
    written: list[str] = []

    def load() -> None:
        i = 0
        while not stop.is_set():
            try:
                direct.create(configmap(f"load-{i}"))
                written.append(f"load-{i}")
            except Exception:
                time.sleep(0.2)
            i += 1

    with informer:
        assert informer.wait_for_cache_sync(timeout=30)
        writer = threading.Thread(target=load)
        writer.start()
        try:
            assert wait_for(lambda: len(written) >= 20)
            restartable_plane.restart_apiserver(down_for=1.0)
            count = len(written)
            assert wait_for(lambda: len(written) >= count + 20, timeout=60)
        finally:
            stop.set()
            writer.join()
        assert converged(informer, handlers, direct)
        assert len(informer.indexer) == len(written)


@pytest.mark.parametrize("http2", [True, False], ids=["http2-ping", "http1-idle-timeout"])
def test_a_silently_dead_connection_is_noticed_and_replaced(
    control_plane: ControlPlane, config: Config, namespace: str, monkeypatch: pytest.MonkeyPatch, http2: bool
) -> None:
    # The detection times are shortened for the test: over HTTP/2 through client-go's own
    # variables (defaults 30 s + 15 s), over HTTP/1.1 through the informer's idle timeout (150 s).
    monkeypatch.setenv("HTTP2_READ_IDLE_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("HTTP2_PING_TIMEOUT_SECONDS", "2")
    direct = Clientset(config).core_v1.config_maps(namespace)
    with SilentProxy(control_plane) as proxy:
        silent_config = dataclasses.replace(config, server=proxy.url, http2=http2)
        informer = SharedIndexInformer(
            Clientset(silent_config).core_v1.config_maps(namespace), watch_idle_timeout=None if http2 else 5.0
        )
        handlers = FinalStates(informer)
        with informer:
            assert informer.wait_for_cache_sync(timeout=30)
            healthy_watch(direct, handlers, namespace)
            assert proxy.silence() > 0
            direct.create(configmap("while-silent"))
            assert converged(informer, handlers, direct, timeout=45)
            assert proxy.connections > 1  # it was a new connection that brought the news
