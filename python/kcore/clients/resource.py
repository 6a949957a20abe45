"""ResourceClient: every verb on one resource (``pods`` in a namespace, ``nodes``...).

The typed Clientset and the DynamicClient both hand these out, so each verb is written once.
``ResourceRequests`` builds the request for a verb; ``ResourceClient`` sends it and
``AsyncResourceClient`` awaits it: the twins differ only in how they wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Generic,
    Iterable,
    Iterator,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
    Union,
)

from kcore.clients.portforward import PROTOCOL as PORT_FORWARD_PROTOCOL
from kcore.clients.portforward import AsyncPortForward, Port, PortForward
from kcore.clients.remotecommand import (
    PROTOCOLS,
    AsyncExecSession,
    ExecResult,
    ExecSession,
    exec_params,
    run_to_end,
    run_to_end_async,
)
from kcore.clients.rest import AsyncRequest, AsyncRESTClient, Request, RESTClient, RESTClientBase, patch_content_type
from kcore.clients.watch import AsyncWatch, AsyncWatchDriver, ListPage, Watch, WatchDriver, WatchState
from kcore.codec import JSON, PROTOBUF

T = TypeVar("T", bound=Mapping[str, Any])
Req = TypeVar("Req", Request, AsyncRequest)
Object = Mapping[str, Any]

PAGE_SIZE = 500
"""Items per page for iter(), as client-go's pager."""


@dataclass(frozen=True)
class ResourceInfo:
    """What a client must know of a resource: where it lives and whether it is namespaced."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _metadata(obj: Object) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        raise ValueError("the object has no metadata")
    return metadata


def _object_name(obj: Object) -> str:
    name = _metadata(obj).get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("the object has no metadata.name")
    return name


class ResourceRequests(Generic[Req]):
    """Builds the request of each verb; owns the namespace rules. Shared by both twins."""

    def __init__(self, rest: RESTClientBase[Req], info: ResourceInfo, namespace: Optional[str]) -> None:
        if namespace and not info.namespaced:
            raise ValueError(f"{info.resource} are cluster-scoped: no namespace applies")
        self.rest: RESTClientBase[Req] = rest
        self.info = info
        self.namespace = namespace

    def _request(
        self, method: str, namespace: Optional[str], name: Optional[str] = None, subresource: Optional[str] = None
    ) -> Req:
        request = self.rest.verb(method)
        request.namespace(namespace).resource(self.info.resource)
        if name is not None:
            request.name(name)
        if subresource:
            request.subresource(*subresource.split("/"))
        return request

    def _one(self, method: str, name: str, subresource: Optional[str] = None, namespace: Optional[str] = None) -> Req:
        namespace = namespace or self.namespace
        if self.info.namespaced and not namespace:
            raise ValueError(f"{self.info.resource} are namespaced: choose a namespace for {name!r}")
        return self._request(method, namespace, name, subresource)

    def _for_object(self, method: str, obj: Object, subresource: Optional[str] = None, with_name: bool = True) -> Req:
        """The request for an object: its namespace when the client has none. A create needs
        no metadata at all (reviews such as SelfSubjectReview carry none)."""
        metadata = obj.get("metadata") if not with_name else _metadata(obj)
        own_namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        namespace = self.namespace or own_namespace
        if self.info.namespaced and not namespace:
            raise ValueError(
                f"{self.info.resource} are namespaced: the object has no metadata.namespace and the client none"
            )
        if self.namespace and own_namespace not in (None, "", self.namespace):
            raise ValueError(f"the object's namespace {own_namespace!r} is not the client's {self.namespace!r}")
        return self._request(method, namespace, _object_name(obj) if with_name else None, subresource)

    @staticmethod
    def _write_options(request: Req, dry_run: bool, field_manager: Optional[str]) -> Req:
        return request.param("dryRun", "All" if dry_run else None).param("fieldManager", field_manager)

    # -- reads -------------------------------------------------------------------------------

    def get(self, name: str, resource_version: Optional[str], subresource: Optional[str] = None) -> Req:
        return self._one("GET", name, subresource).param("resourceVersion", resource_version)

    def list(
        self,
        *,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        limit: Optional[int] = None,
        continue_token: Optional[str] = None,
        resource_version: Optional[str] = None,
        resource_version_match: Optional[str] = None,
        timeout_seconds: Optional[int] = None,
    ) -> Req:
        return (
            self._request("GET", self.namespace)
            .param("labelSelector", label_selector)
            .param("fieldSelector", field_selector)
            .param("limit", limit)
            .param("continue", continue_token)
            .param("resourceVersion", resource_version)
            .param("resourceVersionMatch", resource_version_match)
            .param("timeoutSeconds", timeout_seconds)
        )

    def watch(self, label_selector: Optional[str], field_selector: Optional[str], send_initial_events: bool) -> Req:
        request = (
            self._request("GET", self.namespace)
            .param("labelSelector", label_selector)
            .param("fieldSelector", field_selector)
        )
        if send_initial_events:  # a streaming list: current objects as ADDED, then a BOOKMARK
            request.param("sendInitialEvents", True).param("resourceVersionMatch", "NotOlderThan")
        return request

    def watch_requests(
        self,
        label_selector: Optional[str],
        field_selector: Optional[str],
        metadata_only: bool = False,
    ) -> tuple[Callable[[bool], Req], Callable[[ListPage], Req]]:
        """What a watch driver needs: the watch request (streaming list or not) and a LIST
        page's request, both with the selectors. ``metadata_only``: the server answers with
        PartialObjectMetadata (kind, apiVersion, metadata), as client-go's metadata client asks."""

        def watch(send_initial_events: bool) -> Req:
            request = self.watch(label_selector, field_selector, send_initial_events)
            return request.header("accept", _metadata_accept("PartialObjectMetadata")) if metadata_only else request

        def list_page(page: ListPage) -> Req:
            request = self.list(
                label_selector=label_selector,
                field_selector=field_selector,
                limit=page.limit,
                continue_token=page.continue_token,
                resource_version=page.resource_version,
            )
            return request.header("accept", _metadata_accept("PartialObjectMetadataList")) if metadata_only else request

        return watch, list_page

    # -- writes ------------------------------------------------------------------------------

    def create(self, obj: Object, dry_run: bool, field_manager: Optional[str]) -> Req:
        return self._write_options(self._for_object("POST", obj, with_name=False), dry_run, field_manager).body(
            self._typed(obj)
        )

    def update(self, obj: Object, subresource: Optional[str], dry_run: bool, field_manager: Optional[str]) -> Req:
        body = self._typed(obj) if subresource in (None, "status") else obj
        return self._write_options(self._for_object("PUT", obj, subresource), dry_run, field_manager).body(body)

    def _typed(self, obj: Object) -> Object:
        """The object with the resource's apiVersion and kind where it has none (the server reads
        them from the URL; a protobuf body must name them)."""
        if obj.get("apiVersion") and obj.get("kind"):
            return obj
        return {
            **obj,
            "apiVersion": obj.get("apiVersion") or self.info.api_version,
            "kind": obj.get("kind") or self.info.kind,
        }

    def patch(
        self,
        name: str,
        patch: Any,
        patch_type: str,
        subresource: Optional[str],
        dry_run: bool,
        field_manager: Optional[str],
        force: Optional[bool],
    ) -> Req:
        request = self._one("PATCH", name, subresource)
        request.header("content-type", patch_content_type(patch_type))
        return self._write_options(request, dry_run, field_manager).param("force", force).body(patch)

    def apply(self, obj: Object, field_manager: str, force: bool, subresource: Optional[str], dry_run: bool) -> Req:
        if not field_manager:
            raise ValueError("server-side apply needs a field_manager: the name of who owns the fields")
        request = self._for_object("PATCH", obj, subresource)
        request.header("content-type", patch_content_type("apply"))
        return self._write_options(request, dry_run, field_manager).param("force", True if force else None).body(obj)

    def delete(
        self,
        name: str,
        propagation_policy: Optional[str],
        grace_period_seconds: Optional[int],
        preconditions: Optional[Mapping[str, str]],
        dry_run: bool,
    ) -> Req:
        return self._one("DELETE", name).body(
            _delete_options(propagation_policy, grace_period_seconds, preconditions, dry_run)
        )

    def delete_collection(
        self,
        label_selector: Optional[str],
        field_selector: Optional[str],
        propagation_policy: Optional[str],
        grace_period_seconds: Optional[int],
        dry_run: bool,
    ) -> Req:
        return (
            self._request("DELETE", self.namespace)
            .param("labelSelector", label_selector)
            .param("fieldSelector", field_selector)
            .body(_delete_options(propagation_policy, grace_period_seconds, None, dry_run))
        )

    def create_subresource(self, name: str, subresource: str, body: Object, dry_run: bool) -> Req:
        return self._write_options(self._one("POST", name, subresource), dry_run, None).body(body)

    def replace_subresource(self, name: str, subresource: str, body: Object, dry_run: bool) -> Req:
        return self._write_options(self._one("PUT", name, subresource), dry_run, None).body(body)

    def log(
        self,
        name: str,
        *,
        container: Optional[str],
        follow: bool,
        previous: bool,
        since_seconds: Optional[int],
        tail_lines: Optional[int],
        timestamps: bool,
        limit_bytes: Optional[int],
    ) -> Req:
        return (
            self._one("GET", name, "log")
            .param("container", container)
            .param("follow", follow or None)
            .param("previous", previous or None)
            .param("sinceSeconds", since_seconds)
            .param("tailLines", tail_lines)
            .param("timestamps", timestamps or None)
            .param("limitBytes", limit_bytes)
        )

    def exec(self, name: str, command: Sequence[str], container: Optional[str], stdin: bool, tty: bool) -> Req:
        request = self._one("GET", name, "exec")
        for key, value in exec_params(command, container, stdin, tty):
            request.param(key, value)
        return request

    def attach(self, name: str, container: Optional[str], stdin: bool, tty: bool) -> Req:
        request = self._one("GET", name, "attach")
        for key, value in exec_params((), container, stdin, tty):
            request.param(key, value)
        return request

    def port_forward(self, name: str, port: int) -> Req:
        return self._one("GET", name, "portforward").param("ports", port)

    def proxy(self, method: str, name: str, path: str, port: Optional[Union[int, str]], scheme: Optional[str]) -> Req:
        target = name if port is None else f"{name}:{port}"
        if scheme:
            target = f"{scheme}:{target}"
        return self._one(method, target, "proxy").suffix(path)


def _metadata_accept(kind: str) -> str:
    """The Accept of a metadata-only request: protobuf first (it is a built-in type even for
    custom resources), JSON after."""
    return f"{PROTOBUF};as={kind};g=meta.k8s.io;v=v1,{JSON};as={kind};g=meta.k8s.io;v=v1,{JSON}"


def _delete_options(
    propagation_policy: Optional[str],
    grace_period_seconds: Optional[int],
    preconditions: Optional[Mapping[str, str]],
    dry_run: bool,
) -> dict[str, Any]:
    options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
    if propagation_policy is not None:
        if propagation_policy not in ("Orphan", "Background", "Foreground"):
            raise ValueError(f"propagation_policy must be Orphan, Background or Foreground; got {propagation_policy!r}")
        options["propagationPolicy"] = propagation_policy
    if grace_period_seconds is not None:
        options["gracePeriodSeconds"] = grace_period_seconds
    if preconditions:
        options["preconditions"] = dict(preconditions)
    if dry_run:
        options["dryRun"] = ["All"]
    return options


class ResourceClient(Generic[T]):
    """The verbs of one resource, blocking. Results are plain dicts (typed as ``T``)."""

    def __init__(self, rest: RESTClient, info: ResourceInfo, namespace: Optional[str] = None) -> None:
        self._requests: ResourceRequests[Request] = ResourceRequests(rest, info, namespace)
        self.info = info
        self.namespace = namespace

    def get(self, name: str, *, resource_version: Optional[str] = None) -> T:
        result: T = self._requests.get(name, resource_version).do()
        return result

    def list(
        self,
        *,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        limit: Optional[int] = None,
        continue_token: Optional[str] = None,
        resource_version: Optional[str] = None,
        resource_version_match: Optional[str] = None,
        timeout_seconds: Optional[int] = None,
    ) -> dict[str, Any]:
        """One LIST call: ``{"items": [...], "metadata": {"resourceVersion", "continue"}}``."""
        result: dict[str, Any] = self._requests.list(
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
            resource_version_match=resource_version_match,
            timeout_seconds=timeout_seconds,
        ).do()
        return result

    def iter(
        self, *, label_selector: Optional[str] = None, field_selector: Optional[str] = None, page_size: int = PAGE_SIZE
    ) -> Iterator[T]:
        """Every item, fetched a page at a time. If the continue token expires mid-way (the
        list took longer than etcd keeps history) this raises Gone: start again."""
        token: Optional[str] = None
        while True:
            page = self.list(
                label_selector=label_selector, field_selector=field_selector, limit=page_size, continue_token=token
            )
            yield from page.get("items") or []
            token = page.get("metadata", {}).get("continue")
            if not token:
                return

    def watch(
        self,
        *,
        resource_version: Optional[str] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        timeout_seconds: Optional[int] = None,
        bookmarks: bool = True,
        compact: bool = False,
        send_initial_events: bool = False,
    ) -> Watch:
        """``(event_type, object)`` from ``resource_version`` on. With ``timeout_seconds`` one
        watch request that ends when the server closes it; without, the watch runs until
        closed, resuming from the last resourceVersion it saw whenever the stream ends or
        breaks, so no event is lost; a 410 Gone (that version is compacted) raises.
        ``send_initial_events``: a streaming list — the current objects first, as ADDED, then a
        BOOKMARK annotated ``k8s.io/initial-events-end: "true"``, then changes."""
        if resource_version is None and timeout_seconds is None and not send_initial_events:
            # Resuming needs a version to resume from: "now" is the collection's current one,
            # taken here, not when iteration starts, so nothing created meanwhile is missed.
            resource_version = self.list(limit=1)["metadata"]["resourceVersion"]
        driver = WatchDriver(*self._requests.watch_requests(label_selector, field_selector), bookmarks, compact)
        return Watch(driver, WatchState(resource_version, send_initial_events), timeout_seconds)

    def create(self, obj: Object, *, dry_run: bool = False, field_manager: Optional[str] = None) -> T:
        result: T = self._requests.create(obj, dry_run, field_manager).do()
        return result

    def update(self, obj: Object, *, dry_run: bool = False, field_manager: Optional[str] = None) -> T:
        result: T = self._requests.update(obj, None, dry_run, field_manager).do()
        return result

    def update_status(self, obj: Object, *, dry_run: bool = False, field_manager: Optional[str] = None) -> T:
        result: T = self._requests.update(obj, "status", dry_run, field_manager).do()
        return result

    def patch(
        self,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: Optional[str] = None,
        dry_run: bool = False,
        field_manager: Optional[str] = None,
        force: Optional[bool] = None,
    ) -> T:
        """``patch_type``: "merge", "strategic", "json" or "apply"."""
        result: T = self._requests.patch(name, patch, patch_type, subresource, dry_run, field_manager, force).do()
        return result

    def apply(
        self,
        obj: Object,
        *,
        field_manager: str,
        force: bool = False,
        subresource: Optional[str] = None,
        dry_run: bool = False,
    ) -> T:
        """Server-side apply: ``obj`` holds the fields ``field_manager`` owns."""
        result: T = self._requests.apply(obj, field_manager, force, subresource, dry_run).do()
        return result

    def delete(
        self,
        name: str,
        *,
        propagation_policy: Optional[str] = None,
        grace_period_seconds: Optional[int] = None,
        preconditions: Optional[Mapping[str, str]] = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """The deleted object (or a Status). ``preconditions``: ``{"uid": ..., "resourceVersion": ...}``."""
        result: dict[str, Any] = self._requests.delete(
            name, propagation_policy, grace_period_seconds, preconditions, dry_run
        ).do()
        return result

    def delete_collection(
        self,
        *,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        propagation_policy: Optional[str] = None,
        grace_period_seconds: Optional[int] = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._requests.delete_collection(
            label_selector, field_selector, propagation_policy, grace_period_seconds, dry_run
        ).do()
        return result

    # -- subresources ------------------------------------------------------------------------

    def get_subresource(self, name: str, subresource: str) -> dict[str, Any]:
        """e.g. ``scale``, ``status``, ``ephemeralcontainers``."""
        result: dict[str, Any] = self._requests.get(name, None, subresource).do()
        return result

    def replace_subresource(
        self, name: str, subresource: str, body: Object, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """PUT a subresource, e.g. ``scale`` or ``ephemeralcontainers``."""
        result: dict[str, Any] = self._requests.replace_subresource(name, subresource, body, dry_run).do()
        return result

    def create_subresource(self, name: str, subresource: str, body: Object, *, dry_run: bool = False) -> dict[str, Any]:
        """POST a subresource, e.g. ``binding`` or ``eviction`` of a pod."""
        result: dict[str, Any] = self._requests.create_subresource(name, subresource, body, dry_run).do()
        return result

    def log(
        self,
        name: str,
        *,
        container: Optional[str] = None,
        previous: bool = False,
        since_seconds: Optional[int] = None,
        tail_lines: Optional[int] = None,
        timestamps: bool = False,
        limit_bytes: Optional[int] = None,
    ) -> str:
        """A pod's log so far."""
        return (
            self._requests.log(
                name,
                container=container,
                follow=False,
                previous=previous,
                since_seconds=since_seconds,
                tail_lines=tail_lines,
                timestamps=timestamps,
                limit_bytes=limit_bytes,
            )
            .do_raw()
            .decode("utf-8", "replace")
        )

    def follow_log(
        self,
        name: str,
        *,
        container: Optional[str] = None,
        since_seconds: Optional[int] = None,
        tail_lines: Optional[int] = None,
        timestamps: bool = False,
    ) -> Iterator[bytes]:
        """A pod's log as it is written (chunks of bytes), until the container ends or ``close()``."""
        stream = self._requests.log(
            name,
            container=container,
            follow=True,
            previous=False,
            since_seconds=since_seconds,
            tail_lines=tail_lines,
            timestamps=timestamps,
            limit_bytes=None,
        ).stream()
        with stream:
            yield from stream.chunks()

    def proxy(
        self,
        name: str,
        path: str = "",
        *,
        method: str = "GET",
        port: Optional[Union[int, str]] = None,
        scheme: Optional[str] = None,
        params: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
    ) -> bytes:
        """The API server's proxy to a pod, service or node: ``{name}[:port]/proxy/{path}``."""
        request = self._requests.proxy(method.upper(), name, path, port, scheme).params(params)
        if body is not None:
            request.body(body, "application/octet-stream")
        return request.do_raw()

    def exec(
        self,
        name: str,
        command: Sequence[str],
        *,
        container: Optional[str] = None,
        stdin: Optional[bytes] = None,
        tty: bool = False,
    ) -> ExecResult:
        """Run ``command`` in a pod's container to its end: its exit code, stdout and stderr
        (with ``tty`` one stream, in stdout). ``stdin`` bytes are fed to it, then EOF."""
        return run_to_end(self.stream_exec(name, command, container=container, stdin=stdin is not None, tty=tty), stdin)

    def stream_exec(
        self,
        name: str,
        command: Sequence[str],
        *,
        container: Optional[str] = None,
        stdin: bool = False,
        tty: bool = False,
        terminal_size: Optional[tuple[int, int]] = None,
    ) -> ExecSession:
        """Start ``command`` and return the session to drive it (write, close_stdin, resize,
        iterate the output, then ``exit_code``); ``terminal_size=(width, height)`` with ``tty``."""
        session = ExecSession(self._requests.exec(name, command, container, stdin, tty).websocket(PROTOCOLS))
        if terminal_size:
            session.resize(*terminal_size)
        return session

    def attach(
        self,
        name: str,
        *,
        container: Optional[str] = None,
        stdin: bool = False,
        tty: bool = False,
        terminal_size: Optional[tuple[int, int]] = None,
    ) -> ExecSession:
        """Attach to the running process of a pod's container (its output from now on)."""
        session = ExecSession(self._requests.attach(name, container, stdin, tty).websocket(PROTOCOLS))
        if terminal_size:
            session.resize(*terminal_size)
        return session

    def port_forward(self, name: str, ports: Iterable[Port], *, address: str = "127.0.0.1") -> PortForward:
        """Listen on local ports that reach the pod's: ``8080``, ``"9000:8080"`` or ``":8080"``
        (any free local port; see ``local_ports``). Each connection is its own WebSocket."""
        opener = self._requests.port_forward
        return PortForward(lambda port: opener(name, port).websocket([PORT_FORWARD_PROTOCOL]), ports, address).start()


class AsyncResourceClient(Generic[T]):
    """The asyncio twin of ResourceClient: the same verbs, awaited."""

    def __init__(self, rest: AsyncRESTClient, info: ResourceInfo, namespace: Optional[str] = None) -> None:
        self._requests: ResourceRequests[AsyncRequest] = ResourceRequests(rest, info, namespace)
        self.info = info
        self.namespace = namespace

    async def get(self, name: str, *, resource_version: Optional[str] = None) -> T:
        result: T = await self._requests.get(name, resource_version).do()
        return result

    async def list(
        self,
        *,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        limit: Optional[int] = None,
        continue_token: Optional[str] = None,
        resource_version: Optional[str] = None,
        resource_version_match: Optional[str] = None,
        timeout_seconds: Optional[int] = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._requests.list(
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            continue_token=continue_token,
            resource_version=resource_version,
            resource_version_match=resource_version_match,
            timeout_seconds=timeout_seconds,
        ).do()
        return result

    async def iter(
        self, *, label_selector: Optional[str] = None, field_selector: Optional[str] = None, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[T]:
        token: Optional[str] = None
        while True:
            page = await self.list(
                label_selector=label_selector, field_selector=field_selector, limit=page_size, continue_token=token
            )
            for item in page.get("items") or []:
                yield item
            token = page.get("metadata", {}).get("continue")
            if not token:
                return

    async def watch(
        self,
        *,
        resource_version: Optional[str] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        timeout_seconds: Optional[int] = None,
        bookmarks: bool = True,
        compact: bool = False,
        send_initial_events: bool = False,
    ) -> AsyncWatch:
        """As ResourceClient.watch; awaited because "from now" is resolved before it returns."""
        if resource_version is None and timeout_seconds is None and not send_initial_events:
            resource_version = (await self.list(limit=1))["metadata"]["resourceVersion"]
        driver = AsyncWatchDriver(*self._requests.watch_requests(label_selector, field_selector), bookmarks, compact)
        return AsyncWatch(driver, WatchState(resource_version, send_initial_events), timeout_seconds)

    async def create(self, obj: Object, *, dry_run: bool = False, field_manager: Optional[str] = None) -> T:
        result: T = await self._requests.create(obj, dry_run, field_manager).do()
        return result

    async def update(self, obj: Object, *, dry_run: bool = False, field_manager: Optional[str] = None) -> T:
        result: T = await self._requests.update(obj, None, dry_run, field_manager).do()
        return result

    async def update_status(self, obj: Object, *, dry_run: bool = False, field_manager: Optional[str] = None) -> T:
        result: T = await self._requests.update(obj, "status", dry_run, field_manager).do()
        return result

    async def patch(
        self,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: Optional[str] = None,
        dry_run: bool = False,
        field_manager: Optional[str] = None,
        force: Optional[bool] = None,
    ) -> T:
        result: T = await self._requests.patch(name, patch, patch_type, subresource, dry_run, field_manager, force).do()
        return result

    async def apply(
        self,
        obj: Object,
        *,
        field_manager: str,
        force: bool = False,
        subresource: Optional[str] = None,
        dry_run: bool = False,
    ) -> T:
        result: T = await self._requests.apply(obj, field_manager, force, subresource, dry_run).do()
        return result

    async def delete(
        self,
        name: str,
        *,
        propagation_policy: Optional[str] = None,
        grace_period_seconds: Optional[int] = None,
        preconditions: Optional[Mapping[str, str]] = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._requests.delete(
            name, propagation_policy, grace_period_seconds, preconditions, dry_run
        ).do()
        return result

    async def delete_collection(
        self,
        *,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
        propagation_policy: Optional[str] = None,
        grace_period_seconds: Optional[int] = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._requests.delete_collection(
            label_selector, field_selector, propagation_policy, grace_period_seconds, dry_run
        ).do()
        return result

    async def get_subresource(self, name: str, subresource: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._requests.get(name, None, subresource).do()
        return result

    async def replace_subresource(
        self, name: str, subresource: str, body: Object, *, dry_run: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._requests.replace_subresource(name, subresource, body, dry_run).do()
        return result

    async def create_subresource(
        self, name: str, subresource: str, body: Object, *, dry_run: bool = False
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._requests.create_subresource(name, subresource, body, dry_run).do()
        return result

    async def log(
        self,
        name: str,
        *,
        container: Optional[str] = None,
        previous: bool = False,
        since_seconds: Optional[int] = None,
        tail_lines: Optional[int] = None,
        timestamps: bool = False,
        limit_bytes: Optional[int] = None,
    ) -> str:
        raw = await self._requests.log(
            name,
            container=container,
            follow=False,
            previous=previous,
            since_seconds=since_seconds,
            tail_lines=tail_lines,
            timestamps=timestamps,
            limit_bytes=limit_bytes,
        ).do_raw()
        return raw.decode("utf-8", "replace")

    async def follow_log(
        self,
        name: str,
        *,
        container: Optional[str] = None,
        since_seconds: Optional[int] = None,
        tail_lines: Optional[int] = None,
        timestamps: bool = False,
    ) -> AsyncIterator[bytes]:
        stream = await self._requests.log(
            name,
            container=container,
            follow=True,
            previous=False,
            since_seconds=since_seconds,
            tail_lines=tail_lines,
            timestamps=timestamps,
            limit_bytes=None,
        ).stream()
        async with stream:
            async for chunk in stream.chunks():
                yield chunk

    async def proxy(
        self,
        name: str,
        path: str = "",
        *,
        method: str = "GET",
        port: Optional[Union[int, str]] = None,
        scheme: Optional[str] = None,
        params: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
    ) -> bytes:
        request = self._requests.proxy(method.upper(), name, path, port, scheme).params(params)
        if body is not None:
            request.body(body, "application/octet-stream")
        raw: bytes = await request.do_raw()
        return raw

    async def exec(
        self,
        name: str,
        command: Sequence[str],
        *,
        container: Optional[str] = None,
        stdin: Optional[bytes] = None,
        tty: bool = False,
    ) -> ExecResult:
        return await run_to_end_async(
            await self.stream_exec(name, command, container=container, stdin=stdin is not None, tty=tty), stdin
        )

    async def stream_exec(
        self,
        name: str,
        command: Sequence[str],
        *,
        container: Optional[str] = None,
        stdin: bool = False,
        tty: bool = False,
        terminal_size: Optional[tuple[int, int]] = None,
    ) -> AsyncExecSession:
        session = AsyncExecSession(await self._requests.exec(name, command, container, stdin, tty).websocket(PROTOCOLS))
        if terminal_size:
            await session.resize(*terminal_size)
        return session

    async def attach(
        self,
        name: str,
        *,
        container: Optional[str] = None,
        stdin: bool = False,
        tty: bool = False,
        terminal_size: Optional[tuple[int, int]] = None,
    ) -> AsyncExecSession:
        session = AsyncExecSession(await self._requests.attach(name, container, stdin, tty).websocket(PROTOCOLS))
        if terminal_size:
            await session.resize(*terminal_size)
        return session

    async def port_forward(self, name: str, ports: Iterable[Port], *, address: str = "127.0.0.1") -> AsyncPortForward:
        opener = self._requests.port_forward
        return await AsyncPortForward(
            lambda port: opener(name, port).websocket([PORT_FORWARD_PROTOCOL]), ports, address
        ).start()
