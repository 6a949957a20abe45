"""Reflector metrics through prometheus-client, with the names client-go's reflector metrics
provider defines (tools/cache/reflector_metrics.go; the label ``name`` is the reflector's, the
informer's resource): lists, list durations and items per list, watches, short watches, watch
durations and items per watch, and the last resourceVersion seen. Counted by the reflector,
read at scrape time.

    from kcore.informer import metrics
    metrics.track(informer)                 # into prometheus-client's REGISTRY, or registry=...
"""

from __future__ import annotations

import threading
import weakref
from typing import Iterator, Optional

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily

from kcore._prometheus import PerRegistry
from kcore.informer.reflector import Reflector
from kcore.informer.shared_informer import InformerCore


class ReflectorCollector:
    """Exports every reflector tracked for one registry (while its informer lives)."""

    def __init__(self) -> None:
        self._reflectors: "weakref.WeakSet[Reflector]" = weakref.WeakSet()
        self._lock = threading.Lock()

    def track(self, reflector: Reflector) -> None:
        with self._lock:
            self._reflectors.add(reflector)

    def describe(self) -> Iterator[Metric]:
        return iter(self._families([]))

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            reflectors = sorted(self._reflectors, key=lambda r: r.name)
        return iter(self._families(reflectors))

    @staticmethod
    def _families(reflectors: list[Reflector]) -> list[Metric]:
        label = ["name"]
        lists = CounterMetricFamily("reflector_lists", "Total number of API lists done by the reflectors", labels=label)
        list_duration = SummaryMetricFamily(
            "reflector_list_duration_seconds",
            "How long an API list takes to return and decode for the reflectors",
            labels=label,
        )
        items_per_list = SummaryMetricFamily(
            "reflector_items_per_list", "How many items an API list returns to the reflectors", labels=label
        )
        watches = CounterMetricFamily(
            "reflector_watches", "Total number of API watches done by the reflectors", labels=label
        )
        short_watches = CounterMetricFamily(
            "reflector_short_watches", "Total number of short API watches done by the reflectors", labels=label
        )
        watch_duration = SummaryMetricFamily(
            "reflector_watch_duration_seconds",
            "How long an API watch takes to return and decode for the reflectors",
            labels=label,
        )
        items_per_watch = SummaryMetricFamily(
            "reflector_items_per_watch", "How many items an API watch returns to the reflectors", labels=label
        )
        last_rv = GaugeMetricFamily(
            "reflector_last_resource_version", "Last resource version seen for the reflectors", labels=label
        )
        for reflector in reflectors:
            m, name = reflector.metrics, [reflector.name]
            lists.add_metric(name, m.lists)
            list_duration.add_metric(name, *m.list_duration)
            items_per_list.add_metric(name, *m.items_per_list)
            watches.add_metric(name, m.watches)
            short_watches.add_metric(name, m.short_watches)
            watch_duration.add_metric(name, *m.watch_duration)
            items_per_watch.add_metric(name, *m.items_per_watch)
            last_rv.add_metric(name, m.last_resource_version)
        return [lists, list_duration, items_per_list, watches, short_watches, watch_duration, items_per_watch, last_rv]


_collectors = PerRegistry(ReflectorCollector)


def track(informer: InformerCore, registry: Optional[CollectorRegistry] = None) -> None:
    """Exports the informer's reflector metrics in ``registry`` (default: prometheus-client's REGISTRY)."""
    _collectors.collector(registry).track(informer.reflector)
