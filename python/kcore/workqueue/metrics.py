"""client-go's workqueue metrics through prometheus-client, for named queues only.

The queues count in Rust; one Collector per registry reads the counts at scrape time, so the
per-item cost stays in Rust. Names, help texts, buckets and the ``name`` label are
component-base's (``metrics/prometheus/workqueue``). Two differences, both on purpose:
``workqueue_unfinished_work_seconds`` and ``workqueue_longest_running_processor_seconds`` are
computed at scrape time instead of every 500 ms; queues sharing a name are summed (the longest
running processor is their maximum).
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Iterator, List, Optional, Tuple

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from kcore import _core
from kcore._prometheus import PerRegistry

_HELP = {
    "depth": "Current depth of workqueue",
    "adds": "Total number of adds handled by workqueue",
    "queue_duration": "How long in seconds an item stays in workqueue before being requested.",
    "work_duration": "How long in seconds processing an item from workqueue takes.",
    "unfinished": "How many seconds of work has done that is in progress and hasn't been observed by "
    "work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads "
    "by observing the rate at which this increases.",
    "longest": "How many seconds has the longest running processor for workqueue been running.",
    "retries": "Total number of retries handled by workqueue",
}
_LE = [floatToGoString(b) for b in _core.QueueMetrics.bucket_bounds()] + ["+Inf"]


class _Totals:
    """One name's values, summed over its queues."""

    def __init__(self) -> None:
        self.depth = self.adds = self.retries = 0
        self.queue_buckets = [0] * len(_LE)
        self.work_buckets = [0] * len(_LE)
        self.queue_sum = self.work_sum = self.unfinished = self.longest = 0.0

    def fold(self, snapshot: Tuple[Any, ...]) -> None:
        depth, adds, retries, (qb, qs), (wb, ws), unfinished, longest = snapshot
        self.depth += depth
        self.adds += adds
        self.retries += retries
        self.queue_buckets = [a + b for a, b in zip(self.queue_buckets, qb)]
        self.work_buckets = [a + b for a, b in zip(self.work_buckets, wb)]
        self.queue_sum += qs
        self.work_sum += ws
        self.unfinished += unfinished
        self.longest = max(self.longest, longest)

    def counted(self) -> Tuple[Any, ...]:
        """What a dropped queue leaves behind, as a snapshot: no work is unfinished any more."""
        return (
            self.depth,
            self.adds,
            self.retries,
            (self.queue_buckets, self.queue_sum),
            (self.work_buckets, self.work_sum),
            0.0,
            0.0,
        )


def _histogram(family: HistogramMetricFamily, name: str, buckets: List[int], total: float) -> None:
    cumulative, running = [], 0
    for le, count in zip(_LE, buckets):
        running += count
        cumulative.append((le, running))
    family.add_metric([name], cumulative, total)


class WorkqueueCollector:
    """Exports every named queue tracked for one registry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: List[Any] = []  # _core.QueueMetrics of queues that may still exist
        self._retired: Dict[str, _Totals] = {}  # what dropped queues had counted, so counters never go back

    def track(self, queue_metrics: Any) -> None:
        with self._lock:
            self._live.append(queue_metrics)

    def _totals(self) -> Dict[str, _Totals]:
        with self._lock:
            for m in [m for m in self._live if not m.alive()]:
                self._retired.setdefault(m.name, _Totals()).fold(m.snapshot())
                self._live.remove(m)
            totals: Dict[str, _Totals] = {}
            for name, retired in self._retired.items():
                totals[name] = _Totals()
                totals[name].fold(retired.counted())
            for m in self._live:
                totals.setdefault(m.name, _Totals()).fold(m.snapshot())
            return totals

    def describe(self) -> Iterator[Metric]:
        return iter(self._families({}))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(self._totals()))

    @staticmethod
    def _families(totals: Dict[str, _Totals]) -> List[Metric]:
        depth = GaugeMetricFamily("workqueue_depth", _HELP["depth"], labels=["name"])
        adds = CounterMetricFamily("workqueue_adds", _HELP["adds"], labels=["name"])
        latency = HistogramMetricFamily("workqueue_queue_duration_seconds", _HELP["queue_duration"], labels=["name"])
        work = HistogramMetricFamily("workqueue_work_duration_seconds", _HELP["work_duration"], labels=["name"])
        unfinished = GaugeMetricFamily("workqueue_unfinished_work_seconds", _HELP["unfinished"], labels=["name"])
        longest = GaugeMetricFamily("workqueue_longest_running_processor_seconds", _HELP["longest"], labels=["name"])
        retries = CounterMetricFamily("workqueue_retries", _HELP["retries"], labels=["name"])
        for name, t in sorted(totals.items()):
            depth.add_metric([name], t.depth)
            adds.add_metric([name], t.adds)
            _histogram(latency, name, t.queue_buckets, t.queue_sum)
            _histogram(work, name, t.work_buckets, t.work_sum)
            unfinished.add_metric([name], t.unfinished)
            longest.add_metric([name], t.longest)
            retries.add_metric([name], t.retries)
        return [depth, adds, latency, work, unfinished, longest, retries]


_collectors = PerRegistry(WorkqueueCollector)


def track(queue: Any, registry: Optional[CollectorRegistry] = None) -> None:
    """Exports a named queue's metrics in ``registry`` (default: prometheus-client's REGISTRY)."""
    queue_metrics = queue.metrics
    if queue_metrics is None:  # unnamed queues have none, as in client-go
        return
    _collectors.collector(registry).track(queue_metrics)


def serve_metrics(port: int = 8000, addr: str = "0.0.0.0", registry: Optional[CollectorRegistry] = None) -> Any:
    """Serves ``/metrics`` over HTTP from a daemon thread: prometheus-client's
    ``start_http_server``. Returns its ``(server, thread)``; ``server.shutdown()`` stops it."""
    return start_http_server(port, addr, REGISTRY if registry is None else registry)
