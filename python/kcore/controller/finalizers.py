"""Finalizers: keep an object from disappearing until a controller has cleaned up after it
(controller-runtime's controllerutil.AddFinalizer / pkg/finalizer, kube-rs's finalizer helper).

    finalizer = Finalizer(clientset.core_v1.configmaps(namespace), "example.com/cleanup")

    def reconcile(key):
        obj = lister.namespace(namespace).get(name)
        if finalizer.reconcile(obj, cleanup=drop_external_state):
            return None                 # being deleted: cleaned up, finalizer removed
        ...                             # live, and carrying the finalizer: the usual work

How the finalizers are written, and why: one JSON merge patch of ``metadata.finalizers`` (the
whole new list) carrying the ``metadata.resourceVersion`` the list was computed from. The API
server applies it only if the object still has that resourceVersion, answering 409 Conflict
otherwise (controller-runtime's MergeFromWithOptimisticLock). So a list computed from a stale
cache never overwrites a finalizer another controller added or removed meanwhile; the Conflict
fails the reconcile, which is retried with backoff from a fresher cache. A JSON patch
``test`` of the list would conflict less often (only when the finalizers themselves changed), but
it cannot test a missing list (most objects have none) and a failed ``test`` comes back as 422
Invalid, which a controller cannot tell from a real error; the merge patch works the same on
every resource, custom ones included (a strategic merge patch does not).

``add_finalizer`` / ``remove_finalizer`` return whether they wrote anything: an object that
already has (has not) the finalizer costs no request. ``kcore.aio`` has the asyncio twins
(``add_finalizer``, ``remove_finalizer``, ``Finalizer``), built on the same patch.
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, Mapping, Optional, Union

from kcore.clients.resource import AsyncResourceClient, ResourceClient


def has_finalizer(obj: Mapping[str, Any], name: str) -> bool:
    """Whether ``obj``'s metadata.finalizers names ``name``."""
    return name in (obj.get("metadata", {}).get("finalizers") or [])


def is_being_deleted(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` has a deletionTimestamp: deleted, waiting for its finalizers."""
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def finalizer_patch(obj: Mapping[str, Any], name: str, *, present: bool) -> Optional[dict[str, Any]]:
    """The merge patch that makes ``name`` present in (or absent from) ``obj``'s finalizers,
    locked to its resourceVersion; None when nothing needs to change."""
    metadata = obj.get("metadata", {})
    finalizers = list(metadata.get("finalizers") or [])
    if (name in finalizers) == present:
        return None
    if present:
        finalizers.append(name)
    else:
        finalizers = [f for f in finalizers if f != name]
    resource_version = metadata.get("resourceVersion")
    if not resource_version:
        raise ValueError("the object has no metadata.resourceVersion: read it from the server (or a cache) first")
    return {"metadata": {"finalizers": finalizers, "resourceVersion": resource_version}}


def _name_of(client: Union[ResourceClient[Any], AsyncResourceClient[Any]], obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata", {})
    if client.info.namespaced and client.namespace is None:
        raise ValueError(
            f"a finalizer of a namespaced {client.info.resource} is written through a client of its "
            f"namespace ({metadata.get('namespace')!r}), not an all-namespaces one"
        )
    return str(metadata["name"])


def _patch_of(
    client: Union[ResourceClient[Any], AsyncResourceClient[Any]], obj: Mapping[str, Any], name: str, present: bool
) -> Optional[tuple[str, dict[str, Any]]]:
    """The object's name and the patch to send, None when there is nothing to write."""
    patch = finalizer_patch(obj, name, present=present)
    return None if patch is None else (_name_of(client, obj), patch)


def add_finalizer(client: ResourceClient[Any], obj: Mapping[str, Any], name: str) -> bool:
    """Add the finalizer ``name`` to ``obj`` unless it has it; whether a patch was sent.
    Raises kcore.errors.Conflict when the object changed since ``obj`` was read."""
    return _send(client, _patch_of(client, obj, name, True))


def remove_finalizer(client: ResourceClient[Any], obj: Mapping[str, Any], name: str) -> bool:
    """Remove the finalizer ``name`` from ``obj`` if it has it; whether a patch was sent.
    Raises kcore.errors.Conflict when the object changed since ``obj`` was read."""
    return _send(client, _patch_of(client, obj, name, False))


def _send(client: ResourceClient[Any], patch: Optional[tuple[str, dict[str, Any]]]) -> bool:
    if patch is not None:
        client.patch(*patch, patch_type="merge")
    return patch is not None


async def add_finalizer_async(client: AsyncResourceClient[Any], obj: Mapping[str, Any], name: str) -> bool:
    """The asyncio twin of ``add_finalizer`` (``kcore.aio.add_finalizer``)."""
    return await _send_async(client, _patch_of(client, obj, name, True))


async def remove_finalizer_async(client: AsyncResourceClient[Any], obj: Mapping[str, Any], name: str) -> bool:
    """The asyncio twin of ``remove_finalizer`` (``kcore.aio.remove_finalizer``)."""
    return await _send_async(client, _patch_of(client, obj, name, False))


async def _send_async(client: AsyncResourceClient[Any], patch: Optional[tuple[str, dict[str, Any]]]) -> bool:
    if patch is not None:
        await client.patch(*patch, patch_type="merge")
    return patch is not None


class Finalizer:
    """One finalizer of one resource, for a reconcile.

    ``reconcile(obj, cleanup=fn)`` returns whether ``obj`` is being deleted:
    - live (no deletionTimestamp): the finalizer is added if missing; False, the reconcile goes on;
    - being deleted with this finalizer: ``cleanup(obj)`` runs, then the finalizer is removed
      (the server deletes the object once no finalizer is left); True. If ``cleanup`` raises, the
      finalizer stays and the error propagates: the controller retries the key with backoff;
    - being deleted without it: nothing to do; True.
    """

    def __init__(self, client: ResourceClient[Any], name: str) -> None:
        if not name:
            raise ValueError("a finalizer needs a name, such as 'example.com/cleanup'")
        self.client = client
        self.name = name

    def reconcile(self, obj: Mapping[str, Any], *, cleanup: Callable[[Mapping[str, Any]], Any]) -> bool:
        if not is_being_deleted(obj):
            add_finalizer(self.client, obj, self.name)
            return False
        if has_finalizer(obj, self.name):
            cleanup(obj)
            remove_finalizer(self.client, obj, self.name)
        return True


class AsyncFinalizer:
    """The asyncio twin of Finalizer (``kcore.aio.Finalizer``): ``await finalizer.reconcile(obj,
    cleanup=fn)``; ``cleanup`` may be a coroutine function."""

    def __init__(self, client: AsyncResourceClient[Any], name: str) -> None:
        if not name:
            raise ValueError("a finalizer needs a name, such as 'example.com/cleanup'")
        self.client = client
        self.name = name

    async def reconcile(
        self, obj: Mapping[str, Any], *, cleanup: Callable[[Mapping[str, Any]], Union[Any, Awaitable[Any]]]
    ) -> bool:
        if not is_being_deleted(obj):
            await add_finalizer_async(self.client, obj, self.name)
            return False
        if has_finalizer(obj, self.name):
            outcome = cleanup(obj)
            if inspect.isawaitable(outcome):
                await outcome
            await remove_finalizer_async(self.client, obj, self.name)
        return True


__all__ = [
    "AsyncFinalizer",
    "Finalizer",
    "add_finalizer",
    "add_finalizer_async",
    "finalizer_patch",
    "has_finalizer",
    "is_being_deleted",
    "remove_finalizer",
    "remove_finalizer_async",
]
