"""The extender's verbs (Extender.handle, the sans-IO core) and its HTTP server. The wire
format itself is checked against Go in test_extender_wire.py; the e2e test runs a real
kube-scheduler against it."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Tuple

import pytest

from kcore.errors import NotFound
from kcore.scheduler.extender import Extender, Unresolvable
from kcore.scheduler.extender_wire import Victims


def node(name: str, **labels: str) -> Dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


POD = {"metadata": {"name": "web", "namespace": "default", "uid": "u-web"}}
NODES = [node("n1", disk="ssd"), node("n2"), node("n3", disk="ssd", gone="yes")]


def call(ext: Extender, verb: str, args: Any) -> Tuple[int, Any]:
    status, body = ext.handle(verb, json.dumps(args).encode())
    return status, json.loads(body)


def ssd_only() -> Extender:
    ext = Extender()

    @ext.filter
    def ssd(pod: dict, n: dict) -> Optional[Any]:
        labels = n["metadata"]["labels"]
        if labels.get("gone"):
            return Unresolvable("node is going away")
        return None if labels.get("disk") == "ssd" else "no ssd"

    return ext


def test_filter_returns_the_nodes_that_pass_and_each_failed_nodes_reason() -> None:
    status, result = call(ssd_only(), "filter", {"Pod": POD, "Nodes": {"items": NODES}})
    assert status == 200
    assert result == {
        "Nodes": {"metadata": {}, "items": [NODES[0]]},
        "NodeNames": None,
        "FailedNodes": {"n2": "no ssd"},
        "FailedAndUnresolvableNodes": {"n3": "node is going away"},
        "Error": "",
    }


class Lister:
    def __init__(self, nodes: List[Dict[str, Any]]) -> None:
        self.nodes = {n["metadata"]["name"]: n for n in nodes}

    def get(self, name: str) -> Any:
        if name not in self.nodes:
            raise NotFound({"message": f'nodes "{name}" not found', "code": 404})
        return self.nodes[name]


def test_node_cache_capable_requests_get_node_names_back_resolved_through_the_lister() -> None:
    ext = ssd_only()
    ext.node_lister = Lister(NODES)
    status, result = call(ext, "filter", {"pod": POD, "nodenames": ["n1", "n2", "n9"]})
    assert status == 200
    assert result["NodeNames"] == ["n1"] and result["Nodes"] is None
    assert result["FailedNodes"] == {"n2": "no ssd", "n9": "node 'n9' is not in the extender's node cache"}


def test_node_names_without_a_lister_are_an_error_kube_scheduler_sees() -> None:
    status, result = call(ssd_only(), "filter", {"Pod": POD, "NodeNames": ["n1"]})
    assert status == 200 and "no node_lister" in result["Error"]


def test_a_filter_that_raises_answers_with_the_error_in_the_result_and_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ext = Extender()

    @ext.filter_batch
    def broken(pod: dict, nodes: List[dict]) -> Dict[str, str]:
        raise RuntimeError("database down")

    status, result = call(ext, "filter", {"Pod": POD, "Nodes": {"items": NODES}})
    assert status == 200 and result["Error"] == "filter: database down" and result["Nodes"] is None
    assert "extender filter failed" in caplog.text and "database down" in caplog.text


def test_a_filter_answering_for_nodes_it_was_not_asked_about_is_an_error() -> None:
    ext = Extender()
    ext.filter_batch(lambda pod, nodes: {"n9": "no"})
    status, result = call(ext, "filter", {"Pod": POD, "Nodes": {"items": NODES}})
    assert status == 200 and "not asked about: ['n9']" in result["Error"]


def test_prioritize_scores_every_node_it_is_asked_about_in_request_order() -> None:
    ext = Extender()
    ext.prioritize(lambda pod, n: 10 if n["metadata"]["labels"].get("disk") == "ssd" else 1)
    assert call(ext, "prioritize", {"Pod": POD, "Nodes": {"items": NODES}}) == (
        200,
        [{"Host": "n1", "Score": 10}, {"Host": "n2", "Score": 1}, {"Host": "n3", "Score": 10}],
    )


@pytest.mark.parametrize("scores", [{"n1": 11}, {"n1": -1}, {"n1": 2.5}, {"n9": 3}])
def test_a_prioritizer_breaking_the_0_to_10_contract_is_a_500_naming_the_node(scores: Dict[str, Any]) -> None:
    ext = Extender()
    ext.prioritize_batch(lambda pod, nodes: scores)
    status, result = call(ext, "prioritize", {"Pod": POD, "Nodes": {"items": NODES}})
    assert status == 500 and next(iter(scores)) in result["error"]


def test_bind_passes_the_binding_and_reports_a_raised_error() -> None:
    ext = Extender()
    seen: List[Tuple[str, str, str, str]] = []

    @ext.bind
    def bind(namespace: str, name: str, uid: str, node_name: str) -> None:
        seen.append((namespace, name, uid, node_name))
        if node_name == "n2":
            raise RuntimeError("node n2 refuses")

    args = {"PodName": "web", "PodNamespace": "default", "PodUID": "u-web", "Node": "n1"}
    assert call(ext, "bind", args) == (200, {"Error": ""})
    assert call(ext, "bind", {**args, "node": "n2"}) == (200, {"Error": "bind: node n2 refuses"})
    assert seen == [("default", "web", "u-web", "n1"), ("default", "web", "u-web", "n2")]


def test_preempt_answers_the_kept_candidates_as_meta_victims() -> None:
    ext = Extender()
    ext.preempt(lambda pod, candidates: {n: v for n, v in candidates.items() if v.num_pdb_violations == 0})
    victim = {"metadata": {"name": "old", "uid": "u-old"}}
    status, result = call(
        ext,
        "preempt",
        {
            "Pod": POD,
            "NodeNameToVictims": {
                "n1": {"Pods": [victim], "NumPDBViolations": 0},
                "n2": {"Pods": [victim], "NumPDBViolations": 1},
            },
        },
    )
    assert (status, result) == (
        200,
        {"NodeNameToMetaVictims": {"n1": {"Pods": [{"UID": "u-old"}], "NumPDBViolations": 0}}},
    )
    status, result = call(ext, "preempt", {"Pod": POD, "NodeNameToMetaVictims": {"n1": {"Pods": [{"UID": "u-old"}]}}})
    assert result == {"NodeNameToMetaVictims": {"n1": {"Pods": [{"UID": "u-old"}], "NumPDBViolations": 0}}}
    assert Victims([victim]).pod_uids == ["u-old"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "bad filter request"),
        (b"[1, 2]", "ExtenderArgs: expected an object, got an array"),
        (b'{"Pod": "web"}', "ExtenderArgs.Pod: expected an object, got a string"),
        (b'{"Nodes": {"items": [1]}}', "ExtenderArgs.Nodes.items[0]: expected an object"),
        (b"\xff\xfe", "bad filter request"),
    ],
)
def test_a_bad_request_is_a_400_saying_what_is_wrong(body: bytes, says: str) -> None:
    status, answer = ssd_only().handle("filter", body)
    assert status == 400 and says in json.loads(answer)["error"]


def test_a_verb_without_a_function_or_an_unknown_verb_is_a_404() -> None:
    assert ssd_only().handle("bind", b"{}")[0] == 404
    status, body = ssd_only().handle("score", b"{}")
    assert status == 404 and "filter" in json.loads(body)["error"]


def test_one_function_per_verb() -> None:
    ext = ssd_only()
    with pytest.raises(ValueError, match="already has a filter"):
        ext.filter_batch(lambda pod, nodes: {})


def post(url: str, body: bytes) -> Tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_server_answers_concurrent_requests_at_url_slash_verb() -> None:
    ext = Extender()
    barrier = threading.Barrier(4, timeout=10)

    @ext.prioritize
    def together(pod: dict, n: dict) -> int:
        barrier.wait()  # only passes if four requests are in flight at once
        return 5

    args = json.dumps({"Pod": POD, "Nodes": {"items": [node("n1")]}}).encode()
    with ext.serve() as server:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: post(f"{server.url}/prioritize", args), range(4)))
    assert answers == [(200, [{"Host": "n1", "Score": 5}])] * 4


def test_the_server_answers_a_bad_request_with_400_and_keeps_serving() -> None:
    with ssd_only().serve() as server:
        status, answer = post(f"{server.url}/filter", b"{")
        assert status == 400 and "bad filter request" in answer["error"]
        status, answer = post(f"{server.url}/filter", json.dumps({"Pod": POD, "Nodes": {"items": NODES}}).encode())
        assert status == 200 and [n["metadata"]["name"] for n in answer["Nodes"]["items"]] == ["n1"]
