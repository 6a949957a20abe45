"""The event recorder: client-go v0.37.2 tools/events (events.k8s.io/v1 with series), falling back
to tools/record (core/v1, with its correlator) where events.k8s.io/v1 is not served.

    recorder = EventRecorder(clientset, "my-controller", socket.gethostname())
    recorder.event(pod, type="Warning", reason="FailedMount", action="Mounting", note="no such volume")
    ...
    recorder.close()        # the open series get their final count

The rules (``SeriesCore``, pure: time is given, never read), as client-go's:
- Two events are isomorphic when type, action, reason, reportingController, reportingInstance,
  regarding and related are equal (the note is NOT compared).
- The 1st occurrence is created (name "<regarding name>.<hex unix nanoseconds>", eventTime a
  MicroTime); the 2nd patches the Event at once with series {count: 2, lastObservedTime}; later
  ones are only counted in memory.
- Every 30 minutes each open series is patched with its count (heartbeat); every 6 minutes each
  series idle for more than 6 minutes is patched a last time and forgotten (and a single event
  older than 6 minutes is forgotten: its next occurrence is a new Event).
- A patch answered NotFound becomes a create. A write that gets no answer, or an answer that is
  no Status, is tried again, up to 12 times in all, about 10 s apart (jittered by 25 %); then it
  is dropped with a log line. A Status answer (the server's rejection) is not retried, except
  AlreadyExists for a series.

What kcore adds or does differently:
- ``event()`` never blocks and never raises for a bad event: it validates, builds the event on
  the caller's thread and hands it to a bounded queue (1000, client-go's size); a full queue
  drops the event with a log line. One background thread writes, in order, and schedules retries
  instead of sleeping on them, so one failing write delays no other.
- Events the server would reject are refused at once with a log line (type not Normal/Warning,
  reason or action empty or longer than 128); a note longer than 1024 bytes is cut to 1024 bytes
  (on a UTF-8 boundary) instead of having the whole event rejected; a reportingInstance longer
  than 128 is cut to 128.
- Memory is bounded: besides the queue (1000) and the retries waiting (1000), the cache keeps at
  most 4096 events; a new one beyond that ends the least recently observed (a series gets its
  last patch, as when idle). client-go's cache has no bound but the 6-minute idle rule.
- ``close(timeout)`` writes what is queued, tries each pending retry once more, and patches
  each series whose count changed since its last write; client-go's Shutdown just stops.

The fallback (``LegacyCore``, core/v1, tools/record): chosen once, when
GET /apis/events.k8s.io/v1 does not answer 200 (client-go's adapter asks discovery the same
question); events go through ``event_correlator.EventCorrelator`` (aggregation, deduplication,
spam filter); ``action`` and ``related`` are not written (core/v1 events of the legacy recorder
have neither); source = {component, host}. Retries as tools/record: 12 tries, the first retry
after a random part of 10 s, the next ones 10 s apart; no Status answer is retried.

From asyncio code: ``event()`` only enqueues, so it is safe to call from a coroutine as it is;
``close()`` blocks up to its timeout (``await asyncio.to_thread(recorder.close)``). There is no
separate asyncio twin: the writer is one thread over the blocking Clientset either way.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import logging
import queue
import random
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

from kcore.controller.event_correlator import EventCorrelator, rfc3339
from kcore.errors import AlreadyExists, ApiError, NotFound

log = logging.getLogger("kcore.controller.events")

EVENT_TYPES = ("Normal", "Warning")
MAX_TRIES_PER_EVENT = 12
RETRY_INTERVAL = 10.0
FINISH_TIME = 6 * 60.0
REFRESH_TIME = 30 * 60.0
MAX_QUEUED_EVENTS = 1000
NOTE_LENGTH_LIMIT = 1024
REASON_LENGTH_LIMIT = 128
ACTION_LENGTH_LIMIT = 128
REPORTING_INSTANCE_LENGTH_LIMIT = 128
MAX_CACHED_EVENTS = 4096

_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

Ref = dict[str, Any]


def micro_time(ns: int) -> str:
    """metav1.MicroTime's form: microseconds, UTC."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"


def event_name(regarding_name: str, unix_nano: int) -> str:
    """client-go's GenerateEventName: "<name>.<hex nanoseconds>", or a random UUID when that is
    not a valid DNS subdomain."""
    name = f"{regarding_name}.{unix_nano:x}"
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(name):
        return str(uuid.uuid4())
    return name


def truncate_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[:limit].decode(errors="ignore")


def object_reference(obj: Optional[Mapping[str, Any]], *, kind: str = "", api_version: str = "") -> Optional[Ref]:
    """client-go's reference.GetReference: apiVersion, kind, namespace, name, uid, resourceVersion
    of an object (a mapping with ``metadata``), or a copy of what already is an ObjectReference.
    Objects from an informer carry their kind; the items of a plain ``list()`` do not (as in
    client-go, where the scheme supplies it): give ``kind`` and ``api_version`` for those
    (e.g. from ``informer.info`` or a client's ``info``). None when there is no kind or no name."""
    if obj is None:
        return None
    if "metadata" in obj:
        meta = obj.get("metadata") or {}
        ref = {
            "kind": obj.get("kind", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
    else:
        ref = dict(obj)
    if kind:
        ref["kind"] = kind
    if api_version:
        ref["apiVersion"] = api_version
    ref = {k: v for k, v in ref.items() if v}
    if not ref.get("kind") or not ref.get("name"):
        return None
    return ref


def _frozen(ref: Optional[Ref]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((ref or {}).items()))


@dataclass(frozen=True)
class Occurrence:
    """One call of ``event()``, validated: what both cores turn into writes."""

    regarding: Ref
    related: Optional[Ref]
    type: str
    reason: str
    action: str
    note: str
    time_ns: int

    def metadata(self) -> dict[str, str]:
        """The new Event's name and namespace (default for a cluster-scoped object), as makeEvent's."""
        return {
            "name": event_name(self.regarding.get("name", ""), self.time_ns),
            "namespace": self.regarding.get("namespace") or "default",
        }


@dataclass
class Write:
    """One write to do: ``patch`` (strategic merge) the named Event, a create of ``body`` when it is
    not found; or, without ``patch``, create ``body``. ``key``: the cache entry it is about."""

    namespace: str
    name: str
    body: dict[str, Any]
    patch: Optional[dict[str, Any]] = None
    key: Any = None
    tries: int = 0
    is_series: bool = False


EventKey = tuple[Any, ...]


@dataclass
class _Entry:
    event: dict[str, Any]
    last_observed_ns: int  # eventTime, then series.lastObservedTime, to the nanosecond as client-go keeps them
    written_count: int = 1


class SeriesCore:
    """tools/events' eventBroadcasterImpl cache, without I/O: which writes each occurrence, each
    heartbeat, each finishing round and the final flush need."""

    def __init__(
        self, reporting_controller: str, reporting_instance: str, max_entries: int = MAX_CACHED_EVENTS
    ) -> None:
        self.reporting_controller = reporting_controller
        self.reporting_instance = reporting_instance
        self.max_entries = max_entries
        self.cache: OrderedDict[EventKey, _Entry] = OrderedDict()  # the least recently observed first

    def make_event(self, occurrence: Occurrence) -> dict[str, Any]:
        """client-go's makeEvent."""
        event: dict[str, Any] = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": occurrence.metadata(),
            "eventTime": micro_time(occurrence.time_ns),
            "reportingController": self.reporting_controller,
            "reportingInstance": self.reporting_instance,
            "action": occurrence.action,
            "reason": occurrence.reason,
            "regarding": dict(occurrence.regarding),
            "note": occurrence.note,
            "type": occurrence.type,
        }
        if occurrence.related is not None:
            event["related"] = dict(occurrence.related)
        return event

    @staticmethod
    def key(event: Mapping[str, Any]) -> EventKey:
        """client-go's getKey: everything but the note (and the name and times)."""
        return (
            event.get("type", ""),
            event.get("action", ""),
            event.get("reason", ""),
            event.get("reportingController", ""),
            event.get("reportingInstance", ""),
            _frozen(event.get("regarding")),
            _frozen(event.get("related")),
        )

    @staticmethod
    def _write(key: EventKey, event: dict[str, Any]) -> Write:
        snapshot = copy.deepcopy(event)
        series = snapshot.get("series")
        return Write(
            namespace=snapshot["metadata"]["namespace"],
            name=snapshot["metadata"]["name"],
            body=snapshot,
            patch={"series": dict(series)} if series else None,
            key=key,
            is_series=series is not None,
        )

    def observe(self, occurrence: Occurrence, now_ns: int) -> list[Write]:
        """recordToSink: the create of a 1st occurrence, the series patch of a 2nd, nothing after.
        A new event finding ``max_entries`` cached first ends the least recently observed one
        (a series gets its last patch, as when it goes idle): memory stays bounded."""
        event = self.make_event(occurrence)
        key = self.key(event)
        entry = self.cache.get(key)
        if entry is None:
            writes = []
            while len(self.cache) >= self.max_entries:
                old_key, old = self.cache.popitem(last=False)
                if "series" in old.event:
                    writes.append(self._write(old_key, old.event))
            self.cache[key] = _Entry(event, occurrence.time_ns)
            return [*writes, self._write(key, event)]
        self.cache.move_to_end(key)
        entry.last_observed_ns = now_ns
        series = entry.event.get("series")
        if series is not None:
            series["count"] += 1
            series["lastObservedTime"] = micro_time(now_ns)
            return []
        entry.event["series"] = {"count": 2, "lastObservedTime": micro_time(now_ns)}
        return [self._write(key, entry.event)]

    def heartbeat(self) -> list[Write]:
        """refreshExistingEventSeries: a patch of every open series, with its count now."""
        return [self._write(key, entry.event) for key, entry in self.cache.items() if "series" in entry.event]

    def finish(self, now_ns: int) -> list[Write]:
        """finishSeries: the last patch of each series idle for more than 6 minutes (forget it with
        ``forget`` once written); single events older than that are forgotten now."""
        writes = []
        horizon = now_ns - int(FINISH_TIME * 1e9)
        for key, entry in list(self.cache.items()):
            if entry.last_observed_ns >= horizon:
                continue
            if "series" in entry.event:
                writes.append(self._write(key, entry.event))
            else:
                del self.cache[key]
        return writes

    def flush(self) -> list[Write]:
        """At close: a patch of each series counted further since its last write."""
        return [
            self._write(key, entry.event)
            for key, entry in self.cache.items()
            if "series" in entry.event and entry.event["series"]["count"] != entry.written_count
        ]

    def written(self, write: Write, answer: Any) -> None:
        """A write succeeded: remember which count the server has."""
        entry = self.cache.get(write.key)
        if entry is not None and write.is_series:
            entry.written_count = max(entry.written_count, write.body["series"]["count"])

    def forget(self, key: EventKey) -> None:
        self.cache.pop(key, None)

    def retry_after(self, error: BaseException, write: Write) -> bool:
        """recordEvent's verdict on a failed write: True to try again."""
        if isinstance(error, ApiError):
            return isinstance(error, AlreadyExists) and write.is_series
        return True

    @staticmethod
    def retry_delay(tries: int, interval: float) -> float:
        return interval * (1.0 + 0.25 * random.random())  # wait.Jitter(interval, 0.25)


class LegacyCore:
    """tools/record's recorder over the correlator: core/v1 events, for servers without
    events.k8s.io/v1."""

    def __init__(self, component: str, host: str) -> None:
        self.source = {"component": component, "host": host} if host else {"component": component}
        self.component, self.host = component, host
        self.correlator = EventCorrelator()

    def make_event(self, occurrence: Occurrence) -> dict[str, Any]:
        """tools/record's makeEvent, with source, reportingComponent and reportingInstance."""
        stamp = rfc3339(occurrence.time_ns / 1e9)
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": occurrence.metadata(),
            "involvedObject": dict(occurrence.regarding),
            "reason": occurrence.reason,
            "message": occurrence.note,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": occurrence.type,
            "source": dict(self.source),
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        return event

    def observe(self, occurrence: Occurrence, now_ns: int) -> list[Write]:
        result = self.correlator.correlate(self.make_event(occurrence), now_ns / 1e9, now_ns)
        if result.skip or result.event is None:
            return []
        event = result.event
        body = copy.deepcopy(event)
        body["metadata"].pop("resourceVersion", None)  # a create after NotFound carries none
        return [
            Write(
                namespace=event["metadata"]["namespace"],
                name=event["metadata"]["name"],
                body=body,
                patch=result.patch if event.get("count", 1) > 1 else None,
            )
        ]

    def heartbeat(self) -> list[Write]:
        return []

    def finish(self, now_ns: int) -> list[Write]:
        return []

    def flush(self) -> list[Write]:
        return []

    def written(self, write: Write, answer: Any) -> None:
        if isinstance(answer, Mapping):
            self.correlator.update_state(dict(answer))

    def forget(self, key: Any) -> None:
        pass

    def retry_after(self, error: BaseException, write: Write) -> bool:
        return not isinstance(error, ApiError)

    @staticmethod
    def retry_delay(tries: int, interval: float) -> float:
        return interval * random.random() if tries == 1 else interval


Core = Union[SeriesCore, LegacyCore]
_STOP = object()


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    write: Write = field(compare=False)


class EventRecorder:
    """Records events about objects, off the caller's thread. See the module's docstring.

    ``events_v1``: None asks the server once (on the writer thread) whether events.k8s.io/v1 is
    served; True or False decides without asking. ``retry_interval`` (10 s) and ``clock`` (unix
    nanoseconds) are there for tests."""

    def __init__(
        self,
        clientset: Any,
        component: str,
        host: str,
        *,
        events_v1: Optional[bool] = None,
        retry_interval: float = RETRY_INTERVAL,
        max_queued: int = MAX_QUEUED_EVENTS,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not component:
            raise ValueError("an EventRecorder needs a component: the reportingController of its events")
        self.clientset = clientset
        self.component = component
        self.host = host
        self.reporting_instance = truncate_utf8(f"{component}-{host}", REPORTING_INSTANCE_LENGTH_LIMIT)
        self.retry_interval = retry_interval
        self.max_queued = max_queued
        self.clock = clock
        self._events_v1 = events_v1
        self.core: Optional[Core] = None
        self._queue: "queue.Queue[Any]" = queue.Queue()
        self._retries: list[_Due] = []
        self._seq = itertools.count()
        self._closed = False
        self._close_deadline = float("inf")
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"event-recorder-{component}", daemon=True)
        self._thread.start()

    # -- the caller's side -------------------------------------------------------------------

    def event(
        self,
        regarding: Mapping[str, Any],
        related: Optional[Mapping[str, Any]] = None,
        *,
        type: str,
        reason: str,
        action: str,
        note: str = "",
    ) -> None:
        """Record that ``action`` happened to ``regarding`` (an object, or an ObjectReference) for
        ``reason``; ``type`` "Normal" or "Warning". Never blocks, never raises for a bad event:
        a refused or dropped event is logged."""
        if type not in EVENT_TYPES:
            log.error("Unsupported event type %r (Normal or Warning): event dropped", type)
            return
        for what, value, limit in (("reason", reason, REASON_LENGTH_LIMIT), ("action", action, ACTION_LENGTH_LIMIT)):
            if not value or len(value.encode()) > limit:
                log.error("Event %s must have 1 to %d characters, not %r: event dropped", what, limit, value)
                return
        ref = object_reference(regarding)
        if ref is None:
            log.error(
                "Could not construct reference to %r (no kind or no name; items of a list() carry no "
                "kind: pass object_reference(obj, kind=..., api_version=...)), will not report event: "
                "type=%s reason=%s note=%r",
                regarding,
                type,
                reason,
                note,
            )
            return
        related_ref = object_reference(related)
        if related is not None and related_ref is None:
            log.debug("Could not construct reference to related object %r", related)
        occurrence = Occurrence(
            ref, related_ref, type, reason, action, truncate_utf8(note, NOTE_LENGTH_LIMIT), self.clock()
        )
        with self._lock:
            if self._closed:
                log.error("Event recorder is closed, dropped event: %s %s %s", type, reason, _describe(ref))
                return
            if self._queue.qsize() >= self.max_queued:
                log.error(
                    "Unable to record event: too many queued events, dropped event: %s %s %s",
                    type,
                    reason,
                    _describe(ref),
                )
                return
            self._queue.put_nowait(occurrence)

    def eventf(
        self,
        regarding: Mapping[str, Any],
        type: str,
        reason: str,
        action: str,
        note: str,
        *args: Any,
        related: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """client-go's Eventf: ``note % args`` (Python's printf-style for Go's Sprintf)."""
        self.event(regarding, related, type=type, reason=reason, action=action, note=note % args if args else note)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking events; within ``timeout`` seconds write what is queued, try each pending
        retry once more, and patch the series whose count changed. True when all of it was done."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close_deadline = time.monotonic() + timeout
                self._queue.put_nowait(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("Event recorder: writes still unfinished %.1f s after close, abandoned", timeout)
            return False
        return True

    def __enter__(self) -> "EventRecorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def uses_events_v1(self) -> bool:
        """Whether events.k8s.io/v1 is written (waits for the writer's one discovery request)."""
        self._ready.wait()
        return isinstance(self.core, SeriesCore)

    # -- the writer thread --------------------------------------------------------------------

    def _choose_core(self) -> Core:
        served = self._events_v1
        if served is None:
            try:
                answer = self.clientset.transport.request(
                    "GET", "/apis/events.k8s.io/v1", headers={"accept": "application/json"}
                )
                served = answer.status == 200
            except Exception as exc:  # client-go's adapter falls back on any discovery error too
                log.warning("Event recorder: discovery of events.k8s.io/v1 failed (%s): writing core/v1 events", exc)
                served = False
        if served:
            return SeriesCore(self.component, self.reporting_instance)
        return LegacyCore(self.component, self.host)

    def _send(self, write: Write) -> Any:
        client = self.clientset.events_v1 if isinstance(self.core, SeriesCore) else self.clientset.core_v1
        events = client.events(write.namespace)
        if write.patch is not None:
            try:
                return events.patch(write.name, write.patch, patch_type="strategic")
            except NotFound:
                pass
        return events.create(write.body)

    def _try(self, write: Write) -> bool:
        """One try of ``write``; True when another try is due."""
        assert self.core is not None
        try:
            answer = self._send(write)
        except Exception as exc:
            if self.core.retry_after(exc, write):
                log.warning(
                    "Unable to write event %s/%s (may retry after sleeping): %s", write.namespace, write.name, exc
                )
                return True
            if isinstance(exc, AlreadyExists):
                log.debug("Server rejected event %s/%s (will not retry!): %s", write.namespace, write.name, exc)
            else:
                log.error("Server rejected event %s/%s (will not retry!): %s", write.namespace, write.name, exc)
            return False
        self.core.written(write, answer)
        return False

    def _attempt(self, write: Write) -> None:
        """A try, and on failure a retry scheduled (client-go's attemptRecording, without sleeping)."""
        if not self._try(write):
            return
        write.tries += 1
        if write.tries >= MAX_TRIES_PER_EVENT:
            log.error(
                "Unable to write event %s/%s (retry limit exceeded!): %s", write.namespace, write.name, write.body
            )
            return
        if len(self._retries) >= self.max_queued:
            log.error(
                "Unable to write event %s/%s: too many events waiting for a retry, dropped", write.namespace, write.name
            )
            return
        delay = self.core.retry_delay(write.tries, self.retry_interval) if self.core else self.retry_interval
        heapq.heappush(self._retries, _Due(time.monotonic() + delay, next(self._seq), write))

    def _run(self) -> None:
        try:
            self.core = self._choose_core()
        finally:
            self._ready.set()
        core = self.core
        next_refresh = time.monotonic() + REFRESH_TIME
        next_finish = time.monotonic() + FINISH_TIME
        while True:
            now = time.monotonic()
            due = min(next_refresh, next_finish, self._retries[0].at if self._retries else float("inf"))
            try:
                item = self._queue.get(timeout=max(0.0, due - now))
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                try:
                    writes = core.observe(item, self.clock())
                except Exception:  # a bug must not end the writer: the events after it still count
                    log.exception("Unable to record event %r (will not retry!)", item)
                    writes = []
                for write in writes:
                    self._attempt(write)
            while self._retries and self._retries[0].at <= time.monotonic():
                self._attempt(heapq.heappop(self._retries).write)
            now = time.monotonic()
            if now >= next_refresh:
                next_refresh = now + REFRESH_TIME
                for write in core.heartbeat():
                    self._try(write)
            if now >= next_finish:
                next_finish = now + FINISH_TIME
                for write in core.finish(self.clock()):
                    if not self._try(write):
                        core.forget(write.key)
        self._drain(core)

    def _drain(self, core: Core) -> None:
        """At close, until the deadline: the queue, one more try of each retry, the series' counts."""

        def in_time() -> bool:
            return time.monotonic() < self._close_deadline

        while in_time():
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                for write in core.observe(item, self.clock()):
                    if self._try(write):
                        log.error("Unable to write event %s/%s at close, dropped", write.namespace, write.name)
        pending, self._retries = [due.write for due in sorted(self._retries)], []
        for write in pending:
            if not in_time() or self._try(write):
                log.error("Unable to write event %s/%s at close, dropped", write.namespace, write.name)
        for write in core.flush():
            if not in_time() or self._try(write):
                log.error(
                    "Unable to write the last count of event series %s/%s at close, dropped",
                    write.namespace,
                    write.name,
                )


def _describe(ref: Ref) -> str:
    return f"{ref.get('kind', '')} {ref.get('namespace', '')}/{ref.get('name', '')}"
