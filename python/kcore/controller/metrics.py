"""controller-runtime's controller metrics through prometheus-client, under its names, help
texts, labels and buckets (pkg/internal/controller/metrics), one collector per registry.

Not exported: ``controller_runtime_reconcile_panics_total`` (a Python reconcile has no panic
apart from an error: whatever it raises is counted in ``..._reconcile_errors_total``) and
``..._reconcile_timeouts_total`` (kcore's controller sets no reconcile timeout). The workqueue's
own metrics are exported by the queue, named after the controller (kcore.workqueue.metrics).
Controllers sharing a name share their series, as queues sharing a name do.
"""

from __future__ import annotations

from typing import Iterator, Optional

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import Metric

from kcore._prometheus import PerRegistry

RECONCILE_TIME_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.45,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    1.0,
    1.25,
    1.5,
    1.75,
    2.0,
    2.5,
    3.0,
    3.5,
    4.0,
    4.5,
    5,
    6,
    7,
    8,
    9,
    10,
    15,
    20,
    25,
    30,
    40,
    50,
    60,
)
"""controller-runtime's buckets of controller_runtime_reconcile_time_seconds."""

RESULTS = ("error", "requeue_after", "requeue", "success")
"""The values of the ``result`` label of controller_runtime_reconcile_total."""


class ControllerCollector:
    """The metric families of every controller reporting to one registry."""

    def __init__(self) -> None:
        self.total = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=None,
        )
        self.errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            ["controller"],
            registry=None,
        )
        self.terminal_errors = Counter(
            "controller_runtime_terminal_reconcile_errors_total",
            "Total number of terminal reconciliation errors per controller",
            ["controller"],
            registry=None,
        )
        self.time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            buckets=RECONCILE_TIME_BUCKETS,
            registry=None,
        )
        self.max_concurrent = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            ["controller"],
            registry=None,
        )
        self.active = Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            ["controller"],
            registry=None,
        )
        self._metrics = (self.total, self.errors, self.terminal_errors, self.time, self.max_concurrent, self.active)

    def describe(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield from metric.describe()

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield from metric.collect()


_collectors = PerRegistry(ControllerCollector)


class ControllerMetrics:
    """One controller's series. Made when the controller starts: every series exists from then,
    at zero (as controller-runtime's initMetrics)."""

    def __init__(self, controller: str, workers: int, registry: Optional[CollectorRegistry] = None) -> None:
        families = _collectors.collector(registry)
        self._total = {result: families.total.labels(controller, result) for result in RESULTS}
        self._errors = families.errors.labels(controller)
        self._terminal_errors = families.terminal_errors.labels(controller)
        self._time = families.time.labels(controller)
        self._active = families.active.labels(controller)
        families.max_concurrent.labels(controller).set(workers)
        self._active.set(0)

    def started(self) -> None:
        """A worker took a key."""
        self._active.inc()

    def finished(self, result: str, seconds: float, *, terminal: bool = False) -> None:
        """A reconcile ended with ``result`` (one of RESULTS) after ``seconds``; ``terminal``:
        its error was a TerminalError."""
        self._time.observe(seconds)
        self._total[result].inc()
        if result == "error":
            self._errors.inc()
            if terminal:
                self._terminal_errors.inc()
        self._active.dec()


__all__ = ["RECONCILE_TIME_BUCKETS", "RESULTS", "ControllerCollector", "ControllerMetrics"]
