"""A client certificate rotated on disk while an informer watches: kcore re-reads the files,
moves to a transport with the new certificate and ends the old transport's streams (client-go
closes its connections), so the watch starts again as the new identity and no event is lost.

Who made which request is read from the API server's own audit log: the plane logs every
configmaps request with its user. The old and the new certificate name different users (both in
one group that may read configmaps), so the log tells them apart.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from kcore import load_kubeconfig
from kcore.clients import Clientset, transport
from kcore.informer import SharedInformerFactory
from kcore.testenv import ControlPlane
from tests.clusters import configmap
from tests.kube_http import KubeHTTP
from tests.waiting import wait_for

GROUP = "rotating-clients"
BEFORE, AFTER = "before-rotation", "after-rotation"


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[ControlPlane, Path]]:
    policy, log = tmp_path / "audit-policy.json", tmp_path / "audit.log"
    policy.write_text(
        json.dumps(
            {
                "apiVersion": "audit.k8s.io/v1",
                "kind": "Policy",
                "omitStages": ["RequestReceived"],
                "rules": [
                    {"level": "Metadata", "resources": [{"group": "", "resources": ["configmaps"]}]},
                    {"level": "None"},
                ],
            }
        )
    )
    with ControlPlane(apiserver_args={"audit-policy-file": str(policy), "audit-log-path": str(log)}) as cp:
        kube = KubeHTTP(cp.server, str(cp.ca_file), token=cp.token)
        kube.ok(
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            {
                "metadata": {"name": GROUP},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
            },
        )
        kube.ok(
            "POST",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            {
                "metadata": {"name": GROUP},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": GROUP},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": GROUP}],
            },
        )
        yield cp, log


def watches(log: Path) -> list[dict[str, Any]]:
    """The configmaps watches our two identities made, as the server logged them: who, and
    whether they have ended (the API server's own watches left out)."""
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [
        {"user": e["user"]["username"], "stage": e["stage"], "id": e["auditID"]}
        for e in events
        if e["verb"] == "watch" and e["user"]["username"] in (BEFORE, AFTER)
    ]


def replace(target: Path, source: Path) -> None:
    """As a rotation does it: the new file swapped in whole."""
    staged = target.with_suffix(".new")
    shutil.copyfile(source, staged)
    os.replace(staged, target)


def test_a_watch_moves_to_the_rotated_certificate_without_losing_an_event(
    audited: tuple[ControlPlane, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cp, log = audited
    monkeypatch.setattr(transport, "CERTIFICATE_CHECK_SECONDS", 0.5)  # client-go's is 5 minutes
    old, new = cp.issue_client_certificate(BEFORE, [GROUP]), cp.issue_client_certificate(AFTER, [GROUP])
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    replace(cert, old.cert_file)
    replace(key, old.key_file)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": cp.server, "certificate-authority": str(cp.ca_file)}}],
                "users": [{"name": "u", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    admin = KubeHTTP(cp.server, str(cp.ca_file), token=cp.token)
    factory = SharedInformerFactory(Clientset(load_kubeconfig(str(kubeconfig))), namespace="default")
    informer = factory.core_v1.config_maps()
    factory.start()
    try:
        assert factory.wait_for_cache_sync(timeout=30) == {("", "v1", "configmaps"): True}
        admin.ok("POST", "/api/v1/namespaces/default/configmaps", configmap("before"))
        assert wait_for(lambda: informer.indexer.get_by_key("default/before") is not None)
        assert {w["user"] for w in watches(log)} == {BEFORE}

        # The certificate first, the key a moment later: in between the pair does not match and
        # the old one must keep serving.
        replace(cert, new.cert_file)
        admin.ok("POST", "/api/v1/namespaces/default/configmaps", configmap("between"))
        replace(key, new.key_file)
        admin.ok("POST", "/api/v1/namespaces/default/configmaps", configmap("after"))

        assert wait_for(lambda: any(w["user"] == AFTER for w in watches(log)), timeout=30), watches(log)
        for name in ("between", "after"):
            assert wait_for(lambda: informer.indexer.get_by_key(f"default/{name}") is not None), name
        old_watches = {w["id"] for w in watches(log) if w["user"] == BEFORE}
        ended = {w["id"] for w in watches(log) if w["stage"] == "ResponseComplete"}
        assert wait_for(lambda: old_watches <= {w["id"] for w in watches(log) if w["stage"] == "ResponseComplete"}), (
            f"the old certificate's watch was not closed: {old_watches - ended}"
        )
    finally:
        factory.shutdown()
