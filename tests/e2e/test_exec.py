"""exec and attach through the real kube-apiserver (v5.channel.k8s.io WebSocket) to kwok, whose
ClusterExec runs the command on this machine and whose ClusterAttach follows the container log.

What kwok v0.8.0 does differently from a kubelet, and so what these tests can show:
- a command that exits non-zero comes back as an InternalError Status ("exit status N"), not
  the kubelet's NonZeroExitCode with an ExitCode cause (kwok's error is not a utilexec.ExitError);
  the kubelet's form is read by ``exit_code_of`` (tests/unit/test_remotecommand.py);
- kwok never closes the process's stdin pipe, so the stdin tests use ``head -c N``, which ends
  by itself, instead of waiting for EOF.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from typing import Iterator

import pytest

from kcore.clients.remotecommand import STDERR, STDOUT, V4, V5, ExecSession
from kcore.clients.resource import AsyncResourceClient, ResourceClient
from kcore.clients.rest import AsyncRESTClient, RESTClient
from kcore.errors import ApiError, InternalError, NotFound, TransportError
from kcore.testenv import ControlPlane
from tests.clusters import admin_config
from tests.e2e.kwok_pods import PODS, running_pod


@pytest.fixture(scope="module")
def kwok_plane() -> Iterator[ControlPlane]:
    with ControlPlane(with_kwok=True) as plane:
        yield plane


@pytest.fixture(scope="module")
def pods(kwok_plane: ControlPlane) -> ResourceClient[dict]:
    return running_pod(RESTClient(admin_config(kwok_plane)), "default", "shell")


def test_exec_returns_exit_code_zero_and_keeps_stdout_and_stderr_apart(pods: ResourceClient[dict]) -> None:
    result = pods.exec("shell", ["sh", "-c", "echo to-out; echo to-err >&2; echo more-out"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, b"to-out\nmore-out\n", b"to-err\n")


def test_the_server_speaks_v5_with_the_close_signal(pods: ResourceClient[dict]) -> None:
    with pods.stream_exec("shell", ["true"]) as session:
        assert session.protocol == V5
        assert list(session) == []
        assert session.exit_code == 0


def test_under_v4_a_server_without_v5_gives_the_same_output_and_status(pods: ResourceClient[dict]) -> None:
    # What stream_exec does against an older server, which picks v4 from the offered list:
    # offered alone here, the real server answers in v4 (no translation, passed to kwok).
    socket = pods._requests.exec("shell", ["sh", "-c", "echo out; echo err >&2"], None, False, False).websocket([V4])
    with ExecSession(socket) as session:
        assert session.protocol == V4
        assert sorted(session) == [(STDOUT, b"out\n"), (STDERR, b"err\n")]
        assert session.exit_code == 0
        with pytest.raises(TransportError, match="no close signal"):
            session.close_stdin()


def test_a_failing_command_raises_the_status_kwok_sends(pods: ResourceClient[dict]) -> None:
    with pytest.raises(InternalError) as failed:
        pods.exec("shell", ["sh", "-c", "echo partial; exit 3"])
    assert "exit status 3" in str(failed.value)


def test_stdin_reaches_the_process_and_comes_back(pods: ResourceClient[dict]) -> None:
    result = pods.exec("shell", ["head", "-c", "11"], stdin=b"hello world")
    assert (result.exit_code, result.stdout) == (0, b"hello world")


def test_megabytes_of_stdin_and_stdout_go_through_without_loss(pods: ResourceClient[dict]) -> None:
    data = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32)  # 3 MiB
    result = pods.exec("shell", ["head", "-c", str(len(data))], stdin=data)
    assert result.exit_code == 0
    assert len(result.stdout) == len(data) and result.stdout == data


def test_megabytes_of_output_arrive_in_order(pods: ResourceClient[dict]) -> None:
    result = pods.exec("shell", ["sh", "-c", "seq 1 400000"])
    assert result.stdout == "".join(f"{i}\n" for i in range(1, 400001)).encode()  # 2.6 MB


# Prints the terminal's size for each line of stdin, until the line "done".
RESIZE_SCRIPT = 'while read line && [ "$line" != done ]; do stty size; done'


def terminal_sizes(output: bytes) -> list[bytes]:
    """The ``rows cols`` lines ``stty size`` printed so far (whole lines only)."""
    return re.findall(rb"^(\d+ \d+)\r\n", output, re.M)


def ask_size_until(session: ExecSession, size: bytes, output: bytes) -> bytes:
    """Ask the shell for the terminal's size until it is ``size``: the resize channel and stdin
    reach the process by different goroutines (kwok's, as the kubelet's), so a resize sent
    before a line may be applied after the line was read."""
    for _ in range(100):
        asked = len(terminal_sizes(output))
        session.write(b"size?\n")
        while len(terminal_sizes(output)) == asked:
            chunk = session.read(timeout=20)
            assert chunk is not None, output
            assert chunk[0] == STDOUT, chunk  # a terminal has one stream
            output += chunk[1]
        if terminal_sizes(output)[-1] == size:
            return output
        time.sleep(0.05)
    raise AssertionError(f"the terminal never became {size!r}: {output!r}")


def test_tty_resize_reaches_the_process(pods: ResourceClient[dict]) -> None:
    with pods.stream_exec(
        "shell", ["sh", "-c", RESIZE_SCRIPT], stdin=True, tty=True, terminal_size=(100, 30)
    ) as session:
        output = ask_size_until(session, b"30 100", b"")
        session.resize(132, 43)
        ask_size_until(session, b"43 132", output)
        session.write(b"done\n")
        for _ in session:  # to the end, where the Status is
            pass
        assert session.exit_code == 0


def test_closing_the_transports_streams_ends_an_open_exec_too(
    kwok_plane: ControlPlane, pods: ResourceClient[dict]
) -> None:
    # As a rotated client certificate does (the Transport closes every stream of the old one).
    core = RESTClient(admin_config(kwok_plane))
    own: ResourceClient[dict] = ResourceClient(core, PODS, "default")
    with own.stream_exec("shell", ["sleep", "60"]) as session:
        core.transport._core._rust.close_streams()  # type: ignore[union-attr]
        assert session.read(timeout=20) is None
        with pytest.raises(TransportError, match="without the command's Status"):
            _ = session.exit_code


def test_exec_in_a_missing_pod_raises_not_found(pods: ResourceClient[dict]) -> None:
    with pytest.raises(NotFound) as missing:
        pods.exec("no-such-pod", ["true"])
    assert "no-such-pod" in str(missing.value)


def test_exec_in_a_missing_container_raises_bad_request_naming_it(pods: ResourceClient[dict]) -> None:
    with pytest.raises(ApiError) as missing:
        pods.exec("shell", ["true"], container="no-such-container")
    assert (missing.value.code, missing.value.reason) == (400, "BadRequest")
    assert "no-such-container" in str(missing.value)


def test_exec_in_a_named_container(pods: ResourceClient[dict]) -> None:
    assert pods.exec("shell", ["echo", "in app"], container="app").stdout == b"in app\n"


def test_a_command_given_as_one_string_is_refused() -> None:
    with pytest.raises(TypeError, match="list of arguments"):
        ResourceClient(RESTClient.__new__(RESTClient), PODS, "default").exec("p", "echo hi")  # type: ignore[arg-type]


def test_attach_streams_what_the_container_writes_from_now_on(
    kwok_plane: ControlPlane, pods: ResourceClient[dict]
) -> None:
    marker = uuid.uuid4().hex
    output = b""
    with pods.attach("shell", container="app") as session:
        # kwok follows the log from its end once its side of the stream is up, which the
        # upgrade's answer does not wait for: write until a line arrives.
        for _ in range(20):
            with kwok_plane.container_log.open("a") as log:
                log.write(f"2026-01-01T00:00:00.000000000Z stdout F attached {marker}\n")
            try:
                chunk = session.read(timeout=1)
            except TransportError:
                continue
            assert chunk is not None, output
            output += chunk[1]
            break
    assert f"attached {marker}\n".encode() in output


def test_the_asyncio_twins_exec_attach_and_raise_alike(kwok_plane: ControlPlane, pods: ResourceClient[dict]) -> None:
    async def scenario() -> None:
        apods: AsyncResourceClient[dict] = AsyncResourceClient(
            AsyncRESTClient(admin_config(kwok_plane)), PODS, "default"
        )
        result = await apods.exec("shell", ["sh", "-c", "echo a; echo b >&2"])
        assert (result.exit_code, result.stdout, result.stderr) == (0, b"a\n", b"b\n")
        data = bytes(range(256)) * 4096  # 1 MiB
        echoed = await apods.exec("shell", ["head", "-c", str(len(data))], stdin=data)
        assert echoed.stdout == data
        big = await apods.exec("shell", ["sh", "-c", "seq 1 200000"])
        assert big.stdout == "".join(f"{i}\n" for i in range(1, 200001)).encode()
        async with await apods.stream_exec(
            "shell", ["sh", "-c", RESIZE_SCRIPT], stdin=True, tty=True, terminal_size=(90, 25)
        ) as session:
            await session.resize(91, 26)
            output = b""
            for _ in range(100):  # as ask_size_until does
                asked = len(terminal_sizes(output))
                await session.write(b"size?\n")
                while len(terminal_sizes(output)) == asked:
                    chunk = await session.read(timeout=20)
                    assert chunk is not None, output
                    output += chunk[1]
                if terminal_sizes(output)[-1] == b"26 91":
                    break
                await asyncio.sleep(0.05)
            assert terminal_sizes(output)[-1] == b"26 91", output
            await session.write(b"done\n")
            async for _ in session:  # to the end, where the Status is
                pass
            assert session.exit_code == 0
        async with await apods.stream_exec("shell", ["sh", "-c", "sleep 1; echo late"]) as slow:
            with pytest.raises(TransportError, match="no message"):
                await slow.read(timeout=0.1)
            assert await slow.read(timeout=20) == (STDOUT, b"late\n")  # not lost to the read that timed out
        with pytest.raises(InternalError, match="exit status 4"):
            await apods.exec("shell", ["sh", "-c", "exit 4"])
        with pytest.raises(NotFound):
            await apods.exec("no-such-pod", ["true"])
        with pytest.raises(ApiError, match="nope"):
            await apods.exec("shell", ["true"], container="nope")

    asyncio.run(scenario())
