"""Informers: a local, read-only, indexed cache of a resource kept in step with the API server,
and event handlers told of every change (client-go's tools/cache).

    factory = SharedInformerFactory(clientset)
    pods = factory.core_v1.pods()
    pods.add_event_handler(on_add=lambda pod, initial: queue.add(object_key(pod)), ...)
    factory.start()
    factory.wait_for_cache_sync(timeout=60)
    pods.lister().namespace("web").get("front")

Guarantees, as client-go gives them:
- The cache never misses an event: the reflector resumes a broken watch from the last version
  it synced, and relists (at that version, or with a quorum read once it has expired) when the
  server has forgotten it. Objects deleted while it was cut off reach ``on_delete`` as
  ``DeletedFinalStateUnknown(key, obj)``.
- The cache is read-only and shared: objects are compact (``kcore.codec``); changing one raises
  TypeError; ``.to_dict()`` gives a private copy. A relist replaces it atomically.
- Handlers are called in event order, each from its own buffer: a slow or failing handler never
  holds back another or the watch. Wait for ``wait_for_cache_sync`` before working from the cache.

Selectors (``parse_label_selector``, and ``label_selector`` for an object's metav1.LabelSelector)
match labels as the listers' ``label_selector=`` queries do.
"""

from kcore.informer.factory import AsyncSharedInformerFactory, GroupVersionInformers, SharedInformerFactory
from kcore.informer.handlers import DeletedFinalStateUnknown
from kcore.informer.indexer import NAMESPACE_INDEX, Indexer, IndexFunc, object_key
from kcore.informer.lister import Lister, NamespaceLister
from kcore.informer.reflector import Reflector, VeryShortWatchError
from kcore.informer.selectors import LabelSelector, label_selector, label_selector_string, parse_label_selector
from kcore.informer.shared_informer import (
    AsyncSharedIndexInformer,
    HandlerRegistration,
    SharedIndexInformer,
    strip_managed_fields,
)

__all__ = [
    "NAMESPACE_INDEX",
    "AsyncSharedIndexInformer",
    "AsyncSharedInformerFactory",
    "DeletedFinalStateUnknown",
    "GroupVersionInformers",
    "HandlerRegistration",
    "IndexFunc",
    "Indexer",
    "LabelSelector",
    "Lister",
    "NamespaceLister",
    "Reflector",
    "SharedIndexInformer",
    "SharedInformerFactory",
    "VeryShortWatchError",
    "label_selector",
    "label_selector_string",
    "object_key",
    "parse_label_selector",
    "strip_managed_fields",
]
