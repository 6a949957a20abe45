"""A pure-Python scheduler for bench/scheduler.py: what kube-scheduler's TaintToleration,
NodeAffinity and NodeResourcesFit (LeastAllocated) plugins compute, written plainly in Python
over dicts, to show what filtering and scoring cost without a compiled core.

It runs only those three (``SUBSET``) and models only what the bench's cluster holds: node
affinity by label expressions (no matchFields), regular init containers (no sidecars), no
pod-level resources or resize status; a pod outside that is refused with ValueError rather than
answered wrongly. bench/scheduler.py checks its answers against kcore's with the same profile.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from kcore.scheduler import Profile
from kcore.scheduler.profile import DEFAULT_WEIGHTS

Obj = Mapping[str, Any]

PLUGINS = ("TaintToleration", "NodeAffinity", "NodeResourcesFit")
#: The profile the baseline computes (kube-scheduler's default weights, LeastAllocated).
SUBSET = Profile("pure-python subset", PLUGINS, {p: DEFAULT_WEIGHTS[p] for p in PLUGINS})

MAX_SCORE = 100
#: The requests kube-scheduler counts, for scoring, for a container that names none.
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024
UNRESOLVABLE = "UnschedulableAndUnresolvable"
TAINTED = "node(s) had untolerated taint(s)"
AFFINITY = "node(s) didn't match Pod's node affinity/selector"
FIXED = ("cpu", "memory", "ephemeral-storage")

SUFFIXES: Dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    **{s: Fraction(2 ** (10 * (i + 1))) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}
QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)")


def quantity(text: str) -> Fraction:
    """A resource quantity ("250m", "1.5Gi", "1e3") as an exact number."""
    m = QUANTITY.fullmatch(text)
    if m is None:
        raise ValueError(f"not a quantity: {text!r}")
    number, exponent, suffix = m.groups()
    scale = Fraction(10) ** int(exponent) if exponent else SUFFIXES[suffix or ""]
    return Fraction(number) * scale


def in_units(amounts: Dict[str, Fraction]) -> Dict[str, int]:
    """cpu in millicores, the rest in units, each rounded up as Quantity.MilliValue / Value do."""
    return {name: math.ceil(v * 1000 if name == "cpu" else v) for name, v in amounts.items()}


def pod_requests(pod: Obj, non_zero: bool) -> Dict[str, int]:
    """The pod's requests as kube-scheduler sums them: its containers, or its largest init
    container if more, plus overhead; ``non_zero`` counts 100m cpu and 200 MiB memory for a
    container that requests none (what scoring uses)."""
    spec = pod["spec"]
    if "resources" in spec or "status" in pod:
        raise ValueError(f"pod {pod['metadata']['name']}: pod-level resources and status are not modelled")

    def of(container: Obj) -> Dict[str, Fraction]:
        out = {n: quantity(v) for n, v in container.get("resources", {}).get("requests", {}).items()}
        if non_zero:
            out.setdefault("cpu", Fraction(DEFAULT_MILLI_CPU, 1000))
            out.setdefault("memory", Fraction(DEFAULT_MEMORY))
        return out

    total: Dict[str, Fraction] = {}
    for c in spec["containers"]:
        for name, v in of(c).items():
            total[name] = total.get(name, Fraction(0)) + v
    for c in spec.get("initContainers", ()):
        if c.get("restartPolicy") == "Always":
            raise ValueError(f"pod {pod['metadata']['name']}: sidecar containers are not modelled")
        for name, v in of(c).items():
            total[name] = max(total.get(name, Fraction(0)), v)
    for name, v in spec.get("overhead", {}).items():
        total[name] = total.get(name, Fraction(0)) + quantity(v)
    return in_units(total)


def build_nodes(nodes: Sequence[Obj], pods: Sequence[Obj]) -> List[Dict[str, Any]]:
    """The baseline's snapshot: per node (sorted by name) its labels, taints, allocatable, the
    requests of its pods (as filtered and as scored) and their count."""
    out: Dict[str, Dict[str, Any]] = {}
    for node in nodes:
        allocatable = in_units({n: quantity(v) for n, v in node["status"].get("allocatable", {}).items()})
        out[node["metadata"]["name"]] = {
            "name": node["metadata"]["name"],
            "labels": node["metadata"].get("labels", {}),
            "taints": node["spec"].get("taints", []),
            "allocatable": allocatable,
            "requested": {},
            "non_zero": {"cpu": 0, "memory": 0},
            "pods": 0,
        }
    for pod in pods:
        info = out.get(pod["spec"]["nodeName"])
        if info is None:
            continue
        info["pods"] += 1
        for name, v in pod_requests(pod, non_zero=False).items():
            info["requested"][name] = info["requested"].get(name, 0) + v
        for name, v in pod_requests(pod, non_zero=True).items():
            if name in info["non_zero"]:
                info["non_zero"][name] += v
    return [out[name] for name in sorted(out)]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("key") and toleration["key"] != taint["key"]:
        return False
    operator = toleration.get("operator", "")
    if operator in ("", "Equal"):
        return toleration.get("value", "") == taint.get("value", "")
    return operator == "Exists"


def matches(expressions: List[Obj], labels: Mapping[str, str]) -> bool:
    """A node selector term's matchExpressions against the node's labels."""
    for e in expressions:
        key, op, values = e["key"], e["operator"], e.get("values", [])
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        elif op in ("Gt", "Lt"):
            try:
                have, want = int(labels[key]), int(values[0])
            except (KeyError, ValueError):
                ok = False
            else:
                ok = have > want if op == "Gt" else have < want
        else:
            raise ValueError(f"unknown node selector operator {op!r}")
        if not ok:
            return False
    return True


def node_terms(terms: List[Obj]) -> List[List[Obj]]:
    """The terms' matchExpressions, without the empty terms (they match nothing)."""
    if any("matchFields" in t for t in terms):
        raise ValueError("node affinity by matchFields is not modelled")
    return [t["matchExpressions"] for t in terms if t.get("matchExpressions")]


Failure = Tuple[str, str, List[str]]


def schedule(pod: Obj, nodes: List[Dict[str, Any]]) -> Tuple[List[str], Dict[str, Failure], Dict[str, int]]:
    """Filter, then score: the feasible nodes, each other node's (plugin, code, reasons) and the
    feasible nodes' weighted totals."""
    spec = pod["spec"]
    tolerations = spec.get("tolerations", [])
    selector = spec.get("nodeSelector", {})
    affinity = spec.get("affinity", {}).get("nodeAffinity", {})
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    required_terms = node_terms(required["nodeSelectorTerms"]) if required else None
    preferred = []  # (weight, matchExpressions) of the terms that count
    for p in affinity.get("preferredDuringSchedulingIgnoredDuringExecution", []):
        terms = node_terms([p["preference"]])
        if p["weight"] and terms:
            preferred.append((p["weight"], terms[0]))
    request = pod_requests(pod, non_zero=False)
    scored_request = pod_requests(pod, non_zero=True)
    weights = SUBSET.scores

    feasible: List[Dict[str, Any]] = []
    failures: Dict[str, Failure] = {}
    for node in nodes:
        failure = (
            taint_failure(node, tolerations)
            or affinity_failure(node, selector, required_terms)
            or resources_failure(node, request)
        )
        if failure:
            failures[node["name"]] = failure
        else:
            feasible.append(node)

    prefer_no_schedule = [t for t in tolerations if t.get("effect", "") in ("", "PreferNoSchedule")]
    taint_counts = [
        sum(
            1
            for taint in node["taints"]
            if taint["effect"] == "PreferNoSchedule" and not any(tolerates(t, taint) for t in prefer_no_schedule)
        )
        for node in feasible
    ]
    affinity_sums = [sum(w for w, e in preferred if matches(e, node["labels"])) for node in feasible]
    taint_scores = normalized(taint_counts, reverse=True)
    affinity_scores = normalized(affinity_sums, reverse=False)
    totals = {}
    for node, taint, near in zip(feasible, taint_scores, affinity_scores):
        totals[node["name"]] = (
            weights["TaintToleration"] * taint
            + weights["NodeAffinity"] * near
            + weights["NodeResourcesFit"] * least_allocated(node, scored_request)
        )
    return [n["name"] for n in feasible], failures, totals


def taint_failure(node: Obj, tolerations: List[Obj]) -> Optional[Failure]:
    for taint in node["taints"]:
        if taint["effect"] in ("NoSchedule", "NoExecute") and not any(tolerates(t, taint) for t in tolerations):
            return ("TaintToleration", UNRESOLVABLE, [TAINTED])
    return None


def affinity_failure(node: Obj, selector: Mapping[str, str], required: Optional[List[List[Obj]]]) -> Optional[Failure]:
    labels = node["labels"]
    fits = all(labels.get(k) == v for k, v in selector.items()) and (
        required is None or any(matches(e, labels) for e in required)
    )
    return None if fits else ("NodeAffinity", UNRESOLVABLE, [AFFINITY])


def resources_failure(node: Obj, request: Mapping[str, int]) -> Optional[Failure]:
    """NodeResourcesFit's filter: room for one more pod and for each resource the pod requests."""
    allocatable, requested = node["allocatable"], node["requested"]
    reasons = []
    unresolvable = False
    if node["pods"] + 1 > allocatable.get("pods", 0):
        reasons.append("Too many pods")
    if not any(request.values()):
        return ("NodeResourcesFit", "Unschedulable", reasons) if reasons else None
    scalars = sorted(n for n in request if n not in FIXED)
    for name in (*FIXED, *scalars):
        want = request.get(name, 0)
        if want > 0 and want > allocatable.get(name, 0) - requested.get(name, 0):
            reasons.append(f"Insufficient {name}")
            unresolvable |= want > allocatable.get(name, 0)
    if not reasons:
        return None
    return ("NodeResourcesFit", UNRESOLVABLE if unresolvable else "Unschedulable", reasons)


def least_allocated(node: Obj, request: Mapping[str, int]) -> int:
    """NodeResourcesFit's LeastAllocated score over cpu and memory (weight 1 each)."""
    score = weights = 0
    for name in ("cpu", "memory"):
        capacity = node["allocatable"].get(name, 0)
        if capacity == 0:
            continue
        wanted = node["non_zero"][name] + request.get(name, 0)
        score += (capacity - wanted) * MAX_SCORE // capacity if wanted <= capacity else 0
        weights += 1
    return score // weights if weights else 0


def normalized(scores: List[int], reverse: bool) -> List[int]:
    """kube-scheduler's DefaultNormalizeScore: scaled so the highest is 100 (reversed: 100 minus that)."""
    top = max(scores, default=0)
    if top == 0:
        return [MAX_SCORE if reverse else 0 for _ in scores]
    return [MAX_SCORE - MAX_SCORE * s // top if reverse else MAX_SCORE * s // top for s in scores]
