"""kcore quickstart: the servicelookup controller (examples/servicelookup.py) on a local cluster.

Run with ``./dev quickstart``. It starts etcd, kube-apiserver and kwok (a fake kubelet: pods bound
to its node run) with kcore.testenv, runs the servicelookup controller on the kubeconfig that
kcore.testenv wrote, then creates services and pods, changes a selector and deletes a pod. After
each step it prints the controller's writes as they happen, then the PodToService of every pod
once they all say which services select the pod. Exits 0 once the last step has converged.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Callable

# Run as a script, this file's folder is on sys.path: the controller is the example beside it.
from servicelookup import GROUP, PLURAL, VERSION, ServiceLookup

import kcore
from kcore.testenv import KWOK_NODE_ANNOTATION, ControlPlane

NAMESPACE = "shop"
NODE = "kwok-node-1"
CONVERGE_TIMEOUT = 30.0

Mapping = dict[str, list[str]]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="  %(message)s")
    logging.getLogger("servicelookup").setLevel(logging.INFO)  # the controller's writes, as they happen

    with ControlPlane(with_kwok=True, log=print) as cp:
        print(f"control plane {cp.release} at {cp.server}, with kwok\nKUBECONFIG={cp.kubeconfig}", flush=True)
        config = kcore.load_kubeconfig(str(cp.kubeconfig))
        cs = kcore.Clientset(config)
        cs.core_v1.nodes().create({"metadata": {"name": NODE, "annotations": {KWOK_NODE_ANNOTATION: "fake"}}})
        cs.core_v1.namespaces().create({"metadata": {"name": NAMESPACE}})
        services, pods = cs.core_v1.services(NAMESPACE), cs.core_v1.pods(NAMESPACE)

        with ServiceLookup(config):
            print("servicelookup: CRD installed, informers synced, workers running")
            podtoservices = kcore.DynamicClient(config).resource(GROUP, VERSION, PLURAL).namespace(NAMESPACE)

            def first_step() -> None:
                for name, selector in [
                    ("web", {"app": "web"}),
                    ("frontend", {"tier": "frontend"}),
                    ("db", {"app": "db"}),
                    ("external", None),
                ]:
                    services.create(
                        {
                            "metadata": {"name": name},
                            "spec": {"ports": [{"port": 80}], **({"selector": selector} if selector else {})},
                        }
                    )
                for name, labels in [
                    ("web-1", {"app": "web", "tier": "frontend"}),
                    ("web-2", {"app": "web", "tier": "frontend", "track": "canary"}),
                    ("db-1", {"app": "db"}),
                ]:
                    # No scheduler runs: each pod names the kwok node, which runs it.
                    pods.create(
                        {
                            "metadata": {"name": name, "labels": labels},
                            "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "app:1"}]},
                        }
                    )

            step(
                "services web (app=web), frontend (tier=frontend), db (app=db), external (no selector);\n"
                "pods web-1 (app=web tier=frontend), web-2 (app=web tier=frontend track=canary), db-1 (app=db)",
                first_step,
                podtoservices,
                {"db-1": ["db"], "web-1": ["frontend", "web"], "web-2": ["frontend", "web"]},
            )
            wait(lambda: all(p["status"].get("phase") == "Running" for p in pods.list()["items"]), "pods running")
            print(f"pods running on {NODE}:", ", ".join(sorted(p["metadata"]["name"] for p in pods.list()["items"])))

            step(
                "service web's selector becomes app=web,track=canary",
                lambda: services.patch("web", {"spec": {"selector": {"app": "web", "track": "canary"}}}),
                podtoservices,
                {"db-1": ["db"], "web-1": ["frontend"], "web-2": ["frontend", "web"]},
            )

            step(
                "pod web-2 deleted (kwok, as its kubelet, lets it go)",
                lambda: pods.delete("web-2"),
                podtoservices,
                {"db-1": ["db"], "web-1": ["frontend"]},
            )
        print("servicelookup: stopped")


def step(what: str, action: Callable[[], Any], podtoservices: Any, expected: Mapping) -> None:
    """Do one step, wait until the PodToServices say ``expected``, print them."""
    print(f"\n== {what}")
    action()
    wait(
        lambda: mapping(podtoservices) == expected,
        "the PodToServices to converge",
        lambda: f"they say {mapping(podtoservices)}, not {expected}",
    )
    rows = [
        f"  {NAMESPACE}/{pod:<8} {', '.join(services) or '-'}"
        for pod, services in sorted(mapping(podtoservices).items())
    ]
    # One write: the controller logs from its own threads, and a line of its must not split the table.
    print("\n".join(["converged: pod -> services", *rows]), flush=True)


def mapping(podtoservices: Any) -> Mapping:
    return {p["metadata"]["name"]: p["spec"]["services"] for p in podtoservices.list()["items"]}


def wait(condition: Callable[[], bool], what: str, details: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"waited {CONVERGE_TIMEOUT:g} s for {what}; {details()}")
        time.sleep(0.1)


if __name__ == "__main__":
    main()
