"""The typed Clientset (and kcore.aio's twin) against the real API server: CRUD through the
generated accessors, every generated resource reachable at its path with its scope, and the
checked-in generated code equal to what the generator makes from this server. The last two
(and the names of the served group-versions) ask a server with every alpha and beta API on."""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import pytest

import kcore
from kcore import Config, aio
from kcore.clients import Discovery, RESTClient, builtin_apis
from kcore.clients.group_version import GroupVersion
from kcore.clients.types import apps_v1
from kcore.errors import ApiError, NotFound
from kcore.testenv import ControlPlane
from tests.clusters import admin_config
from tools.clientset_gen.generate import checked_in, generate

GROUP_VERSIONS = [
    c
    for c in vars(builtin_apis).values()
    if isinstance(c, type) and issubclass(c, GroupVersion) and c is not GroupVersion
]
RESOURCES = [(gv, accessor) for gv in GROUP_VERSIONS for accessor in gv.resources()]


@pytest.fixture(scope="module")
def cs(config: Config) -> Iterator[kcore.Clientset]:
    yield kcore.Clientset(config)


@pytest.fixture(scope="module")
def all_apis_config(all_apis_plane: ControlPlane) -> Config:
    return admin_config(all_apis_plane)


@pytest.fixture(scope="module")
def all_apis_cs(all_apis_config: Config) -> kcore.Clientset:
    return kcore.Clientset(all_apis_config)


def deployment(name: str) -> apps_v1.Deployment:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    }


def test_config_maps_crud_through_core_v1(cs: kcore.Clientset, namespace: str) -> None:
    config_maps = cs.core_v1.config_maps(namespace)
    created = config_maps.create({"metadata": {"name": "settings"}, "data": {"mode": "fast"}})
    assert created["metadata"]["namespace"] == namespace
    assert config_maps.get("settings")["data"] == {"mode": "fast"}
    created["data"] = {"mode": "safe"}
    assert config_maps.update(created)["data"] == {"mode": "safe"}
    assert config_maps.patch("settings", {"data": {"extra": "1"}})["data"] == {"mode": "safe", "extra": "1"}
    assert [c["metadata"]["name"] for c in config_maps.list()["items"]] == ["settings"]
    config_maps.delete("settings")
    with pytest.raises(NotFound):
        config_maps.get("settings")


def test_deployments_crud_and_scale_through_apps_v1(cs: kcore.Clientset, namespace: str) -> None:
    deployments = cs.apps_v1.deployments(namespace)
    created = deployments.create(deployment("web"))
    assert created["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert deployments.get_subresource("web", "scale")["spec"]["replicas"] == 1
    deployments.patch("web", {"spec": {"replicas": 3}})
    assert deployments.get("web")["spec"]["replicas"] == 3
    applied = deployments.apply(
        {**deployment("web"), "spec": {**deployment("web")["spec"], "replicas": 2}},
        field_manager="kcore-test",
        force=True,
    )
    assert applied["spec"]["replicas"] == 2
    deployments.delete("web")
    with pytest.raises(NotFound):
        deployments.get("web")


def test_cluster_scoped_priority_classes_take_no_namespace(cs: kcore.Clientset) -> None:
    priority_classes = cs.scheduling_v1.priority_classes()
    priority_classes.create({"metadata": {"name": "kcore-clientset-test"}, "value": 1000})
    try:
        assert priority_classes.get("kcore-clientset-test")["value"] == 1000
        assert "kcore-clientset-test" in [p["metadata"]["name"] for p in priority_classes.list()["items"]]
    finally:
        priority_classes.delete("kcore-clientset-test")
    with pytest.raises(ValueError, match="cluster-scoped"):
        cs.scheduling_v1.priority_classes("default")  # type: ignore[call-arg]


def test_a_namespaced_resource_without_a_namespace_spans_all_namespaces(cs: kcore.Clientset, namespace: str) -> None:
    cs.core_v1.config_maps(namespace).create({"metadata": {"name": "here"}})
    everywhere = [(c["metadata"]["namespace"], c["metadata"]["name"]) for c in cs.core_v1.config_maps().list()["items"]]
    assert (namespace, "here") in everywhere


def test_a_create_only_resource_answers_through_its_accessor(cs: kcore.Clientset) -> None:
    review = cs.authentication_v1.self_subject_reviews().create(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    )  # no metadata: a review has no name
    assert "system:masters" in review["status"]["userInfo"]["groups"]


def test_every_client_of_a_clientset_shares_one_transport_and_asks_for_protobuf(cs: kcore.Clientset) -> None:
    clients = [gv for gv in vars(cs).values() if isinstance(gv, GroupVersion)]
    assert {type(gv) for gv in clients} == set(GROUP_VERSIONS)
    assert all(gv.rest_client.transport is cs.transport and gv.rest_client.protobuf for gv in clients)


def test_every_served_group_version_has_its_client_go_name(
    all_apis_cs: kcore.Clientset, all_apis_config: Config
) -> None:
    apis = Discovery(all_apis_config).server_apis()
    served = {f"{g.name.split('.')[0] if g.name else 'core'}_{v}" for g in apis.groups for v in g.versions}
    assert served == {name for name, gv in vars(all_apis_cs).items() if isinstance(gv, GroupVersion)}
    for name in (
        "core_v1",
        "apps_v1",
        "rbac_v1",
        "autoscaling_v2",
        "coordination_v1",
        "admissionregistration_v1",
        "flowcontrol_v1",
        "apiextensions_v1",
        "apiregistration_v1",
        "coordination_v1alpha2",
        "resource_v1beta2",
        "internal_v1alpha1",
        "scheduling_v1alpha3",
    ):
        assert name in served


@pytest.fixture(scope="module")
def discovered(all_apis_config: Config) -> dict[tuple[str, str, str], Any]:
    apis = Discovery(all_apis_config).server_apis()
    return {(r.group, r.version, r.name): r for resources in apis.resources.values() for r in resources}


@pytest.mark.parametrize(
    ("group_version", "accessor"),
    RESOURCES,
    ids=[f"{gv.group or 'core'}/{gv.version}.{accessor}" for gv, accessor in RESOURCES],
)
def test_every_generated_resource_lists_where_the_server_offers_list(
    all_apis_cs: kcore.Clientset,
    discovered: dict[tuple[str, str, str], Any],
    group_version: type[GroupVersion[RESTClient]],
    accessor: str,
) -> None:
    info = group_version.resources()[accessor]
    served = discovered[(info.group, info.version, info.resource)]
    assert (served.kind, served.namespaced) == (info.kind, info.namespaced)
    client = getattr(next(gv for gv in vars(all_apis_cs).values() if type(gv) is group_version), accessor)()
    if "list" in served.verbs:
        page = client.list(limit=1)
        assert (page["kind"], page["apiVersion"]) == (f"{info.kind}List", info.api_version)
        assert isinstance(page["items"], list)
    else:  # create-only (reviews, bindings): the server refuses to list at exactly this path
        with pytest.raises(ApiError) as refused:
            client.list()
        assert refused.value.code in (404, 405)


def test_the_asyncio_clientset_does_crud_over_the_same_accessors(config: Config, namespace: str) -> None:
    async def scenario() -> list[str]:
        cs = aio.Clientset(config)
        secrets = cs.core_v1.secrets(namespace)
        await secrets.create({"metadata": {"name": "token"}, "stringData": {"key": "v"}})
        assert (await secrets.get("token"))["data"] == {"key": "dg=="}
        await cs.core_v1.config_maps(namespace).create({"metadata": {"name": "a"}})
        names = [c["metadata"]["name"] async for c in cs.core_v1.config_maps(namespace).iter()]
        await secrets.delete("token")
        with pytest.raises(NotFound):
            await secrets.get("token")
        return names

    assert "a" in asyncio.run(scenario())


def test_the_checked_in_generated_code_is_what_the_server_generates(all_apis_config: Config) -> None:
    generated, on_disk = generate(all_apis_config), checked_in()
    assert sorted(generated) == sorted(on_disk), "files differ: run ./dev codegen-clientset"
    stale = [path for path in generated if generated[path] != on_disk[path]]
    assert not stale, f"out of date: {stale}; run ./dev codegen-clientset"
