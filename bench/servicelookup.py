"""``python -m bench servicelookup``: examples/servicelookup.py converging P pods × S services,
against the same demo written on the official ``kubernetes`` client's watch
(bench/servicelookup_official.py), on one kcore.testenv control plane of their own.

The pods (never scheduled: the controllers read only their labels) and headless services are
created first, in one namespace; pod i is labelled ``app=app-{i % 100}`` and ``tier`` web or db
by parity; service j selects ``app=app-{j % 100}``, and from j = 100 on also a tier, so a pod is
selected by none, one or two services. Each runner then starts with no PodToService in the
cluster, in a fresh process, and is timed from its start line (imports done, client built; it
prints the time as it starts the controller) until every PodToService is correct: the bench
follows the PodToServices with an informer of its own and, when all P hold the expected
services, confirms it through a LIST. *RSS* is the runner's resident memory then (and its
peak), read from /proc. Between runners every PodToService is deleted.

Options: ``--pods=P`` (default 5000), ``--services=S`` (default 200), ``--runs=R`` (default 3;
time is the best run, memory the median), ``--workers=W`` (both runners' workers, default 2:
the example's default), ``--only=kcore`` or ``--only=kubernetes``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from bench.controller import load
from bench.readme import write_section

HERE = Path(__file__).parent
ROOT = HERE.parent
SECTION = ("<!-- bench:servicelookup -->", "<!-- /bench:servicelookup -->")
NAMESPACE = "bench-servicelookup"
APPS, TIERS = 100, ("web", "db")
GROUP, VERSION, PLURAL = "servicelookup.example.com", "v1", "podtoservices"
TIMEOUT = 1800.0
PODS, SERVICES = 5000, 200  # the size

KCORE, OFFICIAL = "kcore", "kubernetes"
RUNNERS = [KCORE, OFFICIAL]


# -- the pods and services, and what each PodToService must say -----------------------------------


def pod_labels(i: int) -> dict[str, str]:
    return {"app": f"app-{i % APPS}", "tier": TIERS[i % 2]}


def service_selector(j: int) -> dict[str, str]:
    selector = {"app": f"app-{j % APPS}"}
    if j >= APPS:
        selector["tier"] = TIERS[(j // APPS) % 2]
    return selector


def pod_name(i: int) -> str:
    return f"pod-{i:05d}"


def service_name(j: int) -> str:
    return f"svc-{j:04d}"


def expected(pods: int, services: int) -> dict[str, list[str]]:
    """Each pod's name -> the sorted names of the services that select it."""
    selectors = [(service_name(j), service_selector(j)) for j in range(services)]
    return {
        pod_name(i): sorted(
            name for name, selector in selectors if all(pod_labels(i).get(k) == v for k, v in selector.items())
        )
        for i in range(pods)
    }


def create_objects(kubeconfig: str, pods: int, services: int, in_flight: int = 64) -> None:
    """The namespace, the services and the pods, with kcore's asyncio client."""
    from kcore import aio, load_kubeconfig

    config = dataclasses.replace(load_kubeconfig(kubeconfig), qps=-1)

    async def create_all() -> None:
        cs = aio.Clientset(config)
        await cs.core_v1.namespaces().create({"metadata": {"name": NAMESPACE}})
        slots = asyncio.Semaphore(in_flight)

        async def one(create: Callable[[Any], Any], body: dict[str, Any]) -> None:
            async with slots:
                await create(body)

        await asyncio.gather(
            *(
                one(
                    cs.core_v1.services(NAMESPACE).create,
                    {
                        "metadata": {"name": service_name(j)},
                        "spec": {"clusterIP": "None", "selector": service_selector(j), "ports": [{"port": 80}]},
                    },
                )
                for j in range(services)
            )
        )
        await asyncio.gather(
            *(
                one(
                    cs.core_v1.pods(NAMESPACE).create,
                    {
                        "metadata": {"name": pod_name(i), "labels": pod_labels(i)},
                        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
                    },
                )
                for i in range(pods)
            )
        )

    asyncio.run(create_all())


# -- the kcore runner (in a process of its own) ------------------------------------------------------


def run_kcore(kubeconfig: str, workers: int) -> None:
    """examples/servicelookup.py's controller until SIGTERM, without the client-side rate limit
    (the official client has none; kcore's default, client-go's 5 qps, would pace its writes)."""
    import kcore
    from examples.servicelookup import ServiceLookup

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lookup = ServiceLookup(dataclasses.replace(kcore.load_kubeconfig(kubeconfig), qps=-1), workers=workers)
    print(json.dumps({"start": time.time(), "cpu": sum(os.times()[:2])}), flush=True)
    with lookup:
        stop.wait()


def command(name: str, kubeconfig: str, workers: int) -> list[str]:
    if name == KCORE:
        return [sys.executable, "-m", "bench.servicelookup", "--worker", kubeconfig, str(workers)]
    return [
        sys.executable,
        str(HERE / "servicelookup_official.py"),
        f"--kubeconfig={kubeconfig}",
        f"--workers={workers}",
    ]


# -- following the PodToServices -----------------------------------------------------------------------


class Convergence:
    """An informer on the PodToServices: ``converged`` is set, with the time, once every one of
    them holds its expected services."""

    def __init__(self, kubeconfig: str, want: dict[str, list[str]]) -> None:
        import kcore
        from kcore.informer import SharedInformerFactory

        self.want = want
        self.correct: set[str] = set()
        self.lock = threading.Lock()
        self.converged = threading.Event()
        self.at = 0.0
        self.factory = SharedInformerFactory(kcore.Clientset(kcore.load_kubeconfig(kubeconfig)), namespace=NAMESPACE)
        self.informer = self.factory.for_resource(GROUP, VERSION, PLURAL)
        self.informer.add_event_handler(
            on_add=self.seen, on_update=lambda old, new: self.seen(new), on_delete=self.gone
        )
        self.informer.start()
        assert self.informer.wait_for_cache_sync(timeout=120), "the bench's PodToService informer did not sync"

    def seen(self, obj: Any, *_: Any) -> None:
        name = obj["metadata"]["name"]
        right = list((obj.get("spec") or {}).get("services") or []) == self.want.get(name)
        with self.lock:
            (self.correct.add if right else self.correct.discard)(name)
            if len(self.correct) == len(self.want) and not self.converged.is_set():
                self.at = time.time()
                self.converged.set()

    def gone(self, obj: Any) -> None:
        from kcore.informer.handlers import DeletedFinalStateUnknown

        name = (obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)["metadata"]["name"]
        with self.lock:
            self.correct.discard(name)

    def stop(self) -> None:
        self.factory.shutdown()


def listed_correct(client: Any, want: dict[str, list[str]]) -> bool:
    items = client.list()["items"]
    return len(items) == len(want) and all(
        list(o["spec"]["services"]) == want.get(o["metadata"]["name"]) for o in items
    )


def delete_all(client: Any) -> None:
    client.delete_collection()
    deadline = time.monotonic() + 300
    while client.list()["items"]:
        assert time.monotonic() < deadline, "the PodToServices were not deleted"
        time.sleep(0.2)


def usage(pid: int) -> dict[str, float]:
    """A process's VmRSS and VmHWM (peak) in bytes, and its user + system CPU seconds so far."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # utime, stime: fields 14 and 15
    return {
        "rss": int(fields["VmRSS"].split()[0]) * 1024,
        "peak_rss": int(fields["VmHWM"].split()[0]) * 1024,
        "cpu": (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK"),
    }


def measure_one(name: str, kubeconfig: str, workers: int, want: dict[str, list[str]], client: Any) -> dict[str, Any]:
    delete_all(client)
    follow = Convergence(kubeconfig, want)
    runner = subprocess.Popen(
        command(name, kubeconfig, workers), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert runner.stdout is not None
        line = runner.stdout.readline()
        if not line:
            raise RuntimeError(f"{name} ended before starting:\n{runner.communicate()[1][-3000:]}")
        started = json.loads(line)
        start = started["start"]
        output: list[str] = []  # the rest of what it says, drained so that it never blocks on a full pipe
        drains = [
            threading.Thread(target=lambda f=f: output.extend(f), daemon=True) for f in (runner.stdout, runner.stderr)
        ]
        for drain in drains:
            drain.start()
        if not follow.converged.wait(TIMEOUT):
            raise RuntimeError(
                f"{name}: {len(follow.correct):,} of {len(want):,} PodToServices correct after "
                f"{TIMEOUT:g} s; it said:\n{''.join(output)[-3000:]}"
            )
        got = {"seconds": follow.at - start, **usage(runner.pid)}
        got["cpu"] -= started["cpu"]  # not the imports
        while not listed_correct(client, want):  # the informer saw it; the server must say so too
            time.sleep(0.5)
            got["seconds"] = time.time() - start
        return got
    finally:
        follow.stop()
        runner.send_signal(signal.SIGTERM)
        try:
            runner.wait(timeout=60)
        except subprocess.TimeoutExpired:
            runner.kill()
            runner.wait()


def measure(
    kubeconfig: str, names: list[str], pods: int, services: int, workers: int, runs: int
) -> list[dict[str, Any]]:
    import kcore

    client = (
        kcore.DynamicClient(dataclasses.replace(kcore.load_kubeconfig(kubeconfig), qps=-1))
        .resource(GROUP, VERSION, PLURAL)
        .namespace(NAMESPACE)
    )
    want = expected(pods, services)
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(runs):
        for name in names:
            got = measure_one(name, kubeconfig, workers, want, client)
            got["load"] = load()
            results.setdefault(name, []).append(got)
            print(
                f"  {name:12} {got['seconds']:7.2f} s, CPU {got['cpu']:6.2f} s, RSS {got['rss'] / MB:,.0f} MB, peak {got['peak_rss'] / MB:,.0f} MB "
                f"(load {got['load']:.2f})",
                flush=True,
            )
    return [
        {
            "runner": name,
            "seconds": min(r["seconds"] for r in of),
            "cpu": min(r["cpu"] for r in of),
            "rss": statistics.median(r["rss"] for r in of),
            "peak_rss": statistics.median(r["peak_rss"] for r in of),
            "load": max(r["load"] for r in of),
        }
        for name, of in results.items()
    ]


# -- the report ----------------------------------------------------------------------------------------

MB = 2**20
LABELS = {KCORE: "kcore (examples/servicelookup.py)", OFFICIAL: "kubernetes (bench/servicelookup_official.py)"}


def table(rows: list[dict[str, Any]], pods: int) -> str:
    out = [
        "| runner | s to every PodToService correct (best) | pods/s | CPU s (least) | RSS MB then | peak RSS MB | "
        "load (1 min, max) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {LABELS[r['runner']]} | {r['seconds']:.2f} | {pods / r['seconds']:,.0f} | {r['cpu']:.2f} | "
            f"{r['rss'] / MB:,.0f} | "
            f"{r['peak_rss'] / MB:,.0f} | {r['load']:.1f} |"
        )
    return "\n".join(out)


def ratios(rows: list[dict[str, Any]]) -> list[str]:
    by = {r["runner"]: r for r in rows}
    if KCORE not in by or OFFICIAL not in by:
        return []
    k, o = by[KCORE], by[OFFICIAL]
    return [
        f"- time to converged: the official client's version takes {o['seconds'] / k['seconds']:.2f}× kcore's",
        f"- CPU seconds of the controller's process: {o['cpu'] / k['cpu']:.1f}× kcore's",
        f"- memory: {o['rss'] / k['rss']:.1f}× kcore's RSS when converged (peak {o['peak_rss'] / k['peak_rss']:.1f}×)",
    ]


def describe(pods: int, services: int, workers: int, runs: int, began: float) -> str:
    from importlib.metadata import version

    tree = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return "\n".join(
        [
            f"`python -m bench servicelookup --pods={pods} --services={services} --workers={workers} --runs={runs}` "
            f"({time.strftime('%Y-%m-%d', time.localtime(began))}) on {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"kcore {tree}, kubernetes {version('kubernetes')}. {pods:,} pods (never scheduled: the controllers read only "
            f"labels) and {services:,} headless services in one namespace of a kcore.testenv control plane of their own; "
            f"pod i has `app=app-{{i % {APPS}}}` and `tier` web/db by parity, service j selects `app=app-{{j % {APPS}}}` "
            f"and from j = {APPS} on a tier too, so a pod is selected by none, one or two services. Each runner in a fresh "
            "process, with no PodToService in the cluster, timed from its start (imports done, client built) until every "
            "PodToService holds its pod's services: seen by an informer of the bench's own, then confirmed through a LIST. "
            f"Time and CPU are the best, memory the median, of {runs} runs in rounds; *CPU* is the controller process's "
            "user + system seconds from its start (after the imports) until converged, RSS its resident memory then (both read from /proc). "
            "The writes (one create per pod) cost the API server far more than either client, so on 2 shared cores the "
            "time mostly measures kube-apiserver and etcd; the CPU column is the controllers' own cost.",
            "",
            f"- **kcore**: examples/servicelookup.py's `ServiceLookup` (informers on pods, services and PodToServices, "
            f"kcore's Controller with {workers} workers, writes through the dynamic client), its config from the "
            "kubeconfig with the client-side rate limit off (`qps=-1`): with kcore's default 5 qps (client-go's) the "
            "writes would be paced at 5 a second.",
            f"- **kubernetes**: bench/servicelookup_official.py, the same demo on the official client: a LIST into a "
            f"dict, then a `kubernetes.watch.Watch` stream per resource (pods and services as the client's models), a "
            f"queue of pod keys that never hands one key to two workers, {workers} worker threads writing only what "
            "differs through `CustomObjectsApi` (no client-side rate limit: the client has none).",
        ]
    )


def smaller(pods: int, services: int) -> list[str]:
    """A warning line when this run is not at the issue's size."""
    if (pods, services) == (PODS, SERVICES):
        return []
    return [
        f"**A small-size run ({pods:,} pods × {services:,} services), not the issue's {PODS:,} × {SERVICES:,}**: "
        "the figures hold for this size only.",
        "",
    ]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        run_kcore(argv[1], int(argv[2]))
        return 0
    opts = dict(a.lstrip("-").split("=", 1) for a in argv if "=" in a)
    pods, services = int(opts.get("pods", str(PODS))), int(opts.get("services", str(SERVICES)))
    runs, workers = int(opts.get("runs", "3")), int(opts.get("workers", "2"))
    names = opts["only"].split(",") if "only" in opts else RUNNERS
    unknown = sorted(set(names) - set(RUNNERS))
    if unknown:
        print(f"unknown runner(s) {', '.join(unknown)}; runners: {', '.join(RUNNERS)}", file=sys.stderr)
        return 2

    import kcore
    from examples.servicelookup import install_crd
    from kcore.testenv import ControlPlane

    began = time.time()
    with ControlPlane() as cp:
        kubeconfig = str(cp.kubeconfig)
        started = time.perf_counter()
        install_crd(kcore.Clientset(kcore.load_kubeconfig(kubeconfig)))
        create_objects(kubeconfig, pods, services)
        print(
            f"created {services:,} services and {pods:,} pods in {time.perf_counter() - started:.0f} s "
            f"(load {load():.2f})",
            flush=True,
        )
        rows = measure(kubeconfig, names, pods, services, workers, runs)
    text = "\n".join(
        [
            f"## servicelookup: {pods:,} pods × {services:,} services converged (`python -m bench servicelookup`)",
            "",
            describe(pods, services, workers, runs, began),
            "",
            *smaller(pods, services),
            table(rows, pods),
            "",
            *ratios(rows),
        ]
    )
    print(text)
    write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
