"""port-forward: local TCP ports that reach a pod's ports through the API server.

Each accepted local connection opens its own WebSocket to ``pods/{name}/portforward?ports=P``
under ``v4.channel.k8s.io`` (the kubelet's WebSocket port-forward protocol, which the API
server passes through): channel 0 carries the data both ways, channel 1 the errors, and the
first message the server sends on each is the port, two bytes little-endian. The protocol has
no half-close, so a local EOF ends the forwarded connection; and the server keeps the socket
open after an error, so a message on the error channel ends it too (the kubelet sends one only
once forwarding has failed).

``PortForwardStream`` is the sans-IO core of one connection; ``PortForward`` (threads) and
``AsyncPortForward`` (asyncio) listen and pump.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import threading
from typing import Awaitable, Callable, Iterable, Optional, Union

from kcore import _core
from kcore.clients.transport import _awaitable
from kcore.errors import KcoreError, TransportError

log = logging.getLogger("kcore.portforward")

PROTOCOL = "v4.channel.k8s.io"
DATA, ERROR = 0, 1
READ_SIZE = 64 * 1024

Port = Union[int, str]


def parse_ports(ports: Iterable[Port]) -> list[tuple[int, int]]:
    """``(local, remote)`` pairs as kubectl reads them: ``8080`` (the same port locally),
    ``"9000:8080"``, or ``":8080"`` / ``"0:8080"`` (any free local port)."""
    pairs = []
    for port in ports:
        text = str(port)
        local, _, remote = text.rpartition(":") if ":" in text else (text, ":", text)
        try:
            pair = (int(local or 0), int(remote))
        except ValueError:
            raise ValueError(f"port {port!r}: expected REMOTE, LOCAL:REMOTE or :REMOTE with numbers") from None
        if not (0 <= pair[0] < 65536 and 0 < pair[1] < 65536):
            raise ValueError(f"port {port!r}: ports are 1-65535 (a local 0 picks a free one)")
        pairs.append(pair)
    if not pairs:
        raise ValueError("port_forward needs at least one port")
    return pairs


class PortForwardStream:
    """The sans-IO core of one forwarded connection to ``port``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._port_read = {DATA: False, ERROR: False}
        self._error = bytearray()

    @staticmethod
    def data_message(data: bytes) -> bytes:
        return bytes([DATA]) + data

    def received(self, message: bytes) -> Optional[bytes]:
        """The bytes for the local side, if the message carries any."""
        if not message:
            return None
        channel, data = message[0], message[1:]
        if channel not in (DATA, ERROR):
            raise TransportError(f"port-forward to {self.port}: a message on unknown channel {channel}")
        if not self._port_read[channel]:
            if len(data) < 2 or int.from_bytes(data[:2], "little") != self.port:
                raise TransportError(f"port-forward to {self.port}: the server's first message names port {data[:2]!r}")
            self._port_read[channel] = True
            data = data[2:]
        if channel == ERROR:
            self._error += data
            return None
        return data or None

    @property
    def error(self) -> Optional[str]:
        """What the server reported on the error channel (e.g. nothing listens on the port)."""
        return self._error.decode("utf-8", "replace") if self._error else None


def _hang_up(connection: socket.socket) -> None:
    """Close the local side now: shutdown first, which also wakes the thread blocked reading it."""
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
    connection.close()


def _listen(address: str, port: int) -> socket.socket:
    listener = socket.create_server((address, port))
    listener.setblocking(True)
    return listener


class _Forwarding:
    """What both twins report: ``local_ports[remote]`` (once started) and the ``errors`` of
    failed connections."""

    def __init__(self, ports: Iterable[Port], address: str) -> None:
        self.ports = parse_ports(ports)
        self.address = address
        self.errors: list[str] = []
        self.local_ports: dict[int, int] = {}

    def _failed(self, message: str) -> None:
        log.warning("port-forward: %s", message)
        self.errors.append(message)


class PortForward(_Forwarding):
    """Local listening sockets forwarding to a pod, until ``close()`` (or the ``with`` block
    ends). ``local_ports[remote]`` is the local port for a pod's port; ``errors`` collects what
    the server said about connections that failed."""

    def __init__(
        self, open_socket: Callable[[int], _core.WebSocket], ports: Iterable[Port], address: str = "127.0.0.1"
    ) -> None:
        super().__init__(ports, address)
        self._open = open_socket
        self._closed = threading.Event()
        self._listeners: list[tuple[socket.socket, int]] = []

    def start(self) -> "PortForward":
        """Listen on every port, each with a thread accepting connections."""
        self._listeners = [(_listen(self.address, local), remote) for local, remote in self.ports]
        self.local_ports = {remote: listener.getsockname()[1] for listener, remote in self._listeners}
        for listener, remote in self._listeners:
            threading.Thread(
                target=self._accept, args=(listener, remote), name=f"kcore-port-forward-{remote}", daemon=True
            ).start()
        return self

    def _accept(self, listener: socket.socket, remote: int) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._forward, args=(connection, remote), daemon=True).start()

    def _forward(self, connection: socket.socket, remote: int) -> None:
        stream = PortForwardStream(remote)
        try:
            ws = self._open(remote)
        except KcoreError as exc:
            self._failed(f"port {remote}: {exc}")
            _hang_up(connection)
            return

        def upstream() -> None:
            try:
                while data := connection.recv(READ_SIZE):
                    ws.send(stream.data_message(data))
            except (OSError, _core.TransportFailure):
                pass
            ws.close()

        threading.Thread(target=upstream, daemon=True).start()
        try:
            while not stream.error and (message := ws.receive()) is not None:
                data = stream.received(message)
                if data:
                    connection.sendall(data)
        except (OSError, _core.TransportFailure, TransportError) as exc:
            self._failed(f"port {remote}: {exc}")
        finally:
            if stream.error:
                self._failed(f"port {remote}: {stream.error}")
            ws.close()
            _hang_up(connection)

    def close(self) -> None:
        """Stop listening; connections already forwarded run to their end."""
        self._closed.set()
        for listener, _ in self._listeners:
            listener.close()

    def __enter__(self) -> "PortForward":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncPortForward(_Forwarding):
    """The asyncio twin of PortForward."""

    def __init__(
        self,
        open_socket: Callable[[int], Awaitable[_core.WebSocket]],
        ports: Iterable[Port],
        address: str = "127.0.0.1",
    ) -> None:
        super().__init__(ports, address)
        self._open = open_socket
        self._servers: list[asyncio.AbstractServer] = []

    async def start(self) -> "AsyncPortForward":
        """Listen on every port, on the running event loop."""
        for local, remote in self.ports:
            server = await asyncio.start_server(functools.partial(self._forward, remote=remote), self.address, local)
            self._servers.append(server)
            self.local_ports[remote] = server.sockets[0].getsockname()[1]
        return self

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, remote: int) -> None:
        stream = PortForwardStream(remote)
        try:
            ws = await self._open(remote)
        except KcoreError as exc:
            self._failed(f"port {remote}: {exc}")
            writer.close()
            return

        async def upstream() -> None:
            try:
                while data := await reader.read(READ_SIZE):
                    await _awaitable(lambda done: ws.send_async(done, stream.data_message(data)))
            except (OSError, TransportError):
                pass
            ws.close()

        sending = asyncio.ensure_future(upstream())
        try:
            while not stream.error and (message := await _awaitable(ws.receive_async)) is not None:
                data = stream.received(message)
                if data:
                    writer.write(data)
                    await writer.drain()
        except (OSError, TransportError) as exc:
            self._failed(f"port {remote}: {exc}")
        finally:
            if stream.error:
                self._failed(f"port {remote}: {stream.error}")
            sending.cancel()
            ws.close()
            writer.close()

    def close(self) -> None:
        for server in self._servers:
            server.close()

    async def __aenter__(self) -> "AsyncPortForward":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
