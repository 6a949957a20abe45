"""The controller: informers' events → keys in a rate-limited workqueue → workers that call
``reconcile(key)`` and act on what it returned (controller-runtime's
pkg/internal/controller/controller.go).

``ControllerCore`` holds everything both twins share: the sources, the queue, the metrics,
what each outcome of a reconcile does to the key, the cache-sync rule and the stop rule.
``Controller`` runs workers as threads; ``AsyncController`` (kcore.aio.Controller) as tasks on
the caller's event loop, awaiting an ``async def reconcile``. They differ only in how they wait.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from typing import Any, Awaitable, Callable, Generic, Optional, Sequence, TypeVar, Union

from prometheus_client import CollectorRegistry

from kcore.controller.metrics import ControllerMetrics
from kcore.controller.predicates import Predicate
from kcore.controller.result import Result, TerminalError
from kcore.controller.sources import EventHandler, MapFunc, Source, controller_owner_keys, mapped_keys, own_key
from kcore.errors import KcoreError
from kcore.informer.shared_informer import AsyncSharedIndexInformer, SharedIndexInformer
from kcore.workqueue import RateLimiter, RateLimitingQueue, default_controller_rate_limiter

log = logging.getLogger("kcore.controller")

CACHE_SYNC_TIMEOUT = 120.0
"""controller-runtime's CacheSyncTimeout: how long ``start`` waits for the informers."""
SYNC_POLL = 0.1
"""How often ``start`` looks whether the informers have synced."""

Outcome = Union[Result, None, BaseException]
"""What one reconcile ended with: what it returned, or what it raised."""
InformerT = TypeVar("InformerT", SharedIndexInformer, AsyncSharedIndexInformer)
C = TypeVar("C", bound="ControllerCore[Any]")


class CacheSyncTimeout(KcoreError, TimeoutError):
    """The informers had not synced when the controller's cache sync timeout expired."""


class ControllerCore(Generic[InformerT]):
    """Sources, queue, metrics and the per-key step: shared by both twins."""

    def __init__(
        self,
        name: str,
        reconcile: Callable[[str], Any],
        *,
        workers: int = 1,
        rate_limiter: Optional[RateLimiter] = None,
        cache_sync_timeout: float = CACHE_SYNC_TIMEOUT,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        if not name:
            raise ValueError("a controller needs a name: it labels its metrics and names its workqueue")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.name = name
        self.workers = workers
        self.cache_sync_timeout = cache_sync_timeout
        self._reconcile = reconcile
        self._registry = registry
        self.rate_limiter = rate_limiter if rate_limiter is not None else default_controller_rate_limiter()
        self.queue = RateLimitingQueue(self.rate_limiter, name=name, registry=registry)
        self._sources: list[Source] = []
        self._for: Optional[InformerT] = None
        self._owned: list[tuple[InformerT, Sequence[Predicate]]] = []
        self._metrics: Optional[ControllerMetrics] = None
        self._lock = threading.Lock()
        self.started = False
        self.stopping = False

    # -- what feeds the queue (before start) ------------------------------------------------

    def for_(self: C, informer: InformerT, *, predicates: Sequence[Predicate] = ()) -> C:
        """Reconcile the objects of ``informer``: each event enqueues the object's key. Once."""
        if self._for is not None:
            raise ValueError("for_() was already called: a controller reconciles one resource")
        self._add(Source(informer, own_key, predicates, key_of_tombstone=True))
        self._for = informer
        return self

    def owns(self: C, informer: InformerT, *, predicates: Sequence[Predicate] = ()) -> C:
        """Each event of ``informer`` enqueues the object's controller owner when it is of the
        ``for_`` resource (group and kind, as in its ownerReferences)."""
        with self._lock:
            self._check_not_started("owns")
            self._check_informer(informer)
            self._owned.append((informer, predicates))
        return self

    def watches(
        self: C, informer: InformerT, map_fn: Union[MapFunc, EventHandler], *, predicates: Sequence[Predicate] = ()
    ) -> C:
        """Each event of ``informer`` enqueues the keys ``map_fn(obj)`` returns (a key, a list
        of keys, or None), or, given an EventHandler, what its method for that kind of event
        returns."""
        handler = map_fn if isinstance(map_fn, EventHandler) else mapped_keys(map_fn)
        return self._add(Source(informer, handler, predicates))

    def reads(self: C, informer: InformerT) -> C:
        """The reconcile reads ``informer``'s cache (a lister) but its events reconcile nothing:
        the workers wait for it to sync too, and it starts with the controller."""
        return self._add(Source(informer, EventHandler(), ()))

    def _add(self: C, source: Source) -> C:
        with self._lock:
            self._check_not_started("adding a source")
            self._check_informer(source.informer)
            self._sources.append(source)
        return self

    def informers(self) -> list[InformerT]:
        """The informers that feed this controller (its ``for_``, ``owns`` and ``watches``), each once."""
        with self._lock:
            found = [source.informer for source in self._sources] + [informer for informer, _ in self._owned]
        return list({id(informer): informer for informer in found}.values())

    def _check_informer(self, informer: Any) -> None:
        """Overridden by the thread twin, which cannot run an asyncio informer."""

    def _check_not_started(self, what: str) -> None:
        if self.started:
            raise RuntimeError(f"{what}: the controller {self.name!r} has already started")

    # -- start and stop (shared halves) ------------------------------------------------------

    def _begin_start(self) -> float:
        """Register every source and start every informer (a started one is left as it is);
        returns the deadline of the cache sync."""
        with self._lock:
            self._check_not_started("start")
            if not self._sources and not self._owned:
                raise ValueError(f"the controller {self.name!r} has no source: call for_(), owns() or watches()")
            if self._owned and self._for is None:
                raise ValueError(f"the controller {self.name!r} owns() objects but has no for_() resource to own them")
            self.started = True
            if self._for is not None:
                keys_of = controller_owner_keys(self._for.info)
                self._sources += [Source(informer, keys_of, predicates) for informer, predicates in self._owned]
        self._metrics = ControllerMetrics(self.name, self.workers, self._registry)
        log.info("Starting controller %s with %d workers", self.name, self.workers)
        for source in self._sources:
            source.register(self.queue)
            source.informer.start()
        return time.monotonic() + self.cache_sync_timeout

    def _synced_by(self, deadline: float) -> bool:
        """Whether every source has handed over its informer's initial list; raises
        CacheSyncTimeout (after stopping) once ``deadline`` has passed."""
        if all(source.has_synced() for source in self._sources):
            return True
        if time.monotonic() < deadline:
            return False
        waiting = sorted({source.informer.resource for source in self._sources if not source.has_synced()})
        self._begin_stop()
        raise CacheSyncTimeout(
            f"controller {self.name!r}: timed out after {self.cache_sync_timeout:g} s waiting "
            f"for the caches of {', '.join(waiting)} to sync"
        )

    def _begin_stop(self) -> None:
        """No new reconcile starts from now on; the sources stop feeding the queue."""
        with self._lock:
            if self.stopping:
                return
            self.stopping = True
        log.info("Stopping controller %s: waiting for in-flight reconciles", self.name)
        for source in self._sources:
            source.unregister()
        self.queue.shut_down()

    # -- the per-key step (shared by both twins' workers) -----------------------------------

    def _take(self, got: tuple[Any, bool]) -> Optional[str]:
        """The key a worker got to reconcile, or None when the worker must end."""
        key, shutdown = got
        if shutdown:
            return None
        if self.stopping:
            self.queue.done(key)
            return None
        assert self._metrics is not None
        self._metrics.started()
        return str(key)

    def _settle(self, key: str, outcome: Outcome, started: float) -> None:
        """Act on what reconciling ``key`` ended with, count it, and hand the key back. What
        is raised but is no Exception (KeyboardInterrupt, CancelledError) is an error too, and
        raised again once the key is settled: it ends the worker."""
        assert self._metrics is not None
        try:
            if inspect.isawaitable(outcome):
                if inspect.iscoroutine(outcome):
                    outcome.close()
                outcome = TypeError("reconcile returned an awaitable: run an async reconcile with kcore.aio.Controller")
            elif not isinstance(outcome, (Result, BaseException)) and outcome is not None:
                outcome = TypeError(f"reconcile must return None or a Result, not {type(outcome).__name__}")
            result = self._act(key, outcome)
            self._metrics.finished(result, time.perf_counter() - started, terminal=isinstance(outcome, TerminalError))
        finally:
            self.queue.done(key)
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome

    def _act(self, key: str, outcome: Outcome) -> str:
        """What the outcome does to the key (controller-runtime's reconcileHandler); returns the
        ``result`` label."""
        if isinstance(outcome, TerminalError):
            log.error(
                "Reconciler error (terminal, not requeued): controller=%s key=%s: %s",
                self.name,
                key,
                outcome,
                exc_info=outcome,
            )
            return "error"
        if isinstance(outcome, BaseException):
            self.queue.add_rate_limited(key)
            log.error("Reconciler error: controller=%s key=%s: %s", self.name, key, outcome, exc_info=outcome)
            return "error"
        if outcome is not None and outcome.requeue_after > 0:
            self.queue.forget(key)
            self.queue.add_after(key, outcome.requeue_after)
            return "requeue_after"
        if outcome is not None and outcome.requeue:
            self.queue.add_rate_limited(key)
            return "requeue"
        self.queue.forget(key)
        return "success"


class Controller(ControllerCore[SharedIndexInformer]):
    """A controller whose workers are threads.

        def reconcile(key: str) -> Optional[Result]:
            namespace, name = key.split("/")
            cm = configmaps.lister().namespace(namespace).get(name)   # NotFound: it was deleted
            ...

        controller = Controller("mirror", reconcile, workers=4)
        controller.for_(configmaps).owns(secrets)
        with controller:               # start(): informers started and synced, then workers
            ...                        # stop() on leaving: in-flight reconciles finish

    ``rate_limiter``: the delay of each retry after an error (default: controller-runtime's,
    per-item exponential 5 ms → 1000 s, with a 10 qps / 100 burst bucket). ``cache_sync_timeout``:
    how long ``start`` waits for the informers (CacheSyncTimeout after it). ``registry``: where
    the metrics go (prometheus-client's REGISTRY by default). Informers are started if they have
    not been, never stopped: they belong to whoever made them (a factory's ``shutdown``).
    """

    def __init__(
        self,
        name: str,
        reconcile: Callable[[str], Optional[Result]],
        *,
        workers: int = 1,
        rate_limiter: Optional[RateLimiter] = None,
        cache_sync_timeout: float = CACHE_SYNC_TIMEOUT,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        super().__init__(
            name,
            reconcile,
            workers=workers,
            rate_limiter=rate_limiter,
            cache_sync_timeout=cache_sync_timeout,
            registry=registry,
        )
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()

    def _check_informer(self, informer: Any) -> None:
        if isinstance(informer, AsyncSharedIndexInformer):
            raise TypeError("an asyncio informer runs on an event loop: feed it to kcore.aio.Controller")

    def start(self) -> None:
        """Start the informers, wait until each has handed its whole cache to this controller's
        queue, then start the workers. Raises CacheSyncTimeout when the informers do not sync in
        time; returns without workers if ``stop()`` is called meanwhile."""
        deadline = self._begin_start()
        while not self._synced_by(deadline):
            if self._stopped.wait(SYNC_POLL):
                return
        with self._lock:
            if self.stopping:
                return
            for number in range(self.workers):
                thread = threading.Thread(target=self._work, name=f"controller-{self.name}-{number}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def run(self) -> None:
        """Start, and block until ``stop()`` (from another thread or a signal handler) has
        drained the workers."""
        self.start()
        self._stopped.wait()
        self._join(None)

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Start no more reconciles and wait for the ones running (at most ``timeout`` seconds,
        None: as long as they take). Whether every worker has finished."""
        self._begin_stop()
        self._stopped.set()
        return self._join(timeout)

    def _join(self, timeout: Optional[float]) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads if thread is not current)

    def __enter__(self) -> "Controller":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _work(self) -> None:
        while (key := self._take(self.queue.get())) is not None:
            started = time.perf_counter()
            try:
                outcome: Outcome = self._reconcile(key)
            except BaseException as error:
                outcome = error
            self._settle(key, outcome, started)


class AsyncController(ControllerCore[AsyncSharedIndexInformer]):
    """The asyncio twin (kcore.aio.Controller): the same sources, queue, results and metrics;
    workers are tasks on the event loop that awaits ``start()``, and ``reconcile`` is an
    ``async def`` (a plain function works too, run on the event loop).

        controller = aio.Controller("mirror", reconcile, workers=4).for_(configmaps)
        async with controller:
            ...
    """

    def __init__(
        self,
        name: str,
        reconcile: Callable[[str], Union[Awaitable[Optional[Result]], Optional[Result]]],
        *,
        workers: int = 1,
        rate_limiter: Optional[RateLimiter] = None,
        cache_sync_timeout: float = CACHE_SYNC_TIMEOUT,
        registry: Optional[CollectorRegistry] = None,
    ) -> None:
        super().__init__(
            name,
            reconcile,
            workers=workers,
            rate_limiter=rate_limiter,
            cache_sync_timeout=cache_sync_timeout,
            registry=registry,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped: Optional[asyncio.Event] = None

    async def start(self) -> None:
        """As ``Controller.start``, awaiting the sync without blocking the event loop."""
        self._stopped = asyncio.Event()
        deadline = self._begin_start()
        while not self._synced_by(deadline):
            if self.stopping:
                return
            await asyncio.sleep(SYNC_POLL)
        if self.stopping:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._work(), name=f"controller-{self.name}-{number}") for number in range(self.workers)
        ]

    async def run(self) -> None:
        """Start, and wait until ``stop()`` has drained the workers."""
        await self.start()
        assert self._stopped is not None
        await self._stopped.wait()
        await self._join(None)

    async def stop(self, timeout: Optional[float] = None) -> bool:
        """As ``Controller.stop``: in-flight reconciles finish; whether every worker has."""
        self._begin_stop()
        if self._stopped is not None:
            self._stopped.set()
        return await self._join(timeout)

    async def _join(self, timeout: Optional[float]) -> bool:
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        return all(task.done() for task in tasks)

    async def __aenter__(self) -> "AsyncController":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _work(self) -> None:
        while (key := self._take(await self.queue.aget())) is not None:
            started = time.perf_counter()
            try:
                outcome: Outcome = self._reconcile(key)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
            except BaseException as error:
                outcome = error
            self._settle(key, outcome, started)


__all__ = ["CACHE_SYNC_TIMEOUT", "AsyncController", "CacheSyncTimeout", "Controller", "ControllerCore"]
