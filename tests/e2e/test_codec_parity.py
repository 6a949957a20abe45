"""kcore.codec.decode of the API server's protobuf equals json.loads of its JSON, for the same
objects at the same resourceVersion: every created object, every listable resource the real
kube-apiserver serves, metadata-only lists and watch streams."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Iterator

import pytest

from kcore.codec import JSON, PROTOBUF, decode, decode_compact
from tests.e2e import codec_objects
from tests.e2e.codec_difference import difference
from tests.kube_http import KubeHTTP

# componentstatuses are computed on every request by probing other components, in map order:
# two requests differ whatever the format.
LIVE = {"/api/v1/componentstatuses"}
PARTIAL = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PARTIAL_JSON = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def get(kube: KubeHTTP, path: str, accept: str) -> tuple[bytes, str]:
    resp = kube.request("GET", path, headers={"Accept": accept})
    assert resp.status == 200, f"GET {path} ({accept}) -> {resp.status}: {resp.body[:300]!r}"
    return resp.body, resp.headers.get("Content-Type", "")


def listable(kube: KubeHTTP) -> Iterator[tuple[str, dict[str, Any]]]:
    """(collection path, discovery entry) of every listable resource the server serves."""
    versions = ["/api/v1"] + [
        f"/apis/{v['groupVersion']}" for g in kube.ok("GET", "/apis")["groups"] for v in g["versions"]
    ]
    for gv in versions:
        for r in kube.ok("GET", gv)["resources"]:
            if "/" not in r["name"] and "list" in r["verbs"]:
                yield f"{gv}/{r['name']}", r


@pytest.fixture(scope="module")
def parity_objects(kube: KubeHTTP) -> Iterator[list[str]]:
    """Creates the objects of tests/e2e/codec_objects.py; yields the path of each."""
    crd = codec_objects.widget_crd()
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
    suffix = uuid.uuid4().hex[:8]
    ns = f"codec-{suffix}"
    paths = [crd_path]
    try:
        kube.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        for _ in range(100):  # the CRD's REST endpoint appears once it is Established
            conditions = kube.ok("GET", crd_path).get("status", {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            time.sleep(0.1)
        kube.ok("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
        for collection, body in codec_objects.namespaced(ns) + codec_objects.cluster(suffix):
            created = kube.ok("POST", collection, body)
            paths.append(f"{collection}/{created['metadata']['name']}")
        yield paths
    finally:
        for path in reversed(paths):
            kube.request("DELETE", path)
        kube.request("DELETE", f"/api/v1/namespaces/{ns}")


def test_every_created_object_decodes_from_protobuf_to_its_json(kube: KubeHTTP, parity_objects: list[str]) -> None:
    compared, json_only, problems = 0, [], []
    for path in parity_objects:
        want = json.loads(get(kube, path, JSON)[0])
        body, ctype = get(kube, path, f"{PROTOBUF}, {JSON};q=0.5")
        if not ctype.startswith(PROTOBUF):
            json_only.append(path)  # custom resources are served as JSON only
            continue
        compared += 1
        for name, got in (
            ("decode", decode(body, PROTOBUF)),
            ("decode_compact", decode_compact(body, PROTOBUF).to_dict()),
        ):
            d = difference(got, want)
            if d:
                problems.append(f"{name} {path}: {d}")
    assert not problems, "\n".join(problems)
    assert json_only == [p for p in parity_objects if "/widgets/" in p]
    assert compared == len(parity_objects) - 1


def test_every_listable_resource_lists_the_same_from_protobuf_as_json(
    kube: KubeHTTP, parity_objects: list[str]
) -> None:
    compared, problems = set(), []
    for path, resource in listable(kube):
        if path in LIVE:
            continue
        body = get(kube, path, JSON)[0]
        want = json.loads(body)
        rv = want["metadata"]["resourceVersion"]
        pb, ctype = get(kube, f"{path}?resourceVersion={rv}&resourceVersionMatch=Exact", f"{PROTOBUF}, {JSON};q=0.5")
        if not ctype.startswith(PROTOBUF):
            assert resource["kind"] == "Widget", f"{path} is built in but was not served as protobuf"
            continue
        compared.add(resource["kind"])
        d = difference(decode(pb, PROTOBUF), want) or difference(decode_compact(pb, PROTOBUF).to_dict(), want)
        if d:
            problems.append(f"{path}: {d}")
    assert not problems, "\n".join(problems)
    # Every kind of built-in object the fixture made was among those compared.
    assert {
        "Pod",
        "ConfigMap",
        "CustomResourceDefinition",
        "Lease",
        "Event",
        "ResourceSlice",
        "APIService",
        "FlowSchema",
    } <= compared
    assert len(compared) >= 50


def test_metadata_only_lists_match_for_every_resource_including_custom_ones(
    kube: KubeHTTP, parity_objects: list[str]
) -> None:
    problems, widgets = [], 0
    for path, resource in listable(kube):
        if path in LIVE:
            continue
        want = json.loads(get(kube, path, PARTIAL_JSON)[0])
        rv = want["metadata"]["resourceVersion"]
        pb, ctype = get(kube, f"{path}?resourceVersion={rv}&resourceVersionMatch=Exact", PARTIAL)
        assert ctype.startswith(PROTOBUF), f"{path}: {ctype}"
        widgets += resource["kind"] == "Widget"
        d = difference(decode(pb, PROTOBUF), want)
        if d:
            problems.append(f"{path}: {d}")
    assert not problems, "\n".join(problems)
    assert widgets == 1


def test_empty_lists_decode_to_an_empty_items_array(kube: KubeHTTP, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    want = json.loads(get(kube, path, JSON)[0])
    assert want["items"] == []
    assert decode(get(kube, path, PROTOBUF)[0], PROTOBUF) == want


def test_pods_of_one_template_list_the_same_and_as_independent_objects(kube: KubeHTTP, namespace: str) -> None:
    # Pods a ReplicaSet makes share containers, volumes, owner references and managed fields byte
    # for byte; the protobuf decoder renders those once and copies them (tests/unit pins the rule).
    for i in range(20):
        kube.ok(
            "POST",
            f"/api/v1/namespaces/{namespace}/pods",
            {"metadata": codec_objects.meta(f"web-{i}"), "spec": codec_objects.pod_spec()},
        )
    path = f"/api/v1/namespaces/{namespace}/pods"
    want = json.loads(get(kube, path, JSON)[0])
    rv = want["metadata"]["resourceVersion"]
    pods = decode(get(kube, f"{path}?resourceVersion={rv}&resourceVersionMatch=Exact", PROTOBUF)[0], PROTOBUF)
    assert difference(pods, want) is None
    containers = [p["spec"]["containers"][0] for p in pods["items"]]
    assert len(containers) == 20 and all(c == containers[0] for c in containers)
    containers[0]["env"].clear()
    assert all(c["env"] for c in containers[1:])
