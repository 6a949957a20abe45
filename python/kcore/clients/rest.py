"""RESTClient: client-go's request builder, for one group/version of one API server.

    rest = RESTClient(config, group="apps", version="v1")
    rs = rest.get().namespace("web").resource("replicasets").name("front").do()
    rest.patch("merge").namespace("web").resource("replicasets").name("front").body({...}).do()
    for event_type, obj in rest.get().namespace("web").resource("replicasets").watch(): ...

``do()`` decodes (JSON or Kubernetes protobuf, whichever the server sent), ``do_raw()`` gives the
bytes, ``stream()`` the open body, ``watch()`` decoded events. A failure Status raises the
matching ``kcore.errors.ApiError``; no answer at all raises ``TransportError``.
``AsyncRESTClient`` builds the same requests and awaits them.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Generic, Mapping, Optional, Sequence, TypeVar, Union
from urllib.parse import quote, urlencode

from kcore import _core, codec
from kcore.clients.transport import AsyncStream, AsyncTransport, Decoded, Response, Stream, Transport, WarningHandler
from kcore.config import Config
from kcore.errors import ApiError, api_error_from_status

PATCH_CONTENT_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


def patch_content_type(patch_type: str) -> str:
    """The Content-Type of a patch: "json", "merge", "strategic" or "apply"."""
    try:
        return PATCH_CONTENT_TYPES[patch_type]
    except KeyError:
        raise ValueError(f"patch_type must be one of {', '.join(PATCH_CONTENT_TYPES)}; got {patch_type!r}") from None


ACCEPT_PROTOBUF = f"{codec.PROTOBUF},{codec.JSON}"

Params = Mapping[str, Union[str, int, bool, None]]


def _param_value(value: Union[str, int, bool]) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _segment(value: str, what: str) -> str:
    if not value or value in (".", "..") or "/" in value:
        raise ValueError(f"{what} {value!r} cannot be a path segment")
    return quote(value, safe="")


def _protobuf(obj: Any) -> Optional[bytes]:
    """``obj`` in Kubernetes protobuf if it is of a built-in kind the codec can write whole."""
    if not (isinstance(obj, Mapping) and obj.get("apiVersion") and obj.get("kind")):
        return None
    try:
        return codec.encode(obj, codec.PROTOBUF)
    except codec.EncodeError:
        return None


def api_error(response_status: int, body: bytes, content_type: str) -> ApiError:
    """The ApiError for a failed answer; its body is a Status in either format, or anything."""
    try:
        status = codec.decode(body, content_type) if content_type in (codec.JSON, codec.PROTOBUF) else None
    except (codec.DecodeError, ValueError):
        status = None
    return api_error_from_status(response_status, status, body)


B = TypeVar("B", bound="RequestBuilder")


class RequestBuilder:
    """The parts of a request, set in any order (as client-go's ``rest.Request``)."""

    def __init__(self, client: Any, method: str) -> None:
        self._client = client
        self._method = method
        self._namespace: Optional[str] = None
        self._resource: Optional[str] = None
        self._name: Optional[str] = None
        self._subresource: list[str] = []
        self._suffix: list[str] = []
        self._abs_path: Optional[str] = None
        self._params: list[tuple[str, str]] = []
        self._headers: dict[str, str] = {}
        self._body: Optional[bytes] = None
        self._timeout: Optional[float] = None

    def namespace(self: B, namespace: Optional[str]) -> B:
        """Scope to a namespace; None or "" means all namespaces (or a cluster-scoped resource)."""
        self._namespace = _segment(namespace, "namespace") if namespace else None
        return self

    def resource(self: B, resource: str) -> B:
        self._resource = _segment(resource.lower(), "resource")
        return self

    def name(self: B, name: str) -> B:
        self._name = _segment(name, "name")
        return self

    def subresource(self: B, *parts: str) -> B:
        """e.g. ``status``, ``scale``, ``log``, or ``proxy`` (then ``suffix`` for the path)."""
        self._subresource = [_segment(p, "subresource") for p in parts]
        return self

    def suffix(self: B, *parts: str) -> B:
        """Path elements after the subresource, e.g. the path behind ``proxy``."""
        self._suffix = [quote(p.strip("/"), safe="/") for p in parts if p.strip("/")]
        return self

    def abs_path(self: B, path: str) -> B:
        """Request exactly this path (e.g. ``/version``, ``/apis``), ignoring the group/version."""
        self._abs_path = "/" + path.lstrip("/")
        return self

    def param(self: B, key: str, value: Union[str, int, bool, None]) -> B:
        if value is not None:
            self._params.append((key, _param_value(value)))
        return self

    def params(self: B, params: Optional[Params] = None, **more: Union[str, int, bool, None]) -> B:
        for key, value in {**(params or {}), **more}.items():
            self.param(key, value)
        return self

    def header(self: B, name: str, value: str) -> B:
        self._headers[name.lower()] = value
        return self

    def timeout(self: B, seconds: Optional[float]) -> B:
        self._timeout = seconds
        return self

    def body(self: B, obj: Any, content_type: Optional[str] = None) -> B:
        """An object, or bytes (sent as they are). The content type is ``content_type``, else
        the patch type already chosen, else -- on a protobuf client, for an object of a built-in
        kind (apiVersion and kind set) -- Kubernetes protobuf, as client-go sends it; else JSON.
        An object protobuf cannot carry (a field the kind does not have) goes as JSON, for the
        server to judge."""
        if isinstance(obj, (bytes, bytearray, memoryview)):
            self._body = bytes(obj)
        else:
            encoded = None
            if content_type is None and "content-type" not in self._headers and self._client.protobuf:
                encoded = _protobuf(obj)
                content_type = codec.PROTOBUF if encoded is not None else None
            self._body = (
                encoded if encoded is not None else json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
            )
        if content_type:
            self._headers["content-type"] = content_type
        else:
            self._headers.setdefault("content-type", codec.JSON)
        return self

    def path(self) -> str:
        """The request's path and query, e.g. ``/api/v1/namespaces/ns/pods/p/status?dryRun=All``."""
        if self._abs_path is not None:
            parts = [self._abs_path.rstrip("/") or ""]
        else:
            parts = [self._client.base_path]
            if self._namespace:
                parts += ["namespaces", self._namespace]
            if self._resource:
                parts.append(self._resource)
            if self._name:
                parts.append(self._name)
            parts += self._subresource + self._suffix
        path = "/".join(parts) or "/"
        return f"{path}?{urlencode(self._params)}" if self._params else path

    def _is_list(self) -> bool:
        """A GET of a collection: a LIST, whose answer ``do()`` decodes while it arrives."""
        return (
            self._method == "GET"
            and self._resource is not None
            and self._name is None
            and self._abs_path is None
            and not self._subresource
        )

    def _request_headers(self) -> dict[str, str]:
        headers = {"accept": ACCEPT_PROTOBUF if self._client.protobuf else codec.JSON}
        headers.update(self._headers)
        return headers

    def _websocket_headers(self) -> dict[str, str]:
        # The API server passes a port-forward upgrade to the kubelet as it came, and the
        # kubelet's router refuses (406) an Accept it does not produce, such as protobuf.
        return {**self._request_headers(), "accept": "*/*"}

    def _watch_path(self, resource_version: Optional[str], timeout_seconds: Optional[int], bookmarks: bool) -> str:
        self.param("watch", True)
        self.param("resourceVersion", resource_version)
        self.param("timeoutSeconds", timeout_seconds)
        if bookmarks:
            self.param("allowWatchBookmarks", True)
        return self.path()


def _decoded(response: Union[Response, Decoded], compact: bool = False, strip_managed_fields: bool = False) -> Any:
    if isinstance(response, Decoded):
        return response.value
    if response.status >= 300:
        raise api_error(response.status, response.body, response.content_type)
    if not response.body:
        return None
    if response.content_type not in (codec.JSON, codec.PROTOBUF):
        return response.body.decode("utf-8", "replace")  # e.g. logs, text from a proxied service
    if compact:
        return codec.decode_compact(response.body, response.content_type, strip_managed_fields)
    return codec.decode(response.body, response.content_type)


def _raw(response: Response) -> bytes:
    if response.status >= 300:
        raise api_error(response.status, response.body, response.content_type)
    return response.body


def _opened(answer: "Union[_core.WebSocket, Response]") -> "_core.WebSocket":
    if isinstance(answer, Response):
        raise api_error(answer.status, answer.body, answer.content_type)
    return answer


def _watch_events(decoder: "codec.WatchDecoder", chunk: bytes) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = decoder.feed(chunk)
    for event_type, obj in events:
        if event_type == "ERROR":
            raise api_error_from_status(500, obj, b"")
    return events


class Request(RequestBuilder):
    """A request of the blocking RESTClient."""

    _client: "RESTClient"

    def do(self, compact: bool = False, strip_managed_fields: bool = False) -> Any:
        """Send it; the decoded answer (None for an empty body), or the ApiError raised.
        ``compact``: decoded into read-only compact objects (``kcore.codec.decode_compact``),
        with ``strip_managed_fields`` without metadata.managedFields (left out while decoding).
        A LIST (a GET of a collection) has its items decoded while its body arrives."""
        if self._is_list():
            return _decoded(
                self._client.transport.request_decoded(
                    self._method,
                    self.path(),
                    headers=self._request_headers(),
                    timeout=self._timeout,
                    compact=compact,
                    strip_managed_fields=strip_managed_fields,
                )
            )
        return _decoded(self._send(), compact, strip_managed_fields)

    def do_raw(self) -> bytes:
        return _raw(self._send())

    def _send(self) -> Response:
        return self._client.transport.request(
            self._method, self.path(), headers=self._request_headers(), body=self._body, timeout=self._timeout
        )

    def stream(self) -> Stream:
        """Send it and return the open body (e.g. a log to follow); raises on a failure status."""
        stream = self._client.transport.stream(
            self._method, self.path(), headers=self._request_headers(), body=self._body
        )
        if stream.status >= 300:
            body = stream.read_all()
            raise api_error(stream.status, body, stream.content_type)
        return stream

    def websocket(self, protocols: Sequence[str]) -> "_core.WebSocket":
        """Open it as a WebSocket offering ``protocols``; a refusal raises its ApiError."""
        return _opened(self._client.transport.websocket(self.path(), protocols, headers=self._websocket_headers()))

    def watch(
        self,
        resource_version: Optional[str] = None,
        *,
        timeout_seconds: Optional[int] = None,
        bookmarks: bool = True,
        compact: bool = False,
        strip_managed_fields: bool = False,
        idle_timeout: Optional[float] = None,
    ) -> "EventStream":
        """One watch request: ``(event_type, object)`` as they come, until the server ends it or
        ``close()`` (from any thread). An ERROR event (e.g. 410 Gone) raises its ApiError.
        ``compact`` and ``strip_managed_fields``: objects decoded as ``do`` decodes them.
        ``idle_timeout``: nothing read for that long raises TransportError (a dead connection)."""
        path = self._watch_path(resource_version, timeout_seconds, bookmarks)
        # The first watch attempt is not rate limited (client-go): a relist already was.
        stream = self._client.transport.stream("GET", path, headers=self._request_headers(), rate_limited=False)
        if stream.status >= 300:
            with stream:
                raise api_error(stream.status, stream.read_all(), stream.content_type)
        return EventStream(stream, compact, strip_managed_fields, idle_timeout)


class _EventDecoding:
    """The decoding half of an event stream, shared by the twins."""

    def __init__(
        self,
        stream: Union[Stream, AsyncStream],
        compact: bool,
        strip_managed_fields: bool = False,
        idle_timeout: Optional[float] = None,
    ) -> None:
        self._stream = stream
        self._idle_timeout = idle_timeout
        self._decoder = codec.WatchDecoder(stream.content_type, compact, strip_managed_fields)
        self._pending: deque[tuple[str, Any]] = deque()
        self._closed = False

    def _take(self, chunk: Optional[bytes]) -> bool:
        """Queue the events of ``chunk``; False once the stream has ended."""
        if chunk is None:
            if not self._closed:
                self._decoder.close()  # a frame cut off by the server's end is an error
            self._stream.close()
            return False
        self._pending.extend(_watch_events(self._decoder, chunk))
        return True

    def close(self) -> None:
        self._closed = True
        self._stream.close()


class EventStream(_EventDecoding):
    """Decoded events of one watch request; ``close()`` from any thread ends it."""

    _stream: Stream

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> tuple[str, Any]:
        while not self._pending:
            if not self._take(self._stream.read(self._idle_timeout)):
                raise StopIteration
        return self._pending.popleft()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncEventStream(_EventDecoding):
    """The asyncio twin of EventStream."""

    _stream: AsyncStream

    def __aiter__(self) -> "AsyncEventStream":
        return self

    async def __anext__(self) -> tuple[str, Any]:
        while not self._pending:
            if not self._take(await self._stream.read(self._idle_timeout)):
                raise StopAsyncIteration
        return self._pending.popleft()

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class AsyncRequest(RequestBuilder):
    """A request of the AsyncRESTClient: the same builder, awaited."""

    _client: "AsyncRESTClient"

    async def do(self, compact: bool = False, strip_managed_fields: bool = False) -> Any:
        if self._is_list():
            return _decoded(
                await self._client.transport.request_decoded(
                    self._method,
                    self.path(),
                    headers=self._request_headers(),
                    timeout=self._timeout,
                    compact=compact,
                    strip_managed_fields=strip_managed_fields,
                )
            )
        return _decoded(await self._send(), compact, strip_managed_fields)

    async def do_raw(self) -> bytes:
        return _raw(await self._send())

    async def _send(self) -> Response:
        return await self._client.transport.request(
            self._method, self.path(), headers=self._request_headers(), body=self._body, timeout=self._timeout
        )

    async def stream(self) -> AsyncStream:
        stream = await self._client.transport.stream(
            self._method, self.path(), headers=self._request_headers(), body=self._body
        )
        if stream.status >= 300:
            raise api_error(stream.status, await stream.read_all(), stream.content_type)
        return stream

    async def websocket(self, protocols: Sequence[str]) -> "_core.WebSocket":
        return _opened(
            await self._client.transport.websocket(self.path(), protocols, headers=self._websocket_headers())
        )

    async def watch(
        self,
        resource_version: Optional[str] = None,
        *,
        timeout_seconds: Optional[int] = None,
        bookmarks: bool = True,
        compact: bool = False,
        strip_managed_fields: bool = False,
        idle_timeout: Optional[float] = None,
    ) -> AsyncEventStream:
        path = self._watch_path(resource_version, timeout_seconds, bookmarks)
        stream = await self._client.transport.stream("GET", path, headers=self._request_headers(), rate_limited=False)
        if stream.status >= 300:
            async with stream:
                raise api_error(stream.status, await stream.read_all(), stream.content_type)
        return AsyncEventStream(stream, compact, strip_managed_fields, idle_timeout)


R = TypeVar("R", "Request", "AsyncRequest")


class RESTClientBase(Generic[R]):
    """What both clients share: the group/version path and the verbs that start a request."""

    _request_type: type[R]

    def __init__(self, group: str, version: str, protobuf: bool) -> None:
        self.group = group
        self.version = version
        self.protobuf = protobuf
        self.base_path = f"/apis/{group}/{version}" if group else f"/api/{version}"

    def verb(self, method: str) -> R:
        return self._request_type(self, method.upper())

    def get(self) -> R:
        return self.verb("GET")

    def post(self) -> R:
        return self.verb("POST")

    def put(self) -> R:
        return self.verb("PUT")

    def delete(self) -> R:
        return self.verb("DELETE")

    def patch(self, patch_type: str) -> R:
        """``patch_type``: "json", "merge", "strategic" or "apply" (server-side apply)."""
        request = self.verb("PATCH")
        request.header("content-type", patch_content_type(patch_type))
        return request


class RESTClient(RESTClientBase[Request]):
    """Requests to ``/api/<version>`` (core) or ``/apis/<group>/<version>`` of one server.

    ``protobuf=True`` (built-in kinds) asks for Kubernetes protobuf with JSON as the fallback;
    custom resources must use ``protobuf=False``. Clients of one Config should share one
    ``transport`` (one connection pool, one rate limiter), as client-go's clientset does.
    """

    _request_type = Request

    def __init__(
        self,
        config: Config,
        *,
        group: str = "",
        version: str = "v1",
        protobuf: bool = True,
        transport: Optional[Transport] = None,
        warning_handler: Optional[WarningHandler] = None,
    ) -> None:
        super().__init__(group, version, protobuf)
        self.transport = transport or Transport(config, warning_handler=warning_handler)


class AsyncRESTClient(RESTClientBase[AsyncRequest]):
    """The asyncio twin of RESTClient."""

    _request_type = AsyncRequest

    def __init__(
        self,
        config: Config,
        *,
        group: str = "",
        version: str = "v1",
        protobuf: bool = True,
        transport: Optional[AsyncTransport] = None,
        warning_handler: Optional[WarningHandler] = None,
    ) -> None:
        super().__init__(group, version, protobuf)
        self.transport = transport or AsyncTransport(config, warning_handler=warning_handler)
