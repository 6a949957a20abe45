"""examples/replicaset.py against kube-controller-manager's own ReplicaSet controller (the pinned
release, built by kcore.testenv): the same scripted inputs on two planes, one running upstream's
controller and one running kcore's, and the same outcome required of both.

Pods get generated names, so the scripts make the outcome readable by name: orphans created
with names and states of their own are adopted and then scaled down one at a time, and the
order in which each controller deletes them is compared (with upstream's order also checked
against the ranking it is meant to follow, so that the script is shown to tell the rules apart).
Pods created from a template are compared as objects, minus what the API server generates.
Both planes have kube-scheduler and kwok (a fake kubelet): pods bound to the kwok node run and
turn ready. The pods whose state the scripts set by hand are bound to plain nodes that nothing
manages, so nothing else changes them.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Optional, TypeVar

import pytest

import kcore
from examples.replicaset import ReplicaSetController
from kcore.clients import RESTClient
from kcore.testenv import KWOK_NODE_ANNOTATION, ControlPlane
from tests.clusters import admin_config
from tests.example_process import example_process
from tests.waiting import wait_for

KWOK_NODE = "kwok-1"
STATIC_NODES = ["node-a", "node-b", "node-c", "node-d"]
SETTLE_TIMEOUT = 60.0
UNSCHEDULABLE = "no-such-scheduler"
"""A schedulerName no scheduler answers to: the pod stays unassigned."""
T = TypeVar("T")


@dataclass
class Plane:
    name: str  # "kube-controller-manager" or "kcore"
    cs: kcore.Clientset


def start_plane(controllers: list[str]) -> ControlPlane:
    plane = ControlPlane(with_kwok=True, with_scheduler=True, controllers=controllers)
    plane.start()
    return plane


def prepare_nodes(cs: kcore.Clientset) -> None:
    """A kwok node that runs what is scheduled to it, and plain nodes nothing manages (they keep
    admission's not-ready taint: the scheduler never picks them; the scripts bind pods there)."""
    nodes = cs.core_v1.nodes()
    nodes.create({"metadata": {"name": KWOK_NODE, "annotations": {KWOK_NODE_ANNOTATION: "fake"}}})
    for name in STATIC_NODES:
        nodes.create({"metadata": {"name": name}})
    assert wait_for(
        lambda: any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in nodes.get(KWOK_NODE).get("status", {}).get("conditions") or []
        ),
        timeout=60,
    )
    node = nodes.get(KWOK_NODE)
    node["spec"]["taints"] = []  # no node lifecycle controller runs to lift it
    nodes.update(node)


@pytest.fixture(scope="module")
def planes() -> Iterator[tuple[Plane, Plane]]:
    with ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        upstream_start, kcore_start = pool.submit(start_plane, ["replicaset"]), pool.submit(start_plane, [])
        upstream_plane, kcore_plane = upstream_start.result(), kcore_start.result()
        stack.callback(upstream_plane.stop)
        stack.callback(kcore_plane.stop)
        upstream = Plane("kube-controller-manager", kcore.Clientset(admin_config(upstream_plane)))
        ours = Plane("kcore", kcore.Clientset(admin_config(kcore_plane)))
        list(pool.map(prepare_nodes, [upstream.cs, ours.cs]))
        stack.enter_context(ReplicaSetController.from_config(admin_config(kcore_plane)))
        yield upstream, ours


def on_both(planes: tuple[Plane, Plane], script: Callable[[kcore.Clientset], T]) -> tuple[T, T]:
    """Run ``script`` on both planes at once; (upstream's outcome, kcore's)."""
    with ThreadPoolExecutor(2) as pool:
        upstream, ours = [pool.submit(script, plane.cs) for plane in planes]
        return upstream.result(), ours.result()


# -- reading the planes --------------------------------------------------------------------------


def controlled_by(pod: Any, rs: Any) -> bool:
    return any(
        ref.get("controller") and ref["uid"] == rs["metadata"]["uid"]
        for ref in pod["metadata"].get("ownerReferences") or []
    )


def active_pods(cs: kcore.Clientset, namespace: str, rs_name: str) -> list[Any]:
    rs = cs.apps_v1.replica_sets(namespace).get(rs_name)
    return [
        pod
        for pod in cs.core_v1.pods(namespace).list()["items"]
        if controlled_by(pod, rs)
        and not pod["metadata"].get("deletionTimestamp")
        and pod["status"].get("phase") not in ("Succeeded", "Failed")
    ]


def settled(
    cs: kcore.Clientset, namespace: str, name: str, replicas: int, *, running: bool = False
) -> Callable[[], bool]:
    """The ReplicaSet has observed its spec, has ``replicas`` active pods, and its status counts
    what a fresh LIST of its pods shows (all ready and available when ``running``)."""

    def check() -> bool:
        rs = cs.apps_v1.replica_sets(namespace).get(name)
        status = rs.get("status") or {}
        pods = [pod for pod in cs.core_v1.pods(namespace).list()["items"] if controlled_by(pod, rs)]
        active = [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]
        ready = [
            pod
            for pod in active
            if any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])
        ]
        counts = {"replicas": len(active), "readyReplicas": len(ready), "terminatingReplicas": len(pods) - len(active)}
        if status.get("observedGeneration") != rs["metadata"]["generation"] or len(active) != replicas:
            return False
        if any(status.get(field, 0) != count for field, count in counts.items()):
            return False  # the status is behind the pods
        return not running or status.get("readyReplicas", 0) == status.get("availableReplicas", 0) == replicas

    return check


def settle(cs: kcore.Clientset, namespace: str, name: str, replicas: int, *, running: bool = False) -> dict[str, Any]:
    """Wait until settled; the ReplicaSet's status then."""
    assert wait_for(settled(cs, namespace, name, replicas, running=running), timeout=SETTLE_TIMEOUT), (
        f"{namespace}/{name} did not settle at {replicas}: {cs.apps_v1.replica_sets(namespace).get(name).get('status')}"
    )
    return dict(cs.apps_v1.replica_sets(namespace).get(name)["status"])


def scale(cs: kcore.Clientset, namespace: str, name: str, replicas: int) -> None:
    cs.apps_v1.replica_sets(namespace).patch(name, {"spec": {"replicas": replicas}})


def normalized_pod(pod: Any) -> dict[str, Any]:
    """A pod's metadata and spec without what the API server generates (name, uid, times, ...);
    the owner's uid as a placeholder."""
    metadata = {
        key: value
        for key, value in pod["metadata"].items()
        if key not in ("name", "uid", "resourceVersion", "creationTimestamp", "managedFields")
    }
    metadata["ownerReferences"] = [{**ref, "uid": "<owner uid>"} for ref in metadata.get("ownerReferences") or []]
    return {"metadata": metadata, "spec": pod["spec"]}


def namespace(cs: kcore.Clientset, name: str) -> str:
    """A new namespace with a probe ReplicaSet (one unschedulable replica, settled) for ``seen_so_far``."""
    cs.core_v1.namespaces().create({"metadata": {"name": name}})
    probe = web_replicaset(1, app="probe")
    probe["metadata"]["name"] = "probe"
    probe["spec"]["template"]["spec"]["schedulerName"] = UNSCHEDULABLE
    cs.apps_v1.replica_sets(name).create(probe)
    settle(cs, name, "probe", 1)
    return name


def seen_so_far(cs: kcore.Clientset, ns: str) -> None:
    """Return once the ReplicaSet controller has seen every pod event of ``ns`` so far: it is handed
    an orphan that the probe ReplicaSet selects, and acting on it (adopting it, then deleting one
    of its two pods) shows it has seen all that came before, one watch delivering pod events in
    order. A ReplicaSet created after this finds the pods made before in the controller's cache."""
    pods = cs.core_v1.pods(ns)
    pods.create(
        {
            "metadata": {"name": "probe-orphan", "labels": {"app": "probe"}},
            "spec": {"schedulerName": UNSCHEDULABLE, "containers": [{"name": "app", "image": "app:1"}]},
        }
    )

    def acted_on() -> bool:
        found = [pod for pod in pods.list()["items"] if pod["metadata"]["name"] == "probe-orphan"]
        return not found or bool(found[0]["metadata"].get("ownerReferences"))

    assert wait_for(acted_on, timeout=SETTLE_TIMEOUT)
    settle(cs, ns, "probe", 1)


# -- which pod goes first on scale-down ----------------------------------------------------------

NOW = datetime.now(timezone.utc).replace(microsecond=0)
MINUTE, TEN_MINUTES, HOUR, DAY = (
    NOW - timedelta(minutes=1),
    NOW - timedelta(minutes=10),
    NOW - timedelta(hours=1),
    NOW - timedelta(days=1),
)


@dataclass
class Orphan:
    node: Optional[str]
    phase: str = "Running"
    ready_since: Optional[datetime] = None  # None: Ready False (or no condition unless Running)
    restarts: int = 0
    deletion_cost: Optional[str] = None
    fully_labeled: bool = True


# In upstream's deletion order, each with the rule that puts it there (controller.ActivePodsWithRanks).
# The ReplicaSet is a Deployment's, so a pod's rank is how many of its active pods share its node.
RANKED_ORPHANS = {
    "unscheduled": Orphan(None, phase="Pending"),  # 1. unassigned
    "pending": Orphan("node-a", phase="Pending"),  # 2. Pending < Unknown < Running
    "unknown": Orphan("node-a", phase="Unknown", fully_labeled=False),  # 2.
    "not-ready": Orphan("node-b"),  # 3. not ready < ready
    "cheap": Orphan("node-d", ready_since=HOUR, deletion_cost="-5"),  # 4. lower pod-deletion-cost
    "crowded": Orphan("node-c", ready_since=TEN_MINUTES),  # 5. two on node-c (as node-b) ...
    "restarted": Orphan("node-b", ready_since=HOUR, restarts=5),  # 6. ... and ready for less time;
    #                                                                     7. then more restarts than steady
    "fresh": Orphan("node-a", ready_since=MINUTE, fully_labeled=False),  # ready the least time, but alone on its
    #                                                                     node: it outlived crowded and restarted
    "steady": Orphan("node-b", ready_since=HOUR),  # 6. ready for less time than crowded-old
    "crowded-old": Orphan("node-c", ready_since=DAY),
    "precious": Orphan("node-d", ready_since=HOUR, deletion_cost="100"),  # 4. the highest cost: kept
}
UPSTREAM_DELETION_ORDER = list(RANKED_ORPHANS)[:-1]


def pod_status(orphan: Orphan) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": orphan.phase}
    if orphan.phase == "Running":
        ready = orphan.ready_since is not None
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": (orphan.ready_since or NOW).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ]
        status["containerStatuses"] = [
            {
                "name": "app",
                "image": "app:1",
                "imageID": "",
                "ready": ready,
                "restartCount": orphan.restarts,
                "state": {"running": {}},
            }
        ]
    return status


def create_orphan(cs: kcore.Clientset, ns: str, name: str, orphan: Orphan) -> None:
    labels = {"app": "web", **({"tier": "front"} if orphan.fully_labeled else {})}
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if orphan.deletion_cost is not None:
        metadata["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": orphan.deletion_cost}
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "app:1"}]}
    spec.update({"nodeName": orphan.node} if orphan.node else {"schedulerName": UNSCHEDULABLE})
    pods = cs.core_v1.pods(ns)
    pod = pods.create({"metadata": metadata, "spec": spec})
    if orphan.phase != "Pending":
        pods.update_status({**pod, "status": {**pod["status"], **pod_status(orphan)}})


def web_replicaset(replicas: int, owner: Optional[Any] = None, app: str = "web") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": app}
    if owner is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
            }
        ]
    return {
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app, "tier": "front"}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
        },
    }


@dataclass
class RankingOutcome:
    owner_references: dict[str, list[dict[str, Any]]]
    adopted_status: dict[str, Any]
    deletion_order: list[str]
    final_status: dict[str, Any]


def adopt_then_scale_down_one_at_a_time(cs: kcore.Clientset) -> RankingOutcome:
    ns = namespace(cs, "ranking")
    for name, orphan in RANKED_ORPHANS.items():
        create_orphan(cs, ns, name, orphan)
    # A Deployment as the ReplicaSet's controller (no deployment controller runs to act on it).
    deployment = cs.apps_v1.deployments(ns).create(
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "app:1"}]},
                },
            },
        }
    )
    seen_so_far(cs, ns)  # else a controller could make pods for orphans it has not seen yet
    cs.apps_v1.replica_sets(ns).create(web_replicaset(len(RANKED_ORPHANS), owner=deployment))
    adopted_status = settle(cs, ns, "web", len(RANKED_ORPHANS))
    owner_references = {
        pod["metadata"]["name"]: [{**ref, "uid": "<rs uid>"} for ref in pod["metadata"]["ownerReferences"]]
        for pod in active_pods(cs, ns, "web")
    }
    order = []
    for replicas in range(len(RANKED_ORPHANS) - 1, 0, -1):
        before = {pod["metadata"]["name"] for pod in active_pods(cs, ns, "web")}
        scale(cs, ns, "web", replicas)
        settle(cs, ns, "web", replicas)
        order += sorted(before - {pod["metadata"]["name"] for pod in active_pods(cs, ns, "web")})
    return RankingOutcome(owner_references, adopted_status, order, settle(cs, ns, "web", 1))


def test_both_adopt_the_same_orphans_and_delete_them_in_upstreams_order_one_scale_down_at_a_time(
    planes: tuple[Plane, Plane],
) -> None:
    upstream, ours = on_both(planes, adopt_then_scale_down_one_at_a_time)
    # The script tells the ranking's rules apart: upstream's own order is the documented one.
    assert upstream.deletion_order == UPSTREAM_DELETION_ORDER
    assert ours.deletion_order == upstream.deletion_order

    controller_ref = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "uid": "<rs uid>",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    assert upstream.owner_references == {name: [controller_ref] for name in RANKED_ORPHANS}
    assert ours.owner_references == upstream.owner_references
    # Adopted: 11 replicas, 9 with the template's labels, 7 ready, all of them available.
    assert upstream.adopted_status == {
        "replicas": 11,
        "fullyLabeledReplicas": 9,
        "readyReplicas": 7,
        "availableReplicas": 7,
        "terminatingReplicas": 0,
        "observedGeneration": 1,
    }
    assert ours.adopted_status == upstream.adopted_status
    # Scaled to 1: the deleted pods bound to a node stay terminating (no kubelet confirms them).
    assert upstream.final_status["terminatingReplicas"] == len(RANKED_ORPHANS) - 2
    assert ours.final_status == upstream.final_status


def keep_the_older_of_two_otherwise_equal_orphans(cs: kcore.Clientset) -> list[str]:
    ns = namespace(cs, "age")
    create_orphan(cs, ns, "older", Orphan(None, phase="Pending"))
    # Upstream compares ages on a log2 scale (a tie goes by uid): made 5 s apart and compared within
    # about 2 s of the newer's creation (the timestamps have whole seconds), one is twice the other.
    time.sleep(5)
    create_orphan(cs, ns, "newer", Orphan(None, phase="Pending"))
    seen_so_far(cs, ns)
    cs.apps_v1.replica_sets(ns).create(web_replicaset(1))
    settle(cs, ns, "web", 1)
    return [pod["metadata"]["name"] for pod in active_pods(cs, ns, "web")]


def test_between_otherwise_equal_pods_both_delete_the_newer(planes: tuple[Plane, Plane]) -> None:
    upstream, ours = on_both(planes, keep_the_older_of_two_otherwise_equal_orphans)
    assert upstream == ["older"]
    assert ours == upstream


# -- pods from the template: scale up, minReadySeconds, release, deletion -------------------------

TEMPLATE_RS = {
    "metadata": {"name": "api", "labels": {"team": "a"}, "annotations": {"on-the-rs": "not copied"}},
    "spec": {
        "replicas": 3,
        "minReadySeconds": 2,
        "selector": {
            "matchLabels": {"app": "api"},
            "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "canary"]}],
        },
        "template": {
            "metadata": {
                "name": "ignored",
                "labels": {"app": "api", "track": "stable", "extra": "x"},
                "annotations": {"note": "from the template"},
                "finalizers": ["example.com/keep"],
            },
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "app:1",
                        "env": [{"name": "A", "value": "b"}],
                        "ports": [{"containerPort": 8080}],
                    }
                ],
                "terminationGracePeriodSeconds": 5,
            },
        },
    },
}


@dataclass
class TemplateOutcome:
    pods: list[str]  # normalized, as JSON, sorted
    status_at_3: dict[str, Any]
    scaled_up_pods: list[str]
    status_at_6: dict[str, Any]
    released_owner_references: Any
    status_after_release: dict[str, Any]
    status_after_delete: dict[str, Any]
    pods_in_namespace: int


def normalized_pods(cs: kcore.Clientset, ns: str) -> list[str]:
    return sorted(json.dumps(normalized_pod(pod), sort_keys=True) for pod in active_pods(cs, ns, "api"))


def create_scale_release_and_delete(cs: kcore.Clientset) -> TemplateOutcome:
    ns = namespace(cs, "template")
    cs.apps_v1.replica_sets(ns).create(TEMPLATE_RS)
    status_at_3 = settle(cs, ns, "api", 3, running=True)
    pods = normalized_pods(cs, ns)

    scale(cs, ns, "api", 6)
    status_at_6 = settle(cs, ns, "api", 6, running=True)
    scaled_up = normalized_pods(cs, ns)

    released = active_pods(cs, ns, "api")[0]["metadata"]["name"]  # (any one: they are alike)
    cs.core_v1.pods(ns).patch(released, {"metadata": {"labels": {"track": "retired"}}})
    assert wait_for(lambda: not cs.core_v1.pods(ns).get(released)["metadata"].get("ownerReferences"), timeout=30)
    status_after_release = settle(cs, ns, "api", 6, running=True)

    doomed = active_pods(cs, ns, "api")[0]["metadata"]["name"]
    cs.core_v1.pods(ns).delete(doomed)  # kwok lets it go; the template's finalizer keeps it terminating
    status_after_delete = settle(cs, ns, "api", 6, running=True)
    return TemplateOutcome(
        pods,
        status_at_3,
        scaled_up,
        status_at_6,
        cs.core_v1.pods(ns).get(released)["metadata"].get("ownerReferences"),
        status_after_release,
        status_after_delete,
        len(cs.core_v1.pods(ns).list(label_selector="app=api")["items"]),
    )


def test_both_make_the_same_pods_from_the_template_release_a_relabelled_one_and_replace_a_deleted_one(
    planes: tuple[Plane, Plane],
) -> None:
    upstream, ours = on_both(planes, create_scale_release_and_delete)
    # The template's labels, annotations and finalizers and its spec; the ReplicaSet as controller.
    pod = json.loads(upstream.pods[0])
    assert pod["metadata"]["generateName"] == "api-"
    assert pod["metadata"]["labels"] == {"app": "api", "track": "stable", "extra": "x"}
    assert pod["metadata"]["annotations"] == {"note": "from the template"}
    assert pod["metadata"]["finalizers"] == ["example.com/keep"]
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "api",
            "uid": "<owner uid>",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["spec"]["nodeName"] == KWOK_NODE
    assert ours.pods == upstream.pods
    assert ours.scaled_up_pods == upstream.scaled_up_pods and len(ours.scaled_up_pods) == 6

    assert upstream.status_at_3 == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "terminatingReplicas": 0,
        "observedGeneration": 1,
    }
    assert ours.status_at_3 == upstream.status_at_3
    assert ours.status_at_6 == upstream.status_at_6
    # Released: no owner left, and a replacement made; deleted: replaced as soon as it is terminating.
    assert upstream.released_owner_references is None
    assert ours.released_owner_references == upstream.released_owner_references
    assert ours.status_after_release == upstream.status_after_release
    assert upstream.status_after_delete["terminatingReplicas"] == 1
    assert ours.status_after_delete == upstream.status_after_delete
    assert upstream.pods_in_namespace == 8  # 6 active, the released one, the terminating one
    assert ours.pods_in_namespace == upstream.pods_in_namespace


# -- slow start and expectations, counted by the API server -------------------------------------

STRIP_OWNERS = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "MutatingAdmissionPolicy",
    "metadata": {"name": "strip-owners"},
    "spec": {
        "matchConstraints": {
            "resourceRules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
            ]
        },
        "matchConditions": [{"name": "owned", "expression": "has(object.metadata.ownerReferences)"}],
        "failurePolicy": "Fail",
        "reinvocationPolicy": "Never",
        "mutations": [
            {
                "patchType": "JSONPatch",
                "jsonPatch": {"expression": "[JSONPatch{op: 'remove', path: '/metadata/ownerReferences'}]"},
            }
        ],
    },
}


def pod_creates_refused(cs: kcore.Clientset) -> int:
    """How many pod creates the API server has refused (403) so far, from its /metrics."""
    metrics = RESTClient(cs.config).get().abs_path("/metrics").do_raw().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in metrics.splitlines()
        if line.startswith("apiserver_request_total{")
        and 'code="403"' in line
        and 'resource="pods"' in line
        and 'verb="POST"' in line
        and 'subresource=""' in line
    )


def create_ten_under_a_quota_of_three_never_seeing_the_creates(cs: kcore.Clientset) -> tuple[int, int]:
    """A ReplicaSet of 10 in a namespace where 3 pods fit, whose creates the controller never sees
    as its own: an admission policy strips the ownerReference from every pod created there (the
    controller adopts them later, as orphans). Its first sync creates in batches of 1, 2, 4 and
    stops after the batch the quota refuses (4 refusals; 7 without slow start); the 3 creates it
    then still expects never arrive, so it creates nothing more for 5 minutes (without
    expectations, each retry would be refused again). Returns the refusals and the pods adopted."""
    ns = namespace(cs, "slowstart")
    refused_before = pod_creates_refused(cs)
    quotas = cs.core_v1.resource_quotas(ns)
    quota = quotas.create({"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "4"}}})  # the probe's and 3
    quotas.update_status({**quota, "status": {"hard": {"pods": "4"}, "used": {"pods": "1"}}})
    policies = cs.admissionregistration_v1
    policies.mutating_admission_policies().create(STRIP_OWNERS)
    policies.mutating_admission_policy_bindings().create(
        {
            "metadata": {"name": "strip-owners"},
            "spec": {
                "policyName": "strip-owners",
                "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}},
            },
        }
    )
    assert wait_for(lambda: policy_strips_owners(cs, ns), timeout=SETTLE_TIMEOUT)

    rs = web_replicaset(10)
    rs["spec"]["template"]["spec"]["schedulerName"] = UNSCHEDULABLE
    cs.apps_v1.replica_sets(ns).create(rs)
    assert wait_for(lambda: len(active_pods(cs, ns, "web")) == 3, timeout=SETTLE_TIMEOUT)
    refused = pod_creates_refused(cs) - refused_before
    time.sleep(2)  # a controller that retried would be refused again within milliseconds
    assert pod_creates_refused(cs) - refused_before == refused
    return refused, len(active_pods(cs, ns, "web"))


def policy_strips_owners(cs: kcore.Clientset, ns: str) -> bool:
    """Whether the policy is in force yet (admission picks policies up asynchronously): a pod made
    with an ownerReference comes out without one (a dry run, so nothing is created)."""
    pod = cs.core_v1.pods(ns).create(
        {
            "metadata": {
                "generateName": "dry-",
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "x",
                        "uid": "00000000-0000-0000-0000-000000000001",
                    }
                ],
            },
            "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        },
        dry_run=True,
    )
    return not pod["metadata"].get("ownerReferences")


def test_both_create_in_slow_start_batches_and_wait_for_the_creates_they_expect(planes: tuple[Plane, Plane]) -> None:
    upstream, ours = on_both(planes, create_ten_under_a_quota_of_three_never_seeing_the_creates)
    assert upstream == (4, 3)
    assert ours == upstream


# -- a quota that refuses some creates -----------------------------------------------------------


def create_beyond_a_quota(cs: kcore.Clientset) -> tuple[int, list[dict[str, Any]]]:
    ns = namespace(cs, "quota")
    quotas = cs.core_v1.resource_quotas(ns)
    quota = quotas.create({"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "2"}}})
    # No quota controller runs: give the quota the usage it would have computed (none yet).
    quotas.update_status({**quota, "status": {"hard": {"pods": "2"}, "used": {"pods": "0"}}})
    rs = web_replicaset(5)
    rs["spec"]["template"]["spec"]["schedulerName"] = UNSCHEDULABLE
    cs.apps_v1.replica_sets(ns).create(rs)

    def failed() -> bool:
        conditions = (cs.apps_v1.replica_sets(ns).get("web").get("status") or {}).get("conditions") or []
        return bool(conditions) and len(active_pods(cs, ns, "web")) == 2

    assert wait_for(failed, timeout=SETTLE_TIMEOUT)
    status = cs.apps_v1.replica_sets(ns).get("web")["status"]
    conditions = [
        {key: value for key, value in condition.items() if key != "lastTransitionTime"}
        for condition in status["conditions"]
    ]
    for condition in conditions:  # the refused pod's generated name
        condition["message"] = condition["message"].split('"', 2)[0] + "<name>" + condition["message"].split('"', 2)[2]
    return len(active_pods(cs, ns, "web")), conditions


def test_both_stop_at_a_quota_and_report_the_refusal_in_the_same_replica_failure_condition(
    planes: tuple[Plane, Plane],
) -> None:
    upstream, ours = on_both(planes, create_beyond_a_quota)
    assert upstream == (
        2,
        [
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": "FailedCreate",
                "message": "pods <name> is forbidden: exceeded quota: pods, requested: pods=1, "
                "used: pods=2, limited: pods=2",
            }
        ],
    )
    assert ours == upstream


# -- the example as a process --------------------------------------------------------------------


def test_the_example_as_a_process_follows_its_kubeconfig_keeps_the_replicas_and_exits_cleanly_on_sigterm() -> None:
    with (
        ControlPlane() as plane,
        example_process("replicaset.py", plane, "--metrics-port=0", "--health-port=0") as stop,
    ):
        cs = kcore.Clientset(admin_config(plane))
        cs.apps_v1.replica_sets("default").create(web_replicaset(2))
        settle(cs, "default", "web", 2)
        scale(cs, "default", "web", 1)
        settle(cs, "default", "web", 1)
        output = stop()
    assert "ReplicaSet default/web: too few replicas, creating 2" in output, output
    assert "ReplicaSet default/web: too many replicas, deleting" in output, output
    assert "replicaset: stopped" in output, output
