"""DynamicClient against the real API server: configmaps and a CRD's custom resources."""

from __future__ import annotations

import asyncio
from typing import Iterator

import pytest

from kcore import Config
from kcore.clients.dynamic import AsyncDynamicClient, DynamicClient
from kcore.errors import AlreadyExists, NoMatchError, NotFound
from tests.clusters import configmap
from tests.e2e.crds import Widgets, widgets_crd


@pytest.fixture(scope="module")
def dyn(config: Config) -> DynamicClient:
    return DynamicClient(config)


@pytest.fixture(scope="module")
def widgets(config: Config, dyn: DynamicClient) -> Iterator[Widgets]:
    dyn.discovery.server_apis()  # cached before the CRD exists: the client must notice it anyway
    with widgets_crd(config) as crd:
        yield crd


def widget(group: str, name: str, **spec: object) -> dict:
    return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def test_configmaps_create_get_list_update_patch_delete(dyn: DynamicClient, namespace: str) -> None:
    cms = dyn.resource("", "v1", "configmaps").namespace(namespace)
    created = cms.create(configmap("a", k="v"))
    assert created["metadata"]["namespace"] == namespace
    with pytest.raises(AlreadyExists):
        cms.create(configmap("a"))
    fetched = cms.get("a")
    fetched["data"]["k"] = "v2"
    assert cms.update(fetched)["data"] == {"k": "v2"}
    assert cms.patch("a", {"data": {"p": "1"}})["data"] == {"k": "v2", "p": "1"}
    assert [c["metadata"]["name"] for c in cms.list()["items"]] == ["a"]
    cms.delete("a")
    with pytest.raises(NotFound):
        cms.get("a")


def test_the_handle_itself_lists_across_namespaces_and_serves_cluster_scoped_resources(
    dyn: DynamicClient, namespace: str
) -> None:
    configmaps = dyn.resource("", "v1", "configmaps")
    configmaps.namespace(namespace).create(configmap("everywhere"))
    found = [(c["metadata"]["namespace"], c["metadata"]["name"]) for c in configmaps.list()["items"]]
    assert (namespace, "everywhere") in found
    namespaces = dyn.resource("", "v1", "namespaces")
    assert namespaces.info.namespaced is False
    assert namespaces.get(namespace)["metadata"]["name"] == namespace


def test_custom_resources_full_lifecycle_with_status_and_delete_collection(
    dyn: DynamicClient, widgets: Widgets, namespace: str
) -> None:
    client = dyn.resource(widgets.group, "v1", "widgets").namespace(namespace)
    created = client.create(widget(widgets.group, "w1", size=1))
    assert created["spec"] == {"size": 1} and created["kind"] == "Widget"
    created["spec"]["size"] = 2
    assert client.update(created)["spec"] == {"size": 2}
    current = client.get("w1")
    current["status"] = {"ready": True}
    assert client.update_status(current)["status"] == {"ready": True}
    patched = client.patch("w1", [{"op": "replace", "path": "/spec/size", "value": 3}], patch_type="json")
    assert patched["spec"] == {"size": 3} and patched["status"] == {"ready": True}
    client.create(widget(widgets.group, "w2"))
    assert sorted(w["metadata"]["name"] for w in client.iter()) == ["w1", "w2"]
    client.delete("w1")
    client.delete_collection()
    assert client.list()["items"] == []


def test_watch_sees_a_custom_resource_added_modified_and_deleted(
    dyn: DynamicClient, widgets: Widgets, namespace: str
) -> None:
    client = dyn.resource(widgets.group, "v1", "widgets").namespace(namespace)
    start = client.list()["metadata"]["resourceVersion"]
    client.create(widget(widgets.group, "watched", size=1))
    client.patch("watched", {"spec": {"size": 2}})
    client.delete("watched")
    seen = []
    with client.watch(resource_version=start, timeout_seconds=5) as events:
        for event_type, obj in events:
            if event_type != "BOOKMARK":
                seen.append((event_type, obj["metadata"]["name"], obj["spec"]["size"]))
            if event_type == "DELETED":
                break
    assert seen == [("ADDED", "watched", 1), ("MODIFIED", "watched", 2), ("DELETED", "watched", 2)]


def test_server_side_apply_creates_then_changes_only_the_managers_fields(
    dyn: DynamicClient, widgets: Widgets, namespace: str
) -> None:
    client = dyn.resource(widgets.group, "v1", "widgets").namespace(namespace)
    applied = client.apply(widget(widgets.group, "ssa", size=1, colour="red"), field_manager="kcore-test")
    assert applied["spec"] == {"size": 1, "colour": "red"}
    assert [m["manager"] for m in applied["metadata"]["managedFields"]] == ["kcore-test"]
    again = client.apply(widget(widgets.group, "ssa", size=5), field_manager="kcore-test")
    assert again["spec"] == {"size": 5}  # the field it no longer applies is removed


def test_apply_refuses_an_object_carrying_managed_fields_and_sends_nothing(
    dyn: DynamicClient, widgets: Widgets, namespace: str
) -> None:
    client = dyn.resource(widgets.group, "v1", "widgets").namespace(namespace)
    obj = widget(widgets.group, "owned")
    obj["metadata"]["managedFields"] = [{"manager": "someone", "operation": "Apply"}]
    with pytest.raises(ValueError, match="metadata.managedFields"):
        client.apply(obj, field_manager="kcore-test")
    with pytest.raises(NotFound):
        client.get("owned")


def test_a_resource_is_found_by_kind_short_name_or_singular(dyn: DynamicClient, widgets: Widgets) -> None:
    by_kind = dyn.resource_for_kind(f"{widgets.group}/v1", "Widget")
    assert (by_kind.info.resource, by_kind.info.namespaced) == ("widgets", True)
    assert dyn.resource(widgets.group, "v1", "wdg").info == by_kind.info
    assert dyn.resource_for_kind("apps/v1", "Deployment").info.resource == "deployments"
    assert dyn.resource_for_kind("v1", "Pod").info.resource == "pods"


def test_unknown_resources_and_kinds_raise_no_match(dyn: DynamicClient) -> None:
    with pytest.raises(NoMatchError, match="no resource 'gizmos' in 'example.com/v1'"):
        dyn.resource("example.com", "v1", "gizmos")
    with pytest.raises(NoMatchError, match="no kind 'Deployment' in 'apps/v9'"):
        dyn.resource_for_kind("apps/v9", "Deployment")
    with pytest.raises(ValueError, match="api_version must be"):
        dyn.resource_for_kind("apps/", "Deployment")
    with pytest.raises(ValueError, match="a namespace name is required"):
        dyn.resource("", "v1", "configmaps").namespace("")


def test_the_async_twin_creates_lists_watches_applies_and_deletes(
    config: Config, widgets: Widgets, namespace: str
) -> None:
    async def scenario() -> list[tuple[str, str]]:
        dyn = AsyncDynamicClient(config)
        client = (await dyn.resource_for_kind(f"{widgets.group}/v1", "Widget")).namespace(namespace)
        start = (await client.list())["metadata"]["resourceVersion"]
        await client.create(widget(widgets.group, "a1"))
        await client.apply(widget(widgets.group, "a1", size=9), field_manager="kcore-test")
        assert (await client.get("a1"))["spec"] == {"size": 9}
        owned = await client.get("a1")
        with pytest.raises(ValueError, match="managedFields"):
            await client.apply(owned, field_manager="kcore-test")
        await client.delete("a1")
        seen = []
        async with await client.watch(resource_version=start, timeout_seconds=5) as events:
            async for event_type, obj in events:
                seen.append((event_type, obj["metadata"]["name"]))
                if event_type == "DELETED":
                    break
        return seen

    assert asyncio.run(scenario()) == [("ADDED", "a1"), ("MODIFIED", "a1"), ("DELETED", "a1")]
