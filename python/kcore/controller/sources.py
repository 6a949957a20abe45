"""What feeds a controller's queue: an informer's events turned into keys ("namespace/name",
or "name" when cluster-scoped), after the source's predicates (controller-runtime's
source.Kind with handler.EnqueueRequestForObject, EnqueueRequestForOwner and
EnqueueRequestsFromMapFunc).

- ``for_``: the object's own key.
- ``owns``: the key of the object's controller owner (the ownerReference with
  ``controller: true``) when that owner's group and kind are the reconciled resource's; the
  owner is in the object's namespace, or cluster-scoped when the reconciled resource is.
- ``watches``: the keys ``map_fn(obj)`` returns, or what an ``EventHandler`` returns for each
  kind of event (it sees whether the object was added, updated or deleted).

An update is mapped from both its old and its new object (an owner or a mapping that changed
reaches both keys); a tombstone (DeletedFinalStateUnknown) from the last known state, and
``for_`` enqueues its key even without one.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Protocol, Sequence, Union

from kcore.clients.resource import ResourceInfo
from kcore.controller.predicates import And, Predicate
from kcore.informer.handlers import DeletedFinalStateUnknown
from kcore.informer.indexer import object_key

Keys = Union[str, Iterable[str], None]
"""The key (or keys) to reconcile, or None."""
MapFunc = Callable[[Any], Keys]
"""What ``watches`` calls with an object: the key (or keys) to reconcile, or None."""


class EventHandler:
    """What each kind of event enqueues (controller-runtime's handler.Funcs), for a controller
    that must tell an add from an update or a delete: one that keeps expectations of its own
    writes, say, lowers them here before the key is enqueued. Each method returns the key (or
    keys) to reconcile, or None; the defaults enqueue nothing. ``delete`` gets a tombstone's
    last known state.

        controller.watches(pods, PodEvents())    # class PodEvents(EventHandler): def create(...
    """

    def create(self, obj: Any) -> Keys:
        return None

    def update(self, old: Any, new: Any) -> Keys:
        return None

    def delete(self, obj: Any) -> Keys:
        return None


class _MapEachObject(EventHandler):
    """Every event mapped by one function: an update from both its old and its new object."""

    def __init__(self, keys_of: Callable[[Any], Iterable[str]]) -> None:
        self._keys_of = keys_of

    def create(self, obj: Any) -> Keys:
        return self._keys_of(obj)

    def update(self, old: Any, new: Any) -> Keys:
        return [*self._keys_of(old), *self._keys_of(new)]

    def delete(self, obj: Any) -> Keys:
        return self._keys_of(obj)


class Enqueue(Protocol):
    def add(self, item: Any) -> None: ...


class Source:
    """One informer's events, mapped to keys and filtered by predicates, added to a queue."""

    def __init__(
        self,
        informer: Any,
        keys_of: Union[Callable[[Any], Iterable[str]], EventHandler],
        predicates: Sequence[Predicate],
        *,
        key_of_tombstone: bool = False,
    ) -> None:
        self.informer = informer
        self._handler = keys_of if isinstance(keys_of, EventHandler) else _MapEachObject(keys_of)
        self._predicate = And(*predicates)
        self._key_of_tombstone = key_of_tombstone
        self._queue: Optional[Enqueue] = None
        self.registration: Any = None

    def register(self, queue: Enqueue) -> None:
        """Start adding keys to ``queue`` (the informer hands over its whole cache first)."""
        self._queue = queue
        self.registration = self.informer.add_event_handler(
            on_add=self.on_add, on_update=self.on_update, on_delete=self.on_delete
        )

    def has_synced(self) -> bool:
        return self.registration is not None and bool(self.registration.has_synced())

    def unregister(self) -> None:
        if self.registration is not None:
            self.registration.remove()

    def _enqueue(self, keys: Keys) -> None:
        assert self._queue is not None
        if keys is None:
            return
        for key in dict.fromkeys([keys] if isinstance(keys, str) else keys):
            self._queue.add(key)

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        if self._predicate.create(obj):
            self._enqueue(self._handler.create(obj))

    def on_update(self, old: Any, new: Any) -> None:
        if self._predicate.update(old, new):
            self._enqueue(self._handler.update(old, new))

    def on_delete(self, obj: Any) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            if obj.obj is None:
                if self._key_of_tombstone:
                    self._enqueue(obj.key)
                return
            obj = obj.obj
        if self._predicate.delete(obj):
            self._enqueue(self._handler.delete(obj))


def own_key(obj: Any) -> list[str]:
    return [object_key(obj)]


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def controller_owner_keys(owner: ResourceInfo) -> Callable[[Any], list[str]]:
    """The key of an object's controller owner when it is an ``owner`` (same group and kind;
    any version), else none."""

    def keys_of(obj: Any) -> list[str]:
        metadata = obj.get("metadata") or {}
        for ref in metadata.get("ownerReferences") or ():
            if not ref.get("controller"):
                continue
            if ref.get("kind") != owner.kind or _group(ref.get("apiVersion") or "") != owner.group:
                return []
            namespace = metadata.get("namespace") if owner.namespaced else None
            return [f"{namespace}/{ref['name']}" if namespace else ref["name"]]
        return []

    return keys_of


def mapped_keys(map_fn: MapFunc) -> Callable[[Any], list[str]]:
    """What ``map_fn`` returns, as a list of keys (a single key may be returned bare)."""

    def keys_of(obj: Any) -> list[str]:
        keys = map_fn(obj)
        if keys is None:
            return []
        return [keys] if isinstance(keys, str) else list(keys)

    return keys_of


__all__ = ["EventHandler", "Keys", "MapFunc", "Source", "controller_owner_keys", "mapped_keys", "own_key"]
