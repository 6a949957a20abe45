"""The informer cache's store and indices (kcore._core.Store, rust/src/informer): client-go's
ThreadSafeStore + Indexer over compact objects."""

from __future__ import annotations

import gc
import json
import sys
import threading
from typing import Any, Dict, List, Optional, Set

import pytest

from kcore._core import CompactObject, Store, object_key, strip_managed_fields, to_compact
from kcore.codec import JSON, decode_compact


def pod(
    name: str,
    namespace: Optional[str] = "default",
    node: str = "",
    rv: str = "1",
    labels: Optional[Dict[str, str]] = None,
    **extra: Any,
) -> Any:
    meta: Dict[str, Any] = {"name": name, "resourceVersion": rv, "labels": labels or {}}
    if namespace is not None:
        meta["namespace"] = namespace
    body = {"kind": "Pod", "metadata": meta, "spec": {"nodeName": node}, "status": {"phase": "Running"}, **extra}
    return decode_compact(json.dumps(body).encode(), JSON)


def by_node(o: Any) -> List[str]:
    node = o["spec"]["nodeName"]
    return [node] if node else []


def names(objs: List[Any]) -> List[str]:
    return sorted(o["metadata"]["name"] for o in objs)


# --- keys ---


def test_the_key_is_namespace_slash_name_or_the_name_alone_without_a_namespace() -> None:
    assert object_key(pod("web", "prod")) == "prod/web"
    assert object_key(pod("node-1", None)) == "node-1"
    assert object_key(pod("node-1", "")) == "node-1"
    assert object_key({"metadata": {"name": "web", "namespace": "prod"}}) == "prod/web"
    assert object_key({"metadata": {"name": "n"}}) == "n"


def test_an_object_without_a_name_has_no_key() -> None:
    for bad in [
        {},
        {"metadata": {}},
        {"metadata": {"namespace": "x"}},
        decode_compact(b'{"metadata": {"name": ""}}', JSON),
    ]:
        with pytest.raises(ValueError, match="metadata.name"):
            object_key(bad)


# --- writes and reads ---


def test_upsert_returns_the_object_it_replaced_and_get_returns_the_stored_object_itself() -> None:
    s = Store()
    first, second = pod("web", rv="1"), pod("web", rv="2")
    assert s.upsert(first) is None
    assert s.get("default/web") is first
    assert s.upsert(second) is first
    assert s.get("default/web") is second and len(s) == 1
    assert s.get("default/nope") is None


def test_delete_returns_the_object_it_removed() -> None:
    s = Store()
    p = pod("web")
    s.upsert(p)
    assert s.delete("default/web") is p
    assert s.delete("default/web") is None
    assert len(s) == 0 and s.list() == [] and s.list_index_values("namespace") == []


def test_a_plain_dict_is_stored_as_a_compact_object() -> None:
    s = Store()
    s.upsert({"metadata": {"name": "cm", "namespace": "x"}, "data": {"k": "v"}})
    got = s.get("x/cm")
    assert isinstance(got, CompactObject) and got["data"] == {"k": "v"}


def test_list_keys_len_and_resource_versions_describe_the_content() -> None:
    s = Store()
    s.replace([pod("a", rv="5"), pod("b", "other", rv="7"), pod("n", None, rv="9")])
    assert sorted(s.list_keys()) == ["default/a", "n", "other/b"] and len(s) == 3
    assert s.resource_versions() == {"default/a": "5", "other/b": "7", "n": "9"}


def test_replace_swaps_the_whole_content_and_rebuilds_the_indices() -> None:
    s = Store()
    s.add_indexers({"node": by_node})
    s.replace([pod("a", node="n1"), pod("b", "other", node="n2")])
    s.replace([pod("c", node="n3"), pod("d", "third", node="n3")])
    assert sorted(s.list_keys()) == ["default/c", "third/d"]
    assert sorted(s.list_index_values("namespace")) == ["default", "third"]
    assert s.list_index_values("node") == ["n3"]
    assert s.index_keys("node", "n1") == []


def test_replace_keeps_the_last_of_objects_with_the_same_key() -> None:
    s = Store()
    s.replace([pod("a", rv="1", node="n1"), pod("a", rv="2", node="n2")])
    assert s.resource_versions() == {"default/a": "2"}


# --- indices ---


def test_the_namespace_index_is_built_in_and_leaves_out_cluster_scoped_objects() -> None:
    s = Store()
    s.replace([pod("a", "x"), pod("b", "x"), pod("c", "y"), pod("node-1", None)])
    assert sorted(s.list_index_values("namespace")) == ["x", "y"]
    assert names(s.by_index("namespace", "x")) == ["a", "b"]
    assert sorted(s.index_keys("namespace", "x")) == ["x/a", "x/b"]
    assert s.by_index("namespace", "") == []


def test_an_update_moves_the_object_between_index_values_and_drops_emptied_values() -> None:
    s = Store()
    s.add_indexers({"node": by_node})
    s.upsert(pod("a", node="n1"))
    s.upsert(pod("a", node="n2"))
    assert s.index_keys("node", "n1") == [] and s.index_keys("node", "n2") == ["default/a"]
    assert s.list_index_values("node") == ["n2"]
    s.upsert(pod("a", node=""))
    assert s.list_index_values("node") == []


def test_index_functions_may_give_an_object_several_values() -> None:
    s = Store()
    s.add_indexers({"label": lambda o: [f"{k}={v}" for k, v in o["metadata"]["labels"].items()]})
    s.upsert(pod("a", labels={"app": "web", "tier": "front"}))
    s.upsert(pod("b", labels={"app": "web"}))
    assert names(s.by_index("label", "app=web")) == ["a", "b"]
    assert names(s.by_index("label", "tier=front")) == ["a"]
    s.delete("default/a")
    assert sorted(s.list_index_values("label")) == ["app=web"]


def test_indexers_added_to_a_non_empty_store_index_what_it_holds() -> None:
    s = Store()
    s.replace([pod("a", node="n1"), pod("b", node="n1"), pod("c", node="n2")])
    s.add_indexers({"node": by_node})
    assert names(s.by_index("node", "n1")) == ["a", "b"]
    s.add_indexers({"phase": lambda o: [o["status"]["phase"]]})
    assert len(s.by_index("phase", "Running")) == 3
    s.upsert(pod("a", node="n2"))
    assert names(s.by_index("node", "n2")) == ["a", "c"] and len(s.by_index("phase", "Running")) == 3


def test_adding_an_indexer_whose_name_exists_is_an_indexer_conflict() -> None:
    s = Store()
    s.add_indexers({"node": by_node})
    with pytest.raises(ValueError, match="indexer conflict: node"):
        s.add_indexers({"node": by_node})
    with pytest.raises(ValueError, match="indexer conflict: namespace"):
        s.add_indexers({"namespace": by_node})


def test_an_unknown_index_name_raises_key_error_naming_it() -> None:
    s = Store()
    for call in (
        lambda: s.by_index("nope", "x"),
        lambda: s.index_keys("nope", "x"),
        lambda: s.list_index_values("nope"),
    ):
        with pytest.raises(KeyError, match="Index with name nope does not exist"):
            call()


def test_an_index_function_that_raises_leaves_the_store_unchanged() -> None:
    s = Store()
    s.add_indexers({"node": by_node})
    s.upsert(pod("a", node="n1"))

    def boom(o: Any) -> List[str]:
        if o["metadata"]["name"] == "a":
            raise RuntimeError("boom")
        return []

    s.add_indexers({"boom": lambda o: []})
    with pytest.raises(RuntimeError):
        s.add_indexers({"late": boom})  # fails over the existing object: not added
    with pytest.raises(KeyError):
        s.list_index_values("late")
    t = Store()
    t.add_indexers({"boom": boom})
    t.upsert(pod("b"))
    with pytest.raises(RuntimeError, match="boom"):
        t.upsert(pod("a"))
    with pytest.raises(RuntimeError, match="boom"):
        t.replace([pod("c"), pod("a")])
    assert t.list_keys() == ["default/b"] and t.index_keys("namespace", "default") == ["default/b"]


@pytest.mark.parametrize("returned", ["n1", None, 3, [1], ["ok", None]])
def test_an_index_function_returning_anything_but_a_list_of_str_is_a_type_error_naming_it(returned: Any) -> None:
    s = Store()
    s.add_indexers({"wrong": lambda o: returned})
    with pytest.raises(TypeError, match="'wrong'|\"wrong\""):
        s.upsert(pod("a"))
    assert len(s) == 0


def test_the_store_shows_its_index_functions_to_the_garbage_collector() -> None:
    s = Store()

    def index(o: Any) -> List[str]:
        return [str(s)]  # refers to the store: a cycle

    s.add_indexers({"cycle": index})
    assert index in gc.get_referents(s)


# --- list ---


def test_list_filters_by_namespace_label_selector_and_field_selector() -> None:
    s = Store()
    s.replace(
        [
            pod("a", "x", node="n1", labels={"app": "web"}),
            pod("b", "x", node="n2", labels={"app": "db"}),
            pod("c", "y", node="n1", labels={"app": "web"}),
            pod("d", None, labels={}),
        ]
    )
    assert names(s.list()) == ["a", "b", "c", "d"]
    assert names(s.list(namespace="x")) == ["a", "b"]
    assert names(s.list(namespace="")) == ["a", "b", "c", "d"]  # "" is every namespace
    assert names(s.list(namespace="none")) == []
    assert names(s.list(label_selector="app=web")) == ["a", "c"]
    assert names(s.list(label_selector="app notin (web)")) == ["b", "d"]
    assert names(s.list(field_selector="spec.nodeName=n1")) == ["a", "c"]
    assert names(s.list(label_selector="app=web", field_selector="metadata.namespace!=x")) == ["c"]
    assert names(s.list("app", "spec.nodeName=n1", "x")) == ["a"]


def raw_pod(name: str, namespace: str, labels_json: str) -> Any:
    """A pod whose labels are given as JSON text: duplicate keys and non-string values too."""
    body = '{"kind":"Pod","metadata":{"name":"%s","namespace":"%s","labels":%s}}' % (name, namespace, labels_json)
    return decode_compact(body.encode(), JSON)


def test_selected_lists_equal_the_selector_applied_to_every_object_through_any_writes() -> None:
    """The store narrows a selected list to the objects its label index says may match; the
    result must be exactly what the selector gives on each object, whatever was written."""
    from kcore._core import parse_label_selector

    rng = __import__("random").Random(7)
    keys, values = ["app", "tier", "x.io/role"], ["a", "b", "c", "7", "12"]

    def labels_json() -> str:
        entries = [
            f'"{rng.choice(keys)}":'
            + (f'"{rng.choice(values)}"' if rng.random() < 0.9 else rng.choice(["3", "null", "{}"]))
            for _ in range(rng.randrange(4))
        ]  # keys may repeat: the first one counts
        return rng.choice(["{" + ",".join(entries) + "}", "{" + ",".join(entries) + "}", "null"])

    selectors = [
        "app=a",
        "app==b",
        "app!=a",
        "app in (a,b)",
        "app notin (a)",
        "app",
        "!app",
        "tier>7",
        "tier<12",
        "app=a,tier",
        "app in (a,c),tier notin (b)",
        "x.io/role=c",
        "app=zzz",
        "missing",
        "app,tier,x.io/role",
        "",
    ]
    s = Store()
    stored: dict[str, Any] = {}
    for step in range(1500):
        name, ns = f"p{rng.randrange(60)}", rng.choice(["n1", "n2"])
        if rng.random() < 0.2:
            s.delete(f"{ns}/{name}")
            stored.pop(f"{ns}/{name}", None)
        else:
            obj = raw_pod(name, ns, labels_json())
            s.upsert(obj)
            stored[f"{ns}/{name}"] = obj
        if step % 100 == 99:
            s.replace(list(stored.values()))
        for text in selectors if step % 50 == 0 else [rng.choice(selectors)]:
            selector = parse_label_selector(text)
            for namespace in (None, "n1"):
                want = sorted(
                    k
                    for k, o in stored.items()
                    if (namespace is None or o["metadata"]["namespace"] == namespace)
                    and selector.matches(
                        {k: v for k, v in reversed(list((o["metadata"]["labels"] or {}).items())) if isinstance(v, str)}
                    )
                )
                got = sorted(object_key(o) for o in s.list(label_selector=text, namespace=namespace))
                assert got == want, (step, text, namespace)


def test_list_takes_parsed_selectors_and_refuses_malformed_ones() -> None:
    from kcore._core import parse_field_selector, parse_label_selector

    s = Store()
    s.upsert(pod("a", labels={"app": "web"}))
    assert (
        len(s.list(label_selector=parse_label_selector("app"), field_selector=parse_field_selector("metadata.name=a")))
        == 1
    )
    with pytest.raises(ValueError, match="label selector"):
        s.list(label_selector="app in (")
    with pytest.raises(ValueError, match="field selector"):
        s.list(field_selector="metadata.name")


# --- conversion and managed fields ---


def test_to_compact_copies_a_json_like_value_and_keeps_a_compact_object_as_it_is() -> None:
    value: Dict[str, Any] = {"a": [1, 2**70, -(2**70), 1.5, True, None, "s", (3, 4), {}], "b": {"c": []}}
    c = to_compact(value)
    assert isinstance(c, CompactObject) and c == {**value, "a": [1, 2**70, -(2**70), 1.5, True, None, "s", [3, 4], {}]}
    assert to_compact(c) is c
    assert to_compact({"nested": c})["nested"] == c
    with pytest.raises(TypeError, match="key"):
        to_compact({1: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        to_compact({"x": object()})
    with pytest.raises(TypeError):
        to_compact([1])  # type: ignore[arg-type]


def test_to_compact_refuses_a_value_that_contains_itself() -> None:
    d: Dict[str, Any] = {}
    d["self"] = d
    with pytest.raises(ValueError, match="deeper"):
        to_compact(d)


MANAGED = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]


def test_stripping_managed_fields_drops_only_them() -> None:
    full = pod("a", labels={"app": "web"})
    with_managed = decode_compact(
        json.dumps(
            {"kind": "Pod", "metadata": {"name": "a", "managedFields": MANAGED, "uid": "u"}, "spec": {"x": 1}}
        ).encode(),
        JSON,
    )
    stripped = strip_managed_fields(with_managed)
    assert stripped == {"kind": "Pod", "metadata": {"name": "a", "uid": "u"}, "spec": {"x": 1}}
    assert strip_managed_fields(full) is full  # nothing to strip: the same object
    assert object_key(stripped) == "a"


def test_stripping_managed_fields_that_were_all_the_metadata_leaves_it_empty() -> None:
    o = decode_compact(json.dumps({"metadata": {"managedFields": MANAGED}, "z": [1]}).encode(), JSON)
    assert strip_managed_fields(o) == {"metadata": {}, "z": [1]}
    assert strip_managed_fields({"metadata": {"managedFields": [], "name": "d"}}) == {"metadata": {"name": "d"}}


def test_stripping_managed_fields_works_on_list_items_and_watch_event_objects() -> None:
    items = [{"metadata": {"name": f"p{i}", "managedFields": MANAGED}} for i in range(3)]
    lst = decode_compact(json.dumps({"kind": "PodList", "items": items}).encode(), JSON)
    assert [strip_managed_fields(i) for i in lst["items"]] == [{"metadata": {"name": f"p{i}"}} for i in range(3)]
    event = decode_compact(json.dumps({"type": "ADDED", "object": items[0]}).encode(), JSON)
    assert strip_managed_fields(event["object"]) == {"metadata": {"name": "p0"}}


# --- concurrency ---


def test_replace_is_atomic_for_concurrent_readers() -> None:
    generations = [[pod(f"{g}{i}", f"ns{i % 3}", labels={"gen": g}) for i in range(300)] for g in "ab"]
    s = Store()
    s.add_indexers({"gen": lambda o: [o["metadata"]["labels"]["gen"]]})
    s.replace(generations[0])
    stop = threading.Event()
    errors: List[str] = []
    seen: Set[str] = set()

    def read() -> None:
        while not stop.is_set():
            objs = s.list()
            gens = {o["metadata"]["labels"]["gen"] for o in objs}
            if len(objs) != 300 or len(gens) != 1:
                errors.append(f"list saw {len(objs)} objects of generations {gens}")
            seen.update(gens)
            keys = s.list_keys()
            if len(keys) != 300 or len({k.split("/")[1][0] for k in keys}) != 1:
                errors.append(f"list_keys saw {len(keys)} keys of both generations")
            values = s.list_index_values("gen")
            if values not in (["a"], ["b"]):
                errors.append(f"the gen index held {values}")
            in_ns = s.list(namespace="ns1")
            if len(in_ns) != 100 or len({o["metadata"]["labels"]["gen"] for o in in_ns}) != 1:
                errors.append(f"the namespace index gave {len(in_ns)} objects")

    readers = [threading.Thread(target=read) for _ in range(3)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often: a mix would be seen
    try:
        for t in readers:
            t.start()
        for round in range(40):
            s.replace(generations[(round + 1) % 2])
        stop.set()
        for t in readers:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert not errors, errors[:3]
    assert seen == {"a", "b"}  # the readers did run between replacements


def test_concurrent_upserts_and_deletes_keep_the_indices_consistent() -> None:
    s = Store()
    s.add_indexers({"node": by_node})

    def write(worker: int) -> None:
        for i in range(300):
            s.upsert(pod(f"p{i % 50}", node=f"n{(i + worker) % 4}"))
            if i % 7 == 0:
                s.delete(f"default/p{(i * 3) % 50}")

    writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    indexed = sorted(k for v in s.list_index_values("node") for k in s.index_keys("node", v))
    assert indexed == sorted(s.list_keys())
    for o in s.list():
        assert object_key(o) in s.index_keys("node", o["spec"]["nodeName"])


def test_indexers_added_while_objects_are_written_index_every_object() -> None:
    s = Store()
    done = threading.Event()

    def write() -> None:
        for i in range(2000):
            s.upsert(pod(f"p{i % 200}", node=f"n{i % 5}"))
        done.set()

    t = threading.Thread(target=write)
    t.start()
    s.add_indexers({"node": by_node})
    t.join()
    indexed = sorted(k for v in s.list_index_values("node") for k in s.index_keys("node", v))
    assert indexed == sorted(s.list_keys()) and len(indexed) == 200
