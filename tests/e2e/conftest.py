"""Fixtures of the end-to-end tests beyond the shared control plane (tests/conftest.py)."""

from __future__ import annotations

from typing import Iterator

import pytest

from kcore import Config
from kcore.clients import RESTClient
from kcore.testenv import ControlPlane
from tests.clusters import admin_config
from tests.fault_proxy import FaultProxy
from tools.clientset_gen.generate import APISERVER_ARGS


@pytest.fixture(scope="session")
def config(control_plane: ControlPlane) -> Config:
    """The admin's Config for the shared control plane, without a client-side rate limit."""
    return admin_config(control_plane)


@pytest.fixture(scope="session")
def core(config: Config) -> RESTClient:
    """A core/v1 RESTClient as the admin."""
    return RESTClient(config)


@pytest.fixture(scope="session")
def etcd_backed_plane() -> Iterator[ControlPlane]:
    """A control plane without the watch cache: lists and watches read etcd, so compacting etcd
    (tests.clusters.compact_etcd) expires continue tokens and old resourceVersions at once. The
    shared plane's watch cache would keep serving them."""
    with ControlPlane(apiserver_args={"watch-cache": "false"}) as plane:
        yield plane


@pytest.fixture(scope="session")
def all_apis_plane() -> Iterator[ControlPlane]:
    """A control plane serving every alpha and beta API of the release too, started exactly as
    the Clientset generator starts its own (tools.clientset_gen.generate.APISERVER_ARGS)."""
    with ControlPlane(apiserver_args=APISERVER_ARGS) as plane:
        yield plane


@pytest.fixture
def proxy(control_plane: ControlPlane) -> Iterator[FaultProxy]:
    """A FaultProxy of the test's own in front of the shared control plane."""
    with FaultProxy(control_plane) as proxy:
        yield proxy
