"""In-cluster config from the pod's environment and service-account files (here in a temp dir),
token rotation, and load_config's order: kubeconfig first, then in-cluster."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kcore import in_cluster_config, load_config
from kcore.config import token_file
from kcore.errors import ConfigError

CA = b"-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"


@pytest.fixture
def service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("sa-token-1")
    (directory / "ca.crt").write_bytes(CA)
    (directory / "namespace").write_text("team-a")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    return directory


def test_in_cluster_config_reads_the_environment_and_service_account_files(service_account: Path) -> None:
    config = in_cluster_config(service_account)
    assert config.server == "https://10.96.0.1:443"
    assert config.ca_data == CA
    assert config.namespace == "team-a"
    assert config.credentials().authorization == "Bearer sa-token-1"


def test_an_ipv6_service_host_is_bracketed(service_account: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    assert in_cluster_config(service_account).server == "https://[fd00::1]:443"


def test_pod_namespace_env_wins_and_default_is_the_fallback(
    service_account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "from-env")
    assert in_cluster_config(service_account).namespace == "from-env"
    monkeypatch.delenv("POD_NAMESPACE")
    (service_account / "namespace").unlink()
    assert in_cluster_config(service_account).namespace == "default"


def test_without_a_ca_file_the_system_roots_are_trusted(service_account: Path) -> None:
    (service_account / "ca.crt").unlink()
    assert in_cluster_config(service_account).ca_data is None


def test_outside_a_cluster_the_error_names_the_missing_variables(
    service_account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"):
        in_cluster_config(service_account)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: (d / "token").unlink(),
            "service-account token {dir}/token cannot be read: No such file or directory",
        ),
        (lambda d: (d / "token").write_text("  \n"), "service-account token {dir}/token is empty"),
        (lambda d: (d / "ca.crt").write_text("garbage"), "service-account CA {dir}/ca.crt is not PEM data"),
    ],
)
def test_bad_service_account_files_are_named(service_account: Path, change, problem: str) -> None:  # type: ignore[no-untyped-def]
    change(service_account)
    with pytest.raises(ConfigError) as info:
        in_cluster_config(service_account)
    assert str(info.value).startswith("in-cluster config: " + problem.format(dir=service_account))


def test_a_bad_port_is_named(service_account: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "https")
    with pytest.raises(ConfigError, match="KUBERNETES_SERVICE_PORT 'https' is not a port number"):
        in_cluster_config(service_account)


# -- token rotation --------------------------------------------------------------------------


def rotate(directory: Path, token: str) -> None:
    """What the kubelet does: write a new file and swap it in atomically."""
    fresh = directory / ".token.new"
    fresh.write_text(token)
    os.replace(fresh, directory / "token")


def test_a_rotated_token_is_used_on_the_next_request(service_account: Path) -> None:
    config = in_cluster_config(service_account)
    assert config.credentials().token == "sa-token-1"
    rotate(service_account, "sa-token-2")
    assert config.credentials().token == "sa-token-2"


def test_an_unchanged_looking_file_is_still_reread_after_a_minute(
    service_account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = in_cluster_config(service_account)
    token = service_account / "token"
    stat = token.stat()
    token.write_text("sa-token-X")  # same size, same inode
    os.utime(token, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    assert config.credentials().token == "sa-token-1"
    now = time.monotonic()
    monkeypatch.setattr(token_file.time, "monotonic", lambda: now + token_file.MAX_TOKEN_AGE_SECONDS)
    assert config.credentials().token == "sa-token-X"


def test_refresh_rereads_the_token_file(service_account: Path) -> None:
    config = in_cluster_config(service_account)
    stale = config.credentials()
    token = service_account / "token"
    stat = token.stat()
    token.write_text("sa-token-Y")
    os.utime(token, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert config.refresh_credentials(stale).token == "sa-token-Y"


def test_a_vanished_token_file_keeps_the_last_good_token(service_account: Path) -> None:
    config = in_cluster_config(service_account)
    (service_account / "token").unlink()
    assert config.credentials().token == "sa-token-1"
    assert config.refresh_credentials().token == "sa-token-1"


# -- load_config --------------------------------------------------------------------------------


@pytest.fixture
def no_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return home


def test_load_config_prefers_a_kubeconfig(no_kubeconfig: Path, service_account: Path) -> None:
    (no_kubeconfig / ".kube").mkdir()
    (no_kubeconfig / ".kube" / "config").write_text(
        "clusters: [{name: c, cluster: {server: 'https://kc:1'}}]\n"
        "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n"
    )
    assert load_config().server == "https://kc:1"


def test_load_config_falls_back_to_in_cluster(
    no_kubeconfig: Path, service_account: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kcore.config.in_cluster.SERVICE_ACCOUNT_DIR", str(service_account))
    assert load_config().server == "https://10.96.0.1:443"


def test_load_config_explains_both_attempts_when_neither_works(
    no_kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError) as info:
        load_config()
    message = str(info.value)
    assert f"no kubeconfig at {no_kubeconfig}/.kube/config" in message
    assert "in-cluster config failed" in message and "KUBERNETES_SERVICE_HOST" in message


def test_load_config_with_a_context_needs_a_kubeconfig(no_kubeconfig: Path, service_account: Path) -> None:
    with pytest.raises(ConfigError, match="context 'dev' was asked for, but there is no kubeconfig"):
        load_config(context="dev")


def test_a_broken_kubeconfig_is_an_error_not_a_reason_to_fall_back(no_kubeconfig: Path, service_account: Path) -> None:
    (no_kubeconfig / ".kube").mkdir()
    (no_kubeconfig / ".kube" / "config").write_text("[not, a, mapping]")
    with pytest.raises(ConfigError, match="is not a kubeconfig"):
        load_config()
