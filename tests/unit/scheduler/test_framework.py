"""kcore.scheduler's library API: profiles and the legacy names, the choice among the best
nodes, the snapshot's bookkeeping, and clear errors for bad input. (Exactness against
kube-scheduler itself is test_parity_with_kube_scheduler.py.)"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Dict, List, Optional

import pytest

from kcore.scheduler import DEFAULT, MOST_ALLOCATED, FitError, Framework, Profile, Snapshot


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110", **spec: Any) -> Dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": spec,
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}},
    }


def pod(name: str, cpu: Optional[str] = None, node_name: Optional[str] = None, **spec: Any) -> Dict[str, Any]:
    requests = {"cpu": cpu} if cpu else {}
    body: Dict[str, Any] = {"containers": [{"name": "c", "image": "app", "resources": {"requests": requests}}], **spec}
    if node_name:
        body["nodeName"] = node_name
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"}, "spec": body}


def test_legacy_predicates_and_priorities_map_onto_the_plugins_that_do_their_work() -> None:
    provider = Profile.from_legacy(
        "legacy",
        [
            "CheckNodeUnschedulable",
            "HostName",
            "PodToleratesNodeTaints",
            "MatchNodeSelector",
            "PodFitsHostPorts",
            "PodFitsResources",
        ],
        {
            "MostRequestedPriority": 2,
            "BalancedResourceAllocation": 1,
            "ImageLocalityPriority": 1,
            "NodeAffinityPriority": 1,
            "TaintTolerationPriority": 1,
        },
    )
    assert provider.filters == (
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
    )
    assert dict(provider.scores) == {
        "NodeResourcesFit": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
        "NodeAffinity": 1,
        "TaintToleration": 1,
    }
    assert provider.plugin_args == {"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}}}


def test_a_legacy_provider_takes_one_of_least_and_most_requested_and_only_known_names() -> None:
    with pytest.raises(ValueError, match="second use of the NodeResourcesFit plugin"):
        Profile.from_legacy("x", [], {"LeastRequestedPriority": 1, "MostRequestedPriority": 1})
    with pytest.raises(ValueError, match="unknown predicate 'PodFirstResources'"):
        Profile.from_legacy("x", ["PodFirstResources"], {})
    with pytest.raises(ValueError, match="unknown priority 'SelectorSpreadPriority'"):
        Profile.from_legacy("x", [], {"SelectorSpreadPriority": 1})


def test_bin_packing_prefers_the_fuller_node_and_the_default_the_emptier() -> None:
    snapshot = Snapshot([node("busy"), node("idle")], [pod("running", cpu="3", node_name="busy")])
    incoming = pod("incoming", cpu="500m")
    assert Framework(MOST_ALLOCATED).schedule(incoming, snapshot) == "busy"
    assert Framework(DEFAULT).schedule(incoming, snapshot) == "idle"


def test_schedule_picks_uniformly_among_the_best_nodes_and_a_seed_repeats_the_pick() -> None:
    snapshot = Snapshot([node(f"n{i}") for i in range(4)] + [node("small", cpu="1")])
    framework = Framework()
    incoming = pod("incoming", cpu="500m")
    picks = Counter(framework.schedule(incoming, snapshot, seed=s) for s in range(800))
    assert set(picks) == {"n0", "n1", "n2", "n3"}  # "small" scores lower and is never chosen
    assert all(150 <= n <= 250 for n in picks.values()), picks
    assert [framework.schedule(incoming, snapshot, seed=7) for _ in range(5)] == [
        framework.schedule(incoming, snapshot, seed=7)
    ] * 5


def test_a_pod_that_fits_nowhere_raises_fit_error_with_kube_schedulers_message() -> None:
    snapshot = Snapshot([node("a", cpu="1"), node("b", cpu="1"), node("c", unschedulable=True)])
    with pytest.raises(FitError) as e:
        Framework().schedule(pod("big", cpu="2"), snapshot)
    assert str(e.value) == "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
    assert e.value.result.failures["a"].code == "UnschedulableAndUnresolvable"
    assert e.value.result.feasible == []


def usage(snapshot: Snapshot, name: str) -> Dict[str, Dict[str, int]]:
    return snapshot.node_usage(name)


def test_a_pods_request_is_its_app_containers_and_sidecars_or_its_largest_init_container_with_the_sidecars_before_it() -> (
    None
):
    # Containers 1 cpu + sidecar 500m = 1500m; the init container that runs after the sidecar
    # needs 2 cpu + 500m = 2500m: the pod needs the larger, plus its overhead of 100m.
    sidecar = {"name": "s", "image": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}}
    init = {"name": "i", "image": "setup", "resources": {"requests": {"cpu": "2"}}}
    snapshot = Snapshot([node("n")])
    snapshot.add_pod(pod("p", cpu="1", node_name="n", initContainers=[sidecar, init], overhead={"cpu": "100m"}))
    requested = usage(snapshot, "n")["requested"]
    assert requested["cpu"] == 2600 and requested["pods"] == 1
    # No container asks for memory: scoring counts 200 MiB per container, and at the peak two
    # run at once (app + sidecar, or init + sidecar).
    assert usage(snapshot, "n")["non_zero_requested"] == {"cpu": 2600, "memory": 2 * 200 * 1024 * 1024}


def test_assume_counts_a_pod_on_its_node_and_forget_takes_it_back() -> None:
    snapshot = Snapshot([node("n", cpu="2")])
    before = usage(snapshot, "n")
    p = pod("p", cpu="1500m")
    snapshot.assume_pod(p, "n")
    assert usage(snapshot, "n")["requested"]["cpu"] == 1500
    assert snapshot.pod_keys("n") == ["uid-p"]
    assert Framework().filter(pod("q", cpu="1"), snapshot).failures["n"].reasons == ["Insufficient cpu"]
    snapshot.forget_pod(p)
    assert usage(snapshot, "n") == before
    assert Framework().filter(pod("q", cpu="1"), snapshot).feasible == ["n"]


def test_a_pod_on_a_node_not_yet_known_counts_once_the_node_arrives_and_a_removed_node_is_not_scheduled_to() -> None:
    snapshot = Snapshot()
    snapshot.add_pod(pod("early", cpu="3", node_name="late"))
    assert snapshot.node_names() == [] and len(snapshot) == 0
    snapshot.add_node(node("late"))
    assert usage(snapshot, "late")["requested"]["cpu"] == 3000
    snapshot.remove_node("late")
    assert Framework().filter(pod("q"), snapshot).feasible == []
    snapshot.add_node(node("late"))
    assert usage(snapshot, "late")["requested"]["cpu"] == 3000  # the pod was still there


def test_the_node_order_interleaves_zones_and_a_node_that_changes_zone_moves_to_the_end_of_its_new_one() -> None:
    """kube-scheduler's node tree (node_tree.go): zones in order of first appearance, nodes in
    arrival order within a zone; an update that changes the zone removes and re-adds the node."""

    def zoned(name: str, zone: Optional[str]) -> Dict[str, Any]:
        n = node(name)
        if zone is not None:
            n["metadata"]["labels"]["topology.kubernetes.io/zone"] = zone
        return n

    snapshot = Snapshot([zoned("a1", "a"), zoned("b1", "b"), zoned("a2", "a"), zoned("x", None), zoned("a3", "a")])
    assert snapshot.node_order() == ["a1", "b1", "x", "a2", "a3"]
    snapshot.update_node(zoned("a1", "b"))
    assert snapshot.node_order() == ["a2", "b1", "x", "a3", "a1"]
    snapshot.update_node(zoned("a2", "a"))  # same zone: stays
    snapshot.remove_node("b1")
    assert snapshot.node_order() == ["a2", "a1", "x", "a3"]
    assert snapshot.node_names() == ["a1", "a2", "a3", "x"]


def test_selector_sources_are_the_four_kinds_and_a_missing_one_is_a_key_error() -> None:
    snapshot = Snapshot()
    service = {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"selector": {"app": "web"}}}
    snapshot.set_selector_source("Service", service)
    with pytest.raises(ValueError, match='kind "Deployment" is not one of Service, ReplicationController'):
        snapshot.set_selector_source("Deployment", service)
    with pytest.raises(ValueError, match="Service: metadata.name is missing"):
        snapshot.set_selector_source("Service", {"metadata": {"namespace": "ns"}})
    snapshot.remove_selector_source("Service", "ns", "web")
    with pytest.raises(KeyError, match="Service ns/web is not in the snapshot"):
        snapshot.remove_selector_source("Service", "ns", "web")


def test_a_read_write_once_pod_claim_is_in_use_only_through_pods_on_nodes_the_snapshot_has() -> None:
    """As kube-scheduler's cache counts claims in use over the nodes it has: a pod on a node not
    yet known does not hold its claim; once the node arrives it does, and when the node or the
    pod goes it no longer does. A removed claim makes the pod unschedulable everywhere."""
    claim = {"metadata": {"name": "data", "namespace": "ns"}, "spec": {"accessModes": ["ReadWriteOncePod"]}}
    uses_claim = [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]
    holder = pod("holder", node_name="later", volumes=uses_claim)
    snapshot = Snapshot([node("a")], [holder], persistent_volume_claims=[claim])
    framework = Framework(Profile("volumes", ("VolumeRestrictions",), {}), every_node=True)
    incoming = pod("incoming", volumes=uses_claim)
    assert framework.filter(incoming, snapshot).feasible == ["a"]
    snapshot.add_node(node("later"))
    failures = framework.filter(incoming, snapshot).failures
    assert sorted(failures) == ["a", "later"]
    assert failures["a"].reasons == [
        "node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode already in-use by another pod"
    ]
    snapshot.remove_node("later")
    assert framework.filter(incoming, snapshot).feasible == ["a"]
    snapshot.add_node(node("later"))
    snapshot.remove_pod(holder)
    assert framework.filter(incoming, snapshot).feasible == ["a", "later"]
    snapshot.remove_persistent_volume_claim("ns", "data")
    result = framework.filter(incoming, snapshot)
    assert result.message() == '0/2 nodes are available: persistentvolumeclaim "data" not found.'
    with pytest.raises(KeyError, match="ns/data"):
        snapshot.remove_persistent_volume_claim("ns", "data")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (pod("p", cpu="lots"), r"spec\.containers\[0\]\.resources\.requests\.cpu: quantity \"lots\""),
        ({"metadata": {"name": "p"}}, "pod: spec is missing"),
        (
            {"spec": {"containers": [{"name": "c", "ports": [{"hostPort": "80"}]}]}},
            r"spec\.containers\[0\]\.ports\[0\]\.hostPort must be an integer",
        ),
        ({"spec": {"tolerations": {"key": "x"}}}, r"spec\.tolerations must be a list"),
        ({"spec": {"nodeSelector": {"zone": 1}}}, r"spec\.nodeSelector\.zone must be a string"),
        ({"spec": {"overhead": {"cpu": ["1"]}}}, r"spec\.overhead\.cpu must be a quantity"),
        ({"metadata": {"labels": {"app": 1}}, "spec": {}}, r"metadata\.labels\.app must be a string"),
        (
            {"spec": {"topologySpreadConstraints": [{"maxSkew": "1"}]}},
            r"spec\.topologySpreadConstraints\[0\]\.maxSkew must be an integer",
        ),
        (
            {
                "spec": {
                    "topologySpreadConstraints": [
                        {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]}}
                    ]
                }
            },
            r"spec\.topologySpreadConstraints\[0\]\.labelSelector\.matchExpressions\[0\]\.values must be a list",
        ),
        (
            {
                "spec": {
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "zone",
                            "whenUnsatisfiable": "DoNotSchedule",
                            "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
                        }
                    ]
                }
            },
            r"PodTopologySpread.*\"Gt\" is not a valid label selector operator",
        ),
        (
            {
                "spec": {
                    "affinity": {
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [{"namespaces": "default"}]
                        }
                    }
                }
            },
            r"spec\.affinity\.podAntiAffinity\.requiredDuringSchedulingIgnoredDuringExecution\[0\]\.namespaces must be a list",
        ),
    ],
)
def test_a_malformed_pod_is_a_value_error_naming_the_field(bad: Dict[str, Any], message: str) -> None:
    snapshot = Snapshot([node("n")])
    with pytest.raises(ValueError, match=message):
        Framework().filter(bad, snapshot)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"metadata": {}}, "node: metadata.name is missing"),
        ({"metadata": {"name": "n", "labels": ["a"]}}, r"metadata\.labels must be a mapping"),
        (
            {"metadata": {"name": "n"}, "status": {"allocatable": {"memory": "1Q"}}},
            r"status\.allocatable\.memory: quantity \"1Q\"",
        ),
        ({"metadata": {"name": "n"}, "spec": {"unschedulable": "yes"}}, r"spec\.unschedulable must be a boolean"),
    ],
)
def test_a_malformed_node_is_a_value_error_naming_the_field(bad: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Snapshot().add_node(bad)


def test_quantities_may_be_json_numbers_or_null_as_the_api_types_decode_them() -> None:
    snapshot = Snapshot(
        [{"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": 2, "memory": 1.5e3, "pods": None}}}]
    )
    allocatable = usage(snapshot, "n")["allocatable"]
    assert (allocatable["cpu"], allocatable["memory"], allocatable["pods"]) == (2000, 1500, 0)


def test_snapshot_changes_that_do_not_apply_say_why() -> None:
    snapshot = Snapshot([node("n")], [pod("p", node_name="n")])
    with pytest.raises(ValueError, match='node "n" is already in the snapshot'):
        snapshot.add_node(node("n"))
    with pytest.raises(KeyError, match='node "m" is not in the snapshot'):
        snapshot.update_node(node("m"))
    with pytest.raises(KeyError, match='node "m" is not in the snapshot'):
        snapshot.remove_node("m")
    with pytest.raises(ValueError, match='pod "uid-p" is already in the snapshot'):
        snapshot.add_pod(pod("p", node_name="n"))
    with pytest.raises(KeyError, match='pod "uid-q" is not in the snapshot'):
        snapshot.remove_pod(pod("q"))
    with pytest.raises(ValueError, match="has no spec.nodeName and no node was given"):
        snapshot.add_pod(pod("q"))
    with pytest.raises(KeyError, match='namespace "ns" is not in the snapshot'):
        snapshot.remove_namespace("ns")
    with pytest.raises(ValueError, match="namespace: metadata.name is missing"):
        snapshot.set_namespace({"metadata": {"labels": {"team": "a"}}})


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (Profile("p", ("PodFitsResources",), {}), 'no filter plugin named "PodFitsResources"'),
        (Profile("p", (), {"VolumeBinding": 1}), 'no score plugin named "VolumeBinding"'),
        (Profile("p", (), {"NodeResourcesFit": -1}), "weight -1 is negative"),
        (
            Profile("p", (), {"NodeResourcesFit": 1}, {"NodeResourcesFit": {"scoringStrategy": {"type": "Fullest"}}}),
            '"Fullest" is not supported',
        ),
        (
            Profile(
                "p",
                (),
                {"NodeResourcesFit": 1},
                {"NodeResourcesFit": {"scoringStrategy": {"type": "RequestedToCapacityRatio"}}},
            ),
            "requestedToCapacityRatio: must be specified",
        ),
        (
            Profile(
                "p",
                (),
                {"NodeResourcesBalancedAllocation": 1},
                {"NodeResourcesBalancedAllocation": {"resources": [{"name": "cpu", "weight": 2}]}},
            ),
            r"resources\[0\]\.weight: must be 1",
        ),
        (
            Profile("p", ("PodTopologySpread",), {}, {"PodTopologySpread": {"defaultingType": "Always"}}),
            "defaultingType must be",
        ),
        (
            Profile(
                "p",
                ("PodTopologySpread",),
                {},
                {
                    "PodTopologySpread": {
                        "defaultingType": "List",
                        "defaultConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "zone",
                                "whenUnsatisfiable": "ScheduleAnyway",
                                "labelSelector": {},
                            }
                        ],
                    }
                },
            ),
            r"defaultConstraints\[0\].labelSelector: constraint must not define a selector",
        ),
        (
            Profile("p", ("InterPodAffinity",), {}, {"InterPodAffinity": {"hardPodAffinityWeight": 101}}),
            "hardPodAffinityWeight must be an integer from 0 to 100",
        ),
        (
            Profile("p", ("NodeName",), {}, percentage_of_nodes_to_score=101),
            "percentageOfNodesToScore 101 is not in 0..100",
        ),
    ],
)
def test_a_profile_kcore_cannot_run_is_refused_when_built(profile: Profile, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Framework(profile)


def test_results_list_every_node_once() -> None:
    snapshot = Snapshot([node("a"), node("b", cpu="100m"), node("c", unschedulable=True)])
    result = Framework().score(pod("p", cpu="1"), snapshot)
    nodes: List[str] = sorted(result.feasible + list(result.filtered.failures))
    assert nodes == ["a", "b", "c"]
    assert set(result.total) == {"a"} and all(set(s) == {"a"} for s in result.scores.values())


def test_threads_filter_and_score_while_the_snapshot_changes() -> None:
    """The node loops run without the GIL under the snapshot's read lock; changes wait for them
    and they see each change whole."""
    snapshot = Snapshot([node(f"n{i}", cpu="2") for i in range(300)])
    framework = Framework(every_node=True)
    errors: List[BaseException] = []
    seen: List[int] = []

    def schedule() -> None:
        try:
            for _ in range(20):
                seen.append(len(framework.score(pod("q", cpu="1500m"), snapshot).feasible))
        except BaseException as e:  # asserted below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=schedule) for _ in range(4)]
    for t in threads:
        t.start()
    fillers = [pod(f"f{i}", cpu="1") for i in range(100)]
    for i, f in enumerate(fillers):
        snapshot.assume_pod(f, f"n{i}")
    for f in fillers:
        snapshot.forget_pod(f)
    for t in threads:
        t.join()
    assert not errors
    # Each run saw some whole state: between 200 (all fillers placed) and 300 nodes fit.
    assert len(seen) == 80 and all(200 <= n <= 300 for n in seen)
