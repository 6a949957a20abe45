"""The reflector: client-go's list-then-watch loop (tools/cache/reflector.go) as a sans-IO plan.

``Reflector.run()`` is a generator of the commands in kcore.clients.watch; the informer's twins
drive it (a thread, or a task on the event loop). What it learns goes to a ``ReflectorStore``:
``replace`` after a LIST or a streaming list, then ``add`` / ``update`` / ``delete`` per event.

The rules, as upstream v0.37.2 has them:
- A streaming list first (watch with sendInitialEvents, resourceVersionMatch=NotOlderThan; the
  objects gathered until the BOOKMARK annotated ``k8s.io/initial-events-end``, then one Replace,
  and the same watch goes on); any failure there falls back to LIST.
- LIST at resourceVersion "0" before the first sync, at the last synced version after, and at
  "" (a quorum read) once a version proved expired or too large. Pages of 500, except a relist at
  a known version (served whole by the watch cache); a continue token that expires mid-way makes
  one full list at the version first asked for.
- WATCH from the last synced version, with bookmarks and a server timeout in [300, 600) s. A
  stream that ends is re-opened; a refused connection or a 429 backs off and re-watches; a 410
  ends the watch and relists (from the last synced version); any other failure ends this round.
- Between rounds, and on each retry: 0.8 s doubling to 30 s, jittered, reset after 2 quiet minutes.
- A watch that ends within a second with no event is a failure (no hot loop).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Generator, Iterable, Mapping, Optional, Protocol

from kcore.clients.watch import (
    NEXT_EVENT,
    Backoff,
    Command,
    ListPage,
    OpenWatch,
    Plan,
    Sleep,
    is_initial_events_end,
    watch_timeout_seconds,
)
from kcore.codec import DecodeError
from kcore.errors import ApiError, Gone, InternalError, KcoreError, ServerTimeout, TooManyRequests, TransportError

log = logging.getLogger("kcore.informer")

PAGE_SIZE = 500


class ReflectorStore(Protocol):
    """Where a reflector puts what it learns (the informer's delta handling)."""

    def replace(self, objects: list[Any], resource_version: str) -> None: ...
    def add(self, obj: Any) -> None: ...
    def update(self, obj: Any) -> None: ...
    def delete(self, obj: Any) -> None: ...


class VeryShortWatchError(KcoreError):
    """A watch ended within a second without a single event: the server is not well."""


def resource_version_of(obj: Any) -> str:
    """metadata.resourceVersion of an object or a list; "" if it has none."""
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    rv = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
    return rv if isinstance(rv, str) else ""


def is_expired(error: BaseException) -> bool:
    """410: the resourceVersion asked for is older than the server keeps."""
    return isinstance(error, Gone) or (isinstance(error, ApiError) and error.reason in ("Expired", "Gone"))


def is_too_large_resource_version(error: BaseException) -> bool:
    """The resourceVersion asked for is newer than the server has (a restored etcd, a lagging cache)."""
    if not isinstance(error, ApiError):
        return False
    causes = error.details.get("causes") or []
    if any(isinstance(c, Mapping) and c.get("reason") == "ResourceVersionTooLarge" for c in causes):
        return True
    return isinstance(error, ServerTimeout) and any(
        isinstance(c, Mapping) and c.get("message") == "Too large resource version" for c in causes
    )


def is_watch_error_retriable(error: BaseException) -> bool:
    """Back off and watch again without relisting: the server is not reachable, or throttles.
    (client-go retries "connection refused" only; kcore cannot tell a refusal from other
    connection failures, and a re-watch from the last version loses nothing either way.)"""
    return isinstance(error, (TransportError, TooManyRequests))


def default_watch_error_handler(reflector: "Reflector", error: BaseException) -> None:
    if is_expired(error):
        log.info("%s: watch closed: %s", reflector.name, error)
    else:
        log.warning("%s: failed to list and watch: %s", reflector.name, error)


@dataclass
class ReflectorMetrics:
    """What a reflector counts, read by kcore.informer.metrics at scrape time. Durations in
    seconds; the summaries as (count, sum)."""

    lists: int = 0
    list_duration: tuple[int, float] = (0, 0.0)
    items_per_list: tuple[int, float] = (0, 0.0)
    watches: int = 0
    short_watches: int = 0
    watch_duration: tuple[int, float] = (0, 0.0)
    items_per_watch: tuple[int, float] = (0, 0.0)
    last_resource_version: float = 0.0

    def listed(self, seconds: float, items: int) -> None:
        self.lists += 1
        self.list_duration = _observe(self.list_duration, seconds)
        self.items_per_list = _observe(self.items_per_list, items)

    def watched(self, seconds: float, items: int) -> None:
        self.watch_duration = _observe(self.watch_duration, seconds)
        self.items_per_watch = _observe(self.items_per_watch, items)

    def saw_version(self, resource_version: str) -> None:
        if resource_version.isdigit():  # opaque to clients; etcd's are integers, and so is the gauge
            self.last_resource_version = float(resource_version)


def _observe(summary: tuple[int, float], value: float) -> tuple[int, float]:
    return summary[0] + 1, summary[1] + value


class _TemporaryStore:
    """What a streaming list gathers before its end: a key → object map."""

    def __init__(self, key_of: Callable[[Any], str]) -> None:
        self._key_of = key_of
        self.objects: dict[str, Any] = {}

    def add(self, obj: Any) -> None:
        self.objects[self._key_of(obj)] = obj

    update = add

    def delete(self, obj: Any) -> None:
        self.objects.pop(self._key_of(obj), None)


class Reflector:
    """Keeps a ReflectorStore in step with the server. ``run()`` is the plan a driver runs
    until it stops it; ``last_sync_resource_version`` is where it stands."""

    def __init__(
        self,
        store: ReflectorStore,
        key_of: Callable[[Any], str],
        *,
        name: str = "reflector",
        use_watch_list: bool = True,
        page_size: int = PAGE_SIZE,
        watch_error_handler: Callable[["Reflector", BaseException], None] = default_watch_error_handler,
        clock: Callable[[], float] = time.monotonic,
        backoff: Optional[Backoff] = None,
    ) -> None:
        self.name = name
        self._store = store
        self._key_of = key_of
        self.use_watch_list = use_watch_list
        self._page_size = page_size
        self.watch_error_handler = watch_error_handler
        self._clock = clock
        self._backoff = backoff or Backoff(clock)
        self.last_sync_resource_version = ""
        self.metrics = ReflectorMetrics()
        self._version_unavailable = False
        self._paginated_result = False

    # -- the versions to ask for ---------------------------------------------------------------

    def _relist_resource_version(self) -> str:
        if self._version_unavailable:
            return ""
        return self.last_sync_resource_version or "0"

    def _rewatch_resource_version(self) -> str:
        return "" if self._version_unavailable else self.last_sync_resource_version

    # -- the plan ------------------------------------------------------------------------------

    def run(self) -> Plan:
        """List and watch, round after round, until the driver stops it."""
        while True:
            try:
                yield from self.list_and_watch()
            except Exception as error:
                self.watch_error_handler(self, error)
            yield Sleep(self._backoff.next_delay())

    def list_and_watch(self) -> Plan:
        """One round: fill the store (streaming list, else LIST), then watch until the round ends."""
        streamed = False
        if self.use_watch_list:
            try:
                yield from self._watch_list()
                streamed = True
            except Exception as error:
                log.debug("%s: streaming list failed, falling back to LIST: %s", self.name, error)
        if not streamed:
            yield from self._list()
        yield from self._watch(already_open=streamed)

    def _list(self) -> Plan:
        started = self._clock()
        resource_version = self._relist_resource_version()
        if self._paginated_result:
            page_size = self._page_size
        elif resource_version not in ("", "0"):
            page_size = 0  # served whole from the watch cache: no thundering herd on etcd
        else:
            page_size = self._page_size
        try:
            items, list_version, paginated = yield from self._pages(resource_version, page_size)
        except ApiError as error:
            if not (is_expired(error) or is_too_large_resource_version(error)):
                raise
            self._version_unavailable = True
            resource_version = self._relist_resource_version()
            items, list_version, paginated = yield from self._pages(resource_version, page_size)
        if resource_version == "0" and paginated:
            self._paginated_result = True  # no watch cache and many objects: keep paging
        self._version_unavailable = False
        self._store.replace(items, list_version)
        self._synced(list_version, self._clock() - started, len(items))

    def _synced(self, resource_version: str, seconds: float, items: int) -> None:
        self.last_sync_resource_version = resource_version
        self.metrics.listed(seconds, items)
        self.metrics.saw_version(resource_version)

    def _pages(self, resource_version: str, page_size: int) -> Generator[Command, Any, tuple[list[Any], str, bool]]:
        """client-go's pager: every page's items, the list's resourceVersion, whether it paged.
        A continue token that expires falls back to one full list at the version first asked for."""
        items: list[Any] = []
        paginated = False
        page = ListPage(resource_version, page_size or None)
        while True:
            try:
                answer = yield page
            except ApiError as error:
                if not is_expired(error) or page.continue_token is None:
                    raise
                answer = yield ListPage(resource_version)
                return list(_items(answer)), resource_version_of(answer), paginated
            items.extend(_items(answer))
            token = (answer.get("metadata") or {}).get("continue")
            if not token:
                return items, resource_version_of(answer), paginated
            page = ListPage(None, page_size, token)
            paginated = True

    def _watch_list(self) -> Plan:
        """A streaming list: the current objects as events into a temporary store, replaced
        into the real one at the initial-events-end BOOKMARK; the watch stays open."""
        list_started = self._clock()
        while True:
            temporary = _TemporaryStore(self._key_of)
            list_version = ""

            def saw(rv: str, besides_added: bool) -> None:
                nonlocal list_version
                if besides_added:
                    list_version = rv

            started = self._clock()
            try:
                yield OpenWatch(self._rewatch_resource_version(), watch_timeout_seconds(), send_initial_events=True)
                ended = yield from self._handle(temporary, started, saw, stop_at_initial_events_end=True)
            except Exception as error:
                if is_watch_error_retriable(error):
                    yield Sleep(self._backoff.next_delay())
                    continue
                if is_expired(error) or is_too_large_resource_version(error):
                    self._version_unavailable = True
                    continue
                raise
            if ended:
                break
        self._version_unavailable = False
        self._store.replace(list(temporary.objects.values()), list_version)
        self._synced(list_version, self._clock() - list_started, len(temporary.objects))

    def _watch(self, already_open: bool) -> Plan:
        """Watch from the last synced version, re-opening as streams end."""
        while True:
            started = self._clock()
            from_start = True
            if not already_open:
                resource_version = self.last_sync_resource_version
                # From "" or "0" the server first replays objects out of version order.
                from_start = resource_version not in ("", "0")
                try:
                    self.metrics.watches += 1
                    yield OpenWatch(resource_version, watch_timeout_seconds())
                except Exception as error:
                    if is_watch_error_retriable(error):
                        yield Sleep(self._backoff.next_delay())
                        continue
                    raise
            already_open = False

            def saw(rv: str, besides_added: bool, from_start: bool = from_start) -> None:
                if from_start or besides_added:
                    self.last_sync_resource_version = rv
                    self.metrics.saw_version(rv)

            try:
                yield from self._handle(self._store, started, saw, stop_at_initial_events_end=False)
            except Exception as error:
                if is_expired(error):
                    return  # relist, from the last synced version
                if isinstance(error, TooManyRequests):
                    yield Sleep(self._backoff.next_delay())
                    continue
                log.warning("%s: watch ended with an error: %s", self.name, error)
                return

    def _handle(
        self, store: Any, started: float, saw: Callable[[str, bool], None], stop_at_initial_events_end: bool
    ) -> Generator[Command, Any, bool]:
        """Apply the open watch's events to ``store``; True once the initial-events-end
        BOOKMARK arrived. A broken connection ends the stream as the server's end would (the
        caller re-watches from where it got); an ERROR event or an undecodable frame raises."""
        initial_events_ended = False
        besides_added = False
        count = 0
        while True:
            try:
                event = yield NEXT_EVENT
            except TransportError as error:
                log.info("%s: watch stream broke: %s", self.name, error)
                event = None
            except DecodeError as error:
                raise InternalError(
                    {
                        "kind": "Status",
                        "code": 500,
                        "reason": "InternalError",
                        "message": f"unable to decode an event from the watch stream: {error}",
                    }
                ) from error
            if event is None:
                break
            event_type, obj = event
            if event_type == "ADDED":
                store.add(obj)
            elif event_type == "MODIFIED":
                besides_added = True
                store.update(obj)
            elif event_type == "DELETED":
                besides_added = True
                store.delete(obj)
            elif event_type == "BOOKMARK":
                besides_added = True
                initial_events_ended = initial_events_ended or is_initial_events_end(event_type, obj)
            saw(resource_version_of(obj), besides_added)
            count += 1
            if stop_at_initial_events_end and initial_events_ended:
                return True
        lasted = self._clock() - started
        if not stop_at_initial_events_end:
            self.metrics.watched(lasted, count)
        if lasted < 1.0 and count == 0:
            self.metrics.short_watches += 1
            raise VeryShortWatchError(
                f"{self.name}: very short watch: the watch ended within a second without an event"
            )
        return initial_events_ended


def _items(answer: Any) -> Iterable[Any]:
    return answer.get("items") or () if isinstance(answer, Mapping) else ()
