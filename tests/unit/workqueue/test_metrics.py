"""client-go's workqueue metrics through prometheus-client: names, buckets, the name label."""

from __future__ import annotations

import gc
import time
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kcore.workqueue import DelayingQueue, Queue, RateLimitingQueue, serve_metrics

BUCKETS = [
    "1e-08",
    "1e-07",
    "1e-06",
    "9.999999999999999e-06",
    "9.999999999999999e-05",
    "0.001",
    "0.01",
    "0.1",
    "1.0",
    "10.0",
    "+Inf",
]


def value(registry, metric, name, **labels):
    return registry.get_sample_value(metric, {"name": name, **labels})


@pytest.fixture
def registry():
    return CollectorRegistry()


def samples(registry, name):
    """One scrape: {(sample name, le or None): value} for queue `name`."""
    return {
        (sample.name, sample.labels.get("le")): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.labels.get("name") == name
    }


def test_a_named_queue_exports_client_gos_metric_families(registry):
    Queue(name="q", registry=registry)
    families = {family.name: family.type for family in registry.collect()}
    assert families == {
        "workqueue_depth": "gauge",
        "workqueue_adds": "counter",
        "workqueue_queue_duration_seconds": "histogram",
        "workqueue_work_duration_seconds": "histogram",
        "workqueue_unfinished_work_seconds": "gauge",
        "workqueue_longest_running_processor_seconds": "gauge",
        "workqueue_retries": "counter",
    }
    assert "workqueue_adds_total" in generate_latest(registry).decode()


def test_an_unnamed_queue_exports_nothing(registry):
    Queue(registry=registry)
    assert generate_latest(registry) == b""


def test_adds_count_items_that_became_dirty_and_depth_counts_them_until_get(registry):
    q = Queue(name="q", registry=registry)
    q.add("a")
    q.add("a")  # collapses: not an add
    q.add("b")
    assert value(registry, "workqueue_adds_total", "q") == 2
    assert value(registry, "workqueue_depth", "q") == 2
    q.get()
    assert value(registry, "workqueue_depth", "q") == 1


def test_queue_and_work_durations_are_histograms_with_client_gos_buckets(registry):
    q = Queue(name="q", registry=registry)
    q.add("a")
    item, _ = q.get()
    time.sleep(0.02)
    q.done(item)
    for metric in ["workqueue_queue_duration_seconds", "workqueue_work_duration_seconds"]:
        assert value(registry, f"{metric}_count", "q") == 1
        for le in BUCKETS:
            assert value(registry, f"{metric}_bucket", "q", le=le) is not None
    assert value(registry, "workqueue_work_duration_seconds_bucket", "q", le="0.01") == 0
    assert value(registry, "workqueue_work_duration_seconds_bucket", "q", le="0.1") == 1
    assert value(registry, "workqueue_work_duration_seconds_sum", "q") >= 0.02


def test_unfinished_work_and_longest_running_processor_grow_while_an_item_is_processed(registry):
    q = Queue(name="q", registry=registry)
    q.add("a")
    q.add("b")
    q.get()
    time.sleep(0.05)
    q.get()
    scrape = samples(registry, "q")
    unfinished = scrape[("workqueue_unfinished_work_seconds", None)]
    longest = scrape[("workqueue_longest_running_processor_seconds", None)]
    assert longest >= 0.05
    assert unfinished >= longest
    q.done("a")
    q.done("b")
    assert value(registry, "workqueue_unfinished_work_seconds", "q") == 0


def test_retries_count_every_add_after_and_add_rate_limited(registry):
    q = RateLimitingQueue(name="q", registry=registry)
    q.add_after("a", 0)
    q.add_after("b", 10)
    q.add_rate_limited("c")
    assert value(registry, "workqueue_retries_total", "q") == 3


def test_queues_with_different_names_get_their_own_label_values(registry):
    Queue(name="one", registry=registry).add("a")
    q2 = DelayingQueue(name="two", registry=registry)
    assert value(registry, "workqueue_adds_total", "one") == 1
    assert value(registry, "workqueue_adds_total", "two") == 0
    del q2


def test_queues_sharing_a_name_are_summed(registry):
    first, second = Queue(name="q", registry=registry), Queue(name="q", registry=registry)
    first.add("a")
    second.add("a")
    assert value(registry, "workqueue_adds_total", "q") == 2


def test_counters_of_a_dropped_queue_are_kept(registry):
    q = Queue(name="q", registry=registry)
    q.add("a")
    del q
    gc.collect()
    assert value(registry, "workqueue_adds_total", "q") == 1
    Queue(name="q", registry=registry).add("b")
    assert value(registry, "workqueue_adds_total", "q") == 2


def test_serve_metrics_serves_the_registry_over_http(registry):
    Queue(name="served", registry=registry).add("a")
    server, _thread = serve_metrics(0, "127.0.0.1", registry)
    try:
        port = server.server_port
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        server.shutdown()
    assert 'workqueue_adds_total{name="served"} 1.0' in body
