"""Running a profile's plugins on one pod against a Snapshot: filter, score, and the choice of
node kube-scheduler would make."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, List, Optional

from kcore import _core
from kcore.errors import KcoreError
from kcore.scheduler.profile import DEFAULT, Profile
from kcore.scheduler.snapshot import Object, Snapshot


@dataclass(frozen=True)
class NodeFailure:
    """Why a node does not fit: the plugin that rejected it ("" when PreFilter narrowed the
    nodes), the code (``Unschedulable`` or ``UnschedulableAndUnresolvable``) and
    kube-scheduler's reasons."""

    plugin: str
    code: str
    reasons: List[str]


@dataclass(frozen=True)
class FilterResult:
    feasible: List[str]
    failures: Dict[str, NodeFailure]
    #: PreFilter's message when it rejected the pod for every node.
    pre_filter_message: Optional[str] = None
    #: How many nodes Filter ran on (kube-scheduler's EvaluatedNodes): the feasible ones and
    #: those that failed, not the nodes PreFilter ruled out nor those the search did not reach.
    evaluated_nodes: int = 0

    def message(self) -> str:
        """kube-scheduler's FitError message: "0/N nodes are available: 3 Insufficient cpu, ..."."""
        text = f"0/{len(self.feasible) + len(self.failures)} nodes are available:"
        if self.pre_filter_message is not None:
            return f"{text} {self.pre_filter_message}."
        counts: Dict[str, int] = {}
        for failure in self.failures.values():
            for reason in failure.reasons:
                counts[reason] = counts.get(reason, 0) + 1
        histogram = sorted(f"{n} {reason}" for reason, n in counts.items())
        return f"{text} {', '.join(histogram)}." if histogram else text


@dataclass(frozen=True)
class ScoreResult:
    filtered: FilterResult
    #: Each score plugin that ran: its normalized score (0..100, before its weight) per feasible node.
    scores: Dict[str, Dict[str, int]]
    #: Per feasible node: the sum of weight × score.
    total: Dict[str, int]

    @property
    def feasible(self) -> List[str]:
        return self.filtered.feasible


class FitError(KcoreError):
    """No node fits the pod; ``result`` says why for each node."""

    def __init__(self, result: FilterResult) -> None:
        super().__init__(result.message())
        self.result = result


class Framework:
    """A profile's plugins, run in Rust with the GIL released.

    As kube-scheduler, it searches the nodes for feasible ones from where the previous pod's
    search stopped (``next_start_node_index``, in ``Snapshot.node_order()``, wrapping around) and
    stops once it has found as many as the profile's ``percentage_of_nodes_to_score`` asks (all
    of them below 100 nodes; one when the profile scores nothing). The nodes not searched appear
    in neither ``feasible`` nor ``failures``. ``every_node=True`` searches every node every time
    (an extender's verbs, reports).

    kube-scheduler searches in parallel and keeps the first nodes to be found, so which nodes
    it finds beyond the count can vary with timing; kcore gives the answer of the sequential
    search (kube-scheduler's with one worker): the first feasible nodes in that order."""

    def __init__(self, profile: Profile = DEFAULT, every_node: bool = False) -> None:
        self.profile = profile
        self._core = _core.Framework(
            list(profile.filters),
            list(profile.score_list()),
            dict(profile.plugin_args),
            profile.percentage_of_nodes_to_score or 0,
            every_node,
        )

    @property
    def next_start_node_index(self) -> int:
        """Where the next pod's search for feasible nodes begins (kube-scheduler's
        nextStartNodeIndex): advanced by the number of nodes each search filtered."""
        return self._core.next_start_node_index

    def _run(self, pod: Object, snapshot: Snapshot, score: bool) -> ScoreResult:
        statuses, feasible, scores, totals, pre_filter, evaluated = self._core.run(pod, snapshot._core, score)
        failures = {node: NodeFailure(*status) for node, status in statuses.items() if status is not None}
        return ScoreResult(
            FilterResult(feasible, failures, pre_filter, evaluated),
            scores={plugin: dict(zip(feasible, values)) for plugin, values in scores.items()},
            total=dict(zip(feasible, totals)),
        )

    def filter(self, pod: Object, snapshot: Snapshot) -> FilterResult:
        """The nodes ``pod`` fits, in the order found, and for every other node searched, why not."""
        return self._run(pod, snapshot, score=False).filtered

    def score(self, pod: Object, snapshot: Snapshot) -> ScoreResult:
        """Filter, then every score plugin's normalized scores over the feasible nodes and the
        weighted totals."""
        return self._run(pod, snapshot, score=True)

    def schedule(self, pod: Object, snapshot: Snapshot, seed: Optional[int] = None) -> str:
        """The node kube-scheduler would choose: the only feasible one, else one of the highest
        totals, uniformly at random among equals (reproducible with ``seed``). FitError when none fits."""
        r = self._run(pod, snapshot, score=True)
        if not r.feasible:
            raise FitError(r.filtered)
        return select_host(r, random.Random(seed))


def select_host(result: ScoreResult, rng: random.Random) -> str:
    """Of the feasible nodes, the only one, else one of the highest totals, uniformly at random
    among equals (kube-scheduler's selectHost)."""
    if len(result.feasible) == 1:
        return result.feasible[0]
    best = max(result.total.values())
    return rng.choice([node for node in result.feasible if result.total[node] == best])
