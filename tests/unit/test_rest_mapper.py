"""RESTMapper rules on a hand-made discovery: priorities, names, short names, kubectl's forms."""

from __future__ import annotations

from typing import Optional

import pytest

from kcore.clients.discovery_types import APIGroup, APIResource, APISubresource, ServerAPIs
from kcore.clients.resource import ResourceInfo
from kcore.clients.rest_mapper import RESTMapper
from kcore.errors import NoMatchError


def res(
    group: str,
    version: str,
    name: str,
    kind: str,
    *,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    singular: Optional[str] = None,
    subresources: tuple[APISubresource, ...] = (),
) -> APIResource:
    return APIResource(
        name=name,
        singular_name=kind.lower() if singular is None else singular,
        namespaced=namespaced,
        kind=kind,
        group=group,
        version=version,
        verbs=("get", "list"),
        short_names=short,
        subresources=subresources,
    )


SCALE = APISubresource("scale", "Scale", "autoscaling", "v1", ("get",))

APIS = ServerAPIs(
    groups=(
        APIGroup("", ("v1",), "v1"),
        APIGroup("apps", ("v1",), "v1"),
        APIGroup("events.k8s.io", ("v1",), "v1"),
        # listed v2 first, yet v1 is the preferred version
        APIGroup("example.com", ("v2", "v1", "v1beta1"), "v1"),
        APIGroup("other.example.com", ("v1",), "v1"),
    ),
    resources={
        "v1": (
            res("", "v1", "pods", "Pod", short=("po",)),
            res("", "v1", "events", "Event", short=("ev",)),
            res("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",)),
            res("", "v1", "endpoints", "Endpoints", singular="endpoints", short=("ep",)),
        ),
        "apps/v1": (res("apps", "v1", "deployments", "Deployment", short=("deploy",), subresources=(SCALE,)),),
        "events.k8s.io/v1": (res("events.k8s.io", "v1", "events", "Event", short=("ev",)),),
        "example.com/v2": (res("example.com", "v2", "widgets", "Widget", short=("wd",)),),
        "example.com/v1": (
            res("example.com", "v1", "widgets", "Widget", short=("wd",)),
            res("example.com", "v1", "things", "Thing", singular=""),
        ),
        "example.com/v1beta1": (res("example.com", "v1beta1", "gadgets", "Gadget", short=("gd",)),),
        "other.example.com/v1": (
            res("other.example.com", "v1", "widgets", "Widget", short=("wd",)),
            res("other.example.com", "v1", "gadgets", "Gadget"),
        ),
    },
    failed={"metrics.example/v1": "stale"},
)


@pytest.fixture(scope="module")
def mapper() -> RESTMapper:
    return RESTMapper(APIS)


def info(group: str, version: str, resource: str, kind: str, namespaced: bool = True) -> ResourceInfo:
    return ResourceInfo(group, version, resource, kind, namespaced)


def test_a_kind_maps_to_its_groups_preferred_version_not_the_first_listed(mapper: RESTMapper) -> None:
    assert mapper.resource_for("example.com", "Widget") == info("example.com", "v1", "widgets", "Widget")


def test_a_version_asked_for_is_the_version_given(mapper: RESTMapper) -> None:
    assert mapper.resource_for("example.com", "Widget", "v2") == info("example.com", "v2", "widgets", "Widget")
    assert mapper.kind_for("example.com", "widgets", "v2") == info("example.com", "v2", "widgets", "Widget")


def test_a_kind_matches_as_written_or_all_lower_case_only(mapper: RESTMapper) -> None:
    assert mapper.resource_for("apps", "deployment").resource == "deployments"
    with pytest.raises(NoMatchError, match="no kind 'DEPLOYMENT' in group 'apps'"):
        mapper.resource_for("apps", "DEPLOYMENT")


def test_the_empty_group_is_the_core_group_for_kinds(mapper: RESTMapper) -> None:
    assert mapper.resource_for("", "Namespace") == info("", "v1", "namespaces", "Namespace", namespaced=False)
    with pytest.raises(NoMatchError, match="no kind 'Deployment' in group ''"):
        mapper.resource_for("", "Deployment")


def test_a_resource_in_any_group_prefers_core_v1(mapper: RESTMapper) -> None:
    assert mapper.kind_for(None, "events") == info("", "v1", "events", "Event")
    assert mapper.kind_for("events.k8s.io", "events") == info("events.k8s.io", "v1", "events", "Event")


def test_priority_is_client_gos_an_earlier_group_wins_even_in_a_version_that_is_not_preferred(
    mapper: RESTMapper,
) -> None:
    # client-go ranks group by group: example.com's v1beta1 comes before other.example.com's v1.
    assert mapper.kind_for(None, "gadgets") == info("example.com", "v1beta1", "gadgets", "Gadget")
    assert mapper.kind_for(None, "widgets") == info("example.com", "v1", "widgets", "Widget")


def test_singular_names_and_any_case_find_the_resource(mapper: RESTMapper) -> None:
    assert mapper.kind_for(None, "pod").resource == "pods"
    assert mapper.kind_for(None, "PODS").resource == "pods"
    assert mapper.kind_for(None, "thing").resource == "things"  # guessed from the kind when discovery has none
    assert mapper.kind_for(None, "endpoints").kind == "Endpoints"


def test_short_names_expand_to_the_first_resource_by_priority(mapper: RESTMapper) -> None:
    assert mapper.kind_for(None, "po") == info("", "v1", "pods", "Pod")
    assert mapper.kind_for(None, "deploy") == info("apps", "v1", "deployments", "Deployment")
    assert mapper.kind_for(None, "wd") == info("example.com", "v1", "widgets", "Widget")
    assert mapper.kind_for("other.example.com", "wd") == info("other.example.com", "v1", "widgets", "Widget")
    assert mapper.kind_for(None, "ev") == info("", "v1", "events", "Event")


def test_a_group_given_in_part_matches_the_groups_it_begins(mapper: RESTMapper) -> None:
    assert mapper.kind_for("exam", "widgets") == info("example.com", "v1", "widgets", "Widget")
    assert mapper.kind_for("other", "wd").group == "other.example.com"


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("pods", info("", "v1", "pods", "Pod")),
        ("po", info("", "v1", "pods", "Pod")),
        ("pod", info("", "v1", "pods", "Pod")),
        ("Pod", info("", "v1", "pods", "Pod")),
        ("deploy", info("apps", "v1", "deployments", "Deployment")),
        ("deployments.apps", info("apps", "v1", "deployments", "Deployment")),
        ("deploy.apps", info("apps", "v1", "deployments", "Deployment")),
        ("deployment.v1.apps", info("apps", "v1", "deployments", "Deployment")),
        ("Deployment.apps", info("apps", "v1", "deployments", "Deployment")),
        ("Deployment.v1.apps", info("apps", "v1", "deployments", "Deployment")),
        ("widgets.example.com", info("example.com", "v1", "widgets", "Widget")),
        ("widgets.v2.example.com", info("example.com", "v2", "widgets", "Widget")),
        ("Widget.v2.example.com", info("example.com", "v2", "widgets", "Widget")),
        ("widgets.other.example.com", info("other.example.com", "v1", "widgets", "Widget")),
        ("ns", info("", "v1", "namespaces", "Namespace", namespaced=False)),
    ],
)
def test_resolve_reads_arguments_as_kubectl_does(mapper: RESTMapper, arg: str, expected: ResourceInfo) -> None:
    assert mapper.resolve(arg) == expected


def test_subresources_never_match(mapper: RESTMapper) -> None:
    with pytest.raises(NoMatchError):
        mapper.kind_for("apps", "deployments/scale")
    with pytest.raises(NoMatchError):
        mapper.resource_for("autoscaling", "Scale")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.resolve("nothing"), "the server doesn't have a resource type 'nothing'"),
        (lambda m: m.resolve("deploy.v9.apps"), "the server doesn't have a resource type 'deploy'"),
        (lambda m: m.kind_for(None, "nothing"), "the server has no resource 'nothing'$"),
        (lambda m: m.kind_for("apps", "pods"), "the server has no resource 'pods' in group 'apps'"),
        (lambda m: m.kind_for(None, "pods", "v2"), "the server has no resource 'pods' in version 'v2'"),
        (
            lambda m: m.resource_for("example.com", "Widget", "v3"),
            "the server has no kind 'Widget' in 'example.com/v3'",
        ),
        (
            lambda m: m.resource_for("metrics.example", "Metric"),
            "the server has no kind 'Metric' in group 'metrics.example'",
        ),
    ],
)
def test_what_nothing_matches_raises_no_match_naming_it(mapper: RESTMapper, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NoMatchError, match=message):
        call(mapper)


@pytest.mark.parametrize("arg", ["", " pods", "...", "."])
def test_an_argument_that_names_nothing_is_a_value_error(mapper: RESTMapper, arg: str) -> None:
    with pytest.raises(ValueError, match="not a resource or kind"):
        mapper.resolve(arg)


def test_empty_names_are_value_errors(mapper: RESTMapper) -> None:
    with pytest.raises(ValueError, match="a resource name is required"):
        mapper.kind_for(None, "")
    with pytest.raises(ValueError, match="a kind is required"):
        mapper.resource_for("apps", "")
