"""kcore.workqueue against client-go's own util/workqueue (v0.37.2): the same operation scripts
replayed on both must give the same results — order of items handed out, lengths, requeue
counts, rate-limiter delays. The Go side is tests/unit/workqueue_upstream, its own Go module,
built here with GOWORK=off into ~/.cache/kcore."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

from kcore.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
    WithMaxWaitRateLimiter,
    default_controller_rate_limiter,
)

GO_MODULE = Path(__file__).parent.parent / "workqueue_upstream"
BINARY = Path.home() / ".cache" / "kcore" / "workqueue_upstream"
MS = 1_000_000  # ns
BUCKET_TOLERANCE_NS = 20 * MS  # the token bucket refills with wall time, which differs per run


@pytest.fixture(scope="module")
def upstream() -> Path:
    go = shutil.which("go")
    assert go, "the parity test needs the Go toolchain (it builds client-go's workqueue)"
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [go, "build", "-o", str(BINARY), "."],
        cwd=GO_MODULE,
        env={**os.environ, "GOWORK": "off"},
        check=True,
        timeout=900,
    )
    return BINARY


def limiter(spec: Dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "exponential":
        return ItemExponentialFailureRateLimiter(spec["base"] / 1e9, spec["max"] / 1e9)
    if kind == "fastslow":
        return ItemFastSlowRateLimiter(spec["fast"] / 1e9, spec["slow"] / 1e9, spec["max_fast"])
    if kind == "bucket":
        return BucketRateLimiter(spec["qps"], spec["burst"])
    if kind == "maxof":
        return MaxOfRateLimiter(*(limiter(s) for s in spec["of"]))
    if kind == "maxwait":
        return WithMaxWaitRateLimiter(limiter(spec["inner"]), spec["max"] / 1e9)
    assert kind == "default"
    return default_controller_rate_limiter()


def replay(script: Dict[str, Any]) -> List[Any]:
    """The Go driver's semantics, on kcore: one result per operation, None for those without."""
    limiters = {name: limiter(spec) for name, spec in script["limiters"].items()}
    q = RateLimitingQueue(limiter(script["queue_limiter"]))
    queries = {
        "get_if_ready": lambda op: None if len(q) == 0 and not q.shutting_down() else list(q.get()),
        "get": lambda op: list(q.get()),
        "len": lambda op: len(q),
        "num_requeues": lambda op: q.num_requeues(op["item"]),
        "shutting_down": lambda op: q.shutting_down(),
        "when": lambda op: round(limiters[op["limiter"]].when(op["item"]) * 1e9),
        "limiter_num_requeues": lambda op: limiters[op["limiter"]].num_requeues(op["item"]),
        "limiter_forget": lambda op: limiters[op["limiter"]].forget(op["item"]),
        "add": lambda op: q.add(op["item"]),
        "done": lambda op: q.done(op["item"]),
        "add_after": lambda op: q.add_after(op["item"], op["ms"] / 1e3),
        "add_rate_limited": lambda op: q.add_rate_limited(op["item"]),
        "forget": lambda op: q.forget(op["item"]),
        "shut_down": lambda op: q.shut_down(),
    }
    return [queries[op["op"]](op) for op in script["ops"]]


def run_upstream(binary: Path, script: Dict[str, Any]) -> List[Any]:
    done = subprocess.run(
        [str(binary)], input=json.dumps(script), capture_output=True, text=True, check=True, timeout=120
    )
    results = json.loads(done.stdout)
    # Go prints "" for the zero item that comes with shutdown=true; kcore gives None.
    return [[None, True] if r == ["", True] else r for r in results]


def basic_script(seed: int) -> Dict[str, Any]:
    """Random adds, gets and dones over a few keys, chosen while replaying on kcore so that get
    never blocks and done names an item actually held; then shutdown and drain."""
    rng = random.Random(seed)
    keys = [f"ns/k{i}" for i in range(6)]
    probe = RateLimitingQueue()
    held: List[str] = []
    ops: List[Dict[str, Any]] = []
    for _ in range(500):
        roll = rng.random()
        if roll < 0.45:
            op = {"op": "add", "item": rng.choice(keys)}
            probe.add(op["item"])
        elif roll < 0.7:
            op = {"op": "get_if_ready"}
            if len(probe):
                held.append(probe.get()[0])
        elif roll < 0.9 and held:
            op = {"op": "done", "item": held.pop(rng.randrange(len(held)))}
            probe.done(op["item"])
        else:
            op = {"op": "len"}
        ops.append(op)
    ops += [{"op": "shut_down"}, {"op": "shutting_down"}, {"op": "add", "item": "late"}, {"op": "len"}]
    ops += [{"op": "get_if_ready"} for _ in range(len(keys) + 1)]
    return {"limiters": {}, "queue_limiter": {"type": "default"}, "ops": ops}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_basic_queue_hands_out_the_same_items_in_the_same_order_as_client_go(upstream, seed):
    script = basic_script(seed)
    assert replay(script) == run_upstream(upstream, script)


def test_delayed_and_rate_limited_items_come_out_in_the_same_order_with_the_same_requeue_counts(upstream):
    ops = [
        {"op": "add_after", "item": "x", "ms": 300},
        {"op": "add_after", "item": "y", "ms": 100},
        {"op": "add_after", "item": "z", "ms": 200},
        {"op": "add_after", "item": "x", "ms": 50},  # earlier ready time wins
        {"op": "add_after", "item": "y", "ms": 900},  # later one ignored
        {"op": "add_after", "item": "now", "ms": 0},
        {"op": "len"},
        {"op": "get"},
        {"op": "done", "item": "now"},
        {"op": "get"},
        {"op": "get"},
        {"op": "get"},
        {"op": "add_rate_limited", "item": "a"},  # exponential: 100 ms
        {"op": "add_rate_limited", "item": "b"},
        {"op": "add_rate_limited", "item": "b"},  # 200 ms, but b already waits 100 ms
        {"op": "add_after", "item": "c", "ms": 30},
        {"op": "num_requeues", "item": "a"},
        {"op": "num_requeues", "item": "b"},
        {"op": "num_requeues", "item": "c"},
        {"op": "get"},
        {"op": "get"},
        {"op": "get"},
        {"op": "forget", "item": "b"},
        {"op": "num_requeues", "item": "b"},
        {"op": "add", "item": "a"},  # a is being processed: dirty, not queued
        {"op": "len"},
        {"op": "done", "item": "a"},
        {"op": "len"},
        {"op": "get"},
        {"op": "shut_down"},
        {"op": "add_after", "item": "ignored", "ms": 0},
        {"op": "len"},
        {"op": "get"},
    ]
    script = {
        "limiters": {},
        "queue_limiter": {"type": "exponential", "base": 100 * MS, "max": 10_000 * MS},
        "ops": ops,
    }
    assert replay(script) == run_upstream(upstream, script)


def test_rate_limiters_give_the_same_delays_and_counts_as_client_go(upstream):
    limiters = {
        "exp": {"type": "exponential", "base": 5 * MS, "max": 1_000_000 * MS},
        "fastslow": {"type": "fastslow", "fast": 1 * MS, "slow": 3_000 * MS, "max_fast": 3},
        "maxof": {
            "type": "maxof",
            "of": [
                {"type": "exponential", "base": 1 * MS, "max": 100 * MS},
                {"type": "fastslow", "fast": 3 * MS, "slow": 50 * MS, "max_fast": 2},
            ],
        },
        "maxwait": {
            "type": "maxwait",
            "inner": {"type": "exponential", "base": 1_000 * MS, "max": 1_000_000 * MS},
            "max": 10_000 * MS,
        },
        "default": {"type": "default"},
        "bucket": {"type": "bucket", "qps": 20, "burst": 3},
    }
    ops: List[Dict[str, Any]] = []
    for name, calls in [("exp", 60), ("fastslow", 6), ("maxof", 10), ("maxwait", 8), ("default", 12), ("bucket", 8)]:
        for i in range(calls):
            ops.append({"op": "when", "limiter": name, "item": "a" if i % 3 else "b"})
        ops += [
            {"op": "limiter_num_requeues", "limiter": name, "item": "a"},
            {"op": "limiter_forget", "limiter": name, "item": "a"},
            {"op": "limiter_num_requeues", "limiter": name, "item": "a"},
            {"op": "limiter_num_requeues", "limiter": name, "item": "b"},
            {"op": "when", "limiter": name, "item": "a"},
        ]
    script = {"limiters": limiters, "queue_limiter": {"type": "default"}, "ops": ops}
    ours, theirs = replay(script), run_upstream(upstream, script)
    assert len(ours) == len(theirs)
    for op, mine, go in zip(ops, ours, theirs):
        if op.get("limiter") == "bucket" and op["op"] == "when":
            assert abs(mine - go) <= BUCKET_TOLERANCE_NS, (op, mine, go)
        else:
            assert mine == go, (op, mine, go)
