"""The client-go informer driver's own check (tests/e2e/informer_upstream_driver.py): what it
records from the real API server is what client-go's handler was given, in order. The parity
tests that compare kcore's informer with it rely on this."""

from __future__ import annotations

from kcore.testenv import ControlPlane
from tests.e2e.informer_upstream_driver import RecordingInformer
from tests.kube_http import KubeHTTP


def test_the_driver_records_an_initial_add_then_an_update_then_a_delete(
    control_plane: ControlPlane,
    kube: KubeHTTP,
    namespace: str,
) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    key = f"{namespace}/cm"
    created = kube.ok(
        "POST", path, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}}
    )
    rv1 = created["metadata"]["resourceVersion"]

    with RecordingInformer(control_plane.kubeconfig, namespace=namespace) as informer:
        assert informer.wait_synced() == [{"handler": "add", "key": key, "rv": rv1, "initial": True}]

        updated = kube.ok("PUT", f"{path}/cm", {**created, "data": {"a": "2"}})
        rv2 = updated["metadata"]["resourceVersion"]
        kube.ok("DELETE", f"{path}/cm")
        calls = informer.wait_for(lambda calls: len(calls) >= 3)

    assert calls[1:] == [
        {"handler": "update", "key": key, "old_rv": rv1, "rv": rv2},
        {"handler": "delete", "key": key, "rv": calls[2]["rv"], "tombstone": False},
    ]
    # The DELETED event carries the object as deleted: a resourceVersion past the update's.
    assert int(calls[2]["rv"]) > int(rv2)
    assert informer.calls == calls  # nothing after the delete
