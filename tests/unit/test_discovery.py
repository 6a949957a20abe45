"""Discovery's pure parts: reading the server's documents, and the disk cache's rules."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from kcore import Config
from kcore.clients.discovery import Discovery
from kcore.clients.discovery_cache import DiscoveryDiskCache, resources_file, server_cache_name
from kcore.clients.discovery_documents import is_aggregated, read_groups, read_resources, split_aggregated
from kcore.clients.discovery_types import APISubresource


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        "application/json; as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;charset=utf-8",
    ],
)
def test_the_aggregated_content_type_is_recognised_in_any_parameter_order(content_type: str) -> None:
    assert is_aggregated(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=UTF-8",
        None,
        "",
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
        "application/yaml;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    ],
)
def test_other_content_types_are_legacy_discovery(content_type: str) -> None:
    assert not is_aggregated(content_type)


def aggregated_group(name: str, *versions: dict) -> dict:
    return {"metadata": {"name": name}, "versions": list(versions)}


WIDGETS = {
    "resource": "widgets",
    "responseKind": {"group": "", "version": "", "kind": "Widget"},
    "scope": "Namespaced",
    "singularResource": "widget",
    "verbs": ["get", "list"],
    "shortNames": ["wd"],
    "subresources": [
        {
            "subresource": "scale",
            "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            "verbs": ["get"],
        },
        {"subresource": "status", "responseKind": {"group": "", "version": "", "kind": "Widget"}, "verbs": ["get"]},
        {"subresource": "nokind", "verbs": ["get"]},
    ],
}


def test_aggregated_groups_split_into_kubectls_legacy_documents() -> None:
    doc = {
        "items": [
            aggregated_group(
                "example.com",
                {"version": "v2", "resources": [WIDGETS], "freshness": "Current"},
                {"version": "v1", "resources": [{**WIDGETS, "responseKind": None}]},
            )
        ]
    }
    groups, resources, failed = split_aggregated(doc)
    assert groups == [
        {
            "name": "example.com",
            "versions": [
                {"groupVersion": "example.com/v2", "version": "v2"},
                {"groupVersion": "example.com/v1", "version": "v1"},
            ],
            "preferredVersion": {"groupVersion": "example.com/v2", "version": "v2"},
        }
    ]
    assert [r["name"] for r in resources["example.com/v2"]["resources"]] == [
        "widgets",
        "widgets/scale",
        "widgets/status",
    ]
    assert resources["example.com/v1"]["resources"] == []  # a resource without a kind is dropped, as client-go does
    assert failed == {}


def test_a_stale_group_version_is_left_out_of_its_group_and_reported_failed() -> None:
    doc = {
        "items": [
            aggregated_group(
                "metrics.example",
                {"version": "v1", "resources": [WIDGETS], "freshness": "Stale"},
                {"version": "v1beta1", "resources": [WIDGETS]},
            )
        ]
    }
    groups, resources, failed = split_aggregated(doc)
    assert read_groups({"groups": groups})[0].versions == ("v1beta1",)
    assert read_groups({"groups": groups})[0].preferred_version == "v1beta1"
    assert list(resources) == ["metrics.example/v1beta1"]
    assert "stale" in failed["metrics.example/v1"]


def test_subresources_fold_into_their_resource_with_the_kinds_group_and_version() -> None:
    _, resources, _ = split_aggregated(
        {"items": [aggregated_group("example.com", {"version": "v2", "resources": [WIDGETS]})]}
    )
    (widgets,) = read_resources("example.com", "v2", resources["example.com/v2"])
    assert (widgets.name, widgets.kind, widgets.group, widgets.version, widgets.short_names) == (
        "widgets",
        "Widget",
        "example.com",
        "v2",
        ("wd",),
    )
    assert widgets.subresources == (
        APISubresource("scale", "Scale", "autoscaling", "v1", ("get",)),
        APISubresource("status", "Widget", "example.com", "v2", ("get",)),
    )


def test_a_document_that_is_not_an_object_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="APIResourceList of apps/v1 is not a JSON object"):
        read_resources("apps", "v1", ["not", "an", "object"])
    with pytest.raises(ValueError, match="APIGroupDiscoveryList is not a JSON object"):
        split_aggregated("text")


def test_the_cache_directory_is_named_as_kubectl_names_it() -> None:
    assert server_cache_name("https://127.0.0.1:6443") == "127.0.0.1_6443"
    assert server_cache_name("https://api.example.com/prefix") == "api.example.com/prefix"
    assert server_cache_name("http://[::1]:8080") == "___1__8080"


def test_a_group_version_that_is_no_safe_path_is_not_cached() -> None:
    assert resources_file("apps/v1") == os.path.join("apps", "v1", "serverresources.json")
    assert resources_file("../../etc/v1") is None
    assert resources_file("v1") == os.path.join("v1", "serverresources.json")


def test_disk_cache_writes_0660_files_in_0750_directories_and_reads_them_back(tmp_path: Path) -> None:
    cache = DiscoveryDiskCache(str(tmp_path), "https://h:1", ttl=60)
    cache.write("apps/v1/serverresources.json", {"kind": "APIResourceList"})
    path = tmp_path / "h_1" / "apps" / "v1" / "serverresources.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert DiscoveryDiskCache(str(tmp_path), "https://h:1", ttl=60).read("apps/v1/serverresources.json") == {
        "kind": "APIResourceList"
    }


def test_disk_cache_treats_old_or_broken_files_as_misses(tmp_path: Path) -> None:
    cache = DiscoveryDiskCache(str(tmp_path), "https://h:1", ttl=60)
    cache.write("old.json", {"a": 1})
    old = time.time() - 61
    os.utime(tmp_path / "h_1" / "old.json", (old, old))
    assert cache.read("old.json") is None
    (tmp_path / "h_1" / "broken.json").write_text("{not json")
    (tmp_path / "h_1" / "list.json").write_text(json.dumps([1]))
    assert cache.read("broken.json") is None and cache.read("list.json") is None and cache.read("missing.json") is None


def test_after_invalidate_the_disk_cache_trusts_only_files_it_wrote_since(tmp_path: Path) -> None:
    other = DiscoveryDiskCache(str(tmp_path), "https://h:1", ttl=60)
    other.write("a.json", {"by": "other"})
    cache = DiscoveryDiskCache(str(tmp_path), "https://h:1", ttl=60)
    assert cache.read("a.json") == {"by": "other"}
    cache.invalidate()
    assert cache.read("a.json") is None
    cache.write("a.json", {"by": "us"})
    assert cache.read("a.json") == {"by": "us"}


def test_a_failed_cache_write_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "h_1").write_text("a file where the directory should be")
    DiscoveryDiskCache(str(tmp_path), "https://h:1", ttl=60).write("servergroups.json", {})


def test_discovery_needs_a_config_or_rest_client_and_a_non_negative_ttl() -> None:
    with pytest.raises(TypeError, match="expected a kcore.Config or a RESTClient; got str"):
        Discovery("https://127.0.0.1:6443")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl must be >= 0"):
        Discovery(Config(server="https://127.0.0.1:6443"), ttl=-1)
