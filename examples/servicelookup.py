"""servicelookup: which services select each pod, kept as a PodToService custom resource.

The seed's controller demo (caesarxuchao/servicelookup, 2017) made with kcore. For every pod it
keeps one ``PodToService`` (group servicelookup.example.com, v1; same namespace and name as the
pod) whose ``spec.services`` lists, sorted, the services of the pod's namespace whose selector
matches the pod's labels (``[]`` when none does; a service without a selector selects nothing).

    KUBECONFIG=... python examples/servicelookup.py      # until SIGINT or SIGTERM

The pattern, in the order an event travels:

- informers (one SharedInformerFactory): pods, services, and the PodToServices themselves;
- filters: a pod matters when created, deleted or relabelled; a service when created, deleted or
  its selector changed (kcore.controller predicates);
- a workqueue of pod keys ("namespace/name"): a pod event enqueues the pod; a service event the
  pods it selected before the change and after it (read from the pod lister); a PodToService
  event its owner pod, so a PodToService edited, deleted or left behind is put right;
- workers (kcore's Controller: never two on one key, errors retried with backoff) read the
  listers, never the API server, and write only what differs, through the dynamic client;
- a pod that is gone loses its PodToService: deleted explicitly, and owned by the pod through
  ownerReferences so that a real cluster's garbage collector would delete it too.

Unlike the 2017 demo (Endpoints read, one service per pod, namespace default, nothing ever
deleted) it answers by selector, so it needs no endpoints controller, keeps every service, is
namespaced, and cleans up.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading
import time
from typing import Any, Optional, Sequence

import kcore
from kcore.controller import Controller, Funcs, LabelsChanged, Result
from kcore.errors import AlreadyExists, Conflict, NotFound
from kcore.informer import SharedIndexInformer, SharedInformerFactory

GROUP, VERSION, PLURAL, KIND = "servicelookup.example.com", "v1", "podtoservices", "PodToService"
FIELD_MANAGER = "servicelookup"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "podtoservice", "kind": KIND, "shortNames": ["p2s"]},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["services"],
                                "properties": {"services": {"type": "array", "items": {"type": "string"}}},
                            }
                        },
                    }
                },
                "additionalPrinterColumns": [{"name": "Services", "type": "string", "jsonPath": ".spec.services"}],
            }
        ],
    },
}
"""The PodToService CustomResourceDefinition the controller installs on start."""

log = logging.getLogger("servicelookup")


def selects(selector: Optional[dict[str, str]], labels: Optional[dict[str, str]]) -> bool:
    """Whether a service's selector selects a pod with these labels (none or empty: nothing)."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(key) == value for key, value in selector.items())


def _selector(service: Any) -> dict[str, str]:
    return dict((service.get("spec") or {}).get("selector") or {})


def install_crd(clientset: kcore.Clientset, timeout: float = 60.0) -> None:
    """Create (or bring up to date) the PodToService CRD and wait until it is Established.
    Server-side apply makes it idempotent: every replica and every restart may call it."""
    crds = clientset.apiextensions_v1.custom_resource_definitions()
    crds.apply(CRD, field_manager=FIELD_MANAGER, force=True)
    deadline = time.monotonic() + timeout
    while True:
        status = crds.get(CRD["metadata"]["name"]).get("status") or {}
        if any(c["type"] == "Established" and c["status"] == "True" for c in status.get("conditions") or []):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the CRD {CRD['metadata']['name']} was not Established within {timeout:g} s")
        time.sleep(0.1)


class ServiceLookup:
    """The controller: ``start()`` installs the CRD, starts the informers and, once they have
    synced, the workers; ``stop()`` lets running reconciles finish and stops the informers.

        with ServiceLookup(kcore.load_config()) as lookup:
            stop_signal.wait()
    """

    def __init__(self, config: kcore.Config, *, workers: int = 2) -> None:
        self.clientset = kcore.Clientset(config)
        self.workers = workers
        self.factory = SharedInformerFactory(self.clientset)
        self.pods: SharedIndexInformer = self.factory.core_v1.pods()
        self.services: SharedIndexInformer = self.factory.core_v1.services()
        self.podtoservices: Optional[SharedIndexInformer] = None
        self._client: Any = None  # the dynamic client of PodToServices, once the CRD is served
        self.controller: Optional[Controller] = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        install_crd(self.clientset)
        dynamic = kcore.DynamicClient(self.clientset.config, transport=self.clientset.transport)
        self._client = dynamic.resource(GROUP, VERSION, PLURAL)
        self.podtoservices = self.factory.for_resource(GROUP, VERSION, PLURAL)
        selector_changed = Funcs(update=lambda old, new: _selector(old) != _selector(new))
        self.controller = (
            Controller("servicelookup", self.reconcile, workers=self.workers)
            .for_(self.pods, predicates=[LabelsChanged()])
            .watches(self.services, self.pods_selected_by, predicates=[selector_changed])
            .owns(self.podtoservices)
        )
        self.controller.start()  # starts the informers; the workers once all three have synced

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
        self.factory.shutdown()

    def __enter__(self) -> "ServiceLookup":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a service event enqueues, and what a pod's PodToService should say ----------------

    def pods_selected_by(self, service: Any) -> list[str]:
        """The keys of the pods ``service`` selects, from the pod lister (called with the old
        and with the new service of an update, so both the pods it stops selecting and those it
        starts selecting are reconciled)."""
        selector = _selector(service)
        if not selector:
            return []
        namespace = service["metadata"]["namespace"]
        label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        pods = self.pods.lister().namespace(namespace).list(label_selector=label_selector)
        return [f"{namespace}/{pod['metadata']['name']}" for pod in pods]

    def services_selecting(self, pod: Any) -> list[str]:
        """The sorted names of the services in the pod's namespace that select it (service lister)."""
        metadata = pod["metadata"]
        labels = dict(metadata.get("labels") or {})
        services = self.services.lister().namespace(metadata["namespace"]).list()
        return sorted(service["metadata"]["name"] for service in services if selects(_selector(service), labels))

    # -- the reconcile ---------------------------------------------------------------------------

    def reconcile(self, key: str) -> Optional[Result]:
        """Make the PodToService of pod ``key`` say what the listers say, or delete it if the
        pod is gone. Writes only when something differs."""
        assert self.podtoservices is not None and self._client is not None
        namespace, name = key.split("/")
        client = self._client.namespace(namespace)
        try:
            current = self.podtoservices.lister().namespace(namespace).get(name).to_dict()
        except NotFound:
            current = None
        try:
            pod = self.pods.lister().namespace(namespace).get(name)
        except NotFound:
            if current is not None:  # (not cached yet: its add event brings this key back)
                try:
                    client.delete(name)
                except NotFound:
                    pass
                log.info("PodToService %s: deleted (its pod is gone)", key)
            return None

        spec = {"services": self.services_selecting(pod)}
        owners = [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": pod["metadata"]["uid"], "controller": True}]
        try:
            if current is None:
                client.create(
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": KIND,
                        "metadata": {"name": name, "namespace": namespace, "ownerReferences": owners},
                        "spec": spec,
                    }
                )
                log.info("PodToService %s: %s (created)", key, ", ".join(spec["services"]) or "-")
            elif current.get("spec") != spec or current["metadata"].get("ownerReferences") != owners:
                current["spec"] = spec
                current["metadata"]["ownerReferences"] = owners
                client.update(current)  # its resourceVersion: Conflict if it changed meanwhile
                log.info("PodToService %s: %s (updated)", key, ", ".join(spec["services"]) or "-")
        except (AlreadyExists, Conflict):
            # The cache is behind our own or someone else's write: look again once it has caught up.
            return Result(requeue=True)
        return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="concurrent reconciles (default 2)")
    parser.add_argument(
        "--qps",
        type=float,
        default=None,
        help="client-side requests per second (default client-go's 5, burst 10; negative: no limit)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(name)s: %(message)s")

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    config = kcore.load_config()
    if args.qps is not None:
        config = dataclasses.replace(config, qps=args.qps)
    log.info("servicelookup against %s", config.server)
    with ServiceLookup(config, workers=args.workers):
        log.info("servicelookup: caches synced, workers running; SIGINT or SIGTERM stops it")
        while not stop.wait(1.0):
            pass
        log.info("servicelookup: stopping")
    log.info("servicelookup: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
