"""examples/endpointslice.py against kube-controller-manager's own endpointslice controller
(v1.37.2, built by kcore.testenv from the same Go module): the same script on two planes, and
after every step the same EndpointSlices on both.

- ``upstream`` runs kube-controller-manager with the endpointslice controller and the garbage
  collector (upstream leaves a deleted Service's slices to the garbage collector through their
  ownerReferences; the example deletes them itself, kcore.testenv running no collector);
  ``ours`` runs the example, in this process.
- Pods are bound to Nodes that are plain API objects (no kubelet, no kwok), and their status —
  phase, IPs, a Ready condition with a fixed transition time — is written through the status
  subresource. Both planes then hold the same inputs, and nothing but the controller under test
  changes them: kwok would hand out IPs from its CIDR in scheduling order and flip readiness on
  its own clock, so the two planes' pods would differ, and the comparison would not be fair.
- Compared: every slice field but the generated name, uid, resourceVersion, generation,
  timestamps and managedFields; the managed-by label's value (each controller has its own,
  checked), the trigger-time annotation's value (a timestamp: its presence is compared), and the
  uids of owners and targets (each checked to be the uid of the named Service or Pod on its own
  plane). Which slice holds which endpoint is random upstream (Go map order), so slices of one
  service, address type, port list and metadata are compared as a group: how many there are,
  their endpoints as a sorted list (duplicates would show), and their sizes as long as those are
  not random (until endpoints leave the 150-pod service's two slices). The services are created
  after their pods, so a controller's first sync of the 150-pod service sees them all (100 + 50).
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Callable, Iterator, Optional

import pytest

import kcore
from examples.endpointslice import ANNOTATION_TRIGGER_TIME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, MANAGED_BY, running
from kcore.testenv import ControlPlane
from kcore.testenv.control_plane import SERVICE_CLUSTER_IP_RANGE
from tests.clusters import admin_config
from tests.example_process import example_process
from tests.waiting import wait_for

NS = "shop"
UPSTREAM_MANAGED_BY = "endpointslice-controller.k8s.io"
State = dict[str, Any]


DUAL_STACK = {"service-cluster-ip-range": f"{SERVICE_CLUSTER_IP_RANGE},fd00:10::/112"}
"""Both planes serve dual-stack Services: slices of both address types."""


@pytest.fixture(scope="module")
def upstream() -> Iterator[ControlPlane]:
    with ControlPlane(controllers=["endpointslice", "garbagecollector"], apiserver_args=DUAL_STACK) as plane:
        yield plane


@pytest.fixture(scope="module")
def ours() -> Iterator[ControlPlane]:
    with ControlPlane(apiserver_args=DUAL_STACK) as plane:
        yield plane


# -- the inputs ---------------------------------------------------------------------------------------


def node(cs: kcore.Clientset, name: str, zone: Optional[str]) -> None:
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    cs.core_v1.nodes().create({"metadata": {"name": name, "labels": labels}})


WEB_CONTAINER = {
    "name": "web",
    "image": "web",
    "ports": [{"name": "http", "containerPort": 8080}, {"name": "dns", "containerPort": 5353, "protocol": "UDP"}],
}


def pod(
    cs: kcore.Clientset,
    name: str,
    labels: dict[str, str],
    node_name: str,
    *,
    ips: tuple[str, ...] = (),
    ready: Optional[bool] = None,
    phase: str = "Running",
    containers: Optional[list[Any]] = None,
    **spec: Any,
) -> None:
    """A pod bound to ``node_name`` whose status says ``phase``, ``ips`` and (unless None) a
    Ready condition."""
    pods = cs.core_v1.pods(NS)
    pods.create(
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node_name, "containers": containers or [WEB_CONTAINER], **spec},
        }
    )
    status: dict[str, Any] = {"phase": phase}
    if ips:
        status.update(podIP=ips[0], podIPs=[{"ip": ip} for ip in ips])
    if ready is not None:
        status["conditions"] = [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]
    pods.update_status({**pods.get(name), "status": status})


def set_ready(cs: kcore.Clientset, name: str, ready: bool, at: str) -> None:
    pods = cs.core_v1.pods(NS)
    current = pods.get(name)
    current["status"]["conditions"] = [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": at}
    ]
    pods.update_status(current)


def service(cs: kcore.Clientset, name: str, spec: dict[str, Any], labels: Optional[dict[str, str]] = None) -> None:
    cs.core_v1.services(NS).create({"metadata": {"name": name, "labels": labels or {}}, "spec": spec})


BIG = 150


def setup(cs: kcore.Clientset) -> None:
    """Nodes in zones, pods in every state, then the services (after their pods: one sync sees them all)."""
    cs.core_v1.namespaces().create({"metadata": {"name": NS}})
    node(cs, "node-a", "zone-a")
    node(cs, "node-b", "zone-b")
    node(cs, "node-c", None)
    front = {"app": "web", "tier": "front"}
    pod(cs, "web-0", front, "node-a", ips=("10.0.0.10",), ready=True)
    pod(cs, "web-1", front, "node-b", ips=("10.0.0.11",), ready=False)
    pod(cs, "web-2", {"app": "web"}, "node-c", ips=("10.0.0.12",), ready=True)
    pod(cs, "web-3", {"app": "web"}, "node-a", ips=("10.0.0.13",), ready=True, hostname="web-3", subdomain="headless")
    pod(
        cs,
        "web-legacy",
        {"app": "web"},
        "node-b",
        ips=("10.0.0.14",),
        ready=True,
        containers=[{"name": "web", "image": "web", "ports": [{"name": "web", "containerPort": 8081}]}],
    )
    pod(
        cs,
        "web-sidecar",
        {"app": "web"},
        "node-a",
        ips=("10.0.0.15",),
        ready=True,
        containers=[{"name": "web", "image": "web"}],
        initContainers=[
            {
                "name": "proxy",
                "image": "proxy",
                "restartPolicy": "Always",
                "ports": [{"name": "http", "containerPort": 15001}],
            }
        ],
    )
    pod(cs, "web-pending", {"app": "web"}, "node-a", phase="Pending")
    pod(cs, "web-done", {"app": "web"}, "node-a", ips=("10.0.0.17",), ready=False, phase="Succeeded")
    pod(cs, "web-dual", {"app": "web"}, "node-b", ips=("10.0.0.18", "fd00::18"), ready=True)
    pod(cs, "web-v6", {"app": "web"}, "node-b", ips=("fd00::19",), ready=True)
    pod(cs, "web-lost", {"app": "web"}, "node-gone", ips=("10.0.0.20",), ready=True)
    nodes = ["node-a", "node-b", "node-c"]
    for i in range(BIG):
        pod(cs, f"big-{i:03}", {"app": "big"}, nodes[i % 3], ips=(f"10.0.1.{i}",), ready=True)

    web_ports = [
        {"name": "http", "port": 80, "targetPort": "http", "appProtocol": "kubernetes.io/h2c"},
        {"name": "metrics", "port": 9090},
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
    ]
    service(cs, "web", {"selector": {"app": "web"}, "ports": web_ports}, labels={"team": "shop"})
    service(cs, "dual", {"selector": {"app": "web"}, "ports": web_ports, "ipFamilyPolicy": "RequireDualStack"})
    service(cs, "headless", {"clusterIP": "None", "selector": {"app": "web"}})
    close = {
        "selector": {"app": "web"},
        "ports": [{"port": 80, "targetPort": 8080}],
        "trafficDistribution": "PreferClose",
    }
    service(cs, "close", close)
    # The topology-mode annotation overrides trafficDistribution (its hints need nodes with CPUs: none here).
    cs.core_v1.services(NS).create(
        {"metadata": {"name": "auto", "annotations": {"service.kubernetes.io/topology-mode": "Auto"}}, "spec": close}
    )
    service(cs, "empty", {"selector": {"app": "nothing"}, "ports": [{"port": 80}]})
    service(cs, "external", {"ports": [{"port": 80}]})
    service(cs, "extname", {"type": "ExternalName", "externalName": "db.example.com", "selector": {"app": "web"}})
    service(cs, "big", {"selector": {"app": "big"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]})


# -- what a plane holds, comparable across planes -------------------------------------------------------


def slices_state(cs: kcore.Clientset, managed_by: str) -> State:
    """The plane's EndpointSlices in NS, grouped by everything but their endpoints: per group the
    number of slices, their sizes and all their endpoints; generated and plane-specific values
    replaced by what they stand for (after checking them)."""
    service_uids = {s["metadata"]["uid"]: s["metadata"]["name"] for s in cs.core_v1.services(NS).list()["items"]}
    pod_uids = {p["metadata"]["uid"]: p["metadata"]["name"] for p in cs.core_v1.pods(NS).list()["items"]}
    groups: dict[str, dict[str, Any]] = {}
    for item in cs.discovery_v1.endpoint_slices(NS).list()["items"]:
        metadata = item["metadata"]
        labels = dict(metadata.get("labels") or {})
        if labels.get(LABEL_MANAGED_BY) == managed_by:
            labels[LABEL_MANAGED_BY] = "<this plane's controller>"
        annotations = dict(metadata.get("annotations") or {})
        if ANNOTATION_TRIGGER_TIME in annotations:
            annotations[ANNOTATION_TRIGGER_TIME] = "<time>"
        owners = [
            {**ref, "uid": f"<uid of service {service_uids.get(ref['uid'], 'that is gone')}>"}
            for ref in metadata.get("ownerReferences") or []
        ]
        shape = {key: value for key, value in item.items() if key not in ("metadata", "endpoints")}
        shape["metadata"] = {
            "generateName": metadata.get("generateName"),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": owners,
        }
        endpoints = []
        for endpoint in item.get("endpoints") or []:
            target = endpoint.get("targetRef") or {}
            endpoint = {**endpoint, "targetRef": {**target, "uid": f"<uid of pod {pod_uids.get(target.get('uid'))}>"}}
            endpoints.append(json.dumps(endpoint, sort_keys=True))
        group = groups.setdefault(json.dumps(shape, sort_keys=True), {"slices": 0, "sizes": [], "endpoints": []})
        group["slices"] += 1
        group["sizes"].append(len(endpoints))
        group["endpoints"].extend(endpoints)
    for group in groups.values():
        group["sizes"].sort()
        group["endpoints"].sort()
    return groups


def comparable(state: State, sizes: bool) -> State:
    """The state, without the slices' sizes unless ``sizes``: once endpoints leave slices that
    were filled in random order (upstream), how many each slice keeps is random too."""
    return {key: {k: v for k, v in group.items() if sizes or k != "sizes"} for key, group in state.items()}


def of_service(state: State, name: str) -> list[dict[str, Any]]:
    return [g for key, g in state.items() if json.loads(key)["metadata"]["labels"].get(LABEL_SERVICE_NAME) == name]


def labels_of(state: State, name: str) -> list[dict[str, str]]:
    labels = [json.loads(key)["metadata"]["labels"] for key in state]
    return [group for group in labels if group.get(LABEL_SERVICE_NAME) == name]


def endpoints_of(state: State, name: str) -> list[dict[str, Any]]:
    return [json.loads(e) for g in of_service(state, name) for e in g["endpoints"]]


def pods_in(state: State, name: str) -> list[str]:
    return sorted(e["targetRef"]["name"] for e in endpoints_of(state, name))


def summary(state: State) -> str:
    """Per slice group: its service, ports and slices, and its pods with their conditions."""
    lines = []
    for key, group in state.items():
        shape = json.loads(key)
        lines.append(
            f"{shape['metadata']['labels'].get(LABEL_SERVICE_NAME)} {shape.get('ports')} "
            f"{group['slices']} slice(s): "
            + ", ".join(
                f"{e['targetRef']['name']}{sorted(c for c, v in e['conditions'].items() if v)}"
                for e in map(json.loads, group["endpoints"])
            )
        )
    return "\n".join(sorted(lines))


class Planes:
    """The script's driver: each step runs on both planes; then both must reach ``done`` and
    hold the same slices."""

    def __init__(self, upstream: kcore.Clientset, ours: kcore.Clientset) -> None:
        self.upstream, self.ours = upstream, ours

    def step(
        self, change: Callable[[kcore.Clientset], object], done: Callable[[State], bool], *, sizes: bool = True
    ) -> State:
        change(self.upstream)
        change(self.ours)
        for cs, managed_by in ((self.upstream, UPSTREAM_MANAGED_BY), (self.ours, MANAGED_BY)):
            assert wait_for(lambda: done(slices_state(cs, managed_by)), timeout=60), (
                f"{'kube-controller-manager' if cs is self.upstream else 'the example'} never got there: "
                + summary(slices_state(cs, managed_by))
            )
        wait_for(
            lambda: comparable(self.state(self.upstream), sizes) == comparable(self.state(self.ours), sizes), timeout=30
        )
        theirs, mine = comparable(self.state(self.upstream), sizes), comparable(self.state(self.ours), sizes)
        assert mine == theirs, "\n".join(
            difflib.unified_diff(
                json.dumps(theirs, indent=1, sort_keys=True).splitlines(),
                json.dumps(mine, indent=1, sort_keys=True).splitlines(),
                "kube-controller-manager",
                "example",
                lineterm="",
            )
        )
        return theirs

    def state(self, cs: kcore.Clientset) -> State:
        return slices_state(cs, UPSTREAM_MANAGED_BY if cs is self.upstream else MANAGED_BY)


def test_the_example_keeps_the_same_endpointslices_as_kube_controller_manager_through_a_scripted_history(
    upstream: ControlPlane, ours: ControlPlane
) -> None:
    planes = Planes(kcore.Clientset(admin_config(upstream)), kcore.Clientset(admin_config(ours)))
    with running(admin_config(ours)):
        state = planes.step(
            setup,
            lambda s: (
                len(endpoints_of(s, "big")) == BIG
                and len(endpoints_of(s, "web")) == 7
                and len(of_service(s, "empty")) == 1
                and len(endpoints_of(s, "headless")) == 7
                and len(endpoints_of(s, "dual")) == 9
            ),
        )
        # What the script is meant to exercise, seen on the upstream plane:
        assert [g["sizes"] for g in of_service(state, "big")] == [[BIG - 100, 100]]  # split at 100, in one sync
        assert len(of_service(state, "web")) == 3  # three port mappings (named, sidecar, legacy)
        # Left out: no IP yet, Succeeded, no IPv4 address, on a node that does not exist.
        assert pods_in(state, "web") == ["web-0", "web-1", "web-2", "web-3", "web-dual", "web-legacy", "web-sidecar"]
        assert of_service(state, "empty")[0]["endpoints"] == []  # the placeholder
        assert sorted(e["addresses"][0] for e in endpoints_of(state, "dual") if ":" in e["addresses"][0]) == [
            "fd00::18",
            "fd00::19",
        ]  # IPv6 slices too
        assert of_service(state, "external") == of_service(state, "extname") == []
        assert {
            e["targetRef"]["name"]: e.get("hints")
            for e in endpoints_of(state, "close")
            if e["targetRef"]["name"] in ("web-0", "web-1", "web-2")
        } == {"web-0": {"forZones": [{"name": "zone-a"}]}, "web-1": None, "web-2": None}  # ready and zoned only
        assert endpoints_of(state, "auto") and not any(e.get("hints") for e in endpoints_of(state, "auto"))
        hostnames = {e["targetRef"]["name"]: e.get("hostname") for e in endpoints_of(state, "headless")}
        assert hostnames["web-3"] == "web-3" and hostnames["web-0"] is None

        # Readiness flips: conditions change in place.
        def flip(cs: kcore.Clientset) -> None:
            set_ready(cs, "web-0", False, "2026-01-01T00:01:00Z")
            set_ready(cs, "web-1", True, "2026-01-01T00:01:00Z")

        planes.step(
            flip,
            lambda s: any(
                e["targetRef"]["name"] == "web-1" and e["conditions"]["ready"] for e in endpoints_of(s, "web")
            ),
        )

        # A pod deleted while bound to a node stays, terminating, until a kubelet confirms.
        planes.step(
            lambda cs: cs.core_v1.pods(NS).delete("web-2"),
            lambda s: any(
                e["targetRef"]["name"] == "web-2" and e["conditions"]["terminating"] for e in endpoints_of(s, "web")
            ),
        )

        # Selectors change: web narrows to the front tier; the placeholder of empty gives way.
        def select(cs: kcore.Clientset) -> None:
            cs.core_v1.services(NS).patch("web", {"spec": {"selector": {"app": "web", "tier": "front"}}})
            cs.core_v1.services(NS).patch(
                "empty", {"spec": {"selector": {"app": None, "tier": "front"}}}
            )  # (a merge patch)

        planes.step(
            select, lambda s: pods_in(s, "web") == ["web-0", "web-1"] and pods_in(s, "empty") == ["web-0", "web-1"]
        )

        # publishNotReadyAddresses: every endpoint ready, the pod on an unknown node published.
        planes.step(
            lambda cs: cs.core_v1.services(NS).patch("headless", {"spec": {"publishNotReadyAddresses": True}}),
            lambda s: "web-lost" in pods_in(s, "headless"),
        )

        # A dual-stack service becomes single-stack: its IPv6 slices go.
        def single_stack(cs: kcore.Clientset) -> None:
            primary = cs.core_v1.services(NS).get("dual")["spec"]["clusterIPs"][0]
            cs.core_v1.services(NS).patch(
                "dual", {"spec": {"ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"], "clusterIPs": [primary]}}
            )

        planes.step(single_stack, lambda s: len(endpoints_of(s, "dual")) == 7)

        # Hints follow spec.trafficDistribution: zones, then nodes too, then none.
        def hints(s: State) -> list[Any]:
            return sorted(json.dumps(e.get("hints"), sort_keys=True) for e in endpoints_of(s, "close"))

        planes.step(
            lambda cs: cs.core_v1.services(NS).patch("close", {"spec": {"trafficDistribution": "PreferSameNode"}}),
            lambda s: any("forNodes" in h for h in hints(s)),
        )
        planes.step(
            lambda cs: cs.core_v1.services(NS).patch("close", {"spec": {"trafficDistribution": None}}),
            lambda s: set(hints(s)) == {"null"},
        )

        # A slice deleted by hand comes back; one edited by hand (its generation moves) is put right.
        def delete_by_hand(cs: kcore.Clientset) -> None:
            for item in cs.discovery_v1.endpoint_slices(NS).list(label_selector=f"{LABEL_SERVICE_NAME}=empty")["items"]:
                cs.discovery_v1.endpoint_slices(NS).delete(item["metadata"]["name"])

        planes.step(delete_by_hand, lambda s: pods_in(s, "empty") == ["web-0", "web-1"])

        def edit_by_hand(cs: kcore.Clientset) -> None:
            (item,) = cs.discovery_v1.endpoint_slices(NS).list(label_selector=f"{LABEL_SERVICE_NAME}=empty")["items"]
            cs.discovery_v1.endpoint_slices(NS).update({**item, "endpoints": item["endpoints"][:1]})

        planes.step(edit_by_hand, lambda s: pods_in(s, "empty") == ["web-0", "web-1"])

        # 60 pods leave the big service: removed from whichever slice held them.
        def shrink(cs: kcore.Clientset) -> None:
            for i in range(60):
                cs.core_v1.pods(NS).patch(f"big-{i:03}", {"metadata": {"labels": {"app": "gone"}}})

        planes.step(shrink, lambda s: len(endpoints_of(s, "big")) == BIG - 60, sizes=False)

        # The service's own labels are mirrored onto its slices.
        planes.step(
            lambda cs: cs.core_v1.services(NS).patch("web", {"metadata": {"labels": {"team": "checkout"}}}),
            lambda s: [labels.get("team") for labels in labels_of(s, "web")] == ["checkout"],
            sizes=False,
        )

        # headless loses its selector: its slices are left as they were (upstream does not touch
        # them), even when a pod they list changes; web's slices, which do change, show the
        # change was seen.
        def unselect(cs: kcore.Clientset) -> None:
            cs.core_v1.services(NS).patch("headless", {"spec": {"selector": None}})
            set_ready(cs, "web-1", False, "2026-01-01T00:02:00Z")

        state = planes.step(
            unselect,
            lambda s: any(
                e["targetRef"]["name"] == "web-1" and not e["conditions"]["ready"] for e in endpoints_of(s, "web")
            ),
            sizes=False,
        )
        assert any(
            e["targetRef"]["name"] == "web-1" and e["conditions"]["serving"] for e in endpoints_of(state, "headless")
        )

        # A deleted service's slices go (upstream: by the garbage collector).
        planes.step(lambda cs: cs.core_v1.services(NS).delete("web"), lambda s: of_service(s, "web") == [], sizes=False)


def test_the_example_as_a_process_follows_its_kubeconfig_and_exits_cleanly_on_sigterm(ours: ControlPlane) -> None:
    cs = kcore.Clientset(admin_config(ours))
    cs.core_v1.namespaces().create({"metadata": {"name": "process"}})
    cs.core_v1.services("process").create(
        {"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}, "ports": [{"port": 80}]}}
    )

    def placeholder() -> list[Any]:
        return [
            s
            for s in cs.discovery_v1.endpoint_slices("process").list()["items"]
            if s["metadata"]["labels"].get(LABEL_MANAGED_BY) == MANAGED_BY and not s.get("endpoints")
        ]

    with example_process("endpointslice.py", ours, "--metrics-port", "0", "--health-port", "0") as stop:
        assert wait_for(lambda: len(placeholder()) == 1, timeout=30)
        output = stop()
    assert "created for process/api (0 endpoints)" in output, output
    assert "endpointslice: stopped" in output, output
