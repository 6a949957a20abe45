"""Predicates: which of a source's events reach the controller's queue (controller-runtime's
pkg/predicate). Each answers per event kind; creates and deletes pass unless a predicate says
otherwise, and the ``...Changed`` ones let an update through only when that part changed.

    controller.for_(deployments, predicates=[GenerationChanged() | LabelsChanged()])

A source's predicates must all pass (as controller-runtime's ``WithPredicates``); combine them
with ``&``, ``|`` and ``~`` (or ``And``, ``Or``, ``Not``). A tombstone's last known state is
what ``delete`` is asked about.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional


def _metadata(obj: Any) -> Mapping[str, Any]:
    metadata = obj.get("metadata") if obj is not None else None
    return metadata if metadata is not None else {}


class Predicate:
    """Lets every event through; subclasses override the kinds they filter."""

    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return True

    def delete(self, obj: Any) -> bool:
        return True

    def __and__(self, other: "Predicate") -> "Predicate":
        return And(self, other)

    def __or__(self, other: "Predicate") -> "Predicate":
        return Or(self, other)

    def __invert__(self) -> "Predicate":
        return Not(self)


class Funcs(Predicate):
    """A predicate from functions, one per event kind; an omitted one lets its events through."""

    def __init__(
        self,
        create: Optional[Callable[[Any], bool]] = None,
        update: Optional[Callable[[Any, Any], bool]] = None,
        delete: Optional[Callable[[Any], bool]] = None,
    ) -> None:
        self._create, self._update, self._delete = create, update, delete

    def create(self, obj: Any) -> bool:
        return self._create is None or bool(self._create(obj))

    def update(self, old: Any, new: Any) -> bool:
        return self._update is None or bool(self._update(old, new))

    def delete(self, obj: Any) -> bool:
        return self._delete is None or bool(self._delete(obj))


class Filter(Predicate):
    """``keep(obj)`` decides every event, of the new object for an update (controller-runtime's
    NewPredicateFuncs): ``Filter(lambda o: "app" in (o["metadata"].get("labels") or {}))``."""

    def __init__(self, keep: Callable[[Any], bool]) -> None:
        self._keep = keep

    def create(self, obj: Any) -> bool:
        return bool(self._keep(obj))

    def update(self, old: Any, new: Any) -> bool:
        return bool(self._keep(new))

    def delete(self, obj: Any) -> bool:
        return bool(self._keep(obj))


class _FieldChanged(Predicate):
    """Updates pass when one metadata field differs between the old and the new object."""

    def _field(self, metadata: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def update(self, old: Any, new: Any) -> bool:
        if old is None or new is None:
            return False
        return bool(self._field(_metadata(old)) != self._field(_metadata(new)))


class GenerationChanged(_FieldChanged):
    """Updates pass when metadata.generation changed: spec changes, not status or metadata
    ones (kinds without a generation, as ConfigMaps, never pass an update)."""

    def _field(self, metadata: Mapping[str, Any]) -> Any:
        return metadata.get("generation") or 0


class ResourceVersionChanged(_FieldChanged):
    """Updates pass when metadata.resourceVersion changed: every real change, not resyncs."""

    def _field(self, metadata: Mapping[str, Any]) -> Any:
        return metadata.get("resourceVersion") or ""


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if value else {}


class LabelsChanged(_FieldChanged):
    """Updates pass when metadata.labels changed (none and empty are the same)."""

    def _field(self, metadata: Mapping[str, Any]) -> Any:
        return _as_dict(metadata.get("labels"))


class AnnotationsChanged(_FieldChanged):
    """Updates pass when metadata.annotations changed (none and empty are the same)."""

    def _field(self, metadata: Mapping[str, Any]) -> Any:
        return _as_dict(metadata.get("annotations"))


class _Joined(Predicate):
    """Asks every predicate, and joins their answers with ``all`` or ``any``."""

    join: Callable[[Iterable[bool]], bool]

    def __init__(self, *predicates: Predicate) -> None:
        self.predicates = predicates

    def create(self, obj: Any) -> bool:
        return self.join(p.create(obj) for p in self.predicates)

    def update(self, old: Any, new: Any) -> bool:
        return self.join(p.update(old, new) for p in self.predicates)

    def delete(self, obj: Any) -> bool:
        return self.join(p.delete(obj) for p in self.predicates)


class And(_Joined):
    """An event passes when every predicate lets it (with none, always)."""

    join = staticmethod(all)


class Or(_Joined):
    """An event passes when any predicate lets it (with none, never)."""

    join = staticmethod(any)


class Not(Predicate):
    """An event passes when the predicate stops it."""

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate

    def create(self, obj: Any) -> bool:
        return not self.predicate.create(obj)

    def update(self, old: Any, new: Any) -> bool:
        return not self.predicate.update(old, new)

    def delete(self, obj: Any) -> bool:
        return not self.predicate.delete(obj)


__all__ = [
    "And",
    "AnnotationsChanged",
    "Filter",
    "Funcs",
    "GenerationChanged",
    "LabelsChanged",
    "Not",
    "Or",
    "Predicate",
    "ResourceVersionChanged",
]
