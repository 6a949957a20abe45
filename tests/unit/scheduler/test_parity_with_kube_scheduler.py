"""kcore.scheduler against kube-scheduler's own framework runtime (k8s.io/kubernetes v1.37.2, run
by tests/scheduler_upstream): on thousands of random clusters, pods and profiles, the same
feasible nodes, the same plugin, code and reasons for every other node, the same FitError
message when nothing fits, and the same normalized score from every score plugin."""

from __future__ import annotations

import json
import random
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from kcore.codec import decode_compact
from kcore.scheduler import DEFAULT, MOST_ALLOCATED, Framework, Profile, Snapshot
from tests.scheduler_upstream_driver import UpstreamScheduler, upstream_default
from tests.unit.scheduler.random_clusters import SELECTOR_SOURCES, RandomClusters

FIXED_REASONS = ("Too many pods", "Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage")


def upstream_reasons(reasons: List[str]) -> List[str]:
    """kube-scheduler lists the scalar resources a node lacks in Go map order (random); kcore
    lists them by name. The fixed reasons keep their order."""
    fixed = [r for r in reasons if r in FIXED_REASONS]
    return fixed + sorted(r for r in reasons if r not in FIXED_REASONS)


BUILT_IN = {p.name: p for p in (DEFAULT, MOST_ALLOCATED)}


def profile_of(case: Dict[str, Any]) -> Profile:
    p = case["profile"]
    if p.get("default"):
        return BUILT_IN[p["name"]]
    return Profile(
        "parity",
        tuple(p["filters"]),
        {s["name"]: s["weight"] for s in p["scores"]},
        {c["name"]: c["args"] for c in p["pluginConfig"]},
    )


def set_selector_sources(snapshot: Snapshot, case: Dict[str, Any]) -> None:
    for kind, (key, _) in SELECTOR_SOURCES.items():
        for obj in case.get(key, []):
            snapshot.set_selector_source(kind, obj)


def fresh_snapshot(case: Dict[str, Any]) -> Snapshot:
    snapshot = Snapshot(case["nodes"], case["pods"], case["namespaces"], case.get("persistentVolumeClaims"))
    set_selector_sources(snapshot, case)
    return snapshot


def has_host_ports(pod: Dict[str, Any]) -> bool:
    containers = pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
    return any(p.get("hostPort") for c in containers for p in c.get("ports", []))


def churned_snapshot(seed: int) -> Callable[[Dict[str, Any]], Snapshot]:
    """A snapshot reaching the case's nodes and pods through changes, as a scheduler's cache
    does: pods before their node, stale nodes updated, nodes and pods that come and go, pods
    assumed then forgotten; half the objects are compact objects decoded from JSON.

    The pods that come and go hold no host ports: a node's ports in use are a set in
    kube-scheduler's cache (HostPortInfo), so removing one of two pods on the same port frees it
    there too, and a fresh snapshot of the final cluster would differ from the cache's."""
    rng = random.Random(seed)
    noise = RandomClusters(seed + 1000)

    def maybe_compact(obj: Dict[str, Any]) -> Any:
        return decode_compact(json.dumps(obj).encode(), "application/json") if rng.random() < 0.5 else obj

    def build(case: Dict[str, Any]) -> Snapshot:
        snapshot = Snapshot()
        for namespace in case["namespaces"]:
            if rng.random() < 0.3:  # first with other labels, then replaced
                snapshot.set_namespace({"metadata": {"name": namespace["metadata"]["name"], "labels": {"team": "z"}}})
            snapshot.set_namespace(maybe_compact(namespace))
        snapshot.set_namespace({"metadata": {"name": "gone", "labels": {"team": "a"}}})
        snapshot.remove_namespace("gone")
        for claim in case.get("persistentVolumeClaims", []):
            if rng.random() < 0.3:  # first with other access modes, then replaced
                snapshot.set_persistent_volume_claim({**claim, "spec": {"accessModes": ["ReadWriteOncePod"]}})
            snapshot.set_persistent_volume_claim(maybe_compact(claim))
        snapshot.set_persistent_volume_claim({"metadata": {"name": "gone", "namespace": "default"}})
        snapshot.remove_persistent_volume_claim("default", "gone")
        for kind in SELECTOR_SOURCES:  # one that comes and goes, one replaced
            gone = {"metadata": {"name": "gone", "namespace": "default"}, "spec": {"selector": {}}}
            snapshot.set_selector_source(kind, gone)
            snapshot.remove_selector_source(kind, "default", "gone")
        for obj in case.get("services", [])[:1]:
            snapshot.set_selector_source("Service", {**obj, "spec": {"selector": {"app": "other"}}})
        set_selector_sources(snapshot, case)
        names = [n["metadata"]["name"] for n in case["nodes"]]
        early = [p for p in case["pods"] if rng.random() < 0.3]
        for pod in early:  # counted once their node arrives
            snapshot.add_pod(maybe_compact(pod))
        for node in case["nodes"]:
            name = node["metadata"]["name"]
            if rng.random() < 0.4:
                snapshot.add_node(maybe_compact(noise.node(name)))
                snapshot.update_node(maybe_compact(node))
            else:
                snapshot.add_node(maybe_compact(node))
        for i in range(rng.choice([0, 1, 2])):  # a node that comes and goes, with a pod on it
            gone = noise.node(f"gone-{i}")
            snapshot.add_node(gone)
            ghost = noise.pod(f"ghost-{i}", names, node_name=f"gone-{i}")
            ghost["metadata"]["uid"] = f"ghost-{i}"
            snapshot.add_pod(ghost)
            snapshot.remove_node(f"gone-{i}")
            snapshot.remove_pod(ghost)
        for pod in case["pods"]:
            if pod in early:
                continue
            snapshot.add_pod(maybe_compact(pod))
            if rng.random() < 0.2 and not has_host_ports(pod):  # removed and added again
                snapshot.remove_pod(pod)
                snapshot.add_pod(pod)
        for i in range(rng.choice([0, 1, 3])):  # assumed, then the binding failed
            assumed = noise.pod(f"assumed-{i}", names)
            assumed["metadata"]["uid"] = f"assumed-{i}"
            if has_host_ports(assumed):
                continue
            snapshot.assume_pod(assumed, rng.choice(names))
            snapshot.forget_pod(maybe_compact(assumed))
        return snapshot

    return build


def kcore_answer(
    case: Dict[str, Any], snapshot_of: Callable[[Dict[str, Any]], Snapshot] = fresh_snapshot
) -> Dict[str, Any]:
    """kcore's answer in the driver's form."""
    snapshot = snapshot_of(case)
    try:
        result = Framework(profile_of(case), every_node=True).score(case["pod"], snapshot)
    except ValueError as e:
        return {"error": str(e)}
    failures = result.filtered.failures
    answer = {
        "filter": {
            node: None
            if node not in failures
            else {
                "plugin": failures[node].plugin,
                "code": failures[node].code,
                "reasons": failures[node].reasons,
            }
            for node in snapshot.node_names()
        },
        "scores": result.scores if result.feasible else {},
        "total": result.total,
    }
    if not result.feasible:
        answer["fitError"] = result.filtered.message()
    return answer


def normalized_upstream(answer: Dict[str, Any]) -> Dict[str, Any]:
    if "error" in answer:
        return answer
    for failure in answer["filter"].values():
        if failure is not None:
            failure["reasons"] = upstream_reasons(failure["reasons"])
    return answer


def compare(
    cases: List[Dict[str, Any]],
    snapshot_of: Callable[[Dict[str, Any]], Snapshot] = fresh_snapshot,
) -> Tuple[int, List[Tuple[int, Dict[str, Any], Dict[str, Any]]]]:
    with UpstreamScheduler() as upstream:
        answers = upstream.run(cases)
    mismatches = []
    for i, (case, theirs) in enumerate(zip(cases, answers)):
        ours = kcore_answer(case, snapshot_of)
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
                return (
                    f"{path}.{key}: kcore {ours.get(key, '<absent>')!r}, kube-scheduler {theirs.get(key, '<absent>')!r}"
                )
            found = first_difference(ours[key], theirs[key], f"{path}.{key}")
            if found:
                return found
        return None
    return None if ours == theirs else f"{path}: kcore {ours!r}, kube-scheduler {theirs!r}"


def assert_same_answers(seed: int, snapshot_of: Callable[[Dict[str, Any]], Snapshot]) -> None:
    generator = RandomClusters(seed)
    cases = [generator.case() for _ in range(600)]
    compared, mismatches = compare(cases, snapshot_of)
    assert compared == len(cases)
    if mismatches:
        i, ours, theirs = mismatches[0]
        pytest.fail(
            f"{len(mismatches)} of {len(cases)} cases differ (seed {seed}); case {i}: {first_difference(ours, theirs)}\n"
            f"case: {cases[i]}"
        )


@pytest.mark.parametrize("seed", range(2))
def test_random_clusters_filter_and_score_exactly_as_kube_scheduler(seed: int) -> None:
    assert_same_answers(seed, fresh_snapshot)


@pytest.mark.parametrize("profile", [DEFAULT, MOST_ALLOCATED], ids=lambda p: p.name)
def test_the_default_and_bin_packing_profiles_are_kube_schedulers_own_defaults(profile: Profile) -> None:
    generator = RandomClusters(10)
    cases = [{**generator.case(), "profile": upstream_default(profile)} for _ in range(250)]
    compared, mismatches = compare(cases)
    assert compared == len(cases)
    assert not mismatches, (
        f"{len(mismatches)} cases differ; case {mismatches[0][0]}: {first_difference(*mismatches[0][1:])}"
    )


def test_large_clusters_filtered_and_scored_on_all_cores_answer_as_kube_scheduler() -> None:
    """Beyond 256 nodes per core kcore splits the node loops across threads; the answers stay
    the same."""
    generator = RandomClusters(20)
    cases = [generator.case(nodes=1300) for _ in range(4)]
    # Half the pods fit almost anywhere, so that many nodes are scored too.
    tolerant = {
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
        "tolerations": [{"operator": "Exists"}],
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                    },
                ]
            }
        },
    }
    for case in cases[:2]:
        case["pod"] = {"metadata": {"name": "tolerant", "namespace": "default", "uid": "tolerant"}, "spec": tolerant}
        for pod in case["pods"]:  # nor does an existing pod's required anti-affinity shut it out of whole zones
            pod["spec"].get("affinity", {}).pop("podAntiAffinity", None)
    compared, mismatches = compare(cases)
    assert compared == len(cases)
    assert not mismatches, (
        f"{len(mismatches)} cases differ; case {mismatches[0][0]}: {first_difference(*mismatches[0][1:])}"
    )
    assert any(len(kcore_answer(c)["total"]) > 600 for c in cases)  # many nodes were scored, not just filtered


def test_pods_with_spread_constraints_are_filtered_and_scored_exactly_as_kube_scheduler() -> None:
    """Every pod to place carries topology spread constraints (hard and soft, on zone, hostname
    and disk, some nodes without the key): the same skew decisions and spread scores, and the
    cases do reach both rejections and scores that differ between nodes."""
    generator = RandomClusters(30)
    cases = []
    for _ in range(400):
        case = generator.case()
        case["pod"]["spec"]["topologySpreadConstraints"] = [
            generator.spread_constraint() for _ in range(generator.rng.choice([1, 2]))
        ]
        cases.append(case)
    compared, mismatches = compare(cases)
    assert compared == len(cases)
    assert not mismatches, (
        f"{len(mismatches)} cases differ; case {mismatches[0][0]}: {first_difference(*mismatches[0][1:])}"
    )
    answers = [kcore_answer(c) for c in cases]
    reasons = [
        f["reasons"][0]
        for a in answers
        if "error" not in a
        for f in a["filter"].values()
        if f and f["plugin"] == "PodTopologySpread"
    ]
    assert {
        "node(s) didn't match pod topology spread constraints",
        "node(s) didn't match pod topology spread constraints (missing required label)",
    } <= set(reasons)
    spread_scores = [a["scores"].get("PodTopologySpread", {}) for a in answers if "error" not in a]
    assert sum(len(set(s.values())) > 1 for s in spread_scores) > 20
    assert any("error" in a for a in answers)  # a selector with an operator the API does not have


def test_pods_with_disks_and_claims_are_filtered_exactly_as_kube_scheduler() -> None:
    """Every pod to place has inline disks (GCE PD, AWS EBS, iSCSI, RBD; some read-only) or
    claims, and so do many pods on the nodes: the same disk conflicts, the same ReadWriteOncePod
    conflicts, the same rejection of a pod whose claim does not exist; and the cases reach each."""
    generator = RandomClusters(40)
    cases = []
    for _ in range(400):
        case = generator.case()
        case["pod"]["spec"]["volumes"] = [generator.volume(f"v{i}") for i in range(generator.rng.choice([1, 2, 3]))]
        for pod in case["pods"]:
            if generator.chance(0.5):
                pod["spec"]["volumes"] = [generator.volume("w")]
        cases.append(case)
    compared, mismatches = compare(cases)
    assert compared == len(cases)
    assert not mismatches, (
        f"{len(mismatches)} cases differ; case {mismatches[0][0]}: {first_difference(*mismatches[0][1:])}"
    )
    reasons = {
        r
        for a in map(kcore_answer, cases)
        if "error" not in a
        for f in a["filter"].values()
        if f and f["plugin"] == "VolumeRestrictions"
        for r in f["reasons"]
    }
    assert reasons >= {
        "node(s) had no available disk",
        "node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode already in-use by another"
        " pod",
    }
    assert any(r.startswith("persistentvolumeclaim ") and r.endswith(" not found") for r in reasons)


@pytest.mark.parametrize("owner", ["ReplicationController", "ReplicaSet", "StatefulSet", None])
def test_pods_without_constraints_are_spread_by_the_system_defaults_as_kube_scheduler(owner: Optional[str]) -> None:
    """Pods to place with no constraints of their own, owned by a controller of each kind (or
    by none: the services alone select), on nodes with and without zones: the system default
    constraints (hostname maxSkew 3, zone maxSkew 5) select what the services and controller
    select, and score exactly as kube-scheduler's; the cases do reach differing scores."""
    generator = RandomClusters(70)
    cases = []
    for _ in range(300):
        case = generator.case()
        case["pod"]["spec"].pop("topologySpreadConstraints", None)
        case["pod"]["metadata"].pop("ownerReferences", None)
        if owner is not None:
            api_version = SELECTOR_SOURCES[owner][1]
            name = f"{owner.lower()}-{generator.rng.choice([0, 1])}"
            case["pod"]["metadata"]["ownerReferences"] = [
                {"apiVersion": api_version, "kind": owner, "name": name, "uid": "o", "controller": True}
            ]
        case["profile"] = upstream_default(DEFAULT)
        cases.append(case)
    compared, mismatches = compare(cases)
    assert compared == len(cases)
    assert not mismatches, (
        f"{len(mismatches)} cases differ; case {mismatches[0][0]}: {first_difference(*mismatches[0][1:])}"
    )
    spread = [kcore_answer(c)["scores"].get("PodTopologySpread", {}) for c in cases]
    assert sum(len(set(s.values())) > 1 for s in spread) >= 10


def test_a_list_of_default_constraints_filters_and_scores_pods_without_their_own_as_kube_scheduler() -> None:
    """defaultingType List: each case's own default constraints (DoNotSchedule and
    ScheduleAnyway, on hostname, zone and disk, with minDomains and inclusion policies) apply to
    pods without constraints, with the selector their services and controller give."""
    generator = RandomClusters(80)
    cases = []
    for _ in range(300):
        case = generator.case()
        case["pod"]["spec"].pop("topologySpreadConstraints", None)
        defaults = []
        for _ in range(generator.rng.choice([1, 2, 3])):
            c = generator.spread_constraint()
            c.pop("labelSelector", None)
            if all(
                (d["topologyKey"], d["whenUnsatisfiable"]) != (c["topologyKey"], c["whenUnsatisfiable"])
                for d in defaults
            ):
                defaults.append(c)
        config = {"name": "PodTopologySpread", "args": {"defaultingType": "List", "defaultConstraints": defaults}}
        case["profile"]["pluginConfig"] = [*case["profile"]["pluginConfig"], config]
        cases.append(case)
    compared, mismatches = compare(cases)
    assert compared == len(cases)
    assert not mismatches, (
        f"{len(mismatches)} cases differ; case {mismatches[0][0]}: {first_difference(*mismatches[0][1:])}"
    )
    answers = [a for a in map(kcore_answer, cases) if "error" not in a]
    rejected = sum(any(f and f["plugin"] == "PodTopologySpread" for f in a["filter"].values()) for a in answers)
    scored = sum(len(set(a["scores"].get("PodTopologySpread", {}).values())) > 1 for a in answers)
    assert rejected >= 10 and scored >= 5, (rejected, scored)


@pytest.mark.parametrize("seed", range(2, 4))
def test_a_snapshot_kept_up_to_date_through_churn_answers_as_kube_scheduler_on_the_final_cluster(seed: int) -> None:
    assert_same_answers(seed, churned_snapshot(seed))


def test_the_random_cases_reach_every_plugin_outcome() -> None:
    """The generator is worth its cases: every filter rejects somewhere (NodeName through its
    PreFilter, which narrows the nodes to the named one), nodes fit and are scored against each
    other often, and every score plugin runs."""
    generator = RandomClusters(0)
    cases = [generator.case() for _ in range(600)]
    plugins_rejecting = set()
    reasons = set()
    plugins_scoring = set()
    with_feasible = 0
    for case in cases:
        answer = kcore_answer(case)
        if "error" in answer:
            continue
        plugins_rejecting.update(f["plugin"] for f in answer["filter"].values() if f)
        reasons.update(r for f in answer["filter"].values() if f for r in f["reasons"])
        plugins_scoring.update(answer["scores"])
        with_feasible += len(answer["total"]) >= 2
    assert plugins_rejecting >= {
        "NodeUnschedulable",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeRestrictions",
        "PodTopologySpread",
        "InterPodAffinity",
        "",
    }
    assert reasons >= {
        "node(s) didn't satisfy plugin(s) [NodeName]",
        "pod affinity terms conflict",
        "Too many pods",
        "Insufficient cpu",
        "Insufficient memory",
        "Insufficient ephemeral-storage",
        "Insufficient example.com/gpu",
        "node(s) didn't match pod topology spread constraints",
        "node(s) didn't match pod topology spread constraints (missing required label)",
        "node(s) didn't match pod affinity rules",
        "node(s) didn't match pod anti-affinity rules",
        "node(s) didn't satisfy existing pods anti-affinity rules",
    }
    assert plugins_scoring == {
        "NodeResourcesFit",
        "NodeResourcesBalancedAllocation",
        "ImageLocality",
        "NodeAffinity",
        "TaintToleration",
        "PodTopologySpread",
        "InterPodAffinity",
    }
    assert with_feasible > len(cases) // 4


def test_inter_pod_affinity_scales_scores_in_floating_point_as_kube_scheduler() -> None:
    """Preferred terms of weight 29 and 100 put three nodes at 0, 29 and 100 before
    normalization; kube-scheduler scales with float64 and truncates, 100 * (29 / 100) giving 28,
    not the 29 of integer arithmetic."""

    def node(name: str) -> Dict[str, Any]:
        return {
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": {"pods": "10"}},
        }

    def pod(name: str, app: str, node_name: str) -> Dict[str, Any]:
        return {
            "metadata": {"name": name, "namespace": "default", "uid": name, "labels": {"app": app}},
            "spec": {"nodeName": node_name, "containers": [{"name": "c"}]},
        }

    def preferred(weight: int, app: str) -> Dict[str, Any]:
        return {
            "weight": weight,
            "podAffinityTerm": {
                "topologyKey": "kubernetes.io/hostname",
                "labelSelector": {"matchLabels": {"app": app}},
            },
        }

    incoming = {
        "metadata": {"name": "incoming", "namespace": "default", "uid": "incoming"},
        "spec": {
            "containers": [{"name": "c"}],
            "affinity": {
                "podAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [preferred(29, "x"), preferred(100, "y")]
                }
            },
        },
    }
    case = {
        "namespaces": [],
        "nodes": [node("a"), node("b"), node("c")],
        "pods": [pod("px", "x", "a"), pod("py", "y", "b")],
        "pod": incoming,
        "profile": {
            "filters": ["InterPodAffinity"],
            "scores": [{"name": "InterPodAffinity", "weight": 1}],
            "pluginConfig": [],
        },
    }
    compared, mismatches = compare([case])
    assert compared == 1 and not mismatches, first_difference(*mismatches[0][1:])
    assert kcore_answer(case)["scores"]["InterPodAffinity"] == {"a": 28, "b": 100, "c": 0}
