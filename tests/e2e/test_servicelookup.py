"""examples/servicelookup.py against the real kube-apiserver: one PodToService per pod, listing
the services whose selector matches the pod, kept right as pods, services and selectors change.

Every check compares the PodToServices with a mapping this file computes on its own from a
fresh LIST of pods and services. The plane is this module's own: the example installs a
cluster-wide CRD and watches every namespace.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

import kcore
from examples.servicelookup import GROUP, KIND, PLURAL, VERSION, ServiceLookup, install_crd
from kcore.errors import NotFound
from kcore.testenv import ControlPlane
from tests.clusters import admin_config
from tests.example_process import example_process
from tests.waiting import wait_for

Mapping = dict[tuple[str, str], list[str]]


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    with ControlPlane() as cp:
        yield cp


@pytest.fixture(scope="module")
def config(plane: ControlPlane) -> kcore.Config:
    return admin_config(plane)


@pytest.fixture(scope="module")
def cs(config: kcore.Config) -> kcore.Clientset:
    return kcore.Clientset(config)


@pytest.fixture(scope="module")
def podtoservices(config: kcore.Config, cs: kcore.Clientset) -> Any:
    install_crd(cs)
    return kcore.DynamicClient(config).resource(GROUP, VERSION, PLURAL)


def expected_mapping(cs: kcore.Clientset) -> Mapping:
    """For every pod, the sorted names of the services of its namespace whose (non-empty)
    selector is a subset of its labels: from a fresh LIST, independently of the example."""
    services = cs.core_v1.services().list()["items"]
    mapping: Mapping = {}
    for pod in cs.core_v1.pods().list()["items"]:
        namespace, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels") or {}
        mapping[(namespace, pod["metadata"]["name"])] = sorted(
            service["metadata"]["name"]
            for service in services
            if service["metadata"]["namespace"] == namespace
            and (selector := service["spec"].get("selector"))
            and all(labels.get(key) == value for key, value in selector.items())
        )
    return mapping


def actual_mapping(podtoservices: Any) -> Mapping:
    return {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p["spec"]["services"]
        for p in podtoservices.list()["items"]
    }


def assert_converges(cs: kcore.Clientset, podtoservices: Any) -> Mapping:
    """Wait until the PodToServices say what a fresh LIST says; return that mapping."""
    wait_for(lambda: actual_mapping(podtoservices) == expected_mapping(cs), timeout=30)
    expected = expected_mapping(cs)
    assert actual_mapping(podtoservices) == expected
    return expected


def namespace(cs: kcore.Clientset, name: str) -> str:
    cs.core_v1.namespaces().create({"metadata": {"name": name}})
    return name


def service(cs: kcore.Clientset, namespace: str, name: str, selector: dict[str, str]) -> None:
    spec: dict[str, Any] = {"ports": [{"port": 80}]}
    if selector:
        spec["selector"] = selector
    cs.core_v1.services(namespace).create({"metadata": {"name": name}, "spec": spec})


def pod(cs: kcore.Clientset, namespace: str, name: str, labels: dict[str, str]) -> None:
    cs.core_v1.pods(namespace).create(
        {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [{"name": "app", "image": "app"}]}}
    )


def test_each_pod_keeps_a_podtoservice_naming_the_services_that_select_it_as_pods_services_and_selectors_change(
    config: kcore.Config, cs: kcore.Clientset, podtoservices: Any
) -> None:
    shop, blog = namespace(cs, "shop"), namespace(cs, "blog")
    with ServiceLookup(config):
        # Overlapping selectors in shop; a service without a selector; the same selector in blog.
        service(cs, shop, "web", {"app": "web"})
        service(cs, shop, "front", {"tier": "front"})
        service(cs, shop, "canary", {"app": "web", "track": "canary"})
        service(cs, shop, "external", {})
        service(cs, blog, "web", {"app": "web"})
        pod(cs, shop, "web-1", {"app": "web", "tier": "front"})
        pod(cs, shop, "web-2", {"app": "web", "track": "canary"})
        pod(cs, shop, "worker", {"tier": "back"})
        pod(cs, shop, "bare", {})
        pod(cs, blog, "web-1", {"app": "web", "tier": "front"})
        pod(cs, blog, "db", {"app": "db"})
        assert assert_converges(cs, podtoservices) == {
            (shop, "web-1"): ["front", "web"],
            (shop, "web-2"): ["canary", "web"],
            (shop, "worker"): [],
            (shop, "bare"): [],
            (blog, "web-1"): ["web"],
            (blog, "db"): [],
        }

        cs.core_v1.services(shop).patch("front", {"spec": {"selector": {"tier": "back"}}})  # a selector changed
        assert assert_converges(cs, podtoservices)[(shop, "worker")] == ["front"]

        cs.core_v1.services(shop).delete("web")  # a service deleted
        assert assert_converges(cs, podtoservices)[(shop, "web-2")] == ["canary"]

        cs.core_v1.pods(shop).patch("worker", {"metadata": {"labels": {"app": "web", "track": "canary"}}})  # relabelled
        assert assert_converges(cs, podtoservices)[(shop, "worker")] == ["canary", "front"]

        cs.core_v1.pods(shop).delete("web-1")  # a pod deleted
        assert (shop, "web-1") not in assert_converges(cs, podtoservices)
        with pytest.raises(NotFound):
            podtoservices.namespace(shop).get("web-1")

        assert_owned_by_their_pods(cs, podtoservices)


def assert_owned_by_their_pods(cs: kcore.Clientset, podtoservices: Any) -> None:
    """Each PodToService has its pod as controller owner (uid included), for the garbage collector."""
    uids = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p["metadata"]["uid"]
        for p in cs.core_v1.pods().list()["items"]
    }
    for item in podtoservices.list()["items"]:
        metadata = item["metadata"]
        assert metadata["ownerReferences"] == [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": metadata["name"],
                "controller": True,
                "uid": uids[(metadata["namespace"], metadata["name"])],
            }
        ]


def test_podtoservices_left_wrong_while_the_controller_was_down_are_put_right_when_it_starts(
    config: kcore.Config, cs: kcore.Clientset, podtoservices: Any
) -> None:
    ns = namespace(cs, "downtime")
    service(cs, ns, "web", {"app": "web"})
    pod(cs, ns, "kept", {"app": "web"})
    kept_uid = cs.core_v1.pods(ns).get("kept")["metadata"]["uid"]

    def podtoservice(name: str, services: list[str], uid: str) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "spec": {"services": services},
            "metadata": {
                "name": name,
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid, "controller": True}],
            },
        }

    podtoservices.namespace(ns).create(podtoservice("kept", ["stale"], kept_uid))
    podtoservices.namespace(ns).create(podtoservice("gone", ["web"], "00000000-0000-0000-0000-000000000000"))
    with ServiceLookup(config):
        assert_converges(cs, podtoservices)
    assert podtoservices.namespace(ns).get("kept")["spec"]["services"] == ["web"]
    with pytest.raises(NotFound):
        podtoservices.namespace(ns).get("gone")


def test_the_example_as_a_process_follows_its_kubeconfig_converges_and_exits_cleanly_on_sigterm(
    plane: ControlPlane, cs: kcore.Clientset, podtoservices: Any
) -> None:
    ns = namespace(cs, "process")
    service(cs, ns, "web", {"app": "web"})
    pod(cs, ns, "web-1", {"app": "web"})
    with example_process("servicelookup.py", plane, "--qps", "50") as stop:
        assert_converges(cs, podtoservices)
        assert podtoservices.namespace(ns).get("web-1")["spec"]["services"] == ["web"]
        cs.core_v1.services(ns).patch("web", {"spec": {"selector": {"app": "other"}}})
        assert assert_converges(cs, podtoservices)[(ns, "web-1")] == []
        output = stop()
    assert f"PodToService {ns}/web-1: - (updated)" in output, output
    assert "servicelookup: stopped" in output, output
