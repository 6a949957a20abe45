"""client-go's rest client metrics, counted by kcore's transport against the real API server.

Each test talks through a FaultProxy of its own, so its ``host`` label (the proxy's
127.0.0.1:<port>) is its alone, whatever else the process has counted.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path
from typing import Optional

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from kcore import Config, _core
from kcore.clients import metrics
from kcore.clients.rest import RESTClient
from kcore.errors import NotFound, TransportError
from kcore.testenv.binaries import GO_MODULE_DIR
from tests.clusters import configmap
from tests.fault_proxy import FaultProxy


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    metrics.register(registry)
    return registry


def host(proxy: FaultProxy) -> str:
    return proxy.url.removeprefix("https://")


def sample(registry: CollectorRegistry, name: str, **labels: str) -> Optional[float]:
    return registry.get_sample_value(name, labels)


def client(config: Config, proxy: FaultProxy, **changes: object) -> RESTClient:
    return RESTClient(dataclasses.replace(config, server=proxy.url, **changes))


def test_every_attempt_is_counted_by_code_and_the_retries_by_their_own_outcome(
    config: Config,
    proxy: FaultProxy,
    registry: CollectorRegistry,
) -> None:
    proxy.faults.extend(["429", "503"])
    client(config, proxy).get().abs_path("/version").do()
    h = host(proxy)
    for code in ("429", "503", "200"):
        assert sample(registry, "rest_client_requests_total", code=code, method="GET", host=h) == 1
    # client-go counts attempts 2..N as retries, each under the code that attempt got.
    assert sample(registry, "rest_client_request_retries_total", code="429", verb="GET", host=h) is None
    assert sample(registry, "rest_client_request_retries_total", code="503", verb="GET", host=h) == 1
    assert sample(registry, "rest_client_request_retries_total", code="200", verb="GET", host=h) == 1
    # One request, its duration taking in both Retry-After waits of a second.
    assert sample(registry, "rest_client_request_duration_seconds_count", verb="GET", host=h) == 1
    assert sample(registry, "rest_client_request_duration_seconds_sum", verb="GET", host=h) >= 2.0
    assert sample(registry, "rest_client_request_duration_seconds_bucket", verb="GET", host=h, le="1.0") == 0
    assert sample(registry, "rest_client_request_duration_seconds_bucket", verb="GET", host=h, le="4.0") == 1


def test_an_attempt_without_an_answer_is_counted_as_error_and_error_answers_by_their_code(
    config: Config,
    proxy: FaultProxy,
    registry: CollectorRegistry,
    namespace: str,
) -> None:
    proxy.faults.append("drop")
    with pytest.raises(TransportError):
        client(config, proxy).post().namespace(namespace).resource("configmaps").body(configmap("once")).do()
    with pytest.raises(NotFound):
        client(config, proxy).get().namespace(namespace).resource("configmaps").name("missing").do()
    h = host(proxy)
    assert sample(registry, "rest_client_requests_total", code="<error>", method="POST", host=h) == 1
    assert sample(registry, "rest_client_requests_total", code="404", method="GET", host=h) == 1
    assert sample(registry, "rest_client_request_duration_seconds_count", verb="POST", host=h) == 1


def test_waits_for_the_client_side_rate_limiter_are_observed_per_request(
    config: Config,
    proxy: FaultProxy,
    registry: CollectorRegistry,
) -> None:
    limited = client(config, proxy, qps=2.0, burst=1)
    for _ in range(3):
        limited.get().abs_path("/version").do()
    h = host(proxy)
    assert sample(registry, "rest_client_rate_limiter_duration_seconds_count", verb="GET", host=h) == 3
    # The first request finds the token the bucket starts with; the next two wait half a second each.
    assert sample(registry, "rest_client_rate_limiter_duration_seconds_bucket", verb="GET", host=h, le="0.005") == 1
    assert sample(registry, "rest_client_rate_limiter_duration_seconds_sum", verb="GET", host=h) >= 0.8


def test_without_a_rate_limiter_nothing_is_observed_for_it(
    config: Config,
    proxy: FaultProxy,
    registry: CollectorRegistry,
) -> None:
    client(config, proxy, qps=-1.0).get().abs_path("/version").do()
    assert sample(registry, "rest_client_rate_limiter_duration_seconds_count", verb="GET", host=host(proxy)) is None
    assert sample(registry, "rest_client_requests_total", code="200", method="GET", host=host(proxy)) == 1


def test_a_watch_is_counted_as_a_request_but_its_duration_is_not_observed(
    config: Config,
    proxy: FaultProxy,
    registry: CollectorRegistry,
    namespace: str,
) -> None:
    stream = (
        client(config, proxy)
        .get()
        .namespace(namespace)
        .resource("configmaps")
        .param("watch", "true")
        .param("timeoutSeconds", "1")
        .stream()
    )
    stream.close()
    h = host(proxy)
    assert sample(registry, "rest_client_requests_total", code="200", method="GET", host=h) == 1
    assert sample(registry, "rest_client_request_duration_seconds_count", verb="GET", host=h) is None


def test_a_transport_puts_them_in_the_default_registry(config: Config, proxy: FaultProxy) -> None:
    client(config, proxy).get().abs_path("/version").do()
    assert (
        REGISTRY.get_sample_value("rest_client_requests_total", {"code": "200", "method": "GET", "host": host(proxy)})
        == 1
    )


def component_base_restclient_metrics() -> str:
    """component-base's metrics/prometheus/restclient/metrics.go, from the Go module the control
    plane was built with."""
    listed = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/component-base"],
        cwd=GO_MODULE_DIR,
        env={**os.environ, "GOWORK": "off", "GOFLAGS": "-mod=readonly"},
        capture_output=True,
        text=True,
        check=True,
    )
    return (Path(listed.stdout.strip()) / "metrics/prometheus/restclient/metrics.go").read_text()


def test_names_help_labels_and_buckets_are_component_bases() -> None:
    source = component_base_restclient_metrics()
    ours = {m.name: m for m in metrics.RestClientCollector().describe()}
    assert len(ours) == 4
    for name, family in ours.items():
        go_name = f"{name}_total" if family.type == "counter" else name
        block = re.search(rf'Name:\s+"{go_name}",(.*?)\n\t\)', source, re.S)
        assert block is not None, f"{go_name} is not in component-base"
        text = block.group(1)
        assert re.search(r'Help:\s+"(.*?)"', text).group(1) == family.documentation  # type: ignore[union-attr]
        labels = re.search(r"\[\]string\{(.*?)\}", text).group(1)  # type: ignore[union-attr]
        sample_labels = [label.strip().strip('"') for label in labels.split(",")]
        family_labels = {
            "rest_client_requests": ["code", "method", "host"],
            "rest_client_request_retries": ["code", "verb", "host"],
        }.get(name, ["verb", "host"])
        assert sample_labels == family_labels
        if family.type == "histogram":
            buckets = re.search(r"Buckets:\s+\[\]float64\{(.*?)\}", text).group(1)  # type: ignore[union-attr]
            assert [float(b) for b in buckets.split(",")] == _core.rest_client_latency_buckets()
