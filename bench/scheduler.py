"""``python -m bench scheduler``: filter + score of one pending pod over every node of a cluster
(5,000 nodes with 30 pods each by default), kcore against kube-scheduler's own framework and a
pure-Python scheduler.

One cluster and one set of pending pods of every kind (bench/scheduler_cluster.py), the same for
every contender, each contender's snapshot built beforehand (its build time is reported apart):

- **kcore**: ``Framework(DEFAULT, every_node=True).score(pod, snapshot)``: kcore's nine filters and seven scores
  (kube-scheduler's default profile less the storage plugins), in Rust on all cores, the GIL
  released; the time includes handing the pod in and the answer (every node's status, every
  feasible node's scores) back to Python as dicts;
- **kube-scheduler**: k8s.io/kubernetes v1.37.2's framework runtime configured with the same
  plugins (tests/scheduler_upstream, timed mode): PreFilter, Filter of every node on the
  framework's Parallelizer (16 goroutines), PreScore and Score with normalization, timed in Go;
- both again with only TaintToleration, NodeAffinity and NodeResourcesFit (LeastAllocated), the
  plugins of
- **pure Python**: those three written plainly in Python over dicts (bench/scheduler_pure.py).

Every answer is checked before any figure is printed: for each pod kcore and kube-scheduler find
the same feasible nodes with the same total scores, and the pure-Python scheduler gives kcore's
feasible nodes, totals and each other node's reasons; a difference fails the bench.

Time per pod: each pod's best of ``--repeats`` runs in a row; the table gives the median (and the
slowest) over the pods. Options: ``--nodes=N`` (default 5000), ``--pods=N`` pending pods (default
20), ``--repeats=R`` (default 5).
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from bench.readme import write_section
from bench.scheduler_cluster import PODS_PER_NODE, Cluster
from bench.scheduler_pure import SUBSET, Failure, build_nodes, schedule
from kcore.scheduler import DEFAULT, Framework, Profile, ScoreResult, Snapshot
from tests.scheduler_upstream_driver import UpstreamScheduler, upstream_default

SECTION = ("<!-- bench:scheduler -->", "<!-- /bench:scheduler -->")
NODES = 5_000  # the size
PENDING = 20
REPEATS = 5
GO = "kube-scheduler v1.37.2 (Go)"
T = TypeVar("T")


@dataclass
class Answer:
    """One pod's answer: the feasible nodes (sorted) and their totals, and, where the contender
    says why, each other node's (plugin, code, reasons)."""

    feasible: List[str]
    total: Dict[str, int]
    failures: Optional[Dict[str, Failure]] = None


@dataclass
class Run:
    """A contender's runs over the pending pods: each pod's best time and answer."""

    contender: str
    profile: Profile
    threads: str
    build_seconds: float
    best: Dict[str, float] = field(default_factory=dict)
    answers: Dict[str, Answer] = field(default_factory=dict)

    def median_ms(self) -> float:
        return statistics.median(self.best.values()) * 1000

    def max_ms(self) -> float:
        return max(self.best.values()) * 1000


def timed(run: Run, pods: List[Any], repeats: int, once: Callable[[Any], T], answer: Callable[[T], Answer]) -> Run:
    """Each pod ``repeats`` times in a row through ``once``: its best time, and its result's
    ``answer`` (read once the clock has stopped)."""
    for pod in pods:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = once(pod)
            times.append(time.perf_counter() - start)
        run.best[pod["metadata"]["name"]] = min(times)
        run.answers[pod["metadata"]["name"]] = answer(result)
    return run


def go_profile(profile: Profile) -> Dict[str, Any]:
    """The driver's form of ``profile``: kube-scheduler's own default profile for DEFAULT."""
    if profile is DEFAULT:
        return upstream_default(DEFAULT)
    return {
        "filters": list(profile.filters),
        "scores": [{"name": n, "weight": w} for n, w in profile.scores.items()],
        "pluginConfig": [{"name": n, "args": a} for n, a in profile.plugin_args.items()],
    }


def go_runs(cluster: Cluster, profiles: List[Profile], repeats: int) -> List[Run]:
    """kube-scheduler's framework in the driver's timed mode, one case per profile."""
    runs = []
    with UpstreamScheduler() as upstream:
        for profile in profiles:
            case = {
                "namespaces": cluster.namespaces,
                "nodes": cluster.nodes,
                "pods": cluster.pods,
                "profile": go_profile(profile),
                "pending": cluster.pending,
                "repeats": repeats,
            }
            (answer,) = upstream.run([case])
            if "error" in answer:
                raise RuntimeError(f"kube-scheduler's framework refused the {profile.name} case: {answer['error']}")
            run = Run(GO, profile, f"Parallelizer: 16 goroutines on {os.cpu_count()} cores", answer["buildSeconds"])
            for pod in answer["pods"]:
                run.best[pod["name"]] = min(pod["seconds"])
                run.answers[pod["name"]] = Answer(pod["feasible"], pod["total"])
            runs.append(run)
    return runs


def kcore_run(profile: Profile, snapshot: Snapshot, build_seconds: float, pods: List[Any], repeats: int) -> Run:
    framework = Framework(profile, every_node=True)  # no sampling: the same work as the Go side's

    def answer(r: ScoreResult) -> Answer:
        failures = {n: (f.plugin, f.code, f.reasons) for n, f in r.filtered.failures.items()}
        return Answer(sorted(r.feasible), r.total, failures)

    run = Run("kcore", profile, f"Rust threads: up to {os.cpu_count()} (one per 256 nodes)", build_seconds)
    return timed(run, pods, repeats, lambda pod: framework.score(pod, snapshot), answer)


def pure_run(nodes: List[Dict[str, Any]], build_seconds: float, pods: List[Any], repeats: int) -> Run:
    def answer(result: Tuple[List[str], Dict[str, Failure], Dict[str, int]]) -> Answer:
        feasible, failures, total = result
        return Answer(sorted(feasible), total, failures)

    run = Run("pure Python", SUBSET, "one thread", build_seconds)
    return timed(run, pods, repeats, lambda pod: schedule(pod, nodes), answer)


def check_same(ours: Run, theirs: Run, reasons: bool = False) -> None:
    """Fails unless both found the same feasible nodes with the same totals for every pod (and,
    with ``reasons``, the same failure for every other node)."""
    for pod, a in ours.answers.items():
        b = theirs.answers[pod]
        where = f"{pod}: {ours.contender} and {theirs.contender} ({ours.profile.name})"
        if a.feasible != b.feasible:
            only_ours = sorted(set(a.feasible) - set(b.feasible))[:5]
            only_theirs = sorted(set(b.feasible) - set(a.feasible))[:5]
            raise AssertionError(f"{where} differ in feasible nodes: only {only_ours} / only {only_theirs}")
        if a.total != b.total:
            node = next(n for n in a.feasible if a.total[n] != b.total[n])
            raise AssertionError(f"{where} differ in total scores: {node} {a.total[node]} / {b.total[node]}")
        if reasons and a.failures != b.failures:
            assert a.failures is not None and b.failures is not None
            node = next(n for n in sorted(set(a.failures) | set(b.failures)) if a.failures.get(n) != b.failures.get(n))
            raise AssertionError(f"{where} differ on {node}: {a.failures.get(node)} / {b.failures.get(node)}")


def measure(nodes: int, pending: int, repeats: int) -> Tuple[Cluster, List[Run]]:
    started = time.perf_counter()
    cluster = Cluster(nodes, pending)
    print(f"cluster: {len(cluster.nodes):,} nodes, {len(cluster.pods):,} pods ({time.perf_counter() - started:.1f} s)")
    go_default, go_subset = go_runs(cluster, [DEFAULT, SUBSET], repeats)

    start = time.perf_counter()
    snapshot = Snapshot(cluster.nodes, cluster.pods, cluster.namespaces)
    kcore_build = time.perf_counter() - start
    start = time.perf_counter()
    pure_nodes = build_nodes(cluster.nodes, cluster.pods)
    pure_build = time.perf_counter() - start
    # The cluster's objects are not needed any more; the collector should not walk them while timing.
    cluster.nodes, cluster.pods = [], []
    gc.collect()
    gc.freeze()

    kcore_default = kcore_run(DEFAULT, snapshot, kcore_build, cluster.pending, repeats)
    kcore_subset = kcore_run(SUBSET, snapshot, kcore_build, cluster.pending, repeats)
    pure = pure_run(pure_nodes, pure_build, cluster.pending, repeats)
    check_same(kcore_default, go_default)
    check_same(kcore_subset, go_subset)
    check_same(pure, kcore_subset, reasons=True)
    return cluster, [kcore_default, go_default, kcore_subset, go_subset, pure]


def plugins(profile: Profile) -> str:
    if profile is DEFAULT:
        return f"default profile: {len(profile.filters)} filters, {len(profile.scores)} scores"
    return ", ".join(profile.filters) + " (LeastAllocated)"


def table(cluster: Cluster, nodes: int, runs: List[Run], repeats: int) -> str:
    kcore_default, go_default, kcore_subset, go_subset, pure = runs
    versus = {id(kcore_default): go_default, id(kcore_subset): go_subset, id(pure): go_subset}
    kinds = sorted({p["metadata"]["labels"]["bench-kind"] for p in cluster.pending})
    lines = [
        f"Filter + score of one pending pod over {nodes:,} nodes with {PODS_PER_NODE} pods each "
        f"({nodes * PODS_PER_NODE:,} pods), {len(cluster.pending)} pending pods of {len(kinds)} kinds; "
        f"ms per pod: each pod's best of {repeats} runs, then the median (and the slowest) over the pods. "
        f"{os.cpu_count()} cores, CPython {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f} at the end. Every contender was checked to find the same feasible nodes "
        "with the same total scores for every pod (pure Python: also kcore's reason for every other node). "
        "Snapshot build: kcore from dicts; kube-scheduler cache.NewSnapshot and NewFramework from "
        "decoded objects (JSON decoding not counted); pure Python its per-node sums.",
        "",
        "| contender | plugins | runs on | snapshot build s | ms/pod (median) | ms/pod (slowest) | vs kube-scheduler |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in runs:
        go = versus.get(id(r))
        vs_go = f"{r.median_ms() / go.median_ms():.2f}×" if go else ""
        lines.append(
            f"| {r.contender} | {plugins(r.profile)} | {r.threads} | {r.build_seconds:.2f} | "
            f"{r.median_ms():.2f} | {r.max_ms():.2f} | {vs_go} |"
        )
    ratio = kcore_default.median_ms() / go_default.median_ms()
    lines += [
        "",
        f"- kcore / kube-scheduler, default profile: {ratio:.2f}× per pod (bar ≤ 1.0×) — "
        f"{'met' if ratio <= 1.0 else 'not met'}",
        f"- pure Python / kcore, same three plugins: {pure.median_ms() / kcore_subset.median_ms():.1f}× per pod",
        "",
        "Per pending pod (default profile; pure Python: its three plugins):",
        "",
        "| pod | kind | feasible nodes | kcore ms | kube-scheduler ms | kcore / kube-scheduler | pure Python ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for pod in cluster.pending:
        name = pod["metadata"]["name"]
        ours, theirs = kcore_default.best[name] * 1000, go_default.best[name] * 1000
        lines.append(
            f"| {name} | {pod['metadata']['labels']['bench-kind']} | {len(kcore_default.answers[name].feasible):,} | "
            f"{ours:.2f} | {theirs:.2f} | {ours / theirs:.2f}× | {pure.best[name] * 1000:.1f} |"
        )
    return "\n".join(lines)


def main(argv: List[str]) -> int:
    options = {"nodes": NODES, "pods": PENDING, "repeats": REPEATS}
    for arg in argv:  # options of other benchmarks may be here too
        name, _, value = arg.lstrip("-").partition("=")
        if name in options:
            if not value.isdigit() or int(value) < 1:
                print(f"bench scheduler: {arg!r} wants a positive whole number (--{name}=N)", file=sys.stderr)
                return 2
            options[name] = int(value)
    cluster, runs = measure(options["nodes"], options["pods"], options["repeats"])
    text = table(cluster, options["nodes"], runs, options["repeats"])
    print(text)
    write_section(
        SECTION,
        f"## scheduler: filter + score of one pod (`python -m bench scheduler`, {time.strftime('%Y-%m-%d')})\n\n{text}",
    )
    return 0
