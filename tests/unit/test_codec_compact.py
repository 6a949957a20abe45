"""kcore.codec.decode_compact: a read-only Mapping held in Rust that behaves like the dict."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Mapping, Sequence

import pytest

from kcore.codec import JSON, CompactList, CompactObject, decode_compact

POD = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {"name": "web-0", "labels": {"app": "web"}, "annotations": {"note": "h\u00e9llo \U0001f600"}},
    "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}], "nodeSelector": {}},
    "status": {"phase": "Pending", "big": 2**70, "ratio": 0.25, "ready": False, "gone": None},
}
BODY = json.dumps(POD).encode()


def test_compact_object_equals_the_dict_and_reads_like_one() -> None:
    o = decode_compact(BODY, JSON)
    assert isinstance(o, CompactObject) and isinstance(o, Mapping)
    assert o == POD and POD == o and not (o != POD)
    assert o["metadata"]["name"] == "web-0"
    assert o["spec"]["containers"][0]["ports"][0]["containerPort"] == 80
    assert o["status"]["big"] == 2**70 and o["status"]["ratio"] == 0.25 and o["status"]["gone"] is None
    assert o["metadata"]["annotations"]["note"] == "h\u00e9llo \U0001f600"
    assert list(o) == list(POD) and len(o) == len(POD)
    assert "spec" in o and "nope" not in o and 3 not in o
    assert o.get("nope") is None and o.get("nope", 7) == 7
    assert dict(o.items())["kind"] == "Pod" and set(o.keys()) == set(POD) and "Pod" in list(o.values())
    assert o["spec"]["nodeSelector"] == {} and len(o["spec"]["nodeSelector"]) == 0
    with pytest.raises(KeyError):
        o["nope"]


def test_nested_arrays_are_read_only_sequences() -> None:
    containers = decode_compact(BODY, JSON)["spec"]["containers"]
    assert isinstance(containers, CompactList) and isinstance(containers, Sequence)
    assert containers == POD["spec"]["containers"] and len(containers) == 1
    assert containers[-1]["name"] == "c" and containers[0:1] == POD["spec"]["containers"]
    assert containers.index(POD["spec"]["containers"][0]) == 0 and containers.count({}) == 0
    with pytest.raises(IndexError):
        containers[1]


def test_every_mutation_raises_type_error() -> None:
    o = decode_compact(BODY, JSON)
    lst = o["spec"]["containers"]
    mutations = [
        lambda: o.__setitem__("a", 1),
        lambda: o.__delitem__("kind"),
        lambda: o.update(a=1),
        lambda: o.pop("kind"),
        lambda: o.popitem(),
        lambda: o.setdefault("a", 1),
        lambda: o.clear(),
        lambda: lst.__setitem__(0, 1),
        lambda: lst.__delitem__(0),
        lambda: lst.append(1),
        lambda: lst.extend([1]),
        lambda: lst.insert(0, 1),
        lambda: lst.pop(),
        lambda: lst.remove(1),
        lambda: lst.sort(),
        lambda: lst.reverse(),
        lambda: lst.clear(),
    ]
    for mutate in mutations:
        with pytest.raises(TypeError, match="read-only"):
            mutate()
    with pytest.raises(TypeError):
        hash(o)
    assert o == POD


def test_to_dict_is_a_plain_mutable_deep_copy() -> None:
    o = decode_compact(BODY, JSON)
    d = o.to_dict()
    assert type(d) is dict and d == POD
    assert type(d["spec"]["containers"]) is list
    d["metadata"]["name"] = "changed"
    assert o["metadata"]["name"] == "web-0"
    assert o["spec"]["containers"].to_list() == POD["spec"]["containers"]


def test_list_items_are_compact_objects_of_their_own() -> None:
    body = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [POD, POD]}).encode()
    lst = decode_compact(body, JSON)
    items = list(lst["items"])
    assert all(isinstance(i, CompactObject) for i in items) and items[1] == POD
    # An item stands alone: keeping it does not keep the list's bytes.
    assert sys.getsizeof(items[0]) < sys.getsizeof(lst) / 2


def test_compact_pod_is_a_fraction_of_its_dict() -> None:
    assert sys.getsizeof(decode_compact(BODY, JSON)) < 2 * len(BODY)


def test_compact_objects_are_shared_across_threads() -> None:
    o = decode_compact(BODY, JSON)
    seen: list[bool] = []

    def read() -> None:
        for _ in range(200):
            seen.append(o["metadata"]["labels"]["app"] == "web" and o == POD)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 800 and all(seen)


def test_scalar_bodies_decode_to_plain_values() -> None:
    assert decode_compact(b'"x"', JSON) == "x" and decode_compact(b"[1, 2]", JSON) == [1, 2]


def test_an_empty_object_or_list_costs_no_more_than_null() -> None:
    # Most of a field set (metadata.managedFields[].fieldsV1) is empty objects.
    def size(value: str) -> int:
        return sys.getsizeof(
            decode_compact(("{" + ",".join(f'"f:k{i}": {value}' for i in range(100)) + "}").encode(), JSON)
        )

    assert size("{}") == size("[]") == size("null")
    empties = decode_compact(b'{"a": {}, "b": [], "c": [{}, []]}', JSON)
    assert empties == {"a": {}, "b": [], "c": [{}, []]} and len(empties["a"]) == 0 and list(empties["c"][1]) == []
