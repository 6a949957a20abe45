"""Ready-made extenders over kcore.scheduler's plugins: the profile's answers (exact against
kube-scheduler in test_parity_with_kube_scheduler.py) carried over the extender verbs, scores
brought from the framework's 0..100 per plugin to the extender's 0..10."""

from __future__ import annotations

from kcore.scheduler import DEFAULT, MOST_ALLOCATED, Framework, Snapshot
from kcore.scheduler.extender import Extender
from kcore.scheduler.profile_extender import bin_packing_prioritizer
from tests.unit.scheduler.test_extender import Lister, call
from tests.unit.scheduler.test_framework import node, pod


def cluster() -> Snapshot:
    return Snapshot([node("busy"), node("idle"), node("small", cpu="1")], [pod("running", cpu="3", node_name="busy")])


def test_a_profiles_filters_pass_the_fitting_nodes_and_give_kube_schedulers_reasons_for_the_others() -> None:
    snapshot = cluster()
    incoming = pod("incoming", cpu="1500m")
    nodes = [node("busy"), node("idle"), node("small", cpu="1"), node("unknown")]
    status, result = call(
        Extender.from_profile(DEFAULT, snapshot), "filter", {"Pod": incoming, "Nodes": {"items": nodes}}
    )
    assert status == 200 and [n["metadata"]["name"] for n in result["Nodes"]["items"]] == ["idle"]
    assert result["FailedNodes"] == {
        "busy": "Insufficient cpu",
        "unknown": "node 'unknown' is not in the extender's snapshot",
    }
    # More than the node has at all: no preemption can help (UnschedulableAndUnresolvable).
    assert result["FailedAndUnresolvableNodes"] == {"small": "Insufficient cpu"}
    assert Framework(DEFAULT).filter(incoming, snapshot).failures["busy"].reasons == ["Insufficient cpu"]


def test_node_names_resolve_through_the_lister_and_an_unresolvable_failure_is_reported_as_such() -> None:
    pinned = pod("pinned", nodeSelector={"kubernetes.io/hostname": "idle"})
    ext = Extender.from_profile(DEFAULT, cluster(), node_lister=Lister([node("busy"), node("idle")]))
    _status, result = call(ext, "filter", {"Pod": pinned, "NodeNames": ["busy", "idle"]})
    assert result["NodeNames"] == ["idle"]
    assert result["FailedAndUnresolvableNodes"] == {"busy": "node(s) didn't match Pod's node affinity/selector"}
    assert result["FailedNodes"] == {}


def test_bin_packing_scores_the_fuller_node_higher_on_the_0_to_10_scale() -> None:
    snapshot = cluster()
    incoming = pod("incoming", cpu="500m")
    status, scores = call(
        bin_packing_prioritizer(snapshot),
        "prioritize",
        {"Pod": incoming, "Nodes": {"items": [node("busy"), node("idle")]}},
    )
    # MostAllocated: busy cpu 3.5/4 → 87, memory 400Mi/8Gi (non-zero defaults) → 4: 45 → 4;
    # idle cpu 500m/4 → 12, memory 200Mi/8Gi → 2: 7 → 0.
    assert (status, scores) == (200, [{"Host": "busy", "Score": 4}, {"Host": "idle", "Score": 0}])
    assert Framework(MOST_ALLOCATED).score(incoming, snapshot).scores["NodeResourcesFit"] == {
        "busy": 45,
        "idle": 7,
        "small": 26,
    }


def test_a_whole_profile_scores_its_weighted_total_scaled_to_0_to_10() -> None:
    snapshot = cluster()
    incoming = pod("incoming", cpu="500m")
    totals = Framework(MOST_ALLOCATED).score(incoming, snapshot).total
    weights = sum(MOST_ALLOCATED.scores.values())
    status, scores = call(
        Extender.from_profile(MOST_ALLOCATED, snapshot),
        "prioritize",
        {"Pod": incoming, "Nodes": {"items": [node("busy"), node("idle"), node("small", cpu="1")]}},
    )
    assert status == 200
    assert {h["Host"]: h["Score"] for h in scores} == {n: t * 10 // (100 * weights) for n, t in totals.items()}
    assert all(0 <= h["Score"] <= 10 for h in scores)


def test_bin_packing_ignores_the_extended_resources_kube_scheduler_is_told_to_ignore() -> None:
    incoming = pod("incoming", cpu="500m")
    incoming["spec"]["containers"][0]["resources"]["requests"]["example.com/gpu"] = "1"
    args = {"Pod": incoming, "Nodes": {"items": [node("busy"), node("idle")]}}
    # No node has example.com/gpu: the pod fits nowhere, so nothing is scored...
    assert call(bin_packing_prioritizer(cluster()), "prioritize", args) == (200, [])
    # ...unless it is one of the managedResources marked ignoredByScheduler.
    ignoring = bin_packing_prioritizer(cluster(), ignored_resources=["example.com/gpu"])
    assert call(ignoring, "prioritize", args) == (200, [{"Host": "busy", "Score": 4}, {"Host": "idle", "Score": 0}])
