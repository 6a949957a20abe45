"""kcore.clients: reaching the API server.

``RESTClient`` / ``AsyncRESTClient``: client-go's request builder for one group/version;
``Transport`` / ``AsyncTransport``: the HTTP layer under them (Rust: pooling, HTTP/2, TLS, rate
limiting, retries); ``ResourceClient`` / ``AsyncResourceClient``: every verb on one resource;
``Discovery`` / ``AsyncDiscovery``: the groups, versions and resources a server serves
(``ServerAPIs`` of ``APIGroup`` and ``APIResource``), cached in memory and on disk;
``RESTMapper``: kinds, resources and short names; ``DynamicClient`` / ``AsyncDynamicClient``:
any resource, custom ones included, as plain dicts; ``Clientset`` / ``AsyncClientset``: every
built-in resource, typed (TypedDicts in ``kcore.clients.types``). ``ResourceClient.exec`` gives
an ``ExecResult``; ``stream_exec`` / ``attach`` an ``ExecSession`` (``AsyncExecSession``);
``port_forward`` a ``PortForward`` (``AsyncPortForward``).
"""

from kcore.clients.clientset import AsyncClientset, Clientset
from kcore.clients.discovery import AsyncDiscovery, Discovery
from kcore.clients.discovery_types import APIGroup, APIResource, APISubresource, ServerAPIs
from kcore.clients.dynamic import (
    AsyncDynamicClient,
    AsyncDynamicResourceClient,
    DynamicClient,
    DynamicResource,
    DynamicResourceClient,
)
from kcore.clients.portforward import AsyncPortForward, PortForward
from kcore.clients.remotecommand import AsyncExecSession, ExecResult, ExecSession
from kcore.clients.resource import AsyncResourceClient, ResourceClient, ResourceInfo
from kcore.clients.rest import AsyncRequest, AsyncRESTClient, Request, RESTClient
from kcore.clients.rest_mapper import RESTMapper
from kcore.clients.transport import AsyncStream, AsyncTransport, Response, Stream, Transport
from kcore.clients.watch import AsyncWatch, Watch

__all__ = [
    "APIGroup",
    "APIResource",
    "APISubresource",
    "AsyncClientset",
    "AsyncDiscovery",
    "AsyncDynamicClient",
    "AsyncDynamicResourceClient",
    "AsyncExecSession",
    "AsyncPortForward",
    "AsyncRESTClient",
    "AsyncRequest",
    "AsyncResourceClient",
    "AsyncStream",
    "AsyncTransport",
    "AsyncWatch",
    "Clientset",
    "Discovery",
    "DynamicClient",
    "DynamicResource",
    "DynamicResourceClient",
    "ExecResult",
    "ExecSession",
    "PortForward",
    "RESTClient",
    "RESTMapper",
    "Request",
    "ResourceClient",
    "ResourceInfo",
    "Response",
    "ServerAPIs",
    "Stream",
    "Transport",
    "Watch",
]
