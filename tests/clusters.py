"""Helpers for tests that talk to a control plane through kcore's own clients."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from typing import Any

from kcore import Config, load_kubeconfig
from kcore.testenv import ControlPlane


def admin_config(control_plane: ControlPlane) -> Config:
    """The admin's Config from the plane's kubeconfig, without a client-side rate limit: the
    tests make many quick requests."""
    return dataclasses.replace(load_kubeconfig(str(control_plane.kubeconfig)), qps=-1)


def configmap(name: str, **data: str) -> dict[str, Any]:
    """A ConfigMap named ``name`` holding ``data``."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def compact_etcd(control_plane: ControlPlane) -> None:
    """Compact etcd up to now, as the API server does every few minutes, through etcd's JSON API."""

    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(f"{control_plane.etcd_url}{path}", json.dumps(body).encode(), method="POST")
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
            result: dict = json.loads(response.read())
            return result

    revision = post("/v3/kv/range", {"key": "Lw=="})["header"]["revision"]  # key "/"
    post("/v3/kv/compaction", {"revision": revision, "physical": True})
