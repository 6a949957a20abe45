"""kcore.clients: reaching the API server.

``RESTClient`` / ``AsyncRESTClient``: client-go's request builder for one group/version;
``Transport`` / ``AsyncTransport``: the HTTP layer under them (Rust: pooling, HTTP/2, TLS, rate
limiting, retries). The typed Clientset, DynamicClient and discovery come next (see the issues).
"""

from kcore.clients.rest import AsyncRequest, AsyncRESTClient, Request, RESTClient
from kcore.clients.transport import AsyncStream, AsyncTransport, Response, Stream, Transport

__all__ = [
    "AsyncRESTClient",
    "AsyncRequest",
    "AsyncStream",
    "AsyncTransport",
    "RESTClient",
    "Request",
    "Response",
    "Stream",
    "Transport",
]
