"""The sans-IO cores of exec/attach and port-forward: what a message means, what to send.

The exit-code Status below is the one the kubelet's streaming server writes for a command that
exits non-zero (k8s.io/cri-streaming pkg/streaming/remotecommand exec.go and status.go: no
kind, the cause's type on the wire as "reason"); kwok, under the e2e tests, never sends it."""

from __future__ import annotations

import json

import pytest

from kcore.clients.portforward import PortForwardStream
from kcore.clients.remotecommand import STDERR, STDOUT, V4, V5, RemoteCommand, exec_params, exit_code_of
from kcore.errors import InternalError, TransportError

KUBELET_EXIT_7 = {
    "status": "Failure",
    "message": "command terminated with non-zero exit code: exit status 7",
    "reason": "NonZeroExitCode",
    "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
}


def test_a_success_status_is_exit_code_zero() -> None:
    assert exit_code_of({"metadata": {}, "status": "Success"}) == 0


def test_the_kubelets_non_zero_exit_status_gives_its_exit_code() -> None:
    assert exit_code_of(KUBELET_EXIT_7) == 7


def test_any_other_failure_is_raised_as_its_api_error() -> None:
    with pytest.raises(InternalError, match="executable file not found"):
        exit_code_of(
            {
                "status": "Failure",
                "reason": "InternalError",
                "code": 500,
                "message": "error executing command: executable file not found",
            }
        )


def test_output_channels_are_told_apart_and_the_status_read_at_the_end() -> None:
    core = RemoteCommand(V5)
    assert core.received(b"\x01") is None  # an empty message opens a channel
    assert core.received(b"\x01out") == (STDOUT, b"out")
    assert core.received(b"\x02err") == (STDERR, b"err")
    status = json.dumps(KUBELET_EXIT_7).encode()
    assert core.received(b"\x03" + status[:10]) is None
    assert core.received(b"\x03" + status[10:]) is None
    with pytest.raises(TransportError, match="still running"):
        _ = core.exit_code
    core.received(None)
    assert core.exit_code == 7


def test_a_stream_that_ends_without_a_status_is_an_error() -> None:
    core = RemoteCommand(V5)
    core.received(None)
    with pytest.raises(TransportError, match="without the command's Status"):
        _ = core.exit_code


def test_stdin_goes_in_chunks_and_only_v5_can_close_it() -> None:
    assert [m[:1] for m in RemoteCommand.stdin_messages(b"x" * 70000)] == [b"\x00"] * 3
    assert b"".join(m[1:] for m in RemoteCommand.stdin_messages(b"x" * 70000)) == b"x" * 70000
    assert RemoteCommand(V5).close_stdin_message() == b"\xff\x00"
    with pytest.raises(TransportError, match="no close signal"):
        RemoteCommand(V4).close_stdin_message()


def test_resize_is_a_terminal_size_on_channel_4() -> None:
    assert RemoteCommand.resize_message(80, 24) == b'\x04{"Width": 80, "Height": 24}'
    with pytest.raises(ValueError, match="16-bit"):
        RemoteCommand.resize_message(70000, 24)


def test_an_unknown_subprotocol_is_refused() -> None:
    with pytest.raises(TransportError, match="v5.channel.k8s.io"):
        RemoteCommand("channel.k8s.io")


def test_exec_params_repeat_command_and_drop_stderr_under_a_tty() -> None:
    assert exec_params(["sh", "-c", "x"], "app", True, True) == [
        ("command", "sh"),
        ("command", "-c"),
        ("command", "x"),
        ("container", "app"),
        ("stdin", "true"),
        ("stdout", "true"),
        ("stderr", "false"),
        ("tty", "true"),
    ]


def test_port_forward_strips_the_port_prefix_of_each_channel_and_keeps_errors() -> None:
    stream = PortForwardStream(8080)
    assert stream.received(b"\x00" + (8080).to_bytes(2, "little")) is None
    assert stream.received(b"\x01" + (8080).to_bytes(2, "little")) is None
    assert stream.received(b"\x00hello") == b"hello"
    assert stream.error is None
    stream.received(b"\x01refused")
    assert stream.error == "refused"
    assert PortForwardStream.data_message(b"x") == b"\x00x"


def test_port_forward_refuses_a_prefix_for_another_port() -> None:
    with pytest.raises(TransportError, match="names port"):
        PortForwardStream(8080).received(b"\x00" + (9090).to_bytes(2, "little"))
