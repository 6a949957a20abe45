"""kcore.codec.encode's protobuf is accepted by the real kube-apiserver and means the same as
the JSON: each fixture object is created once from JSON and once from encode(…, PROTOBUF),
and the server's JSON of the two is the same but for what the server assigns itself."""

from __future__ import annotations

import json
import uuid
from typing import Any, Iterator

import pytest

from kcore.codec import JSON, PROTOBUF, EncodeError, encode
from tests.e2e import codec_objects
from tests.e2e.codec_difference import difference
from tests.kube_http import KubeHTTP


def assigned_by_server_dropped(obj: dict[str, Any]) -> dict[str, Any]:
    # The uid and name also stand in labels and selectors the server derives (a Job's, say).
    text = (
        json.dumps(obj)
        .replace(obj["metadata"]["uid"], "<uid>")
        .replace(json.dumps(obj["metadata"]["name"]), '"<name>"')
    )
    obj = json.loads(text)
    for k in ("resourceVersion", "creationTimestamp"):
        obj["metadata"].pop(k, None)
    for entry in obj["metadata"].get("managedFields", []):
        entry.pop("time", None)
    if obj["kind"] == "Service":
        for k in ("clusterIP", "clusterIPs"):
            obj["spec"].pop(k, None)
    return obj


def without_empty_lists(value: Any) -> Any:
    """What protobuf can say of a value: a repeated field with no items is no field at all."""
    if isinstance(value, dict):
        return {k: without_empty_lists(v) for k, v in value.items() if v != []}
    if isinstance(value, list):
        return [without_empty_lists(v) for v in value]
    return value


@pytest.fixture
def scratch(kube: KubeHTTP) -> Iterator[tuple[str, str, list[str]]]:
    suffix = uuid.uuid4().hex[:8]
    ns = f"codec-rt-{suffix}"
    kube.ok("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    created: list[str] = []
    yield ns, suffix, created
    for path in reversed(created):
        kube.request("DELETE", path)
    kube.request("DELETE", f"/api/v1/namespaces/{ns}")


def test_objects_posted_as_protobuf_read_back_like_the_same_posted_as_json(
    kube: KubeHTTP, scratch: tuple[str, str, list[str]]
) -> None:
    ns, suffix, created = scratch
    compared, problems = [], []
    for collection, body in codec_objects.namespaced(ns) + codec_objects.cluster(f"rt-{suffix}"):
        if "/widgets" in collection:
            continue  # needs the CRD, and custom resources are JSON only (see the test below)
        via_json = kube.ok("POST", collection, without_empty_lists(body))
        created.append(f"{collection}/{via_json['metadata']['name']}")
        typed = {"apiVersion": via_json["apiVersion"], "kind": via_json["kind"], **body}
        typed["metadata"] = {**body["metadata"], "name": body["metadata"]["name"] + "-pb"}
        resp = kube.request("POST", collection, encode(typed, PROTOBUF), headers={"Content-Type": PROTOBUF})
        assert resp.status == 201, f"POST {collection} as protobuf -> {resp.status}: {resp.body[:300]!r}"
        path = f"{collection}/{typed['metadata']['name']}"
        created.append(path)
        via_protobuf = kube.ok("GET", path)
        d = difference(assigned_by_server_dropped(via_protobuf), assigned_by_server_dropped(via_json))
        if d:
            problems.append(f"{collection}: {d}")
        compared.append(via_json["kind"])
    assert not problems, "\n".join(problems)
    assert len(compared) == len(codec_objects.namespaced(ns)) - 1 + len(codec_objects.cluster(suffix))


def test_custom_resources_cannot_be_encoded_as_protobuf() -> None:
    widget = codec_objects.namespaced("ns")[-1][1]
    with pytest.raises(EncodeError, match="custom resources are JSON only"):
        encode(widget, PROTOBUF)
    assert json.loads(encode(widget, JSON)) == widget
