"""Listers: reads of an informer's cache shaped like the API's (client-go's listers)."""

from __future__ import annotations

from typing import Any, Optional

from kcore.errors import NotFound
from kcore.informer.indexer import Indexer


class Lister:
    """``list(label_selector=...)`` across the cache; ``namespace(ns)`` for one namespace;
    ``get(name)`` for cluster-scoped objects. ``resource`` is as the API names it in errors:
    "pods", "deployments.apps"."""

    def __init__(self, indexer: Indexer, resource: str) -> None:
        self._indexer = indexer
        self._resource = resource

    def list(self, label_selector: Optional[str] = None, field_selector: Optional[str] = None) -> list[Any]:
        return self._indexer.list(label_selector=label_selector, field_selector=field_selector)

    def get(self, name: str) -> Any:
        """A cluster-scoped object by name; NotFound as the API server would say it."""
        return _get(self._indexer, self._resource, name, name)

    def namespace(self, namespace: str) -> "NamespaceLister":
        return NamespaceLister(self._indexer, self._resource, namespace)


class NamespaceLister:
    """The objects of one namespace, through the "namespace" index."""

    def __init__(self, indexer: Indexer, resource: str, namespace: str) -> None:
        self._indexer = indexer
        self._resource = resource
        self._namespace = namespace

    def list(self, label_selector: Optional[str] = None, field_selector: Optional[str] = None) -> list[Any]:
        return self._indexer.list(
            label_selector=label_selector, field_selector=field_selector, namespace=self._namespace
        )

    def get(self, name: str) -> Any:
        return _get(self._indexer, self._resource, f"{self._namespace}/{name}", name)


def _get(indexer: Indexer, resource: str, key: str, name: str) -> Any:
    obj = indexer.get_by_key(key)
    if obj is None:
        plural, _, group = resource.partition(".")
        details = {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural}
        raise NotFound(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f'{resource} "{name}" not found',
                "reason": "NotFound",
                "details": details,
                "code": 404,
            }
        )
    return obj
