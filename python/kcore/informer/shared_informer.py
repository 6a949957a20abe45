"""SharedIndexInformer: a reflector feeding a Rust-backed indexed cache and event handlers
(client-go's tools/cache/shared_informer.go, with its default in-order, atomic-replace FIFO).

``InformerCore`` holds everything both twins share: the cache, the handlers, what each event
does to them, the resync rule. ``SharedIndexInformer`` runs it with threads, and
``AsyncSharedIndexInformer`` (kcore.aio) with tasks on the caller's event loop; they differ
only in how they wait.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from typing import Any, Callable, Mapping, Optional, Union

from kcore import _core
from kcore.clients.resource import AsyncResourceClient, ResourceClient, ResourceInfo
from kcore.clients.watch import AsyncWatchDriver, WatchDriver
from kcore.codec import CompactObject
from kcore.informer.handlers import (
    MINIMUM_RESYNC_PERIOD,
    Add,
    Delete,
    DeletedFinalStateUnknown,
    Handler,
    Listener,
    Notification,
    Processor,
    Update,
    resync_period,
)
from kcore.informer.indexer import Indexer, IndexFunc
from kcore.informer.lister import Lister
from kcore.informer.reflector import Reflector, resource_version_of

log = logging.getLogger("kcore.informer")

Transform = Callable[[Any], Any]
WATCH_IDLE_TIMEOUT = 150.0
"""A watch that reads nothing for this long is taken for dead and replaced: kube-apiserver sends
a BOOKMARK about every minute to a watch that asked for them, so silence past two of those means
a connection that died without a FIN or RST. Over HTTP/2 the transport's pings find it sooner
(30 s + 15 s, client-go's); over HTTP/1.1 there is nothing else to find it."""
SYNC_POLL = 0.1
"""How often wait_for_cache_sync looks, as client-go's WaitForCacheSync."""


def strip_managed_fields(obj: Any) -> Any:
    """The default transform: drop metadata.managedFields, which no controller reads and which
    is often half of an object (kube-controller-manager and kube-scheduler do the same)."""
    return _core.strip_managed_fields(obj) if isinstance(obj, CompactObject) else obj


def _qualified(resource: str, group: str) -> str:
    """The resource as the API names it in messages: "pods", "deployments.apps"."""
    return f"{resource}.{group}" if group else resource


class HandlerRegistration:
    """What ``add_event_handler`` returns: ``has_synced()`` and ``remove()``."""

    def __init__(self, informer: "InformerCore", listener: Listener) -> None:
        self._informer = informer
        self._listener = listener

    def has_synced(self) -> bool:
        """This handler has been handed every object of the initial list."""
        return self._listener.has_synced()

    def remove(self) -> None:
        """No more notifications for this handler (one being handled finishes)."""
        self._informer._remove(self._listener)


class InformerCore:
    """The cache, the handlers and what each event does to them: shared by both twins."""

    def __init__(
        self,
        client: Union[ResourceClient[Any], AsyncResourceClient[Any]],
        driver_type: Any,
        *,
        resync_period: float,
        indexers: Optional[Mapping[str, IndexFunc]],
        label_selector: Optional[str],
        field_selector: Optional[str],
        use_watch_list: bool,
        watch_idle_timeout: Optional[float],
        metadata_only: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.info: ResourceInfo = client.info
        """The resource cached: its group, version, kind and whether it is namespaced."""
        self.resource = _qualified(client.info.resource, client.info.group)
        requests = client._requests.watch_requests(label_selector, field_selector, metadata_only)
        self._driver = driver_type(*requests, compact=True, idle_timeout=watch_idle_timeout)
        self._clock = clock
        self._store = _core.Store()
        self.indexer = Indexer(self._store)
        if indexers:
            self.indexer.add_indexers(indexers)
        self._processor = Processor(clock)
        self._default_resync = max(resync_period, MINIMUM_RESYNC_PERIOD) if resync_period > 0 else 0.0
        self.resync_check_period = self._default_resync
        self._transform: Optional[Transform] = strip_managed_fields
        self._deltas = threading.RLock()  # client-go's blockDeltas: one change at a time
        self._start_lock = threading.Lock()
        self._synced = False
        self.started = False
        self.stopped = False
        self.reflector = Reflector(
            self, _core.object_key, name=self.resource, use_watch_list=use_watch_list, clock=clock
        )

    # -- configuration (before start) ------------------------------------------------------

    def set_transform(self, transform: Optional[Transform]) -> None:
        """Applied to every object before it is cached and handed out; None caches objects as
        the server sent them. The default strips metadata.managedFields."""
        with self._start_lock:
            if self.started:
                raise RuntimeError("set_transform: the informer has already started")
            self._transform = transform

    def set_watch_error_handler(self, handler: Callable[[Reflector, BaseException], None]) -> None:
        """Called with each error that ends a list-and-watch round (the reflector retries after)."""
        with self._start_lock:
            if self.started:
                raise RuntimeError("set_watch_error_handler: the informer has already started")
            self.reflector.watch_error_handler = handler

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        self.indexer.add_indexers(indexers)

    def lister(self) -> Lister:
        return Lister(self.indexer, self.resource)

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.last_sync_resource_version

    def has_synced(self) -> bool:
        """The first list has reached the cache and every handler's buffer."""
        return self._synced

    # -- handlers --------------------------------------------------------------------------

    def add_event_handler(
        self,
        on_add: Handler = None,
        on_update: Handler = None,
        on_delete: Handler = None,
        *,
        resync_period: Optional[float] = None,
    ) -> HandlerRegistration:
        """``on_add(obj, is_in_initial_list)``, ``on_update(old, new)``, ``on_delete(obj)`` (obj
        may be a DeletedFinalStateUnknown); any may be omitted (in the asyncio twin, any may be
        ``async def``). Each handler has its own buffer and its own thread (or task). Added after
        start, it first gets the whole cache as adds."""
        listener, running = self._add_listener(on_add, on_update, on_delete, resync_period)
        if running:
            self._run_listener(listener)
        return HandlerRegistration(self, listener)

    def start(self) -> None:
        """Start listing and watching in the background, once (the asyncio twin: as tasks on
        the running event loop)."""
        with self._start_lock:
            if self.started or self.stopped:
                return
            self.started = True
            if self._transform is strip_managed_fields:
                # The decoder leaves them out: no object is built only to be built again without.
                self._driver.strip_managed_fields = True
                self._transform = None
        self._run_loops()
        for listener in self._processor.listeners():
            self._run_listener(listener)

    def _run_listener(self, listener: Listener) -> None:
        """Start the worker that drains one handler's buffer (the twin's thread or task)."""
        raise NotImplementedError

    def _run_loops(self) -> None:
        """Start the reflector and the resync ticker (the twin's threads or tasks)."""
        raise NotImplementedError

    def _add_listener(
        self, on_add: Handler, on_update: Handler, on_delete: Handler, resync: Optional[float]
    ) -> tuple[Listener, bool]:
        """The new listener, and whether the informer runs already (its worker must start)."""
        with self._start_lock:
            if self.stopped:
                raise RuntimeError("the informer has stopped: no handler can be added")
            requested = self._default_resync if resync is None else resync
            if requested > 0:
                requested = max(requested, MINIMUM_RESYNC_PERIOD)
                if requested < self.resync_check_period:
                    if self.started:
                        requested = self.resync_check_period
                    else:
                        self.resync_check_period = requested
                        self._processor.resync_check_period_changed(requested)
            listener = Listener(
                on_add,
                on_update,
                on_delete,
                requested,
                resync_period(requested, self.resync_check_period),
                self._clock(),
                self.has_synced,
            )
            if not self.started:
                self._processor.add(listener)
                return listener, False
            with self._deltas:  # the whole cache as adds, and nothing else meanwhile
                self._processor.add(listener)
                for obj in self._store.list():
                    listener.add(Add(obj, True))
            return listener, True

    def _remove(self, listener: Listener) -> None:
        with self._deltas:
            self._processor.remove(listener)

    # -- what the reflector delivers (ReflectorStore) ----------------------------------------

    def _prepare(self, obj: Any) -> Any:
        if self._transform is not None:
            obj = self._transform(obj)
        return obj if isinstance(obj, CompactObject) else _core.to_compact(obj)

    def replace(self, objects: list[Any], resource_version: str) -> None:
        """A full list: the cache becomes it at once; then the handlers hear of the objects
        that vanished (as DeletedFinalStateUnknown), then of each listed one in order."""
        objects = [self._prepare(obj) for obj in objects]
        with self._deltas:
            keys = [_core.object_key(obj) for obj in objects]
            listed = set(keys)
            gone = [
                DeletedFinalStateUnknown(key, self._store.get(key))
                for key in self._store.list_keys()
                if key not in listed
            ]
            olds = [self._store.get(key) for key in keys]
            self._store.replace(objects)
            initial = not self._synced
            for tombstone in gone:
                self._processor.distribute(Delete(tombstone), False)
            for old, new in zip(olds, objects):
                self._distribute_upsert(old, new, initial)
            self._synced = True

    def add(self, obj: Any) -> None:
        obj = self._prepare(obj)
        with self._deltas:
            self._distribute_upsert(self._store.upsert(obj), obj, False)

    update = add

    def delete(self, obj: Any) -> None:
        obj = self._prepare(obj)
        with self._deltas:
            self._store.delete(_core.object_key(obj))
            self._processor.distribute(Delete(obj), False)

    def _distribute_upsert(self, old: Any, new: Any, initial: bool) -> None:
        if old is None:
            self._processor.distribute(Add(new, initial), False)
        else:  # an unchanged resourceVersion is a resync: only for handlers due for one
            self._processor.distribute(Update(old, new), resource_version_of(old) == resource_version_of(new))

    def resync(self) -> None:
        """Every cached object as an update to itself, for the handlers whose resync is due."""
        with self._deltas:
            if not self._processor.should_resync():
                return
            for obj in self._store.list():
                self._processor.distribute(Update(obj, obj), True)


class SharedIndexInformer(InformerCore):
    """An informer run by threads: one for the reflector, one per handler, one for resync.

        informer = SharedIndexInformer(cs.core_v1.pods("web"))
        informer.add_event_handler(on_add=..., on_update=..., on_delete=...)
        with informer:                               # start(); stop() on leaving
            informer.wait_for_cache_sync(timeout=30)
            informer.lister().namespace("web").get("front")

    ``resync_period``: the handlers' default resync (0: none; at least 1 s). ``indexers``: as
    ``add_indexers``. ``label_selector`` / ``field_selector``: what the server lists and watches.
    ``use_watch_list``: try a streaming list before LIST (client-go's default). ``watch_idle_timeout``:
    a watch silent this long is replaced (None: never). ``metadata_only``: cache PartialObjectMetadata.
    """

    def __init__(
        self,
        client: ResourceClient[Any],
        *,
        resync_period: float = 0.0,
        indexers: Optional[Mapping[str, IndexFunc]] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        use_watch_list: bool = True,
        watch_idle_timeout: Optional[float] = WATCH_IDLE_TIMEOUT,
        metadata_only: bool = False,
    ) -> None:
        super().__init__(
            client,
            WatchDriver,
            resync_period=resync_period,
            indexers=indexers,
            label_selector=label_selector,
            field_selector=field_selector,
            use_watch_list=use_watch_list,
            watch_idle_timeout=watch_idle_timeout,
            metadata_only=metadata_only,
        )
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def _run_listener(self, listener: Listener) -> None:
        self._spawn(self._deliver, listener)

    def _run_loops(self) -> None:
        self._spawn(self._reflect)
        if self.resync_check_period > 0:
            self._spawn(self._resync_loop)

    def run(self) -> None:
        """Start, and block until ``stop()`` (from another thread or a signal handler)."""
        self.start()
        self._stop.wait()

    def stop(self) -> None:
        """Stop watching and the handlers' threads; a notification being handled finishes."""
        with self._start_lock:
            self.stopped = True
        self._stop.set()
        self._driver.stop()
        for listener in self._processor.listeners():
            listener.wake()
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout=10)

    def wait_for_cache_sync(self, timeout: Optional[float] = None) -> bool:
        """Whether the cache synced within ``timeout`` seconds (None: wait as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.has_synced():
            if self._stop.is_set() or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(SYNC_POLL)
        return True

    def __enter__(self) -> "SharedIndexInformer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"informer-{self.resource}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _reflect(self) -> None:
        for _ in self._driver.run(self.reflector.run()):
            pass  # the reflector emits nothing: it feeds the cache

    def _resync_loop(self) -> None:
        while not self._stop.wait(self.resync_check_period):
            self.resync()

    def _deliver(self, listener: Listener) -> None:
        ready = threading.Event()
        listener.wake = ready.set
        while True:
            notification = listener.take()
            if notification is None:
                if listener.removed or self._stop.is_set():
                    return
                ready.wait()
                ready.clear()
                continue
            if listener.removed or self._stop.is_set():
                return
            listener.call(notification)
            listener.delivered(notification)


class AsyncSharedIndexInformer(InformerCore):
    """The asyncio twin: the same cache and rules; the reflector and each handler are tasks on
    the event loop that calls ``start()``; handlers may be coroutine functions."""

    def __init__(
        self,
        client: AsyncResourceClient[Any],
        *,
        resync_period: float = 0.0,
        indexers: Optional[Mapping[str, IndexFunc]] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        use_watch_list: bool = True,
        watch_idle_timeout: Optional[float] = WATCH_IDLE_TIMEOUT,
        metadata_only: bool = False,
    ) -> None:
        super().__init__(
            client,
            AsyncWatchDriver,
            resync_period=resync_period,
            indexers=indexers,
            label_selector=label_selector,
            field_selector=field_selector,
            use_watch_list=use_watch_list,
            watch_idle_timeout=watch_idle_timeout,
            metadata_only=metadata_only,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop: Optional[asyncio.Event] = None

    def _run_listener(self, listener: Listener) -> None:
        self._spawn(self._deliver(listener))

    def _run_loops(self) -> None:
        self._stop = asyncio.Event()
        self._spawn(self._reflect())
        if self.resync_check_period > 0:
            self._spawn(self._resync_loop())

    async def run(self) -> None:
        """Start, and wait until ``stop()``."""
        self.start()
        assert self._stop is not None
        await self._stop.wait()

    async def stop(self) -> None:
        with self._start_lock:
            self.stopped = True
        if self._stop is not None:
            self._stop.set()
        self._driver.stop()
        for listener in self._processor.listeners():
            listener.wake()
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def wait_for_cache_sync(self, timeout: Optional[float] = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.has_synced():
            if self.stopped or (deadline is not None and time.monotonic() >= deadline):
                return False
            await asyncio.sleep(SYNC_POLL)
        return True

    async def __aenter__(self) -> "AsyncSharedIndexInformer":
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reflect(self) -> None:
        async for _ in self._driver.run(self.reflector.run()):
            pass

    async def _resync_loop(self) -> None:
        assert self._stop is not None
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self.resync_check_period)
            except asyncio.TimeoutError:
                self.resync()

    async def _deliver(self, listener: Listener) -> None:
        ready = asyncio.Event()
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(ready.set)

        listener.wake = wake
        while True:
            notification = listener.take()
            if notification is None:
                if listener.removed or self.stopped:
                    return
                await ready.wait()
                ready.clear()
                continue
            if listener.removed or self.stopped:
                return
            result = listener.call(notification)
            if inspect.isawaitable(result):
                try:
                    await result
                except Exception:
                    log.exception("event handler failed on %s", type(notification).__name__.lower())
            listener.delivered(notification)


Informer = Union[SharedIndexInformer, AsyncSharedIndexInformer]
__all__ = [
    "AsyncSharedIndexInformer",
    "HandlerRegistration",
    "Informer",
    "InformerCore",
    "Notification",
    "SharedIndexInformer",
    "strip_managed_fields",
]
