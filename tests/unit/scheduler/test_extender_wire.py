"""The extender wire types against Go's own: every case is decoded and re-encoded by
k8s.io/kube-scheduler/extender/v1 with encoding/json (tests/extender_upstream) and by
kcore.scheduler.extender_wire, and the two must agree — on the bytes kube-scheduler would send or
read, and on which inputs are refused."""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import pytest

from kcore.scheduler.extender_wire import (
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    ExtenderFilterResult,
    ExtenderPreemptionArgs,
    ExtenderPreemptionResult,
    HostPriority,
    WireError,
    host_priority_list_from_wire,
)
from tests.extender_upstream_driver import go_round_trips

DECODERS: Dict[str, Callable[[Any], Any]] = {
    "ExtenderArgs": lambda v: ExtenderArgs.from_wire(v).to_wire(),
    "ExtenderFilterResult": lambda v: ExtenderFilterResult.from_wire(v).to_wire(),
    "HostPriorityList": lambda v: [h.to_wire() for h in host_priority_list_from_wire(v)],
    "ExtenderBindingArgs": lambda v: ExtenderBindingArgs.from_wire(v).to_wire(),
    "ExtenderBindingResult": lambda v: ExtenderBindingResult.from_wire(v).to_wire(),
    "ExtenderPreemptionArgs": lambda v: ExtenderPreemptionArgs.from_wire(v).to_wire(),
    "ExtenderPreemptionResult": lambda v: ExtenderPreemptionResult.from_wire(v).to_wire(),
}


@pytest.fixture(scope="module")
def canonical() -> Dict[str, Any]:
    """A pod and two nodes as Go encodes them (kcore passes objects through untouched, so the
    comparison uses objects already in Go's form)."""
    (answer,) = go_round_trips(
        [
            (
                "ExtenderArgs",
                {
                    "Pod": {"metadata": {"name": "web", "namespace": "default", "uid": "u-web"}},
                    "Nodes": {"items": [{"metadata": {"name": "n1"}}, {"metadata": {"name": "n2"}}]},
                },
            )
        ]
    )
    args = answer["value"]
    return {"pod": args["Pod"], "nodes": args["Nodes"]["items"]}


def cases(c: Dict[str, Any]) -> List[Tuple[str, Any]]:
    pod, nodes = c["pod"], c["nodes"]
    victim = {"metadata": {"name": "old", "uid": "u-old"}, "spec": {"containers": None}, "status": {}}
    return [
        # kube-scheduler's own spelling, then lowercase, UPPERCASE and mixed: Go folds case.
        ("ExtenderArgs", {"Pod": pod, "Nodes": {"metadata": {}, "items": nodes}, "NodeNames": None}),
        ("ExtenderArgs", {"pod": pod, "nodenames": ["n1", "n2"]}),
        ("ExtenderArgs", {"POD": pod, "NODES": {"ITEMS": nodes}}),
        ("ExtenderArgs", {"pOd": None, "nodeNames": [], "unknown": 1}),
        ("ExtenderArgs", {}),
        (
            "ExtenderFilterResult",
            {
                "Nodes": {"metadata": {}, "items": nodes[:1]},
                "NodeNames": None,
                "FailedNodes": {"n2": "too hot"},
                "FailedAndUnresolvableNodes": None,
                "Error": "",
            },
        ),
        (
            "ExtenderFilterResult",
            {"nodenames": ["n1"], "failedNodes": {}, "failedandunresolvablenodes": {"n2": "gone"}},
        ),
        ("ExtenderFilterResult", {"error": "boom"}),
        ("HostPriorityList", [{"Host": "n1", "Score": 10}, {"host": "n2", "score": 0}, {"HOST": "n3"}]),
        ("HostPriorityList", []),
        ("ExtenderBindingArgs", {"PodName": "web", "PodNamespace": "default", "PodUID": "u-web", "Node": "n1"}),
        ("ExtenderBindingArgs", {"podname": "a", "PodName": "b", "poduid": None, "node": "n2"}),  # the last of two wins
        ("ExtenderBindingResult", {"Error": "no"}),
        ("ExtenderBindingResult", {"error": ""}),
        (
            "ExtenderPreemptionArgs",
            {"Pod": pod, "NodeNameToVictims": {"n1": {"Pods": [victim], "NumPDBViolations": 1}}},
        ),
        (
            "ExtenderPreemptionArgs",
            {"pod": pod, "nodenametometavictims": {"n1": {"pods": [{"uid": "u-old"}], "numpdbviolations": 2}}},
        ),
        (
            "ExtenderPreemptionResult",
            {"NodeNameToMetaVictims": {"n1": {"Pods": [{"UID": "u-old"}], "NumPDBViolations": 0}}},
        ),
        ("ExtenderPreemptionResult", {"NodeNameToMetaVictims": None}),
    ]


BAD: List[Tuple[str, Any]] = [
    ("ExtenderArgs", "not an object"),
    ("ExtenderArgs", ["a list"]),
    ("ExtenderArgs", {"Pod": "web"}),
    ("ExtenderArgs", {"Nodes": ["n1"]}),
    ("ExtenderArgs", {"Nodes": {"items": "n1"}}),
    ("ExtenderArgs", {"NodeNames": "n1"}),
    ("ExtenderArgs", {"NodeNames": [1]}),
    ("ExtenderFilterResult", {"FailedNodes": {"n1": 3}}),
    ("ExtenderFilterResult", {"Error": True}),
    ("HostPriorityList", {"Host": "n1"}),
    ("HostPriorityList", [{"Host": "n1", "Score": "10"}]),
    ("HostPriorityList", [{"Host": "n1", "Score": 2.5}]),
    ("ExtenderBindingArgs", {"PodName": 7}),
    ("ExtenderPreemptionArgs", {"NodeNameToVictims": {"n1": {"Pods": "x"}}}),
    ("ExtenderPreemptionArgs", {"NodeNameToMetaVictims": {"n1": {"NumPDBViolations": "1"}}}),
]


def test_every_wire_type_decodes_and_encodes_as_gos_encoding_json_does(canonical: Dict[str, Any]) -> None:
    inputs = cases(canonical)
    for (kind, value), go in zip(inputs, go_round_trips(inputs)):
        assert "error" not in go, (kind, value, go)
        assert DECODERS[kind](value) == go["value"], (kind, value)


def test_what_go_refuses_to_decode_kcore_refuses_with_a_wire_error_naming_the_field() -> None:
    for (kind, value), go in zip(BAD, go_round_trips(BAD)):
        assert "error" in go, (kind, value, go)
        with pytest.raises(WireError, match=kind.replace("List", "")):
            DECODERS[kind](value)


def test_kcores_own_results_are_read_back_by_go_unchanged(canonical: Dict[str, Any]) -> None:
    ours = [
        (
            "ExtenderFilterResult",
            ExtenderFilterResult(
                nodes=canonical["nodes"], failed_nodes={"n3": "no"}, failed_and_unresolvable_nodes={"n4": "never"}
            ).to_wire(),
        ),
        ("ExtenderFilterResult", ExtenderFilterResult(node_names=["n1"]).to_wire()),
        ("ExtenderFilterResult", ExtenderFilterResult(error="filter: boom").to_wire()),
        ("HostPriorityList", [HostPriority("n1", 10).to_wire(), HostPriority("n2", 3).to_wire()]),
        ("ExtenderBindingResult", ExtenderBindingResult("bind: refused").to_wire()),
    ]
    for (kind, value), go in zip(ours, go_round_trips(ours)):
        assert go == {"value": value}, kind
