"""Discovery: which groups, versions and resources an API server serves (client-go's
DiscoveryClient with its memory and disk caches).

    discovery = Discovery(config)                       # or a RESTClient, to share its transport
    apis = discovery.server_apis()                      # ServerAPIs: groups, resources, failed
    discovery.server_resources("apps/v1")               # (APIResource(name="deployments", ...), ...)
    discovery.invalidate()                              # forget both caches: e.g. after a new CRD

Aggregated discovery first (two requests: /api and /apis), the legacy per-group-version
documents when the server does not answer with an APIGroupDiscoveryList (or ``legacy=True``).
Results are kept in memory for ``ttl`` seconds and, with a ``cache_dir``, on disk in kubectl's
layout and format, so ``cache_dir="~/.kube/cache/discovery"`` shares kubectl's cache. The
default is memory only: a library should not write under the user's home unasked.
``AsyncDiscovery`` is the asyncio twin; both run the one plan in ``_DiscoveryCore``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Generator, Optional, Union

from kcore.clients.discovery_cache import GROUPS_FILE, DiscoveryDiskCache, resources_file
from kcore.clients.discovery_documents import (
    ACCEPT_AGGREGATED,
    ACCEPT_LEGACY,
    Document,
    api_groups,
    core_group,
    group_list_document,
    is_aggregated,
    read_groups,
    read_resources,
    split_aggregated,
)
from kcore.clients.discovery_types import APIGroup, APIResource, ServerAPIs, group_version
from kcore.clients.rest import AsyncRESTClient, RESTClient, api_error
from kcore.clients.transport import AsyncTransport, Response, Transport
from kcore.config import Config
from kcore.errors import ApiError, NoMatchError, NotFound, TransportError

DEFAULT_TTL = 600.0
DISCOVERY_BURST = 300
"""Discovery is bursty (a request per group-version on the legacy path): client-go and kubectl
raise the rate limiter's burst to this for their discovery clients."""


@dataclass(frozen=True)
class _Get:
    path: str
    accept: str


Answer = Union[Response, TransportError]
Plan = Generator[list[_Get], list[Answer], ServerAPIs]


def _resources_path(gv: str) -> str:
    return f"/api/{gv}" if "/" not in gv else f"/apis/{gv}"


def _document(answer: Answer, path: str) -> Any:
    """The decoded JSON of a successful answer; the ApiError or TransportError otherwise."""
    if isinstance(answer, TransportError):
        raise answer
    if answer.status >= 300:
        raise api_error(answer.status, answer.body, answer.content_type)
    try:
        return json.loads(answer.body)
    except ValueError:
        raise ValueError(f"GET {path}: the server's answer is not JSON: {answer.body[:200]!r}") from None


def _groups_of(answer: Answer, path: str) -> tuple[list[Document], Optional[dict[str, Document]], dict[str, str]]:
    """The groups of /api or /apis, and their resources if the answer was aggregated."""
    if path == "/api" and isinstance(answer, Response) and answer.status == 404:
        return [], {}, {}  # tolerated, as client-go does: an aggregated API server may not serve /api
    doc = _document(answer, path)
    if is_aggregated(answer.header("content-type") if isinstance(answer, Response) else None):
        return split_aggregated(doc)
    return (core_group(doc) if path == "/api" else api_groups(doc)), None, {}


def _group_versions(groups: list[Document]) -> list[str]:
    return [
        v["groupVersion"]
        for g in groups
        for v in g.get("versions") or []
        if isinstance(v, dict) and isinstance(v.get("groupVersion"), str)
    ]


class _DiscoveryCore:
    """The plan both twins run: what to ask the server (as a generator of request batches, so
    the twins differ only in how they wait for the answers), and both caches."""

    def __init__(self, server: str, cache_dir: Optional[str], ttl: float, legacy: bool) -> None:
        if ttl < 0:
            raise ValueError(f"ttl must be >= 0 seconds; got {ttl}")
        self.ttl = ttl
        self.legacy = legacy
        self.disk = DiscoveryDiskCache(cache_dir, server, ttl) if cache_dir else None
        self._memory: Optional[tuple[float, ServerAPIs]] = None

    def cached(self) -> Optional[ServerAPIs]:
        """The last discovery while younger than the ttl."""
        if self._memory is None or time.monotonic() > self._memory[0] + self.ttl:
            return None
        return self._memory[1]

    def invalidate(self) -> None:
        self._memory = None
        if self.disk:
            self.disk.invalidate()

    def _from_disk(self, gvs: list[str]) -> dict[str, Document]:
        found = {}
        for gv in gvs:
            name = resources_file(gv)
            doc = self.disk.read(name) if self.disk and name else None
            if doc is not None:
                found[gv] = doc
        return found

    def discover(self) -> Plan:
        """The requests to send, batch by batch, and finally the ServerAPIs (at once if cached)."""
        cached = self.cached()
        if cached is not None:
            return cached
        groups_doc = self.disk.read(GROUPS_FILE) if self.disk else None
        if groups_doc is not None:
            groups = api_groups(groups_doc)
            resources = self._from_disk(_group_versions(groups))
            if len(resources) == len(_group_versions(groups)):
                return self._remember(groups, resources, {})
        accept = ACCEPT_LEGACY if self.legacy else ACCEPT_AGGREGATED
        core_answer, apis_answer = yield [_Get("/api", accept), _Get("/apis", accept)]
        core_groups, core_resources, core_failed = _groups_of(core_answer, "/api")
        apis_groups, apis_resources, apis_failed = _groups_of(apis_answer, "/apis")
        groups = core_groups + apis_groups  # the core group first, as client-go orders them
        failed = {**core_failed, **apis_failed}
        if core_resources is not None and apis_resources is not None:
            resources = {**core_resources, **apis_resources}
        else:  # legacy: one document per group-version, unless the disk has it
            gvs = _group_versions(groups)
            resources = self._from_disk(gvs)
            wanted = [gv for gv in gvs if gv not in resources]
            answers = yield [_Get(_resources_path(gv), ACCEPT_LEGACY) for gv in wanted]
            for gv, answer in zip(wanted, answers):
                try:
                    resources[gv] = _document(answer, _resources_path(gv))
                except NotFound:
                    if gv != "v1":  # client-go tolerates a core v1 that is not found
                        failed[gv] = f"GET {_resources_path(gv)}: not found"
                except (ApiError, TransportError, ValueError) as exc:
                    failed[gv] = f"GET {_resources_path(gv)}: {exc}"
        self._store(groups, resources)
        return self._remember(groups, resources, failed)

    def _store(self, groups: list[Document], resources: dict[str, Document]) -> None:
        """Write what is worth keeping, as client-go does: no empty group list or resource list."""
        if not self.disk:
            return
        if groups:
            self.disk.write(GROUPS_FILE, group_list_document(groups))
        for gv, doc in resources.items():
            name = resources_file(gv)
            if name and doc.get("resources"):
                self.disk.write(name, doc)

    def _remember(self, groups: list[Document], resources: dict[str, Document], failed: dict[str, str]) -> ServerAPIs:
        read = read_groups(group_list_document(groups))
        apis = ServerAPIs(
            groups=read,
            resources={
                group_version(g.name, v): read_resources(g.name, v, resources[group_version(g.name, v)])
                for g in read
                for v in g.versions
                if group_version(g.name, v) in resources
            },
            failed=failed,
        )
        self._memory = (time.monotonic(), apis)
        return apis

    @staticmethod
    def resources_of(apis: ServerAPIs, gv: str) -> tuple[APIResource, ...]:
        if gv in apis.resources:
            return apis.resources[gv]
        if gv in apis.failed:
            raise NoMatchError(f"discovery of {gv} failed: {apis.failed[gv]}")
        raise NoMatchError(f"the server has no group-version {gv!r}")


def _config_and_transport(source: Any, rest_type: type, transport_type: type) -> tuple[Config, Any]:
    if isinstance(source, rest_type):
        transport = getattr(source, "transport")  # noqa: B009 (mypy narrows source to object here)
        return transport.config, transport
    if isinstance(source, Config):
        return source, transport_type(dataclasses.replace(source, burst=max(source.burst, DISCOVERY_BURST)))
    raise TypeError(f"expected a kcore.Config or a {rest_type.__name__}; got {type(source).__name__}")


class Discovery:
    """Blocking discovery; safe to share between threads (one refresh at a time)."""

    def __init__(
        self,
        config_or_rest: Union[Config, RESTClient],
        *,
        cache_dir: Optional[str] = None,
        ttl: float = DEFAULT_TTL,
        legacy: bool = False,
    ) -> None:
        config, self._transport = _config_and_transport(config_or_rest, RESTClient, Transport)
        self._core = _DiscoveryCore(config.server, cache_dir, ttl, legacy)
        self._lock = threading.Lock()

    @property
    def legacy(self) -> bool:
        """True: only the legacy per-group-version documents are asked for."""
        return self._core.legacy

    def _get(self, request: _Get) -> Answer:
        try:
            return self._transport.request("GET", request.path, headers={"accept": request.accept})
        except TransportError as exc:
            return exc

    def server_apis(self) -> ServerAPIs:
        """Every group and group-version's resources, from a cache while it is fresh."""
        with self._lock:
            plan = self._core.discover()
            try:
                requests = next(plan)
                while True:
                    requests = plan.send([self._get(r) for r in requests])
            except StopIteration as done:
                apis: ServerAPIs = done.value
                return apis

    def server_groups(self) -> tuple[APIGroup, ...]:
        return self.server_apis().groups

    def server_resources(self, group_version: str) -> tuple[APIResource, ...]:
        """The resources of ``"v1"`` or ``"<group>/<version>"``; NoMatchError if the server
        has no such group-version (or its discovery failed, with why)."""
        return _DiscoveryCore.resources_of(self.server_apis(), group_version)

    def invalidate(self) -> None:
        """Forget what the memory cache holds and stop trusting the disk cache's files."""
        with self._lock:
            self._core.invalidate()


class AsyncDiscovery:
    """The asyncio twin of Discovery; legacy group-versions are fetched concurrently."""

    def __init__(
        self,
        config_or_rest: Union[Config, AsyncRESTClient],
        *,
        cache_dir: Optional[str] = None,
        ttl: float = DEFAULT_TTL,
        legacy: bool = False,
    ) -> None:
        config, self._transport = _config_and_transport(config_or_rest, AsyncRESTClient, AsyncTransport)
        self._core = _DiscoveryCore(config.server, cache_dir, ttl, legacy)

    @property
    def legacy(self) -> bool:
        return self._core.legacy

    async def _get(self, request: _Get) -> Answer:
        try:
            response: Response = await self._transport.request("GET", request.path, headers={"accept": request.accept})
            return response
        except TransportError as exc:
            return exc

    async def server_apis(self) -> ServerAPIs:
        plan = self._core.discover()
        try:
            requests = next(plan)
            while True:
                requests = plan.send(list(await asyncio.gather(*(self._get(r) for r in requests))))
        except StopIteration as done:
            apis: ServerAPIs = done.value
            return apis

    async def server_groups(self) -> tuple[APIGroup, ...]:
        return (await self.server_apis()).groups

    async def server_resources(self, group_version: str) -> tuple[APIResource, ...]:
        return _DiscoveryCore.resources_of(await self.server_apis(), group_version)

    def invalidate(self) -> None:
        self._core.invalidate()
