"""``python -m bench workqueue``: add+get+done throughput of kcore.workqueue against a faithful
pure-Python queue (bench/workqueue_pure.py) and client-go's own workqueue (bench/workqueue_go).

The "in turn" rows: one thread adds, gets and dones each key, the cost per item. The worker rows:
one producer adds N distinct keys while W workers get and done them; then shut_down, and the
clock stops when the last worker has seen shutdown (threads for Python, goroutines for Go). The
asyncio row: one producer task, 16 worker tasks with aget. Named queues export their metrics to
a registry of their own; client-go runs without metrics.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from prometheus_client import CollectorRegistry

from bench.readme import write_section
from bench.workqueue_pure import PureMetrics, PureQueue
from kcore.workqueue import Queue

HERE = Path(__file__).parent
GO_DIR = HERE / "workqueue_go"
GO_BIN = Path.home() / ".cache" / "kcore" / "workqueue_go"
SECTION = ("<!-- bench:workqueue -->", "<!-- /bench:workqueue -->")
ITEMS = 300_000
WORKER_COUNTS = [1, 4, 16]
REPEATS = 5  # best of: the machine is shared with other builds


def in_turn(make_queue: Callable[[], Any], items: int) -> float:
    """One thread adds, gets and dones each key in turn: the cost per item, no hand-offs."""
    keys = [f"ns/name-{i}" for i in range(items)]
    q = make_queue()
    add, get, done = q.add, q.get, q.done
    start = time.perf_counter()
    for key in keys:
        add(key)
        item, _ = get()
        done(item)
    return items / (time.perf_counter() - start)


def threaded(make_queue: Callable[[], Any], workers: int, items: int) -> float:
    keys = [f"ns/name-{i}" for i in range(items)]
    q = make_queue()

    def work() -> None:
        get, done = q.get, q.done
        while True:
            item, shutdown = get()
            if shutdown:
                return
            done(item)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    add = q.add
    for key in keys:
        add(key)
    q.shut_down()
    for t in threads:
        t.join()
    return items / (time.perf_counter() - start)


def with_asyncio(make_queue: Callable[[], Any], workers: int, items: int) -> float:
    keys = [f"ns/name-{i}" for i in range(items)]

    async def run() -> float:
        q = make_queue()

        async def work() -> None:
            aget, done = q.aget, q.done
            while True:
                item, shutdown = await aget()
                if shutdown:
                    return
                done(item)

        start = time.perf_counter()
        tasks = [asyncio.ensure_future(work()) for _ in range(workers)]
        add = q.add
        for i, key in enumerate(keys):
            add(key)
            if i % 1000 == 999:
                await asyncio.sleep(0)
        q.shut_down()
        await asyncio.gather(*tasks)
        return items / (time.perf_counter() - start)

    return asyncio.run(run())


def best(measure: Callable[[], float]) -> float:
    return max(measure() for _ in range(REPEATS))


def go_binary() -> Optional[Path]:
    """Builds bench/workqueue_go (its own module, GOWORK=off) into ~/.cache/kcore."""
    if shutil.which("go") is None:
        print("go not found: the client-go column is skipped", file=sys.stderr)
        return None
    GO_BIN.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOWORK": "off"}
    subprocess.run(["go", "build", "-o", str(GO_BIN), "."], cwd=GO_DIR, env=env, check=True)
    return GO_BIN


def go_rate(binary: Path, workers: int, items: int) -> float:
    out = subprocess.run(
        [str(binary), "-items", str(items), "-workers", str(workers)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def named_queue(kind: str) -> Callable[[], Any]:
    """A fresh named queue with metrics in its own registry."""
    if kind == "kcore":
        return lambda: Queue(name="bench", registry=CollectorRegistry())
    return lambda: PureQueue(PureMetrics("bench", CollectorRegistry()))


def measure(items: int) -> List[Dict[str, Any]]:
    binary = go_binary()
    rows = [
        {
            "case": "one thread: add, get, done in turn",
            "kcore": best(lambda: in_turn(Queue, items)),
            "pure": best(lambda: in_turn(PureQueue, items)),
            "go": best(lambda: go_rate(binary, 0, items)) if binary else None,
        },
        {
            "case": "one thread in turn, metrics on (named queue)",
            "kcore": best(lambda: in_turn(named_queue("kcore"), items)),
            "pure": best(lambda: in_turn(named_queue("pure"), items)),
            "go": None,
        },
    ]
    for workers in WORKER_COUNTS:
        rows.append(
            {
                "case": f"{workers} worker thread{'s' if workers > 1 else ''}",
                "kcore": best(lambda: threaded(Queue, workers, items)),
                "pure": best(lambda: threaded(PureQueue, workers, items)),
                "go": best(lambda: go_rate(binary, workers, items)) if binary else None,
            }
        )
    rows.append(
        {
            "case": "1 worker thread, metrics on (named queue)",
            "kcore": best(lambda: threaded(named_queue("kcore"), 1, items)),
            "pure": best(lambda: threaded(named_queue("pure"), 1, items)),
            "go": None,
        }
    )
    rows.append(
        {
            "case": "asyncio, 16 worker tasks (aget)",
            "kcore": best(lambda: with_asyncio(Queue, 16, items)),
            "pure": best(lambda: with_asyncio(PureQueue, 16, items)),
            "go": None,
        }
    )
    return rows


def table(rows: List[Dict[str, Any]], items: int) -> str:
    def rate(v: Optional[float]) -> str:
        return "n/a" if v is None else f"{v / 1000:,.0f}k"

    lines = [
        f"add+get+done of {items:,} distinct keys, items/s (k = thousand), best of {REPEATS}; "
        f"{os.cpu_count()} cores, CPython {platform.python_version()}.",
        "",
        "| case | kcore | pure Python | client-go (Go) | kcore / pure Python | client-go / kcore |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        vs_go = "n/a" if r["go"] is None else f"{r['go'] / r['kcore']:.2f}×"
        lines.append(
            f"| {r['case']} | {rate(r['kcore'])} | {rate(r['pure'])} | {rate(r['go'])} | "
            f"{r['kcore'] / r['pure']:.2f}× | {vs_go} |"
        )
    return "\n".join(lines)


def main(argv: List[str]) -> int:
    items = ITEMS
    for arg in argv:
        if arg.startswith("--items="):
            items = int(arg.split("=", 1)[1])
    text = table(measure(items), items)
    print(text)
    write_section(SECTION, f"## workqueue\n\n`python -m bench workqueue` ({time.strftime('%Y-%m-%d')}):\n\n{text}")
    return 0
