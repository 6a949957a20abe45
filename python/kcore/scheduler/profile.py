"""Profiles: a named set of filter plugins (in order) and weighted score plugins with their
arguments — kube-scheduler's profile, and the seed's "algorithm provider" (predicates +
priorities, under their legacy names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

#: The filter plugins kcore has, in kube-scheduler v1.37.2's default order.
FILTERS: Tuple[str, ...] = (
    "NodeName",
    "NodeUnschedulable",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeRestrictions",
    "PodTopologySpread",
    "InterPodAffinity",
)
#: The score plugins kcore has, with kube-scheduler v1.37.2's default weights.
DEFAULT_WEIGHTS: Dict[str, int] = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}

#: The seed's predicates, each the filter plugin that does its work now.
LEGACY_PREDICATES: Dict[str, str] = {
    "PodFitsResources": "NodeResourcesFit",
    "PodFitsHostPorts": "NodePorts",
    "MatchNodeSelector": "NodeAffinity",
    "PodToleratesNodeTaints": "TaintToleration",
    "HostName": "NodeName",
    "CheckNodeUnschedulable": "NodeUnschedulable",
}
#: The seed's priorities: the score plugin, and the arguments that make it that priority.
LEGACY_PRIORITIES: Dict[str, Tuple[str, Optional[Dict[str, Any]]]] = {
    "LeastRequestedPriority": ("NodeResourcesFit", {"scoringStrategy": {"type": "LeastAllocated"}}),
    "MostRequestedPriority": ("NodeResourcesFit", {"scoringStrategy": {"type": "MostAllocated"}}),
    "BalancedResourceAllocation": ("NodeResourcesBalancedAllocation", None),
    "ImageLocalityPriority": ("ImageLocality", None),
    "NodeAffinityPriority": ("NodeAffinity", None),
    "TaintTolerationPriority": ("TaintToleration", None),
}


@dataclass(frozen=True)
class Profile:
    """A named set of plugins. ``filters`` run in order (the first to reject a node gives its
    reason); ``scores`` maps each score plugin to its weight (0 counts as 1); ``plugin_args``
    maps a plugin to its arguments as a KubeSchedulerConfiguration's pluginConfig gives them
    (e.g. ``{"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}}}``);
    ``percentage_of_nodes_to_score``: how many of the nodes to search for feasible ones, as
    kube-scheduler's percentageOfNodesToScore (None or 0: its adaptive default, 50% less 1% per
    125 nodes, at least 5%; 100: all; at least 100 nodes either way)."""

    name: str
    filters: Tuple[str, ...]
    scores: Mapping[str, int]
    plugin_args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: Optional[int] = None

    @classmethod
    def from_legacy(
        cls,
        name: str,
        predicates: Iterable[str],
        priorities: Mapping[str, int],
    ) -> "Profile":
        """An algorithm provider in the seed's words: predicate names and priority names with
        weights, mapped onto the plugins. LeastRequested and MostRequested are two strategies of
        one plugin, so a provider takes at most one of them."""
        filters = []
        for predicate in predicates:
            plugin = LEGACY_PREDICATES.get(predicate)
            if plugin is None:
                raise ValueError(f"unknown predicate {predicate!r}; kcore has {sorted(LEGACY_PREDICATES)}")
            if plugin not in filters:
                filters.append(plugin)
        scores: Dict[str, int] = {}
        args: Dict[str, Mapping[str, Any]] = {}
        for priority, weight in priorities.items():
            if priority not in LEGACY_PRIORITIES:
                raise ValueError(f"unknown priority {priority!r}; kcore has {sorted(LEGACY_PRIORITIES)}")
            plugin, plugin_args = LEGACY_PRIORITIES[priority]
            if plugin in scores:
                raise ValueError(f"priority {priority!r} is a second use of the {plugin} plugin in one provider")
            scores[plugin] = weight
            if plugin_args is not None:
                args[plugin] = plugin_args
        return cls(name, tuple(filters), scores, args)

    def with_scores(self, scores: Mapping[str, int], **plugin_args: Mapping[str, Any]) -> "Profile":
        """A copy with other score weights (and more plugin arguments)."""
        return Profile(
            self.name,
            self.filters,
            dict(scores),
            {**self.plugin_args, **plugin_args},
            self.percentage_of_nodes_to_score,
        )

    def score_list(self) -> Sequence[Tuple[str, int]]:
        return list(self.scores.items())


#: kube-scheduler v1.37.2's default profile, for the plugins kcore has.
DEFAULT = Profile("default-scheduler", FILTERS, dict(DEFAULT_WEIGHTS))

#: Bin packing: the default profile with NodeResourcesFit scoring MostAllocated.
MOST_ALLOCATED = Profile(
    "most-allocated",
    FILTERS,
    dict(DEFAULT_WEIGHTS),
    {"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}}},
)
