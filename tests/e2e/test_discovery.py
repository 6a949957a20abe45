"""Discovery against the real API server: aggregated and legacy, memory and disk caches."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from kcore import Config
from kcore.clients import RESTClient, Transport
from kcore.clients.discovery import AsyncDiscovery, Discovery
from kcore.clients.discovery_cache import server_cache_name
from kcore.clients.discovery_types import APIResource, APISubresource, ServerAPIs
from kcore.errors import NoMatchError
from tests.e2e.crds import widgets_crd


class CountingTransport(Transport):
    """The real transport, noting the path of every request it sends."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.paths: list[str] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.paths.append(path)
        return super().request(method, path, **kwargs)


def counted(config: Config, **kwargs: Any) -> tuple[Discovery, CountingTransport]:
    transport = CountingTransport(config)
    return Discovery(RESTClient(config, transport=transport), **kwargs), transport


def resource(apis: ServerAPIs, gv: str, name: str) -> APIResource:
    return next(r for r in apis.resources[gv] if r.name == name)


def test_core_and_apps_resources_come_with_scope_verbs_short_names_and_subresources(config: Config) -> None:
    apis = Discovery(config).server_apis()
    assert apis.groups[0].name == "" and apis.groups[0].preferred_version == "v1"  # the core group first
    assert apis.group("apps").versions == ("v1",)
    pods = resource(apis, "v1", "pods")
    assert (pods.singular_name, pods.kind, pods.namespaced, pods.group, pods.version) == ("pod", "Pod", True, "", "v1")
    assert set(pods.verbs) == {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
    assert pods.short_names == ("po",) and "all" in pods.categories
    assert pods.subresource("status") == APISubresource("status", "Pod", "", "v1", ("get", "patch", "update"))
    assert pods.subresource("log") == APISubresource("log", "Pod", "", "v1", ("get",))
    assert pods.subresource("eviction") == APISubresource("eviction", "Eviction", "policy", "v1", ("create",))
    assert resource(apis, "v1", "namespaces").namespaced is False
    deployments = resource(apis, "apps/v1", "deployments")
    assert (deployments.kind, deployments.namespaced, deployments.short_names) == ("Deployment", True, ("deploy",))
    assert deployments.subresource("scale") == APISubresource(
        "scale", "Scale", "autoscaling", "v1", ("get", "patch", "update")
    )
    assert deployments.subresource("status") == APISubresource(
        "status", "Deployment", "apps", "v1", ("get", "patch", "update")
    )
    assert not any(
        "/" in r.name for rs in apis.resources.values() for r in rs
    )  # subresources only hang off their resource
    assert apis.failed == {}


def settled(discover: Callable[[], tuple[ServerAPIs, ...]]) -> tuple[ServerAPIs, ...]:
    """Results of discoveries made one after the other, once they agree and none failed: a CRD
    that another test created or deleted moments ago may still be entering or leaving the
    server's discovery (listed under /apis while its version answers 404, which is not cached)."""
    deadline = time.monotonic() + 15
    while True:
        results = discover()
        if all(r == results[0] and not r.failed for r in results) or time.monotonic() > deadline:
            return results
        time.sleep(0.2)


def test_aggregated_discovery_takes_two_requests_and_legacy_one_per_group_version_for_the_same_result(
    config: Config,
) -> None:
    transports: list[CountingTransport] = []

    def discover() -> tuple[ServerAPIs, ...]:
        (aggregated, aggregated_requests), (legacy, legacy_requests) = counted(config), counted(config, legacy=True)
        transports[:] = [aggregated_requests, legacy_requests]
        return aggregated.server_apis(), legacy.server_apis()

    from_aggregated, from_legacy = settled(discover)
    assert from_aggregated == from_legacy
    aggregated_requests, legacy_requests = transports
    assert aggregated_requests.paths == ["/api", "/apis"]
    assert legacy_requests.paths[:2] == ["/api", "/apis"]
    assert sorted(legacy_requests.paths[2:]) == sorted(
        f"/api/{gv}" if "/" not in gv else f"/apis/{gv}" for gv in from_legacy.resources
    )


def test_the_async_twin_discovers_what_the_blocking_one_does(config: Config) -> None:
    async def both() -> tuple[ServerAPIs, ServerAPIs]:
        return await AsyncDiscovery(config).server_apis(), await AsyncDiscovery(config, legacy=True).server_apis()

    from_aggregated, from_legacy, blocking = settled(lambda: (*asyncio.run(both()), Discovery(config).server_apis()))
    assert from_aggregated == from_legacy == blocking


def test_repeated_calls_are_answered_from_memory_until_the_ttl_runs_out(config: Config) -> None:
    discovery, transport = counted(config)
    first = discovery.server_apis()
    assert discovery.server_resources("apps/v1") == first.resources["apps/v1"]
    assert discovery.server_groups() == first.groups
    assert transport.paths == ["/api", "/apis"]
    expiring, expiring_transport = counted(config, ttl=0)
    expiring.server_apis()
    time.sleep(0.01)
    expiring.server_apis()
    assert expiring_transport.paths == ["/api", "/apis"] * 2


def test_a_new_crd_appears_after_invalidate_and_not_before(config: Config) -> None:
    discovery = Discovery(config)
    before = discovery.server_apis()
    with widgets_crd(config) as widgets:
        assert discovery.server_apis() is before  # the memory cache still answers
        assert before.group(widgets.group) is None
        deadline = time.monotonic() + 30
        while True:  # the server's aggregated document follows a new CRD within moments
            discovery.invalidate()
            after = discovery.server_apis()
            if f"{widgets.group}/v1" in after.resources:
                break
            assert time.monotonic() < deadline, "the CRD never appeared in discovery"
            time.sleep(0.2)
        assert after.group(widgets.group).preferred_version == "v1"
        assert set(after.group(widgets.group).versions) == {"v1", "v1beta1"}
        found = resource(after, f"{widgets.group}/v1", "widgets")
        assert (found.kind, found.singular_name, found.namespaced, found.short_names, found.categories) == (
            "Widget",
            "widget",
            True,
            ("wdg",),
            ("kcore-test",),
        )
        assert found.subresource("status") is not None


def test_disk_cache_files_have_kubectls_layout_format_and_modes(config: Config, tmp_path: Path) -> None:
    apis = Discovery(config, cache_dir=str(tmp_path)).server_apis()
    server_dir = tmp_path / server_cache_name(config.server)
    assert server_dir.name == config.server.removeprefix("https://").replace(":", "_")
    groups = json.loads((server_dir / "servergroups.json").read_bytes())
    assert groups["kind"] == "APIGroupList" and groups["groups"][0]["name"] == ""
    apps = json.loads((server_dir / "apps" / "v1" / "serverresources.json").read_bytes())
    assert apps["kind"] == "APIResourceList" and apps["groupVersion"] == "apps/v1"
    assert {"deployments", "deployments/scale", "deployments/status"} <= {r["name"] for r in apps["resources"]}
    assert (server_dir / "v1" / "serverresources.json").exists()
    for gv in apis.resources:
        path = server_dir / gv / "serverresources.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o660, path
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750, path.parent
    assert stat.S_IMODE((server_dir / "servergroups.json").stat().st_mode) == 0o660
    assert not list(server_dir.rglob("*.json.*"))  # no temporary file left behind


def test_a_second_client_within_the_ttl_reads_the_disk_cache_without_a_request(config: Config, tmp_path: Path) -> None:
    first = Discovery(config, cache_dir=str(tmp_path)).server_apis()
    second, transport = counted(config, cache_dir=str(tmp_path))
    assert second.server_apis() == first
    assert transport.paths == []


def test_the_legacy_path_also_fills_and_reads_the_disk_cache(config: Config, tmp_path: Path) -> None:
    transports: list[CountingTransport] = []

    def discover() -> tuple[ServerAPIs, ...]:
        cache = tmp_path / f"attempt-{len(transports)}"  # every attempt starts from an empty cache
        first = Discovery(config, cache_dir=str(cache), legacy=True).server_apis()
        second, transport = counted(config, cache_dir=str(cache), legacy=True)
        transports.append(transport)
        return first, second.server_apis()

    first, second = settled(discover)
    assert second == first
    assert transports[-1].paths == []


def test_expired_disk_cache_files_are_fetched_again(config: Config, tmp_path: Path) -> None:
    Discovery(config, cache_dir=str(tmp_path), ttl=60).server_apis()
    server_dir = tmp_path / server_cache_name(config.server)
    an_hour_ago = time.time() - 3600
    for path in server_dir.rglob("*.json"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    discovery, transport = counted(config, cache_dir=str(tmp_path), ttl=60)
    discovery.server_apis()
    assert transport.paths == ["/api", "/apis"]
    assert (server_dir / "servergroups.json").stat().st_mtime > an_hour_ago + 3000  # rewritten


def test_one_missing_group_version_file_means_a_fetch(config: Config, tmp_path: Path) -> None:
    Discovery(config, cache_dir=str(tmp_path)).server_apis()
    (tmp_path / server_cache_name(config.server) / "apps" / "v1" / "serverresources.json").unlink()
    discovery, transport = counted(config, cache_dir=str(tmp_path))
    assert "apps/v1" in discovery.server_apis().resources
    assert transport.paths == ["/api", "/apis"]


def test_invalidate_distrusts_disk_files_written_before_it(config: Config, tmp_path: Path) -> None:
    Discovery(config, cache_dir=str(tmp_path)).server_apis()  # another client wrote the files
    discovery, transport = counted(config, cache_dir=str(tmp_path))
    discovery.server_apis()
    assert transport.paths == []
    discovery.invalidate()
    discovery.server_apis()
    assert transport.paths == ["/api", "/apis"]
    discovery.invalidate()  # the files are ours now, yet invalidate forgets even those
    discovery.server_apis()
    assert transport.paths == ["/api", "/apis"] * 2


def test_an_unknown_group_version_raises_no_match(config: Config) -> None:
    with pytest.raises(NoMatchError, match="no group-version 'nothing.example/v1'"):
        Discovery(config).server_resources("nothing.example/v1")
