"""The legacy core/v1 event correlator: client-go v0.37.2 tools/record/events_cache.go, pure logic.

The recorder (kcore.controller.events) uses it only where events.k8s.io/v1 is not served.
``EventCorrelator.correlate(event, now)`` decides, for one core/v1 Event about to be written:

- aggregation: events of one source + involved object + type + reason (+ reporting controller
  and instance) with at least 10 distinct messages, each within 600 s of the previous one, are
  written as ONE event "(combined from similar events): <latest message>";
- deduplication: an event identical to one already written (same source, object, type, reason
  and message) becomes a patch of the first one: count + 1, lastTimestamp, message;
- the spam filter: a token bucket per source + involved object + type (burst 25, one more
  token per 300 s); an event finding the bucket empty is skipped.

Every cache is an LRU of 4096 entries. Time is given, never read: ``now`` is seconds since the
epoch (float), so tests drive it.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar

MAX_LRU_CACHE_ENTRIES = 4096
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL_SECONDS = 600
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0
COMBINED_PREFIX = "(combined from similar events): "

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """groupcache's lru.Cache: ``get`` and ``add`` make an entry the most recent; adding beyond
    ``size`` evicts the least recent."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> Optional[V]:
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key]

    def add(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


class TokenBucket:
    """A passive token bucket (golang.org/x/time/rate as client-go's flowcontrol uses it): full
    at first, ``qps`` tokens a second added up to ``burst``; ``try_accept`` takes one if there is."""

    def __init__(self, qps: float, burst: int, now: float) -> None:
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def try_accept(self, now: float) -> bool:
        if now > self.last:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
            self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _ref(event: dict[str, Any]) -> dict[str, Any]:
    ref: dict[str, Any] = event.get("involvedObject") or {}
    return ref


def _source(event: dict[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = event.get("source") or {}
    return source


def event_key(event: dict[str, Any]) -> str:
    """client-go's getEventKey: what makes two events identical (the message included)."""
    ref, source = _ref(event), _source(event)
    return "".join(
        [
            source.get("component", ""),
            source.get("host", ""),
            ref.get("kind", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            ref.get("fieldPath", ""),
            ref.get("uid", ""),
            ref.get("apiVersion", ""),
            event.get("type", ""),
            event.get("reason", ""),
            event.get("message", ""),
        ]
    )


def spam_key(event: dict[str, Any]) -> str:
    """client-go's getSpamKey: source + involved object + type (not the reason, not the message)."""
    ref, source = _ref(event), _source(event)
    return "".join(
        [
            source.get("component", ""),
            source.get("host", ""),
            ref.get("kind", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            ref.get("uid", ""),
            ref.get("apiVersion", ""),
            event.get("type", ""),
        ]
    )


def aggregate_key(event: dict[str, Any]) -> tuple[str, str]:
    """client-go's EventAggregatorByReasonFunc: (the aggregate key, the local key = the message)."""
    ref, source = _ref(event), _source(event)
    key = "".join(
        [
            source.get("component", ""),
            source.get("host", ""),
            ref.get("kind", ""),
            ref.get("namespace", ""),
            ref.get("name", ""),
            ref.get("uid", ""),
            ref.get("apiVersion", ""),
            event.get("type", ""),
            event.get("reason", ""),
            event.get("reportingComponent", ""),
            event.get("reportingInstance", ""),
        ]
    )
    return key, event.get("message", "")


def rfc3339(now: float) -> str:
    """metav1.Time's form: seconds, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(now)))


class SpamFilter:
    """EventSourceObjectSpamFilter: True means "skip this event"."""

    def __init__(self, size: int = MAX_LRU_CACHE_ENTRIES, burst: int = SPAM_BURST, qps: float = SPAM_QPS) -> None:
        self.burst, self.qps = burst, qps
        self._cache: LRU[str, TokenBucket] = LRU(size)

    def filter(self, event: dict[str, Any], now: float) -> bool:
        key = spam_key(event)
        bucket = self._cache.get(key)
        if bucket is None:
            bucket = TokenBucket(self.qps, self.burst, now)
        skip = not bucket.try_accept(now)
        self._cache.add(key, bucket)
        return skip


@dataclass
class _AggregateRecord:
    local_keys: set[str]
    last_timestamp: float


class Aggregator:
    """EventAggregator with client-go's by-reason key and "(combined from similar events)" message."""

    def __init__(
        self,
        size: int = MAX_LRU_CACHE_ENTRIES,
        max_events: int = AGGREGATE_MAX_EVENTS,
        max_interval: float = AGGREGATE_INTERVAL_SECONDS,
    ) -> None:
        self.max_events, self.max_interval = max_events, max_interval
        self._cache: LRU[str, _AggregateRecord] = LRU(size)

    def aggregate(self, event: dict[str, Any], now: float, now_ns: int) -> tuple[dict[str, Any], str]:
        """The event to write and its cache key: the event itself and its identity key, or once
        the aggregate has ``max_events`` distinct messages, a new combined event and the aggregate key."""
        key, local_key = aggregate_key(event)
        record = self._cache.get(key)
        if record is None or now - record.last_timestamp > self.max_interval:
            record = _AggregateRecord(set(), now)
        record.local_keys.add(local_key)
        record.last_timestamp = now
        self._cache.add(key, record)
        if len(record.local_keys) < self.max_events:
            return event, event_key(event)
        # client-go pops any one message so that the next new message aggregates again
        record.local_keys.pop()
        stamp = rfc3339(now)
        combined = {
            "metadata": {
                "name": f"{_ref(event).get('name', '')}.{now_ns:x}",
                "namespace": event["metadata"]["namespace"],
            },
            "involvedObject": event["involvedObject"],
            "reason": event.get("reason", ""),
            "message": COMBINED_PREFIX + event.get("message", ""),
            "source": event.get("source", {}),
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": event.get("type", ""),
        }
        return combined, key


@dataclass
class _Observation:
    count: int
    first_timestamp: Any
    name: str
    resource_version: str


@dataclass
class Correlated:
    """What to write: ``event`` (created when ``patch`` is None, else patched with ``patch``), or
    nothing when ``skip``."""

    event: Optional[dict[str, Any]] = None
    patch: Optional[dict[str, Any]] = None
    skip: bool = False


class EventCorrelator:
    """client-go's EventCorrelator with its default options."""

    def __init__(self, size: int = MAX_LRU_CACHE_ENTRIES) -> None:
        self.aggregator = Aggregator(size)
        self.spam_filter = SpamFilter(size)
        self._observed: LRU[str, _Observation] = LRU(size)

    def _observe(self, event: dict[str, Any], key: str) -> tuple[dict[str, Any], Optional[dict[str, Any]]]:
        event = copy.deepcopy(event)
        patch = None
        last = self._observed.get(key)
        if last is not None and last.count > 0:
            event["metadata"]["name"] = last.name
            if last.resource_version:
                event["metadata"]["resourceVersion"] = last.resource_version
            event["firstTimestamp"] = last.first_timestamp
            event["count"] = last.count + 1
            # the two-way merge patch client-go computes against a copy without count,
            # lastTimestamp and message
            patch = {
                "count": event["count"],
                "lastTimestamp": event.get("lastTimestamp"),
                "message": event.get("message", ""),
            }
        self._observed.add(
            key,
            _Observation(
                event.get("count", 0),
                event.get("firstTimestamp"),
                event["metadata"]["name"],
                event["metadata"].get("resourceVersion", ""),
            ),
        )
        return event, patch

    def correlate(self, event: dict[str, Any], now: float, now_ns: Optional[int] = None) -> Correlated:
        """Aggregate, deduplicate, then filter (in client-go's order: a skipped event still
        counted in the deduplication cache)."""
        aggregated, key = self.aggregator.aggregate(event, now, now_ns if now_ns is not None else int(now * 1e9))
        observed, patch = self._observe(aggregated, key)
        if self.spam_filter.filter(observed, now):
            return Correlated(skip=True)
        return Correlated(event=observed, patch=patch)

    def update_state(self, written: dict[str, Any]) -> None:
        """After a successful write: remember the server's copy (its name, count, resourceVersion)."""
        metadata = written.get("metadata") or {}
        self._observed.add(
            event_key(written),
            _Observation(
                written.get("count", 0),
                written.get("firstTimestamp"),
                metadata.get("name", ""),
                metadata.get("resourceVersion", ""),
            ),
        )
