"""SharedInformerFactory: one informer per resource, shared by everyone who asks for it
(client-go's informers.SharedInformerFactory).

    factory = SharedInformerFactory(clientset, namespace="web")
    pods = factory.core_v1.pods()                  # the Clientset's names
    widgets = factory.for_resource("example.com", "v1", "widgets")   # anything discovery knows
    names = factory.metadata("apps", "v1", "deployments")           # PartialObjectMetadata only
    factory.start()
    factory.wait_for_cache_sync(timeout=30)        # {("", "v1", "pods"): True, ...}
    factory.shutdown()

``kcore.aio.SharedInformerFactory`` is the asyncio twin over an ``aio.Clientset``: the same
accessors give AsyncSharedIndexInformers; ``wait_for_cache_sync``, ``for_resource`` and
``shutdown`` are awaited.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Generic, Optional, TypeVar, Union

from kcore.clients.clientset import AsyncClientset, Clientset
from kcore.clients.dynamic import AsyncDynamicClient, DynamicClient
from kcore.clients.group_version import GroupVersion
from kcore.clients.resource import AsyncResourceClient, ResourceClient, ResourceInfo
from kcore.clients.rest import AsyncRESTClient, RESTClient
from kcore.informer.shared_informer import (
    AsyncSharedIndexInformer,
    SharedIndexInformer,
    Transform,
    strip_managed_fields,
)

Key = tuple[str, ...]
"""(group, version, resource) of an informer; (group, version, resource, "metadata") of a
metadata-only one."""
InformerT = TypeVar("InformerT", SharedIndexInformer, AsyncSharedIndexInformer)


class _FactoryCore(Generic[InformerT]):
    """Options and the informers made so far: shared by both twins."""

    def __init__(
        self,
        clientset: Union[Clientset, AsyncClientset],
        informer_type: Callable[..., InformerT],
        *,
        resync_period: float,
        namespace: Optional[str],
        label_selector: Optional[str],
        field_selector: Optional[str],
        transform: Optional[Transform],
        use_watch_list: bool,
    ) -> None:
        self._clientset = clientset
        self._informer_type: Callable[..., InformerT] = informer_type
        self.resync_period = resync_period
        self.namespace = namespace
        self._selectors = (label_selector, field_selector)
        self._transform = transform
        self._use_watch_list = use_watch_list
        self._informers: dict[Key, InformerT] = {}
        self._lock = threading.Lock()
        self._started = False

    def __getattr__(self, name: str) -> "GroupVersionInformers[InformerT]":
        group = getattr(self._clientset, name, None)
        if not isinstance(group, GroupVersion):
            raise AttributeError(f"{type(self).__name__} has no group-version {name!r}")
        return GroupVersionInformers(self, group)

    def informer_for(
        self, client: Union[ResourceClient[Any], AsyncResourceClient[Any]], metadata_only: bool = False
    ) -> InformerT:
        """The shared informer of the client's resource (made, with this factory's options, if new);
        ``metadata_only``: of its PartialObjectMetadata (kind, apiVersion, metadata) instead."""
        info = client.info
        key: Key = (info.group, info.version, info.resource) + (("metadata",) if metadata_only else ())
        with self._lock:
            informer = self._informers.get(key)
            if informer is None:
                informer = self._informer_type(
                    client,
                    resync_period=self.resync_period,
                    label_selector=self._selectors[0],
                    field_selector=self._selectors[1],
                    use_watch_list=self._use_watch_list,
                    metadata_only=metadata_only,
                )
                informer.set_transform(self._transform)
                self._informers[key] = informer
                if self._started:
                    informer.start()
            return informer

    def _metadata_client(self, info: ResourceInfo) -> Any:
        """A protobuf client of the resource, for its metadata (a built-in type even for
        custom resources), in this factory's namespace."""
        cs = self._clientset
        namespace = self.namespace if info.namespaced else None
        if isinstance(cs, AsyncClientset):
            return AsyncResourceClient(
                AsyncRESTClient(cs.config, group=info.group, version=info.version, transport=cs.transport),
                info,
                namespace,
            )
        return ResourceClient(
            RESTClient(cs.config, group=info.group, version=info.version, transport=cs.transport), info, namespace
        )

    def _namespaced(self, handle: Any) -> Any:
        """The client of a dynamic resource handle for this factory's namespace."""
        if handle.info.namespaced and self.namespace:
            return handle.namespace(self.namespace)
        return handle._everywhere

    def start(self) -> None:
        """Start every informer made so far, and each one made later at once (the asyncio
        twin: on the running event loop)."""
        with self._lock:
            self._started = True
            informers = list(self._informers.values())
        for informer in informers:
            informer.start()

    def _all(self) -> dict[Key, InformerT]:
        with self._lock:
            return dict(self._informers)

    def informers(self) -> list[InformerT]:
        """The informers made so far."""
        return list(self._all().values())


class SharedInformerFactory(_FactoryCore[SharedIndexInformer]):
    """Informers made on first request and shared after; options apply to every one of them."""

    def __init__(
        self,
        clientset: Clientset,
        *,
        resync_period: float = 0.0,
        namespace: Optional[str] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        transform: Optional[Transform] = strip_managed_fields,
        use_watch_list: bool = True,
    ) -> None:
        super().__init__(
            clientset,
            SharedIndexInformer,
            resync_period=resync_period,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            transform=transform,
            use_watch_list=use_watch_list,
        )
        self._dynamic: Optional[DynamicClient] = None

    def for_resource(self, group: str, version: str, resource: str) -> SharedIndexInformer:
        """An informer for any resource discovery knows, custom resources included (as JSON)."""
        return self.informer_for(self._namespaced(self._discovered().resource(group, version, resource)))

    def metadata(self, group: str, version: str, resource: str) -> SharedIndexInformer:
        """A metadata-only informer (client-go's metadatainformer): each object cached as
        PartialObjectMetadata — kind, apiVersion, metadata — fetched as protobuf, for any
        resource discovery knows. A fraction of the memory when a controller needs no spec."""
        info = self._discovered().resource(group, version, resource).info
        return self.informer_for(self._metadata_client(info), metadata_only=True)

    def _discovered(self) -> DynamicClient:
        with self._lock:
            if self._dynamic is None:
                assert isinstance(self._clientset, Clientset)
                self._dynamic = DynamicClient(self._clientset.config, transport=self._clientset.transport)
            return self._dynamic

    def wait_for_cache_sync(self, timeout: Optional[float] = None) -> dict[Key, bool]:
        """Which informers synced within ``timeout`` seconds (together, not each)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return {
            key: informer.wait_for_cache_sync(None if deadline is None else max(0.0, deadline - time.monotonic()))
            for key, informer in self._all().items()
        }

    def shutdown(self) -> None:
        """Stop every informer and wait for their threads."""
        for informer in self._all().values():
            informer.stop()


class AsyncSharedInformerFactory(_FactoryCore[AsyncSharedIndexInformer]):
    """The asyncio twin of SharedInformerFactory (``kcore.aio.SharedInformerFactory``)."""

    def __init__(
        self,
        clientset: AsyncClientset,
        *,
        resync_period: float = 0.0,
        namespace: Optional[str] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        transform: Optional[Transform] = strip_managed_fields,
        use_watch_list: bool = True,
    ) -> None:
        super().__init__(
            clientset,
            AsyncSharedIndexInformer,
            resync_period=resync_period,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            transform=transform,
            use_watch_list=use_watch_list,
        )
        self._dynamic: Optional[AsyncDynamicClient] = None

    async def for_resource(self, group: str, version: str, resource: str) -> AsyncSharedIndexInformer:
        return self.informer_for(self._namespaced(await self._discovered().resource(group, version, resource)))

    async def metadata(self, group: str, version: str, resource: str) -> AsyncSharedIndexInformer:
        info = (await self._discovered().resource(group, version, resource)).info
        return self.informer_for(self._metadata_client(info), metadata_only=True)

    def _discovered(self) -> AsyncDynamicClient:
        if self._dynamic is None:
            assert isinstance(self._clientset, AsyncClientset)
            self._dynamic = AsyncDynamicClient(self._clientset.config, transport=self._clientset.transport)
        return self._dynamic

    async def wait_for_cache_sync(self, timeout: Optional[float] = None) -> dict[Key, bool]:
        informers = self._all()
        results = await asyncio.gather(*(informer.wait_for_cache_sync(timeout) for informer in informers.values()))
        return dict(zip(informers, results))

    async def shutdown(self) -> None:
        await asyncio.gather(*(informer.stop() for informer in self._all().values()))


class GroupVersionInformers(Generic[InformerT]):
    """``factory.core_v1``: an informer accessor per resource of the group-version."""

    def __init__(self, factory: _FactoryCore[InformerT], group: GroupVersion[Any]) -> None:
        self._factory: _FactoryCore[InformerT] = factory
        self._group = group

    def __getattr__(self, name: str) -> Callable[[], InformerT]:
        info: Optional[ResourceInfo] = type(self._group).resources().get(name)
        if info is None:
            raise AttributeError(f"{type(self._group).__name__} has no resource {name!r}")
        client = self._group._client(info, self._factory.namespace if info.namespaced else None)
        return lambda: self._factory.informer_for(client)
