"""Writes of built-in kinds go as Kubernetes protobuf, as client-go sends them; patches, custom
resources and objects protobuf cannot carry go as JSON. A FaultProxy (forwarding everything)
records what went over the wire; the real API server's answers show it read every body."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kcore import Config
from kcore.clients import Clientset, RESTClient
from kcore.codec import JSON, PROTOBUF
from kcore.errors import Conflict
from tests.e2e.crds import widgets_crd
from tests.fault_proxy import FaultProxy


@pytest.fixture
def clientset(config: Config, proxy: FaultProxy) -> Clientset:
    return Clientset(dataclasses.replace(config, server=proxy.url))


def pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]},
    }


def sent(proxy: FaultProxy, method: str) -> list[tuple[str, bytes]]:
    return [(content_type, body) for m, _, content_type, body in proxy.sent if m == method]


def test_a_created_pod_goes_as_protobuf_and_the_server_stores_what_it_was_sent(
    clientset: Clientset,
    proxy: FaultProxy,
    namespace: str,
) -> None:
    created = clientset.core_v1.pods(namespace).create(pod("proto"))
    ((content_type, body),) = sent(proxy, "POST")
    assert content_type == PROTOBUF and body.startswith(b"k8s\x00")
    assert created["metadata"]["labels"] == {"app": "web"}
    assert created["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_updates_and_status_updates_go_as_protobuf(clientset: Clientset, proxy: FaultProxy, namespace: str) -> None:
    pods = clientset.core_v1.pods(namespace)
    current = pods.create(pod("updated"))
    changed = {**current, "metadata": {**current["metadata"], "labels": {"app": "api"}}}
    updated = pods.update(changed)
    status = {**updated, "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    pods.update_status(status)
    assert [content_type for content_type, _ in sent(proxy, "PUT")] == [PROTOBUF, PROTOBUF]
    got = pods.get("updated")
    assert got["metadata"]["labels"] == {"app": "api"} and got["status"]["phase"] == "Running"


def test_delete_options_go_as_protobuf_and_the_server_reads_their_preconditions(
    clientset: Clientset,
    proxy: FaultProxy,
    namespace: str,
) -> None:
    maps = clientset.core_v1.config_maps(namespace)
    maps.create({"metadata": {"name": "guarded"}})
    with pytest.raises(Conflict):
        maps.delete("guarded", preconditions={"uid": "not-its-uid"})
    assert [content_type for content_type, _ in sent(proxy, "DELETE")] == [PROTOBUF]


def test_patches_go_as_their_patch_type(clientset: Clientset, proxy: FaultProxy, namespace: str) -> None:
    maps = clientset.core_v1.config_maps(namespace)
    maps.create({"metadata": {"name": "patched"}})
    maps.patch("patched", {"data": {"a": "b"}})
    assert [content_type for content_type, _ in sent(proxy, "PATCH")] == ["application/merge-patch+json"]
    assert maps.get("patched")["data"] == {"a": "b"}


def test_an_object_with_a_field_its_kind_lacks_goes_as_json_for_the_server_to_judge(
    clientset: Clientset,
    proxy: FaultProxy,
    namespace: str,
) -> None:
    created = clientset.core_v1.config_maps(namespace).create(
        {"metadata": {"name": "odd"}, "data": {"a": "b"}, "bogus": 1}
    )
    assert [content_type for content_type, _ in sent(proxy, "POST")] == [JSON]
    assert created["data"] == {"a": "b"} and "bogus" not in created


def test_custom_resources_go_as_json_even_from_a_protobuf_client(
    config: Config, proxy: FaultProxy, namespace: str
) -> None:
    with widgets_crd(config) as widgets:
        rest = RESTClient(dataclasses.replace(config, server=proxy.url), group=widgets.group, version="v1")
        assert rest.protobuf
        widget = {
            "apiVersion": f"{widgets.group}/v1",
            "kind": widgets.kind,
            "metadata": {"name": "w"},
            "spec": {"size": 3},
        }
        created = rest.post().namespace(namespace).resource(widgets.plural).body(widget).do()
        assert [content_type for content_type, _ in sent(proxy, "POST")] == [JSON]
        assert created["spec"] == {"size": 3}
