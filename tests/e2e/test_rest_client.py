"""RESTClient and its transport against the real API server (and a fault proxy in front of it)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading

import pytest

from kcore import Config
from kcore.clients import AsyncTransport, Transport
from kcore.clients.rest import AsyncRESTClient, RESTClient
from kcore.errors import (
    AlreadyExists,
    ApiError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    TransportError,
    Unauthorized,
)
from kcore.testenv import ControlPlane
from tests.clusters import admin_config, compact_etcd, configmap
from tests.fault_proxy import FaultProxy


def test_create_get_update_delete_a_configmap(core: RESTClient, namespace: str) -> None:
    cms = lambda: core.get().namespace(namespace).resource("configmaps")  # noqa: E731
    created = core.post().namespace(namespace).resource("configmaps").body(configmap("a", k="v")).do()
    assert created["metadata"]["name"] == "a"
    fetched = cms().name("a").do()
    assert fetched["data"] == {"k": "v"}
    fetched["data"]["k"] = "v2"
    updated = core.put().namespace(namespace).resource("configmaps").name("a").body(fetched).do()
    assert updated["data"] == {"k": "v2"}
    assert [item["metadata"]["name"] for item in cms().do()["items"]] == ["a"]
    core.delete().namespace(namespace).resource("configmaps").name("a").do()
    with pytest.raises(NotFound):
        cms().name("a").do()


def test_built_in_kinds_come_back_as_protobuf_and_decode_to_the_json_answer(
    config: Config, core: RESTClient, namespace: str
) -> None:
    core.post().namespace(namespace).resource("configmaps").body(configmap("p", k="v")).do()
    raw = core.get().namespace(namespace).resource("configmaps").name("p").do_raw()
    assert raw.startswith(b"k8s\x00")  # the server chose protobuf, as asked
    as_json = RESTClient(config, protobuf=False).get().namespace(namespace).resource("configmaps").name("p").do()
    assert core.get().namespace(namespace).resource("configmaps").name("p").do() == as_json


@pytest.mark.parametrize(
    ("patch_type", "patch"),
    [
        ("merge", {"data": {"b": "2"}}),
        ("strategic", {"data": {"b": "2"}}),
        ("json", [{"op": "add", "path": "/data/b", "value": "2"}]),
    ],
)
def test_patch_types(core: RESTClient, namespace: str, patch_type: str, patch: object) -> None:
    core.post().namespace(namespace).resource("configmaps").body(configmap("p", a="1")).do()
    patched = core.patch(patch_type).namespace(namespace).resource("configmaps").name("p").body(patch).do()
    assert patched["data"] == {"a": "1", "b": "2"}


def test_server_side_apply_reports_conflicts_and_force_takes_ownership(core: RESTClient, namespace: str) -> None:
    def apply(manager: str, value: str, force: bool = False) -> dict:
        return (
            core.patch("apply")
            .namespace(namespace)
            .resource("configmaps")
            .name("ssa")
            .params(fieldManager=manager, force=force or None)
            .body(configmap("ssa", key=value))
            .do()
        )

    assert apply("alice", "1")["data"] == {"key": "1"}
    with pytest.raises(Conflict) as conflict:
        apply("bob", "2")
    assert "alice" in conflict.value.message
    forced = apply("bob", "2", force=True)
    assert forced["data"] == {"key": "2"}
    assert {m["manager"] for m in forced["metadata"]["managedFields"]} == {"bob"}


def test_dry_run_validates_without_persisting(core: RESTClient, namespace: str) -> None:
    created = core.post().namespace(namespace).resource("configmaps").param("dryRun", "All").body(configmap("dry")).do()
    assert created["metadata"]["name"] == "dry"
    with pytest.raises(NotFound):
        core.get().namespace(namespace).resource("configmaps").name("dry").do()


def test_each_failure_status_raises_its_own_error_with_the_status(
    control_plane: ControlPlane, config: Config, core: RESTClient, namespace: str
) -> None:
    cms = lambda: core.post().namespace(namespace).resource("configmaps")  # noqa: E731
    cms().body(configmap("dup")).do()
    with pytest.raises(AlreadyExists) as exists:
        cms().body(configmap("dup")).do()
    assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")
    assert exists.value.status["details"]["name"] == "dup"

    stale = core.get().namespace(namespace).resource("configmaps").name("dup").do()
    core.put().namespace(namespace).resource("configmaps").name("dup").body({**stale, "data": {"new": "1"}}).do()
    with pytest.raises(Conflict):
        core.put().namespace(namespace).resource("configmaps").name("dup").body(stale).do()

    with pytest.raises(Invalid) as invalid:
        cms().body(configmap("Not_A_Valid_Name")).do()
    assert invalid.value.code == 422

    cert = control_plane.issue_client_certificate("nobody")
    nobody = dataclasses.replace(
        config, token=None, client_cert_data=cert.cert_file.read_bytes(), client_key_data=cert.key_file.read_bytes()
    )
    with pytest.raises(Forbidden) as forbidden:
        RESTClient(nobody).get().resource("secrets").do()
    assert forbidden.value.code == 403

    with pytest.raises(Unauthorized):
        RESTClient(dataclasses.replace(config, token="wrong")).get().resource("namespaces").do()


def test_an_expired_continue_token_raises_gone(etcd_backed_plane: ControlPlane) -> None:
    plane, core = etcd_backed_plane, RESTClient(admin_config(etcd_backed_plane))
    for i in range(3):
        core.post().namespace("default").resource("configmaps").body(configmap(f"page{i}")).do()
    token = core.get().namespace("default").resource("configmaps").param("limit", 1).do()["metadata"]["continue"]
    core.post().namespace("default").resource("configmaps").body(configmap("later")).do()
    compact_etcd(plane)
    with pytest.raises(Gone) as gone:
        core.get().namespace("default").resource("configmaps").params(limit=1, **{"continue": token}).do()
    assert (gone.value.code, gone.value.reason) == (410, "Expired")


def test_a_watch_from_a_compacted_resource_version_raises_gone(etcd_backed_plane: ControlPlane) -> None:
    plane, core = etcd_backed_plane, RESTClient(admin_config(etcd_backed_plane))
    old = (
        core.post()
        .namespace("default")
        .resource("configmaps")
        .body(configmap("old"))
        .do()["metadata"]["resourceVersion"]
    )
    # Two later writes: a watch from `old` starts at old+1, which must be compacted away too.
    core.post().namespace("default").resource("configmaps").body(configmap("newer")).do()
    core.post().namespace("default").resource("configmaps").body(configmap("newest")).do()
    compact_etcd(plane)
    with pytest.raises(Gone) as gone:
        for _ in core.get().namespace("default").resource("configmaps").watch(old, timeout_seconds=5):
            pass
    assert gone.value.code == 410


@pytest.mark.parametrize("protobuf", [True, False], ids=["protobuf", "json"])
def test_watch_sees_added_modified_deleted_in_order(config: Config, namespace: str, protobuf: bool) -> None:
    client = RESTClient(config, protobuf=protobuf)
    start = client.get().namespace(namespace).resource("configmaps").do()["metadata"]["resourceVersion"]
    client.post().namespace(namespace).resource("configmaps").body(configmap("w", a="1")).do()
    client.patch("merge").namespace(namespace).resource("configmaps").name("w").body({"data": {"a": "2"}}).do()
    client.delete().namespace(namespace).resource("configmaps").name("w").do()
    events = []
    for event_type, obj in client.get().namespace(namespace).resource("configmaps").watch(start, timeout_seconds=5):
        if event_type != "BOOKMARK":
            events.append((event_type, obj["metadata"]["name"], obj.get("data")))
        if len(events) == 3:
            break
    assert events == [("ADDED", "w", {"a": "1"}), ("MODIFIED", "w", {"a": "2"}), ("DELETED", "w", {"a": "2"})]


@pytest.mark.parametrize("http2", [True, False], ids=["http2", "http1"])
def test_one_watch_request_carries_events_that_arrive_apart_without_breaking(
    config: Config, namespace: str, http2: bool
) -> None:
    # kube-apiserver flushes a watch after each batch of events; compressed, each flush was a
    # gzip member of its own, and the stream broke after the first one.
    client = RESTClient(dataclasses.replace(config, http2=http2))
    request = client.get().namespace(namespace).resource("configmaps")
    start = request.do()["metadata"]["resourceVersion"]
    names: list[str] = []

    def create_apart() -> None:
        for i in range(3):
            threading.Event().wait(0.5)
            client.post().namespace(namespace).resource("configmaps").body(configmap(f"apart-{i}")).do()

    writer = threading.Thread(target=create_apart)
    writer.start()
    try:
        watch = client.get().namespace(namespace).resource("configmaps").watch(start, timeout_seconds=10)
        for event_type, obj in watch:
            if event_type != "BOOKMARK":
                names.append(obj["metadata"]["name"])
            if len(names) == 3:
                watch.close()
    finally:
        writer.join()
    assert names == ["apart-0", "apart-1", "apart-2"]


def test_async_client_runs_requests_concurrently_and_watches(config: Config, namespace: str) -> None:
    async def scenario() -> list[str]:
        client = AsyncRESTClient(config)
        start = (await client.get().namespace(namespace).resource("configmaps").do())["metadata"]["resourceVersion"]
        await asyncio.gather(
            *[
                client.post().namespace(namespace).resource("configmaps").body(configmap(f"c{i}")).do()
                for i in range(20)
            ]
        )
        names = []
        async for _event_type, obj in (
            await client.get().namespace(namespace).resource("configmaps").watch(start, timeout_seconds=5)
        ):
            names.append(obj["metadata"]["name"])
            if len(names) == 20:
                break
        return names

    assert sorted(asyncio.run(scenario())) == sorted(f"c{i}" for i in range(20))


def test_closing_a_stream_from_another_thread_ends_a_blocked_read(core: RESTClient, namespace: str) -> None:
    stream = core.get().namespace(namespace).resource("configmaps").param("watch", True).stream()
    threading.Timer(0.5, stream.close).start()
    assert list(stream.chunks()) == []  # no events: the read blocks until the close ends it


# -- TLS ---------------------------------------------------------------------------------------


def test_tls_server_name_is_what_the_certificate_is_checked_against(config: Config) -> None:
    as_localhost = dataclasses.replace(config, tls_server_name="localhost")
    assert RESTClient(as_localhost).get().abs_path("/version").do()["gitVersion"]
    wrong = dataclasses.replace(config, tls_server_name="not-the-server.example")
    with pytest.raises(TransportError, match="certificate"):
        RESTClient(wrong).get().abs_path("/version").do()


def test_without_the_cluster_ca_the_server_is_not_trusted_unless_told_to_skip_verification(config: Config) -> None:
    untrusted = dataclasses.replace(config, ca_data=None)
    with pytest.raises(TransportError, match="certificate"):
        RESTClient(untrusted).get().abs_path("/version").do()
    insecure = dataclasses.replace(config, ca_data=None, insecure_skip_tls_verify=True)
    assert RESTClient(insecure).get().abs_path("/version").do()["gitVersion"]


@pytest.mark.parametrize(("http2", "version"), [(True, "HTTP/2.0"), (False, "HTTP/1.1")])
def test_requests_go_over_http2_unless_the_config_turns_it_off(config: Config, http2: bool, version: str) -> None:
    chosen = dataclasses.replace(config, http2=http2)
    watch = "/api/v1/namespaces?watch=1&timeoutSeconds=1"
    transport = Transport(chosen)
    assert transport.request("GET", "/version").http_version == version
    with transport.stream("GET", watch) as stream:
        assert stream.http_version == version

    async def over_asyncio() -> None:
        transport = AsyncTransport(chosen)
        assert (await transport.request("GET", "/version")).http_version == version
        async with await transport.stream("GET", watch) as stream:
            assert stream.http_version == version

    asyncio.run(over_asyncio())


def test_a_refused_connection_is_a_transport_error_naming_the_request(config: Config) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RESTClient(dataclasses.replace(config, server=f"https://127.0.0.1:{port}"))
    with pytest.raises(TransportError, match=f"GET https://127.0.0.1:{port}/version"):
        client.get().abs_path("/version").do()


# -- faults between us and the server -------------------------------------------------------------


@pytest.fixture
def through_proxy(config: Config, proxy: FaultProxy) -> RESTClient:
    return RESTClient(dataclasses.replace(config, server=proxy.url))


@pytest.mark.parametrize("fault", ["429", "503"])
def test_throttling_and_unavailability_with_retry_after_are_retried(
    through_proxy: RESTClient, proxy: FaultProxy, fault: str
) -> None:
    proxy.faults.extend([fault, fault])
    assert through_proxy.get().abs_path("/version").do()["gitVersion"]
    assert len(proxy.seen) == 3  # two injected failures, then the real answer


def test_a_5xx_without_retry_after_is_not_retried(through_proxy: RESTClient, proxy: FaultProxy) -> None:
    proxy.faults.append("503-no-retry-after")
    with pytest.raises(ApiError) as error:
        through_proxy.get().abs_path("/version").do()
    assert (error.value.code, error.value.reason) == (503, "ServiceUnavailable")
    assert len(proxy.seen) == 1


def test_a_dropped_connection_is_retried_for_a_read(through_proxy: RESTClient, proxy: FaultProxy) -> None:
    proxy.faults.append("drop")
    assert through_proxy.get().abs_path("/version").do()["gitVersion"]
    assert len(proxy.seen) == 2


def test_a_dropped_connection_is_not_retried_for_a_write(
    through_proxy: RESTClient, proxy: FaultProxy, namespace: str
) -> None:
    proxy.faults.append("drop")
    with pytest.raises(TransportError):
        through_proxy.post().namespace(namespace).resource("configmaps").body(configmap("once")).do()
    assert len(proxy.seen) == 1


def test_warning_headers_reach_the_handler(config: Config, proxy: FaultProxy) -> None:
    warnings: list[str] = []
    client = RESTClient(dataclasses.replace(config, server=proxy.url), warning_handler=warnings.append)
    proxy.faults.extend(['warn:v1 Thing is deprecated; use v2 "Thing"', None])
    client.get().abs_path("/version").do()
    client.get().abs_path("/version").do()
    assert warnings == ['v1 Thing is deprecated; use v2 "Thing"']


def test_the_default_warning_handler_logs_each_warning_once(
    config: Config, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    client = RESTClient(dataclasses.replace(config, server=proxy.url))
    proxy.faults.extend(["warn:logged once", "warn:logged once"])
    with caplog.at_level("WARNING", logger="kcore.transport"):
        client.get().abs_path("/version").do()
        client.get().abs_path("/version").do()
    assert [r.getMessage() for r in caplog.records] == ["logged once"]


def test_json_bodies_round_trip_unicode_and_large_integers(core: RESTClient, namespace: str) -> None:
    data = {"emoji": "kcore 🚀", "accents": "Zürich, São Paulo", "big": json.dumps(2**62)}
    created = core.post().namespace(namespace).resource("configmaps").body(configmap("u", **data)).do()
    assert created["data"] == data


def test_an_answer_arriving_after_its_event_loop_closed_is_dropped_quietly(control_plane: ControlPlane) -> None:
    """asyncio.run() ending while a request is on its way: the answer has no loop to go to any
    more, and that is no error worth a traceback."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import asyncio, time
        from kcore import load_kubeconfig
        from kcore.clients import AsyncTransport
        config = load_kubeconfig({str(control_plane.kubeconfig)!r})

        async def main():
            transport = AsyncTransport(config)
            # Answered in one second; the loop closes long before.
            asyncio.ensure_future(transport.request("GET", "/api/v1/namespaces?watch=1&timeoutSeconds=1"))
            await asyncio.sleep(0.2)

        asyncio.run(main())
        time.sleep(2)  # the answer arrives meanwhile
        print("done")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "done", done.stderr
    assert "Event loop is closed" not in done.stderr and "Traceback" not in done.stderr, done.stderr
