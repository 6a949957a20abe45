"""Every way a kcore.Config can authenticate, proven against the real kube-apiserver: load the
Config from a kubeconfig (or an in-cluster directory), then ask the server who we are through
kcore's own client and transport."""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from kcore import Config, in_cluster_config, load_kubeconfig
from kcore.clients import RESTClient
from kcore.errors import ApiError
from kcore.testenv import ADMIN_USER, ControlPlane
from tests.kube_http import KubeHTTP

REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
V1 = "client.authentication.k8s.io/v1"


@dataclass
class Review:
    status: int
    body: Any


def review(config: Config) -> Review:
    """The server's answer to "who am I" (status code and body) for requests made with ``config``."""
    client = RESTClient(config, group="authentication.k8s.io")
    try:
        return Review(
            201,
            client.post()
            .resource("selfsubjectreviews")
            .body({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
            .do(),
        )
    except ApiError as error:
        return Review(error.code, error.status)


def username(config: Config) -> str:
    answer = review(config)
    assert answer.status == 201, f"{answer.status}: {answer.body}"
    return str(answer.body["status"]["userInfo"]["username"])


def write_kubeconfig(
    path: Path, control_plane: ControlPlane, user: dict[str, Any], cluster: Optional[dict[str, Any]] = None
) -> Path:
    cluster = cluster or {"server": control_plane.server, "certificate-authority": str(control_plane.ca_file)}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "testenv", "cluster": cluster}],
                "users": [{"name": "me", "user": user}],
                "contexts": [{"name": "testenv", "context": {"cluster": "testenv", "user": "me"}}],
                "current-context": "testenv",
            }
        )
    )
    return path


def plugin(path: Path, tokens: list[str]) -> Path:
    """An exec plugin printing tokens[0] on its first run, tokens[1] on its second, and so on."""
    runs = path.with_suffix(".runs")
    path.write_text(
        f"#!{sys.executable}\nimport json\n"
        f"with open({str(runs)!r}, 'a+') as f:\n    f.seek(0); n = len(f.read()); f.write('x')\n"
        f"tokens = {tokens!r}\n"
        f"print(json.dumps({{'apiVersion': {V1!r}, 'kind': 'ExecCredential', "
        f"'status': {{'token': tokens[min(n, len(tokens) - 1)]}}}}))\n"
    )
    path.chmod(0o755)
    return path


def exec_user(command: str) -> dict[str, Any]:
    return {"exec": {"apiVersion": V1, "command": command, "interactiveMode": "Never"}}


def test_the_testenv_kubeconfig_token_authenticates_as_admin(control_plane: ControlPlane) -> None:
    assert username(load_kubeconfig(control_plane.kubeconfig)) == ADMIN_USER


def test_a_token_file_authenticates_and_a_rotated_file_is_picked_up(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("not-a-valid-token")
    config = load_kubeconfig(write_kubeconfig(tmp_path / "kubeconfig", control_plane, {"tokenFile": "token"}))
    assert review(config).status == 401
    token.write_text(control_plane.token + "\n")
    assert username(config) == ADMIN_USER


def test_client_certificate_files_authenticate_as_their_subject(control_plane: ControlPlane, tmp_path: Path) -> None:
    cert = control_plane.issue_client_certificate("alice", groups=["dev"])
    path = control_plane.write_kubeconfig(tmp_path / "alice.kubeconfig", user="alice", client=cert)
    assert username(load_kubeconfig(path)) == "alice"


def test_client_certificate_data_authenticates_as_its_subject(control_plane: ControlPlane, tmp_path: Path) -> None:
    cert = control_plane.issue_client_certificate("bob")
    data = {
        "client-certificate-data": base64.b64encode(cert.cert_file.read_bytes()).decode(),
        "client-key-data": base64.b64encode(cert.key_file.read_bytes()).decode(),
    }
    cluster = {
        "server": control_plane.server,
        "certificate-authority-data": base64.b64encode(control_plane.ca_file.read_bytes()).decode(),
    }
    config = load_kubeconfig(write_kubeconfig(tmp_path / "kubeconfig", control_plane, data, cluster))
    assert username(config) == "bob"


def test_an_exec_plugin_token_authenticates(control_plane: ControlPlane, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    plugin(tmp_path / "bin" / "get-token", [control_plane.token])
    config = load_kubeconfig(write_kubeconfig(tmp_path / "kubeconfig", control_plane, exec_user("bin/get-token")))
    assert username(config) == ADMIN_USER


def test_an_exec_plugin_client_certificate_authenticates(control_plane: ControlPlane, tmp_path: Path) -> None:
    cert = control_plane.issue_client_certificate("carol")
    status = {"clientCertificateData": cert.cert_file.read_text(), "clientKeyData": cert.key_file.read_text()}
    script = tmp_path / "cert-plugin"
    script.write_text(
        f"#!{sys.executable}\nimport json\nprint(json.dumps("
        f"{{'apiVersion': {V1!r}, 'kind': 'ExecCredential', 'status': {status!r}}}))\n"
    )
    script.chmod(0o755)
    config = load_kubeconfig(write_kubeconfig(tmp_path / "kubeconfig", control_plane, exec_user(str(script))))
    assert username(config) == "carol"


def test_after_a_401_the_transport_runs_the_plugin_again_and_retries_with_the_new_token(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    plugin(tmp_path / "get-token", ["a-wrong-token", control_plane.token])
    config = load_kubeconfig(
        write_kubeconfig(tmp_path / "kubeconfig", control_plane, exec_user(str(tmp_path / "get-token")))
    )
    assert config.credentials().token == "a-wrong-token"
    assert username(config) == ADMIN_USER  # 401 with the first token, then the plugin's second one
    assert (tmp_path / "get-token.runs").read_text() == "xx"  # ran exactly twice


def test_a_refresh_that_brings_no_new_credentials_leaves_the_401(control_plane: ControlPlane, tmp_path: Path) -> None:
    plugin(tmp_path / "get-token", ["a-wrong-token"])
    config = load_kubeconfig(
        write_kubeconfig(tmp_path / "kubeconfig", control_plane, exec_user(str(tmp_path / "get-token")))
    )
    answer = review(config)
    assert (answer.status, answer.body["reason"]) == (401, "Unauthorized")


@pytest.fixture
def service_account_token(kube: KubeHTTP, namespace: str) -> str:
    """A real bound token for service account 'robot' in the test's namespace (TokenRequest API)."""
    kube.ok(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}},
    )
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}
    return kube.ok("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/robot/token", request)["status"]["token"]


def test_in_cluster_config_from_env_and_files_authenticates_as_the_service_account(
    control_plane: ControlPlane,
    namespace: str,
    service_account_token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host_port = control_plane.server.split("://", 1)[1]
    host, port = host_port.rsplit(":", 1)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", port)
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    (tmp_path / "token").write_text("expired-or-wrong")
    (tmp_path / "ca.crt").write_bytes(control_plane.ca_file.read_bytes())
    (tmp_path / "namespace").write_text(namespace)
    config = in_cluster_config(tmp_path)
    assert config.namespace == namespace
    assert review(config).status == 401
    (tmp_path / "token.new").write_text(service_account_token)  # the kubelet's atomic rotation
    (tmp_path / "token.new").replace(tmp_path / "token")
    assert username(config) == f"system:serviceaccount:{namespace}:robot"
