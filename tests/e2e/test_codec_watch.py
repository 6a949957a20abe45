"""kcore.codec.WatchDecoder on the real kube-apiserver's watch streams: the protobuf stream
decodes to the same events as the JSON stream, pairwise, whatever the chunking."""

from __future__ import annotations

import json
import random
import urllib.request
from typing import Any

from kcore.codec import JSON, PROTOBUF, WatchDecoder, decode
from kcore.testenv import ControlPlane
from tests.e2e import codec_objects
from tests.kube_http import KubeHTTP


def events(body: bytes, content_type: str, *, compact: bool = False, seed: int = 0) -> list[tuple[str, Any]]:
    """The events of a whole watch body, fed in random chunks of 1 to 4096 bytes."""
    decoder, out, pos, rnd = WatchDecoder(content_type, compact=compact), [], 0, random.Random(seed)
    while pos < len(body):
        step = rnd.randint(1, 4096)
        out += decoder.feed(body[pos : pos + step])
        pos += step
    decoder.close()
    return [(t, o.to_dict() if compact else o) for t, o in out]


def watch(kube: KubeHTTP, path: str, query: str, accept: str) -> bytes:
    resp = kube.request("GET", f"{path}?watch=1&{query}&timeoutSeconds=1", headers={"Accept": accept})
    assert resp.status == 200, resp.body[:300]
    return resp.body


def test_protobuf_and_json_watch_streams_give_the_same_events(kube: KubeHTTP, namespace: str) -> None:
    cms = f"/api/v1/namespaces/{namespace}/configmaps"
    rv = kube.ok("GET", cms)["metadata"]["resourceVersion"]
    for path, body in codec_objects.namespaced(namespace):
        if path == cms:  # the three ConfigMaps: bytes, an empty map, nothing at all
            kube.ok("POST", cms, body)
    kube.ok(
        "PATCH",
        f"{cms}/parity-data",
        {"data": {"added": "\u00e9"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    kube.ok("DELETE", f"{cms}/parity-bare")

    from_json = events(watch(kube, cms, f"resourceVersion={rv}", JSON), JSON)
    body = watch(kube, cms, f"resourceVersion={rv}", PROTOBUF)
    assert [t for t, _ in from_json] == ["ADDED", "ADDED", "ADDED", "MODIFIED", "DELETED"]
    for seed in range(3):
        assert events(body, PROTOBUF, seed=seed) == from_json
    assert events(body, PROTOBUF, compact=True) == from_json


def test_initial_events_and_their_bookmark_decode_alike(kube: KubeHTTP, namespace: str) -> None:
    secrets = f"/api/v1/namespaces/{namespace}/secrets"
    for path, body in codec_objects.namespaced(namespace):
        if path == secrets:
            kube.ok("POST", secrets, body)
    rv = kube.ok("GET", secrets)["metadata"]["resourceVersion"]
    query = f"sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion={rv}&allowWatchBookmarks=true"
    from_json = events(watch(kube, secrets, query, JSON), JSON)
    from_protobuf = events(watch(kube, secrets, query, PROTOBUF), PROTOBUF)
    assert [t for t, _ in from_json] == ["ADDED", "BOOKMARK"]
    assert from_json[1][1]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert from_protobuf == from_json


def test_every_watch_frame_holds_the_object_a_get_returns(kube: KubeHTTP, namespace: str) -> None:
    pods = f"/api/v1/namespaces/{namespace}/pods"
    rv = kube.ok("GET", pods)["metadata"]["resourceVersion"]
    for path, body in codec_objects.namespaced(namespace):
        if path == pods:
            kube.ok("POST", pods, body)
    ((kind, obj),) = events(watch(kube, pods, f"resourceVersion={rv}", PROTOBUF), PROTOBUF)
    assert kind == "ADDED"
    assert obj == json.loads(kube.request("GET", f"{pods}/parity-pod").body)
    assert obj == decode(kube.request("GET", f"{pods}/parity-pod", headers={"Accept": PROTOBUF}).body, PROTOBUF)


def test_error_events_carry_the_same_status_in_both_formats() -> None:
    # An ERROR event comes from etcd: with the watch cache off, a watch from a compacted
    # resourceVersion gets "410 Expired" as an event of the stream itself.
    with ControlPlane(apiserver_args={"watch-cache": "false"}) as cp:
        kube = KubeHTTP(cp.server, str(cp.ca_file), token=cp.token)
        cms = "/api/v1/namespaces/default/configmaps"
        first = kube.ok("POST", cms, {"metadata": {"name": "old"}})["metadata"]["resourceVersion"]
        for name in ("newer", "newest"):  # history past `first` that compaction then drops
            kube.ok("POST", cms, {"metadata": {"name": name}})
        latest = kube.ok("GET", cms)["metadata"]["resourceVersion"]
        compact = json.dumps({"revision": latest, "physical": True}).encode()
        urllib.request.urlopen(
            urllib.request.Request(f"{cp.etcd_url}/v3/kv/compaction", data=compact, method="POST")
        ).read()
        from_json = events(watch(kube, cms, f"resourceVersion={first}", JSON), JSON)
        from_protobuf = events(watch(kube, cms, f"resourceVersion={first}", PROTOBUF), PROTOBUF)
    assert [(t, o["kind"], o["code"], o["reason"]) for t, o in from_json] == [("ERROR", "Status", 410, "Expired")]
    assert from_protobuf == from_json
