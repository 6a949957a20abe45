"""The smallest proof that kcore and the real control plane work together."""

from __future__ import annotations

import kcore._core
from kcore.testenv import ControlPlane
from tests.kube_http import KubeHTTP


def test_compiled_core_is_importable_and_matches_the_package_version() -> None:
    assert kcore._core.core_version() == kcore.__version__


def test_configmap_round_trip_over_https_with_the_kubeconfig_credentials(
    control_plane: ControlPlane, namespace: str
) -> None:
    import json

    config = json.loads(control_plane.kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    kube = KubeHTTP(cluster["server"], cluster["certificate-authority"], token=user["token"])
    path = f"/api/v1/namespaces/{namespace}/configmaps"

    created = kube.ok("POST", path, {"metadata": {"name": "smoke"}, "data": {"greeting": "hello, kcore"}})
    assert created["metadata"]["uid"]

    fetched = kube.ok("GET", f"{path}/smoke")
    assert fetched["data"] == {"greeting": "hello, kcore"}
    assert fetched["metadata"]["uid"] == created["metadata"]["uid"]

    kube.ok("DELETE", f"{path}/smoke")
    assert kube.request("GET", f"{path}/smoke").status == 404
