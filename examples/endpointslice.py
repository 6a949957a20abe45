"""endpointslice: the EndpointSlices of every Service with a selector, kept as
kube-controller-manager's endpointslice controller keeps them, made with kcore.

The semantics are those of Kubernetes v1.37.2 (pkg/controller/endpointslice and the shared
reconciler in k8s.io/endpointslice v0.37.2); tests/e2e/test_endpointslice.py runs the same
script against this controller and against kube-controller-manager and requires the same
EndpointSlices.

    KUBECONFIG=... python examples/endpointslice.py      # until SIGINT or SIGTERM
    # options: --workers 5, --metrics-port 8080, --health-port 8081

What a Service gets (one address family at a time: ``spec.ipFamilies``):

- endpoints: one per pod its selector selects that has an IP of that family and is not
  Succeeded or Failed: the pod's IPs, ``conditions`` (serving: the pod is Ready; terminating: it
  has a deletionTimestamp; ready: serving and not terminating, or always with
  ``publishNotReadyAddresses``), ``nodeName``, ``zone`` (the node's topology.kubernetes.io/zone),
  ``hostname`` (when the pod's subdomain is the service's name) and a ``targetRef`` to the pod. A
  pod whose node is unknown is left out (the service is retried) unless the service publishes
  not-ready addresses;
- ports: each service port resolved against the pod (a named targetPort is looked up among
  the containers' ports of the same protocol, sidecars included; a port that does not resolve
  is left out), in upstream's order; pods whose ports resolve differently get separate slices;
- at most 100 endpoints per slice, changes made in place where upstream's reconciler makes
  them (existing slices are updated and filled before new ones are created);
- a placeholder slice (no endpoints, no ports) when nothing else would exist;
- labels: the service's, plus kubernetes.io/service-name, service.kubernetes.io/headless for a
  headless service, and endpointslice.kubernetes.io/managed-by — ``endpointslice-example.kcore.dev``
  here (upstream's is endpointslice-controller.k8s.io: two controllers must not claim the same
  slices); an ownerReference to the service (controller, blockOwnerDeletion); the
  endpoints.kubernetes.io/last-change-trigger-time annotation, computed as upstream does.

As upstream: a service without a selector or of type ExternalName gets nothing (slices it had
are left as they are), and slices are replaced, never shared, between a service and a new one
of the same name. Unlike kube-controller-manager, which leaves a deleted service's slices to the
garbage collector, this controller also deletes them itself (kcore.testenv runs no garbage
collector; on a real cluster the ownerReference does it too).

Hints follow ``spec.trafficDistribution`` (PreferClose, PreferSameZone: each ready endpoint's
zone; PreferSameNode: its node too). The hints of the service.kubernetes.io/topology-mode
annotation (upstream's topology cache, which shares endpoints out by the zones' node CPUs) are
not implemented: a service with it gets no hints here, as upstream gives none while its nodes
report no allocatable CPU.

The pattern, in the order an event travels:

- a kcore Manager: one SharedInformerFactory (services, pods, nodes, EndpointSlices), /metrics,
  /healthz and /readyz, and on SIGINT or SIGTERM a graceful stop;
- filters: every service event counts; a pod update only when it can change an endpoint (labels,
  hostname, subdomain, deletionTimestamp, readiness, IPs — upstream's podEndpointsChanged); a
  slice event only when it is not this controller's own write coming back (a slice tracker
  remembers the generation of each slice it wrote and which it deleted);
- a workqueue of service keys: a pod event enqueues the services selecting the pod before and
  after; a slice event the service named by its label; node events nothing (their informer is
  there to read zones);
- workers (kcore's Controller: never two on one key; upstream's rate limiter, 1 s → 1000 s per key, 10 qps overall)
  read the listers, refuse to act on a slice cache older than their own writes (retried), plan
  the creates, updates and deletes as upstream's reconciler does, and write them.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from prometheus_client import CollectorRegistry

import kcore
from kcore.controller import Controller, Funcs, Manager, Result
from kcore.errors import ApiError, NotFound
from kcore.informer import SharedIndexInformer
from kcore.workqueue import BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter

MANAGED_BY = "endpointslice-example.kcore.dev"
"""This controller's endpointslice.kubernetes.io/managed-by value (upstream's controller has
endpointslice-controller.k8s.io)."""
MAX_ENDPOINTS_PER_SLICE = 100
"""kube-controller-manager's default --max-endpoints-per-slice."""

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
ANNOTATION_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})

log = logging.getLogger("endpointslice")

Obj = Mapping[str, Any]


# -- reading pods and services as upstream does ---------------------------------------------------


def selects(selector: Optional[Mapping[str, str]], labels: Optional[Mapping[str, str]]) -> bool:
    """Whether a service's selector selects a pod with these labels (a service without one
    selects nothing)."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(key) == value for key, value in selector.items())


def pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _ready_transition_time(pod: Obj) -> Optional[datetime]:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return _time(condition.get("lastTransitionTime"))
    return None


def _time(value: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(value) if value else None


def pod_endpoints_changed(old: Obj, new: Obj) -> bool:
    """Whether a pod update can change its endpoints or the services selecting it (upstream's
    GetPodUpdateProjectionKey: labels, hostname, subdomain, deletionTimestamp, readiness, IPs)."""
    old_meta, new_meta = old["metadata"], new["metadata"]
    if old_meta.get("resourceVersion") == new_meta.get("resourceVersion"):
        return False
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}

    def ips(pod: Obj) -> list[str]:
        return [entry.get("ip") for entry in (pod.get("status") or {}).get("podIPs") or []]

    return bool(
        dict(old_meta.get("labels") or {}) != dict(new_meta.get("labels") or {})
        or old_spec.get("hostname") != new_spec.get("hostname")
        or old_spec.get("subdomain") != new_spec.get("subdomain")
        or old_meta.get("deletionTimestamp") != new_meta.get("deletionTimestamp")
        or pod_ready(old) != pod_ready(new)
        or ips(old) != ips(new)
    )


def should_pod_be_in_endpoints(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") not in ("Failed", "Succeeded") and bool(status.get("podIP") or status.get("podIPs"))


def address_types(service: Obj) -> set[str]:
    """The slices' address types: one per IP family; for a service the API server has not given
    families yet, its cluster IP's (both for a headless one), as upstream."""
    spec = service.get("spec") or {}
    families = {family for family in spec.get("ipFamilies") or [] if family in ("IPv4", "IPv6")}
    if families:
        return families
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ip and cluster_ip != "None":
        return {"IPv6" if ":" in cluster_ip else "IPv4"}
    return {"IPv4", "IPv6"}


def endpoint_addresses(pod: Obj, address_type: str) -> list[str]:
    """The pod's IPs of one family, in canonical form (an IPv4-mapped IPv6 address is IPv4, as
    Go's net.IP has it)."""
    addresses = []
    for entry in (pod.get("status") or {}).get("podIPs") or []:
        try:
            ip = ipaddress.ip_address(entry.get("ip") or "")
        except ValueError:  # the API server validates pod IPs: not reached through it
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if (ip.version == 6) == (address_type == "IPv6"):
            addresses.append(str(ip))
    return addresses


def find_port(pod: Obj, service_port: Obj) -> Optional[int]:
    """The container port a service port targets on this pod: a number as it is; a name looked
    up among the containers' (and restartable init containers') ports of the same protocol."""
    target = service_port.get("targetPort")
    if isinstance(target, int):
        return target
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    for container in containers:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == service_port.get("protocol", "TCP"):
                return int(port["containerPort"])
    return None


def _go_hash_form(port: Obj) -> str:
    """The text Go's dump.ForHash prints for a discovery/v1 EndpointPort (all fields set as
    pointers by the controller)."""
    app_protocol = port.get("appProtocol")
    return (
        f"(v1.EndpointPort){{Name:(*string){port['name']} Protocol:(*v1.Protocol){port['protocol']} "
        f"Port:(*int32){port['port']} AppProtocol:(*string){'<nil>' if app_protocol is None else app_protocol}}}"
    )


def _fnv128a(data: bytes) -> int:
    value = 0x6C62272E07BB014262B821756295C58D
    for byte in data:
        value = ((value ^ byte) * 0x0000000001000000000000000000013B) & ((1 << 128) - 1)
    return value


def endpoint_ports(service: Obj, pod: Obj) -> list[dict[str, Any]]:
    """The slice ports of a pod: the service's ports that resolve on it, in upstream's order
    (sorted by the FNV-128a hash of each port's Go dump, as NewPortMapKey sorts them)."""
    spec = service.get("spec") or {}
    ports = []
    for service_port in spec.get("ports") or []:  # (a headless service may have none)
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: dict[str, Any] = {
            "name": service_port.get("name", ""),
            "port": number,
            "protocol": service_port.get("protocol", "TCP"),
        }
        if service_port.get("appProtocol") is not None:
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return sorted(ports, key=lambda port: _fnv128a(_go_hash_form(port).encode()))


def port_key(ports: Iterable[Obj]) -> tuple[Any, ...]:
    """Slices with the same ports (in any order) hold endpoints of the same port mapping."""
    return tuple(sorted((p.get("name") or "", p.get("port"), p.get("protocol"), p.get("appProtocol")) for p in ports))


def pod_to_endpoint(pod: Obj, node: Optional[Obj], service: Obj, address_type: str) -> dict[str, Any]:
    metadata, spec = pod["metadata"], pod.get("spec") or {}
    serving = pod_ready(pod)
    terminating = metadata.get("deletionTimestamp") is not None
    # For compatibility, a terminating pod is never ready unless the service publishes not-ready addresses.
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: dict[str, Any] = {
        "addresses": endpoint_addresses(pod, address_type),
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {
            "kind": "Pod",
            "namespace": metadata["namespace"],
            "name": metadata["name"],
            "uid": metadata["uid"],
        },
    }
    if spec.get("nodeName"):
        endpoint["nodeName"] = spec["nodeName"]
    zone = (((node or {}).get("metadata") or {}).get("labels") or {}).get(LABEL_ZONE)
    if zone:
        endpoint["zone"] = zone
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"]:
        endpoint["hostname"] = spec["hostname"]
    return endpoint


def endpoint_identity(endpoint: Obj) -> tuple[Any, ...]:
    """What makes two endpoints the same one (upstream's endpoint hash): addresses, hostname,
    the target's namespace and name."""
    target = endpoint.get("targetRef") or {}
    return (
        tuple(sorted(endpoint.get("addresses") or [])),
        endpoint.get("hostname") or "",
        target.get("namespace") or "",
        target.get("name") or "",
    )


def endpoints_equal_beyond_identity(a: Obj, b: Obj) -> bool:
    """Whether an existing endpoint needs no rewrite: node, zone, conditions and target alike."""

    def target(endpoint: Obj) -> dict[str, Any]:
        return {k: v for k, v in (endpoint.get("targetRef") or {}).items() if k != "resourceVersion"}

    conditions = ("ready", "serving", "terminating")
    return (
        a.get("nodeName") == b.get("nodeName")
        and a.get("zone") == b.get("zone")
        and all((a.get("conditions") or {}).get(c) == (b.get("conditions") or {}).get(c) for c in conditions)
        and target(a) == target(b)
    )


def slice_labels(slice_: Obj, service: Obj, managed_by: str) -> tuple[dict[str, str], bool]:
    """A slice's labels — the service's own, the headless marker, the service name and the
    manager — and whether the service's own ones differ from the slice's."""
    own = {k: v for k, v in ((slice_.get("metadata") or {}).get("labels") or {}).items() if k not in RESERVED_LABELS}
    labels = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    changed = own != labels
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    if cluster_ip in ("", "None"):
        labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = service["metadata"]["name"]
    labels[LABEL_MANAGED_BY] = managed_by
    return labels, changed


def owner_reference(service: Obj) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "name": service["metadata"]["name"],
        "uid": service["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(slice_: Obj, service: Obj) -> bool:
    return any(
        ref.get("uid") == service["metadata"]["uid"] and ref.get("kind") == "Service" and ref.get("apiVersion") == "v1"
        for ref in slice_["metadata"].get("ownerReferences") or []
    )


def new_slice(service: Obj, ports: list[dict[str, Any]], address_type: str, managed_by: str) -> dict[str, Any]:
    metadata = service["metadata"]
    labels, _ = slice_labels({}, service, managed_by)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        # A service's name is a DNS label, so the dashed prefix is always a valid one.
        "metadata": {
            "generateName": f"{metadata['name']}-",
            "namespace": metadata["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(service)],
        },
        "ports": ports,
        "addressType": address_type,
        "endpoints": [],
    }


def _is_placeholder_of(slice_: Obj, placeholder: Obj) -> bool:
    """Upstream's placeholderSliceCompare: namespace, labels, owners, address type, no ports,
    no endpoints (names, annotations and the rest are not compared)."""

    def owners(obj: Obj) -> list[dict[str, Any]]:
        keys = ("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion")
        return [{k: ref.get(k) for k in keys} for ref in obj["metadata"].get("ownerReferences") or []]

    return (
        slice_["metadata"].get("namespace") == placeholder["metadata"]["namespace"]
        and dict(slice_["metadata"].get("labels") or {}) == placeholder["metadata"]["labels"]
        and owners(slice_) == owners(placeholder)
        and slice_.get("addressType") == placeholder["addressType"]
        and not slice_.get("ports")
        and not slice_.get("endpoints")
    )


# -- planning: upstream's reconciler, without I/O ----------------------------------------------------


class Plan:
    """The writes one sync needs, and the pods it had to leave out (their node is unknown)."""

    def __init__(self) -> None:
        self.create: list[dict[str, Any]] = []
        self.update: list[dict[str, Any]] = []
        self.delete: list[dict[str, Any]] = []
        self.missing_nodes: list[str] = []


def plan(
    service: Obj,
    pods: Sequence[Obj],
    node: Callable[[str], Optional[Obj]],
    existing: Sequence[Obj],
    *,
    managed_by: str = MANAGED_BY,
    max_endpoints: int = MAX_ENDPOINTS_PER_SLICE,
) -> Plan:
    """What to create, update and delete so that ``existing`` (this controller's slices of the
    service, as plain dicts) become what the service and its ``pods`` call for (upstream's
    Reconciler.Reconcile). ``node(name)`` is the node or None."""
    result = Plan()
    wanted = address_types(service)
    by_type: dict[str, list[Obj]] = {}
    unsupported = []
    for slice_ in existing:
        if slice_.get("addressType") in wanted:
            by_type.setdefault(slice_["addressType"], []).append(slice_)
        else:
            unsupported.append(slice_)
    for address_type in sorted(wanted):
        _plan_address_type(
            result, service, pods, node, by_type.get(address_type, []), address_type, managed_by, max_endpoints
        )
    result.delete.extend(dict(s) for s in unsupported)
    return result


def _plan_address_type(
    result: Plan,
    service: Obj,
    pods: Sequence[Obj],
    node: Callable[[str], Optional[Obj]],
    existing: Sequence[Obj],
    address_type: str,
    managed_by: str,
    max_endpoints: int,
) -> None:
    to_create: list[dict[str, Any]] = []
    to_update: list[dict[str, Any]] = []
    to_delete: list[dict[str, Any]] = []

    existing_by_ports: dict[tuple[Any, ...], list[Obj]] = {}
    for slice_ in existing:
        if owned_by(slice_, service):
            existing_by_ports.setdefault(port_key(slice_.get("ports") or []), []).append(slice_)
        else:  # a former service's of the same name
            to_delete.append(dict(slice_))

    desired: dict[tuple[Any, ...], dict[tuple[Any, ...], dict[str, Any]]] = {}
    desired_ports: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    for pod in pods:
        if not should_pod_be_in_endpoints(pod):
            continue
        ports = endpoint_ports(service, pod)
        key = port_key(ports)
        endpoints = desired.setdefault(key, {})
        desired_ports.setdefault(key, ports)
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        pod_node = node(node_name)
        if pod_node is None and not publish_not_ready:
            result.missing_nodes.append(f"pod {pod['metadata']['name']} on node {node_name!r}")
            continue
        endpoint = pod_to_endpoint(pod, pod_node, service, address_type)
        if endpoint["addresses"]:
            endpoints[endpoint_identity(endpoint)] = endpoint

    for key, endpoints in desired.items():
        create, update, delete = _plan_port_mapping(
            service,
            existing_by_ports.get(key, []),
            endpoints,
            desired_ports[key],
            address_type,
            managed_by,
            max_endpoints,
        )
        to_create += create
        to_update += update
        to_delete += delete
    for key, slices in existing_by_ports.items():
        if key not in desired:
            to_delete += [dict(s) for s in slices]

    # When no slice would exist, a placeholder does (kept as it is if it is already there).
    if len(existing) == len(to_delete) and not to_create:
        placeholder = new_slice(service, [], address_type, managed_by)
        if len(to_delete) == 1 and _is_placeholder_of(to_delete[0], placeholder):
            to_delete = []
        else:
            to_create.append(placeholder)

    changed = {s["metadata"]["name"] for s in to_update + to_delete}
    _set_hints(service, to_create, to_update, [s for s in existing if s["metadata"]["name"] not in changed])

    # Creates become updates of slices that would be deleted (same type, owned by the service).
    i = 0
    while i < len(to_delete) and to_create:
        if to_delete[i].get("addressType") == address_type and owned_by(to_delete[i], service):
            created = to_create.pop()
            # The new slice takes the old one's name, nothing else (an unconditional update).
            created["metadata"] = {**created["metadata"], "name": to_delete.pop(i)["metadata"]["name"]}
            to_update.append(created)
        else:
            i += 1
    result.create += to_create
    result.update += to_update
    result.delete += to_delete


TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameZone", "PreferSameNode")


def topology_mode_auto(service: Obj) -> bool:
    """Whether the service asks for topology-aware hints (the deprecated annotation first)."""
    annotations = service["metadata"].get("annotations") or {}
    mode = annotations.get(
        "service.kubernetes.io/topology-aware-hints", annotations.get("service.kubernetes.io/topology-mode")
    )
    return mode in ("Auto", "auto")


def _hints(endpoint: Obj, for_nodes: bool) -> Optional[dict[str, Any]]:
    """What spec.trafficDistribution asks of a ready endpoint: its zone (and, for PreferSameNode,
    its node) as hints."""
    hints: dict[str, Any] = {}
    if endpoint.get("zone"):
        hints["forZones"] = [{"name": endpoint["zone"]}]
    if endpoint.get("nodeName") and for_nodes:
        hints["forNodes"] = [{"name": endpoint["nodeName"]}]
    return hints or None


def _set_hints(
    service: Obj, to_create: list[dict[str, Any]], to_update: list[dict[str, Any]], unchanged: Sequence[Obj]
) -> None:
    """Upstream's trafficdist.ReconcileHints, or (no trafficDistribution) RemoveHintsFromSlices:
    the hints of the slices being written, and of the unchanged ones whose hints are not right
    (which are then written too). Hints of endpoints that are not ready are left as they are."""
    distribution = (service.get("spec") or {}).get("trafficDistribution")
    if distribution in TRAFFIC_DISTRIBUTIONS and not topology_mode_auto(service):

        def wanted(endpoint: Obj) -> Any:
            ready = (endpoint.get("conditions") or {}).get("ready")
            return _hints(endpoint, distribution == "PreferSameNode") if ready else endpoint.get("hints")
    else:

        def wanted(endpoint: Obj) -> Any:
            return None

    def with_hints(endpoint: Obj) -> dict[str, Any]:
        hints = wanted(endpoint)
        return {**{k: v for k, v in endpoint.items() if k != "hints"}, **({"hints": hints} if hints else {})}

    to_update.extend(
        dict(s) for s in unchanged if any(_hints_differ(e.get("hints"), wanted(e)) for e in s.get("endpoints") or [])
    )
    for slice_ in to_create + to_update:
        slice_["endpoints"] = [with_hints(e) for e in slice_.get("endpoints") or []]


def _hints_differ(current: Optional[Obj], wanted: Optional[Obj]) -> bool:
    def normal(hints: Optional[Obj]) -> dict[str, Any]:
        return {k: list(v) for k, v in (hints or {}).items() if v}

    return normal(current) != normal(wanted)


def _plan_port_mapping(
    service: Obj,
    existing: Sequence[Obj],
    desired: dict[tuple[Any, ...], dict[str, Any]],
    ports: list[dict[str, Any]],
    address_type: str,
    managed_by: str,
    max_endpoints: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Upstream's reconcileByPortMapping: 1. keep the wanted endpoints of existing slices (updated
    where they changed); 2. fill the slices being updated anyway; 3. put what is left into the
    unchanged slice it fits best, or into new slices."""
    desired = dict(desired)  # popped from below
    by_name: dict[str, dict[str, Any]] = {}
    unchanged: list[str] = []
    updating: list[str] = []
    deleting: list[str] = []
    for slice_ in existing:
        name = slice_["metadata"]["name"]
        kept, endpoint_updated = [], False
        for endpoint in slice_.get("endpoints") or []:
            wanted = desired.pop(endpoint_identity(endpoint), None)
            if wanted is not None:
                kept.append(wanted)
                endpoint_updated |= not endpoints_equal_beyond_identity(wanted, endpoint)
        labels, labels_changed = slice_labels(slice_, service, managed_by)
        if endpoint_updated or len(kept) != len(slice_.get("endpoints") or []):
            if not kept:
                by_name[name] = dict(slice_)
                deleting.append(name)
            else:
                by_name[name] = {**slice_, "endpoints": kept, "metadata": {**slice_["metadata"], "labels": labels}}
                updating.append(name)
        elif labels_changed:
            by_name[name] = {
                **slice_,
                "endpoints": list(slice_.get("endpoints") or []),
                "metadata": {**slice_["metadata"], "labels": labels},
            }
            updating.append(name)
        else:
            by_name[name] = dict(slice_)
            unchanged.append(name)

    def fill(slice_: dict[str, Any]) -> None:
        while desired and len(slice_["endpoints"]) < max_endpoints:
            slice_["endpoints"].append(desired.pop(next(iter(desired))))

    if desired and updating:
        for name in sorted(updating, key=lambda n: -len(by_name[n]["endpoints"])):  # the fullest first
            fill(by_name[name])

    to_create: list[dict[str, Any]] = []
    while desired:
        target: Optional[dict[str, Any]] = None
        if len(desired) < max_endpoints and unchanged:
            target = _slice_to_fill([by_name[n] for n in unchanged], len(desired), max_endpoints)
        if target is None:
            target = new_slice(service, ports, address_type, managed_by)
        else:
            target = {**target, "endpoints": list(target.get("endpoints") or [])}
            by_name[target["metadata"]["name"]] = target
        fill(target)
        if target["metadata"].get("name"):
            updating.append(target["metadata"]["name"])
            unchanged.remove(target["metadata"]["name"])
        else:
            to_create.append(target)
    return to_create, [by_name[n] for n in updating], [by_name[n] for n in deleting]


def _slice_to_fill(slices: Sequence[dict[str, Any]], count: int, max_endpoints: int) -> Optional[dict[str, Any]]:
    """The slice that ends closest to full when ``count`` endpoints are added, if any fits."""
    closest_gap, closest = max_endpoints, None
    for slice_ in slices:
        gap = max_endpoints - (count + len(slice_.get("endpoints") or []))
        if 0 <= gap < closest_gap:
            closest_gap, closest = gap, slice_
            if gap == 0:
                break
    return closest


# -- what upstream remembers between syncs -----------------------------------------------------------


def service_key_of_slice(slice_: Obj) -> Optional[str]:
    name = (slice_["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
    return f"{slice_['metadata']['namespace']}/{name}" if name else None


DELETION_EXPECTED = -1


class SliceTracker:
    """The generation of every slice this controller wrote, by service (upstream's
    EndpointSliceTracker): its own writes coming back through the informer are not news, and a
    slice cache that has not caught up with them must not be acted on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generations: dict[str, dict[str, int]] = {}

    def _of(self, slice_: Obj) -> Optional[dict[str, int]]:
        key = service_key_of_slice(slice_)
        return self._generations.get(key) if key else None

    def has(self, slice_: Obj) -> bool:
        with self._lock:
            return slice_["metadata"]["uid"] in (self._of(slice_) or {})

    def should_sync(self, slice_: Obj) -> bool:
        """Whether a slice is newer than what this controller last wrote of it."""
        with self._lock:
            generations = self._of(slice_)
            if generations is None or slice_["metadata"]["uid"] not in generations:
                return True
            return int(slice_["metadata"].get("generation") or 0) > generations[slice_["metadata"]["uid"]]

    def stale(self, service_key: str, slices: Sequence[Obj]) -> bool:
        """Whether the cached ``slices`` of a service miss one of this controller's writes."""
        with self._lock:
            generations = self._generations.get(service_key)
            if generations is None:
                return False
            seen = set()
            for slice_ in slices:
                uid = slice_["metadata"]["uid"]
                seen.add(uid)
                expected = generations.get(uid)
                if expected is not None and (
                    expected == DELETION_EXPECTED or expected > int(slice_["metadata"].get("generation") or 0)
                ):
                    return True
            return any(g != DELETION_EXPECTED and uid not in seen for uid, g in generations.items())

    def wrote(self, slice_: Obj) -> None:
        with self._lock:
            key = service_key_of_slice(slice_)
            if key:
                self._generations.setdefault(key, {})[slice_["metadata"]["uid"]] = int(
                    slice_["metadata"].get("generation") or 0
                )

    def expect_deletion(self, slice_: Obj) -> None:
        with self._lock:
            key = service_key_of_slice(slice_)
            if key:
                self._generations.setdefault(key, {})[slice_["metadata"]["uid"]] = DELETION_EXPECTED

    def deleted(self, slice_: Obj) -> bool:
        """Forget a deleted slice; False when its deletion was not this controller's doing."""
        with self._lock:
            generations = self._of(slice_)
            if generations is None:
                return True
            expected = generations.pop(slice_["metadata"]["uid"], None)
            return expected is None or expected == DELETION_EXPECTED

    def forget_service(self, service_key: str) -> None:
        with self._lock:
            self._generations.pop(service_key, None)


class TriggerTimes:
    """The endpoints.kubernetes.io/last-change-trigger-time of each sync (upstream's
    TriggerTimeTracker): the service's creation on its first sync, then the earliest Ready
    transition (or service creation) newer than what the previous sync saw; none if nothing is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, tuple[Optional[datetime], dict[str, datetime]]] = {}

    def compute(self, service_key: str, service: Obj, pods: Sequence[Obj]) -> Optional[datetime]:
        with self._lock:
            state = self._states.get(service_key)
        last_service, last_pods = state if state is not None else (None, {})
        earliest: Optional[datetime] = None
        pod_times = {}
        for pod in pods:
            at = _ready_transition_time(pod)
            if at is not None:
                pod_times[pod["metadata"]["name"]] = at
                previous = last_pods.get(pod["metadata"]["name"])
                if previous is None or at > previous:
                    earliest = at if earliest is None else min(earliest, at)
        created = _time(service["metadata"].get("creationTimestamp"))
        if created is not None and (last_service is None or created > last_service):
            earliest = created if earliest is None else min(earliest, created)
        with self._lock:
            self._states[service_key] = (created, pod_times)
        return created if state is None else earliest

    def forget_service(self, service_key: str) -> None:
        with self._lock:
            self._states.pop(service_key, None)


def _with_trigger_time(slice_: dict[str, Any], at: Optional[datetime]) -> dict[str, Any]:
    annotations = dict(slice_["metadata"].get("annotations") or {})
    if at is not None:
        annotations[ANNOTATION_TRIGGER_TIME] = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    return {**slice_, "metadata": {**slice_["metadata"], "annotations": annotations}}


# -- the controller ----------------------------------------------------------------------------------


class EndpointSliceController:
    """The controller, added to a kcore Manager (which owns the informers, runs the workers once
    they have synced, and on SIGTERM lets running syncs finish):

        manager = Manager(kcore.load_config())
        EndpointSliceController(manager)
        manager.run()           # until SIGINT or SIGTERM

    ``running(config)`` does the same in a background thread, for tests and notebooks.
    """

    def __init__(
        self,
        manager: Manager,
        *,
        workers: int = 5,
        managed_by: str = MANAGED_BY,
        max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE,
    ) -> None:
        self.clientset: kcore.Clientset = manager.clientset
        self.managed_by = managed_by
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self.services: SharedIndexInformer = manager.informers.core_v1.services()
        self.pods: SharedIndexInformer = manager.informers.core_v1.pods()
        self.nodes: SharedIndexInformer = manager.informers.core_v1.nodes()
        self.slices: SharedIndexInformer = manager.informers.discovery_v1.endpoint_slices()
        self.tracker = SliceTracker()
        self.trigger_times = TriggerTimes()
        # Upstream's service queue limiter: 1 s doubling to 1000 s per key, 10 qps (burst 100) overall.
        rate_limiter = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(1.0, 1000.0), BucketRateLimiter(10, 100))
        slice_events = Funcs(
            create=self._slice_is_news, update=self._slice_update_is_news, delete=self._slice_deletion_is_news
        )
        self.controller: Controller = (
            manager.controller("endpointslice", self.reconcile, workers=workers, rate_limiter=rate_limiter)
            .for_(self.services)
            .watches(self.pods, self.services_selecting, predicates=[Funcs(update=pod_endpoints_changed)])
            .watches(self.slices, service_key_of_slice, predicates=[slice_events])
            .reads(self.nodes)  # for zones: the workers wait for its sync
        )

    # -- which events matter, and which services they concern ------------------------------------

    def services_selecting(self, pod: Obj) -> list[str]:
        """The keys of the services of the pod's namespace whose selector selects it (called with
        the old and the new pod of an update)."""
        metadata = pod["metadata"]
        services = self.services.lister().namespace(metadata["namespace"]).list()
        return [
            f"{metadata['namespace']}/{s['metadata']['name']}"
            for s in services
            if selects((s.get("spec") or {}).get("selector"), metadata.get("labels"))
        ]

    def _managed(self, slice_: Obj) -> bool:
        return (slice_["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == self.managed_by

    def _slice_is_news(self, slice_: Obj) -> bool:
        return self._managed(slice_) and self.tracker.should_sync(slice_)

    def _slice_update_is_news(self, old: Obj, new: Obj) -> bool:
        if service_key_of_slice(old) != service_key_of_slice(new):
            return True
        return self._managed(old) != self._managed(new) or self._slice_is_news(new)

    def _slice_deletion_is_news(self, slice_: Obj) -> bool:
        # Forgetting the slice here keeps the tracker bounded; a deletion that was not ours is news.
        return self._managed(slice_) and self.tracker.has(slice_) and not self.tracker.deleted(slice_)

    # -- the sync --------------------------------------------------------------------------------

    def _slices_of(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return [
            s.to_dict()
            for s in self.slices.lister().namespace(namespace).list()
            if (s["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME) == name
            and self._managed(s)
            and not s["metadata"].get("deletionTimestamp")
        ]

    def _node(self, name: str) -> Optional[Obj]:
        try:
            return self.nodes.lister().get(name) if name else None
        except NotFound:
            return None

    def reconcile(self, key: str) -> Optional[Result]:
        """Make the slices of service ``key`` what its pods call for."""
        namespace, name = key.split("/")
        client = self.clientset.discovery_v1.endpoint_slices(namespace)
        try:
            service = self.services.lister().namespace(namespace).get(name).to_dict()
        except NotFound:
            self.trigger_times.forget_service(key)
            self.tracker.forget_service(key)
            for slice_ in self._slices_of(namespace, name):  # what the garbage collector would do
                try:
                    client.delete(slice_["metadata"]["name"])
                except NotFound:
                    pass
                log.info("EndpointSlice %s/%s deleted (service %s is gone)", namespace, slice_["metadata"]["name"], key)
            return None
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            return None  # such services get no slices from this controller (upstream: issues.k8s.io/105986)

        pods = [
            p
            for p in self.pods.lister().namespace(namespace).list()
            if selects(spec["selector"], p["metadata"].get("labels"))
        ]
        existing = self._slices_of(namespace, name)
        if self.tracker.stale(key, existing):
            log.info("service %s: the EndpointSlice cache is behind this controller's writes; retrying", key)
            return Result(requeue=True)
        trigger_time = self.trigger_times.compute(key, service, pods)
        writes = plan(
            service, pods, self._node, existing, managed_by=self.managed_by, max_endpoints=self.max_endpoints_per_slice
        )
        self._write(service, client, writes, trigger_time)
        if writes.missing_nodes:  # retried with backoff, in case the node shows up
            log.info("service %s: left out, node not found: %s", key, ", ".join(writes.missing_nodes))
            return Result(requeue=True)
        return None

    def _write(self, service: Obj, client: Any, writes: Plan, trigger_time: Optional[datetime]) -> None:
        key = f"{service['metadata']['namespace']}/{service['metadata']['name']}"
        if not service["metadata"].get("deletionTimestamp"):  # racing the garbage collector otherwise
            for slice_ in writes.create:
                try:
                    created = client.create(_with_trigger_time(slice_, trigger_time))
                except ApiError as error:
                    if any(c.get("type") == "NamespaceTerminating" for c in error.details.get("causes") or []):
                        return  # creates keep failing while the namespace goes
                    raise
                self.tracker.wrote(created)
                log.info(
                    "EndpointSlice %s/%s created for %s (%d endpoints)",
                    created["metadata"]["namespace"],
                    created["metadata"]["name"],
                    key,
                    len(slice_["endpoints"]),
                )
        for slice_ in writes.update:
            updated = client.update(_with_trigger_time(slice_, trigger_time))
            self.tracker.wrote(updated)
            log.info(
                "EndpointSlice %s/%s updated for %s (%d endpoints)",
                updated["metadata"]["namespace"],
                updated["metadata"]["name"],
                key,
                len(slice_["endpoints"]),
            )
        for slice_ in writes.delete:
            client.delete(slice_["metadata"]["name"])
            self.tracker.expect_deletion(slice_)
            log.info(
                "EndpointSlice %s/%s deleted for %s", slice_["metadata"]["namespace"], slice_["metadata"]["name"], key
            )


@contextmanager
def running(config: kcore.Config, **options: Any) -> Iterator[EndpointSliceController]:
    """The controller running in a background thread (no HTTP servers, metrics in a registry of
    its own) until the block ends; then its running syncs finish. Raises what stopped it."""
    manager = Manager(config, metrics_address=None, health_address=None, registry=CollectorRegistry())
    controller = EndpointSliceController(manager, **options)
    thread = threading.Thread(target=manager.run, kwargs={"handle_signals": False}, name="endpointslice", daemon=True)
    thread.start()
    try:
        yield controller
    finally:
        manager.stop()
        thread.join()
    if manager.error is not None:
        raise manager.error


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=5, help="concurrent service syncs (default 5, as upstream)")
    parser.add_argument("--metrics-port", type=int, default=8080, help="/metrics on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--health-port", type=int, default=8081, help="/healthz, /readyz on 127.0.0.1 (0: any free port)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(name)s: %(message)s")

    config = kcore.load_config()
    manager = Manager(
        config, metrics_address=("127.0.0.1", args.metrics_port), health_address=("127.0.0.1", args.health_port)
    )
    EndpointSliceController(manager, workers=args.workers)
    log.info("endpointslice against %s; SIGINT or SIGTERM stops it", config.server)
    manager.run()
    log.info("endpointslice: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
