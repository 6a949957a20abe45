"""kcore.aio: the asyncio twins under kcore's names.

    from kcore import aio

    cs = aio.Clientset(config)
    pod = await cs.core_v1.pods("web").get("front")
    async for event_type, pod in await cs.core_v1.pods("web").watch(): ...

Each is the async class of ``kcore.clients`` (``AsyncClientset``, ``AsyncDynamicClient``...),
built on the same request builders and the same generated tables as its blocking twin.
"""

from kcore.clients.clientset import AsyncClientset as Clientset
from kcore.clients.discovery import AsyncDiscovery as Discovery
from kcore.clients.dynamic import AsyncDynamicClient as DynamicClient
from kcore.clients.resource import AsyncResourceClient as ResourceClient
from kcore.clients.rest import AsyncRESTClient as RESTClient
from kcore.clients.transport import AsyncTransport as Transport
from kcore.clients.watch import AsyncWatch as Watch
from kcore.controller.controller import AsyncController as Controller
from kcore.controller.finalizers import AsyncFinalizer as Finalizer
from kcore.controller.finalizers import add_finalizer_async as add_finalizer
from kcore.controller.finalizers import remove_finalizer_async as remove_finalizer
from kcore.controller.leader_election import AsyncLeaderElector as LeaderElector
from kcore.controller.manager import AsyncManager as Manager
from kcore.informer.factory import AsyncSharedInformerFactory as SharedInformerFactory
from kcore.informer.shared_informer import AsyncSharedIndexInformer as SharedIndexInformer

__all__ = [
    "Clientset",
    "Controller",
    "Discovery",
    "DynamicClient",
    "Finalizer",
    "LeaderElector",
    "Manager",
    "RESTClient",
    "ResourceClient",
    "SharedIndexInformer",
    "SharedInformerFactory",
    "Transport",
    "Watch",
    "add_finalizer",
    "remove_finalizer",
]
