"""``python -m bench clients``: listing 10,000 pods and 1,000 single GETs from a real API server,
kcore (JSON and protobuf, sync and asyncio) against the official ``kubernetes`` client,
``kubernetes_asyncio``, ``lightkube`` and ``kr8s``, in one run, on one control plane.

Each client runs in a process of its own so that its peak RSS is its own; wall and CPU time are
medians of ``--runs`` timed runs after one untimed warm-up. kcore runs without its client-side
rate limit (``qps=-1``), as the peers have none. Options: ``--pods N`` (default 10000),
``--gets N`` (default 1000), ``--runs R`` (default 3), ``--only NAME,NAME``.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from bench.codec import pod
from bench.readme import write_section

SECTION = ("<!-- bench:clients -->", "<!-- /bench:clients -->")

CLIENTS = [
    "kcore protobuf",
    "kcore JSON",
    "kcore protobuf (asyncio)",
    "kcore JSON (asyncio)",
    "kubernetes",
    "kubernetes_asyncio",
    "lightkube",
    "kr8s",
]


def operations(name: str, kubeconfig: str, namespace: str) -> tuple[Callable[[], int], Callable[[str], Any]]:
    """(list all pods -> how many, get one pod by name) for one client, blocking."""
    if name.startswith("kcore"):
        import dataclasses

        from kcore import load_kubeconfig
        from kcore.clients import AsyncResourceClient, AsyncRESTClient, ResourceClient, ResourceInfo, RESTClient

        config = dataclasses.replace(load_kubeconfig(kubeconfig), qps=-1)
        pods = ResourceInfo("", "v1", "pods", "Pod", namespaced=True)
        protobuf = "protobuf" in name
        if "asyncio" in name:
            aclient: AsyncResourceClient[dict] = AsyncResourceClient(
                AsyncRESTClient(config, protobuf=protobuf), pods, namespace
            )
            loop = asyncio.new_event_loop()
            return (
                lambda: len(loop.run_until_complete(aclient.list())["items"]),
                lambda n: loop.run_until_complete(aclient.get(n)),
            )
        client: ResourceClient[dict] = ResourceClient(RESTClient(config, protobuf=protobuf), pods, namespace)
        return lambda: len(client.list()["items"]), client.get
    if name == "kubernetes":
        import kubernetes

        api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=kubeconfig))
        return (lambda: len(api.list_namespaced_pod(namespace).items), lambda n: api.read_namespaced_pod(n, namespace))
    if name == "kubernetes_asyncio":
        import kubernetes_asyncio

        loop = asyncio.new_event_loop()
        api_client = loop.run_until_complete(kubernetes_asyncio.config.new_client_from_config(config_file=kubeconfig))
        core = kubernetes_asyncio.client.CoreV1Api(api_client)
        return (
            lambda: len(loop.run_until_complete(core.list_namespaced_pod(namespace)).items),
            lambda n: loop.run_until_complete(core.read_namespaced_pod(n, namespace)),
        )
    if name == "lightkube":
        from lightkube import Client, KubeConfig
        from lightkube.resources.core_v1 import Pod

        lk = Client(config=KubeConfig.from_file(kubeconfig))
        return lambda: len(list(lk.list(Pod, namespace=namespace))), lambda n: lk.get(Pod, n, namespace=namespace)
    if name == "kr8s":
        import kr8s
        from kr8s.objects import Pod as Kr8sPod

        api = kr8s.api(kubeconfig=kubeconfig)
        return (
            lambda: len(list(api.get("pods", namespace=namespace))),
            lambda n: Kr8sPod.get(n, namespace=namespace, api=api),
        )
    raise ValueError(f"unknown client {name!r}")


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def worker(name: str, kubeconfig: str, namespace: str, pods: int, gets: int, runs: int) -> dict[str, float]:
    list_pods, get_pod = operations(name, kubeconfig, namespace)
    assert list_pods() == pods, f"{name} did not list {pods} pods"  # warm-up, and a check
    lists = [timed(list_pods) for _ in range(runs)]
    names = [f"bench-{i:05d}" for i in range(gets)]
    get_wall, get_cpu = timed(lambda: [get_pod(n) for n in names])
    return {
        "list_wall": statistics.median(w for w, _ in lists),
        "list_cpu": statistics.median(c for _, c in lists),
        "get_wall": get_wall,
        "get_cpu": get_cpu,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def create_pods(kubeconfig: str, namespace: str, count: int) -> None:
    """With kcore's own asyncio client, 200 requests in flight at a time."""
    import dataclasses

    from kcore import load_kubeconfig
    from kcore.clients import AsyncResourceClient, AsyncRESTClient, ResourceInfo

    config = dataclasses.replace(load_kubeconfig(kubeconfig), qps=-1)

    async def create_all() -> None:
        rest = AsyncRESTClient(config)
        await rest.post().resource("namespaces").body({"metadata": {"name": namespace}}).do()
        pods: AsyncResourceClient[dict] = AsyncResourceClient(
            rest, ResourceInfo("", "v1", "pods", "Pod", True), namespace
        )
        for start in range(0, count, 200):
            batch = []
            for i in range(start, min(start + 200, count)):
                body = pod(i, "bench", distinct=False)
                body["metadata"]["name"] = f"bench-{i:05d}"
                batch.append(pods.create(body))
            await asyncio.gather(*batch)

    asyncio.run(create_all())


def table(rows: list[dict[str, Any]], pods: int, gets: int) -> str:
    out = [
        f"| client | list {pods:,} pods: wall s | CPU s | pods/s | {gets:,} GETs: wall s | CPU s | GETs/s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['client']} | {r['list_wall']:.2f} | {r['list_cpu']:.2f} | {pods / r['list_wall']:,.0f} | "
            f"{r['get_wall']:.2f} | {r['get_cpu']:.2f} | {gets / r['get_wall']:,.0f} | {r['peak_rss'] / 2**20:,.0f} |"
        )
    return "\n".join(out)


def bars(rows: list[dict[str, Any]]) -> list[str]:
    by = {r["client"]: r for r in rows}
    kcore = min((r for r in rows if r["client"].startswith("kcore")), key=lambda r: r["list_wall"])
    peers = [r for r in rows if not r["client"].startswith("kcore") and r["client"] != "kubernetes"]
    lines = [f"- fastest kcore list: {kcore['client']}, {kcore['list_wall']:.2f} s"]
    if "kubernetes" in by:
        ratio = by["kubernetes"]["list_wall"] / kcore["list_wall"]
        lines.append(
            f"- vs the official kubernetes client: {ratio:.1f}× faster (bar ≥ 5×) — {'met' if ratio >= 5 else 'NOT met'}"
        )
    if peers:
        best = min(peers, key=lambda r: r["list_wall"])
        ratio = best["list_wall"] / kcore["list_wall"]
        lines.append(
            f"- vs the fastest other peer ({best['client']}): {ratio:.1f}× faster (bar ≥ 2×) — {'met' if ratio >= 2 else 'NOT met'}"
        )
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        name, kubeconfig, namespace, pods, gets, runs = argv[1:7]
        print(json.dumps(worker(name, kubeconfig, namespace, int(pods), int(gets), int(runs))))
        return 0
    opts = dict(a.lstrip("-").split("=", 1) for a in argv if "=" in a)
    pods, gets, runs = int(opts.get("pods", "10000")), int(opts.get("gets", "1000")), int(opts.get("runs", "3"))
    names = opts["only"].split(",") if "only" in opts else CLIENTS

    from kcore.testenv import ControlPlane

    rows: list[dict[str, Any]] = []
    with ControlPlane() as cp:
        namespace = f"bench-{uuid.uuid4().hex[:6]}"
        started = time.perf_counter()
        create_pods(str(cp.kubeconfig), namespace, max(pods, gets))
        print(f"created {max(pods, gets):,} pods in {time.perf_counter() - started:.1f} s", flush=True)
        for name in names:
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.clients",
                    "--worker",
                    name,
                    str(cp.kubeconfig),
                    namespace,
                    str(pods),
                    str(gets),
                    str(runs),
                ],
                capture_output=True,
                text=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            if result.returncode != 0:
                print(f"{name}: failed\n{result.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append({"client": name, **json.loads(result.stdout.strip().splitlines()[-1])})
            print(f"{name}: list {rows[-1]['list_wall']:.2f} s, {gets} GETs {rows[-1]['get_wall']:.2f} s", flush=True)
    text = "\n".join(
        [
            f"## Clients: list {pods:,} pods, {gets:,} single GETs (`python -m bench clients`)",
            "",
            "Each client in its own process against one kcore.testenv control plane; medians of "
            f"{runs} runs after a warm-up; load average {open('/proc/loadavg').read().split()[0]} at the end.",
            "",
            table(rows, pods, gets),
            "",
            *bars(rows),
        ]
    )
    print(text)
    write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
