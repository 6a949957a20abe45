"""A LIST's items are decoded while its body arrives (``Request.do()`` of a GET on a collection,
under ResourceClient.list and the watch drivers' ListPage): on the real API server's bodies, of
many kinds, in both formats, the result is exactly what decoding the whole body gives; and the
transport behaves as for any request (retries before the body, 401 refresh, Warning headers,
ApiError from a Status)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from kcore import Config, load_kubeconfig
from kcore._core import ListDecoder, WatchDecoder, strip_managed_fields
from kcore.clients.resource import AsyncResourceClient, ResourceClient, ResourceInfo, ResourceRequests
from kcore.clients.rest import AsyncRESTClient, RESTClient
from kcore.clients.watch import AsyncWatchDriver, ListPage, WatchDriver
from kcore.codec import JSON, PROTOBUF, decode, decode_compact
from kcore.errors import ApiError, NotFound, TransportError
from kcore.testenv import ControlPlane
from tests.clusters import configmap
from tests.e2e import codec_objects
from tests.e2e.test_config_auth import exec_user, plugin, write_kubeconfig
from tests.fault_proxy import FaultProxy
from tests.kube_http import KubeHTTP

CONFIGMAPS = ResourceInfo("", "v1", "configmaps", "ConfigMap", namespaced=True)
PARTIAL = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
PARTIAL_JSON = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
CLUSTER_LISTS = [
    "/api/v1/namespaces",
    "/api/v1/nodes",
    "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "/apis/scheduling.k8s.io/v1/priorityclasses",
]


def plain(value: Any) -> str:
    """The value as plain objects in its key order, whatever it was decoded into."""
    return json.dumps(value.to_dict() if hasattr(value, "to_dict") else value)


@pytest.fixture(scope="module")
def listed(kube: KubeHTTP) -> Iterator[tuple[str, list[str]]]:
    """A namespace holding the codec parity objects (every special type the codec renders) and 40
    more ConfigMaps; yields it and the path of every collection holding them."""
    ns = f"lists-{uuid.uuid4().hex[:8]}"
    kube.ok("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    try:
        collections = []
        for collection, body in codec_objects.namespaced(ns):
            if codec_objects.GROUP in collection:
                continue  # a custom resource: its CRD belongs to the parity tests
            kube.ok("POST", collection, body)
            collections += [collection] if collection not in collections else []
        for i in range(40):
            kube.ok("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap(f"many-{i:02d}", index=str(i) * i))
        yield ns, collections
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{ns}")


def fed(body: bytes, content_type: str, compact: bool, rng: random.Random, strip: bool = False) -> tuple[Any, int]:
    decoder = ListDecoder(content_type, compact, strip)
    cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, rng.choice([1, 5, 50, 500]))))
    for start, end in zip([0, *cuts], [*cuts, len(body)]):
        decoder.feed(body[start:end])
    return decoder.finish(), decoder.streamed


def test_every_list_body_of_the_server_decodes_while_arriving_as_it_decodes_whole(
    kube: KubeHTTP, listed: tuple[str, list[str]]
) -> None:
    _ns, collections = listed
    rng = random.Random(3)
    checked = 0
    for path in collections + CLUSTER_LISTS:
        for accept in (PROTOBUF, JSON, PARTIAL, PARTIAL_JSON):
            resp = kube.request("GET", path, headers={"Accept": f"{accept}, {JSON};q=0.5"})
            assert resp.status == 200, f"{path}: {resp.status} {resp.body[:200]!r}"
            content_type = resp.headers["Content-Type"].split(";")[0]
            items = len(decode(resp.body, content_type)["items"] or [])
            for compact in (False, True):
                want = (decode_compact if compact else decode)(resp.body, content_type)
                got, streamed = fed(resp.body, content_type, compact, rng)
                assert plain(got) == plain(want), f"{path} as {accept}, compact={compact}"
                assert streamed == items, f"{path} as {accept}: decoded whole, not while arriving"
                checked += 1
    assert checked >= 4 * 2 * 25


def stripped_list(listed: Any) -> str:
    """A compact list as the informer's transform leaves its items: without managedFields."""
    items = listed["items"]
    return json.dumps(
        {**listed.to_dict(), "items": None if items is None else [strip_managed_fields(i).to_dict() for i in items]}
    )


def test_objects_decoded_without_managed_fields_equal_what_the_transform_leaves_of_them(
    kube: KubeHTTP, listed: tuple[str, list[str]]
) -> None:
    ns, collections = listed
    rng = random.Random(5)
    checked = 0
    for path in collections + CLUSTER_LISTS:
        for accept in (PROTOBUF, JSON, PARTIAL):
            resp = kube.request("GET", path, headers={"Accept": f"{accept}, {JSON};q=0.5"})
            content_type = resp.headers["Content-Type"].split(";")[0]
            want = stripped_list(decode_compact(resp.body, content_type))
            assert plain(decode_compact(resp.body, content_type, True)) == want, f"{path} as {accept}, whole"
            assert plain(fed(resp.body, content_type, True, rng, strip=True)[0]) == want, (
                f"{path} as {accept}, streamed"
            )
            items = decode(resp.body, content_type)["items"]
            if not items:
                continue  # e.g. nodes: this plane has none
            assert any("managedFields" in i["metadata"] for i in items), f"{path}: nothing to strip"
            one = items[0]["metadata"]["name"]
            item = kube.request("GET", f"{path}/{one}", headers={"Accept": f"{accept}, {JSON};q=0.5"})
            item_type = item.headers["Content-Type"].split(";")[0]
            assert plain(decode_compact(item.body, item_type, True)) == plain(
                strip_managed_fields(decode_compact(item.body, item_type))
            ), f"{path}/{one} as {accept}"
            checked += 1
    assert checked >= 3 * (len(collections) + 1)
    # Watch events: the initial ones of a namespace's ConfigMaps, in both formats.
    for accept in (PROTOBUF, JSON):
        resp = kube.request(
            "GET",
            f"/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion=0&timeoutSeconds=1",
            headers={"Accept": accept},
        )
        events = WatchDecoder(accept, True, True).feed(resp.body)
        full = WatchDecoder(accept, True).feed(resp.body)
        assert len(events) == len(full) >= 40
        assert [(t, plain(o)) for t, o in events] == [(t, plain(strip_managed_fields(o))) for t, o in full], accept


def info(collection: str) -> ResourceInfo:
    """The resource of a namespaced collection path (/api/v1/namespaces/x/pods, /apis/g/v/...)."""
    parts = collection.strip("/").split("/")
    group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
    return ResourceInfo(group, version, parts[-1], "", namespaced=True)


@pytest.mark.parametrize("protobuf", [True, False], ids=["protobuf", "json"])
def test_resource_client_lists_equal_their_whole_bodies_decoded_in_both_twins(
    config: Config, listed: tuple[str, list[str]], protobuf: bool
) -> None:
    ns, collections = listed
    content_type = PROTOBUF if protobuf else JSON
    for collection in collections:
        resource = info(collection)
        rest = RESTClient(config, group=resource.group, version=resource.version, protobuf=protobuf)
        rv = ResourceClient(rest, resource, ns).list(limit=1)["metadata"]["resourceVersion"]
        exact = {"resource_version": rv, "resource_version_match": "Exact"}
        body = ResourceRequests(rest, resource, ns).list(**exact).do_raw()

        async def async_list() -> Any:
            arest = AsyncRESTClient(config, group=resource.group, version=resource.version, protobuf=protobuf)
            return await AsyncResourceClient(arest, resource, ns).list(**exact)

        want = plain(decode(body, content_type))
        assert plain(ResourceClient(rest, resource, ns).list(**exact)) == want, collection
        assert plain(asyncio.run(async_list())) == want, f"{collection} (asyncio)"
        assert plain(ResourceRequests(rest, resource, ns).list(**exact).do(compact=True)) == plain(
            decode_compact(body, content_type)
        ), f"{collection} (compact)"


def without_version(page: Any) -> str:
    page = page.to_dict() if hasattr(page, "to_dict") else dict(page)
    page["metadata"] = {k: v for k, v in page["metadata"].items() if k != "resourceVersion"}
    return json.dumps(page)


@pytest.mark.parametrize("protobuf", [True, False], ids=["protobuf", "json"])
def test_the_watch_drivers_list_pages_equal_their_whole_bodies_decoded(
    config: Config, listed: tuple[str, list[str]], protobuf: bool
) -> None:
    """Pages of 7 with their continue tokens, compact (as the informer asks), in both drivers."""
    ns, _ = listed
    rest, arest = RESTClient(config, protobuf=protobuf), AsyncRESTClient(config, protobuf=protobuf)
    content_type = PROTOBUF if protobuf else JSON
    requests = ResourceRequests(rest, CONFIGMAPS, ns)

    def pages(first: Any) -> Any:
        token, out = None, []
        while True:
            page = yield ListPage(None, limit=7, continue_token=token)
            out.append(page)
            token = page["metadata"].get("continue")
            if not token:
                first.extend(out)
                return

    got: list[Any] = []
    list(WatchDriver(*requests.watch_requests(None, None), compact=True).run(pages(got)))
    assert len(got) == 7  # 41 or more ConfigMaps (the namespace has its root CA's, perhaps)
    async_got: list[Any] = []

    async def run_async() -> None:
        driver = AsyncWatchDriver(*ResourceRequests(arest, CONFIGMAPS, ns).watch_requests(None, None), compact=True)
        async for _ in driver.run(pages(async_got)):
            pass

    asyncio.run(run_async())
    token = None
    for page, async_page in zip(got, async_got):
        body = requests.list(limit=7, continue_token=token).do_raw()
        want = without_version(decode_compact(body, content_type))
        assert without_version(page) == want
        assert without_version(async_page) == want
        assert type(page).__name__ == "CompactObject"
        token = page["metadata"].get("continue")
    assert len(async_got) == len(got)


@pytest.mark.parametrize("protobuf", [True, False], ids=["protobuf", "json"])
@pytest.mark.parametrize("compact", [False, True], ids=["dicts", "compact"])
def test_an_empty_list(config: Config, namespace: str, protobuf: bool, compact: bool) -> None:
    rest = RESTClient(config, protobuf=protobuf)
    request = lambda: rest.get().namespace(namespace).resource("pods")  # noqa: E731
    got = request().do(compact=compact)
    assert got["items"] == [] and got["kind"] == "PodList"
    assert without_version(got) == without_version(
        (decode_compact if compact else decode)(request().do_raw(), PROTOBUF if protobuf else JSON)
    )


def test_a_failed_list_raises_the_api_error_of_its_status(core: RESTClient, namespace: str) -> None:
    with pytest.raises(NotFound) as missing:
        core.get().namespace(namespace).resource("nosuchthings").do()
    assert missing.value.code == 404
    with pytest.raises(ApiError) as invalid:
        core.get().namespace(namespace).resource("pods").param("labelSelector", "a in (").do(compact=True)
    assert (invalid.value.code, invalid.value.reason) == (400, "BadRequest")


# -- the transport's behaviours, for a list decoded while it arrives ----------------------------


@pytest.mark.parametrize("fault", ["429", "503"])
def test_throttled_lists_are_retried_before_their_body(
    config: Config, proxy: FaultProxy, namespace: str, fault: str
) -> None:
    cms: ResourceClient[dict] = ResourceClient(
        RESTClient(dataclasses.replace(config, server=proxy.url)), CONFIGMAPS, namespace
    )
    cms.create(configmap("c", k="v"))
    proxy.faults.extend([fault, fault])
    assert [c["metadata"]["name"] for c in cms.list()["items"] if c["metadata"]["name"] == "c"] == ["c"]
    assert len(proxy.seen) == 4  # the create, two injected failures, then the list over HTTP/1.1


def test_a_lists_warning_reaches_the_handler(config: Config, proxy: FaultProxy, namespace: str) -> None:
    warnings: list[str] = []
    rest = RESTClient(dataclasses.replace(config, server=proxy.url), warning_handler=warnings.append)
    proxy.faults.append("warn:lists are deprecated")
    assert rest.get().namespace(namespace).resource("configmaps").do()["kind"] == "ConfigMapList"
    assert warnings == ["lists are deprecated"]


@pytest.mark.parametrize("compact", [False, True], ids=["dicts", "compact"])
def test_a_list_whose_body_breaks_off_raises_never_returns_a_short_list(
    config: Config, proxy: FaultProxy, namespace: str, compact: bool
) -> None:
    rest = RESTClient(dataclasses.replace(config, server=proxy.url))
    proxy.faults.append("corrupt")  # the real head, then bytes of no list, then the connection closed
    with pytest.raises((TransportError, ValueError)):
        rest.get().namespace(namespace).resource("configmaps").do(compact=compact)


def test_a_401_refreshes_the_credentials_and_lists_again(
    control_plane: ControlPlane, tmp_path: Path, namespace: str
) -> None:
    plugin(tmp_path / "get-token", ["a-wrong-token", control_plane.token])
    config = load_kubeconfig(
        write_kubeconfig(tmp_path / "kubeconfig", control_plane, exec_user(str(tmp_path / "get-token")))
    )
    for compact in (False, True):
        assert (
            RESTClient(config).get().namespace(namespace).resource("configmaps").do(compact=compact)["kind"]
            == "ConfigMapList"
        )
    assert (tmp_path / "get-token.runs").read_text() == "xx"  # the first token, refused; then the second
