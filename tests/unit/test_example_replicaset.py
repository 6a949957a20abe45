"""The pure pieces of examples/replicaset.py: slow-start batches, expectations, selectors, the
deletion cost, the pod made from a template, the log-scale tie. What the controller does with them
is compared with kube-controller-manager's own in tests/e2e/test_replicaset.py."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional

import pytest

from examples.replicaset import (
    EXPECTATIONS_TIMEOUT, Expectations, RankedPod, deletes_first, deletion_cost, pod_from_template,
    selector_string, slow_start_batch,
)
from kcore._core import parse_label_selector


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(16) as pool:
        yield pool


def numbered_calls(failing_from: Optional[int] = None, failing: tuple[int, ...] = ()) -> Any:
    """A call that counts how often it ran and fails on the given arrivals (1-based)."""
    lock, calls = threading.Lock(), [0]

    def call() -> None:
        with lock:
            calls[0] += 1
            number = calls[0]
        if number in failing or (failing_from is not None and number >= failing_from):
            raise RuntimeError(f"call {number} refused")
    call.count = lambda: calls[0]  # type: ignore[attr-defined]
    return call


def test_slow_start_makes_every_call_in_batches_of_one_two_four_and_the_rest(executor: ThreadPoolExecutor) -> None:
    call = numbered_calls()
    assert slow_start_batch(10, 1, call, executor) == (10, None)
    assert call.count() == 10


def test_slow_start_stops_after_the_first_batch_with_a_failure_and_counts_the_successes(
        executor: ThreadPoolExecutor) -> None:
    call = numbered_calls(failing_from=4)  # batches 1 and 2 succeed, all four of the third fail
    successes, error = slow_start_batch(20, 1, call, executor)
    assert (successes, call.count()) == (3, 7)
    assert isinstance(error, RuntimeError)

    call = numbered_calls(failing=(2,))    # one of the second batch's two fails: no third batch
    successes, error = slow_start_batch(20, 1, call, executor)
    assert (successes, call.count()) == (2, 3)
    assert str(error) == "call 2 refused"


def test_expectations_are_satisfied_once_every_expected_create_was_seen() -> None:
    expectations = Expectations()
    assert expectations.satisfied("ns/rs")  # never set
    expectations.expect_creations("ns/rs", 2)
    expectations.creation_observed("ns/rs")
    assert not expectations.satisfied("ns/rs")
    expectations.creation_observed("ns/rs")
    assert expectations.satisfied("ns/rs")


def test_a_pod_seen_deleted_twice_counts_once_against_the_expected_deletions() -> None:
    expectations = Expectations()
    expectations.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    expectations.deletion_observed("ns/rs", "ns/a")  # its deletionTimestamp ...
    expectations.deletion_observed("ns/rs", "ns/a")  # ... then its delete
    expectations.deletion_observed("ns/rs", "ns/other")
    assert not expectations.satisfied("ns/rs")
    expectations.deletion_observed("ns/rs", "ns/b")
    assert expectations.satisfied("ns/rs")


def test_expectations_expire_after_five_minutes_and_are_forgotten_with_their_replicaset() -> None:
    now = [0.0]
    expectations = Expectations(clock=lambda: now[0])
    expectations.expect_creations("ns/rs", 1)
    now[0] = EXPECTATIONS_TIMEOUT
    assert not expectations.satisfied("ns/rs")
    now[0] = EXPECTATIONS_TIMEOUT + 0.1
    assert expectations.satisfied("ns/rs")
    expectations.expect_creations("ns/rs", 1)
    expectations.forget("ns/rs")
    assert expectations.satisfied("ns/rs")


def test_a_label_selector_object_becomes_the_selector_it_means() -> None:
    text = selector_string({"matchLabels": {"app": "web"}, "matchExpressions": [
        {"key": "track", "operator": "In", "values": ["stable", "canary"]},
        {"key": "env", "operator": "NotIn", "values": ["dev"]},
        {"key": "tier", "operator": "Exists"},
        {"key": "legacy", "operator": "DoesNotExist"},
    ]})
    assert text is not None
    selector = parse_label_selector(text)
    assert selector.matches({"app": "web", "track": "canary", "tier": "x"})
    assert not selector.matches({"app": "web", "track": "canary", "tier": "x", "legacy": "1"})
    assert not selector.matches({"app": "web", "track": "canary", "tier": "x", "env": "dev"})
    assert not selector.matches({"app": "web", "track": "old", "tier": "x"})
    assert selector_string(None) is None and selector_string({}) == ""


def test_an_invalid_label_selector_is_refused_naming_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="'Near' is not a valid label selector operator"):
        selector_string({"matchExpressions": [{"key": "a", "operator": "Near", "values": ["b"]}]})
    with pytest.raises(ValueError, match="In of 'a' needs values"):
        selector_string({"matchExpressions": [{"key": "a", "operator": "In"}]})


@pytest.mark.parametrize("value, cost", [
    ("-5", -5), ("0", 0), ("100", 100), ("2147483647", 2147483647), ("-2147483648", -2147483648),
    ("2147483648", 0), ("+5", 0), ("007", 0), ("", 0), ("-", 0), ("1_0", 0), (" 5", 0), ("abc", 0), ("\uff11", 0),
])
def test_the_deletion_cost_is_a_plain_int32_else_zero(value: str, cost: int) -> None:
    pod = {"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": value}}}
    assert deletion_cost(pod) == cost


def test_a_pod_from_the_template_takes_its_labels_annotations_finalizers_and_spec_and_nothing_else() -> None:
    rs = {"metadata": {"name": "web", "uid": "u-1", "labels": {"rs": "label"}}, "spec": {"template": {
        "metadata": {"name": "ignored", "labels": {"app": "web"}, "annotations": {"a": "b"}, "finalizers": ["f"]},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}
    assert pod_from_template(rs) == {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "generateName": "web-", "labels": {"app": "web"}, "annotations": {"a": "b"}, "finalizers": ["f"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u-1",
                             "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]}}
    rs["metadata"]["name"] = "w" * 253  # the dash would make the name too long
    assert pod_from_template(rs)["metadata"]["generateName"] == "w" * 253


def pod(uid: str, created: datetime) -> RankedPod:
    return RankedPod({"metadata": {"uid": uid, "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ")},
                      "spec": {"nodeName": "n"}, "status": {"phase": "Running"}}, rank=1)


def test_creation_times_of_the_same_order_of_magnitude_tie_and_go_by_uid() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    # 10 and 11 s old: the same log2 rank of age, so the uid decides; 10 and 40 s old: the newer goes first.
    assert deletes_first(pod("a", now - timedelta(seconds=10)), pod("b", now - timedelta(seconds=11)), now)
    assert deletes_first(pod("a", now - timedelta(seconds=11)), pod("b", now - timedelta(seconds=10)), now)
    assert deletes_first(pod("b", now - timedelta(seconds=10)), pod("a", now - timedelta(seconds=40)), now)
    assert not deletes_first(pod("a", now - timedelta(seconds=40)), pod("b", now - timedelta(seconds=10)), now)
