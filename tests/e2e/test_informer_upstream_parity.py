"""kcore's SharedIndexInformer against client-go v0.37.2's own (tests/e2e/informer_upstream),
side by side on the same server for the same scripted changes: the handler calls must be the
same, in the same order — the initial list, the changes, a resync, and a relist after a 410
whose vanished objects arrive as DeletedFinalStateUnknown.

Each informer reaches the server through a FaultProxy of its own, so both can be cut off at
the same moment. Within the initial list (and within a relist's tombstones) client-go's order
comes from a Go map, so those are compared as sets; everything else in order."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from kcore import Clientset
from kcore.informer import DeletedFinalStateUnknown, SharedIndexInformer, object_key
from kcore.testenv import ControlPlane
from kcore.testenv.control_plane import kubeconfig_text
from tests.clusters import admin_config, compact_etcd, configmap
from tests.e2e.informer_upstream_driver import RecordingInformer
from tests.fault_proxy import FaultProxy
from tests.waiting import wait_for

Call = dict[str, Any]


class KcoreRecording:
    """kcore's informer, its handler calls recorded in the Go driver's format."""

    def __init__(self, client: Any, resync: float = 0.0) -> None:
        self.informer = SharedIndexInformer(client, resync_period=resync)
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self.informer.add_event_handler(on_add=self._add, on_update=self._update, on_delete=self._delete)

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _add(self, obj: Any, initial: bool) -> None:
        self._record(
            {"handler": "add", "key": object_key(obj), "rv": obj["metadata"]["resourceVersion"], "initial": initial}
        )

    def _update(self, old: Any, new: Any) -> None:
        self._record(
            {
                "handler": "update",
                "key": object_key(new),
                "old_rv": old["metadata"]["resourceVersion"],
                "rv": new["metadata"]["resourceVersion"],
            }
        )

    def _delete(self, obj: Any) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            rv = obj.obj["metadata"]["resourceVersion"] if obj.obj is not None else ""
            self._record({"handler": "delete", "key": obj.key, "rv": rv, "tombstone": True})
        else:
            self._record(
                {
                    "handler": "delete",
                    "key": object_key(obj),
                    "rv": obj["metadata"]["resourceVersion"],
                    "tombstone": False,
                }
            )

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)


def as_set(calls: list[Call]) -> set[tuple[Any, ...]]:
    return {tuple(sorted(c.items())) for c in calls}


@pytest.fixture
def proxies(etcd_backed_plane: ControlPlane) -> Iterator[tuple[FaultProxy, FaultProxy]]:
    with FaultProxy(etcd_backed_plane) as go_side, FaultProxy(etcd_backed_plane) as kcore_side:
        yield go_side, kcore_side


def test_handler_calls_equal_client_gos_through_changes_and_a_relist_with_tombstones(
    etcd_backed_plane: ControlPlane, proxies: tuple[FaultProxy, FaultProxy], tmp_path: Path
) -> None:
    go_proxy, kcore_proxy = proxies
    config = admin_config(etcd_backed_plane)
    namespace = "parity"
    direct = Clientset(config)
    direct.core_v1.namespaces().create({"metadata": {"name": namespace}})
    client = direct.core_v1.config_maps(namespace)
    for name in "abc":
        client.create(configmap(name))
    go_kubeconfig = tmp_path / "go.kubeconfig"
    go_kubeconfig.write_text(
        kubeconfig_text(go_proxy.url, etcd_backed_plane.ca_file, user="admin", token=etcd_backed_plane.token)
    )
    kcore_side = KcoreRecording(
        Clientset(dataclasses.replace(config, server=kcore_proxy.url)).core_v1.config_maps(namespace)
    )

    with RecordingInformer(go_kubeconfig, namespace=namespace, protobuf=True) as go, kcore_side.informer:
        go_initial = go.wait_synced()
        assert wait_for(lambda: len(kcore_side.calls) == 3)
        assert as_set(kcore_side.calls) == as_set(go_initial) and len(go_initial) == 3

        client.patch("a", {"data": {"k": "1"}})
        client.create(configmap("d"))
        client.delete("b")
        go.wait_for(lambda calls: len(calls) >= 6)
        assert wait_for(lambda: len(kcore_side.calls) >= 6)
        assert kcore_side.calls[3:] == go.calls[3:]

        # Both cut off at once; meanwhile c goes, d changes, e comes, and etcd forgets the past.
        for proxy in proxies:
            proxy.faults.extend(["drop"] * 2)
            proxy.cut_streams()
        client.delete("c")
        client.patch("d", {"data": {"k": "2"}})
        client.create(configmap("e"))
        compact_etcd(etcd_backed_plane)
        go_after = go.wait_for(lambda calls: len(calls) >= 9, timeout=60)[6:]
        assert wait_for(lambda: len(kcore_side.calls) >= 9, timeout=60)
        time.sleep(2)  # anything more would show now
        kcore_after = kcore_side.calls[6:]
        go_after = go.calls[6:]
        assert (
            kcore_after[0]
            == go_after[0]
            == {"handler": "delete", "key": f"{namespace}/c", "rv": go_after[0]["rv"], "tombstone": True}
        ), (kcore_after, go_after)
        # The relist's adds and updates: d changed, e is new, and a, unchanged, an update to
        # itself — every handler counts as due for resync until a resync check says otherwise.
        assert as_set(kcore_after[1:]) == as_set(go_after[1:]), (kcore_after, go_after)
        assert sorted((c["handler"], c["key"]) for c in go_after[1:]) == [
            ("add", f"{namespace}/e"),
            ("update", f"{namespace}/a"),
            ("update", f"{namespace}/d"),
        ], go_after


def test_resync_delivers_unchanged_updates_as_client_go_does(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    config = admin_config(control_plane)
    client = Clientset(config).core_v1.config_maps(namespace)
    created = client.create(configmap("a"))
    rv = created["metadata"]["resourceVersion"]
    kcore_side = KcoreRecording(client, resync=1.0)
    with (
        RecordingInformer(control_plane.kubeconfig, namespace=namespace, resync=1.0, protobuf=True) as go,
        kcore_side.informer,
    ):
        go.wait_for(lambda calls: len(calls) >= 3, timeout=20)
        assert wait_for(lambda: len(kcore_side.calls) >= 3, timeout=20)
    resync = {"handler": "update", "key": f"{namespace}/a", "old_rv": rv, "rv": rv}
    expected = [{"handler": "add", "key": f"{namespace}/a", "rv": rv, "initial": True}, resync, resync]
    assert go.calls[:3] == expected
    assert kcore_side.calls[:3] == expected
