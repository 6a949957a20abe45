"""Fixtures shared by every test: one real control plane per session, a fresh namespace per test."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from kcore.testenv import ControlPlane
from tests.kube_http import KubeHTTP


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd + kube-apiserver built and started by kcore.testenv, shared by the session."""
    with ControlPlane() as cp:
        yield cp


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> KubeHTTP:
    """Plain HTTPS as the admin user (token from the generated kubeconfig)."""
    return KubeHTTP(control_plane.server, str(control_plane.ca_file), token=control_plane.token)


@pytest.fixture
def namespace(kube: KubeHTTP) -> Iterator[str]:
    """A namespace of this test's own, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube.request("DELETE", f"/api/v1/namespaces/{name}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything under tests/e2e talks to the real API server: `-m "not e2e"` runs the rest.
    for item in items:
        if "/tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
