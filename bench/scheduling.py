"""``python -m bench scheduling``: how fast a scheduler places pods on a real control plane: kcore's
Python Scheduler (kcore.scheduler.Scheduler, default profile) against kube-scheduler v1.37.2
itself, on the same plane with N kwok nodes (default 1,000) and P pods each (default 5,000).

For each contender, P pods (100m CPU, 128Mi; scheduler_perf's SchedulingBasic) are created in a
namespace of their own by 64 requests in flight, and the time runs from the first create to the
moment the last pod is bound (watched). Both schedulers talk to the API server without a
client-side rate limit (kube-scheduler's clientConnection qps/burst 5,000; kcore's qps -1), so
the API server and the machine are what they share. kcore's scheduler runs in a process of its
own, started and synced before the pods come, as kube-scheduler is. A third run creates the same
pods for a scheduler that does not exist: the rate the creating alone allows, the ceiling of
both.

Then a second plane, the same nodes, where kube-scheduler calls a kcore extender for every pod:
the bin-packing prioritizer (kcore.scheduler.profile_extender, NodeResourcesFit MostAllocated in
Rust), nodeCacheCapable (node names on the wire; nodes and pods from kcore informers), in a
process of its own; the same P pods, the same clock. Options: ``--nodes=N``, ``--pods=P``.

Bars (issue #11): kcore's Scheduler ≥ 50% of kube-scheduler's pods/s; the extender costs
kube-scheduler < 20% of its pods/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import platform
import socket
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List

from bench.readme import write_section

SECTION = ("<!-- bench:scheduling -->", "<!-- /bench:scheduling -->")
NODES, PODS = 1_000, 5_000
IN_FLIGHT = 64
CAPACITY = {"cpu": "32", "memory": "256Gi", "pods": "110"}
KCORE = "kcore-scheduler"
WITH_EXTENDER = "kube-scheduler + kcore extender"


def config_of(kubeconfig: str) -> Any:
    from kcore import load_kubeconfig

    return dataclasses.replace(load_kubeconfig(kubeconfig), qps=-1)


def extender_worker(kubeconfig: str, port: int) -> None:
    """The bin-packing extender on ``port`` over informers' snapshot, until killed: prints
    "synced" once its caches are."""
    import kcore
    from kcore.informer import SharedInformerFactory
    from kcore.scheduler import Snapshot
    from kcore.scheduler.profile_extender import bin_packing_prioritizer

    snapshot = Snapshot()
    factory = SharedInformerFactory(kcore.Clientset(config_of(kubeconfig)))
    nodes = factory.core_v1.nodes()
    nodes.add_event_handler(lambda n, *_: snapshot.add_node(n), lambda _, n: snapshot.update_node(n))

    def pod_changed(old: Any, new: Any) -> None:
        if new["spec"].get("nodeName") and not (old and old["spec"].get("nodeName")):
            snapshot.add_pod(new)  # bound: it counts on its node from now on

    factory.core_v1.pods().add_event_handler(lambda p, *_: pod_changed(None, p), pod_changed)
    factory.start()
    assert all(factory.wait_for_cache_sync(timeout=120).values())
    bin_packing_prioritizer(snapshot, node_lister=nodes.lister()).serve("127.0.0.1", port)
    print("synced", flush=True)
    time.sleep(10**6)


def worker(kubeconfig: str) -> None:
    """kcore's scheduler, until killed: prints "synced" once it schedules."""
    import kcore
    from kcore.scheduler import Scheduler

    scheduler = Scheduler(kcore.Clientset(config_of(kubeconfig)), scheduler_name=KCORE)
    with scheduler:
        while not scheduler.has_synced():
            time.sleep(0.05)
        print("synced", flush=True)
        time.sleep(10**6)


def setup_nodes(kubeconfig: str, nodes: int) -> None:
    """N kwok nodes, Ready, untainted, with room for every pod."""
    from kcore import aio
    from kcore.testenv import KWOK_NODE_ANNOTATION

    async def run() -> None:
        cs = aio.Clientset(config_of(kubeconfig))
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def one(i: int) -> None:
            name = f"node-{i:04}"
            async with slots:
                await cs.core_v1.nodes().create(
                    {
                        "metadata": {
                            "name": name,
                            "labels": {"topology.kubernetes.io/zone": f"zone-{i % 3}", "kubernetes.io/hostname": name},
                            "annotations": {KWOK_NODE_ANNOTATION: "fake"},
                        }
                    }
                )

        await asyncio.gather(*(one(i) for i in range(nodes)))
        while True:  # kwok reports them Ready; then the not-ready taint admission added goes
            listed = (await cs.core_v1.nodes().list())["items"]
            ready = [
                n
                for n in listed
                if any(
                    c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", [])
                )
            ]
            if len(ready) == nodes:
                break
            await asyncio.sleep(1)

        async def settle(name: str) -> None:
            async with slots:
                await cs.core_v1.nodes().patch(name, {"spec": {"taints": None}})
                await cs.core_v1.nodes().patch(
                    name, {"status": {"allocatable": CAPACITY, "capacity": CAPACITY}}, subresource="status"
                )

        await asyncio.gather(*(settle(n["metadata"]["name"]) for n in listed))

    asyncio.run(run())


def create_and_wait(
    kubeconfig: str, namespace: str, scheduler_name: str, pods: int, wait_bound: bool
) -> Dict[str, float]:
    """Creates the pods; seconds until all were created and (with ``wait_bound``) bound."""
    from kcore import aio

    async def run() -> Dict[str, float]:
        cs = aio.Clientset(config_of(kubeconfig))
        await cs.core_v1.namespaces().create({"metadata": {"name": namespace}})
        client = cs.core_v1.pods(namespace)
        listed = await client.list()
        bound: set = set()
        done = asyncio.Event()

        async def watch() -> None:
            async for _, obj in await client.watch(resource_version=listed["metadata"]["resourceVersion"]):
                if obj["spec"].get("nodeName"):
                    bound.add(obj["metadata"]["name"])
                    if len(bound) == pods:
                        done.set()
                        return

        watcher = asyncio.create_task(watch()) if wait_bound else None
        slots = asyncio.Semaphore(IN_FLIGHT)
        container = {"name": "app", "image": "app", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}

        async def one(i: int) -> None:
            async with slots:
                await client.create(
                    {
                        "metadata": {"name": f"pod-{i:05}"},
                        "spec": {"schedulerName": scheduler_name, "containers": [container]},
                    }
                )

        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(pods)))
        created = time.perf_counter() - began
        if watcher is not None:
            await asyncio.wait_for(done.wait(), timeout=1800)
            watcher.cancel()
        return {"created": created, "bound": time.perf_counter() - began if wait_bound else float("nan")}

    return asyncio.run(run())


@contextlib.contextmanager
def worker_process(*args: str) -> Iterator[None]:
    """This bench's worker (``--worker`` or ``--extender``) in a process of its own, once synced."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.scheduling", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "synced", f"{args[0]} did not start"
        yield
    finally:
        child.kill()
        child.wait()


def load() -> float:
    return float(open("/proc/loadavg").read().split()[0])


def main(argv: List[str]) -> int:
    if argv[:1] == ["--worker"]:
        worker(argv[1])
        return 0
    if argv[:1] == ["--extender"]:
        extender_worker(argv[1], int(argv[2]))
        return 0
    opts = dict(a.lstrip("-").split("=", 1) for a in argv if "=" in a)
    nodes, pods = int(opts.get("nodes", str(NODES))), int(opts.get("pods", str(PODS)))
    from kcore.testenv import ControlPlane

    rows: Dict[str, Dict[str, float]] = {}
    connection = {"clientConnection": {"qps": 5000, "burst": 5000}}
    with ControlPlane(with_scheduler=True, with_kwok=True, scheduler_config=connection) as cp:
        kubeconfig = str(cp.kubeconfig)
        started = time.perf_counter()
        setup_nodes(kubeconfig, nodes)
        print(f"{nodes:,} kwok nodes ready in {time.perf_counter() - started:.0f} s (load {load():.2f})", flush=True)
        rows["creating only"] = create_and_wait(kubeconfig, "ceiling", "nobody", pods, wait_bound=False)
        print(f"creating only: {rows['creating only']}", flush=True)
        rows["kube-scheduler v1.37.2"] = create_and_wait(kubeconfig, "kube-scheduler", "default-scheduler", pods, True)
        print(f"kube-scheduler: {rows['kube-scheduler v1.37.2']} (load {load():.2f})", flush=True)
        with worker_process("--worker", kubeconfig):
            rows["kcore Scheduler"] = create_and_wait(kubeconfig, "kcore", KCORE, pods, True)
        print(f"kcore: {rows['kcore Scheduler']} (load {load():.2f})", flush=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    extender = {
        "urlPrefix": f"http://127.0.0.1:{port}",
        "prioritizeVerb": "prioritize",
        "weight": 1,
        "nodeCacheCapable": True,
        "httpTimeout": "5s",
    }
    with ControlPlane(
        with_scheduler=True, with_kwok=True, scheduler_config={**connection, "extenders": [extender]}
    ) as cp:
        kubeconfig = str(cp.kubeconfig)
        setup_nodes(kubeconfig, nodes)
        with worker_process("--extender", kubeconfig, str(port)):
            rows[WITH_EXTENDER] = create_and_wait(kubeconfig, "extended", "default-scheduler", pods, True)
        print(f"with the extender: {rows[WITH_EXTENDER]} (load {load():.2f})", flush=True)
    text = report(rows, nodes, pods)
    print(text)
    write_section(SECTION, text)
    return 0


def report(rows: Dict[str, Dict[str, float]], nodes: int, pods: int) -> str:
    go, ours = rows["kube-scheduler v1.37.2"]["bound"], rows["kcore Scheduler"]["bound"]
    lines = [
        f"## scheduling: {pods:,} pods onto {nodes:,} kwok nodes (`python -m bench scheduling`)",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; one control plane (kube-apiserver, etcd, "
        "kwok, kube-scheduler) on the same machine. Time from the first create to the last pod bound; "
        f"{IN_FLIGHT} creates in flight.",
        "",
        "| run | all created (s) | all bound (s) | pods/s |",
        "|---|---:|---:|---:|",
    ]
    for name, row in rows.items():
        ceiling = name == "creating only"
        seconds = row["created"] if ceiling else row["bound"]
        bound = "" if ceiling else f"{row['bound']:.1f}"
        lines.append(f"| {name} | {row['created']:.1f} | {bound} | {pods / seconds:.0f} |")
    extended = rows[WITH_EXTENDER]["bound"]
    lines += [
        "",
        f"kcore's Scheduler places pods at {go / ours:.0%} of kube-scheduler's rate (bar: ≥ 50%). The kcore "
        f"extender costs kube-scheduler {1 - go / extended:.0%} of its rate (bar: < 20%).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
