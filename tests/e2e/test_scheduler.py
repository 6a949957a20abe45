"""kcore.scheduler.Scheduler, a secondary scheduler, on a real control plane with twenty kwok
nodes (three zones, four of them tainted for infrastructure). kwok runs the pods it binds.
Where it placed pods and why it refused them are checked against kube-scheduler's own code
(tests/scheduler_upstream, the pinned k8s.io/kubernetes framework) on the same cluster state.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Dict, Iterator, List

import pytest
from prometheus_client import CollectorRegistry

import kcore
from kcore.controller import LeaderElectionOptions
from kcore.errors import ApiError
from kcore.scheduler import DEFAULT, Scheduler
from kcore.testenv import KWOK_NODE_ANNOTATION, ControlPlane
from tests.clusters import admin_config
from tests.scheduler_upstream_driver import UpstreamScheduler, upstream_default
from tests.waiting import wait_for

NODES = [f"sched-node-{i:02}" for i in range(20)]
ZONES = ("a", "b", "c")
TAINTED = set(NODES[-4:])
INFRA_TAINT = {"key": "dedicated", "value": "infra", "effect": "NoSchedule"}
CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110"}
NAME = "kcore-scheduler"
ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"


def zone_of(node: str) -> str:
    return ZONES[NODES.index(node) % len(ZONES)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, CollectorRegistry, Scheduler]]:
    with ControlPlane(with_kwok=True) as plane:
        cs = kcore.Clientset(admin_config(plane))
        for node in NODES:
            cs.core_v1.nodes().create(
                {
                    "metadata": {
                        "name": node,
                        "labels": {ZONE: zone_of(node), HOSTNAME: node},
                        "annotations": {KWOK_NODE_ANNOTATION: "fake"},
                    }
                }
            )

        def ready(node: Any) -> bool:
            conditions = node.get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        assert wait_for(lambda: all(map(ready, cs.core_v1.nodes().list()["items"])), timeout=60), "nodes not Ready"
        # No node controller runs to lift the not-ready taint admission put on: set the taints
        # wanted, and the capacity kwok keeps.
        for node in NODES:
            cs.core_v1.nodes().patch(node, {"spec": {"taints": [INFRA_TAINT] if node in TAINTED else None}})
            status = {"status": {"allocatable": CAPACITY, "capacity": CAPACITY}}
            cs.core_v1.nodes().patch(node, status, subresource="status")
        registry = CollectorRegistry()
        with Scheduler(cs, scheduler_name=NAME, seed=7, registry=registry) as scheduler:
            yield cs, registry, scheduler


def pod(name: str, kind: int, rng: random.Random) -> Dict[str, Any]:
    """One of ten kinds of pod, each asking the scheduler something different."""
    cpu, memory = f"{rng.choice((20, 50, 80))}m", f"{rng.choice((32, 64, 128))}Mi"
    spec: Dict[str, Any] = {
        "schedulerName": NAME,
        "containers": [
            {"name": "app", "image": f"app:{kind}", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
        ],
    }
    labels = {"kind": str(kind), "group": f"g{rng.randrange(7)}"}
    if kind == 5:
        spec["nodeSelector"] = {ZONE: rng.choice(ZONES)}
    elif kind == 6:
        spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "infra", "effect": "NoSchedule"}]
    elif kind == 7:
        term = {"labelSelector": {"matchLabels": {"group": labels["group"]}}, "topologyKey": HOSTNAME}
        spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "podAffinityTerm": term}]
            }
        }
    elif kind == 8:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"kind": "8"}},
            }
        ]
    elif kind == 9:
        required = {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["b", "c"]}]}]
        }
        preferred = [
            {"weight": 20, "preference": {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["c"]}]}}
        ]
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": required,
                "preferredDuringSchedulingIgnoredDuringExecution": preferred,
            }
        }
    elif kind == 10:  # one per node at most
        term = {"labelSelector": {"matchLabels": {"kind": "10"}}, "topologyKey": HOSTNAME}
        spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    elif kind == 11:
        spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


def namespace(cs: Any, name: str) -> str:
    cs.core_v1.namespaces().create({"metadata": {"name": name}})
    return name


def cluster_state(cs: Any) -> Dict[str, Any]:
    """What kube-scheduler's driver needs: the nodes, the bound pods, the namespaces."""
    pods = [p for p in cs.core_v1.pods().list()["items"] if p["spec"].get("nodeName")]
    return {
        "nodes": cs.core_v1.nodes().list()["items"],
        "pods": pods,
        "namespaces": cs.core_v1.namespaces().list()["items"],
    }


def unbound(p: Dict[str, Any]) -> Dict[str, Any]:
    return {**p, "spec": {k: v for k, v in p["spec"].items() if k != "nodeName"}}


def test_a_thousand_pods_of_ten_kinds_all_run_and_each_fits_where_it_landed_as_kube_scheduler_sees_it(
    cluster: tuple[Any, CollectorRegistry, Scheduler],
) -> None:
    cs, *_ = cluster
    ns = namespace(cs, "thousand")
    rng = random.Random(1)
    kinds = [i % 10 for i in range(980)] + [10] * 10 + [11] * 10
    for i, kind in enumerate(kinds):
        cs.core_v1.pods(ns).create(pod(f"p-{i:04}", kind, rng))

    def running() -> int:
        return sum(p["status"].get("phase") == "Running" for p in cs.core_v1.pods(ns).list()["items"])

    assert wait_for(lambda: running() == len(kinds), timeout=240), f"{running()} of {len(kinds)} pods run"
    state = cluster_state(cs)
    placed = {p["metadata"]["name"]: p for p in state["pods"] if p["metadata"]["namespace"] == ns}
    for kind, node_of in ((10, "one per node"), (11, "one per node for its host port")):
        nodes = [p["spec"]["nodeName"] for p in placed.values() if p["metadata"]["labels"]["kind"] == str(kind)]
        assert len(set(nodes)) == len(nodes), (node_of, nodes)
    assert not any(
        p["spec"]["nodeName"] in TAINTED for p in placed.values() if p["metadata"]["labels"]["kind"] != "6"
    ), "a pod without the toleration landed on a tainted node"
    # Every pod of the last kinds, and a sample of the rest, against kube-scheduler's filters on
    # the final cluster with every other pod in place (the constraints here are symmetric, so a
    # pod that fit when it was placed still fits among the pods placed after it).
    sample = [p for p in placed.values() if p["metadata"]["labels"]["kind"] in ("5", "6", "9", "10", "11")][:60]
    sample += random.Random(2).sample(list(placed.values()), 30)
    cases = [
        {
            **state,
            "pods": [o for o in state["pods"] if o["metadata"]["uid"] != p["metadata"]["uid"]],
            "pod": unbound(p),
            "profile": upstream_default(DEFAULT),
        }
        for p in sample
    ]
    with UpstreamScheduler() as upstream:
        answers = upstream.run(cases)
    for p, answer in zip(sample, answers):
        assert "error" not in answer, answer
        node = p["spec"]["nodeName"]
        assert answer["filter"][node] is None, (p["metadata"]["name"], node, answer["filter"][node])


def test_each_choice_is_among_kube_schedulers_best_scored_nodes_for_the_same_cluster(
    cluster: tuple[Any, CollectorRegistry, Scheduler],
) -> None:
    cs, *_ = cluster
    ns = namespace(cs, "one-by-one")
    rng = random.Random(3)
    cases, chosen = [], []
    for i in range(24):
        state = cluster_state(cs)
        created = cs.core_v1.pods(ns).create(pod(f"q-{i:02}", i % 10, rng))
        assert wait_for(
            lambda: cs.core_v1.pods(ns).get(created["metadata"]["name"])["spec"].get("nodeName"), timeout=30
        )
        chosen.append(cs.core_v1.pods(ns).get(created["metadata"]["name"])["spec"]["nodeName"])
        cases.append({**state, "pod": created, "profile": upstream_default(DEFAULT)})
    with UpstreamScheduler() as upstream:
        answers = upstream.run(cases)
    for i, (node, answer) in enumerate(zip(chosen, answers)):
        assert answer["filter"][node] is None, (i, node, answer["filter"][node])
        best = max(answer["total"].values())
        assert answer["total"][node] == best, (i, node, answer["total"][node], best)


def test_a_pod_that_fits_nowhere_gets_kube_schedulers_condition_and_event_and_waits_for_a_node_that_fits(
    cluster: tuple[Any, CollectorRegistry, Scheduler],
) -> None:
    cs, registry, _ = cluster
    ns = namespace(cs, "nowhere")
    wanted = {**pod("waits", 0, random.Random(4))}
    wanted["spec"]["nodeSelector"] = {"kcore.test/late": "yes"}
    state = cluster_state(cs)
    created = cs.core_v1.pods(ns).create(wanted)

    def condition() -> Any:
        conditions = cs.core_v1.pods(ns).get("waits").get("status", {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == "PodScheduled"), None)

    assert wait_for(lambda: condition() is not None, timeout=30)
    with UpstreamScheduler() as upstream:
        [answer] = upstream.run([{**state, "pod": created, "profile": upstream_default(DEFAULT)}])
    cond = condition()
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", answer["fitError"])
    assert (
        cond["message"]
        == "0/20 nodes are available: 16 node(s) didn't match Pod's node affinity/selector, 4 node(s) had untolerated taint(s)."
    )
    assert cond["observedGeneration"] == created["metadata"]["generation"]

    def failed_scheduling() -> List[Any]:
        events = cs.events_v1.events(ns).list()["items"]
        return [e for e in events if e["reason"] == "FailedScheduling" and e["regarding"]["name"] == "waits"]

    assert wait_for(lambda: bool(failed_scheduling()), timeout=30)
    event = failed_scheduling()[0]
    assert (event["type"], event["action"], event["note"], event["reportingController"]) == (
        "Warning",
        "Scheduling",
        answer["fitError"],
        NAME,
    )
    # A node gains the label: the NodeUpdate event brings the pod back, and it lands there.
    cs.core_v1.nodes().patch(NODES[3], {"metadata": {"labels": {"kcore.test/late": "yes"}}})
    assert wait_for(lambda: cs.core_v1.pods(ns).get("waits")["spec"].get("nodeName") == NODES[3], timeout=30)
    scheduled = lambda: [e for e in cs.events_v1.events(ns).list()["items"] if e["reason"] == "Scheduled"]  # noqa: E731
    assert wait_for(lambda: bool(scheduled()), timeout=30)
    assert scheduled()[0]["note"] == f"Successfully assigned {ns}/waits to {NODES[3]}"
    assert (
        registry.get_sample_value("scheduler_schedule_attempts_total", {"result": "unschedulable", "profile": NAME})
        >= 1
    )


def test_a_pod_naming_a_missing_claim_waits_for_it_and_a_read_write_once_pod_claim_is_not_shared(
    cluster: tuple[Any, CollectorRegistry, Scheduler],
) -> None:
    """VolumeRestrictions through the scheduler's claim informer: kube-scheduler's message for a
    claim that does not exist; its creation (a PersistentVolumeClaim add event) brings the pod
    back; a second pod on the same ReadWriteOncePod claim fits nowhere."""
    cs, *_ = cluster
    ns = namespace(cs, "claims")
    uses_claim = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    first = pod("first", 0, random.Random(7))
    first["spec"]["volumes"] = uses_claim
    cs.core_v1.pods(ns).create(first)

    def message(name: str) -> Any:
        conditions = cs.core_v1.pods(ns).get(name).get("status", {}).get("conditions", [])
        return next((c["message"] for c in conditions if c["type"] == "PodScheduled"), None)

    assert wait_for(lambda: message("first") is not None, timeout=30)
    assert message("first") == '0/20 nodes are available: persistentvolumeclaim "data" not found.'
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOncePod"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    claim = cs.core_v1.persistent_volume_claims(ns).create(claim)
    assert wait_for(lambda: cs.core_v1.pods(ns).get("first")["spec"].get("nodeName"), timeout=30)
    second = pod("second", 0, random.Random(8))
    second["spec"]["volumes"] = uses_claim
    state = cluster_state(cs)
    created = cs.core_v1.pods(ns).create(second)
    assert wait_for(lambda: message("second") is not None, timeout=30)
    with UpstreamScheduler() as upstream:
        [answer] = upstream.run(
            [{**state, "persistentVolumeClaims": [claim], "pod": created, "profile": upstream_default(DEFAULT)}]
        )
    assert message("second") == answer["fitError"]
    assert message("second") == (
        "0/20 nodes are available: 16 node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod"
        " access mode already in-use by another pod, 4 node(s) had untolerated taint(s)."
    )


def test_pods_of_another_scheduler_are_left_alone(cluster: tuple[Any, CollectorRegistry, Scheduler]) -> None:
    cs, *_ = cluster
    ns = namespace(cs, "others")
    other = pod("other", 0, random.Random(5))
    other["spec"]["schedulerName"] = "someone-else"
    cs.core_v1.pods(ns).create(other)
    cs.core_v1.pods(ns).create(pod("ours", 0, random.Random(5)))
    assert wait_for(lambda: cs.core_v1.pods(ns).get("ours")["spec"].get("nodeName"), timeout=30)
    left = cs.core_v1.pods(ns).get("other")
    assert not left["spec"].get("nodeName") and not left.get("status", {}).get("conditions")


def test_the_metrics_count_attempts_by_result_and_show_the_pending_pods(
    cluster: tuple[Any, CollectorRegistry, Scheduler],
) -> None:
    _, registry, _ = cluster
    profile = NAME
    assert (
        registry.get_sample_value("scheduler_schedule_attempts_total", {"result": "scheduled", "profile": profile})
        >= 1000
    )
    assert (
        registry.get_sample_value(
            "scheduler_scheduling_attempt_duration_seconds_count", {"result": "scheduled", "profile": profile}
        )
        >= 1000
    )
    for queue in ("active", "backoff", "unschedulable", "gated"):
        assert registry.get_sample_value("scheduler_pending_pods", {"queue": queue}) is not None


def test_a_gated_pod_waits_for_its_last_gate_to_go(cluster: tuple[Any, CollectorRegistry, Scheduler]) -> None:
    cs, registry, _ = cluster
    ns = namespace(cs, "gated")
    gated = pod("gated", 0, random.Random(6))
    gated["spec"]["schedulingGates"] = [{"name": "kcore.test/hold"}]
    cs.core_v1.pods(ns).create(gated)
    assert wait_for(lambda: registry.get_sample_value("scheduler_pending_pods", {"queue": "gated"}) == 1, timeout=30)
    assert not cs.core_v1.pods(ns).get("gated")["spec"].get("nodeName")
    cs.core_v1.pods(ns).patch("gated", {"spec": {"schedulingGates": None}})
    assert wait_for(lambda: cs.core_v1.pods(ns).get("gated")["spec"].get("nodeName"), timeout=30)


def test_of_two_replicas_only_the_leader_schedules_and_the_other_takes_over_when_it_goes(
    cluster: tuple[Any, CollectorRegistry, Scheduler],
) -> None:
    cs, *_ = cluster
    ns = namespace(cs, "replicas")
    name = "kcore-ha"
    timing = dict(lease_duration=2.0, renew_deadline=1.5, retry_period=0.5, release_on_cancel=True)
    registries = {identity: CollectorRegistry() for identity in ("one", "two")}
    replicas = {
        identity: Scheduler(
            cs,
            scheduler_name=name,
            registry=registry,
            leader_election=LeaderElectionOptions("default", name, identity=identity, **timing),
        )
        for identity, registry in registries.items()
    }

    def scheduled_by(identity: str) -> float:
        sample = registries[identity].get_sample_value(
            "scheduler_schedule_attempts_total", {"result": "scheduled", "profile": name}
        )
        return sample or 0.0

    def place(pod_name: str) -> None:
        p = pod(pod_name, 0, random.Random(8))
        p["spec"]["schedulerName"] = name
        cs.core_v1.pods(ns).create(p)
        assert wait_for(lambda: cs.core_v1.pods(ns).get(pod_name)["spec"].get("nodeName"), timeout=30)

    threads = {i: threading.Thread(target=r.run, daemon=True) for i, r in replicas.items()}
    for thread in threads.values():
        thread.start()
    try:
        place("first")
        assert wait_for(lambda: scheduled_by("one") + scheduled_by("two") == 1, timeout=10)
        leader = "one" if scheduled_by("one") else "two"
        follower = "two" if leader == "one" else "one"
        replicas[leader].stop()  # releases the Lease on its way out
        threads[leader].join(10)
        assert not threads[leader].is_alive()
        place("second")
        assert wait_for(lambda: scheduled_by(follower) == 1, timeout=10)
        assert scheduled_by(leader) == 1
    finally:
        for replica in replicas.values():
            replica.stop()
        for thread in threads.values():
            thread.join(10)


def test_a_refused_binding_is_forgotten_and_retried_after_its_backoff(
    cluster: tuple[Any, CollectorRegistry, Scheduler],
) -> None:
    cs, registry, scheduler = cluster
    ns = namespace(cs, "refused")
    # A ValidatingAdmissionPolicy refuses the bindings of pods named refused-*, until it goes.
    policy = {
        "metadata": {"name": "refuse-bindings"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods/binding"]}
                ]
            },
            "validations": [{"expression": "!object.metadata.name.startsWith('refused-')", "message": "no binding"}],
        },
    }
    admission = cs.admissionregistration_v1
    admission.validating_admission_policies().create(policy)
    binding = {
        "metadata": {"name": "refuse-bindings"},
        "spec": {"policyName": "refuse-bindings", "validationActions": ["Deny"]},
    }
    admission.validating_admission_policy_bindings().create(binding)

    def errors() -> float:
        return registry.get_sample_value("scheduler_schedule_attempts_total", {"result": "error", "profile": NAME}) or 0

    def cpu_counted() -> int:
        return sum(scheduler.snapshot.node_usage(node)["requested"]["cpu"] for node in NODES)

    before, counted = errors(), cpu_counted()
    try:
        refused = pod("refused-1", 0, random.Random(9))
        refused["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "3"  # a lot, to see it counted or not
        assert wait_for(lambda: probe_policy(cs, ns), timeout=30), "the policy never took effect"
        cs.core_v1.pods(ns).create(refused)
        assert wait_for(lambda: errors() >= before + 2, timeout=30)  # tried, refused, retried after 1 s
        events = cs.events_v1.events(ns).list()["items"]
        notes = [
            e["note"] for e in events if e["reason"] == "FailedScheduling" and e["regarding"]["name"] == "refused-1"
        ]
        assert notes and notes[0].startswith("Binding rejected: ") and "no binding" in notes[0], notes
        assert not cs.core_v1.pods(ns).get("refused-1")["spec"].get("nodeName")
        # Assumed on a node for each attempt and forgotten when refused: between attempts no
        # node counts its 3 CPUs.
        assert wait_for(lambda: cpu_counted() == counted, timeout=30), (cpu_counted(), counted)
    finally:
        admission.validating_admission_policy_bindings().delete("refuse-bindings")
        admission.validating_admission_policies().delete("refuse-bindings")
    # The policy gone, the next retry binds it.
    assert wait_for(lambda: cs.core_v1.pods(ns).get("refused-1")["spec"].get("nodeName"), timeout=60)


def probe_policy(cs: Any, ns: str) -> bool:
    """Whether the API server enforces the policy yet (it reads policies from an informer)."""
    name = f"refused-probe-{random.randrange(10**6)}"
    cs.core_v1.pods(ns).create({"metadata": {"name": name}, "spec": {"containers": [{"name": "a", "image": "a"}]}})
    target = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"kind": "Node", "name": NODES[0]},
    }
    try:
        cs.core_v1.pods(ns).create_subresource(name, "binding", target)
        return False
    except ApiError:
        return True
    finally:
        cs.core_v1.pods(ns).delete(name)
