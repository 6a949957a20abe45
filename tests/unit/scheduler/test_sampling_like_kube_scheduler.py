"""percentageOfNodesToScore sampling against kube-scheduler's own Scheduler (scheduler.New,
its cache, one filter worker; tests/scheduler_upstream/sampling.go): for pods scheduled one
after another against the same cluster, the same feasible nodes in the same order, the same
number of nodes evaluated (so the same next start index) and the same FitError.

With one worker kube-scheduler's search is sequential; with more, which nodes it finds first can
depend on timing, and kcore gives the sequential answer. The driver also reports its node order
(the cache's node tree: zones interleaved, each in arrival order), which must be kcore's
``Snapshot.node_order()``: most of these nodes carry topology zones."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest

from kcore.scheduler import Framework, Profile
from tests.scheduler_upstream_driver import UpstreamScheduler
from tests.unit.scheduler.random_clusters import RandomClusters
from tests.unit.scheduler.test_parity_with_kube_scheduler import fresh_snapshot


def sampling_case(generator: RandomClusters, nodes: int, percentage: Optional[int], pods: int = 6) -> Dict[str, Any]:
    case = generator.case(nodes=nodes)
    for i, node in enumerate(case["nodes"]):  # names that sort as the nodes arrive
        name = f"node-{i:05d}"
        node["metadata"]["name"] = name
        node["metadata"]["labels"]["kubernetes.io/hostname"] = name
    for pod in case["pods"]:
        pod["spec"]["nodeName"] = f"node-{int(pod['spec']['nodeName'].split('-')[1]):05d}"
    names = [n["metadata"]["name"] for n in case["nodes"]]
    # Random pods (that often fit few nodes) and pods that fit most nodes (so that the count,
    # not the end of the nodes, stops the search, with rejected nodes on the way).
    case["sequence"] = [
        generator.pod(f"incoming-{i}", names) if i % 2 else easy_pod(f"incoming-{i}") for i in range(pods)
    ]
    case["percentageOfNodesToScore"] = percentage
    if generator.chance(0.25):  # nothing to score: kube-scheduler looks for one feasible node
        case["profile"]["scores"] = []
    return case


def easy_pod(name: str) -> Dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": name},
        "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}}}],
            "tolerations": [{"operator": "Exists"}],
        },
    }


def kcore_sequence(case: Dict[str, Any]) -> List[Dict[str, Any]]:
    p = case["profile"]
    profile = Profile(
        "parity",
        tuple(p["filters"]),
        {s["name"]: s["weight"] for s in p["scores"]},
        {c["name"]: c["args"] for c in p["pluginConfig"]},
        case["percentageOfNodesToScore"],
    )
    snapshot = fresh_snapshot(case)
    framework = Framework(profile)
    answers = []
    for pod in case["sequence"]:
        start = framework.next_start_node_index
        result = framework.score(pod, snapshot).filtered
        answer: Dict[str, Any] = {"nodeOrder": snapshot.node_order(), "feasible": result.feasible}
        if result.feasible:
            answer["evaluated"] = result.evaluated_nodes
        else:
            answer["evaluated"] = 0
            answer["fitError"] = result.message()
        if result.pre_filter_message is None:
            assert framework.next_start_node_index == (start + result.evaluated_nodes) % len(snapshot)
        answers.append(answer)
    return answers


def compare(cases: List[Dict[str, Any]]) -> List[Tuple[Dict[str, Any], List[Dict[str, Any]]]]:
    """Asserts kcore's answers are kube-scheduler's; returns each case that ran with them."""
    with UpstreamScheduler() as upstream:
        theirs = upstream.run(cases)
    assert len(theirs) == len(cases)
    ran = []
    for i, (case, answers) in enumerate(zip(cases, theirs)):
        if isinstance(answers, dict):  # a pod kube-scheduler refused (an invalid selector)
            with pytest.raises(ValueError):
                kcore_sequence(case)
            continue
        ours = kcore_sequence(case)
        assert ours[0]["nodeOrder"] == answers[0]["nodeOrder"], f"case {i}: the node orders differ"
        assert len(ours) == len(answers)
        for j, (mine, upstream) in enumerate(zip(ours, answers)):
            assert mine == upstream, f"case {i}, pod {j}: kcore {mine}, kube-scheduler {upstream}"
        ran.append((case, ours))
    return ran


@pytest.mark.parametrize("percentage", [None, 0, 1, 10, 42, 100])
def test_pods_scheduled_in_turn_search_the_nodes_as_kube_scheduler_does(percentage: Optional[int]) -> None:
    generator = RandomClusters(50 + (percentage or 0))
    cases = [sampling_case(generator, nodes, percentage) for nodes in (7, 99, 100, 150, 260, 700) for _ in range(2)]
    ran = compare(cases)
    # The cases reach searches that stop early, past nodes that did not fit.
    answers = [(a, len(c["nodes"])) for c, ours in ran for a in ours]
    assert any(len(a["feasible"]) < a["evaluated"] < n for a, n in answers)
    assert any(0 < a["evaluated"] < n for a, n in answers if len(a["feasible"]) == 1)


def test_the_adaptive_percentage_of_a_large_cluster_is_kube_schedulers() -> None:
    """1300 nodes: 50 - 1300/125 = 40%, 520 nodes to find; 7000 nodes: the 5% floor, 350."""
    generator = RandomClusters(60)
    cases = [sampling_case(generator, nodes, None, pods=3) for nodes in (1300, 7000)]
    for case in cases:  # pods that fit every node, so that the count is what stops the search
        for pod in case["sequence"]:
            pod["spec"] = {"containers": [{"name": "c"}], "tolerations": [{"operator": "Exists"}]}
        case["profile"] = {
            "filters": ["NodeUnschedulable", "TaintToleration"],
            "scores": [{"name": "ImageLocality", "weight": 1}],
            "pluginConfig": [],
        }
    answers = [a for _, ours in compare(cases) for a in ours]
    assert [len(a["feasible"]) for a in answers] == [520] * 3 + [350] * 3
    # Each search starts where the last stopped in the node order: 0, then 520, then 1040,
    # wrapping around at 1300 to end at 259.
    order = answers[0]["nodeOrder"]
    assert order != sorted(order)  # zones interleaved
    assert [a["feasible"][0] for a in answers[:3]] == [order[0], order[520], order[1040]]
    assert answers[2]["feasible"] == order[1040:] + order[:260]
