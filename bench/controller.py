"""``python -m bench controller``: the controller runtime's own overhead. N ConfigMaps in one
namespace of a kcore.testenv control plane of their own; each runner reconciles every one of
them once with a no-op reconcile that reads the object from its cache, and is timed from
starting the controller (imports done, clients built) until every key has been reconciled.

Runners, each in a fresh process per run, on the same plane, in rounds:

- **kcore threads**: ``kcore.controller.Controller(..., workers=W).for_(configmaps informer)``,
  the reconcile ``lister.get(name)``;
- **kcore asyncio**: the same with ``kcore.aio.Controller`` and an ``async def`` reconcile;
- **controller-runtime**: v0.25.3's manager and builder (bench/controller_go), a reconciler that
  Gets the ConfigMap from the manager's cache, MaxConcurrentReconciles W;
- **kopf**: ``@kopf.on.create`` + ``@kopf.on.resume`` handlers that read the ConfigMap kopf
  hands them (kopf has no lister), with storages that keep kopf's state in memory (no patches)
  and event posting off (no Event writes);
- **kopf on.event**: kopf's low-level ``@kopf.on.event`` handler (no state, no retries);
- **kopf + index**: the kopf handler reading a ``@kopf.index`` of the ConfigMaps instead (kopf's
  nearest to a lister; its start grows as the square of the objects, so only up to ``--index-max``).

Options: ``--objects=N`` (default 10000), ``--runs=R`` (default 3; time is the best run, memory
the median), ``--workers=W`` (kcore's and controller-runtime's concurrent reconciles, default 1:
both libraries' default), ``--index-max=N`` (default 2000), ``--only=NAME,NAME``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from bench import go_build
from bench.codec import rss
from bench.readme import write_section

HERE = Path(__file__).parent
ROOT = HERE.parent
SECTION = ("<!-- bench:controller -->", "<!-- /bench:controller -->")
GO_DIR = HERE / "controller_go"
GO_BIN = Path.home() / ".cache" / "kcore" / "controller_go"
NAMESPACE = "bench-controller"
TIMEOUT = 1800.0
OBJECTS = 10_000  # the size

KCORE_THREADS, KCORE_ASYNCIO, CONTROLLER_RUNTIME = "kcore threads", "kcore asyncio", "controller-runtime"
KOPF, KOPF_EVENT, KOPF_INDEX = "kopf", "kopf on.event", "kopf + index"
RUNNERS = [KCORE_THREADS, KCORE_ASYNCIO, CONTROLLER_RUNTIME, KOPF, KOPF_EVENT, KOPF_INDEX]
KCORE_RUNNERS, KOPF_RUNNERS = [KCORE_THREADS, KCORE_ASYNCIO], [KOPF, KOPF_EVENT, KOPF_INDEX]
INDEX_MAX = 2000  # kopf + index grows as the square of the objects (the readiness wait, see the README)


class Tally:
    """The distinct keys reconciled and the reconcile calls; ``done`` once all are."""

    def __init__(self, objects: int, done: Callable[[], None]) -> None:
        self.objects, self._done = objects, done
        self.keys: set[str] = set()
        self.calls = 0
        self._lock = threading.Lock()

    def count(self, key: str) -> None:
        with self._lock:
            self.calls += 1
            self.keys.add(key)
            if len(self.keys) == self.objects:
                self._done()


def cpu() -> float:
    """User and system CPU seconds of this process so far, every thread's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def result(tally: Tally, seconds: float, before: int, cpu_before: float) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "cpu": cpu() - cpu_before,
        "reconciled": len(tally.keys),
        "reconciles": tally.calls,
        "rss": rss(),
        "rss_before": before,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


# -- the runners (each in a fresh process) --------------------------------------------------------


def run_kcore_threads(kubeconfig: str, objects: int, workers: int) -> dict[str, Any]:
    import kcore
    from kcore.controller import Controller
    from kcore.informer import SharedInformerFactory

    factory = SharedInformerFactory(kcore.Clientset(kcore.load_kubeconfig(kubeconfig)), namespace=NAMESPACE)
    configmaps = factory.core_v1.config_maps()
    lister = configmaps.lister().namespace(NAMESPACE)
    done = threading.Event()
    tally = Tally(objects, done.set)

    def reconcile(key: str) -> None:
        lister.get(key.split("/", 1)[1])
        tally.count(key)

    controller = Controller("bench", reconcile, workers=workers).for_(configmaps)
    gc.collect()
    before, cpu_before = rss(), cpu()
    start = time.perf_counter()
    controller.start()
    assert done.wait(TIMEOUT), f"{len(tally.keys)} of {objects} reconciled"
    got = result(tally, time.perf_counter() - start, before, cpu_before)
    controller.stop()
    factory.shutdown()
    return got


def run_kcore_asyncio(kubeconfig: str, objects: int, workers: int) -> dict[str, Any]:
    import kcore
    from kcore import aio

    async def run() -> dict[str, Any]:
        factory = aio.SharedInformerFactory(aio.Clientset(kcore.load_kubeconfig(kubeconfig)), namespace=NAMESPACE)
        configmaps = factory.core_v1.config_maps()
        lister = configmaps.lister().namespace(NAMESPACE)
        done = asyncio.Event()
        tally = Tally(objects, done.set)

        async def reconcile(key: str) -> None:
            lister.get(key.split("/", 1)[1])
            tally.count(key)

        controller = aio.Controller("bench", reconcile, workers=workers).for_(configmaps)
        gc.collect()
        before, cpu_before = rss(), cpu()
        start = time.perf_counter()
        await controller.start()
        await asyncio.wait_for(done.wait(), TIMEOUT)
        got = result(tally, time.perf_counter() - start, before, cpu_before)
        await controller.stop()
        await factory.shutdown()
        return got

    return asyncio.run(run())


def run_kopf(kubeconfig: str, objects: int, form: str) -> dict[str, Any]:
    """kopf.operator in standalone mode on the one namespace, stopped once all are reconciled."""
    os.environ["KUBECONFIG"] = kubeconfig  # kopf logs in through the kubeconfig it finds there
    import kopf

    class MemoryDiffBase(kopf.DiffBaseStorage):
        """The last-handled state kept in this process, not in an annotation (no patch)."""

        def __init__(self) -> None:
            super().__init__()
            self.essences: dict[str, Any] = {}

        def fetch(self, *, body: Any) -> Any:
            return self.essences.get(body.metadata.uid)

        def store(self, *, body: Any, patch: Any, essence: Any) -> None:
            self.essences[body.metadata.uid] = essence

    class MemoryProgress(kopf.ProgressStorage):
        """Handlers' progress kept in this process, not in annotations or status (no patch)."""

        def __init__(self) -> None:
            super().__init__()
            self.records: dict[tuple[str, str], Any] = {}

        def fetch(self, *, key: Any, body: Any) -> Any:
            return self.records.get((body.metadata.uid, key))

        def store(self, *, key: Any, record: Any, body: Any, patch: Any) -> None:
            self.records[(body.metadata.uid, key)] = record

        def purge(self, *, key: Any, body: Any, patch: Any) -> None:
            self.records.pop((body.metadata.uid, key), None)

        def touch(self, *, body: Any, patch: Any, value: Any) -> None:
            pass

        def clear(self, *, essence: Any) -> Any:
            return super().clear(essence=essence)

    stop = asyncio.Event()
    tally = Tally(objects, stop.set)

    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.diffbase_storage = MemoryDiffBase()
        settings.persistence.progress_storage = MemoryProgress()
        settings.posting.enabled = False

    async def reconcile(*, namespace: Optional[str], name: str, body: Any, **_: Any) -> None:
        body["data"]  # the object as kopf delivered it: kopf has no lister
        tally.count(f"{namespace}/{name}")

    async def reconcile_from_index(
        *, namespace: Optional[str], name: str, configmaps: kopf.Index[tuple[Optional[str], str], Any], **_: Any
    ) -> None:
        next(iter(configmaps[(namespace, name)]))["data"]
        tally.count(f"{namespace}/{name}")

    if form == KOPF_INDEX:

        @kopf.index("configmaps", id="configmaps")
        async def configmaps(
            *, namespace: Optional[str], name: str, body: Any, **_: Any
        ) -> dict[tuple[Optional[str], str], Any]:
            return {(namespace, name): body}

    if form == KOPF_EVENT:
        kopf.on.event("configmaps")(reconcile)
    else:
        handler = reconcile_from_index if form == KOPF_INDEX else reconcile
        # (kopf passes an index as a keyword argument of its name, which its handler protocol does not list)
        kopf.on.resume("configmaps")(kopf.on.create("configmaps")(handler))  # type: ignore[arg-type]

    async def run() -> dict[str, Any]:
        gc.collect()
        before, cpu_before = rss(), cpu()
        start = time.perf_counter()
        operator = asyncio.ensure_future(kopf.operator(standalone=True, namespaces=[NAMESPACE], stop_flag=stop))
        await asyncio.wait(
            {operator, asyncio.ensure_future(stop.wait())}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        assert stop.is_set(), f"{len(tally.keys)} of {objects} reconciled"
        got = result(tally, time.perf_counter() - start, before, cpu_before)
        await operator
        return got

    return asyncio.run(run())


def run_controller_runtime(kubeconfig: str, objects: int, workers: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            str(go_binary()),
            f"-kubeconfig={kubeconfig}",
            f"-namespace={NAMESPACE}",
            f"-objects={objects}",
            f"-workers={workers}",
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"controller_go failed ({out.returncode}):\n{out.stderr[-3000:]}")
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def go_binary() -> Path:
    """bench/controller_go (its own module, GOWORK=off), built into ~/.cache/kcore."""
    return go_build.build(GO_DIR, GO_BIN, "the controller-runtime runner")


def worker(name: str, kubeconfig: str, objects: int, workers: int) -> dict[str, Any]:
    if name == KCORE_THREADS:
        return run_kcore_threads(kubeconfig, objects, workers)
    if name == KCORE_ASYNCIO:
        return run_kcore_asyncio(kubeconfig, objects, workers)
    if name in KOPF_RUNNERS:
        return run_kopf(kubeconfig, objects, form=name)
    raise ValueError(f"unknown runner {name!r}")


def run(name: str, kubeconfig: str, objects: int, workers: int) -> dict[str, Any]:
    if name == CONTROLLER_RUNTIME:
        return run_controller_runtime(kubeconfig, objects, workers)
    done = subprocess.run(
        [sys.executable, "-m", "bench.controller", "--worker", name, kubeconfig, str(objects), str(workers)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return got


# -- the objects ------------------------------------------------------------------------------------


def create_configmaps(kubeconfig: str, objects: int, in_flight: int = 64) -> None:
    """The namespace and ConfigMaps cm-00000.. in it, with kcore's asyncio client."""
    from kcore import aio, load_kubeconfig

    config = dataclasses.replace(load_kubeconfig(kubeconfig), qps=-1)

    async def create_all() -> None:
        cs = aio.Clientset(config)
        await cs.core_v1.namespaces().create({"metadata": {"name": NAMESPACE}})
        configmaps = cs.core_v1.config_maps(NAMESPACE)
        slots = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with slots:
                await configmaps.create({"metadata": {"name": f"cm-{i:05d}"}, "data": {"k": str(i)}})

        await asyncio.gather(*(one(i) for i in range(objects)))

    asyncio.run(create_all())


def written(kubeconfig: str) -> dict[str, Any]:
    """What the runners could have written: each ConfigMap's resourceVersion, and the Events
    in the namespace (kopf posts one per handled object unless told not to)."""
    import kcore

    cs = kcore.Clientset(kcore.load_kubeconfig(kubeconfig))
    return {
        "configmaps": {
            cm["metadata"]["name"]: cm["metadata"]["resourceVersion"]
            for cm in cs.core_v1.config_maps(NAMESPACE).list()["items"]
        },
        "events": len(cs.core_v1.events(NAMESPACE).list()["items"]),
    }


def load() -> float:
    return float(open("/proc/loadavg").read().split()[0])


def measure(kubeconfig: str, names: list[str], objects: int, workers: int, runs: int) -> list[dict[str, Any]]:
    """Every runner `runs` times, in rounds (a busy spell hits them all alike)."""
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(runs):
        for name in names:
            got = run(name, kubeconfig, objects, workers)
            got["load"] = load()
            assert got["reconciled"] == objects, (name, got)
            results.setdefault(name, []).append(got)
            print(
                f"  {name:20} {got['seconds']:7.2f} s, CPU {got['cpu']:6.2f} s, {got['reconciles']:,} reconciles, "
                f"RSS {got['rss'] / MB:,.0f} MB (load {got['load']:.2f})",
                flush=True,
            )
    return [
        {
            "runner": name,
            "runs": len(of),
            "seconds": min(r["seconds"] for r in of),
            "reconciles": max(r["reconciles"] for r in of),
            "cpu": min(r["cpu"] for r in of),
            "rss": statistics.median(r["rss"] for r in of),
            "growth": statistics.median(r["rss"] - r["rss_before"] for r in of),
            "load": max(r["load"] for r in of),
        }
        for name, of in results.items()
    ]


# -- the report ---------------------------------------------------------------------------------------

MB = 2**20


def table(rows: list[dict[str, Any]], objects: int) -> str:
    out = [
        "| runner | s to all reconciled (best) | objects/s | CPU s (least) | reconcile calls | RSS MB | "
        "RSS growth MB | load (1 min, max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['runner']} | {r['seconds']:.2f} | {objects / r['seconds']:,.0f} | {r['cpu']:.2f} | {r['reconciles']:,} | "
            f"{r['rss'] / MB:,.0f} | {r['growth'] / MB:,.0f} | {r['load']:.1f} |"
        )
    return "\n".join(out)


def bars(rows: list[dict[str, Any]]) -> list[str]:
    by = {r["runner"]: r for r in rows}
    lines = []
    for name in (n for n in KCORE_RUNNERS if n in by):
        k = by[name]["seconds"]
        kopfs = [by[n] for n in KOPF_RUNNERS if n in by]
        if kopfs:
            fastest = min(kopfs, key=lambda r: r["seconds"])
            ratio = fastest["seconds"] / k
            lines.append(
                f"- {name} ≥ 10× faster than kopf (its fastest form, {fastest['runner']}): {ratio:.1f}× — "
                f"{'met' if ratio >= 10 else 'NOT met'} (CPU seconds: {fastest['cpu'] / by[name]['cpu']:.1f}× fewer)"
            )
        if CONTROLLER_RUNTIME in by:
            ratio = k / by[CONTROLLER_RUNTIME]["seconds"]
            lines.append(
                f"- {name} within 2× of controller-runtime: {ratio:.2f}× its time — "
                f"{'met' if ratio <= 2 else 'NOT met'} (CPU seconds: "
                f"{by[name]['cpu'] / by[CONTROLLER_RUNTIME]['cpu']:.2f}× its)"
            )
    return lines


def describe(objects: int, workers: int, runs: int, index_max: int, began: float) -> str:
    from importlib.metadata import version

    tree = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    go = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    return "\n".join(
        [
            f"`python -m bench controller --objects={objects} --workers={workers} --runs={runs}` "
            f"({time.strftime('%Y-%m-%d', time.localtime(began))}) on {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
            f"kcore {tree}, controller-runtime v0.25.3 with client-go v0.37.2 ({go}), kopf {version('kopf')}. "
            f"{objects:,} ConfigMaps in one namespace of a kcore.testenv control plane of their own (kube-apiserver "
            "v1.37.2 and etcd on the same cores); each runner in a fresh process, timed from starting its controller "
            "(imports done, clients built; so the time includes listing and caching every ConfigMap) until every key "
            "has been reconciled once by a no-op reconcile that reads the object from the runner's cache. Time is the "
            f"best, memory the median, of {runs} runs taken in rounds over the runners; *CPU* the process's user + "
            "system seconds over the same span (every thread), the least of the runs: on a shared machine it moves less "
            "than the time does. *RSS* is the whole process's resident memory once all are reconciled, *growth* that "
            "minus just before the start.",
            "",
            f"- **kcore threads**: `kcore.controller.Controller(workers={workers}).for_(factory.core_v1.config_maps())`, "
            "the reconcile `lister.get(name)` (its default informer: protobuf, streaming list, compact cache).",
            "- **kcore asyncio**: the same with `kcore.aio.Controller`, `aio.SharedInformerFactory` and an `async def` "
            "reconcile.",
            f"- **controller-runtime**: bench/controller_go, a manager (cache restricted to the namespace, metrics and "
            f"probes off) and `NewControllerManagedBy(mgr).For(&ConfigMap{{}})` with MaxConcurrentReconciles {workers}; "
            "the reconciler `Get`s the ConfigMap through the manager's client, i.e. from its cache.",
            "- **kopf**: `kopf.operator(standalone=True, namespaces=[…])` with one `async def` handler decorated "
            "`@kopf.on.create` and `@kopf.on.resume` (kopf's form for reconciling the objects that exist when it starts: "
            "a never-handled object is a create, one handled before a restart a resume), reading the ConfigMap kopf "
            "hands it (`body`): kopf has no lister, it delivers each object with its event. Fairness: kopf by default "
            "writes its state into each object (a `last-handled-configuration` annotation, progress annotations) and "
            "posts a k8s Event per handled object; here `settings.persistence` holds a diff-base and a progress storage "
            "that keep that state in the operator's memory (subclasses of kopf's own `DiffBaseStorage` and "
            "`ProgressStorage`) and `settings.posting.enabled` is off, so kopf, like the others, writes nothing. Other "
            "settings are kopf's defaults (each object a worker task of its own, no limit on how many run at once).",
            "- **kopf on.event**: kopf's low-level `@kopf.on.event` handler (called for each watch event, no state "
            "kept, no retries) reading `body`: the least kopf can do per object.",
            f"- **kopf + index**: the kopf handler reading the ConfigMap from a `@kopf.index` of all ConfigMaps "
            "instead (kopf's in-memory view of other objects, the nearest it has to a lister). Its start grows as the "
            "square of the objects: each object's worker waits for the indices to be ready (kopf's toggles), and every "
            "object indexed wakes every waiting worker (a cProfile shows the time in asyncio's Condition.wait_for under "
            f"kopf's aiotoggles); so it is run only up to {index_max:,} objects (`--index-max`).",
            "- The bars compare each kcore runner against the fastest kopf form run.",
        ]
    )


def smaller(objects: int) -> list[str]:
    """A warning line when this run is not at the issue's size."""
    if objects == OBJECTS:
        return []
    return [
        f"**A small-size run ({objects:,} objects), not the issue's {OBJECTS:,}**: the figures and bars hold for "
        "this size only.",
        "",
    ]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        print(json.dumps(worker(argv[1], argv[2], int(argv[3]), int(argv[4]))), flush=True)
        os._exit(0)  # without finalizing: kopf's and the informers' threads may be mid-read
    opts = dict(a.lstrip("-").split("=", 1) for a in argv if "=" in a)
    objects, runs, workers = (
        int(opts.get("objects", str(OBJECTS))),
        int(opts.get("runs", "3")),
        int(opts.get("workers", "1")),
    )
    index_max = int(opts.get("index-max", str(INDEX_MAX)))
    names = opts["only"].split(",") if "only" in opts else list(RUNNERS)
    unknown = sorted(set(names) - set(RUNNERS))
    if unknown:
        print(f"unknown runner(s) {', '.join(unknown)}; runners: {', '.join(RUNNERS)}", file=sys.stderr)
        return 2
    if CONTROLLER_RUNTIME in names:
        go_binary()
    if KOPF_INDEX in names and objects > index_max:
        names.remove(KOPF_INDEX)
        print(
            f"{KOPF_INDEX}: not run at {objects:,} objects (its start grows as their square; --index-max={index_max})"
        )

    from kcore.testenv import ControlPlane

    began = time.time()
    with ControlPlane() as cp:
        kubeconfig = str(cp.kubeconfig)
        started = time.perf_counter()
        create_configmaps(kubeconfig, objects)
        print(
            f"created {objects:,} ConfigMaps in {time.perf_counter() - started:.0f} s (load {load():.2f})", flush=True
        )
        before = written(kubeconfig)
        rows = measure(kubeconfig, names, objects, workers, runs)
        after = written(kubeconfig)
    changed = sum(after["configmaps"].get(name) != version for name, version in before["configmaps"].items())
    untouched = (
        f"After all the runs no ConfigMap had changed (each one's resourceVersion as before) and the namespace "
        f"held {after['events']} Events: no runner wrote anything."
        if changed == 0 and after["events"] == 0
        else f"**Writes**: {changed:,} ConfigMaps changed and {after['events']:,} Events were posted during the runs."
    )
    text = "\n".join(
        [
            f"## controller: runtime overhead, {objects:,} objects each reconciled once (`python -m bench controller`)",
            "",
            describe(objects, workers, runs, index_max, began),
            "",
            *smaller(objects),
            table(rows, objects),
            "",
            untouched,
            "",
            *bars(rows),
        ]
    )
    print(text)
    write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
