"""client-go's rest client metrics through prometheus-client.

Every transport in the process counts in Rust (as client-go's rest client counts into
component-base's process-wide metrics); one Collector per registry reads the counts at scrape
time. Names, labels, help texts and buckets are component-base's
(``metrics/prometheus/restclient``), for the four client-go exports most dashboards read:

- ``rest_client_requests_total{code,method,host}``: every attempt, retries included; ``code``
  is the HTTP status, or ``<error>`` when no answer came;
- ``rest_client_request_retries_total{code,verb,host}``: the attempts after a request's first;
- ``rest_client_request_duration_seconds{verb,host}``: a whole request (rate-limiter waits,
  retries and the body); watches and other streams are not observed, as in client-go;
- ``rest_client_rate_limiter_duration_seconds{verb,host}``: each wait for the client-side
  rate limiter (QPS/burst), when there is one.

They are in prometheus-client's default REGISTRY as soon as a transport exists;
``register(registry)`` adds them to another.
"""

from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Tuple

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from kcore import _core
from kcore._prometheus import PerRegistry

_LE = [floatToGoString(b) for b in _core.rest_client_latency_buckets()] + ["+Inf"]


def _histogram(name: str, help: str, rows: Sequence[Tuple[str, str, List[int], float]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, help, labels=["verb", "host"])
    for verb, host, counts, total in rows:
        cumulative, running = [], 0
        for le, count in zip(_LE, counts):
            running += count
            cumulative.append((le, running))
        family.add_metric([verb, host], cumulative, total)
    return family


class RestClientCollector:
    """Reads the process-wide counts at scrape time."""

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(([], [], [], [])))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(_core.rest_client_metrics()))

    @staticmethod
    def _families(
        counts: Tuple[
            Sequence[Tuple[str, str, str, int]],
            Sequence[Tuple[str, str, str, int]],
            Sequence[Tuple[str, str, List[int], float]],
            Sequence[Tuple[str, str, List[int], float]],
        ],
    ) -> List[Metric]:
        requests, retries, durations, waits = counts
        results = CounterMetricFamily(
            "rest_client_requests",
            "Number of HTTP requests, partitioned by status code, method, and host.",
            labels=["code", "method", "host"],
        )
        for code, method, host, n in requests:
            results.add_metric([code, method, host], n)
        retried = CounterMetricFamily(
            "rest_client_request_retries",
            "Number of request retries, partitioned by status code, verb, and host.",
            labels=["code", "verb", "host"],
        )
        for code, verb, host, n in retries:
            retried.add_metric([code, verb, host], n)
        return [
            results,
            retried,
            _histogram(
                "rest_client_request_duration_seconds",
                "Request latency in seconds. Broken down by verb, and host.",
                durations,
            ),
            _histogram(
                "rest_client_rate_limiter_duration_seconds",
                "Client side rate limiter latency in seconds. Broken down by verb, and host.",
                waits,
            ),
        ]


_collectors = PerRegistry(RestClientCollector)


def register(registry: Optional[CollectorRegistry] = None) -> None:
    """Export the rest client metrics in ``registry`` (default: prometheus-client's REGISTRY);
    once per registry, however often it is called."""
    _collectors.collector(registry)
