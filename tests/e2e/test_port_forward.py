"""port-forward through the real kube-apiserver (the kubelet's v4.channel.k8s.io WebSocket
protocol, passed through to kwok), whose ClusterPortForward sends a pod's port 8080 to an HTTP
echo server of the test's own on this machine."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from kcore.clients.portforward import parse_ports
from kcore.clients.resource import AsyncResourceClient, ResourceClient
from kcore.clients.rest import AsyncRESTClient, RESTClient
from kcore.testenv import ControlPlane
from tests.clusters import admin_config
from tests.e2e.kwok_pods import PODS, running_pod
from tests.waiting import wait_for

POD_PORT = 8080
UNFORWARDED_PORT = 9090


class Echo(BaseHTTPRequestHandler):
    """Answers every POST with its path and body, so each connection's answer is its own."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        answer = self.path.encode() + b"\n" + body
        self.send_response(200)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def kwok_plane(echo_port: int) -> Iterator[ControlPlane]:
    with ControlPlane(with_kwok=True, kwok_port_forwards={POD_PORT: echo_port}) as plane:
        yield plane


@pytest.fixture(scope="module")
def pods(kwok_plane: ControlPlane) -> ResourceClient[dict]:
    return running_pod(RESTClient(admin_config(kwok_plane)), "default", "web")


def post(port: int, path: str, body: bytes) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body, {"connection": "close"})
        response = connection.getresponse()
        assert response.status == 200
        return response.read()
    finally:
        connection.close()


def test_a_local_port_reaches_the_pods_port(pods: ResourceClient[dict]) -> None:
    with pods.port_forward("web", [f":{POD_PORT}"]) as forward:
        local = forward.local_ports[POD_PORT]
        assert local != POD_PORT
        assert post(local, "/hello", b"world") == b"/hello\nworld"
        assert forward.errors == []


def test_concurrent_connections_each_get_their_own_answer(pods: ResourceClient[dict]) -> None:
    with pods.port_forward("web", [f"0:{POD_PORT}"]) as forward:
        local = forward.local_ports[POD_PORT]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda i: post(local, f"/c{i}", f"body {i}".encode() * 1000), range(48)))
    assert answers == [f"/c{i}\n".encode() + f"body {i}".encode() * 1000 for i in range(48)]


def test_megabytes_go_both_ways_without_loss(pods: ResourceClient[dict]) -> None:
    body = bytes(range(256)) * (4 * 4096)  # 4 MiB
    with pods.port_forward("web", [f":{POD_PORT}"]) as forward:
        assert post(forward.local_ports[POD_PORT], "/big", body) == b"/big\n" + body


def test_a_pod_that_does_not_exist_closes_the_connection_and_says_not_found(pods: ResourceClient[dict]) -> None:
    with pods.port_forward("no-such-pod", [f":{POD_PORT}"]) as forward:
        with socket.create_connection(("127.0.0.1", forward.local_ports[POD_PORT]), timeout=30) as connection:
            assert connection.recv(1) == b""  # closed without an answer
        assert wait_for(lambda: forward.errors != [])
    assert 'pods "no-such-pod" not found' in forward.errors[0]


def test_a_port_kwok_does_not_forward_reports_the_servers_error(pods: ResourceClient[dict]) -> None:
    with pods.port_forward("web", [f":{UNFORWARDED_PORT}"]) as forward:
        with socket.create_connection(("127.0.0.1", forward.local_ports[UNFORWARDED_PORT]), timeout=30) as connection:
            assert connection.recv(1) == b""
        assert wait_for(lambda: forward.errors != [])
    assert str(UNFORWARDED_PORT) in forward.errors[0]


def test_ports_are_read_as_kubectl_reads_them() -> None:
    assert parse_ports([8080, "9000:8080", ":80", "0:443"]) == [(8080, 8080), (9000, 8080), (0, 80), (0, 443)]
    with pytest.raises(ValueError, match="'http'"):
        parse_ports(["http"])
    with pytest.raises(ValueError, match="1-65535"):
        parse_ports([70000])


def test_the_asyncio_twin_forwards_concurrent_connections(kwok_plane: ControlPlane, pods: ResourceClient[dict]) -> None:
    async def post_async(port: int, i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = f"async {i}".encode() * 500
        writer.write(
            f"POST /a{i} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")
        )
        answer = await reader.readexactly(length)
        writer.close()  # the v4 protocol cannot tell that the server closed its side: the client hangs up
        return answer

    async def scenario() -> None:
        apods: AsyncResourceClient[dict] = AsyncResourceClient(
            AsyncRESTClient(admin_config(kwok_plane)), PODS, "default"
        )
        async with await apods.port_forward("web", [f":{POD_PORT}"]) as forward:
            local = forward.local_ports[POD_PORT]
            answers = await asyncio.gather(*[post_async(local, i) for i in range(24)])
            assert answers == [f"/a{i}\n".encode() + f"async {i}".encode() * 500 for i in range(24)]
        async with await apods.port_forward("no-such-pod", [f":{POD_PORT}"]) as missing:
            reader, writer = await asyncio.open_connection("127.0.0.1", missing.local_ports[POD_PORT])
            assert await reader.read() == b""
            writer.close()
            assert "not found" in missing.errors[0]

    asyncio.run(scenario())
