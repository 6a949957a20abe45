"""kcore.testenv's logic that needs no running control plane."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kcore.testenv import ControlPlaneError, pinned_release
from kcore.testenv.binaries import CONTROLLER_MANAGER_PACKAGE, GO_MODULE_DIR, build_command, ensure_controller_manager
from kcore.testenv.control_plane import kubeconfig_text
from kcore.testenv.pki import CertificateFiles


def test_pinned_release_is_the_go_modules_kubernetes_requirement() -> None:
    go_mod = (GO_MODULE_DIR / "go.mod").read_text()
    assert f"k8s.io/kubernetes {pinned_release()}" in go_mod
    assert re.fullmatch(r"v1\.\d+\.\d+", pinned_release())


def test_every_staging_module_is_replaced_at_the_matching_published_version() -> None:
    staging = "v0." + pinned_release().split(".", 1)[1]  # v1.37.2 -> v0.37.2
    replaces = re.findall(
        r"^\s*(k8s\.io/[\w-]+) => (k8s\.io/[\w-]+) (\S+)$", (GO_MODULE_DIR / "go.mod").read_text(), re.M
    )
    assert len(replaces) > 20
    assert all(src == dst and version == staging for src, dst, version in replaces)


def test_build_command_stamps_the_release_into_the_binaries() -> None:
    cmd = build_command("v1.37.2", Path("/out"))
    ldflags = cmd[cmd.index("-ldflags") + 1]
    assert "version.gitVersion=v1.37.2" in ldflags
    assert "version.gitMajor=1" in ldflags and "version.gitMinor=37" in ldflags
    assert cmd[-3:] == [
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-scheduler",
        "go.etcd.io/etcd/server/v3",
    ]


def test_without_go_the_build_fails_with_one_clear_error_and_the_command_to_run(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path), KCORE_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("KCORE_TESTENV_ASSETS", None)
    result = subprocess.run([sys.executable, "-m", "kcore.testenv", "build"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "error: the Go toolchain" in result.stderr
    assert "go build" in result.stderr and str(GO_MODULE_DIR) in result.stderr
    assert "Traceback" not in result.stderr


def test_assets_folder_without_the_binaries_is_rejected_by_name(tmp_path: Path) -> None:
    env = dict(os.environ, KCORE_TESTENV_ASSETS=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "kcore.testenv", "build"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert f"KCORE_TESTENV_ASSETS={tmp_path} must hold" in result.stderr


def test_controller_manager_is_built_alone_from_the_same_module_with_the_release_stamped() -> None:
    cmd = build_command("v1.37.2", Path("/out"), [CONTROLLER_MANAGER_PACKAGE])
    assert cmd[-2:] == ["/out/", "k8s.io/kubernetes/cmd/kube-controller-manager"]
    assert "version.gitVersion=v1.37.2" in cmd[cmd.index("-ldflags") + 1]


def test_assets_folder_without_kube_controller_manager_is_rejected_by_name(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KCORE_TESTENV_ASSETS", str(tmp_path))
    with pytest.raises(
        ControlPlaneError, match=f"KCORE_TESTENV_ASSETS={tmp_path} must hold an executable kube-controller-manager"
    ):
        ensure_controller_manager()


def test_kubeconfig_has_one_cluster_user_and_current_context() -> None:
    client = CertificateFiles(Path("/p/c.crt"), Path("/p/c.key"))
    config = json.loads(
        kubeconfig_text("https://127.0.0.1:6443", Path("/p/ca.crt"), user="bob", client=client, namespace="ns")
    )
    assert config["current-context"] == "kcore-testenv"
    assert config["clusters"] == [
        {"name": "kcore-testenv", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority": "/p/ca.crt"}}
    ]
    assert config["users"] == [{"name": "bob", "user": {"client-certificate": "/p/c.crt", "client-key": "/p/c.key"}}]
    assert config["contexts"][0]["context"] == {"cluster": "kcore-testenv", "user": "bob", "namespace": "ns"}
