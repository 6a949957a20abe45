"""kube-scheduler's scheduling queue (pkg/scheduler/backend/queue, v1.37.2) for single pods:
pure logic, driven by the scheduler's threads.

Three places a pending pod can be:
- **active**: ready to be tried, highest ``spec.priority`` first, then the earliest added;
- **backoff**: tried and failed, waiting ``1 s × 2^(failures - 1)`` (at most 10 s) from its last
  attempt, the expiry truncated to the whole second (SchedulerPopFromBackoffQ's ordering
  window); when the active queue is empty, ``pop`` takes from here before the backoff is over,
  as that feature does;
- **unschedulable**: rejected by plugins, until a cluster event one of those plugins cares about
  (a node added or changed, an assigned pod added, changed or deleted) moves it back, or it has
  waited 5 minutes.

A pod with ``spec.schedulingGates`` is held as **gated** (the SchedulingGates PreEnqueue plugin)
and never tried until an update removes its last gate. A pod that failed for an error rather
than a plugin's rejection goes to backoff directly. An
event that arrives while a pod is being tried (between ``pop`` and ``done``/``requeue``) and that
interests its rejecting plugins sends it to backoff instead of unschedulable, so the event is
not lost. kube-scheduler also asks each plugin's queueing hint whether that very change can
help; kcore requeues on every event a rejecting plugin registers for (never fewer moves, at times
more).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional

from kcore.scheduler.snapshot import Object

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_IN_UNSCHEDULABLE = 300.0
"""kube-scheduler's podInitialBackoffSeconds, podMaxBackoffSeconds and
podMaxInUnschedulablePodsDuration."""

NODE_ADD, NODE_UPDATE, NODE_DELETE = "NodeAdd", "NodeUpdate", "NodeDelete"
ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE, ASSIGNED_POD_DELETE = "AssignedPodAdd", "AssignedPodUpdate", "AssignedPodDelete"
PVC_ADD = "PersistentVolumeClaimAdd"
ALL_EVENTS = frozenset(
    {NODE_ADD, NODE_UPDATE, NODE_DELETE, ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE, ASSIGNED_POD_DELETE, PVC_ADD}
)

EVENTS_OF_INTEREST: Mapping[str, FrozenSet[str]] = {
    "NodeName": frozenset({NODE_ADD}),
    "NodeUnschedulable": frozenset({NODE_ADD, NODE_UPDATE}),
    "TaintToleration": frozenset({NODE_ADD, NODE_UPDATE}),
    "NodeAffinity": frozenset({NODE_ADD, NODE_UPDATE}),
    "NodePorts": frozenset({NODE_ADD, ASSIGNED_POD_DELETE}),
    "NodeResourcesFit": frozenset({NODE_ADD, NODE_UPDATE, ASSIGNED_POD_UPDATE, ASSIGNED_POD_DELETE}),
    "VolumeRestrictions": frozenset({NODE_ADD, ASSIGNED_POD_DELETE, PVC_ADD}),
    "PodTopologySpread": ALL_EVENTS - {PVC_ADD},
    "InterPodAffinity": frozenset({NODE_ADD, NODE_UPDATE, ASSIGNED_POD_ADD, ASSIGNED_POD_UPDATE, ASSIGNED_POD_DELETE}),
}
"""The cluster events each filter registers for (its EventsToRegister, by kind of change). A
plugin not named here (one of the user's), and a rejection by PreFilter (no plugin), take every
event."""


def interested(rejectors: Iterable[str], event: str) -> bool:
    return any(event in EVENTS_OF_INTEREST.get(plugin, ALL_EVENTS) for plugin in rejectors)


def priority_of(pod: Object) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def gated(pod: Object) -> bool:
    """Whether the pod still has scheduling gates (it may not be tried yet)."""
    return bool((pod.get("spec") or {}).get("schedulingGates"))


def key_of(pod: Object) -> str:
    metadata = pod.get("metadata") or {}
    return metadata.get("uid") or f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"


@dataclass(eq=False)
class QueuedPod:
    """A pending pod and its history in the queue."""

    pod: Object
    #: When it was added or last came back after an attempt: orders equal priorities, starts backoff.
    timestamp: float
    attempts: int = 0
    unschedulable_count: int = 0
    consecutive_errors: int = 0
    #: The plugins that rejected it in its last attempt ("" for PreFilter).
    rejectors: FrozenSet[str] = frozenset()
    #: Where it is: "gated", "active", "backoff", "unschedulable", "in_flight".
    place: str = ""
    _backoff_expiry: Optional[float] = field(default=None, repr=False)
    _entry: int = field(default=-1, repr=False)  # the heap entry that stands for it now

    @property
    def key(self) -> str:
        return key_of(self.pod)


class SchedulingQueue:
    """Thread-safe. ``clock`` (seconds, monotonic) is there for tests."""

    def __init__(
        self,
        *,
        initial_backoff: float = INITIAL_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        max_in_unschedulable: float = MAX_IN_UNSCHEDULABLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self.clock = clock
        self._pods: Dict[str, QueuedPod] = {}
        self._active: List[Any] = []  # heap of (-priority, timestamp, seq, key); stale entries skipped
        self._backoff: List[Any] = []  # heap of (expiry, -priority, seq, key); stale entries skipped
        # The unschedulable pods in the order they came (so by timestamp): events and the
        # 5-minute flush visit these, not every pending pod.
        self._unschedulable: Dict[str, QueuedPod] = {}
        self._seq = itertools.count()
        self._events: List[tuple[int, str]] = []  # (cycle, event) while any pod is in flight
        self._in_flight: Dict[str, int] = {}  # key → the cycle it was popped in
        self.scheduling_cycle = 0
        self._closed = False
        self._changed = threading.Condition(threading.Lock())

    # -- pods coming and going ---------------------------------------------------------------

    def add(self, pod: Object) -> None:
        """A new pending pod: to the active queue, or held while it has scheduling gates."""
        with self._changed:
            self._add_locked(pod)

    def update(self, pod: Object) -> None:
        """A pending pod changed. Gated, it goes to the active queue once its last gate is gone;
        waiting as unschedulable, a change of its spec, labels or annotations may make it fit:
        it is requeued (to backoff while it is backing off)."""
        with self._changed:
            info = self._pods.get(key_of(pod))
            if info is None:
                self._add_locked(pod)
                return
            old, info.pod = info.pod, pod
            if info.place == "gated":
                if not gated(pod):
                    info.timestamp = self.clock()
                    self._push(info, "active")
            elif info.place == "unschedulable" and _scheduling_relevant(old) != _scheduling_relevant(pod):
                self._to_backoff_or_active(info)
            elif info.place in ("active", "backoff"):
                self._push(info, info.place)  # its priority may have changed

    def delete(self, pod: Object) -> None:
        """The pod is gone (or was bound): forget it wherever it is."""
        with self._changed:
            self._pods.pop(key_of(pod), None)
            self._unschedulable.pop(key_of(pod), None)

    # -- the scheduler's side ----------------------------------------------------------------

    def pop(self, timeout: Optional[float] = None) -> Optional[QueuedPod]:
        """The next pod to try, waiting up to ``timeout`` (None: until one comes or ``close``).
        None when the wait ended empty-handed or the queue is closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._closed:
                self._flush_locked()
                info = self._pop_from(self._active) or self._pop_from(self._backoff)
                if info is not None:
                    self.scheduling_cycle += 1
                    info.attempts += 1
                    info.place = "in_flight"
                    self._in_flight[info.key] = self.scheduling_cycle
                    return info
                wait = self._next_wake()
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._changed.wait(wait)
            return None

    def done(self, info: QueuedPod) -> None:
        """The attempt at ``info`` succeeded (it was assumed): the queue keeps it no longer."""
        with self._changed:
            self._finish_flight(info)
            if self._pods.get(info.key) is info:
                del self._pods[info.key]

    def requeue(self, info: QueuedPod, rejectors: Optional[Iterable[str]] = None) -> None:
        """The attempt failed: ``rejectors`` names the plugins that rejected the pod (a FitError;
        "" for PreFilter), None means an error (binding failed, the API server refused...)."""
        with self._changed:
            popped_in = self._finish_flight(info)
            if self._pods.get(info.key) is not info:
                return  # deleted meanwhile
            info.timestamp = self.clock()
            info._backoff_expiry = None
            if rejectors is None:
                info.consecutive_errors += 1
                info.rejectors = frozenset()
                self._to_backoff_or_active(info)
                return
            info.unschedulable_count += 1
            info.consecutive_errors = 0
            info.rejectors = frozenset(rejectors)
            missed = any(cycle >= popped_in and interested(info.rejectors, e) for cycle, e in self._events)
            if missed:
                self._to_backoff_or_active(info)
            else:
                info.place = "unschedulable"
                self._unschedulable[info.key] = info
            self._prune_events()

    def move_on(self, event: str) -> None:
        """A cluster event (NODE_ADD, ASSIGNED_POD_DELETE, ...): the unschedulable pods a
        rejecting plugin of which cares about it go back to backoff or active."""
        with self._changed:
            if self._in_flight:
                self._events.append((self.scheduling_cycle, event))
            for info in list(self._unschedulable.values()):
                if interested(info.rejectors, event):
                    self._to_backoff_or_active(info)

    def close(self) -> None:
        """Wakes every ``pop``, which returns None from now on."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def pending(self) -> Dict[str, int]:
        """How many pods wait in each place (scheduler_pending_pods' ``queue`` label)."""
        with self._changed:
            self._flush_locked()
            counts = {"active": 0, "backoff": 0, "unschedulable": 0, "gated": 0}
            for info in self._pods.values():
                if info.place in counts:
                    counts[info.place] += 1
            return counts

    def place_of(self, pod: Object) -> Optional[str]:
        """Where the pod is: "gated", "active", "backoff", "unschedulable", "in_flight", or None."""
        with self._changed:
            info = self._pods.get(key_of(pod))
            return None if info is None else info.place

    # -- inside ------------------------------------------------------------------------------

    def _add_locked(self, pod: Object) -> None:
        info = QueuedPod(pod, timestamp=self.clock())
        self._pods[info.key] = info
        if gated(pod):
            info.place = "gated"
        else:
            self._push(info, "active")

    def backoff_expiry(self, info: QueuedPod) -> float:
        """When the pod's backoff ends (getBackoffTime): from its last attempt, by its failures
        (errors if the last attempt erred), truncated to the whole second."""
        count = info.consecutive_errors or info.unschedulable_count
        if count == 0 or self.max_backoff == 0:
            return -math.inf
        if info._backoff_expiry is None:
            shift = count - 1
            duration = (
                self.max_backoff
                if self.initial_backoff * 2**shift > self.max_backoff
                else self.initial_backoff * 2**shift
            )
            info._backoff_expiry = math.floor(info.timestamp + duration)
        return info._backoff_expiry

    def _to_backoff_or_active(self, info: QueuedPod) -> None:
        self._push(info, "backoff" if self.backoff_expiry(info) > self.clock() else "active")

    def _push(self, info: QueuedPod, place: str) -> None:
        self._unschedulable.pop(info.key, None)
        info.place = place
        seq = next(self._seq)
        if place == "active":
            heapq.heappush(self._active, (-priority_of(info.pod), info.timestamp, seq, info.key, info))
        else:
            heapq.heappush(self._backoff, (self.backoff_expiry(info), -priority_of(info.pod), seq, info.key, info))
        info._entry = seq
        self._changed.notify_all()

    def _pop_from(self, heap: List[Any]) -> Optional[QueuedPod]:
        while heap:
            entry = heapq.heappop(heap)
            info = entry[-1]
            if self._live(info, entry[2]):
                return info
        return None

    def _live(self, info: QueuedPod, seq: int) -> bool:
        """Whether a heap entry still stands for the pod (not deleted, not pushed again since)."""
        return self._pods.get(info.key) is info and info._entry == seq and info.place != "in_flight"

    def _flush_locked(self) -> None:
        now = self.clock()
        while self._backoff and (
            not self._live(self._backoff[0][-1], self._backoff[0][2]) or self._backoff[0][0] <= now
        ):
            entry = heapq.heappop(self._backoff)
            if self._live(entry[-1], entry[2]):
                self._push(entry[-1], "active")
        for info in list(self._unschedulable.values()):
            if now - info.timestamp <= self.max_in_unschedulable:
                break  # the rest came later
            self._to_backoff_or_active(info)

    def _next_wake(self) -> Optional[float]:
        """Seconds until the next backoff ends or an unschedulable pod's wait runs out."""
        now = self.clock()
        first = next(iter(self._unschedulable.values()), None)
        times = [] if first is None else [first.timestamp + self.max_in_unschedulable]
        if self._backoff:
            times.append(self._backoff[0][0])
        return max(0.0, min(times) - now) + 0.001 if times else None

    def _finish_flight(self, info: QueuedPod) -> int:
        popped_in = self._in_flight.pop(info.key, self.scheduling_cycle)
        if info.place == "in_flight":
            info.place = ""
        return popped_in

    def _prune_events(self) -> None:
        oldest = min(self._in_flight.values(), default=None)
        self._events = [] if oldest is None else [(c, e) for c, e in self._events if c >= oldest]


def _scheduling_relevant(pod: Object) -> tuple[Any, ...]:
    metadata = pod.get("metadata") or {}
    return (metadata.get("labels"), metadata.get("annotations"), pod.get("spec"))
