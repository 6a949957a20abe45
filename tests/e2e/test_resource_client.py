"""ResourceClient: every verb on one resource, against the real API server."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import Any, Iterator

import pytest

from kcore import Config
from kcore.clients.resource import AsyncResourceClient, ResourceClient, ResourceInfo
from kcore.clients.rest import AsyncRESTClient, RESTClient
from kcore.errors import ApiError, Conflict, Gone, NotFound
from kcore.testenv import KWOK_NODE_ANNOTATION, ControlPlane
from tests.clusters import admin_config, compact_etcd, configmap
from tests.fault_proxy import FaultProxy
from tests.waiting import wait_for

CONFIGMAPS = ResourceInfo("", "v1", "configmaps", "ConfigMap", namespaced=True)
PODS = ResourceInfo("", "v1", "pods", "Pod", namespaced=True)
NODES = ResourceInfo("", "v1", "nodes", "Node", namespaced=False)
DEPLOYMENTS = ResourceInfo("apps", "v1", "deployments", "Deployment", namespaced=True)


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }


def test_crud_through_a_namespaced_client(core: RESTClient, namespace: str) -> None:
    cms: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS, namespace)
    created = cms.create(configmap("a", k="1"))
    assert created["metadata"]["namespace"] == namespace
    assert cms.get("a")["data"] == {"k": "1"}
    created["data"]["k"] = "2"
    assert cms.update(created)["data"] == {"k": "2"}
    assert cms.patch("a", {"data": {"j": "3"}})["data"] == {"k": "2", "j": "3"}
    assert [c["metadata"]["name"] for c in cms.list()["items"]] == ["a"]
    cms.delete("a")
    with pytest.raises(NotFound):
        cms.get("a")


def test_an_object_carries_its_namespace_to_a_client_without_one(core: RESTClient, namespace: str) -> None:
    everywhere: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS)
    obj = configmap("mine")
    obj["metadata"]["namespace"] = namespace
    assert everywhere.create(obj)["metadata"]["namespace"] == namespace
    assert "mine" in {c["metadata"]["name"] for c in everywhere.list()["items"]}  # all namespaces
    with pytest.raises(ValueError, match="namespaced"):
        everywhere.get("mine")
    with pytest.raises(ValueError, match="cluster-scoped"):
        ResourceClient(core, NODES, namespace)


def test_dry_run_and_apply(core: RESTClient, namespace: str) -> None:
    cms: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS, namespace)
    cms.create(configmap("dry"), dry_run=True)
    with pytest.raises(NotFound):
        cms.get("dry")
    applied = cms.apply(configmap("applied", a="1"), field_manager="tests")
    assert applied["metadata"]["managedFields"][0]["manager"] == "tests"
    with pytest.raises(Conflict):
        cms.apply(configmap("applied", a="2"), field_manager="other")
    assert cms.apply(configmap("applied", a="2"), field_manager="other", force=True)["data"] == {"a": "2"}
    with pytest.raises(ValueError, match="field_manager"):
        cms.apply(configmap("applied"), field_manager="")


def test_delete_honours_preconditions_and_delete_collection_honours_selectors(core: RESTClient, namespace: str) -> None:
    cms: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS, namespace)
    created = cms.create(configmap("guarded"))
    with pytest.raises(Conflict):
        cms.delete("guarded", preconditions={"uid": "00000000-0000-0000-0000-000000000000"})
    # Background: no garbage collector runs here to finish a Foreground deletion.
    cms.delete("guarded", preconditions={"uid": created["metadata"]["uid"]}, propagation_policy="Background")
    for name, team in [("x", "red"), ("y", "red"), ("z", "blue")]:
        obj = configmap(name)
        obj["metadata"]["labels"] = {"team": team}
        cms.create(obj)
    cms.delete_collection(label_selector="team=red")
    assert sorted(c["metadata"]["name"] for c in cms.list()["items"]) == ["z"]


def test_iter_pages_through_two_thousand_objects(config: Config, core: RESTClient, namespace: str) -> None:
    async def create_all() -> None:
        cms: AsyncResourceClient[dict] = AsyncResourceClient(AsyncRESTClient(config), CONFIGMAPS, namespace)
        for start in range(0, 2000, 200):
            await asyncio.gather(*[cms.create(configmap(f"cm-{i:04d}")) for i in range(start, start + 200)])

    asyncio.run(create_all())
    cms: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS, namespace)
    names = [c["metadata"]["name"] for c in cms.iter()]
    assert names == [f"cm-{i:04d}" for i in range(2000)]
    first = cms.list(limit=500)
    assert len(first["items"]) == 500 and first["metadata"]["continue"]


def test_iter_in_asyncio_matches_list(config: Config, core: RESTClient, namespace: str) -> None:
    cms: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS, namespace)
    for i in range(7):
        cms.create(configmap(f"a{i}"))

    async def names() -> list[str]:
        client: AsyncResourceClient[dict] = AsyncResourceClient(AsyncRESTClient(config), CONFIGMAPS, namespace)
        return [c["metadata"]["name"] async for c in client.iter(page_size=3)]

    assert asyncio.run(names()) == [f"a{i}" for i in range(7)]


# -- subresources --------------------------------------------------------------------------------


def test_status_and_scale_subresources_of_a_deployment(config: Config, namespace: str) -> None:
    deployments: ResourceClient[dict] = ResourceClient(RESTClient(config, group="apps"), DEPLOYMENTS, namespace)
    deployment = deployments.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        }
    )
    deployment["status"] = {"replicas": 1, "observedGeneration": 1}
    assert deployments.update_status(deployment)["status"]["observedGeneration"] == 1

    scale = deployments.get_subresource("web", "scale")
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    scale["spec"]["replicas"] = 3
    deployments.replace_subresource("web", "scale", scale)
    assert deployments.get("web")["spec"]["replicas"] == 3


def test_binding_eviction_and_ephemeral_containers_of_pods(core: RESTClient, namespace: str) -> None:
    pods: ResourceClient[dict] = ResourceClient(core, PODS, namespace)
    ResourceClient(core, NODES).create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{namespace}"}})

    pods.create(pod("bound"))
    pods.create_subresource(
        "bound",
        "binding",
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "bound"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": f"node-{namespace}"},
        },
    )
    assert pods.get("bound")["spec"]["nodeName"] == f"node-{namespace}"

    pods.create(pod("debugged"))
    current = pods.get_subresource("debugged", "ephemeralcontainers")
    current["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox", "targetContainerName": "app"}]
    pods.replace_subresource("debugged", "ephemeralcontainers", current)
    assert [c["name"] for c in pods.get("debugged")["spec"]["ephemeralContainers"]] == ["debug"]

    pods.create(pod("evicted"))
    pods.create_subresource(
        "evicted",
        "eviction",
        {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": "evicted", "namespace": namespace},
        },
    )
    with pytest.raises(NotFound):
        pods.get("evicted")  # not scheduled, so no grace period: eviction deletes it at once


def test_log_of_a_pod_without_a_node_is_empty_and_its_proxy_is_refused(core: RESTClient, namespace: str) -> None:
    pods: ResourceClient[dict] = ResourceClient(core, PODS, namespace)
    pods.create(pod("nowhere"))
    assert pods.log("nowhere", container="app", tail_lines=10) == ""  # the server answers 204: nothing yet
    with pytest.raises(ApiError) as proxy_error:
        pods.proxy("nowhere", "healthz", port=8080)
    assert (proxy_error.value.code, proxy_error.value.reason) == (400, "BadRequest")


@pytest.fixture(scope="module")
def kwok_plane() -> Iterator[ControlPlane]:
    """A plane whose fake kubelet (kwok) serves every container's log from cp.container_log."""
    with ControlPlane(with_kwok=True) as plane:
        yield plane


def test_follow_log_streams_the_lines_a_container_writes_as_they_are_written(kwok_plane: ControlPlane) -> None:
    core = RESTClient(admin_config(kwok_plane))
    ResourceClient(core, NODES).create(
        {"metadata": {"name": "kubelet-1", "annotations": {KWOK_NODE_ANNOTATION: "fake"}}}
    )
    pods: ResourceClient[dict] = ResourceClient(core, PODS, "default")
    pods.create({**pod("writer"), "spec": {**pod("writer")["spec"], "nodeName": "kubelet-1"}})
    assert wait_for(lambda: pods.get("writer")["status"].get("phase") == "Running", timeout=60), (
        "kwok did not run the pod"
    )

    def write(text: str) -> None:
        with kwok_plane.container_log.open("a") as log:
            log.write(f"2026-01-01T00:00:00.000000000Z stdout F {text}\n")

    write("first line")
    assert pods.log("writer") == "first line\n"
    following = pods.follow_log("writer")
    received = next(following)
    write("second line")
    while received.count(b"\n") < 2:
        received += next(following)
    following.close()
    assert received == b"first line\nsecond line\n"


# -- watch ---------------------------------------------------------------------------------------


def test_a_single_watch_request_ends_with_the_server_timeout(core: RESTClient, namespace: str) -> None:
    cms: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS, namespace)
    start = cms.list()["metadata"]["resourceVersion"]
    cms.create(configmap("seen"))
    events = [(t, o["metadata"]["name"]) for t, o in cms.watch(resource_version=start, timeout_seconds=2)]
    assert events == [("ADDED", "seen")]


def test_a_resuming_watch_loses_no_event_when_its_connection_is_cut_again_and_again(
    control_plane: ControlPlane, config: Config, core: RESTClient, namespace: str
) -> None:
    direct: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS, namespace)
    with FaultProxy(control_plane) as proxy:
        through_proxy: ResourceClient[dict] = ResourceClient(
            RESTClient(dataclasses.replace(config, server=proxy.url)), CONFIGMAPS, namespace
        )
        watch = through_proxy.watch()
        seen: list[str] = []
        done = threading.Event()

        def consume() -> None:
            for event_type, obj in watch:
                if event_type == "ADDED":
                    seen.append(obj["metadata"]["name"])
                if len(seen) == 60:
                    break
            done.set()

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        cuts = 0
        for batch in range(6):
            for i in range(10):  # made while the watch is cut off and reconnecting, but the first
                direct.create(configmap(f"e{batch}{i}"))
            # Once this batch came through, the stream is up: cut it, and make the reconnection
            # meet throttling and an outage before it gets through.
            assert wait_for(lambda: len(seen) >= 10 * (batch + 1), 60), f"the watch saw {len(seen)} events"
            proxy.faults.extend(["429", "503"])
            cuts += proxy.cut_streams()
        assert done.wait(60), f"the watch saw {len(seen)} of 60 events"
        watch.close()
    assert seen == [f"e{b}{i}" for b in range(6) for i in range(10)]  # each once, in order
    assert cuts == 6


def test_a_resuming_watch_raises_gone_when_its_version_is_compacted(etcd_backed_plane: ControlPlane) -> None:
    cms: ResourceClient[dict] = ResourceClient(RESTClient(admin_config(etcd_backed_plane)), CONFIGMAPS, "default")
    old = cms.create(configmap("before-compaction"))["metadata"]["resourceVersion"]
    cms.create(configmap("after-1"))
    cms.create(configmap("after-2"))
    compact_etcd(etcd_backed_plane)
    with pytest.raises(Gone):
        for _ in cms.watch(resource_version=old):
            pass


def test_a_streaming_list_sends_the_current_objects_then_the_initial_events_bookmark(
    core: RESTClient, namespace: str
) -> None:
    cms: ResourceClient[dict] = ResourceClient(core, CONFIGMAPS, namespace)
    for name in ("one", "two"):
        cms.create(configmap(name))
    watch = cms.watch(send_initial_events=True)
    events = []
    for event_type, obj in watch:
        annotations = obj["metadata"].get("annotations")
        if event_type == "BOOKMARK" and not annotations:
            continue  # a periodic bookmark may come first on a busy server
        events.append((event_type, obj["metadata"].get("name"), annotations))
        if event_type == "BOOKMARK":
            break
    cms.create(configmap("three"))
    # The server may also send a periodic BOOKMARK at any time; the next real event is "three".
    event_type, obj = next((t, o) for t, o in watch if t != "BOOKMARK")
    watch.close()
    # The current objects, then the bookmark that ends them. A stream broken before that bookmark
    # starts the streaming list again (documented), so on a busy machine the listing may repeat.
    assert events[-3:] == [
        ("ADDED", "one", None),
        ("ADDED", "two", None),
        ("BOOKMARK", None, {"k8s.io/initial-events-end": "true"}),
    ]
    assert set(events[:-3]) <= {("ADDED", "one", None), ("ADDED", "two", None)}
    assert (event_type, obj["metadata"]["name"]) == ("ADDED", "three")
    assert watch.resource_version == obj["metadata"]["resourceVersion"]  # bookmarks and events advance it


def test_closing_a_watch_from_another_thread_ends_iteration(core: RESTClient, namespace: str) -> None:
    watch = ResourceClient(core, CONFIGMAPS, namespace).watch()
    threading.Timer(0.5, watch.close).start()
    assert list(watch) == []


def test_async_resuming_watch_sees_creations(config: Config, namespace: str) -> None:
    async def scenario() -> list[str]:
        cms: AsyncResourceClient[dict] = AsyncResourceClient(AsyncRESTClient(config), CONFIGMAPS, namespace)
        watch = await cms.watch()
        names: list[str] = []

        async def consume() -> None:
            async for _event_type, obj in watch:
                names.append(obj["metadata"]["name"])
                if len(names) == 5:
                    watch.close()

        reader = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        for i in range(5):
            await cms.create(configmap(f"async-{i}"))
        await asyncio.wait_for(reader, 30)
        return names

    assert asyncio.run(scenario()) == [f"async-{i}" for i in range(5)]
