"""kcore.scheduler: kube-scheduler's filter and score plugins, exact, as a library.

- ``Snapshot``: nodes and the pods assigned to them, updated one change at a time (add, update
  or remove a node; add, assume, remove or forget a pod), the namespaces' labels, the
  PersistentVolumeClaims' access modes and the selectors of services and controllers
  (PodTopologySpread's system default constraints).
- ``Profile``: named filters (in order) and weighted scores with plugin arguments; ``DEFAULT``
  is kube-scheduler v1.37.2's default profile for the plugins kcore has, ``MOST_ALLOCATED`` the
  bin-packing one; ``Profile.from_legacy`` takes the seed's predicate and priority names.
- ``Framework(profile).filter / score / schedule``: the feasible nodes and each other node's
  reasons, the per-plugin and total scores, the chosen node; the search for feasible nodes
  samples as kube-scheduler's does (``Profile.percentage_of_nodes_to_score``, the rotating
  ``Framework.next_start_node_index``; the sequential search's answer, in kube-scheduler's
  node tree order).

Plugins: filters NodeName, NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
NodeResourcesFit, VolumeRestrictions, PodTopologySpread, InterPodAffinity; scores NodeResourcesFit (LeastAllocated,
MostAllocated, RequestedToCapacityRatio), NodeResourcesBalancedAllocation, ImageLocality,
NodeAffinity, TaintToleration, PodTopologySpread, InterPodAffinity. Guarantee: for these, feasibility, reasons and normalized scores equal those of
kube-scheduler's own framework (k8s.io/kubernetes v1.37.2) on the same input; tests/unit/scheduler
checks it against the Go code on thousands of random clusters. ``kcore.scheduler.extender.Extender``
serves Python functions (or a profile, ``Extender.from_profile``) to kube-scheduler as an HTTP
extender; ``Scheduler`` is a secondary scheduler (kube-scheduler's loop: the ``SchedulingQueue``,
assume and bind, the PodScheduled condition and FailedScheduling events, its metrics). Not yet
here: preemption.
"""

from kcore.scheduler.framework import FilterResult, FitError, Framework, NodeFailure, ScoreResult
from kcore.scheduler.profile import DEFAULT, LEGACY_PREDICATES, LEGACY_PRIORITIES, MOST_ALLOCATED, Profile
from kcore.scheduler.scheduler import Scheduler
from kcore.scheduler.scheduling_queue import SchedulingQueue
from kcore.scheduler.snapshot import Snapshot

__all__ = [
    "DEFAULT",
    "LEGACY_PREDICATES",
    "LEGACY_PRIORITIES",
    "MOST_ALLOCATED",
    "FilterResult",
    "FitError",
    "Framework",
    "NodeFailure",
    "Profile",
    "Scheduler",
    "SchedulingQueue",
    "ScoreResult",
    "Snapshot",
]
