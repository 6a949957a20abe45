"""kcore.controller: reconcile loops (controller-runtime's controller, over kcore's informers
and workqueue).

    controller = Controller("mirror", reconcile, workers=4)
    controller.for_(configmaps).owns(secrets, predicates=[ResourceVersionChanged()])
    with controller:        # informers started and synced, then the workers
        stop_signal.wait()  # leaving: in-flight reconciles finish

Guarantees, as controller-runtime gives them:
- Workers start only after every source's informer has handed its whole initial list to the
  queue (CacheSyncTimeout after ``cache_sync_timeout``, 120 s).
- One key is never reconciled by two workers at once; a key added while it is being reconciled
  is reconciled again after; keys added many times while waiting are reconciled once.
- ``reconcile(key)`` returning None or ``Result()`` forgets the key's failures;
  ``Result(requeue_after=s)`` forgets them and brings the key back after ``s`` seconds; raising
  requeues it after the rate limiter's delay (per-key exponential 5 ms → 1000 s by default) and
  logs the error with the key; raising ``TerminalError`` logs it and does not requeue.
- A deleted object's key is still enqueued, also when the informer only saw it vanish from a
  relist (DeletedFinalStateUnknown): the reconcile finds it gone from the lister.
- ``stop()`` starts no new reconcile and waits for the running ones.
- controller-runtime's metrics (controller_runtime_reconcile_total{controller,result}, ...) and
  the workqueue's, named after the controller.

``kcore.aio.Controller`` is the asyncio twin, for ``async def reconcile``.

Leader election (``LeaderElector``; the asyncio twin is ``kcore.aio.LeaderElector``): client-go's
tools/leaderelection over a coordination.k8s.io/v1 Lease, with its defaults (lease 15 s, renew
deadline 10 s, retry 2 s, jitter 1.2) and guarantees:
- at most one candidate leads at a time, judged by each candidate's own clock (never by
  comparing remote timestamps with it): another's lease is honoured for its full duration from
  the moment its last change was seen;
- a leader that cannot renew within ``renew_deadline`` stops leading (its stop event is set, then
  ``on_stopped_leading`` runs) before the lease it last wrote expires for the others;
- ``on_stopped_leading`` runs whenever ``run`` returns; ``release_on_cancel`` hands the lease
  over at once on stop();
- the Lease is written field for field as client-go writes it: Go and Python candidates can
  share one.

The manager (``Manager``; ``kcore.aio.Manager``): one Clientset and one SharedInformerFactory for
its controllers, leader election among replicas (caches on every replica, controllers on the
leader only; losing the lease ends ``run()`` with LeaderElectionLost), ``/metrics``, ``/healthz``
and ``/readyz`` (ready once every informer has synced) over HTTP, and on SIGTERM a graceful
shutdown: in-flight reconciles finish within ``graceful_shutdown_timeout``, then the informers
stop and the lease is released. Finalizers (``Finalizer``, ``add_finalizer``,
``remove_finalizer``): an object being deleted keeps its finalizer until its cleanup has run.

Events (``EventRecorder``): client-go's tools/events recorder — isomorphic events become one
events.k8s.io/v1 Event with a series (created, patched on the 2nd occurrence, counted in memory,
heartbeat every 30 min, closed after 6 idle min), written by a background thread so ``event()``
never blocks; core/v1 with tools/record's correlator (``EventCorrelator``: aggregation,
deduplication, spam filter) where events.k8s.io/v1 is not served.
"""

from kcore.controller.controller import CACHE_SYNC_TIMEOUT, AsyncController, CacheSyncTimeout, Controller
from kcore.controller.event_correlator import EventCorrelator
from kcore.controller.events import EventRecorder, object_reference
from kcore.controller.finalizers import Finalizer, add_finalizer, has_finalizer, remove_finalizer
from kcore.controller.leader_election import LeaderElectionCore, LeaderElector
from kcore.controller.lease_lock import LeaderElectionRecord
from kcore.controller.manager import (
    GracefulShutdownTimeout,
    LeaderElectionLost,
    LeaderElectionOptions,
    Manager,
    default_identity,
)
from kcore.controller.predicates import (
    And,
    AnnotationsChanged,
    Filter,
    Funcs,
    GenerationChanged,
    LabelsChanged,
    Not,
    Or,
    Predicate,
    ResourceVersionChanged,
)
from kcore.controller.result import Result, TerminalError
from kcore.controller.sources import EventHandler

__all__ = [
    "CACHE_SYNC_TIMEOUT",
    "And",
    "AnnotationsChanged",
    "AsyncController",
    "CacheSyncTimeout",
    "Controller",
    "EventCorrelator",
    "EventHandler",
    "EventRecorder",
    "Filter",
    "Finalizer",
    "Funcs",
    "GenerationChanged",
    "GracefulShutdownTimeout",
    "LabelsChanged",
    "LeaderElectionCore",
    "LeaderElectionLost",
    "LeaderElectionOptions",
    "LeaderElectionRecord",
    "LeaderElector",
    "Manager",
    "Not",
    "Or",
    "Predicate",
    "ResourceVersionChanged",
    "Result",
    "TerminalError",
    "add_finalizer",
    "default_identity",
    "has_finalizer",
    "object_reference",
    "remove_finalizer",
]
