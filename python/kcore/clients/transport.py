"""Transport: HTTP to one API server on kcore's Rust core, with the Config's credentials.

The Rust ``_core.Transport`` pools connections, rate-limits and retries (429/5xx with
Retry-After, broken connections on reads) and waits with the GIL released. This layer adds
what depends on the Config: the Authorization header per request, one retry with refreshed
credentials after a 401, a client certificate that an exec plugin may rotate, and Warning
headers. ``Transport`` and ``AsyncTransport`` share all of it through ``_TransportCore``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import weakref
from typing import Any, AsyncIterator, Callable, Iterator, Mapping, Optional, Sequence, Union

from kcore import _core
from kcore.clients import metrics
from kcore.config import Config
from kcore.config.credentials import Credentials
from kcore.errors import TransportError

log = logging.getLogger("kcore.transport")

WarningHandler = Callable[[str], None]
Headers = Sequence[tuple[str, str]]

_WARNING = re.compile(r'\s*299\s+\S+\s+"((?:[^"\\]|\\.)*)"')


class WarnOnce:
    """The default warning handler: log each distinct warning text once per process."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            if message in self._seen:
                return
            self._seen.add(message)
        log.warning("%s", message)


default_warning_handler = WarnOnce()


def warning_messages(headers: Headers) -> list[str]:
    """The texts of ``Warning: 299 - "text"`` headers (RFC 7234 warn-code 299 only)."""
    found = []
    for name, value in headers:
        if name.lower() == "warning":
            found += [m.replace('\\"', '"').replace("\\\\", "\\") for m in _WARNING.findall(value)]
    return found


class ResponseHead:
    """What every answer has before its body: ``status``, ``raw_headers`` (looked up without
    regard to case by ``header``), and the ``http_version`` it came over ("HTTP/2.0", "HTTP/1.1")."""

    __slots__ = ("http_version", "raw_headers", "status")

    def __init__(self, status: int, raw_headers: Headers, http_version: str) -> None:
        self.status = status
        self.raw_headers = raw_headers
        self.http_version = http_version

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        name = name.lower()
        return next((v for k, v in self.raw_headers if k == name), default)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip()


class Response(ResponseHead):
    """A whole answer: the head and its ``body`` bytes."""

    __slots__ = ("body",)

    def __init__(self, status: int, raw_headers: Headers, body: bytes, http_version: str) -> None:
        super().__init__(status, raw_headers, http_version)
        self.body = body


class Decoded(ResponseHead):
    """A 2xx answer in JSON or protobuf whose body was decoded while it arrived: ``value``, what
    ``kcore.codec.decode`` (or ``decode_compact``) gives for the body, None for an empty one."""

    __slots__ = ("value",)

    def __init__(self, status: int, raw_headers: Headers, value: Any, http_version: str) -> None:
        super().__init__(status, raw_headers, http_version)
        self.value = value


def _answer(raw: Any) -> "Union[Response, Decoded]":
    if isinstance(raw, _core.DecodedResponse):
        return Decoded(raw.status, raw.headers, raw.value, raw.http_version)
    return Response(raw.status, raw.headers, raw.body, raw.http_version)


CERTIFICATE_CHECK_SECONDS = 300.0
"""How often a transport whose client certificate comes from files looks at them while no
request does (client-go's CertCallbackRefreshDuration): a process that only watches still
moves its watches to a rotated certificate."""


def _check_certificate_files(core: "_TransportCore") -> None:
    """A daemon thread that applies the files' certificate every CERTIFICATE_CHECK_SECONDS, for
    as long as the transport exists."""
    ref = weakref.ref(core)

    def check() -> None:
        while True:
            time.sleep(CERTIFICATE_CHECK_SECONDS)
            alive = ref()
            if alive is None:
                return
            try:
                alive.rust(alive.config.credentials())
            except Exception:  # the next request reports it; this thread must live on
                log.exception("checking the client certificate files")
            del alive

    threading.Thread(target=check, name="kcore-certificate-files", daemon=True).start()


class _TransportCore:
    """Everything but the waiting: the Rust transport for the current client certificate,
    request headers from the credentials, and what to do with an answer's status."""

    def __init__(self, config: Config, warning_handler: Optional[WarningHandler]) -> None:
        self.config = config
        self.warning_handler = warning_handler or default_warning_handler
        self._lock = threading.Lock()
        self._rust: Optional[_core.Transport] = None
        self._rust_cert: Optional[tuple[Optional[bytes], Optional[bytes]]] = None
        self._refused_cert: Optional[tuple[Optional[bytes], Optional[bytes]]] = None
        if config.client_cert_file:
            _check_certificate_files(self)

    def rust(self, credentials: Credentials) -> _core.Transport:
        """The Rust transport; rebuilt only when the client certificate changes (an exec plugin
        handed out a new one, or its files rotated). Then, as client-go closes its connections,
        the old transport's streams end, so watches start again with the new certificate."""
        cert = (credentials.client_cert_data, credentials.client_key_data)
        with self._lock:
            if self._rust is not None and cert in (self._rust_cert, self._refused_cert):
                return self._rust
            c = self.config
            try:
                rust = _core.Transport(
                    c.server,
                    ca_pem=c.ca_data,
                    client_cert_pem=cert[0],
                    client_key_pem=cert[1],
                    insecure=c.insecure_skip_tls_verify,
                    tls_server_name=c.tls_server_name,
                    proxy_url=c.proxy_url,
                    qps=c.qps,
                    burst=max(c.burst, 1),
                    user_agent=c.user_agent,
                    http2=c.http2,
                )
            except ValueError as exc:
                if self._rust is None:
                    raise TransportError(f"cannot set up the transport to {c.server}: {exc}") from exc
                # Half-way through a rotation (a new certificate, the old key): the pair that
                # worked serves until the rest of the new one is in place.
                log.warning("keeping the previous client certificate: the new one is refused (%s)", exc)
                self._refused_cert = cert
                return self._rust
            if self._rust is not None:
                self._rust.close_streams()
            self._rust, self._rust_cert, self._refused_cert = rust, cert, None
            metrics.register()
            return rust

    @staticmethod
    def headers(credentials: Credentials, extra: Optional[Mapping[str, str]]) -> list[tuple[str, str]]:
        headers = list((extra or {}).items())
        if credentials.authorization:
            headers.append(("authorization", credentials.authorization))
        return headers

    def timeout(self, timeout: Optional[float]) -> Optional[float]:
        return timeout if timeout is not None else self.config.timeout

    def answered(self, raw_headers: Headers) -> None:
        for message in warning_messages(raw_headers):
            self.warning_handler(message)


def _transport_error(exc: BaseException) -> TransportError:
    return TransportError(str(exc))


class Transport:
    """Blocking HTTP to the Config's API server; safe to share between threads."""

    def __init__(self, config: Config, *, warning_handler: Optional[WarningHandler] = None) -> None:
        self._core = _TransportCore(config, warning_handler)

    @property
    def config(self) -> Config:
        return self._core.config

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[float] = None,
        rate_limited: bool = True,
    ) -> Response:
        """Send and read the whole answer. Any status comes back; only "no answer" raises."""
        raw = self._send(
            headers,
            lambda rust, sent: rust.request(
                method, path, sent, body, timeout=self._core.timeout(timeout), rate_limited=rate_limited
            ),
        )
        return Response(raw.status, raw.headers, raw.body, raw.http_version)

    def request_decoded(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[float] = None,
        compact: bool = False,
        strip_managed_fields: bool = False,
        rate_limited: bool = True,
    ) -> "Union[Response, Decoded]":
        """As ``request``, but a 2xx answer in JSON or protobuf comes back ``Decoded`` (compact:
        as ``decode_compact``, ``strip_managed_fields`` too), a list's items decoded while its
        body arrives; any other answer as ``request`` gives it. A body that does not decode
        raises ``kcore.codec.DecodeError``."""
        return _answer(
            self._send(
                headers,
                lambda rust, sent: rust.request_decoded(
                    method,
                    path,
                    sent,
                    body,
                    compact=compact,
                    strip_managed_fields=strip_managed_fields,
                    timeout=self._core.timeout(timeout),
                    rate_limited=rate_limited,
                ),
            )
        )

    def stream(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        rate_limited: bool = True,
    ) -> "Stream":
        """Send and return once the headers are in; read the body with ``Stream.chunks()``."""
        return Stream(
            self._send(headers, lambda rust, sent: rust.stream(method, path, sent, body, rate_limited=rate_limited))
        )

    def websocket(
        self,
        path: str,
        protocols: Sequence[str],
        *,
        headers: Optional[Mapping[str, str]] = None,
    ) -> "Union[_core.WebSocket, Response]":
        """Open a WebSocket (GET ``path`` upgraded, HTTP/1.1), offering ``protocols`` in order;
        the server's ``Response`` instead when it refuses the upgrade."""
        raw = self._send(headers, lambda rust, sent: rust.websocket(path, sent, list(protocols)))
        return (
            raw if isinstance(raw, _core.WebSocket) else Response(raw.status, raw.headers, raw.body, raw.http_version)
        )

    def _send(
        self, headers: Optional[Mapping[str, str]], send: Callable[[_core.Transport, list[tuple[str, str]]], Any]
    ) -> Any:
        """``send`` with the Config's credentials; after a 401, once more if they refresh."""
        credentials = self.config.credentials()
        raw = self._attempt(credentials, headers, send)
        if raw.status == 401:
            fresh = self.config.refresh_credentials(credentials)
            if fresh != credentials:
                _discard(raw)
                raw = self._attempt(fresh, headers, send)
        return raw

    def _attempt(
        self,
        credentials: Credentials,
        headers: Optional[Mapping[str, str]],
        send: Callable[[_core.Transport, list[tuple[str, str]]], Any],
    ) -> Any:
        try:
            raw = send(self._core.rust(credentials), self._core.headers(credentials, headers))
        except _core.TransportFailure as exc:
            raise _transport_error(exc) from None
        self._core.answered(raw.headers)
        return raw


def _discard(raw: Any) -> None:
    """Let go of an answer that will not be returned (a stream holds its connection)."""
    if isinstance(raw, (_core.ResponseStream, _core.WebSocket)):
        raw.close()


class Stream(ResponseHead):
    """A response body arriving in chunks. Iterate ``chunks()``; ``close()`` from any thread."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        super().__init__(raw.status, raw.headers, raw.http_version)
        self._raw = raw

    def read(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next chunk, or None at the end."""
        try:
            chunk: Optional[bytes] = self._raw.read(timeout)
        except _core.TransportFailure as exc:
            raise _transport_error(exc) from None
        return chunk

    def chunks(self, timeout: Optional[float] = None) -> Iterator[bytes]:
        while (chunk := self.read(timeout)) is not None:
            yield chunk

    def read_all(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _awaitable(start: Callable[[Callable[[bool, Any], Any]], None]) -> "asyncio.Future[Any]":
    """Run a Rust call that reports through ``done(ok, value)`` from an I/O thread as a Future
    of the running loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():  # cancelled meanwhile: release a stream nobody will read
            if ok and hasattr(value, "close"):
                value.close()
            return
        if ok:
            future.set_result(value)
        elif isinstance(value, _core.TransportFailure):
            future.set_exception(_transport_error(value))
        else:  # a body's DecodeError
            future.set_exception(value)

    def report(ok: bool, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:  # the event loop has closed: nobody waits for this answer any more
            if ok and hasattr(value, "close"):
                value.close()

    start(report)
    return future


class AsyncTransport:
    """The asyncio twin of Transport, on the same Rust core: nothing blocks the event loop."""

    def __init__(self, config: Config, *, warning_handler: Optional[WarningHandler] = None) -> None:
        self._core = _TransportCore(config, warning_handler)

    @property
    def config(self) -> Config:
        return self._core.config

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[float] = None,
        rate_limited: bool = True,
    ) -> Response:
        raw = await self._send(
            headers,
            lambda rust, sent, done: rust.request_async(
                done, method, path, sent, body, timeout=self._core.timeout(timeout), rate_limited=rate_limited
            ),
        )
        return Response(raw.status, raw.headers, raw.body, raw.http_version)

    async def request_decoded(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: Optional[float] = None,
        compact: bool = False,
        strip_managed_fields: bool = False,
        rate_limited: bool = True,
    ) -> "Union[Response, Decoded]":
        """As Transport.request_decoded; the body is decoded off the event loop, which gets the
        GIL between batches of Python objects."""
        return _answer(
            await self._send(
                headers,
                lambda rust, sent, done: rust.request_decoded_async(
                    done,
                    method,
                    path,
                    sent,
                    body,
                    compact=compact,
                    strip_managed_fields=strip_managed_fields,
                    timeout=self._core.timeout(timeout),
                    rate_limited=rate_limited,
                ),
            )
        )

    async def stream(
        self,
        method: str,
        path: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        rate_limited: bool = True,
    ) -> "AsyncStream":
        return AsyncStream(
            await self._send(
                headers,
                lambda rust, sent, done: rust.stream_async(done, method, path, sent, body, rate_limited=rate_limited),
            )
        )

    async def websocket(
        self,
        path: str,
        protocols: Sequence[str],
        *,
        headers: Optional[Mapping[str, str]] = None,
    ) -> "Union[_core.WebSocket, Response]":
        raw = await self._send(
            headers, lambda rust, sent, done: rust.websocket_async(done, path, sent, list(protocols))
        )
        return (
            raw if isinstance(raw, _core.WebSocket) else Response(raw.status, raw.headers, raw.body, raw.http_version)
        )

    async def _send(
        self,
        headers: Optional[Mapping[str, str]],
        send: Callable[[_core.Transport, list[tuple[str, str]], Callable[[bool, Any], Any]], None],
    ) -> Any:
        """As Transport._send, awaited: the plugin or token file is read off the event loop."""
        credentials = await self.config.credentials_async()
        raw = await self._attempt(credentials, headers, send)
        if raw.status == 401:
            fresh = await self.config.refresh_credentials_async(credentials)
            if fresh != credentials:
                _discard(raw)
                raw = await self._attempt(fresh, headers, send)
        return raw

    async def _attempt(
        self,
        credentials: Credentials,
        headers: Optional[Mapping[str, str]],
        send: Callable[[_core.Transport, list[tuple[str, str]], Callable[[bool, Any], Any]], None],
    ) -> Any:
        rust, sent = self._core.rust(credentials), self._core.headers(credentials, headers)
        raw = await _awaitable(lambda done: send(rust, sent, done))
        self._core.answered(raw.headers)
        return raw


class AsyncStream(ResponseHead):
    """The asyncio twin of Stream."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Any) -> None:
        super().__init__(raw.status, raw.headers, raw.http_version)
        self._raw = raw

    async def read(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next chunk, or None at the end; with nothing for ``timeout`` seconds, the stream
        is closed and TransportError raised (as Stream.read)."""
        if timeout is None:
            chunk: Optional[bytes] = await _awaitable(self._raw.read_async)
            return chunk
        try:
            return await asyncio.wait_for(self.read(), timeout)
        except asyncio.TimeoutError:
            self.close()
            raise TransportError(f"no data on the stream for {timeout} s") from None

    async def chunks(self, timeout: Optional[float] = None) -> AsyncIterator[bytes]:
        while (chunk := await self.read(timeout)) is not None:
            yield chunk

    async def read_all(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    def close(self) -> None:
        self._raw.close()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
