"""One collector of a kind per prometheus-client registry, registered on first use: how kcore's
metrics (workqueue, reflector) reach a registry without counting anything twice."""

from __future__ import annotations

import threading
import weakref
from typing import Callable, Generic, Optional, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.registry import Collector

C = TypeVar("C", bound=Collector)


class PerRegistry(Generic[C]):
    def __init__(self, make: Callable[[], C]) -> None:
        self._make = make
        self._collectors: "weakref.WeakKeyDictionary[CollectorRegistry, C]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def collector(self, registry: Optional[CollectorRegistry] = None) -> C:
        """The collector of ``registry`` (default: prometheus-client's REGISTRY), made and
        registered if it has none yet."""
        registry = REGISTRY if registry is None else registry
        with self._lock:
            collector = self._collectors.get(registry)
            if collector is None:
                collector = self._collectors[registry] = self._make()
                registry.register(collector)
            return collector
