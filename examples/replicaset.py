"""replicaset: kube-controller-manager's ReplicaSet controller, made with kcore.

It keeps ``spec.replicas`` pods for each apps/v1 ReplicaSet, as the pinned release's
pkg/controller/replicaset does (kubernetes v1.37.2; tests/e2e/test_replicaset.py runs both on the
same inputs and compares what they did):

    KUBECONFIG=... python examples/replicaset.py      # until SIGINT or SIGTERM

(under a kcore Manager: /metrics on :8080, /healthz and /readyz on :8081).

The pattern, in the order an event travels:

- informers (one SharedInformerFactory): ReplicaSets, indexed by their controller's uid (to find
  the ReplicaSets of one Deployment), and pods, indexed by their controller (to find a
  ReplicaSet's pods and the orphans of its namespace without scanning them all);
- event handlers (kcore.controller.EventHandler) that tell an add from an update or a delete: a
  pod event wakes the ReplicaSet that controls the pod (an orphan's: every ReplicaSet that
  selects it), and first lowers that ReplicaSet's *expectations*;
- expectations: a ReplicaSet that asked for creates or deletes does nothing more until the
  informer has seen them all (or 5 minutes have passed), so it never acts on a cache that does
  not show its own writes yet (deletes are tracked by pod, so a graceful delete's update and its
  final delete count once);
- workers (kcore's Controller) that, for one ReplicaSet: claim its pods (adopt the matching
  orphans, release the pods that stopped matching, as ControllerRefManager), create the missing
  pods from the template in slow-start batches (1, 2, 4, ... at most 500 per sync; a batch
  that fails stops the rest) or delete the excess, the pods that matter least first (upstream's
  ranking: unassigned, pending, not ready, low deletion cost, crowded on a node, ready for less
  time, restarted more, newer), then write the status (replicas, fullyLabeledReplicas,
  readyReplicas, availableReplicas after minReadySeconds, terminatingReplicas, the ReplicaFailure
  condition, observedGeneration).

Not here: the events kube-controller-manager records (SuccessfulCreate, ...) and its
read-your-writes consistency store (feature StaleControllerConsistencyReplicaSet); expectations
cover the creates and deletes, and a write against a stale object fails with a Conflict.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional, Sequence

from prometheus_client import CollectorRegistry

import kcore
from kcore.controller import Controller, EventHandler, Manager, Result
from kcore.errors import ApiError, Invalid, KcoreError, NotFound
from kcore.informer import (
    LabelSelector,
    SharedIndexInformer,
    SharedInformerFactory,
    label_selector,
    label_selector_string,
    parse_label_selector,
)

API_VERSION, KIND = "apps/v1", "ReplicaSet"
BURST_REPLICAS = 500
"""The most pods one sync creates or deletes (kube-controller-manager's BurstReplicas)."""
SLOW_START_INITIAL_BATCH_SIZE = 1
"""Creates go in batches of 1, 2, 4, ...: a quota that refuses the first costs one request."""
EXPECTATIONS_TIMEOUT = 300.0
"""How long a ReplicaSet waits for the informer to show its creates and deletes before it acts
anyway (a watch that dropped an event must not put it to sleep for good)."""
STATUS_UPDATE_RETRIES = 1
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
POD_CONTROLLER_INDEX = "podController"
CONTROLLER_UID_INDEX = "controllerUID"
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
CREATE_THREADS = 16
"""How many of a batch's creates (and of a sync's deletes) run at once."""

log = logging.getLogger("replicaset")


# -- reading objects ---------------------------------------------------------------------------


def controller_of(obj: Any) -> Optional[dict[str, Any]]:
    """The ownerReference with ``controller: true``, if any (metav1.GetControllerOf)."""
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def pod_key(pod: Any) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def parse_time(value: Optional[str]) -> Optional[datetime]:
    """An RFC 3339 timestamp of the API; None for a missing one (Go's zero time)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def is_active(pod: Any) -> bool:
    """Neither finished nor being deleted (controller.IsPodActive)."""
    return pod["status"].get("phase") not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def is_terminating(pod: Any) -> bool:
    """Being deleted and not finished (controller.IsPodTerminating)."""
    return pod["status"].get("phase") not in ("Succeeded", "Failed") and bool(pod["metadata"].get("deletionTimestamp"))


def ready_condition(pod: Any) -> Optional[dict[str, Any]]:
    for condition in pod["status"].get("conditions") or ():
        if condition.get("type") == "Ready":
            return dict(condition)
    return None


def is_ready(pod: Any) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def is_available(pod: Any, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (podutil.IsPodAvailable)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and since.timestamp() + min_ready_seconds <= now.timestamp()


# -- which pods to delete first ----------------------------------------------------------------


PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_cost(pod: Any) -> int:
    """controller.kubernetes.io/pod-deletion-cost: a plain int32 ("-5", "0", "10"; not "+5" nor
    "007"), 0 when absent or anything else."""
    value = (pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST)
    if not value or not (value[0] == "-" or value == "0" or "1" <= value[0] <= "9"):
        return 0
    digits = value[1:] if value[0] == "-" else value
    if not (digits.isascii() and digits.isdigit()):
        return 0
    cost = int(value)
    return cost if -(2**31) <= cost < 2**31 else 0


def max_restarts(pod: Any) -> tuple[int, int]:
    """The most restarts of a regular container, then of a sidecar (restartPolicy Always)."""
    regular = max((s.get("restartCount") or 0 for s in pod["status"].get("containerStatuses") or ()), default=0)
    sidecars = {c["name"] for c in pod["spec"].get("initContainers") or () if c.get("restartPolicy") == "Always"}
    sidecar = max(
        (
            s.get("restartCount") or 0
            for s in pod["status"].get("initContainerStatuses") or ()
            if s.get("name") in sidecars
        ),
        default=0,
    )
    return regular, sidecar


def ready_since(pod: Any) -> Optional[datetime]:
    if not is_ready(pod):
        return None
    for condition in pod["status"].get("conditions") or ():
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return parse_time(condition.get("lastTransitionTime"))
    return None


def _after_or_zero(t1: Optional[datetime], t2: Optional[datetime]) -> bool:
    """t1 after t2, a missing time counting as after any other."""
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _newer_first(t1: Optional[datetime], t2: Optional[datetime], uids: tuple[str, str], now: datetime) -> bool:
    """The newer time first, on a log2 scale of age so that times of the same order of magnitude
    tie and are ordered by uid (pseudo-randomly, as upstream's logarithmic scale-down)."""
    if t1 is None or t2 is None:
        return _after_or_zero(t1, t2)

    def log_rank(t: datetime) -> int:
        nanoseconds = round((now - t).total_seconds() * 1e9)
        return int(math.log2(nanoseconds)) if nanoseconds > 0 else -1

    difference = log_rank(t1) - log_rank(t2)
    return uids[0] < uids[1] if difference == 0 else difference < 0


@dataclass
class RankedPod:
    pod: Any
    rank: int  # active related pods on its node: more means deleted sooner


def deletes_first(a: RankedPod, b: RankedPod, now: datetime) -> bool:
    """Whether ``a`` goes before ``b`` (controller.ActivePodsWithRanks.Less)."""
    pa, pb = a.pod, b.pod
    node_a, node_b = pa["spec"].get("nodeName") or "", pb["spec"].get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return not node_a  # 1. unassigned first
    phase_a, phase_b = PHASE_ORDER.get(pa["status"].get("phase"), 0), PHASE_ORDER.get(pb["status"].get("phase"), 0)
    if phase_a != phase_b:
        return phase_a < phase_b  # 2. Pending < Unknown < Running
    if is_ready(pa) != is_ready(pb):
        return not is_ready(pa)  # 3. not ready first
    if deletion_cost(pa) != deletion_cost(pb):
        return deletion_cost(pa) < deletion_cost(pb)  # 4. lower deletion cost first
    if a.rank != b.rank:
        return a.rank > b.rank  # 5. more crowded node first
    uids = (pa["metadata"].get("uid") or "", pb["metadata"].get("uid") or "")
    if is_ready(pa) and is_ready(pb):
        since_a, since_b = ready_since(pa), ready_since(pb)
        if since_a != since_b:
            return _newer_first(since_a, since_b, uids, now)  # 6. ready for less time first
    restarts_a, restarts_b = max_restarts(pa), max_restarts(pb)
    if restarts_a != restarts_b:
        return restarts_a > restarts_b  # 7. more restarts first
    created_a = parse_time(pa["metadata"].get("creationTimestamp"))
    created_b = parse_time(pb["metadata"].get("creationTimestamp"))
    if created_a != created_b:
        return _newer_first(created_a, created_b, uids, now)  # 8. newer first
    return False


def pods_to_delete(active: Sequence[Any], related: Iterable[Any], count: int, now: datetime) -> list[Any]:
    """The ``count`` pods of ``active`` to delete: all of them, or the first by upstream's ranking,
    where a pod's rank is how many active ``related`` pods (the pods of every ReplicaSet of the
    same owner) share its node."""
    if count >= len(active):
        return list(active)[:count]
    on_node: dict[str, int] = {}
    for pod in related:
        if is_active(pod):
            node = pod["spec"].get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [RankedPod(pod, on_node.get(pod["spec"].get("nodeName") or "", 0)) for pod in active]

    def compare(a: RankedPod, b: RankedPod) -> int:
        return -1 if deletes_first(a, b, now) else 1 if deletes_first(b, a, now) else 0

    return [r.pod for r in sorted(ranked, key=functools.cmp_to_key(compare))[:count]]


# -- expectations and slow start ---------------------------------------------------------------


@dataclass
class _Expected:
    creates: int
    deletes: int
    since: float


class Expectations:
    """The creates and deletes each ReplicaSet (by key) waits to see in the informer before it
    acts again (controller.UIDTrackingControllerExpectations). Deletes are tracked by pod key,
    so a pod seen first with a deletionTimestamp and then gone is counted once."""

    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT, clock: Callable[[], float] = time.monotonic) -> None:
        self._timeout, self._clock = timeout, clock
        self._lock = threading.Lock()
        self._expected: dict[str, _Expected] = {}
        self._deleting: dict[str, set[str]] = {}

    def expect_creations(self, key: str, count: int) -> None:
        with self._lock:
            self._expected[key] = _Expected(count, 0, self._clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        with self._lock:
            self._deleting[key] = set(pod_keys)
            self._expected[key] = _Expected(0, len(self._deleting[key]), self._clock())

    def creation_observed(self, key: str) -> None:
        with self._lock:
            if (expected := self._expected.get(key)) is not None:
                expected.creates -= 1

    def deletion_observed(self, key: str, pod: str) -> None:
        with self._lock:
            if pod in self._deleting.get(key, ()):
                self._deleting[key].discard(pod)
                if (expected := self._expected.get(key)) is not None:
                    expected.deletes -= 1

    def satisfied(self, key: str) -> bool:
        """Nothing outstanding, never set, or set too long ago."""
        with self._lock:
            expected = self._expected.get(key)
            return (
                expected is None
                or (expected.creates <= 0 and expected.deletes <= 0)
                or self._clock() - expected.since > self._timeout
            )

    def forget(self, key: str) -> None:
        with self._lock:
            self._expected.pop(key, None)
            self._deleting.pop(key, None)


def slow_start_batch(
    count: int, initial_batch_size: int, call: Callable[[], None], executor: ThreadPoolExecutor
) -> tuple[int, Optional[BaseException]]:
    """Call ``call`` ``count`` times in batches of ``initial_batch_size``, then twice as many
    each time, the calls of a batch at once; after a batch with a failure, no more batches.
    Returns how many calls succeeded and the first failure (upstream's slowStartBatch)."""
    remaining, successes = count, 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        futures = [executor.submit(call) for _ in range(batch)]
        errors = [error for future in futures if (error := future.exception()) is not None]
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# -- pods from the template --------------------------------------------------------------------


def controller_ref(rs: Any) -> dict[str, Any]:
    """The ownerReference a ReplicaSet puts on its pods (metav1.NewControllerRef)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": rs["metadata"]["name"],
        "uid": rs["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_from_template(rs: Any) -> dict[str, Any]:
    """The pod a ReplicaSet creates (controller.GetPodFromTemplate): the template's labels,
    annotations, finalizers and spec, ``<name>-`` as generateName (the bare name when the dash
    would make it too long), the ReplicaSet as controller owner."""
    template = rs["spec"]["template"]
    template_metadata = template.get("metadata") or {}
    name = rs["metadata"]["name"]
    metadata: dict[str, Any] = {
        "generateName": f"{name}-" if len(name) + 1 <= 253 else name,
        "ownerReferences": [controller_ref(rs)],
    }
    for field in ("labels", "annotations", "finalizers"):
        if template_metadata.get(field):
            metadata[field] = template_metadata[field]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template.get("spec") or {}}


# -- the controller ----------------------------------------------------------------------------


def _rs_key(rs: Any) -> str:
    return f"{rs['metadata']['namespace']}/{rs['metadata']['name']}"


def _pod_controller_index_key(namespace: str, ref: Optional[dict[str, Any]]) -> str:
    """Where the pod-controller index files a pod (controller.PodControllerIndexKey)."""
    return namespace if ref is None else f"{namespace}/{ref['kind']}/{ref['name']}/{ref['uid']}"


class ReplicaSetController:
    """The controller over a clientset and a SharedInformerFactory: a Manager's (``main``), or
    its own (``from_config``, for ``start()`` / ``stop()`` or ``with``, as the tests run it).

        with ReplicaSetController.from_config(kcore.load_config()):
            stop_signal.wait()
    """

    def __init__(
        self,
        clientset: kcore.Clientset,
        factory: SharedInformerFactory,
        *,
        workers: int = 5,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        self.clientset = clientset
        self.factory = factory
        self.expectations = Expectations()
        self.replicasets: SharedIndexInformer = factory.apps_v1.replica_sets()
        self.pods: SharedIndexInformer = factory.core_v1.pods()
        self.replicasets.add_indexers(
            {CONTROLLER_UID_INDEX: lambda rs: [ref["uid"]] if (ref := controller_of(rs)) else []}
        )
        self.pods.add_indexers(
            {
                POD_CONTROLLER_INDEX: lambda pod: [
                    _pod_controller_index_key(pod["metadata"]["namespace"], controller_of(pod))
                ]
            }
        )
        self._executor = ThreadPoolExecutor(CREATE_THREADS, thread_name_prefix="replicaset-writes")
        self.controller = (
            Controller("replicaset", self.reconcile, workers=workers, registry=registry)
            .watches(self.replicasets, ReplicaSetEvents(self))
            .watches(self.pods, PodEvents(self))
        )

    @classmethod
    def from_config(cls, config: kcore.Config, *, workers: int = 5) -> "ReplicaSetController":
        clientset = kcore.Clientset(config)
        return cls(clientset, SharedInformerFactory(clientset), workers=workers)

    # -- lifecycle (without a Manager) ---------------------------------------------------------

    def start(self) -> None:
        self.controller.start()  # starts the informers; the workers once both have synced

    def stop(self) -> None:
        self.controller.stop()
        self.factory.shutdown()
        self._executor.shutdown(wait=True)

    def __enter__(self) -> "ReplicaSetController":
        with ExitStack() as on_failure:
            on_failure.callback(self.stop)  # a start that fails (CacheSyncTimeout) leaves nothing running
            self.start()
            on_failure.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the handlers look up -------------------------------------------------------------

    def resolve(self, namespace: str, ref: dict[str, Any]) -> Optional[Any]:
        """The cached ReplicaSet an ownerReference names, if it is that very one (uid)."""
        if ref.get("kind") != KIND or _group(ref.get("apiVersion") or "") != "apps":
            return None
        try:
            rs = self.replicasets.lister().namespace(namespace).get(ref["name"])
        except NotFound:
            return None
        return rs if rs["metadata"]["uid"] == ref.get("uid") else None

    def selecting(self, pod: Any) -> list[str]:
        """The keys of the ReplicaSets of the pod's namespace whose selector selects it."""
        labels = dict(pod["metadata"].get("labels") or {})
        if not labels:
            return []
        keys = []
        for rs in self.replicasets.lister().namespace(pod["metadata"]["namespace"]).list():
            try:
                text = label_selector_string(rs["spec"].get("selector"))
            except ValueError:
                continue
            if text and parse_label_selector(text).matches(labels):  # an empty selector selects nothing here
                keys.append(_rs_key(rs))
        return keys

    # -- the sync ------------------------------------------------------------------------------

    def reconcile(self, key: str) -> Optional[Result]:
        """Bring one ReplicaSet's pods to ``spec.replicas`` (when its expectations allow it) and
        write its status (upstream's syncReplicaSet)."""
        namespace, name = key.split("/")
        try:
            rs = self.replicasets.lister().namespace(namespace).get(name).to_dict()
        except NotFound:
            self.expectations.forget(key)
            return None
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = label_selector(rs["spec"].get("selector"))
        except ValueError as error:
            log.error("ReplicaSet %s: invalid selector: %s", key, error)
            return None

        owned = self.pods.indexer.by_index(
            POD_CONTROLLER_INDEX, _pod_controller_index_key(namespace, controller_ref(rs))
        )
        orphans = self.pods.indexer.by_index(POD_CONTROLLER_INDEX, namespace)
        all_pods = [pod.to_dict() for pod in [*owned, *orphans]]
        active = self.claim_pods(rs, selector, [pod for pod in all_pods if is_active(pod)])
        uid = rs["metadata"]["uid"]
        terminating = [
            pod
            for pod in all_pods
            if is_terminating(pod)
            and (controller_of(pod) or {}).get("uid") == uid
            and selector is not None
            and selector.matches(pod["metadata"].get("labels") or {})
        ]

        manage_error: Optional[KcoreError] = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                self.manage_replicas(active, rs)
            except KcoreError as error:  # the API server refused, or could not be reached
                manage_error = error
        now = datetime.now(timezone.utc)
        updated = self.update_status(rs, calculate_status(rs, active, terminating, manage_error, now))
        if manage_error is not None:
            raise manage_error
        min_ready = updated["spec"].get("minReadySeconds") or 0
        status = updated.get("status") or {}
        if min_ready > 0 and (status.get("readyReplicas") or 0) != (status.get("availableReplicas") or 0):
            # Look again when the next ready pod becomes available.
            return Result(requeue_after=next_availability_check(active, min_ready, now))
        return None

    def claim_pods(self, rs: dict[str, Any], selector: Optional[LabelSelector], pods: list[Any]) -> list[Any]:
        """The pods this ReplicaSet controls once it has adopted the matching orphans and
        released the pods of its own that stopped matching (PodControllerRefManager.ClaimPods).
        Raises the first failure after trying every pod."""
        metadata = rs["metadata"]
        being_deleted = bool(metadata.get("deletionTimestamp"))
        pods_client = self.clientset.core_v1.pods(metadata["namespace"])
        can_adopt: list[Optional[BaseException]] = []  # asked once per sync, as upstream
        claimed, errors = [], []

        def matches(pod: Any) -> bool:
            return selector is not None and selector.matches(pod["metadata"].get("labels") or {})

        for pod in pods:
            ref = controller_of(pod)
            try:
                if ref is not None:
                    if ref.get("uid") != metadata["uid"]:
                        continue  # someone else's
                    if matches(pod):
                        claimed.append(pod)
                    elif not being_deleted:
                        self.release(pods_client, pod, metadata["uid"])
                    continue
                if being_deleted or not matches(pod) or pod["metadata"].get("deletionTimestamp"):
                    continue
                if pod["metadata"]["namespace"] != metadata["namespace"]:
                    continue
                if not can_adopt:
                    can_adopt.append(self.recheck_not_deleted(rs))
                if can_adopt[0] is not None:
                    raise RuntimeError(f"can't adopt Pod {pod_key(pod)} ({pod['metadata']['uid']}): {can_adopt[0]}")
                pods_client.patch(
                    pod["metadata"]["name"],
                    {"metadata": {"ownerReferences": [controller_ref(rs)], "uid": pod["metadata"]["uid"]}},
                    patch_type="strategic",
                )
                log.info("ReplicaSet %s: adopted pod %s", _rs_key(rs), pod["metadata"]["name"])
                claimed.append(pod)
            except NotFound:
                continue
            except (KcoreError, RuntimeError) as error:
                errors.append(error)
        if errors:
            raise errors[0]
        return claimed

    def release(self, pods_client: Any, pod: Any, owner_uid: str) -> None:
        """Remove this ReplicaSet's ownerReference from a pod it no longer selects."""
        try:
            pods_client.patch(
                pod["metadata"]["name"],
                {
                    "metadata": {
                        "ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
                        "uid": pod["metadata"]["uid"],
                    }
                },
                patch_type="strategic",
            )
            log.info("ReplicaSet %s: released pod %s", pod["metadata"]["namespace"], pod["metadata"]["name"])
        except Invalid:
            pass  # no ownerReferences left or the pod was re-created under its name: nothing to release

    def recheck_not_deleted(self, rs: dict[str, Any]) -> Optional[BaseException]:
        """Before adopting, read the ReplicaSet from the API server (not the cache): one being
        deleted or re-created must not take pods (RecheckDeletionTimestamp)."""
        metadata = rs["metadata"]
        try:
            fresh = self.clientset.apps_v1.replica_sets(metadata["namespace"]).get(metadata["name"])
        except ApiError as error:
            return RuntimeError(f"can't recheck DeletionTimestamp: {error.message}")
        if fresh["metadata"]["uid"] != metadata["uid"]:
            return RuntimeError(
                f"original ReplicaSet {metadata['namespace']}/{metadata['name']} is gone: "
                f"got uid {fresh['metadata']['uid']}, wanted {metadata['uid']}"
            )
        if fresh["metadata"].get("deletionTimestamp"):
            return RuntimeError(
                f"{metadata['namespace']}/{metadata['name']} has just been deleted at "
                f"{fresh['metadata']['deletionTimestamp']}"
            )
        return None

    def manage_replicas(self, active: list[Any], rs: dict[str, Any]) -> None:
        """Create or delete pods so that ``spec.replicas`` are active, at most BURST_REPLICAS in
        one go, expecting to see each write before the next sync acts. Raises the first failure."""
        key = _rs_key(rs)
        namespace = rs["metadata"]["namespace"]
        pods_client = self.clientset.core_v1.pods(namespace)
        diff = len(active) - int(rs["spec"].get("replicas", 1))
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, count)
            log.info("ReplicaSet %s: too few replicas, creating %d", key, count)
            pod = pod_from_template(rs)

            def create() -> None:
                try:
                    pods_client.create(pod)
                except ApiError as error:
                    causes = error.details.get("causes") or ()
                    if any(cause.get("type") == NAMESPACE_TERMINATING_CAUSE for cause in causes):
                        return  # every create would fail: not an error of this ReplicaSet
                    raise

            successes, error = slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE, create, self._executor)
            for _ in range(count - successes):
                self.expectations.creation_observed(key)  # never attempted or refused: never seen
            if error is not None:
                raise error
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            doomed = pods_to_delete(active, self.related_pods(rs), count, datetime.now(timezone.utc))
            log.info(
                "ReplicaSet %s: too many replicas, deleting %s",
                key,
                ", ".join(pod["metadata"]["name"] for pod in doomed),
            )
            self.expectations.expect_deletions(key, [pod_key(pod) for pod in doomed])

            def delete(pod: Any) -> Optional[KcoreError]:
                try:
                    pods_client.delete(pod["metadata"]["name"])
                    return None
                except KcoreError as error:
                    self.expectations.deletion_observed(key, pod_key(pod))  # it will never be seen
                    return None if isinstance(error, NotFound) else error

            errors = [error for error in self._executor.map(delete, doomed) if error is not None]
            if errors:
                raise errors[0]

    def related_pods(self, rs: dict[str, Any]) -> list[Any]:
        """The pods selected by any ReplicaSet with the same controller (a Deployment's
        ReplicaSets); none for a ReplicaSet without one (getIndirectlyRelatedPods)."""
        ref = controller_of(rs)
        if ref is None:
            return []
        related: dict[str, Any] = {}
        for other in self.replicasets.indexer.by_index(CONTROLLER_UID_INDEX, ref["uid"]):
            try:
                text = label_selector_string(other["spec"].get("selector"))
            except ValueError:
                continue
            if text is None:
                continue
            for pod in self.pods.lister().namespace(other["metadata"]["namespace"]).list(label_selector=text):
                related.setdefault(pod["metadata"]["uid"], pod)
        return list(related.values())

    def update_status(self, rs: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Write ``status`` unless the ReplicaSet already says it (and has observed its current
        generation); on failure read it again and retry once (updateReplicaSetStatus)."""
        current = rs.get("status") or {}
        fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "terminatingReplicas")
        generation = rs["metadata"].get("generation") or 0
        if (
            all((current.get(f) or 0) == (status.get(f) or 0) for f in fields)
            and ("terminatingReplicas" in current) == ("terminatingReplicas" in status)
            and generation == (current.get("observedGeneration") or 0)
            and (current.get("conditions") or []) == (status.get("conditions") or [])
        ):
            return rs
        status = {**status, "observedGeneration": generation}
        client = self.clientset.apps_v1.replica_sets(rs["metadata"]["namespace"])
        attempt = 0
        while True:
            try:
                return dict(client.update_status({**rs, "status": status}))
            except ApiError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                attempt += 1
                rs = dict(client.get(rs["metadata"]["name"]))


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def calculate_status(
    rs: dict[str, Any], active: list[Any], terminating: list[Any], manage_error: Optional[KcoreError], now: datetime
) -> dict[str, Any]:
    """The status the pods call for (calculateStatus): counts, and the ReplicaFailure condition
    set when creating or deleting failed, removed once it works again."""
    status = dict(rs.get("status") or {})
    template_labels = (rs["spec"]["template"].get("metadata") or {}).get("labels") or {}
    min_ready = rs["spec"].get("minReadySeconds") or 0
    fully_labeled = sum(
        1
        for pod in active
        if all((pod["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items())
    )
    ready = [pod for pod in active if is_ready(pod)]
    conditions = list(status.get("conditions") or [])
    failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None and failure is None:
        diff = len(active) - int(rs["spec"].get("replicas", 1))
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        conditions.append(
            {
                "type": "ReplicaFailure",
                "status": "True",
                "reason": reason,
                "message": error_message(manage_error),
                "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    status.update(
        replicas=len(active),
        fullyLabeledReplicas=fully_labeled,
        readyReplicas=len(ready),
        availableReplicas=sum(1 for pod in ready if is_available(pod, min_ready, now)),
        terminatingReplicas=len(terminating),
    )
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    return status


def error_message(error: KcoreError) -> str:
    """What Go's err.Error() says: an API error's Status message."""
    return error.message if isinstance(error, ApiError) else str(error)


def next_availability_check(active: list[Any], min_ready_seconds: int, now: datetime) -> float:
    """Seconds until the first ready pod that is not available yet will be; minReadySeconds when
    none is due (FindMinNextPodAvailabilityCheck, with its fallback)."""
    due = [
        since.timestamp() + min_ready_seconds - now.timestamp()
        for pod in active
        if (since := ready_since(pod)) is not None
    ]
    waits = [seconds for seconds in due if seconds > 0]
    if not waits:
        return float(min_ready_seconds)
    return max(0.0, min(waits) - (time.time() - now.timestamp()))


# -- the event handlers ------------------------------------------------------------------------


class ReplicaSetEvents(EventHandler):
    """Every ReplicaSet event syncs it; a deleted (or re-created) one first forgets its
    expectations, so a new one of the same name starts clean."""

    def __init__(self, owner: ReplicaSetController) -> None:
        self.owner = owner

    def create(self, obj: Any) -> list[str]:
        return [_rs_key(obj)]

    def update(self, old: Any, new: Any) -> list[str]:
        if old["metadata"]["uid"] != new["metadata"]["uid"]:
            self.delete(old)
        return [_rs_key(new)]

    def delete(self, obj: Any) -> list[str]:
        self.owner.expectations.forget(_rs_key(obj))
        return [_rs_key(obj)]


class PodEvents(EventHandler):
    """A pod event wakes the ReplicaSet that controls the pod, after counting it against that
    ReplicaSet's expectations; an orphan's event wakes every ReplicaSet that selects it (which
    may adopt it); a change of controller wakes the old one too (addPod, updatePod, deletePod)."""

    def __init__(self, owner: ReplicaSetController) -> None:
        self.owner = owner

    def _controller(self, pod: Any) -> Optional[Any]:
        """The cached ReplicaSet that controls the pod, if any."""
        ref = controller_of(pod)
        return self.owner.resolve(pod["metadata"]["namespace"], ref) if ref is not None else None

    def create(self, obj: Any) -> list[str]:
        if obj["metadata"].get("deletionTimestamp"):
            return self.delete(obj)  # seen for the first time already being deleted: not a creation
        if controller_of(obj) is not None:
            if (rs := self._controller(obj)) is None:
                return []
            self.owner.expectations.creation_observed(_rs_key(rs))
            return [_rs_key(rs)]
        return self.owner.selecting(obj)  # an orphan: no ReplicaSet waits for its creation

    def update(self, old: Any, new: Any) -> list[str]:
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return []  # a resync
        labels_changed = (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {})
        if new["metadata"].get("deletionTimestamp"):
            # A graceful delete: a replacement should start now, not when the pod is gone.
            return [*self.delete(new), *(self.delete(old) if labels_changed else [])]
        old_ref, new_ref = controller_of(old), controller_of(new)
        keys = []
        if old_ref != new_ref and old_ref is not None and (old_rs := self._controller(old)) is not None:
            keys.append(_rs_key(old_rs))
        if new_ref is not None:
            if (rs := self._controller(new)) is None:
                return keys
            keys.append(_rs_key(rs))
            min_ready = rs["spec"].get("minReadySeconds") or 0
            if not is_ready(old) and is_ready(new) and min_ready > 0:
                self.owner.controller.queue.add_after(_rs_key(rs), float(min_ready))  # when it becomes available
            return keys
        if labels_changed or old_ref != new_ref:
            keys += self.owner.selecting(new)
        return keys

    def delete(self, obj: Any) -> list[str]:
        if controller_of(obj) is None:
            return []  # no ReplicaSet waits for an orphan's deletion
        if (rs := self._controller(obj)) is None:
            return []
        self.owner.expectations.deletion_observed(_rs_key(rs), pod_key(obj))
        return [_rs_key(rs)]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the controller under a kcore Manager: /metrics and /healthz, /readyz over HTTP, and a
    graceful stop on SIGTERM or SIGINT (running syncs finish)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers", type=int, default=5, help="concurrent syncs (default 5, as kube-controller-manager)"
    )
    parser.add_argument("--metrics-port", type=int, default=8080, help="/metrics on 127.0.0.1 (0: any free port)")
    parser.add_argument("--health-port", type=int, default=8081, help="/healthz and /readyz on 127.0.0.1 (0: any)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(name)s: %(message)s")

    config = kcore.load_config()
    log.info("replicaset against %s", config.server)
    manager = Manager(
        config, metrics_address=("127.0.0.1", args.metrics_port), health_address=("127.0.0.1", args.health_port)
    )
    replicasets = ReplicaSetController(
        manager.clientset, manager.informers, workers=args.workers, registry=manager.registry
    )
    manager.add(replicasets.controller)
    manager.run()  # until SIGTERM or SIGINT
    log.info("replicaset: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
