"""Ready-made extenders from kcore.scheduler's plugins: a profile's filters and scores served to
kube-scheduler over the extender protocol, against a Snapshot the caller keeps current (for
example from informers' event handlers: add_node / update_node / add_pod / remove_pod).

Scores: the framework's total for a node is Σ weight × score with each score in 0..100
(MaxNodeScore); kube-scheduler multiplies an extender's 0..10 score by MaxNodeScore /
MaxExtenderPriority = 10, so the total is brought back to 0..10 by the inverse of that
(truncating, as kube-scheduler's integer arithmetic does):
``total × MAX_EXTENDER_PRIORITY // (MAX_NODE_SCORE × Σ weights)``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from kcore.scheduler.extender import Extender, NodeLister, Reason, Unresolvable
from kcore.scheduler.extender_wire import MAX_EXTENDER_PRIORITY
from kcore.scheduler.framework import Framework
from kcore.scheduler.profile import FILTERS, Profile
from kcore.scheduler.snapshot import Snapshot

#: kube-scheduler's framework.MaxNodeScore.
MAX_NODE_SCORE = 100


def _name(node: Dict[str, Any]) -> str:
    return str(node.get("metadata", {}).get("name", ""))


def profile_extender(
    profile: Profile,
    snapshot: Snapshot,
    node_lister: Optional[NodeLister] = None,
    filter: bool = True,
    prioritize: bool = True,
) -> Extender:
    """An extender whose filter verb runs ``profile``'s filters and whose prioritize verb its
    weighted scores, scaled to 0..10, for the nodes kube-scheduler asks about."""
    framework = Framework(profile, every_node=True)  # kube-scheduler asks about the nodes it chose
    ext = Extender(node_lister=node_lister)
    weights = sum(max(weight, 1) for weight in profile.scores.values())  # a weight of 0 counts as 1

    if filter:

        @ext.filter_batch
        def run_filters(pod: Dict[str, Any], nodes: List[Dict[str, Any]]) -> Dict[str, Reason]:
            result = framework.filter(pod, snapshot)
            feasible = set(result.feasible)
            reasons: Dict[str, Reason] = {}
            for name in map(_name, nodes):
                if name in feasible:
                    continue
                failure = result.failures.get(name)
                if failure is None:
                    reasons[name] = f"node {name!r} is not in the extender's snapshot"
                    continue
                reason = ", ".join(failure.reasons) or result.pre_filter_message or failure.plugin
                reasons[name] = Unresolvable(reason) if failure.code == "UnschedulableAndUnresolvable" else reason
            return reasons

    if prioritize and weights:

        @ext.prioritize_batch
        def run_scores(pod: Dict[str, Any], nodes: List[Dict[str, Any]]) -> Dict[str, int]:
            totals = framework.score(pod, snapshot).total
            return {
                name: totals[name] * MAX_EXTENDER_PRIORITY // (MAX_NODE_SCORE * weights)
                for name in map(_name, nodes)
                if name in totals
            }

    return ext


def bin_packing_prioritizer(
    snapshot: Snapshot, node_lister: Optional[NodeLister] = None, ignored_resources: Sequence[str] = ()
) -> Extender:
    """A prioritize-only extender that prefers the fullest nodes: NodeResourcesFit's
    MostAllocated score (cpu and memory, weight 1 each), 0..10, over the nodes the pod fits.
    ``ignored_resources``: the managedResources marked ignoredByScheduler in the scheduler's
    configuration (kube-scheduler adds them to NodeResourcesFit's ignoredResources; so must we,
    or no node has them and the pod fits nowhere)."""
    fit_args: Dict[str, Any] = {"scoringStrategy": {"type": "MostAllocated"}}
    if ignored_resources:
        fit_args["ignoredResources"] = list(ignored_resources)
    most_allocated = Profile("bin-packing", FILTERS, {"NodeResourcesFit": 1}, {"NodeResourcesFit": fit_args})
    return profile_extender(most_allocated, snapshot, node_lister, filter=False)
