"""Clientset: client-go's typed clientset — every built-in group-version, every resource, typed.

    cs = Clientset(config)
    pod = cs.core_v1.pods("web").get("front")           # a core_v1.Pod (a TypedDict)
    cs.apps_v1.deployments("web").apply(deployment, field_manager="me")
    cs.core_v1.nodes().list()                           # cluster-scoped: no namespace
    cs.core_v1.pods().list()                            # namespaced, without one: all namespaces

Each group-version's client (``cs.core_v1``...) and each resource method come from the
generated ``builtin_apis``; this module only chooses the transport. Every client of one
Clientset shares one Transport (one connection pool, one rate limiter). Built-in kinds are
fetched as protobuf. ``AsyncClientset`` (``kcore.aio.Clientset``) is the asyncio twin, over the
same generated classes.
"""

from __future__ import annotations

from typing import Optional

from kcore.clients.builtin_apis import BuiltinAPIs
from kcore.clients.rest import AsyncRESTClient, RESTClient
from kcore.clients.transport import AsyncTransport, Transport
from kcore.config import Config


class Clientset(BuiltinAPIs[RESTClient]):
    """Blocking; safe to share between threads."""

    def __init__(self, config: Config, *, transport: Optional[Transport] = None) -> None:
        self.config = config
        self.transport = transport or Transport(config)
        super().__init__(
            lambda group, version: RESTClient(config, group=group, version=version, transport=self.transport)
        )


class AsyncClientset(BuiltinAPIs[AsyncRESTClient]):
    """The asyncio twin of Clientset: the same attributes, and awaited verbs."""

    def __init__(self, config: Config, *, transport: Optional[AsyncTransport] = None) -> None:
        self.config = config
        self.transport = transport or AsyncTransport(config)
        super().__init__(
            lambda group, version: AsyncRESTClient(config, group=group, version=version, transport=self.transport)
        )
