"""kcore.clients: reaching the API server.

``RESTClient`` / ``AsyncRESTClient``: client-go's request builder for one group/version;
``Transport`` / ``AsyncTransport``: the HTTP layer under them (Rust: pooling, HTTP/2, TLS, rate
limiting, retries); ``Discovery`` / ``AsyncDiscovery``: the groups, versions and resources a
server serves (``ServerAPIs`` of ``APIGroup`` and ``APIResource``), cached in memory and on disk.
"""

from kcore.clients.discovery import AsyncDiscovery, Discovery
from kcore.clients.discovery_types import APIGroup, APIResource, APISubresource, ServerAPIs
from kcore.clients.resource import AsyncResourceClient, AsyncWatch, ResourceClient, ResourceInfo, Watch
from kcore.clients.rest import AsyncRequest, AsyncRESTClient, Request, RESTClient
from kcore.clients.transport import AsyncStream, AsyncTransport, Response, Stream, Transport

__all__ = [
    "AsyncResourceClient",
    "AsyncWatch",
    "ResourceClient",
    "ResourceInfo",
    "Watch",
    "APIGroup",
    "APIResource",
    "APISubresource",
    "AsyncDiscovery",
    "AsyncRESTClient",
    "AsyncRequest",
    "AsyncStream",
    "AsyncTransport",
    "Discovery",
    "RESTClient",
    "Request",
    "Response",
    "ServerAPIs",
    "Stream",
    "Transport",
]
