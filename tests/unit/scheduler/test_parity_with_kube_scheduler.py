"""kcore.scheduler against kube-scheduler's own framework runtime (k8s.io/kubernetes v1.37.2, run
by tests/scheduler_upstream): on thousands of random clusters, pods and profiles, the same
feasible nodes, the same plugin, code and reasons for every other node, and the same normalized
score from every score plugin."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest

from kcore.scheduler import Framework, Profile, Snapshot
from tests.scheduler_upstream_driver import UpstreamScheduler
from tests.unit.scheduler.random_clusters import RandomClusters

FIXED_REASONS = ("Too many pods", "Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage")


def upstream_reasons(reasons: List[str]) -> List[str]:
    """kube-scheduler lists the scalar resources a node lacks in Go map order (random); kcore
    lists them by name. The fixed reasons keep their order."""
    fixed = [r for r in reasons if r in FIXED_REASONS]
    return fixed + sorted(r for r in reasons if r not in FIXED_REASONS)


def profile_of(case: Dict[str, Any]) -> Profile:
    p = case["profile"]
    return Profile(
        "parity", tuple(p["filters"]), {s["name"]: s["weight"] for s in p["scores"]},
        {c["name"]: c["args"] for c in p["pluginConfig"]},
    )


def kcore_answer(case: Dict[str, Any]) -> Dict[str, Any]:
    """kcore's answer in the driver's form."""
    snapshot = Snapshot(case["nodes"], case["pods"])
    try:
        result = Framework(profile_of(case)).score(case["pod"], snapshot)
    except ValueError as e:
        return {"error": str(e)}
    failures = result.filtered.failures
    return {
        "filter": {
            node: None if node not in failures else {
                "plugin": failures[node].plugin, "code": failures[node].code, "reasons": failures[node].reasons,
            }
            for node in snapshot.node_names()
        },
        "scores": result.scores if result.feasible else {},
        "total": result.total,
    }


def normalized_upstream(answer: Dict[str, Any]) -> Dict[str, Any]:
    if "error" in answer:
        return answer
    for failure in answer["filter"].values():
        if failure is not None:
            failure["reasons"] = upstream_reasons(failure["reasons"])
    return answer


def compare(cases: List[Dict[str, Any]]) -> Tuple[int, List[Tuple[int, Dict[str, Any], Dict[str, Any]]]]:
    with UpstreamScheduler() as upstream:
        answers = upstream.run(cases)
    mismatches = []
    for i, (case, theirs) in enumerate(zip(cases, answers)):
        ours = kcore_answer(case)
        theirs = normalized_upstream(theirs)
        if "error" in theirs or "error" in ours:
            if ("error" in theirs) != ("error" in ours):
                mismatches.append((i, ours, theirs))
            continue
        if ours != theirs:
            mismatches.append((i, ours, theirs))
    return len(answers), mismatches


def first_difference(ours: Any, theirs: Any, path: str = "") -> Optional[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours or key not in theirs:
                return f"{path}.{key}: kcore {ours.get(key, '<absent>')!r}, kube-scheduler {theirs.get(key, '<absent>')!r}"
            found = first_difference(ours[key], theirs[key], f"{path}.{key}")
            if found:
                return found
        return None
    return None if ours == theirs else f"{path}: kcore {ours!r}, kube-scheduler {theirs!r}"


@pytest.mark.parametrize("seed", range(4))
def test_random_clusters_filter_and_score_exactly_as_kube_scheduler(seed: int) -> None:
    generator = RandomClusters(seed)
    cases = [generator.case() for _ in range(750)]
    compared, mismatches = compare(cases)
    assert compared == len(cases)
    if mismatches:
        i, ours, theirs = mismatches[0]
        pytest.fail(
            f"{len(mismatches)} of {len(cases)} cases differ (seed {seed}); case {i}: {first_difference(ours, theirs)}\n"
            f"case: {cases[i]}"
        )


def test_the_random_cases_reach_every_plugin_outcome() -> None:
    """The generator is worth its cases: every filter rejects somewhere, feasible nodes and
    several-way scoring are common, and every score plugin runs."""
    generator = RandomClusters(0)
    cases = [generator.case() for _ in range(750)]
    plugins_rejecting = set()
    plugins_scoring = set()
    with_feasible = 0
    for case in cases:
        answer = kcore_answer(case)
        if "error" in answer:
            continue
        plugins_rejecting.update(f["plugin"] for f in answer["filter"].values() if f)
        plugins_scoring.update(answer["scores"])
        with_feasible += len(answer["total"]) >= 2
    assert plugins_rejecting >= {
        "NodeName", "NodeUnschedulable", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit", "",
    }
    assert plugins_scoring == {"NodeResourcesFit", "NodeResourcesBalancedAllocation", "ImageLocality", "NodeAffinity", "TaintToleration"}
    assert with_feasible > len(cases) // 4
