"""A secondary scheduler: kube-scheduler's loop (pkg/scheduler/schedule_one.go) over kcore's
informers, scheduling queue, Snapshot and Rust plugins, for the pods whose
``spec.schedulerName`` names it.

One scheduling thread takes a pod from the queue, runs the profile over the snapshot and either
assumes the pod on the chosen node (it counts there at once) and binds it on a pool of binding
threads, or writes why it fits nowhere: the PodScheduled=False condition (reason
Unschedulable, kube-scheduler's FitError message) and a FailedScheduling event. A binding that
fails is forgotten and the pod retried after its backoff.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from kcore._prometheus import PerRegistry
from kcore.controller.events import EventRecorder, object_reference
from kcore.controller.leader_election import LeaderElector
from kcore.controller.manager import LeaderElectionLost, LeaderElectionOptions
from kcore.errors import ApiError, NotFound
from kcore.informer import DeletedFinalStateUnknown, SharedInformerFactory
from kcore.scheduler.framework import Framework, select_host
from kcore.scheduler.profile import DEFAULT, Profile
from kcore.scheduler.scheduling_queue import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    ASSIGNED_POD_UPDATE,
    NODE_ADD,
    NODE_DELETE,
    NODE_UPDATE,
    PVC_ADD,
    QueuedPod,
    SchedulingQueue,
)
from kcore.scheduler.snapshot import Object, Snapshot

log = logging.getLogger("kcore.scheduler")

NOTE_LENGTH_LIMIT = 1024
"""events.k8s.io's limit on a note; longer FitError messages end in " ..." (truncateMessage)."""
NOT_TERMINAL = "status.phase!=Succeeded,status.phase!=Failed"
"""kube-scheduler's pod informer leaves finished pods out: they hold no resources."""
POLL = 0.5
"""How often the scheduling loop looks whether it should stop (leadership ended)."""
ATTEMPT_BUCKETS = tuple(0.001 * 2**i for i in range(15))
"""kube-scheduler's buckets of scheduler_scheduling_attempt_duration_seconds."""


class SchedulerCollector:
    """kube-scheduler's attempt counter and latency, and the pending pods of every running
    Scheduler, read from their queues at scrape time."""

    def __init__(self) -> None:
        self.attempts = Counter(
            "scheduler_schedule_attempts_total",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be "
            "scheduled, while 'error' means an internal scheduler problem.",
            ["result", "profile"],
            registry=None,
        )
        self.duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            ["result", "profile"],
            buckets=ATTEMPT_BUCKETS,
            registry=None,
        )
        self.queues: "list[SchedulingQueue]" = []

    def describe(self) -> Iterator[Metric]:
        yield from self.attempts.describe()
        yield from self.duration.describe()
        yield GaugeMetricFamily("scheduler_pending_pods", PENDING_HELP, labels=["queue"])

    def collect(self) -> Iterator[Metric]:
        yield from self.attempts.collect()
        yield from self.duration.collect()
        pending = GaugeMetricFamily("scheduler_pending_pods", PENDING_HELP, labels=["queue"])
        totals = {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0}
        for queue in list(self.queues):
            for place, count in queue.pending().items():
                totals[place] += count
        for place, count in totals.items():
            pending.add_metric([place], count)
        yield pending


PENDING_HELP = (
    "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number "
    "of pods in backoffQ; 'unschedulable' means number of pods in unschedulableEntities that the scheduler "
    "attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never "
    "attempted to schedule because they are gated."
)
_collectors = PerRegistry(SchedulerCollector)


class Scheduler:
    """Schedules the pods whose ``spec.schedulerName`` is ``scheduler_name`` with ``profile``
    (kube-scheduler's default profile for kcore's plugins when None). ``run()`` blocks until
    ``stop()``; ``with scheduler:`` runs it on a thread of its own.

    The clientset's rate limit paces the bindings, status writes and events: kube-scheduler
    uses 50 QPS with a burst of 100. ``seed`` makes the choice among equally scored nodes
    reproducible. ``registry``: where the metrics go (prometheus-client's default registry).

    ``leader_election``: replicas share the Lease it names and only the leader schedules (the
    others keep their caches warm); a leader that loses the lease without being stopped ends
    ``run()`` with LeaderElectionLost, as kube-scheduler exits."""

    def __init__(
        self,
        clientset: Any,
        profile: Optional[Profile] = None,
        scheduler_name: str = "kcore-scheduler",
        *,
        bind_workers: int = 16,
        seed: Optional[int] = None,
        registry: Optional[CollectorRegistry] = None,
        queue: Optional[SchedulingQueue] = None,
        leader_election: Optional[LeaderElectionOptions] = None,
    ) -> None:
        self.clientset = clientset
        self.profile = profile or DEFAULT
        self.scheduler_name = scheduler_name
        self.framework = Framework(self.profile)
        self.snapshot = Snapshot()
        self.queue = queue or SchedulingQueue()
        self.leader_election = leader_election
        self._registry = registry
        self._elector: Optional[LeaderElector] = None
        self._random = random.Random(seed)
        self._bind_workers = bind_workers
        self._metrics = _collectors.collector(registry)
        # kube-scheduler labels them with the profile's schedulerName.
        self._attempts = {r: self._metrics.attempts.labels(r, scheduler_name) for r in RESULTS}
        self._durations = {r: self._metrics.duration.labels(r, scheduler_name) for r in RESULTS}
        self._stopped = threading.Event()
        self._synced = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.events = EventRecorder(clientset, scheduler_name, socket.gethostname())
        self._factory = SharedInformerFactory(clientset)
        self._pod_factory = SharedInformerFactory(clientset, field_selector=NOT_TERMINAL)
        self._pods = self._pod_factory.core_v1.pods()
        self._factory.core_v1.nodes().add_event_handler(self._node_added, self._node_updated, self._node_deleted)
        self._factory.core_v1.namespaces().add_event_handler(
            lambda ns, *_: self.snapshot.set_namespace(ns),
            lambda _, ns: self.snapshot.set_namespace(ns),
            self._namespace_deleted,
        )
        self._pods.add_event_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self._factory.core_v1.persistent_volume_claims().add_event_handler(
            self._claim_added,
            lambda _, claim: self.snapshot.set_persistent_volume_claim(claim),
            self._claim_deleted,
        )
        # PodTopologySpread's default constraints select what a pod's services and controller select.
        for kind, informer in (
            ("Service", self._factory.core_v1.services()),
            ("ReplicationController", self._factory.core_v1.replication_controllers()),
            ("ReplicaSet", self._factory.apps_v1.replica_sets()),
            ("StatefulSet", self._factory.apps_v1.stateful_sets()),
        ):
            informer.add_event_handler(*self._selector_source_handlers(kind))

    # -- running -----------------------------------------------------------------------------

    def run(self, sync_timeout: Optional[float] = 60.0) -> None:
        """Starts the informers, waits for their caches, then schedules until ``stop()``."""
        self._metrics.queues.append(self.queue)
        try:
            self._factory.start()
            self._pod_factory.start()
            for factory in (self._factory, self._pod_factory):
                synced = factory.wait_for_cache_sync(timeout=sync_timeout)
                if not all(synced.values()):
                    raise TimeoutError(f"the scheduler's caches did not sync within {sync_timeout} s: {synced}")
            self._synced.set()
            with ThreadPoolExecutor(self._bind_workers, thread_name_prefix=f"{self.scheduler_name}-bind") as binds:
                if self.leader_election is None:
                    self._schedule(binds, self._stopped)
                else:
                    self._lead(binds, self.leader_election)
        finally:
            self._metrics.queues.remove(self.queue)
            self._factory.shutdown()
            self._pod_factory.shutdown()
            self.events.close()

    def _schedule(self, binds: ThreadPoolExecutor, until: threading.Event) -> None:
        while not until.is_set() and not self._stopped.is_set():
            info = self.queue.pop(timeout=POLL)
            if info is not None:
                self._schedule_one(info, binds)

    def _lead(self, binds: ThreadPoolExecutor, options: LeaderElectionOptions) -> None:
        """Schedule while this replica leads; LeaderElectionLost if it stops leading unasked."""
        self._elector = LeaderElector(
            self.clientset,
            **options.elector_arguments(),
            on_started_leading=lambda leading: self._schedule(binds, leading),
            on_stopped_leading=lambda: log.info("%s stopped leading", options.identity),
            registry=self._registry,
        )
        if self._stopped.is_set():
            return
        self._elector.run()
        if not self._stopped.is_set():
            raise LeaderElectionLost("leader election lost")

    def has_synced(self) -> bool:
        """Whether the caches have synced and pods are being scheduled."""
        return self._synced.is_set()

    def stop(self) -> None:
        """Ends ``run()`` after the pod being scheduled, once the bindings under way are done."""
        self._stopped.set()
        self.queue.close()
        if self._elector is not None:
            self._elector.stop()

    def __enter__(self) -> "Scheduler":
        self._thread = threading.Thread(target=self.run, name=self.scheduler_name, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join()

    def responsible_for(self, pod: Object) -> bool:
        """A pod this scheduler should place: its own, not bound, not being deleted."""
        spec = pod.get("spec") or {}
        metadata = pod.get("metadata") or {}
        return (
            spec.get("schedulerName") == self.scheduler_name
            and not spec.get("nodeName")
            and not metadata.get("deletionTimestamp")
        )

    # -- one pod ------------------------------------------------------------------------------

    def _schedule_one(self, info: QueuedPod, binds: ThreadPoolExecutor) -> None:
        pod = info.pod
        start = time.perf_counter()
        try:
            result = self.framework.score(pod, self.snapshot)
        except Exception as exc:  # a pod the plugins cannot read: kube-scheduler's SchedulerError
            log.exception("Error scheduling pod %s; retrying", _name(pod))
            self._failed(info, None, "SchedulerError", str(exc), start)
            return
        if not result.feasible:
            rejectors = {failure.plugin for failure in result.filtered.failures.values()}
            message = result.filtered.message() if self.snapshot else "no nodes available to schedule pods"
            self._failed(info, rejectors, "Unschedulable", message, start)
            return
        node = select_host(result, self._random)
        self.snapshot.assume_pod(pod, node)
        binds.submit(self._bind, info, node, start)

    def _bind(self, info: QueuedPod, node: str, start: float) -> None:
        pod = info.pod
        metadata = pod["metadata"]
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": metadata["name"], "namespace": metadata["namespace"], "uid": metadata.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        try:
            self.clientset.core_v1.pods(metadata["namespace"]).create_subresource(metadata["name"], "binding", binding)
        except Exception as exc:
            log.warning("Binding %s to %s failed: %s", _name(pod), node, exc)
            try:
                self.snapshot.forget_pod(pod)
            except KeyError:
                pass  # the informer saw it deleted meanwhile
            self._failed(info, None, "SchedulerError", f"Binding rejected: {exc}", start)
            return
        self.queue.done(info)
        self._attempts["scheduled"].inc()
        self._durations["scheduled"].observe(time.perf_counter() - start)
        self.events.event(
            _reference(pod),
            type="Normal",
            reason="Scheduled",
            action="Binding",
            note=f"Successfully assigned {metadata['namespace']}/{metadata['name']} to {node}",
        )

    def _failed(self, info: QueuedPod, rejectors: Optional[set], reason: str, message: str, start: float) -> None:
        """handleSchedulingFailure: count it, requeue the pod, tell the user why."""
        result = "unschedulable" if reason == "Unschedulable" else "error"
        self._attempts[result].inc()
        self._durations[result].observe(time.perf_counter() - start)
        self.queue.requeue(info, rejectors)
        pod = info.pod
        self.events.event(
            _reference(pod), type="Warning", reason="FailedScheduling", action="Scheduling", note=_truncated(message)
        )
        try:
            self._set_condition(pod, reason, message)
        except NotFound:
            pass  # deleted meanwhile
        except ApiError as exc:
            log.warning("Error updating pod %s: %s", _name(pod), exc)

    def _set_condition(self, pod: Object, reason: str, message: str) -> None:
        """PodScheduled=False with ``reason`` and ``message``, written only when it changes
        (podutil.UpdatePodCondition), as a strategic merge patch of the status."""
        metadata, status = pod["metadata"], pod.get("status") or {}
        old = next((c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), None)
        condition: Dict[str, Any] = {
            "type": "PodScheduled",
            "status": "False",
            "reason": reason,
            "message": message,
            "observedGeneration": metadata.get("generation"),
            "lastProbeTime": None,
            "lastTransitionTime": _now(),
        }
        if old is not None:
            if old.get("status") == "False":
                condition["lastTransitionTime"] = old.get("lastTransitionTime")
            if all(old.get(f) == condition[f] for f in ("status", "reason", "message", "lastTransitionTime")):
                return
        patch = {"status": {"conditions": [condition]}}
        self.clientset.core_v1.pods(metadata["namespace"]).patch(
            metadata["name"], patch, patch_type="strategic", subresource="status"
        )

    # -- the informers' events ----------------------------------------------------------------

    def _pod_added(self, pod: Object, *_: Any) -> None:
        if (pod.get("spec") or {}).get("nodeName"):
            self._count(pod)
            self.queue.move_on(ASSIGNED_POD_ADD)
        elif self.responsible_for(pod):
            self.queue.add(pod)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if (new.get("spec") or {}).get("nodeName"):
            bound_now = not (old.get("spec") or {}).get("nodeName")
            if bound_now:
                self.queue.delete(new)
            self._count(new)
            self.queue.move_on(ASSIGNED_POD_ADD if bound_now else ASSIGNED_POD_UPDATE)
        elif self.responsible_for(new):
            self.queue.update(new)
        else:
            self.queue.delete(new)

    def _pod_deleted(self, pod: Any) -> None:
        if isinstance(pod, DeletedFinalStateUnknown):
            pod = pod.obj
        self.queue.delete(pod)
        if (pod.get("spec") or {}).get("nodeName"):
            try:
                self.snapshot.remove_pod(pod)
            except KeyError:
                return
            self.queue.move_on(ASSIGNED_POD_DELETE)

    def _count(self, pod: Object) -> None:
        """The pod as the server has it on its node, replacing what was there (its assumed or
        older self)."""
        try:
            self.snapshot.remove_pod(pod)
        except KeyError:
            pass
        self.snapshot.add_pod(pod)

    def _node_added(self, node: Object, *_: Any) -> None:
        self.snapshot.add_node(node)
        self.queue.move_on(NODE_ADD)

    def _node_updated(self, _: Object, node: Object) -> None:
        self.snapshot.update_node(node)
        self.queue.move_on(NODE_UPDATE)

    def _node_deleted(self, node: Any) -> None:
        if isinstance(node, DeletedFinalStateUnknown):
            node = node.obj
        try:
            self.snapshot.remove_node(node["metadata"]["name"])
        except KeyError:
            return
        self.queue.move_on(NODE_DELETE)

    def _claim_added(self, claim: Object, *_: Any) -> None:
        self.snapshot.set_persistent_volume_claim(claim)
        self.queue.move_on(PVC_ADD)

    def _claim_deleted(self, claim: Any) -> None:
        if isinstance(claim, DeletedFinalStateUnknown):
            claim = claim.obj
        try:
            self.snapshot.remove_persistent_volume_claim(claim["metadata"]["namespace"], claim["metadata"]["name"])
        except KeyError:
            pass

    def _selector_source_handlers(self, kind: str) -> Tuple[Callable[..., None], ...]:
        def deleted(obj: Any) -> None:
            if isinstance(obj, DeletedFinalStateUnknown):
                obj = obj.obj
            try:
                self.snapshot.remove_selector_source(kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
            except KeyError:
                pass

        return (
            lambda obj, *_: self.snapshot.set_selector_source(kind, obj),
            lambda _, obj: self.snapshot.set_selector_source(kind, obj),
            deleted,
        )

    def _namespace_deleted(self, namespace: Any) -> None:
        if isinstance(namespace, DeletedFinalStateUnknown):
            namespace = namespace.obj
        try:
            self.snapshot.remove_namespace(namespace["metadata"]["name"])
        except KeyError:
            pass


RESULTS = ("scheduled", "unschedulable", "error")
"""The values of the ``result`` label of kube-scheduler's attempt metrics."""


def _name(pod: Any) -> str:
    metadata = pod.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"


def _reference(pod: Any) -> Any:
    """The pod's ObjectReference: an informer's objects from a list carry no kind."""
    return object_reference(pod, kind="Pod", api_version="v1")


def _truncated(message: str) -> str:
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    return message[: NOTE_LENGTH_LIMIT - 4] + " ..."


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
