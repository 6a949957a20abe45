"""``python -m bench informer``: kcore's SharedIndexInformer against client-go's and the Python
peers, in one run, on one kcore.testenv control plane, over the same running pods.

1. **Sync.** N running pods (bench.codec's pod and pod_status: a Deployment's pod, a kubelet's
   status written through the status subresource, so each carries a kubelet-like managedFields
   entry; bound to one of 50 nodes, in one of 100 namespaces, with one of 100 ``app`` labels).
   Each contender runs in a fresh process per run and is timed from starting its informer to
   synced; its memory is the RSS growth from just before the start (imports done, client
   built) to just after the sync and a garbage collection, divided by N. Contenders:
   kcore's informer (protobuf, compact cache), client-go v0.37.2's SharedInformer
   (tests/e2e/informer_upstream, protobuf), the official ``kubernetes`` client's
   ``kubernetes.informer.SharedInformer`` (JSON into its models) and a plain baseline: LIST in
   JSON pages of 500, orjson into a dict keyed "namespace/name". Once with managedFields
   stripped (kcore's and client-go's transform; a handler for the official informer, which has
   no transform; ``pop`` for the baseline), once kept. Sizes grow on one control plane: pods
   are added between sizes.
2. **Lister queries** over the largest N: kcore's indexer (a label selector picking 1%, a
   by_node index, a namespace) against a plain Python scan over a dict of dicts.
3. **Watch events/s**: a stream of MODIFIED pod events recorded once from the server
   (protobuf), replayed into kcore's WatchDecoder + Store + a no-op handler and into client-go's
   own watch decoder + Indexer + a no-op handler (bench/informer_go).
4. A plot of RSS per cached pod against N (bench/informer.png).

Options: ``--pods=N[,N…]`` (default 10000), ``--runs=R`` (default 3; time is the best run,
memory the median of the same runs), ``--official-max=N`` (the largest N the official client
is run at, default 50000: it holds ~80 KB per pod), ``--events=E`` (default 20000),
``--kcore=COMMIT``: measure kcore as built from that commit (a clean export, built once into
~/.cache/kcore/bench-kcore/) rather than the working tree, which others may be rebuilding
while the benchmark runs.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import functools
import gc
import http.client
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from bench import go_build
from bench.codec import pod, pod_status, rss
from bench.readme import write_section

HERE = Path(__file__).parent
ROOT = HERE.parent
SECTION = ("<!-- bench:informer -->", "<!-- /bench:informer -->")
PLOT = HERE / "informer.png"
GO_DIR = HERE / "informer_go"
GO_BIN = Path.home() / ".cache" / "kcore" / "informer_go"
PROTOBUF = "application/vnd.kubernetes.protobuf"

KCORE, CLIENT_GO, OFFICIAL, PLAIN = "kcore", "client-go", "kubernetes SharedInformer", "LIST + orjson dict"
CONTENDERS = [KCORE, CLIENT_GO, OFFICIAL, PLAIN]
PYTHON_PEERS = [OFFICIAL, PLAIN]  # the only Python informer, and a plain LIST into dicts (no watch, no handlers)
NAMESPACES, APPS, NODES = 100, 100, 50
WATCH_NAMESPACE, WATCH_PODS = "bench-watch", 5000
CHUNK = 64 * 1024  # how much of the recorded stream kcore's decoder is fed at a time


# -- the pods --------------------------------------------------------------------------------


def namespace_of(i: int) -> str:
    return f"bench-{i % NAMESPACES:02d}"


def bench_pod(i: int, run: str) -> dict[str, Any]:
    """bench.codec's pod (bound to node-{i % 50}), in one of 100 namespaces and with one of 100
    app labels, chosen independently of each other."""
    body = pod(i, run, distinct=False)
    body["metadata"]["labels"]["app"] = f"web-{(i // NAMESPACES) % APPS:02d}"
    return body


def create_pods(
    kubeconfig: str, namespaces: Callable[[int], str], start: int, stop: int, run: str, in_flight: int = 64
) -> None:
    """Pods start..stop-1, each created then given a running status through the status
    subresource (field manager "kubelet"), with kcore's asyncio client, `in_flight` at a time."""
    from kcore import aio, load_kubeconfig

    config = dataclasses.replace(load_kubeconfig(kubeconfig), qps=-1)

    async def create_all() -> None:
        cs = aio.Clientset(config)
        slots = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with slots:
                body = bench_pod(i, run)
                pods = cs.core_v1.pods(namespaces(i))
                await pods.create(body)
                await pods.patch(
                    body["metadata"]["name"],
                    {"status": pod_status(i, False)},
                    patch_type="strategic",
                    subresource="status",
                    field_manager="kubelet",
                )

        for first in range(start, stop, 5000):  # not a million coroutines at once
            await asyncio.gather(*(one(i) for i in range(first, min(first + 5000, stop))))

    asyncio.run(create_all())


def create_namespaces(kubeconfig: str, names: list[str]) -> None:
    import kcore
    from kcore.errors import AlreadyExists

    cs = kcore.Clientset(kcore.load_kubeconfig(kubeconfig))
    for name in names:
        try:
            cs.core_v1.namespaces().create({"metadata": {"name": name}})
        except AlreadyExists:
            pass


# -- 1. sync: one contender, in this fresh process ---------------------------------------------


def sync_kcore(target: dict[str, Any], count: int, keep: bool) -> dict[str, Any]:
    import kcore
    from kcore.informer import SharedIndexInformer

    config = dataclasses.replace(kcore.load_kubeconfig(target["kubeconfig"]), qps=-1)
    informer = SharedIndexInformer(kcore.Clientset(config).core_v1.pods())
    if keep:
        informer.set_transform(None)
    gc.collect()
    before = rss()
    start = time.perf_counter()
    informer.start()
    while not informer.has_synced():  # wait_for_cache_sync polls every 100 ms; this every 1 ms
        time.sleep(0.001)
    seconds = time.perf_counter() - start
    gc.collect()
    grown = rss() - before
    items = len(informer.indexer)
    return {"seconds": seconds, "rss": grown, "trimmed": trimmed(before), "items": items}


def sync_official(target: dict[str, Any], count: int, keep: bool) -> dict[str, Any]:
    import kubernetes
    from kubernetes.informer import ADDED, MODIFIED, SharedInformer

    core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=target["kubeconfig"]))
    informer = SharedInformer(core.list_pod_for_all_namespaces)
    added = 0
    synced = threading.Event()

    def on_add(obj: Any) -> None:
        nonlocal added
        if not keep:
            obj.metadata.managed_fields = None
        added += 1
        if added == count:  # the informer calls ADDED for each listed pod once the cache holds them all
            synced.set()

    def on_modified(obj: Any) -> None:
        if not keep:
            obj.metadata.managed_fields = None

    informer.add_event_handler(ADDED, on_add)
    informer.add_event_handler(MODIFIED, on_modified)
    gc.collect()
    before = rss()
    start = time.perf_counter()
    informer.start()
    synced.wait()
    seconds = time.perf_counter() - start
    gc.collect()
    grown = rss() - before
    items = len(informer.cache.list_keys())
    return {"seconds": seconds, "rss": grown, "trimmed": trimmed(before), "items": items}


def trimmed(before: int) -> int:
    """The RSS growth once glibc has handed the free memory at the top of its heaps back
    (malloc_trim(0)): what the cache holds, without the pages freed on the way that the
    allocator kept (Go's figure for this is its heap in use)."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss() - before


class Plain:
    """Keep-alive HTTPS GETs with the admin token (http.client, stdlib)."""

    def __init__(self, target: dict[str, Any]) -> None:
        url = urlsplit(target["server"])
        context = ssl.create_default_context(cafile=target["ca_file"])
        self.conn = http.client.HTTPSConnection(url.hostname, url.port, context=context)
        self.headers = {"Authorization": f"Bearer {target['token']}", "Accept": "application/json"}

    def get(self, path: str, accept: str = "application/json") -> bytes:
        self.conn.request("GET", path, headers={**self.headers, "Accept": accept})
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status} {body[:300]!r}")
        return body


def plain_list(client: Plain, keep: bool) -> dict[str, dict[str, Any]]:
    """Every pod, LIST in JSON pages of 500, orjson into a dict keyed "namespace/name"."""
    import orjson

    cache: dict[str, dict[str, Any]] = {}
    token = ""
    while True:
        page = orjson.loads(client.get(f"/api/v1/pods?limit=500{'&continue=' + quote(token) if token else ''}"))
        for item in page["items"]:
            metadata = item["metadata"]
            if not keep:
                metadata.pop("managedFields", None)
            cache[f"{metadata['namespace']}/{metadata['name']}"] = item
        token = page["metadata"].get("continue") or ""
        if not token:
            return cache


def sync_plain(target: dict[str, Any], count: int, keep: bool) -> dict[str, Any]:
    import orjson  # noqa: F401 - imported before the baseline, as the others' imports are

    client = Plain(target)
    gc.collect()
    before = rss()
    start = time.perf_counter()
    cache = plain_list(client, keep)
    seconds = time.perf_counter() - start
    gc.collect()
    return {"seconds": seconds, "rss": rss() - before, "trimmed": trimmed(before), "items": len(cache)}


def sync_client_go(target: dict[str, Any], count: int, keep: bool) -> dict[str, Any]:
    from tests.e2e.informer_upstream_driver import bench

    got = bench(target["kubeconfig"], resource="pods", namespace="", protobuf=True, strip=not keep)
    return {
        "seconds": got["synced_seconds"],
        "rss": got["rss"] - got["baseline_rss"],
        "heap_inuse": got["heap_inuse"] - got["baseline_heap_inuse"],
        "items": got["items"],
    }


SYNC: dict[str, Callable[[dict[str, Any], int, bool], dict[str, Any]]] = {
    KCORE: sync_kcore,
    CLIENT_GO: sync_client_go,
    OFFICIAL: sync_official,
    PLAIN: sync_plain,
}


# -- 2. lister queries -------------------------------------------------------------------------


def queries(target: dict[str, Any], count: int, repeats: int) -> list[dict[str, Any]]:
    """kcore's indexer against a scan over a dict of dicts, on the same pods, in this process."""
    import kcore
    from kcore.informer import SharedIndexInformer

    config = dataclasses.replace(kcore.load_kubeconfig(target["kubeconfig"]), qps=-1)
    informer = SharedIndexInformer(
        kcore.Clientset(config).core_v1.pods(), indexers={"by_node": lambda p: [p["spec"].get("nodeName") or ""]}
    )
    informer.start()
    assert informer.wait_for_cache_sync(timeout=1800), "kcore's informer did not sync"
    indexer = informer.indexer
    pods = plain_list(Plain(target), keep=False)
    assert len(indexer) == len(pods) == count, (len(indexer), len(pods), count)
    values = pods.values()
    app, node, namespace = "web-42", "node-07", namespace_of(7)
    cases = [
        (
            f'label selector "app={app}"',
            lambda: indexer.list(label_selector=f"app={app}"),
            lambda: [p for p in values if p["metadata"].get("labels", {}).get("app") == app],
        ),
        (
            f'by_node index "{node}"',
            lambda: indexer.by_index("by_node", node),
            lambda: [p for p in values if p["spec"].get("nodeName") == node],
        ),
        (
            f'namespace "{namespace}"',
            lambda: indexer.list(namespace=namespace),
            lambda: [p for p in values if p["metadata"]["namespace"] == namespace],
        ),
    ]
    rows = []
    for name, with_kcore, with_scan in cases:
        found = len(with_kcore())
        assert found == len(with_scan()), (name, found, len(with_scan()))
        rows.append(
            {
                "query": name,
                "found": found,
                "kcore": median_time(with_kcore, repeats),
                "scan": median_time(with_scan, repeats),
            }
        )
    informer.stop()
    return rows


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- 3. watch events ---------------------------------------------------------------------------


def record_watch(target: dict[str, Any], kubeconfig: str, events: int, folder: Path) -> tuple[Path, Path]:
    """WATCH_PODS pods in their own namespace; their protobuf list body, then the protobuf watch
    stream from that list's resourceVersion while each pod is patched until `events` MODIFIED
    events have come (an annotation, as a controller would write it), cut at that frame."""
    from kcore.codec import decode

    create_namespaces(kubeconfig, [WATCH_NAMESPACE])
    create_pods(kubeconfig, lambda i: WATCH_NAMESPACE, 0, WATCH_PODS, "watch")
    client = Plain(target)
    path = f"/api/v1/namespaces/{WATCH_NAMESPACE}/pods"
    listed = client.get(path, PROTOBUF)
    version = decode(listed, PROTOBUF)["metadata"]["resourceVersion"]
    stream = bytearray()
    opened = threading.Event()
    failure: list[BaseException] = []

    def watch() -> None:
        try:
            conn = Plain(target).conn
            conn.request(
                "GET",
                f"{path}?watch=1&resourceVersion={version}&timeoutSeconds=1800",
                headers={"Authorization": f"Bearer {target['token']}", "Accept": f"{PROTOBUF};stream=watch"},
            )
            resp = conn.getresponse()
            assert resp.status == 200, resp.read(300)
            opened.set()
            at, frames = 0, 0
            while frames < events:
                data = resp.read1(1 << 20)
                if not data:
                    raise RuntimeError(f"the watch ended after {frames} events")
                stream.extend(data)
                while len(stream) - at >= 4 and len(stream) - at - 4 >= int.from_bytes(stream[at : at + 4], "big"):
                    at += 4 + int.from_bytes(stream[at : at + 4], "big")
                    frames += 1
                    if frames == events:
                        del stream[at:]
                        break
            conn.close()
        except BaseException as error:
            failure.append(error)
            opened.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    opened.wait()
    rounds = -(-events // WATCH_PODS)
    for r in range(rounds):
        touch_pods(kubeconfig, WATCH_NAMESPACE, WATCH_PODS, "watch", r)
    watcher.join()
    if failure:
        raise failure[0]
    list_file, watch_file = folder / "watch-list.pb", folder / "watch-stream.pb"
    list_file.write_bytes(listed)
    watch_file.write_bytes(bytes(stream))
    return list_file, watch_file


def touch_pods(kubeconfig: str, namespace: str, count: int, run: str, round_: int, in_flight: int = 64) -> None:
    from kcore import aio, load_kubeconfig

    config = dataclasses.replace(load_kubeconfig(kubeconfig), qps=-1)

    async def touch_all() -> None:
        pods = aio.Clientset(config).core_v1.pods(namespace)
        slots = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with slots:
                await pods.patch(
                    bench_pod(i, run)["metadata"]["name"],
                    {"metadata": {"annotations": {"bench.kcore.dev/round": str(round_)}}},
                    field_manager="bench-controller",
                )

        await asyncio.gather(*(one(i) for i in range(count)))

    asyncio.run(touch_all())


def replay_kcore(list_file: str, watch_file: str, keep: bool, runs: int) -> dict[str, Any]:
    """The recorded stream through kcore's WatchDecoder (compact objects, managedFields left out
    while decoding unless kept: what the informer's default transform does), Store.upsert and a
    no-op handler: the steps of InformerCore.update without the hand-off to a handler's thread."""
    from kcore import _core
    from kcore.codec import PROTOBUF as PB
    from kcore.codec import WatchDecoder, decode_compact

    listed, stream = Path(list_file).read_bytes(), Path(watch_file).read_bytes()

    def handler(old: Any, new: Any) -> None:
        pass

    seconds = []
    events = 0
    for _ in range(runs):
        store = _core.Store()
        store.replace(list(decode_compact(listed, PB, not keep)["items"]))
        gc.collect()
        start = time.perf_counter()
        decoder = WatchDecoder(PB, compact=True, strip_managed_fields=not keep)
        events = 0
        upsert = store.upsert
        for at in range(0, len(stream), CHUNK):
            for _event_type, obj in decoder.feed(stream[at : at + CHUNK]):
                handler(upsert(obj), obj)
                events += 1
        decoder.close()
        seconds.append(time.perf_counter() - start)
        del store
    return {"events": events, "seconds": seconds}


@functools.lru_cache(maxsize=None)
def go_binary() -> Path:
    """bench/informer_go (its own module, GOWORK=off), built into ~/.cache/kcore (once a process)."""
    return go_build.build(GO_DIR, GO_BIN, "the client-go replay")


def replay_client_go(list_file: str, watch_file: str, keep: bool, runs: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            str(go_binary()),
            f"-list={list_file}",
            f"-watch={watch_file}",
            f"-strip-managed-fields={str(not keep).lower()}",
            f"-runs={runs}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def serve(list_file: str, watch_file: str) -> None:
    """A stand-in API server on loopback (plain HTTP/1.0, a connection per request) that answers
    any LIST with the recorded list body and the first WATCH with the recorded stream, then
    closes it; a later WATCH is held open without events. Prints its port, then serves until killed."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    listed, stream = Path(list_file).read_bytes(), memoryview(Path(watch_file).read_bytes())
    watched = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if query.get("watch", ["false"])[0] not in ("1", "true"):
                self.send_response(200)
                self.send_header("Content-Type", PROTOBUF)
                self.send_header("Content-Length", str(len(listed)))
                self.end_headers()
                self.wfile.write(listed)
                return
            self.send_response(200)
            self.send_header("Content-Type", f"{PROTOBUF};stream=watch")
            self.end_headers()
            if watched.acquire(blocking=False):
                for at in range(0, len(stream), CHUNK):
                    self.wfile.write(stream[at : at + CHUNK])
            else:
                time.sleep(600)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def replay_server(list_file: Path, watch_file: Path, folder: Path) -> tuple[subprocess.Popen[str], str]:
    """The stand-in server in a process of its own, and a kubeconfig that points to it."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.informer", "--serve", str(list_file), str(watch_file)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert server.stdout is not None
    port = int(server.stdout.readline())
    kubeconfig = folder / "replay.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "replay",
                "clusters": [{"name": "replay", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "replay", "user": {"token": "replay"}}],
                "contexts": [
                    {"name": "replay", "context": {"cluster": "replay", "user": "replay", "namespace": WATCH_NAMESPACE}}
                ],
            }
        )
    )
    return server, str(kubeconfig)


def informer_replay_kcore(kubeconfig: str, keep: bool, events: int) -> dict[str, Any]:
    """kcore's SharedIndexInformer (LIST then WATCH, protobuf) against the stand-in server: the
    seconds from synced until a no-op on_update has been called `events` times."""
    import kcore
    from kcore.informer import SharedIndexInformer

    config = dataclasses.replace(kcore.load_kubeconfig(kubeconfig), qps=-1)
    informer = SharedIndexInformer(kcore.Clientset(config).core_v1.pods(WATCH_NAMESPACE), use_watch_list=False)
    if keep:
        informer.set_transform(None)
    updates = 0
    done = threading.Event()

    def on_update(old: Any, new: Any) -> None:
        nonlocal updates
        updates += 1
        if updates == events:
            done.set()

    informer.add_event_handler(on_update=on_update)
    informer.start()
    while not informer.has_synced():
        time.sleep(0.001)
    start = time.perf_counter()
    assert done.wait(600), f"{updates} updates of {events}"
    return {"events": updates, "seconds": [time.perf_counter() - start]}


def informer_replay(
    contender: str, list_file: Path, watch_file: Path, keep: bool, events: int, folder: Path
) -> dict[str, Any]:
    server, kubeconfig = replay_server(list_file, watch_file, folder)
    try:
        if contender == KCORE:
            return dict(in_process("informer-replay", kubeconfig=kubeconfig, keep=keep, events=events))
        out = subprocess.run(
            [
                str(go_binary()),
                "-mode=informer",
                f"-kubeconfig={kubeconfig}",
                f"-namespace={WATCH_NAMESPACE}",
                f"-strip-managed-fields={str(not keep).lower()}",
                f"-events={events}",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "KUBE_FEATURE_WatchListClient": "false"},
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        server.kill()
        server.wait()


# -- running workers -----------------------------------------------------------------------------


def worker(argv: list[str]) -> dict[str, Any] | list[dict[str, Any]]:
    kind, args = argv[0], json.loads(argv[1])
    if kind == "sync":
        return SYNC[args["contender"]](args["target"], args["count"], args["keep"])
    if kind == "queries":
        return queries(args["target"], args["count"], args["repeats"])
    if kind == "replay":
        return replay_kcore(args["list"], args["watch"], args["keep"], args["runs"])
    if kind == "informer-replay":
        return informer_replay_kcore(args["kubeconfig"], args["keep"], args["events"])
    raise ValueError(kind)


def in_process(kind: str, **args: Any) -> Any:
    """Runs a worker in a fresh Python process; its last stdout line is its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.informer", "--worker", kind, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


# -- the runs ------------------------------------------------------------------------------------


def measure_sync(target: dict[str, Any], n: int, keep: bool, runs: int, official_max: int) -> list[dict[str, Any]]:
    """Every contender `runs` times at n pods, in rounds (a busy spell hits them all alike):
    the best time, the median memory."""
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(runs):
        for contender in CONTENDERS:
            if contender == OFFICIAL and n > official_max:
                continue
            if contender == CLIENT_GO:  # a Go process of its own already
                got = sync_client_go(target, n, keep)
            else:
                got = in_process("sync", contender=contender, target=target, count=n, keep=keep)
            got["load"] = load()
            assert got["items"] == n, (contender, got["items"], n)
            results.setdefault(contender, []).append(got)
            print(
                f"  {n:,} pods, managedFields {'kept' if keep else 'stripped'}: {contender:26} "
                f"{got['seconds']:6.2f} s {got['rss'] / n:9,.0f} B/pod (load {got['load']})",
                flush=True,
            )
    rows = []
    for contender, runs_of in results.items():
        row = {
            "pods": n,
            "keep": keep,
            "contender": contender,
            "runs": len(runs_of),
            "seconds": min(r["seconds"] for r in runs_of),
            "rss": statistics.median(r["rss"] for r in runs_of),
            "load": max(float(r["load"]) for r in runs_of),
        }
        for extra in ("heap_inuse", "trimmed"):
            if extra in runs_of[0]:
                row[extra] = statistics.median(r[extra] for r in runs_of)
        rows.append(row)
    return rows


def measure_queries(target: dict[str, Any], count: int, repeats: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = in_process("queries", target=target, count=count, repeats=repeats)
    out = subprocess.run(
        [
            str(go_binary()),
            "-mode=queries",
            f"-kubeconfig={target['kubeconfig']}",
            "-app=web-42",
            "-node=node-07",
            f"-namespace={namespace_of(7)}",
            f"-runs={repeats}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    for row, go in zip(rows, json.loads(out.stdout.strip().splitlines()[-1])):
        assert go["query"] == row["query"] and go["found"] == row["found"], (go, row)
        row["client_go"] = go["seconds"]
    return rows


def measure_replay(list_file: Path, watch_file: Path, events: int, runs: int, folder: Path) -> list[dict[str, Any]]:
    rows = []
    for keep in (False, True):
        for contender in (KCORE, CLIENT_GO):
            seconds: list[float] = []
            for _ in range(runs):  # `runs` processes, `runs` replays each
                if contender == KCORE:
                    got = in_process("replay", list=str(list_file), watch=str(watch_file), keep=keep, runs=runs)
                else:
                    got = replay_client_go(str(list_file), str(watch_file), keep, runs)
                assert got["events"] == events, got
                seconds += got["seconds"]
            whole: list[float] = []
            for _ in range(runs):
                got = informer_replay(contender, list_file, watch_file, keep, events, folder)
                assert got["events"] == events, got
                whole += got["seconds"]
            rows.append(
                {"contender": contender, "keep": keep, "decoder": min(seconds), "informer": min(whole), "load": load()}
            )
            print(
                f"  replay {contender}, managedFields {'kept' if keep else 'stripped'}: decoder+store "
                f"{events / min(seconds):,.0f} events/s, whole informer {events / min(whole):,.0f} events/s "
                f"(load {load()})",
                flush=True,
            )
    return rows


# -- the report ----------------------------------------------------------------------------------

MB = 2**20


def sync_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| pods | managedFields | contender | synced s (best) | pods/s | RSS growth MB | RSS bytes/pod | "
        "after malloc_trim bytes/pod | Go heap in use bytes/pod | load (1 min, max) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        n = r["pods"]
        heap = f"{r['heap_inuse'] / n:,.0f}" if "heap_inuse" in r else ""
        trim = f"{r['trimmed'] / n:,.0f}" if "trimmed" in r else ""
        out.append(
            f"| {n:,} | {'kept' if r['keep'] else 'stripped'} | {r['contender']} | {r['seconds']:.2f} | "
            f"{n / r['seconds']:,.0f} | {r['rss'] / MB:,.0f} | {r['rss'] / n:,.0f} | {trim} | {heap} | "
            f"{r['load']:.1f} |"
        )
    return "\n".join(out)


def sync_bars(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for n, keep in sorted({(r["pods"], r["keep"]) for r in rows}):
        by = {r["contender"]: r for r in rows if r["pods"] == n and r["keep"] == keep}
        if KCORE not in by:
            continue
        k = by[KCORE]
        what = f"{n:,} pods, managedFields {'kept' if keep else 'stripped'}"
        if CLIENT_GO in by:
            g = by[CLIENT_GO]
            mem = k["rss"] / g["rss"]
            lines.append(
                f"- {what}: kcore's memory per cached pod ≤ 1/3 of client-go's: {k['rss'] / n:,.0f} vs "
                f"{g['rss'] / n:,.0f} bytes (RSS), {mem:.2f}× — {met(mem <= 1 / 3)}; after malloc_trim "
                f"against Go's heap in use: {k['trimmed'] / g['heap_inuse']:.2f}×"
            )
            ratio = k["seconds"] / g["seconds"]
            lines.append(
                f"- {what}: kcore's time to synced ≤ 1.25× client-go's: {k['seconds']:.2f} vs "
                f"{g['seconds']:.2f} s, {ratio:.2f}× — {met(ratio <= 1.25)}"
            )
        peers = []
        for peer in PYTHON_PEERS:
            if peer not in by:
                peers.append(f"{peer}: not run")
                continue
            faster, leaner = by[peer]["seconds"] / k["seconds"], by[peer]["rss"] / k["rss"]
            peers.append(
                f"{peer}: {faster:.1f}× faster — {met(faster >= 5)}, {leaner:.1f}× leaner — {met(leaner >= 5)}"
            )
        lines.append(f"- {what}: ≥ 5× faster and ≥ 5× leaner (RSS) than the Python peers: " + "; ".join(peers))
    n = max(r["pods"] for r in rows)
    kc = {r["keep"]: r for r in rows if r["pods"] == n and r["contender"] == KCORE}
    if len(kc) == 2 and all("trimmed" in r for r in kc.values()):
        stripped, kept = kc[False], kc[True]
        lines.append(
            f"- kcore at {n:,} pods, RSS against after malloc_trim: stripped {stripped['rss'] / n:,.0f} against "
            f"{stripped['trimmed'] / n:,.0f} bytes, kept {kept['rss'] / n:,.0f} against {kept['trimmed'] / n:,.0f}: "
            "what glibc keeps beyond the cache itself"
        )
    return lines


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def query_table(rows: list[dict[str, Any]], count: int) -> str:
    out = [
        f"| query over {count:,} cached pods | pods found | kcore indexer ms | plain Python scan ms | "
        "scan / kcore | client-go lister ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['query']} | {r['found']:,} | {r['kcore'] * 1e3:.3f} | {r['scan'] * 1e3:.3f} | "
            f"{r['scan'] / r['kcore']:,.1f}× | {r['client_go'] * 1e3:.3f} |"
        )
    return "\n".join(out)


def replay_table(rows: list[dict[str, Any]], events: int) -> tuple[str, list[str]]:
    out = [
        "| path | managedFields | kcore events/s | client-go events/s | kcore / client-go |",
        "|---|---|---:|---:|---:|",
    ]
    lines = []
    for path, label in (("decoder", "decoder + store + no-op handler"), ("informer", "whole informer, replay server")):
        for keep in (False, True):
            by = {r["contender"]: r for r in rows if r["keep"] == keep}
            k, g = events / by[KCORE][path], events / by[CLIENT_GO][path]
            out.append(f"| {label} | {'kept' if keep else 'stripped'} | {k:,.0f} | {g:,.0f} | {k / g:.2f}× |")
            if path == "decoder":
                lines.append(
                    f"- managedFields {'kept' if keep else 'stripped'}: kcore's events/s ≥ 1/2 of client-go's "
                    f"(decoder + store + handler): {k / g:.2f}× — {met(k / g >= 0.5)}"
                )
    return "\n".join(out), lines


def plot(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, ax = plt.subplots(figsize=(10, 5.5))
    for contender, color in zip(CONTENDERS, ("tab:blue", "tab:green", "tab:red", "tab:orange")):
        for keep, style in ((False, "-"), (True, "--")):
            points = sorted(
                (r["pods"], r["rss"] / r["pods"] / 1024)
                for r in rows
                if r["contender"] == contender and r["keep"] == keep
            )
            if points:
                ax.plot(
                    *zip(*points),
                    style,
                    marker="o",
                    color=color,
                    label=f"{contender}, managedFields {'kept' if keep else 'stripped'}",
                )
        for extra, label in (("heap_inuse", "Go heap in use"), ("trimmed", "after malloc_trim")):
            if contender in (KCORE, CLIENT_GO):
                points = sorted(
                    (r["pods"], r[extra] / r["pods"] / 1024)
                    for r in rows
                    if r["contender"] == contender and not r["keep"] and extra in r
                )
                if points:
                    ax.plot(*zip(*points), ":", marker="x", color=color, label=f"{contender}: {label}, stripped")
    sizes = sorted({r["pods"] for r in rows})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sizes)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:,.0f}k"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}" if str(round(y))[0] in "25" else ""))
    ax.set_xlabel("pods cached")
    ax.set_ylabel("RSS growth per cached pod (KiB)")
    ax.set_title("Informer memory per cached pod (python -m bench informer)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def describe(runs: int, official_max: int, sizes: list[int], began: float, events: int, megabytes: float) -> str:
    from importlib.metadata import version

    go = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    skipped = (
        f" The official client is run up to {official_max:,} pods (it keeps ~80 KB a pod)."
        if sizes[-1] > official_max
        else ""
    )
    if "KCORE_BENCH_COMMIT" in os.environ:
        tree = f"{os.environ['KCORE_BENCH_COMMIT'][:7]} (built from that commit alone)"
    else:
        tree = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    about = " ".join(
        [
            f"`python -m bench informer` ({time.strftime('%Y-%m-%d', time.localtime(began))}) on {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}, kcore {tree}, kubernetes {version('kubernetes')}, client-go v0.37.2 ({go});",
            "one kcore.testenv control plane (kube-apiserver v1.37.2 and etcd on the same cores) and one set of pods, grown",
            "between sizes: running pods as bench.codec makes them (a Deployment's pod; a kubelet's status written",
            "through the status subresource, so each has a `kubelet` managedFields entry beside its creator's), in 100",
            "namespaces, on 50 nodes, with 100 `app` labels. **Sync**: each contender in a fresh process per run, timed",
            "from starting its informer to synced; *RSS growth*: resident memory after the sync and a garbage collection",
            "(Go: two runtime.GC) minus just before the start (imports done, client built), per cached pod. *After",
            "malloc_trim*: the same once glibc has returned the free pages it keeps (the Python contenders), against",
            "which client-go's *Go heap in use* (HeapInuse growth) compares. Time is the best, memory the median, of",
            f"{runs} runs taken in rounds over the contenders.{skipped} The machine was shared with another engineer's",
            "test runs: *load* is the highest 1-minute load average seen after that row's runs.",
        ]
    )
    contenders = [
        "- **kcore**: `SharedIndexInformer(clientset.core_v1.pods())`, protobuf, compact cache; its default streaming "
        "list (a watch with sendInitialEvents); synced = `has_synced()` polled every 1 ms. managedFields stripped by "
        "its default transform (left out while decoding); kept with `set_transform(None)`.",
        "- **client-go**: v0.37.2's SharedInformerFactory pod informer (tests/e2e/informer_upstream `-mode bench`), "
        "protobuf, WatchListClient on (its default: the same streaming list); synced = HasSynced's channel; "
        "kube-controller-manager's transform strips managedFields (`-strip-managed-fields=false` keeps them).",
        "- **kubernetes SharedInformer**: the official client's `kubernetes.informer.SharedInformer` over "
        "`list_pod_for_all_namespaces`: one unpaged LIST in JSON into its models (no protobuf, no streaming list). "
        "It has no synced signal, so synced = its ADDED handler called for the last listed pod (it calls them once "
        "the cache holds the whole list); it has no transform either, so the stripped rows set "
        "`metadata.managed_fields = None` in that handler.",
        "- **LIST + orjson dict**: a plain baseline, not an informer: GET /api/v1/pods in JSON pages of 500 on one "
        'keep-alive connection (http.client), orjson.loads, each item into a dict keyed "namespace/name", '
        "managedFields popped (stripped rows).",
    ]
    return about + "\n\n" + "\n".join(contenders)


QUERIES_TEXT = " ".join(
    [
        "**Lister queries** over the largest set of pods, managedFields stripped, median of 21 calls each: kcore's",
        "indexer (the label selector evaluated in Rust over the objects its label index names; a `by_node` index function added before start; the",
        "namespace index kcore always keeps) against a plain Python scan over a dict of dicts (the LIST + orjson",
        "baseline's cache) doing the same filter, in the same process; and client-go's lister on its own synced",
        "informer (`lister.List(selector)`, `indexer.ByIndex`, `lister.Pods(ns).List`).",
    ]
)

REPLAY_TEXT = " ".join(
    [
        "**Watch events**: {events:,} MODIFIED events recorded once from the server as it sent them (protobuf",
        "watch frames, {megabytes:.1f} MB): {pods:,} more running pods in a namespace of their own, each given an",
        "annotation again and again by a controller-like patch while a watch was open. *Decoder + store + no-op",
        "handler*: the recorded bytes replayed in one process, after the store was filled (untimed) from the list",
        "body recorded at the watch's start: kcore feeds `WatchDecoder(PROTOBUF, compact=True, strip_managed_fields=…)`",
        "64 KiB at a time (managedFields left out while decoding, as the informer's default transform does),",
        "`Store.upsert`s and calls a no-op function (old, new); client-go runs",
        "the framer, streaming decoder and rest/watch Decoder its RESTClient builds for a typed watch, the",
        "transform, and processDeltas' steps (Get, Update the Indexer, a no-op handler's OnUpdate); bench/informer_go.",
        "*Whole informer, replay server*: each real informer (streaming list off: a LIST, then the WATCH) against",
        "a stand-in server on loopback (plain HTTP/1.0, a Python process of its own) that serves the recorded list",
        "and then the recorded stream; timed from synced until a no-op update handler has been called for every",
        "event, so the hand-off to the handler's thread (kcore) or goroutine (client-go) counts. Best of {runs}×{runs}",
        "replays (decoder) and of {runs} runs (whole informer), each in a fresh process.",
    ]
)


SNAPSHOTS = Path.home() / ".cache" / "kcore" / "bench-kcore"


def kcore_snapshot(commit: str) -> tuple[str, Path]:
    """kcore's Python package as of `commit` with its extension built from the same commit (a
    `git archive` export, `maturin build --release`, the wheel's _core copied in): the commit's
    full hash and the folder to put on PYTHONPATH. Built once; the Cargo target folder is
    seeded from the tree's own release build, so only the kcore crate itself compiles."""
    import zipfile

    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    src = SNAPSHOTS / sha[:12]
    python = src / "python"
    if (python / "kcore" / "_core.abi3.so").exists():
        return sha, python
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", sha], capture_output=True, check=True, cwd=ROOT).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    target = SNAPSHOTS / "target"
    if not target.exists() and (ROOT / "target" / "release").exists():
        target.mkdir(parents=True)
        for part in ("release", "maturin"):
            if (ROOT / "target" / part).exists():
                shutil.copytree(ROOT / "target" / part, target / part, symlinks=True)
    wheels = src / "wheels"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("maturin")),
            "build",
            "--release",
            "--quiet",
            "-i",
            sys.executable,
            "-o",
            str(wheels),
        ],
        cwd=src,
        env={**os.environ, "CARGO_TARGET_DIR": str(target)},
        check=True,
    )
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as built:
        (name,) = [n for n in built.namelist() if n.startswith("kcore/_core") and n.endswith(".so")]
        (python / "kcore" / Path(name).name).write_bytes(built.read(name))
    return sha, python


# -- main ------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        serve(argv[1], argv[2])
        return 0
    if argv[:1] == ["--worker"]:
        print(json.dumps(worker(argv[1:])), flush=True)
        # Without finalizing: the official informer's thread may be inside an SSL read (an abort).
        os._exit(0)
    opts = dict(a.lstrip("-").split("=", 1) for a in argv if "=" in a)
    if "kcore" in opts and "KCORE_BENCH_COMMIT" not in os.environ:
        sha, python = kcore_snapshot(opts["kcore"])
        print(f"kcore from {sha[:12]}: {python}", flush=True)
        env = {
            **os.environ,
            "KCORE_BENCH_COMMIT": sha,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(python), os.environ.get("PYTHONPATH")])),
        }
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "bench.informer", *argv], env)
    sizes = sorted(int(n) for n in opts.get("pods", "10000").split(","))
    runs = int(opts.get("runs", "3"))
    official_max = int(opts.get("official-max", "50000"))
    events = int(opts.get("events", "20000"))

    from kcore.testenv import ControlPlane

    sync_rows: list[dict[str, Any]] = []
    created = 0
    began = time.time()
    with ControlPlane() as cp, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = str(cp.kubeconfig)
        target = {"kubeconfig": kubeconfig, "server": cp.server, "ca_file": str(cp.ca_file), "token": cp.token}
        create_namespaces(kubeconfig, [namespace_of(i) for i in range(NAMESPACES)])
        for n in sizes:
            started = time.perf_counter()
            create_pods(kubeconfig, namespace_of, created, n, "bench")
            print(
                f"created pods {created:,}..{n - 1:,} in {time.perf_counter() - started:.0f} s (load {load()})",
                flush=True,
            )
            created = n
            for keep in (False, True):
                sync_rows += measure_sync(target, n, keep, runs, official_max)
        largest = sizes[-1]
        query_rows = measure_queries(target, largest, repeats=21)
        print(query_table(query_rows, largest), flush=True)
        list_file, watch_file = record_watch(target, kubeconfig, events, Path(tmp))
        megabytes = watch_file.stat().st_size / 1e6
        print(f"recorded {events:,} watch events, {megabytes:.1f} MB (load {load()})", flush=True)
        replay_rows = measure_replay(list_file, watch_file, events, runs, Path(tmp))
    plot(sync_rows)
    replay_text, replay_lines = replay_table(replay_rows, events)
    text = "\n".join(
        [
            "## informer: sync, lister queries, watch events (`python -m bench informer`)",
            "",
            describe(runs, official_max, sizes, began, events, megabytes),
            "",
            sync_table(sync_rows),
            "",
            *sync_bars(sync_rows),
            "",
            f"![RSS growth per cached pod against the pods cached]({PLOT.name})",
            "",
            QUERIES_TEXT,
            "",
            query_table(query_rows, largest),
            "",
            REPLAY_TEXT.format(events=events, megabytes=megabytes, pods=WATCH_PODS, runs=runs),
            "",
            replay_text,
            "",
            *replay_lines,
        ]
    )
    print(text)
    write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
