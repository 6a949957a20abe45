"""kcore.testenv: a real control plane that authenticates, authorizes, and always cleans up."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from kcore.testenv import ADMIN_USER, KWOK_NODE_ANNOTATION, ControlPlane, pinned_release
from kcore.testenv.binaries import cache_root
from tests.kube_http import KubeHTTP
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line contains ``text`` (e.g. a control plane's dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if text in cmdline and "zombie" not in state:
            found.append(int(entry.name))
    return found


def whoami(kube: KubeHTTP) -> dict:
    review = kube.ok(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    return review["status"]["userInfo"]


def test_version_endpoint_reports_the_pinned_release(kube: KubeHTTP) -> None:
    version = kube.ok("GET", "/version")
    assert version["gitVersion"] == pinned_release()
    major, minor = pinned_release().lstrip("v").split(".")[:2]
    assert (version["major"], version["minor"]) == (major, minor)


def test_the_serving_chain_passes_strict_x509_verification(control_plane: ControlPlane) -> None:
    # Python 3.13 verifies this strictly by default; key identifiers must be there.
    context = ssl.create_default_context(cafile=str(control_plane.ca_file))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with urllib.request.urlopen(f"{control_plane.server}/readyz", context=context, timeout=10) as answer:
        assert answer.read() == b"ok"


def test_admin_token_authenticates_as_a_cluster_admin(kube: KubeHTTP) -> None:
    user = whoami(kube)
    assert user["username"] == ADMIN_USER
    assert "system:masters" in user["groups"]


def test_client_certificate_authenticates_its_common_name_and_groups(control_plane: ControlPlane) -> None:
    cert = control_plane.issue_client_certificate("alice", groups=["dev", "qa"])
    alice = KubeHTTP(
        control_plane.server, str(control_plane.ca_file), cert_file=str(cert.cert_file), key_file=str(cert.key_file)
    )
    user = whoami(alice)
    assert user["username"] == "alice"
    assert {"dev", "qa"} <= set(user["groups"])


def test_rbac_forbids_a_user_without_bindings(control_plane: ControlPlane) -> None:
    cert = control_plane.issue_client_certificate("mallory")
    mallory = KubeHTTP(
        control_plane.server, str(control_plane.ca_file), cert_file=str(cert.cert_file), key_file=str(cert.key_file)
    )
    response = mallory.request("GET", "/api/v1/secrets")
    assert response.status == 403
    assert response.json()["reason"] == "Forbidden"


def test_unknown_token_is_unauthorized(control_plane: ControlPlane) -> None:
    stranger = KubeHTTP(control_plane.server, str(control_plane.ca_file), token="not-a-token")
    assert stranger.request("GET", "/api/v1/namespaces").status == 401


def test_written_kubeconfig_carries_the_client_certificate(control_plane: ControlPlane, tmp_path: Path) -> None:
    import json

    cert = control_plane.issue_client_certificate("carol")
    path = control_plane.write_kubeconfig(tmp_path / "carol.kubeconfig", user="carol", client=cert, namespace="team")
    config = json.loads(path.read_text())
    assert config["contexts"][0]["context"]["namespace"] == "team"
    user = config["users"][0]["user"]
    carol = KubeHTTP(
        config["clusters"][0]["cluster"]["server"],
        config["clusters"][0]["cluster"]["certificate-authority"],
        cert_file=user["client-certificate"],
        key_file=user["client-key"],
    )
    assert whoami(carol)["username"] == "carol"


# -- teardown ---------------------------------------------------------------------------------


def test_leaving_the_with_block_stops_every_process_and_removes_the_dir() -> None:
    with ControlPlane() as cp:
        root = cp.dir
        assert root is not None
        assert len(processes_mentioning(str(root))) == 2  # etcd and kube-apiserver
    assert processes_mentioning(str(root)) == []
    assert not root.exists()


def test_an_exception_inside_the_with_block_still_stops_everything() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with ControlPlane() as cp:
            root = cp.dir
            assert root is not None
            raise RuntimeError("boom")
    assert processes_mentioning(str(root)) == []
    assert not root.exists()


CHILD_SCRIPT = """
import signal, sys, time
from kcore.testenv import ControlPlane
# Ctrl-C as in any Python program, even when the test run was started in the background
# (a non-interactive shell starts background jobs with SIGINT ignored, and children inherit it).
signal.signal(signal.SIGINT, signal.default_int_handler)
with ControlPlane() as cp:
    print(cp.dir, flush=True)
    time.sleep(600)
"""


@pytest.fixture
def child_with_control_plane() -> Iterator[tuple[subprocess.Popen, Path]]:
    """A separate Python process running a ControlPlane; yields it and the plane's dir."""
    child = subprocess.Popen([sys.executable, "-c", CHILD_SCRIPT], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert child.stdout is not None
    root = Path(child.stdout.readline().strip())
    assert root.name.startswith("kcore-testenv-"), "the child did not start its control plane"
    assert wait_for(lambda: len(processes_mentioning(str(root))) == 2)
    yield child, root
    child.kill()
    child.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signalled_python_process_stops_its_control_plane_and_removes_the_dir(
    child_with_control_plane: tuple[subprocess.Popen, Path], signum: int
) -> None:
    child, root = child_with_control_plane
    child.send_signal(signum)
    child.wait(60)
    assert processes_mentioning(str(root)) == []
    assert not root.exists()


def test_a_killed_python_process_leaves_no_etcd_or_apiserver_behind(
    child_with_control_plane: tuple[subprocess.Popen, Path],
) -> None:
    child, root = child_with_control_plane
    child.kill()  # SIGKILL: no Python code runs; the kernel must take the children down
    child.wait()
    assert wait_for(lambda: processes_mentioning(str(root)) == [], timeout=10)


# -- the command line -------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kcore.testenv", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=240
    )


def test_cli_up_env_down_gives_a_working_kubeconfig_and_leaves_nothing(tmp_path: Path) -> None:
    import json

    # A private state dir, with the already-built binaries, so a developer's own `up` is untouched.
    env = dict(
        os.environ,
        KCORE_CACHE_DIR=str(tmp_path / "cache"),
        KCORE_TESTENV_ASSETS=str(cache_root() / "controlplane" / pinned_release()),
    )
    up = run_cli("up", env=env)
    assert up.returncode == 0, up.stderr
    last_line = up.stdout.strip().splitlines()[-1]
    assert last_line.startswith("KUBECONFIG=")
    kubeconfig = Path(last_line.split("=", 1)[1])
    try:
        config = json.loads(kubeconfig.read_text())
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        kube = KubeHTTP(cluster["server"], cluster["certificate-authority"], token=user["token"])
        assert kube.ok("GET", "/version")["gitVersion"] == pinned_release()

        env_out = run_cli("env", env=env)
        assert env_out.returncode == 0
        assert env_out.stdout.strip() == last_line
        root = kubeconfig.parent
        assert len(processes_mentioning(str(root))) == 2
    finally:
        down = run_cli("down", env=env)
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(root)) == []
    assert not root.exists()
    after = run_cli("env", env=env)
    assert after.returncode == 1
    assert "no control plane is running" in after.stderr


# -- the scheduler ----------------------------------------------------------------------------


def test_with_scheduler_a_real_kube_scheduler_binds_pods_to_nodes() -> None:
    with ControlPlane(with_scheduler=True) as cp:
        kube = KubeHTTP(cp.server, str(cp.ca_file), token=cp.token)
        kube.ok("POST", "/api/v1/nodes", {"metadata": {"name": "node-a"}})
        # No kubelet or node controller here: play both. Admission taints a new node not-ready;
        # lift the taint, then report capacity and a Ready condition through the status subresource.
        node = kube.ok("GET", "/api/v1/nodes/node-a")
        node["spec"]["taints"] = []
        node = kube.ok("PUT", "/api/v1/nodes/node-a", node)
        node["status"] = {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        }
        kube.ok("PUT", "/api/v1/nodes/node-a/status", node)
        kube.ok(
            "POST",
            "/api/v1/namespaces/default/pods",
            {
                "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        )
        assert wait_for(
            lambda: kube.ok("GET", "/api/v1/namespaces/default/pods/web")["spec"].get("nodeName") == "node-a",
            timeout=60,
        ), "kube-scheduler did not bind the pod"


def test_with_kwok_a_fake_node_goes_ready_and_its_pods_run() -> None:
    with ControlPlane(with_scheduler=True, with_kwok=True) as cp:
        kube = KubeHTTP(cp.server, str(cp.ca_file), token=cp.token)
        kube.ok(
            "POST", "/api/v1/nodes", {"metadata": {"name": "fake-1", "annotations": {KWOK_NODE_ANNOTATION: "fake"}}}
        )

        def node_ready() -> bool:
            conditions = kube.ok("GET", "/api/v1/nodes/fake-1").get("status", {}).get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        assert wait_for(node_ready, timeout=60), "kwok did not make the node Ready"
        # No node controller runs here to lift the not-ready taint that admission put on.
        node = kube.ok("GET", "/api/v1/nodes/fake-1")
        node["spec"]["taints"] = []
        kube.ok("PUT", "/api/v1/nodes/fake-1", node)
        kube.ok(
            "POST",
            "/api/v1/namespaces/default/pods",
            {
                "metadata": {"name": "web"},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        )
        assert wait_for(
            lambda: kube.ok("GET", "/api/v1/namespaces/default/pods/web")["status"].get("phase") == "Running",
            timeout=60,
        ), "the pod was not scheduled onto the kwok node and run"
        assert kube.ok("GET", "/api/v1/namespaces/default/pods/web")["spec"]["nodeName"] == "fake-1"


def test_with_controllers_kube_controller_manager_runs_only_the_named_ones() -> None:
    with ControlPlane(controllers=["replicaset"]) as cp:
        kube = KubeHTTP(cp.server, str(cp.ca_file), token=cp.token)
        labels = {"app": "web"}
        # Made first, so a deployment controller, were it running, would act before the check.
        kube.ok(
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            {
                "metadata": {"name": "api"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "api"}},
                    "template": {
                        "metadata": {"labels": {"app": "api"}},
                        "spec": {"containers": [{"name": "api", "image": "nginx"}]},
                    },
                },
            },
        )
        kube.ok(
            "POST",
            "/apis/apps/v1/namespaces/default/replicasets",
            {
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                    },
                },
            },
        )

        def owned_pods() -> list[str]:
            pods = kube.ok("GET", "/api/v1/namespaces/default/pods")["items"]
            return [p["metadata"]["ownerReferences"][0]["name"] for p in pods if p["metadata"].get("ownerReferences")]

        assert wait_for(lambda: owned_pods() == ["web", "web"], timeout=60), "the replicaset controller made no pods"
        # The deployment controller is not among the named ones: the Deployment gets no ReplicaSet.
        replicasets = kube.ok("GET", "/apis/apps/v1/namespaces/default/replicasets")["items"]
        assert [rs["metadata"]["name"] for rs in replicasets] == ["web"]


def test_a_kube_apiserver_restarted_from_a_thread_that_ends_keeps_running() -> None:
    """Children die with their parent (PR_SET_PDEATHSIG), and to the kernel the parent is the
    thread that forked them: the plane's processes are forked by one thread that lives as long as
    the process, so a restart from a short-lived thread leaves a kube-apiserver that stays up."""
    import threading
    import time

    with ControlPlane() as cp:
        restarter = threading.Thread(target=cp.restart_apiserver)
        restarter.start()
        restarter.join()
        time.sleep(1.0)  # the kernel's SIGKILL, had it come, would be immediate
        assert KubeHTTP(cp.server, str(cp.ca_file), token=cp.token).request("GET", "/readyz").status == 200
