"""The scheduler extender's wire types (k8s.io/kube-scheduler/extender/v1 at the pinned release).

The Go structs have no json tags, so the field names on the wire are the Go names (PascalCase),
and Go's encoding/json decodes them as it decodes any untagged field: a key that equals a field's
name, else one that equals it ignoring case (so the lowercase names of old releases and of
hand-written clients decode too); unknown keys are ignored; of two keys naming one field, the
last wins. Pods and nodes pass through as the API's JSON objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar

from kcore.errors import KcoreError

#: kube-scheduler's bounds for an extender's score (MinExtenderPriority, MaxExtenderPriority).
MIN_EXTENDER_PRIORITY = 0
MAX_EXTENDER_PRIORITY = 10

T = TypeVar("T")


class WireError(KcoreError, ValueError):
    """A request body that is not the wire type it should be; the message names the field."""


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _go_fields(value: Any, names: Sequence[str], what: str) -> Dict[str, Any]:
    """The keys of a JSON object matched to Go field names as encoding/json matches them."""
    if not isinstance(value, dict):
        raise WireError(f"{what}: expected an object, got {_kind(value)}")
    folded = {name.lower(): name for name in names}
    matched: Dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in names else folded.get(key.lower())
        if name is not None:
            matched[name] = item
    return matched


def _object(value: Any, what: str) -> Optional[Dict[str, Any]]:
    if value is not None and not isinstance(value, dict):
        raise WireError(f"{what}: expected an object, got {_kind(value)}")
    return value


def _string(value: Any, what: str) -> str:
    if value is None:  # Go leaves a string field as it was (empty) on null
        return ""
    if not isinstance(value, str):
        raise WireError(f"{what}: expected a string, got {_kind(value)}")
    return value


def _int(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):  # Go refuses 5.0 for an int64 too
        raise WireError(f"{what}: expected an integer, got {value!r}")
    return value


def _list(value: Any, what: str, item: Callable[[Any, str], T]) -> Optional[List[T]]:
    if value is None:
        return None
    if not isinstance(value, list):
        raise WireError(f"{what}: expected an array, got {_kind(value)}")
    return [item(v, f"{what}[{i}]") for i, v in enumerate(value)]


def _map(value: Any, what: str, item: Callable[[Any, str], T]) -> Optional[Dict[str, T]]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise WireError(f"{what}: expected an object, got {_kind(value)}")
    return {k: item(v, f"{what}[{k!r}]") for k, v in value.items()}


def _required_object(value: Any, what: str) -> Dict[str, Any]:
    obj = _object(value, what)
    if obj is None:
        raise WireError(f"{what}: expected an object, got null")
    return obj


def _node_list(value: Any, what: str) -> Optional[List[Dict[str, Any]]]:
    """A v1.NodeList's items (its own json tags: "items", matched the same way)."""
    if value is None:
        return None
    items = _list(_go_fields(value, ["items"], what).get("items"), f"{what}.items", _required_object)
    return items or []


def _node_list_wire(nodes: Optional[List[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
    return None if nodes is None else {"metadata": {}, "items": nodes}


@dataclass
class ExtenderArgs:
    """What kube-scheduler sends to filter and prioritize: the pod and either the nodes
    (``Nodes``, a NodeList) or, when the extender is nodeCacheCapable, their names."""

    pod: Optional[Dict[str, Any]]
    nodes: Optional[List[Dict[str, Any]]] = None
    node_names: Optional[List[str]] = None

    @classmethod
    def from_wire(cls, value: Any) -> "ExtenderArgs":
        f = _go_fields(value, ["Pod", "Nodes", "NodeNames"], "ExtenderArgs")
        return cls(
            pod=_object(f.get("Pod"), "ExtenderArgs.Pod"),
            nodes=_node_list(f.get("Nodes"), "ExtenderArgs.Nodes"),
            node_names=_list(f.get("NodeNames"), "ExtenderArgs.NodeNames", _string),
        )

    def to_wire(self) -> Dict[str, Any]:
        return {"Pod": self.pod, "Nodes": _node_list_wire(self.nodes), "NodeNames": self.node_names}


def _failed_nodes(value: Any, what: str) -> Optional[Dict[str, str]]:
    return _map(value, what, _string)


@dataclass
class ExtenderFilterResult:
    """The nodes that pass (as nodes or as names, as they came), each failed node's reason
    (FailedAndUnresolvableNodes: preemption cannot help them), or an Error for the whole call."""

    nodes: Optional[List[Dict[str, Any]]] = None
    node_names: Optional[List[str]] = None
    failed_nodes: Optional[Dict[str, str]] = field(default_factory=dict)
    failed_and_unresolvable_nodes: Optional[Dict[str, str]] = field(default_factory=dict)
    error: str = ""

    @classmethod
    def from_wire(cls, value: Any) -> "ExtenderFilterResult":
        w = "ExtenderFilterResult"
        f = _go_fields(value, ["Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error"], w)
        return cls(
            nodes=_node_list(f.get("Nodes"), f"{w}.Nodes"),
            node_names=_list(f.get("NodeNames"), f"{w}.NodeNames", _string),
            failed_nodes=_failed_nodes(f.get("FailedNodes"), f"{w}.FailedNodes"),
            failed_and_unresolvable_nodes=_failed_nodes(
                f.get("FailedAndUnresolvableNodes"), f"{w}.FailedAndUnresolvableNodes"
            ),
            error=_string(f.get("Error"), f"{w}.Error"),
        )

    def to_wire(self) -> Dict[str, Any]:
        return {
            "Nodes": _node_list_wire(self.nodes),
            "NodeNames": self.node_names,
            "FailedNodes": self.failed_nodes,
            "FailedAndUnresolvableNodes": self.failed_and_unresolvable_nodes,
            "Error": self.error,
        }


@dataclass
class HostPriority:
    """One node's score from an extender, 0..MAX_EXTENDER_PRIORITY; a HostPriorityList is a list of these."""

    host: str
    score: int

    @classmethod
    def from_wire(cls, value: Any, what: str = "HostPriority") -> "HostPriority":
        f = _go_fields(value, ["Host", "Score"], what)
        return cls(host=_string(f.get("Host"), f"{what}.Host"), score=_int(f.get("Score"), f"{what}.Score"))

    def to_wire(self) -> Dict[str, Any]:
        return {"Host": self.host, "Score": self.score}


def host_priority_list_from_wire(value: Any) -> List[HostPriority]:
    return _list(value, "HostPriorityList", HostPriority.from_wire) or []


@dataclass
class ExtenderBindingArgs:
    """The binding kube-scheduler delegates to the extender that has a bindVerb."""

    pod_name: str
    pod_namespace: str
    pod_uid: str
    node: str

    @classmethod
    def from_wire(cls, value: Any) -> "ExtenderBindingArgs":
        w = "ExtenderBindingArgs"
        f = _go_fields(value, ["PodName", "PodNamespace", "PodUID", "Node"], w)
        return cls(*(_string(f.get(n), f"{w}.{n}") for n in ("PodName", "PodNamespace", "PodUID", "Node")))

    def to_wire(self) -> Dict[str, Any]:
        return {"PodName": self.pod_name, "PodNamespace": self.pod_namespace, "PodUID": self.pod_uid, "Node": self.node}


@dataclass
class ExtenderBindingResult:
    error: str = ""

    @classmethod
    def from_wire(cls, value: Any) -> "ExtenderBindingResult":
        return cls(
            _string(_go_fields(value, ["Error"], "ExtenderBindingResult").get("Error"), "ExtenderBindingResult.Error")
        )

    def to_wire(self) -> Dict[str, Any]:
        return {"Error": self.error}


@dataclass
class Victims:
    """The pods preemption would evict on one node: full pods (``Victims``) or, from a
    nodeCacheCapable scheduler and in the extender's answer, their UIDs (``MetaVictims``)."""

    pods: List[Dict[str, Any]]
    num_pdb_violations: int = 0

    @property
    def pod_uids(self) -> List[str]:
        return [
            pod.get("metadata", {}).get("uid", "") if "metadata" in pod else pod.get("UID", "") for pod in self.pods
        ]

    @classmethod
    def from_wire(cls, value: Any, what: str) -> "Victims":
        f = _go_fields(value, ["Pods", "NumPDBViolations"], what)
        return cls(
            _list(f.get("Pods"), f"{what}.Pods", _required_object) or [],
            _int(f.get("NumPDBViolations"), f"{what}.NumPDBViolations"),
        )

    def to_wire(self) -> Dict[str, Any]:
        return {"Pods": self.pods, "NumPDBViolations": self.num_pdb_violations}


def _meta_victims(value: Any, what: str) -> Victims:
    victims = Victims.from_wire(value, what)
    return Victims(
        [
            {"UID": _string(_go_fields(p, ["UID"], f"{what}.Pods[{i}]").get("UID"), f"{what}.Pods[{i}].UID")}
            for i, p in enumerate(victims.pods)
        ],
        victims.num_pdb_violations,
    )


def meta_victims_wire(victims: Mapping[str, Victims]) -> Dict[str, Any]:
    """Victims as MetaVictims (pods by UID), the shape of the extender's preemption answer."""
    return {
        node: {"Pods": [{"UID": uid} for uid in v.pod_uids], "NumPDBViolations": v.num_pdb_violations}
        for node, v in victims.items()
    }


@dataclass
class ExtenderPreemptionArgs:
    """The pod to make room for and the candidate nodes with their victims."""

    pod: Optional[Dict[str, Any]]
    node_name_to_victims: Optional[Dict[str, Victims]] = None
    node_name_to_meta_victims: Optional[Dict[str, Victims]] = None

    @classmethod
    def from_wire(cls, value: Any) -> "ExtenderPreemptionArgs":
        w = "ExtenderPreemptionArgs"
        f = _go_fields(value, ["Pod", "NodeNameToVictims", "NodeNameToMetaVictims"], w)
        return cls(
            pod=_object(f.get("Pod"), f"{w}.Pod"),
            node_name_to_victims=_map(f.get("NodeNameToVictims"), f"{w}.NodeNameToVictims", Victims.from_wire),
            node_name_to_meta_victims=_map(f.get("NodeNameToMetaVictims"), f"{w}.NodeNameToMetaVictims", _meta_victims),
        )

    def to_wire(self) -> Dict[str, Any]:
        return {
            "Pod": self.pod,
            "NodeNameToVictims": None
            if self.node_name_to_victims is None
            else {n: v.to_wire() for n, v in self.node_name_to_victims.items()},
            "NodeNameToMetaVictims": None
            if self.node_name_to_meta_victims is None
            else meta_victims_wire(self.node_name_to_meta_victims),
        }


@dataclass
class ExtenderPreemptionResult:
    node_name_to_meta_victims: Optional[Dict[str, Victims]] = None

    @classmethod
    def from_wire(cls, value: Any) -> "ExtenderPreemptionResult":
        w = "ExtenderPreemptionResult"
        f = _go_fields(value, ["NodeNameToMetaVictims"], w)
        return cls(_map(f.get("NodeNameToMetaVictims"), f"{w}.NodeNameToMetaVictims", _meta_victims))

    def to_wire(self) -> Dict[str, Any]:
        victims = self.node_name_to_meta_victims
        return {"NodeNameToMetaVictims": None if victims is None else meta_victims_wire(victims)}
