"""exec and attach: a process's stdin, stdout and stderr over the API server's WebSocket.

The channel protocol (apimachinery's wsstream, as kube-apiserver v1.37 speaks it): each binary
message starts with its channel -- 0 stdin, 1 stdout, 2 stderr, 3 the error channel (one
metav1.Status when the process ends), 4 resize (a TerminalSize as JSON) -- and under
``v5.channel.k8s.io`` a message ``[255, n]`` closes channel n, which is how stdin reaches EOF.
Under ``v4.channel.k8s.io`` (the fallback, as client-go falls back) stdin cannot be closed.

``RemoteCommand`` is the sans-IO core; ``ExecSession`` and ``AsyncExecSession`` drive it over
a WebSocket, and ``run_to_end`` / ``run_to_end_async`` are the simple form's loops.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterator, Optional, Sequence, Union

from kcore import _core
from kcore.clients.transport import _awaitable, _transport_error
from kcore.errors import TransportError, api_error_from_status

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
PROTOCOLS = [V5, V4]
"""Offered in this order: v5 for the close signal, v4 when the server does not pick v5."""

STDIN_CHUNK = 32 * 1024
"""Bytes of stdin per message (the API server reads messages of up to 32 MiB)."""

Stdin = Union[None, bool, bytes]


@dataclass(frozen=True)
class ExecResult:
    """What a finished command left: its exit code and everything it wrote."""

    exit_code: int
    stdout: bytes
    stderr: bytes


def exec_params(command: Sequence[str], container: Optional[str], stdin: bool, tty: bool) -> list[tuple[str, str]]:
    """The query of a pods/exec request (pods/attach: without ``command``)."""
    if isinstance(command, (str, bytes)):
        raise TypeError("command must be a list of arguments, e.g. ['sh', '-c', 'echo hi'], not a string")
    params = [("command", str(arg)) for arg in command]
    if container:
        params.append(("container", container))
    params += [
        ("stdin", "true" if stdin else "false"),
        ("stdout", "true"),
        # A terminal has one output stream: the server refuses stderr with tty.
        ("stderr", "false" if tty else "true"),
        ("tty", "true" if tty else "false"),
    ]
    return params


def exit_code_of(status: Any) -> int:
    """The exit code the error channel's Status reports: 0 for Success, the ExitCode cause of a
    NonZeroExitCode failure; any other failure (the command could not start...) is raised as
    the ApiError it describes."""
    if not isinstance(status, dict) or status.get("kind", "Status") != "Status":
        raise TransportError(f"the error channel carried something that is not a Status: {status!r:.200}")
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message", ""))
                except ValueError:
                    break
        raise TransportError(f"a NonZeroExitCode Status without a valid ExitCode cause: {status!r:.300}")
    code = status.get("code")
    # The kubelet's Status carries no kind; a failure without a code is the server's (500).
    raise api_error_from_status(
        code if isinstance(code, int) and code else 500, {"kind": "Status", **status}, json.dumps(status).encode()
    )


class RemoteCommand:
    """The sans-IO core of one exec or attach: the messages to send, and what a received message
    means. ``exit_code`` is known once the error channel has been read and the stream ended."""

    def __init__(self, protocol: str) -> None:
        if protocol not in PROTOCOLS:
            raise TransportError(
                f"the server chose WebSocket subprotocol {protocol!r}; kcore speaks {', '.join(PROTOCOLS)}"
            )
        self.protocol = protocol
        self._error = bytearray()
        self.ended = False

    @property
    def can_close_stdin(self) -> bool:
        return self.protocol == V5

    @staticmethod
    def stdin_messages(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), STDIN_CHUNK):
            yield bytes([STDIN]) + data[start : start + STDIN_CHUNK]

    def close_stdin_message(self) -> bytes:
        if not self.can_close_stdin:
            raise TransportError(f"stdin cannot be closed: the server chose {self.protocol}, which has no close signal")
        return bytes([CLOSE, STDIN])

    @staticmethod
    def resize_message(width: int, height: int) -> bytes:
        if not (0 <= width < 65536 and 0 <= height < 65536):
            raise ValueError(f"a terminal size is two 16-bit numbers, got {width}x{height}")
        return bytes([RESIZE]) + json.dumps({"Width": width, "Height": height}).encode()

    def received(self, message: Optional[bytes]) -> Optional[tuple[int, bytes]]:
        """``(STDOUT or STDERR, data)`` for output; None for anything else (the error channel is
        kept for ``exit_code``; empty messages open channels). ``message`` None: the end."""
        if message is None:
            self.ended = True
            return None
        if not message:
            return None
        channel, data = message[0], message[1:]
        if channel == ERROR:
            self._error += data
        elif channel in (STDOUT, STDERR) and data:
            return channel, data
        return None

    @property
    def has_status(self) -> bool:
        return bool(self._error)

    @property
    def exit_code(self) -> int:
        if not self.ended:
            raise TransportError("the command is still running: read its output to the end first")
        if not self._error:
            raise TransportError("the stream ended without the command's Status (the connection was cut?)")
        try:
            status = json.loads(bytes(self._error))
        except ValueError:
            raise TransportError(f"the error channel carried no JSON Status: {bytes(self._error)[:200]!r}") from None
        return exit_code_of(status)


class _Session:
    """What both twins of a session keep: the socket and the core."""

    def __init__(self, socket: _core.WebSocket) -> None:
        self._socket = socket
        self.core = RemoteCommand(socket.protocol)

    @property
    def protocol(self) -> str:
        """The subprotocol the server chose: ``V5`` (stdin can be closed) or ``V4``."""
        return self.core.protocol

    @property
    def exit_code(self) -> int:
        """The command's exit code, once its output has been read to the end."""
        return self.core.exit_code

    def close(self) -> None:
        self._socket.close()


class ExecSession(_Session):
    """An exec or attach in progress: write stdin, read output, resize the terminal; iterate
    ``(channel, data)`` pairs (``STDOUT`` / ``STDERR``) to the end, then read ``exit_code``.
    ``close()`` (or leaving the ``with`` block) ends it early."""

    def _send(self, message: bytes) -> None:
        try:
            self._socket.send(message)
        except _core.TransportFailure as exc:
            raise _transport_error(exc) from None

    def write(self, data: bytes) -> None:
        for message in self.core.stdin_messages(data):
            self._send(message)

    def close_stdin(self) -> None:
        """End stdin (EOF for the process); needs the v5 protocol."""
        self._send(self.core.close_stdin_message())

    def resize(self, width: int, height: int) -> None:
        self._send(self.core.resize_message(width, height))

    def read(self, timeout: Optional[float] = None) -> Optional[tuple[int, bytes]]:
        """The next ``(channel, data)`` of output, or None once the stream has ended."""
        while not self.core.ended:
            try:
                message = self._socket.receive(timeout)
            except _core.TransportFailure as exc:
                raise _transport_error(exc) from None
            output = self.core.received(message)
            if output is not None:
                return output
        return None

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        while (output := self.read()) is not None:
            yield output

    def __enter__(self) -> "ExecSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncExecSession(_Session):
    """The asyncio twin of ExecSession."""

    def __init__(self, socket: _core.WebSocket) -> None:
        super().__init__(socket)
        # A receive outlives a read that timed out, so that the message it brings is not lost.
        self._receiving: Optional[asyncio.Future[Optional[bytes]]] = None

    async def _send(self, message: bytes) -> None:
        await _awaitable(lambda done: self._socket.send_async(done, message))

    async def write(self, data: bytes) -> None:
        for message in self.core.stdin_messages(data):
            await self._send(message)

    async def close_stdin(self) -> None:
        await self._send(self.core.close_stdin_message())

    async def resize(self, width: int, height: int) -> None:
        await self._send(self.core.resize_message(width, height))

    async def read(self, timeout: Optional[float] = None) -> Optional[tuple[int, bytes]]:
        while not self.core.ended:
            if self._receiving is None:
                self._receiving = _awaitable(self._socket.receive_async)
            try:
                message = await asyncio.wait_for(asyncio.shield(self._receiving), timeout)
            except asyncio.TimeoutError:
                raise TransportError(f"no message on the WebSocket for {timeout} s") from None
            self._receiving = None
            output = self.core.received(message)
            if output is not None:
                return output
        return None

    async def __aiter__(self) -> AsyncIterator[tuple[int, bytes]]:
        while (output := await self.read()) is not None:
            yield output

    async def __aenter__(self) -> "AsyncExecSession":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def _collect(outputs: list[tuple[int, bytes]], exit_code: int) -> ExecResult:
    return ExecResult(
        exit_code, b"".join(d for c, d in outputs if c == STDOUT), b"".join(d for c, d in outputs if c == STDERR)
    )


def run_to_end(session: ExecSession, stdin: Optional[bytes]) -> ExecResult:
    """Feed ``stdin`` (then EOF) from a thread while the output is read here: a process that
    writes while it reads would otherwise block on a full pipe."""
    failures: list[BaseException] = []

    def feed(data: bytes) -> None:
        try:
            session.write(data)
            session.close_stdin()
        except BaseException as exc:  # handed to the caller below
            failures.append(exc)

    feeder = (
        threading.Thread(target=feed, args=(stdin,), name="kcore-exec-stdin", daemon=True)
        if stdin is not None
        else None
    )
    with session:
        if feeder:
            feeder.start()
        outputs = list(session)
        if feeder:
            feeder.join()
    if failures and not session.core.has_status:  # a failure to send matters only if nothing says why
        raise failures[0]
    return _collect(outputs, session.exit_code)


async def run_to_end_async(session: AsyncExecSession, stdin: Optional[bytes]) -> ExecResult:
    """The asyncio twin of run_to_end: stdin fed by a task."""

    async def feed(data: bytes) -> None:
        await session.write(data)
        await session.close_stdin()

    async with session:
        feeder = asyncio.ensure_future(feed(stdin)) if stdin is not None else None
        try:
            outputs = [output async for output in session]
        finally:
            if feeder and not feeder.done():
                feeder.cancel()
        failure = feeder.exception() if feeder and feeder.done() and not feeder.cancelled() else None
        if failure and not session.core.has_status:
            raise failure
    return _collect(outputs, session.exit_code)
