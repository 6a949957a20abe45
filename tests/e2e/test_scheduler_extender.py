"""kcore's scheduler extender behind a REAL kube-scheduler (v1.37.2) with a dozen kwok nodes.

One control plane serves every test: its KubeSchedulerConfiguration lists several extenders,
each limited by managedResources (ignoredByScheduler, so no node needs to have the resource) to
the pods that request its own extended resource. So one scheduler exercises a full-node
extender that filters, prioritizes and binds, a nodeCacheCapable one over a kcore informer's
cache, and extenders that answer garbage or time out, ignorable or not.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Set

import pytest

import kcore
from kcore.informer import SharedInformerFactory
from kcore.scheduler import Snapshot
from kcore.scheduler.extender import Extender
from kcore.scheduler.extender_wire import Victims
from kcore.scheduler.profile_extender import bin_packing_prioritizer
from kcore.testenv import KWOK_NODE_ANNOTATION, ControlPlane
from tests.clusters import admin_config
from tests.waiting import wait_for

NODES = [f"ext-node-{i:02}" for i in range(12)]  # a dozen kwok nodes suffice to see the choices
ALLOWED = set(NODES[:6])  # labelled kcore.test/allowed=true; the full-node extender passes only these
PREFERRED = "ext-node-04"  # the full-node extender scores it 10, every other node 0
CACHED_ALLOWED = {"ext-node-08", "ext-node-09", "ext-node-10"}  # what the nodeCacheCapable one passes
CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110"}
SLOW = 3.0  # seconds the slow extender takes; kube-scheduler's httpTimeout for it is 500ms


class Extenders:
    """The extenders' servers and what they were asked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.filtered: Dict[str, Set[str]] = {}  # pod name -> the nodes the extender was asked about
        self.bound: Dict[str, str] = {}  # pod name -> node, bound by the extender's bind verb
        self.cached_filtered: Dict[str, Set[str]] = {}
        self.clientset: Any = None
        self.snapshot = Snapshot()
        self.preempt_offers: Dict[str, List[str]] = {}  # node -> the victims kube-scheduler offered there
        self.preempt_keep = ""  # the one candidate node the preempting extender keeps

    def full_node(self) -> Extender:
        ext = Extender()

        @ext.filter
        def allowed(pod: dict, node: dict) -> Any:
            with self.lock:
                self.filtered.setdefault(pod["metadata"]["name"], set()).add(node["metadata"]["name"])
            if node["metadata"].get("labels", {}).get("kcore.test/allowed") != "true":
                return "not an allowed node"
            return None

        @ext.prioritize
        def preferred(pod: dict, node: dict) -> int:
            return 10 if node["metadata"]["name"] == PREFERRED else 0

        @ext.bind
        def bind(namespace: str, name: str, uid: str, node: str) -> None:
            self.clientset.core_v1.pods(namespace).create_subresource(
                name,
                "binding",
                {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": name, "uid": uid},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": node},
                },
            )
            with self.lock:
                self.bound[name] = node

        return ext

    def node_cache(self, lister: Any) -> Extender:
        ext = Extender(node_lister=lister)

        @ext.filter_batch
        def only_some(pod: dict, nodes: List[dict]) -> Dict[str, str]:
            with self.lock:
                self.cached_filtered[pod["metadata"]["name"]] = {n["metadata"]["name"] for n in nodes}
            return {
                n["metadata"]["name"]: "not one of the cached extender's nodes"
                for n in nodes
                if n["metadata"]["name"] not in CACHED_ALLOWED
            }

        return ext

    def preemption(self) -> Extender:
        ext = Extender()

        @ext.preempt
        def keep_one(pod: dict, candidates: Dict[str, Victims]) -> Dict[str, Victims]:
            with self.lock:
                self.preempt_offers = {n: [p["metadata"]["name"] for p in v.pods] for n, v in candidates.items()}
            return {n: v for n, v in candidates.items() if n == self.preempt_keep}

        return ext

    @staticmethod
    def slow() -> Extender:
        ext = Extender()

        @ext.filter
        def sleepy(pod: dict, node: dict) -> None:
            time.sleep(SLOW)

        return ext


class Garbage(BaseHTTPRequestHandler):
    """An extender that answers 200 with a body that is not JSON."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"garbage"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def extender_config(url: str, resource: str, ignorable: bool, **verbs: Any) -> Dict[str, Any]:
    return {
        "urlPrefix": url,
        "filterVerb": "filter",
        "ignorable": ignorable,
        "httpTimeout": "500ms",
        "managedResources": [{"name": resource, "ignoredByScheduler": True}],
        **verbs,
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[ControlPlane, Extenders, Any]]:
    ext = Extenders()
    # The nodeCacheCapable extender's lister is filled once the plane runs; its server starts now
    # because kube-scheduler's configuration needs every URL up front.
    lister_box: Dict[str, Any] = {}

    class LateLister:
        def get(self, name: str) -> Any:
            return lister_box["lister"].get(name)

    snapshot = ext.snapshot  # the bin-packing extender's view, kept current by informers below
    packer = bin_packing_prioritizer(snapshot, ignored_resources=["kcore.test/packed"]).serve()
    preempter = ext.preemption().serve()
    full = ext.full_node().serve()
    cached = ext.node_cache(LateLister()).serve()
    slow = Extenders.slow().serve()
    garbage = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=garbage.serve_forever, daemon=True).start()
    garbage_url = f"http://127.0.0.1:{garbage.server_address[1]}"
    extenders = [
        extender_config(full.url, "kcore.test/full", False, prioritizeVerb="prioritize", bindVerb="bind", weight=50),
        extender_config(cached.url, "kcore.test/cached", False, nodeCacheCapable=True),
        extender_config(garbage_url, "kcore.test/garbage-ignorable", True),
        extender_config(garbage_url, "kcore.test/garbage-required", False),
        extender_config(slow.url, "kcore.test/slow-ignorable", True),
        extender_config(slow.url, "kcore.test/slow-required", False),
        {
            **extender_config(packer.url, "kcore.test/packed", False, prioritizeVerb="prioritize", weight=50),
            "filterVerb": "",
        },
        {**extender_config(preempter.url, "kcore.test/preempt", False, preemptVerb="preempt"), "filterVerb": ""},
    ]
    try:
        with ControlPlane(with_scheduler=True, with_kwok=True, scheduler_config={"extenders": extenders}) as cp:
            cs = kcore.Clientset(admin_config(cp))
            ext.clientset = cs
            for _i, name in enumerate(NODES):
                labels = {"kcore.test/allowed": "true"} if name in ALLOWED else {}
                cs.core_v1.nodes().create(
                    {"metadata": {"name": name, "labels": labels, "annotations": {KWOK_NODE_ANNOTATION: "fake"}}}
                )
            factory = SharedInformerFactory(cs)
            nodes = factory.core_v1.nodes()
            nodes.add_event_handler(
                on_add=lambda node, *_: snapshot.add_node(node),
                on_update=lambda old, new: snapshot.update_node(new),
                on_delete=lambda node: None,
            )

            def pod_changed(old: Any, new: Any) -> None:
                if new["spec"].get("nodeName") and not (old and old["spec"].get("nodeName")):
                    snapshot.add_pod(new)  # bound: it counts on its node from now on

            factory.core_v1.pods().add_event_handler(
                on_add=lambda new, *_: pod_changed(None, new), on_update=pod_changed, on_delete=lambda old: None
            )
            factory.start()
            assert all(factory.wait_for_cache_sync(timeout=30).values())
            lister_box["lister"] = nodes.lister()

            def ready(node: Any) -> bool:
                return any(
                    c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", [])
                )

            assert wait_for(
                lambda: len(nodes.lister().list()) == len(NODES) and all(map(ready, nodes.lister().list())), timeout=30
            ), "kwok did not make every node Ready"
            # kwok has initialized the nodes: now set what it keeps. No node controller runs to lift
            # the not-ready taint admission put on; 4 CPUs each, so that bin packing shows.
            for name in NODES:
                cs.core_v1.nodes().patch(name, {"spec": {"taints": None}})
                cs.core_v1.nodes().patch(
                    name, {"status": {"allocatable": CAPACITY, "capacity": CAPACITY}}, subresource="status"
                )
            assert wait_for(
                lambda: all(
                    not n["spec"].get("taints") and n["status"]["allocatable"] == CAPACITY
                    for n in nodes.lister().list()
                ),
                timeout=30,
            ), "the nodes were not set up"
            try:
                yield cp, ext, cs
            finally:
                factory.shutdown()
    finally:
        for server in (full, cached, slow, packer, preempter):
            server.close()
        garbage.shutdown()
        garbage.server_close()


def pod(name: str, resource: str, cpu: str = "") -> Dict[str, Any]:
    limits = {resource: "1", **({"cpu": cpu} if cpu else {})}
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "app", "image": "nginx", "resources": {"requests": limits, "limits": limits}}]
        },
    }


def node_of(cs: Any, name: str) -> str:
    return cs.core_v1.pods("default").get(name)["spec"].get("nodeName") or ""


def scheduling_events(cs: Any, names: List[str]) -> str:
    """Why the pods were not scheduled, for a failing assertion."""
    return f"pods were not scheduled: {[(e['involvedObject']['name'], e['message']) for e in cs.core_v1.events('default').list()['items'] if e['involvedObject']['name'] in names]}"


def scheduled(cs: Any, names: List[str], resource: str) -> Dict[str, str]:
    """Create a pod per name requesting ``resource``; where kube-scheduler put each."""
    for name in names:
        cs.core_v1.pods("default").create(pod(name, resource))
    assert wait_for(lambda: all(node_of(cs, n) for n in names), timeout=30), scheduling_events(cs, names)
    return {name: node_of(cs, name) for name in names}


def test_pods_land_only_on_nodes_the_extender_allows_and_on_the_one_it_prefers(cluster: Any) -> None:
    _, ext, cs = cluster
    names = [f"full-{i}" for i in range(4)]
    assert set(scheduled(cs, names, "kcore.test/full").values()) == {PREFERRED}
    # kube-scheduler asked about every node, so the filter did narrow the choice.
    assert all(ext.filtered[n] == set(NODES) for n in names)


def test_the_extenders_bind_verb_binds_through_kcores_client(cluster: Any) -> None:
    _, ext, cs = cluster
    node = scheduled(cs, ["bound"], "kcore.test/full")["bound"]
    assert ext.bound["bound"] == node == PREFERRED


def test_a_node_cache_capable_extender_gets_names_and_resolves_them_from_an_informer(cluster: Any) -> None:
    _, ext, cs = cluster
    names = [f"cached-{i}" for i in range(6)]
    assert set(scheduled(cs, names, "kcore.test/cached").values()) <= CACHED_ALLOWED
    assert all(ext.cached_filtered[n] == set(NODES) for n in names)


@pytest.mark.parametrize("broken", ["garbage", "slow"])
def test_an_ignorable_extender_that_fails_is_skipped_and_the_pod_is_scheduled(cluster: Any, broken: str) -> None:
    _, _, cs = cluster
    name = f"{broken}-ignorable"
    assert scheduled(cs, [name], f"kcore.test/{broken}-ignorable")[name] in NODES


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        ("garbage", "invalid character 'g' looking for beginning of value"),
        ("slow", "Client.Timeout exceeded"),
    ],
)
def test_a_required_extender_that_fails_leaves_the_pod_pending_with_its_error(
    cluster: Any, broken: str, error: str
) -> None:
    _, _, cs = cluster
    name = f"{broken}-required"
    cs.core_v1.pods("default").create(pod(name, f"kcore.test/{broken}-required"))

    def failed_scheduling() -> bool:
        events = cs.core_v1.events("default").list(field_selector=f"involvedObject.name={name}")["items"]
        return any(e["reason"] == "FailedScheduling" and error in e["message"] for e in events)

    assert wait_for(failed_scheduling, timeout=30), (
        "no FailedScheduling event carries the extender's error: "
        f"{[e['message'] for e in cs.core_v1.events('default').list(field_selector=f'involvedObject.name={name}')['items']]}"
    )
    current = cs.core_v1.pods("default").get(name)
    assert not current["spec"].get("nodeName")
    condition = next(c for c in current["status"]["conditions"] if c["type"] == "PodScheduled")
    assert condition["status"] == "False" and error in condition["message"]


def test_the_bin_packing_prioritizer_fills_one_node_before_the_next(cluster: Any) -> None:
    _, ext, cs = cluster
    placed: List[str] = []
    for i in range(4):  # 4 x 1 CPU: exactly one node's worth
        name = f"packed-{i}"
        cs.core_v1.pods("default").create(pod(name, "kcore.test/packed", cpu="1"))
        assert wait_for(lambda: node_of(cs, name) != "", timeout=30), scheduling_events(cs, [name])
        placed.append(node_of(cs, name))
        # The extender scores from its informer-fed snapshot: let it see this pod before the next.
        uid = cs.core_v1.pods("default").get(name)["metadata"]["uid"]
        assert wait_for(lambda: uid in ext.snapshot.pod_keys(placed[-1]), timeout=10)
    assert len(set(placed)) == 1, placed


def test_preemption_asks_the_extender_and_evicts_only_on_the_candidate_it_keeps(cluster: Any) -> None:
    _, ext, cs = cluster
    # Two nodes no other test put CPU requests on, each nearly full with a low-priority pod.
    cpu_used = {
        p["spec"].get("nodeName")
        for p in cs.core_v1.pods("default").list()["items"]
        if any("cpu" in c["resources"].get("requests", {}) for c in p["spec"]["containers"])
    }
    kept, spared = [n for n in NODES if n not in cpu_used][-2:]
    ext.preempt_keep = kept
    for node in (kept, spared):
        cs.core_v1.nodes().patch(node, {"metadata": {"labels": {"kcore.test/pool": "preempt"}}})
        victim = pod(f"victim-{node}", "kcore.test/none", cpu="3")
        victim["spec"].update(nodeName=node, terminationGracePeriodSeconds=0)
        cs.core_v1.pods("default").create(victim)
    cs.scheduling_v1.priority_classes().create({"metadata": {"name": "kcore-extender-high"}, "value": 1000})
    preemptor = pod("preemptor", "kcore.test/preempt", cpu="2")
    preemptor["spec"].update(priorityClassName="kcore-extender-high", nodeSelector={"kcore.test/pool": "preempt"})
    cs.core_v1.pods("default").create(preemptor)
    assert wait_for(lambda: node_of(cs, "preemptor") == kept, timeout=60), scheduling_events(cs, ["preemptor"])
    assert ext.preempt_offers == {kept: [f"victim-{kept}"], spared: [f"victim-{spared}"]}
    remaining = {p["metadata"]["name"] for p in cs.core_v1.pods("default").list()["items"]}
    assert f"victim-{spared}" in remaining and f"victim-{kept}" not in remaining
