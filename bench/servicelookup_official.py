"""The servicelookup demo (examples/servicelookup.py) written on the official ``kubernetes``
client, the baseline of ``python -m bench servicelookup``.

It keeps the same ``PodToService`` objects (servicelookup.example.com/v1, one per pod, same
namespace and name, ``spec.services`` the sorted names of the services of the pod's namespace
whose selector matches its labels, owned by the pod) the way a controller is written with that
client and no informer library: for pods, services and PodToServices in all namespaces, a LIST
into a dict, then a ``kubernetes.watch.Watch`` stream from the list's resourceVersion keeping
the dict up to date (a LIST again when the watch answers 410 Gone); every pod event, the pods a
service selected before and after its event, and the owner of each PodToService event go into
a queue of pod keys that never hands one key to two workers at once; the workers start once
the three lists are in, read the dicts and write only what differs through CustomObjectsApi.

    python bench/servicelookup_official.py --kubeconfig=PATH [--workers=2]   # until SIGTERM

It prints one JSON line, ``{"start": <time.time()>, "cpu": <its CPU seconds so far>}``, as it starts
(imports done, client built).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from typing import Any, Callable, Optional

import kubernetes
from kubernetes.client.exceptions import ApiException

GROUP, VERSION, PLURAL, KIND = "servicelookup.example.com", "v1", "podtoservices", "PodToService"
CRD_NAME = f"{PLURAL}.{GROUP}"
WATCH_SECONDS = 3600


class KeyQueue:
    """Pod keys to reconcile: a key added while queued is queued once; a key added while a
    worker has it is queued again when that worker is done (so never two workers on one key)."""

    def __init__(self) -> None:
        self._ready: list[str] = []
        self._queued: set[str] = set()
        self._working: set[str] = set()
        self._again: set[str] = set()
        self._cond = threading.Condition()

    def add(self, key: str) -> None:
        with self._cond:
            if key in self._working:
                self._again.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._ready.append(key)
                self._cond.notify()

    def get(self) -> str:
        with self._cond:
            while not self._ready:
                self._cond.wait()
            key = self._ready.pop(0)
            self._queued.discard(key)
            self._working.add(key)
            return key

    def done(self, key: str) -> None:
        with self._cond:
            self._working.discard(key)
            if key in self._again:
                self._again.discard(key)
                self.add(key)  # (the Condition's lock is reentrant)


def selects(selector: Optional[dict[str, str]], labels: Optional[dict[str, str]]) -> bool:
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(key) == value for key, value in selector.items())


class ServiceLookup:
    def __init__(self, api_client: kubernetes.client.ApiClient, workers: int) -> None:
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.custom = kubernetes.client.CustomObjectsApi(api_client)
        self.extensions = kubernetes.client.ApiextensionsV1Api(api_client)
        self.workers = workers
        self.pods: dict[str, Any] = {}  # "namespace/name" -> V1Pod
        self.services: dict[str, Any] = {}  # "namespace/name" -> V1Service
        self.podtoservices: dict[str, dict[str, Any]] = {}  # "namespace/name" -> the object
        self.lock = threading.Lock()
        self.queue = KeyQueue()

    # -- the caches: list, then watch ------------------------------------------------------

    def kinds(self) -> list[tuple[Callable[..., Any], dict[str, Any], Callable[[str, Any, Any], None]]]:
        """(list function, its arguments, what an event does) for pods, services, PodToServices."""
        return [
            (self.core.list_pod_for_all_namespaces, {}, self.on_pod),
            (self.core.list_service_for_all_namespaces, {}, self.on_service),
            (
                self.custom.list_cluster_custom_object,
                {"group": GROUP, "version": VERSION, "plural": PLURAL},
                self.on_podtoservice,
            ),
        ]

    def relist(
        self,
        list_fn: Callable[..., Any],
        args: dict[str, Any],
        on_event: Callable[[str, Any, Any], None],
        cache: dict[str, Any],
    ) -> str:
        """LIST into ``cache`` (what is gone from it counts as deleted); the list's resourceVersion."""
        listed = list_fn(**args)
        items = listed["items"] if isinstance(listed, dict) else listed.items
        fresh = {key_of(item): item for item in items}
        for key in set(cache) - set(fresh):
            on_event("DELETED", key, cache[key])
        for key, item in fresh.items():
            on_event("ADDED", key, item)
        version = (
            listed["metadata"]["resourceVersion"] if isinstance(listed, dict) else listed.metadata.resource_version
        )
        return str(version)

    def watch(
        self,
        list_fn: Callable[..., Any],
        args: dict[str, Any],
        on_event: Callable[[str, Any, Any], None],
        cache: dict[str, Any],
        version: str,
    ) -> None:
        while True:
            try:
                stream = kubernetes.watch.Watch().stream(
                    list_fn, resource_version=version, timeout_seconds=WATCH_SECONDS, **args
                )
                for event in stream:
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        raise ApiException(status=obj.get("code") if isinstance(obj, dict) else None)
                    on_event(event["type"], key_of(obj), obj)
                    version = resource_version(obj)
            except ApiException as error:
                if error.status != 410:
                    raise
                version = self.relist(list_fn, args, on_event, cache)

    def on_pod(self, kind: str, key: str, pod: Any) -> None:
        with self.lock:
            old = self.pods.get(key)
            if kind == "DELETED":
                self.pods.pop(key, None)
            else:
                self.pods[key] = pod
        if kind != "MODIFIED" or old is None or old.metadata.labels != pod.metadata.labels:
            self.queue.add(key)

    def on_service(self, kind: str, key: str, service: Any) -> None:
        with self.lock:
            old = self.services.get(key)
            if kind == "DELETED":
                self.services.pop(key, None)
            else:
                self.services[key] = service
            if old is not None and old.spec.selector == service.spec.selector and kind == "MODIFIED":
                return
            namespace = service.metadata.namespace
            selected = [
                k
                for k, pod in self.pods.items()
                if pod.metadata.namespace == namespace
                and any(selects(s.spec.selector, pod.metadata.labels) for s in (old, service) if s is not None)
            ]
        for pod_key in selected:
            self.queue.add(pod_key)

    def on_podtoservice(self, kind: str, key: str, obj: dict[str, Any]) -> None:
        with self.lock:
            if kind == "DELETED":
                self.podtoservices.pop(key, None)
            else:
                self.podtoservices[key] = obj
        self.queue.add(key)

    # -- the workers ---------------------------------------------------------------------------

    def work(self) -> None:
        while True:
            key = self.queue.get()
            try:
                again = self.reconcile(key)
            except ApiException as error:
                print(f"reconcile {key}: {error.status} {error.reason}", flush=True)
                again = True
            finally:
                self.queue.done(key)
            if again:
                threading.Timer(0.05, self.queue.add, (key,)).start()

    def reconcile(self, key: str) -> bool:
        """Make the PodToService of pod ``key`` say what the caches say; whether to look again."""
        namespace, name = key.split("/")
        with self.lock:
            pod = self.pods.get(key)
            current = self.podtoservices.get(key)
            services = sorted(
                s.metadata.name
                for s in self.services.values()
                if s.metadata.namespace == namespace
                and pod is not None
                and selects(s.spec.selector, pod.metadata.labels)
            )
        if pod is None:
            if current is not None:
                try:
                    self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
                except ApiException as error:
                    if error.status != 404:
                        raise
            return False
        spec = {"services": services}
        owners = [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": pod.metadata.uid, "controller": True}]
        try:
            if current is None:
                self.custom.create_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": KIND,
                        "metadata": {"name": name, "namespace": namespace, "ownerReferences": owners},
                        "spec": spec,
                    },
                )
            elif current.get("spec") != spec or current["metadata"].get("ownerReferences") != owners:
                body = {**current, "spec": spec, "metadata": {**current["metadata"], "ownerReferences": owners}}
                self.custom.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, body)
        except ApiException as error:
            if error.status in (409,):  # the cache is behind a write: look again once it has caught up
                return True
            raise
        return False

    # -- start -----------------------------------------------------------------------------------

    def ensure_crd(self) -> None:
        try:
            self.extensions.read_custom_resource_definition(CRD_NAME)
        except ApiException as error:
            if error.status != 404:
                raise
            raise SystemExit(f"the CRD {CRD_NAME} is not installed (bench.servicelookup installs it)") from None

    def start(self) -> None:
        self.ensure_crd()
        caches = [self.pods, self.services, self.podtoservices]
        versions = [
            self.relist(list_fn, args, on_event, cache)
            for (list_fn, args, on_event), cache in zip(self.kinds(), caches)
        ]
        for (list_fn, args, on_event), cache, version in zip(self.kinds(), caches, versions):
            threading.Thread(target=self.watch, args=(list_fn, args, on_event, cache, version), daemon=True).start()
        for _ in range(self.workers):
            threading.Thread(target=self.work, daemon=True).start()


def key_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


def resource_version(obj: Any) -> str:
    return str(obj["metadata"]["resourceVersion"] if isinstance(obj, dict) else obj.metadata.resource_version)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lookup = ServiceLookup(kubernetes.config.new_client_from_config(config_file=args.kubeconfig), args.workers)
    print(json.dumps({"start": time.time(), "cpu": sum(os.times()[:2])}), flush=True)
    lookup.start()
    stop.wait()


if __name__ == "__main__":
    main()
