"""The pure pieces of examples/replicaset.py: slow-start batches, expectations, the
deletion cost, the pod made from a template, and which of two pods is deleted first, that one
compared pair by pair with kube-controller-manager's own ranking (tests/unit/
replicaset_ranking_upstream, a Go module over k8s.io/kubernetes/pkg/controller, built here with
GOWORK=off into ~/.cache/kcore). What the controller does with them is compared with
kube-controller-manager's own in tests/e2e/test_replicaset.py."""

from __future__ import annotations

import json
import random
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest

from examples.replicaset import (
    EXPECTATIONS_TIMEOUT,
    Expectations,
    RankedPod,
    deletes_first,
    deletion_cost,
    pod_from_template,
    slow_start_batch,
)
from tests.go_driver_build import build_go_driver


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
    executor: ThreadPoolExecutor,
) -> None:
    call = numbered_calls(failing_from=4)  # batches 1 and 2 succeed, all four of the third fail
    successes, error = slow_start_batch(20, 1, call, executor)
    assert (successes, call.count()) == (3, 7)
    assert isinstance(error, RuntimeError)

    call = numbered_calls(failing=(2,))  # one of the second batch's two fails: no third batch
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


@pytest.mark.parametrize(
    "value, cost",
    [
        ("-5", -5),
        ("0", 0),
        ("100", 100),
        ("2147483647", 2147483647),
        ("-2147483648", -2147483648),
        ("2147483648", 0),
        ("+5", 0),
        ("007", 0),
        ("", 0),
        ("-", 0),
        ("1_0", 0),
        (" 5", 0),
        ("abc", 0),
        ("\uff11", 0),
    ],
)
def test_the_deletion_cost_is_a_plain_int32_else_zero(value: str, cost: int) -> None:
    pod = {"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": value}}}
    assert deletion_cost(pod) == cost


def test_a_pod_from_the_template_takes_its_labels_annotations_finalizers_and_spec_and_nothing_else() -> None:
    rs = {
        "metadata": {"name": "web", "uid": "u-1", "labels": {"rs": "label"}},
        "spec": {
            "template": {
                "metadata": {
                    "name": "ignored",
                    "labels": {"app": "web"},
                    "annotations": {"a": "b"},
                    "finalizers": ["f"],
                },
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            }
        },
    }
    assert pod_from_template(rs) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-",
            "labels": {"app": "web"},
            "annotations": {"a": "b"},
            "finalizers": ["f"],
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web",
                    "uid": "u-1",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }
    rs["metadata"]["name"] = "w" * 253  # the dash would make the name too long
    assert pod_from_template(rs)["metadata"]["generateName"] == "w" * 253


def pod(uid: str, created: datetime) -> RankedPod:
    return RankedPod(
        {
            "metadata": {"uid": uid, "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "spec": {"nodeName": "n"},
            "status": {"phase": "Running"},
        },
        rank=1,
    )


def test_creation_times_of_the_same_order_of_magnitude_tie_and_go_by_uid() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    # 10 and 11 s old: the same log2 rank of age, so the uid decides; 10 and 40 s old: the newer goes first.
    assert deletes_first(pod("a", now - timedelta(seconds=10)), pod("b", now - timedelta(seconds=11)), now)
    assert deletes_first(pod("a", now - timedelta(seconds=11)), pod("b", now - timedelta(seconds=10)), now)
    assert deletes_first(pod("b", now - timedelta(seconds=10)), pod("a", now - timedelta(seconds=40)), now)
    assert not deletes_first(pod("a", now - timedelta(seconds=40)), pod("b", now - timedelta(seconds=10)), now)


# --- which pod goes first, against kube-controller-manager's own ranking ---

GO_MODULE = Path(__file__).parent / "replicaset_ranking_upstream"
NOW = datetime(2026, 6, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)
AGES = [None, 0, 1, 2, 3, 10, 11, 60, 61, 3600, 3601, 7200, 86400, -5]
"""Seconds before NOW (None: no time): equal times, the same log2 rank, different ranks, the future."""


@pytest.fixture(scope="module")
def upstream_ranking() -> Path:
    return build_go_driver(GO_MODULE, "the ranking parity test (it builds k8s.io/kubernetes/pkg/controller)")


def timestamp(age: Optional[int]) -> Optional[str]:
    return None if age is None else (NOW.replace(microsecond=0) - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_pod(rng: random.Random, number: int) -> dict[str, Any]:
    """A pod that differs from others in any of the ranking's rules, often in several, often in none."""
    metadata: dict[str, Any] = {"name": f"p{number}", "uid": rng.choice(["a", "b", "c"]) + str(number)}
    if (created := timestamp(rng.choice(AGES))) is not None:
        metadata["creationTimestamp"] = created
    if rng.random() < 0.3:
        metadata["annotations"] = {
            "controller.kubernetes.io/pod-deletion-cost": rng.choice(
                ["-5", "0", "3", "007", "+3", "x", "2147483648", "-2147483648", "1_0"]
            )
        }
    spec: dict[str, Any] = {"nodeName": rng.choice(["", "n1", "n2"]), "containers": [{"name": "app", "image": "i"}]}
    status: dict[str, Any] = {"phase": rng.choice(["Pending", "Unknown", "Running", "Running", ""])}
    if rng.random() < 0.7:
        condition = {"type": "Ready", "status": rng.choice(["True", "True", "False"])}
        if (since := timestamp(rng.choice(AGES))) is not None:
            condition["lastTransitionTime"] = since
        status["conditions"] = [condition]
    if rng.random() < 0.6:
        status["containerStatuses"] = [
            {"name": "app", "restartCount": rng.choice([0, 1, 5])},
            {"name": "other", "restartCount": rng.choice([0, 2])},
        ]
    if rng.random() < 0.3:
        spec["initContainers"] = [
            {"name": "side", "image": "i", **({"restartPolicy": "Always"} if rng.random() < 0.7 else {})}
        ]
        status["initContainerStatuses"] = [{"name": "side", "restartCount": rng.choice([0, 3])}]
    return {"metadata": metadata, "spec": spec, "status": status}


def test_which_of_two_pods_goes_first_is_kube_controller_managers_answer_for_every_pair(upstream_ranking: Path) -> None:
    rng = random.Random(10)
    cases = []
    for number in range(4000):
        pods = [random_pod(rng, 2 * number), random_pod(rng, 2 * number + 1)]
        if rng.random() < 0.5:  # alike but for one or two rules, so the later rules get their turn
            pods[1] = json.loads(json.dumps(pods[0]))
            pods[1]["metadata"].update(name=f"q{number}", uid=rng.choice(["a", "b", "c"]) + str(number))
            other = random_pod(rng, number)
            for part, field in rng.sample(
                [
                    ("status", "conditions"),
                    ("status", "containerStatuses"),
                    ("metadata", "creationTimestamp"),
                    ("metadata", "annotations"),
                    ("spec", "nodeName"),
                ],
                2,
            ):
                if field in other[part]:
                    pods[1][part][field] = other[part][field]
                else:
                    pods[1][part].pop(field, None)
        cases.append({"pods": pods, "ranks": [rng.choice([0, 1, 2]), rng.choice([0, 1, 2])]})
    now = NOW.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stdin = "".join(json.dumps({**case, "now": now}) + "\n" for case in cases)
    done = subprocess.run([str(upstream_ranking)], input=stdin, capture_output=True, text=True, check=True, timeout=120)
    theirs = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(theirs) == len(cases)
    differences = []
    for case, go in zip(cases, theirs):
        a, b = (RankedPod(pod, rank) for pod, rank in zip(case["pods"], case["ranks"]))
        ours = {"first": deletes_first(a, b, NOW), "second": deletes_first(b, a, NOW)}
        if ours != go:
            differences.append((case, ours, go))
    assert not differences, f"{len(differences)} of {len(cases)} differ, first: {differences[0]}"
    # The pairs reach every outcome: one first, the other first, neither.
    assert {(go["first"], go["second"]) for go in theirs} == {(True, False), (False, True), (False, False)}
