"""examples/endpointslice.py's pure parts on the cases of upstream's own unit tests
(k8s.io/endpointslice v0.37.2 reconciler_test.go and util/endpointslice_tracker_test.go): how a
sync spreads endpoints over slices, when it keeps a placeholder, and when the slice cache is
too old to act on. tests/e2e/test_endpointslice.py compares the whole with kube-controller-manager.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from examples.endpointslice import (
    MANAGED_BY,
    SliceTracker,
    TriggerTimes,
    new_slice,
    plan,
    pod_to_endpoint,
)

SERVICE: dict[str, Any] = {
    "metadata": {"name": "foo", "namespace": "test", "uid": "svc-uid", "creationTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {
        "selector": {"app": "foo"},
        "clusterIP": "10.0.0.10",
        "ipFamilies": ["IPv4"],
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}],
    },
}
NODE = {"metadata": {"name": "node-1"}}


def node(name: str) -> Optional[dict[str, Any]]:
    return NODE if name == "node-1" else None


def pod(i: int, ready: bool = True) -> dict[str, Any]:
    ip = f"10.0.{i // 256}.{i % 256}"
    return {
        "metadata": {"name": f"pod{i}", "namespace": "test", "uid": f"uid-{i}", "labels": {"app": "foo"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": "2026-01-01T00:00:00Z"}
            ],
        },
    }


def existing_slice(number: int, pods: list[dict[str, Any]]) -> dict[str, Any]:
    slice_ = new_slice(SERVICE, [{"name": "http", "port": 80, "protocol": "TCP"}], "IPv4", MANAGED_BY)
    slice_["metadata"].update(name=f"foo-{number}", uid=f"slice-{number}", generation=1)
    slice_["endpoints"] = [pod_to_endpoint(p, NODE, SERVICE, "IPv4") for p in pods]
    return slice_


def sizes(slices: list[dict[str, Any]]) -> list[int]:
    return sorted(len(s["endpoints"]) for s in slices)


def test_leftover_endpoints_go_to_new_full_slices_then_into_the_unchanged_slice_they_fill_best() -> None:
    """TestReconcileEndpointSlicesSomePreexisting: 250 pods, 62 and 61 already in two slices."""
    pods = [pod(i, ready=i % 3 != 0) for i in range(250)]
    slices = [existing_slice(1, pods[1:246:4]), existing_slice(2, pods[3:246:4])]
    writes = plan(SERVICE, pods, node, slices)
    assert (sizes(writes.create), sizes(writes.update), writes.delete) == ([100], [89], [])
    assert writes.update[0]["metadata"]["name"] == "foo-1"  # 62 + 27 = 89: closer to full than 61 + 27


def test_leftovers_that_fit_no_unchanged_slice_get_a_slice_of_their_own_rather_than_two_updates() -> None:
    """TestReconcileEndpointSlicesSomePreexistingWorseAllocation: 300 pods, 74 and 74 placed."""
    pods = [pod(i, ready=i % 3 != 0) for i in range(300)]
    slices = [existing_slice(1, pods[1:296:4]), existing_slice(2, pods[3:296:4])]
    writes = plan(SERVICE, pods, node, slices)
    assert (sizes(writes.create), writes.update, writes.delete) == ([52, 100], [], [])


def test_new_endpoints_fill_the_fullest_of_the_slices_being_updated_anyway() -> None:
    """TestReconcileEndpointSlicesUpdatePacking: both slices change (readiness), 15 pods join."""
    pods = [pod(i) for i in range(80)] + [pod(i) for i in range(100, 120)]
    slices = [existing_slice(1, pods[:80]), existing_slice(2, pods[80:])]
    pods = [pod(int(p["metadata"]["name"][3:]), ready=n % 10 != 0) for n, p in enumerate(pods)]
    pods += [pod(i) for i in range(200, 215)]
    writes = plan(SERVICE, pods, node, slices)
    assert (writes.create, sizes(writes.update), writes.delete) == ([], [20, 95], [])


def test_an_existing_placeholder_is_kept_as_it_is_and_a_missing_one_is_created() -> None:
    placeholder = new_slice(SERVICE, [], "IPv4", MANAGED_BY)
    placeholder["metadata"].update(name="foo-1", uid="slice-1")
    writes = plan(SERVICE, [], node, [placeholder])
    assert (writes.create, writes.update, writes.delete) == ([], [], [])
    created = plan(SERVICE, [], node, []).create
    assert [(s["ports"], s["endpoints"]) for s in created] == [([], [])]


def test_a_slice_of_a_former_service_of_the_same_name_is_replaced_by_an_update_of_nothing_it_owned() -> None:
    former = existing_slice(1, [pod(1)])
    former["metadata"]["ownerReferences"][0]["uid"] = "former-uid"
    writes = plan(SERVICE, [pod(1)], node, [former])
    assert (len(writes.create), writes.update, [s["metadata"]["name"] for s in writes.delete]) == (1, [], ["foo-1"])


def test_pods_on_unknown_nodes_are_left_out_and_reported_unless_not_ready_addresses_are_published() -> None:
    lost = pod(1)
    lost["spec"]["nodeName"] = "node-gone"
    writes = plan(SERVICE, [lost, pod(2)], node, [])
    assert [e["targetRef"]["name"] for e in writes.create[0]["endpoints"]] == ["pod2"]
    assert writes.missing_nodes == ["pod pod1 on node 'node-gone'"]
    publishing = {**SERVICE, "spec": {**SERVICE["spec"], "publishNotReadyAddresses": True}}
    writes = plan(publishing, [lost, pod(2)], node, [])
    assert sorted(e["targetRef"]["name"] for e in writes.create[0]["endpoints"]) == ["pod1", "pod2"]
    assert writes.missing_nodes == []


def slice_of(uid: str, generation: int) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": "test",
            "uid": uid,
            "generation": generation,
            "labels": {"kubernetes.io/service-name": "foo"},
        }
    }


def test_the_slice_cache_is_stale_until_it_shows_every_write_and_deletion_of_the_controller() -> None:
    """util/endpointslice_tracker_test.go's StaleSlices cases."""
    tracker = SliceTracker()
    assert not tracker.stale("test/foo", [])  # nothing written yet
    tracker.wrote(slice_of("a", 2))
    assert tracker.stale("test/foo", [])  # a written slice missing
    assert tracker.stale("test/foo", [slice_of("a", 1)])  # an older generation
    assert not tracker.stale("test/foo", [slice_of("a", 2)])
    assert not tracker.stale("test/foo", [slice_of("a", 3)])  # someone else wrote after
    tracker.expect_deletion(slice_of("a", 2))
    assert tracker.stale("test/foo", [slice_of("a", 2)])  # deleted, still cached
    assert not tracker.stale("test/foo", [])


def test_only_changes_the_controller_did_not_make_itself_are_news() -> None:
    tracker = SliceTracker()
    assert tracker.should_sync(slice_of("a", 1))  # never written by it
    tracker.wrote(slice_of("a", 1))
    assert not tracker.should_sync(slice_of("a", 1))  # its own write coming back
    assert tracker.should_sync(slice_of("a", 2))  # edited since
    assert tracker.deleted(slice_of("a", 1)) is False  # deleted by someone else
    tracker.wrote(slice_of("b", 1))
    tracker.expect_deletion(slice_of("b", 1))
    assert tracker.deleted(slice_of("b", 1)) is True
    assert not tracker.has(slice_of("b", 1))  # forgotten once deleted


def test_the_trigger_time_is_the_service_creation_first_then_the_earliest_new_ready_transition() -> None:
    times = TriggerTimes()
    first, second = pod(1), pod(2)
    assert times.compute("test/foo", SERVICE, [first]) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert times.compute("test/foo", SERVICE, [first]) is None  # nothing changed since
    second["status"]["conditions"][0]["lastTransitionTime"] = "2026-01-01T00:05:00Z"
    first["status"]["conditions"][0]["lastTransitionTime"] = "2026-01-01T00:03:00Z"
    assert times.compute("test/foo", SERVICE, [first, second]) == datetime(2026, 1, 1, 0, 3, tzinfo=timezone.utc)
