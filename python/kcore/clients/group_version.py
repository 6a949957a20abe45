"""GroupVersion: the typed client of one group-version, as client-go's ``CoreV1Client``: one
RESTClient, and one accessor per resource handing out ``ResourceClient``s of its TypedDict.

    class CoreV1(GroupVersion[R]):
        group, version = "", "v1"
        pods = Namespaced[core_v1.Pod]("pods", "Pod")        # core.pods("web"), core.pods()
        nodes = ClusterScoped[core_v1.Node]("nodes", "Node")  # core.nodes()

The same class serves both twins: over a ``RESTClient`` an accessor gives ``ResourceClient``s,
over an ``AsyncRESTClient`` ``AsyncResourceClient``s (the overloads of ``__get__`` tell a type
checker which), so the table of resources is written once.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar, Generic, Mapping, Optional, Protocol, TypeVar, Union, overload

from kcore.clients.resource import AsyncResourceClient, ResourceClient, ResourceInfo
from kcore.clients.rest import AsyncRESTClient, RESTClient

R = TypeVar("R", RESTClient, AsyncRESTClient)
T = TypeVar("T", bound=Mapping[str, Any])
C_co = TypeVar("C_co", covariant=True)


class NamespacedResource(Protocol[C_co]):
    """``pods("web")``: the objects of one namespace; ``pods()``: of all namespaces."""

    def __call__(self, namespace: Optional[str] = None) -> C_co: ...


class ClusterScopedResource(Protocol[C_co]):
    """``nodes()``: a resource outside namespaces."""

    def __call__(self) -> C_co: ...


class GroupVersion(Generic[R]):
    """The resources of one group-version over one RESTClient (sync or asyncio)."""

    group: ClassVar[str]
    version: ClassVar[str]

    def __init__(self, rest_client: R) -> None:
        if (rest_client.group, rest_client.version) != (self.group, self.version):
            raise ValueError(f"{type(self).__name__} needs a RESTClient of {self.group or 'core'}/{self.version}")
        self.rest_client: R = rest_client

    @classmethod
    def resources(cls) -> dict[str, ResourceInfo]:
        """``{accessor name: ResourceInfo}`` of every resource of this group-version."""
        return {name: value.info for name, value in vars(cls).items() if isinstance(value, _ResourceAccessor)}

    def _client(
        self, info: ResourceInfo, namespace: Optional[str] = None
    ) -> Union[ResourceClient[Any], AsyncResourceClient[Any]]:
        if isinstance(self.rest_client, AsyncRESTClient):
            return AsyncResourceClient(self.rest_client, info, namespace)
        return ResourceClient(self.rest_client, info, namespace)


class _ResourceAccessor(Generic[T]):
    """A resource of a GroupVersion class; its ResourceInfo is completed by the class it is set on."""

    namespaced: ClassVar[bool]
    info: ResourceInfo

    def __init__(self, resource: str, kind: str) -> None:
        self._resource = resource
        self._kind = kind

    def __set_name__(self, owner: type[GroupVersion[Any]], name: str) -> None:
        self.info = ResourceInfo(owner.group, owner.version, self._resource, self._kind, self.namespaced)

    def _bound(self, group: Optional[GroupVersion[Any]]) -> Any:
        """On the class, the accessor; on a GroupVersion, its clients' factory."""
        return self if group is None else partial(group._client, self.info)


class Namespaced(_ResourceAccessor[T]):
    namespaced = True

    @overload
    def __get__(self, group: None, owner: Any) -> Namespaced[T]: ...
    @overload
    def __get__(self, group: GroupVersion[RESTClient], owner: Any) -> NamespacedResource[ResourceClient[T]]: ...
    @overload
    def __get__(
        self, group: GroupVersion[AsyncRESTClient], owner: Any
    ) -> NamespacedResource[AsyncResourceClient[T]]: ...
    def __get__(self, group: Optional[GroupVersion[Any]], owner: Any) -> Any:
        return self._bound(group)


class ClusterScoped(_ResourceAccessor[T]):
    namespaced = False

    @overload
    def __get__(self, group: None, owner: Any) -> ClusterScoped[T]: ...
    @overload
    def __get__(self, group: GroupVersion[RESTClient], owner: Any) -> ClusterScopedResource[ResourceClient[T]]: ...
    @overload
    def __get__(
        self, group: GroupVersion[AsyncRESTClient], owner: Any
    ) -> ClusterScopedResource[AsyncResourceClient[T]]: ...
    def __get__(self, group: Optional[GroupVersion[Any]], owner: Any) -> Any:
        return self._bound(group)
