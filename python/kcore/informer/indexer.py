"""The informer's cache: objects by key, and by index (client-go's Indexer over a
ThreadSafeStore), held in Rust (rust/src/informer).

Objects are ``kcore.codec`` compact objects: read-only (changing one raises TypeError; take
``.to_dict()`` for a private copy), shared by every reader. Keys are "namespace/name", or
"name" for cluster-scoped objects. The "namespace" index is always there.
"""

from __future__ import annotations

from typing import Any, Callable, List, Mapping, Optional

from kcore import _core

IndexFunc = Callable[[Any], List[str]]
NAMESPACE_INDEX = "namespace"


def object_key(obj: Mapping[str, Any]) -> str:
    """client-go's MetaNamespaceKeyFunc: "namespace/name", or "name" when cluster-scoped."""
    return _core.object_key(obj)


class Indexer:
    """Reads of the cache. Thread-safe; a reader never sees a relist half-applied."""

    def __init__(self, store: _core.Store) -> None:
        self._store = store

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """``{"by_node": fn}``, fn(obj) → the index values of obj (a list of str). Indexes
        added to a filled cache are built over what it holds."""
        self._store.add_indexers(dict(indexers))

    def get_by_key(self, key: str) -> Optional[Any]:
        return self._store.get(key)

    def list(
        self,
        *,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> List[Any]:
        """Every cached object, or those matching the selectors (evaluated in Rust)."""
        return self._store.list(label_selector, field_selector, namespace)

    def list_keys(self) -> List[str]:
        return self._store.list_keys()

    def by_index(self, index_name: str, value: str) -> List[Any]:
        """The objects whose index function gave ``value``."""
        return self._store.by_index(index_name, value)

    def index_keys(self, index_name: str, value: str) -> List[str]:
        return self._store.index_keys(index_name, value)

    def list_index_values(self, index_name: str) -> List[str]:
        return self._store.list_index_values(index_name)

    def resource_versions(self) -> dict[str, str]:
        """key → metadata.resourceVersion of everything cached."""
        return self._store.resource_versions()

    def __len__(self) -> int:
        return len(self._store)
