"""DynamicClient: any resource the server serves, as plain dicts (client-go's dynamic client).

    dyn = DynamicClient(config)
    widgets = dyn.resource("example.com", "v1", "widgets")        # or dyn.resource_for_kind("example.com/v1", "Widget")
    widgets.namespace("web").create({...})                        # a ResourceClient: every verb
    widgets.list()                                                # across all namespaces (or a cluster-scoped resource)

The verbs are ``ResourceClient``'s, over JSON (custom resources have no protobuf); the
RESTMapper, from a cached discovery, says what the resource's kind and scope are. A name it
does not know triggers one fresh discovery (a CRD may be new) before ``NoMatchError``.
``apply`` refuses an object that carries ``metadata.managedFields``, as client-go's does: they
are the server's record of ownership, and sending them back would claim every field.
``AsyncDynamicClient`` is the asyncio twin.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Optional, TypeVar, Union

from kcore.clients.discovery import AsyncDiscovery, Discovery
from kcore.clients.discovery_types import ServerAPIs
from kcore.clients.resource import AsyncResourceClient, Object, ResourceClient, ResourceInfo
from kcore.clients.rest import AsyncRESTClient, RESTClient
from kcore.clients.rest_mapper import RESTMapper
from kcore.clients.transport import AsyncTransport, Transport
from kcore.config import Config
from kcore.errors import NoMatchError

Unstructured = dict[str, Any]
C = TypeVar("C", "DynamicResourceClient", "AsyncDynamicResourceClient")


def check_appliable(obj: Object) -> None:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and metadata.get("managedFields"):
        raise ValueError(
            "cannot apply an object that carries metadata.managedFields: remove them first "
            "(they are the server's record of which manager owns which field)"
        )


class DynamicResourceClient(ResourceClient[Unstructured]):
    """ResourceClient's verbs; apply refuses managedFields."""

    def apply(self, obj: Object, **options: Any) -> Unstructured:
        check_appliable(obj)
        return super().apply(obj, **options)


class AsyncDynamicResourceClient(AsyncResourceClient[Unstructured]):
    """The asyncio twin of DynamicResourceClient."""

    async def apply(self, obj: Object, **options: Any) -> Unstructured:
        check_appliable(obj)
        return await super().apply(obj, **options)


class DynamicResource(Generic[C]):
    """One resource: ``namespace(ns)`` gives the client for a namespace's objects; the verbs
    (``get``, ``list``, ``watch``, ``create``...) used on this handle itself act on a
    cluster-scoped resource, or across all namespaces."""

    def __init__(
        self, rest: Union[RESTClient, AsyncRESTClient], info: ResourceInfo, client_type: Callable[..., C]
    ) -> None:
        self.info = info
        self._rest = rest
        self._client_type: Callable[..., C] = client_type
        self._everywhere: C = client_type(rest, info)

    def namespace(self, namespace: str) -> C:
        if not namespace:
            raise ValueError("a namespace name is required; use the resource itself for all namespaces")
        return self._client_type(self._rest, self.info, namespace)

    def __getattr__(self, verb: str) -> Any:
        return getattr(self._everywhere, verb)


class _Mappings:
    """A RESTMapper for the latest discovery, rebuilt only when discovery has changed."""

    def __init__(self) -> None:
        self._apis: Optional[ServerAPIs] = None
        self._mapper: Optional[RESTMapper] = None

    def mapper(self, apis: ServerAPIs) -> RESTMapper:
        if self._mapper is None or apis is not self._apis:
            self._apis, self._mapper = apis, RESTMapper(apis)
        return self._mapper


def _by_resource(group: str, version: str, resource: str) -> Callable[[RESTMapper], ResourceInfo]:
    return lambda mapper: mapper.kind_for(group, resource, version)


def _by_kind(api_version: str, kind: str) -> Callable[[RESTMapper], ResourceInfo]:
    group, _, version = api_version.rpartition("/")
    if not version:
        raise ValueError(f"api_version must be '<version>' or '<group>/<version>'; got {api_version!r}")
    return lambda mapper: mapper.resource_for(group, kind, version)


class DynamicClient:
    """Blocking. One transport for discovery and every resource; safe to share between threads."""

    def __init__(
        self, config: Config, *, transport: Optional[Transport] = None, cache_dir: Optional[str] = None
    ) -> None:
        self.config = config
        self.transport = transport or Transport(config)
        self.discovery = Discovery(RESTClient(config, transport=self.transport), cache_dir=cache_dir)
        self._mappings = _Mappings()

    def _info(self, lookup: Callable[[RESTMapper], ResourceInfo]) -> ResourceInfo:
        try:
            return lookup(self._mappings.mapper(self.discovery.server_apis()))
        except NoMatchError:
            self.discovery.invalidate()  # perhaps new since the cached discovery: ask once more
            return lookup(self._mappings.mapper(self.discovery.server_apis()))

    def _resource(self, info: ResourceInfo) -> DynamicResource[DynamicResourceClient]:
        rest = RESTClient(self.config, group=info.group, version=info.version, protobuf=False, transport=self.transport)
        return DynamicResource(rest, info, DynamicResourceClient)

    def resource(self, group: str, version: str, resource: str) -> DynamicResource[DynamicResourceClient]:
        """``resource`` (plural, singular or short name) in ``group`` ("" is core) at ``version``."""
        return self._resource(self._info(_by_resource(group, version, resource)))

    def resource_for_kind(self, api_version: str, kind: str) -> DynamicResource[DynamicResourceClient]:
        """The resource of an object's ``apiVersion`` and ``kind``, e.g. ("apps/v1", "Deployment")."""
        return self._resource(self._info(_by_kind(api_version, kind)))


class AsyncDynamicClient:
    """The asyncio twin of DynamicClient: ``await dyn.resource(...)``, then awaited verbs."""

    def __init__(
        self, config: Config, *, transport: Optional[AsyncTransport] = None, cache_dir: Optional[str] = None
    ) -> None:
        self.config = config
        self.transport = transport or AsyncTransport(config)
        self.discovery = AsyncDiscovery(AsyncRESTClient(config, transport=self.transport), cache_dir=cache_dir)
        self._mappings = _Mappings()

    async def _info(self, lookup: Callable[[RESTMapper], ResourceInfo]) -> ResourceInfo:
        try:
            return lookup(self._mappings.mapper(await self.discovery.server_apis()))
        except NoMatchError:
            self.discovery.invalidate()
            return lookup(self._mappings.mapper(await self.discovery.server_apis()))

    def _resource(self, info: ResourceInfo) -> DynamicResource[AsyncDynamicResourceClient]:
        rest = AsyncRESTClient(
            self.config, group=info.group, version=info.version, protobuf=False, transport=self.transport
        )
        return DynamicResource(rest, info, AsyncDynamicResourceClient)

    async def resource(self, group: str, version: str, resource: str) -> DynamicResource[AsyncDynamicResourceClient]:
        return self._resource(await self._info(_by_resource(group, version, resource)))

    async def resource_for_kind(self, api_version: str, kind: str) -> DynamicResource[AsyncDynamicResourceClient]:
        return self._resource(await self._info(_by_kind(api_version, kind)))
