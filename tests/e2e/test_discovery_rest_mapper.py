"""RESTMapper on the real server's discovery, built-in resources and a CRD of the test's own."""

from __future__ import annotations

import dataclasses
import time

import pytest

from kcore import Config
from kcore.clients.discovery import Discovery
from kcore.clients.resource import ResourceInfo
from kcore.clients.rest_mapper import RESTMapper
from kcore.errors import NoMatchError
from tests.e2e.crds import widgets_crd


@pytest.fixture(scope="module")
def mapper(config: Config) -> RESTMapper:
    return RESTMapper(Discovery(config).server_apis())


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("po", ResourceInfo("", "v1", "pods", "Pod", True)),
        ("deploy", ResourceInfo("apps", "v1", "deployments", "Deployment", True)),
        ("deployments.apps", ResourceInfo("apps", "v1", "deployments", "Deployment", True)),
        ("deployment.v1.apps", ResourceInfo("apps", "v1", "deployments", "Deployment", True)),
        ("ns", ResourceInfo("", "v1", "namespaces", "Namespace", False)),
        (
            "crd",
            ResourceInfo("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False),
        ),
        ("events", ResourceInfo("", "v1", "events", "Event", True)),  # core v1 before events.k8s.io
        ("hpa", ResourceInfo("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True)),
        (
            "horizontalpodautoscaler.v1.autoscaling",
            ResourceInfo("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
        ),
    ],
)
def test_kubectl_style_names_resolve_on_the_real_server(mapper: RESTMapper, arg: str, expected: ResourceInfo) -> None:
    assert mapper.resolve(arg) == expected


def test_every_discovered_resource_maps_to_its_kind_and_back(config: Config, mapper: RESTMapper) -> None:
    apis = Discovery(config).server_apis()
    for resources in apis.resources.values():
        for r in resources:
            found = mapper.kind_for(r.group, r.name, r.version)
            assert (found.resource, found.kind, found.namespaced) == (r.name, r.kind, r.namespaced)
            assert mapper.resource_for(r.group, r.kind, r.version).kind == r.kind


def test_a_kind_in_several_versions_maps_to_the_servers_preferred_one(config: Config, mapper: RESTMapper) -> None:
    preferred = Discovery(config).server_apis().group("autoscaling").preferred_version
    assert mapper.resource_for("autoscaling", "HorizontalPodAutoscaler").version == preferred == "v2"


def test_a_crd_maps_once_a_fresh_discovery_sees_it(config: Config, mapper: RESTMapper) -> None:
    with widgets_crd(config) as widgets:
        with pytest.raises(NoMatchError, match=f"no kind 'Widget' in group '{widgets.group}'"):
            mapper.resource_for(widgets.group, "Widget")  # built before the CRD existed
        discovery = Discovery(config, ttl=0)
        deadline = time.monotonic() + 30
        while f"{widgets.group}/v1" not in discovery.server_apis().resources:
            assert time.monotonic() < deadline, "the CRD never appeared in discovery"
            time.sleep(0.2)
        fresh = RESTMapper(discovery.server_apis())
        expected = ResourceInfo(widgets.group, "v1", "widgets", "Widget", True)
        assert fresh.resource_for(widgets.group, "Widget") == expected
        assert fresh.resolve(f"wdg.{widgets.group}") == expected
        assert fresh.resolve(f"widget.v1beta1.{widgets.group}") == dataclasses.replace(expected, version="v1beta1")
