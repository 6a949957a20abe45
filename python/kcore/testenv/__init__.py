"""kcore.testenv: a real Kubernetes control plane on loopback, for tests and examples.

Like controller-runtime's envtest, without downloads: kube-apiserver, etcd and (optionally)
kube-scheduler, kube-controller-manager and kwok are built from the Go module proxy at one pinned
release and cached::

    from kcore.testenv import ControlPlane

    with ControlPlane() as cp:
        cp.kubeconfig, cp.server, cp.ca_file, cp.token
        cp.issue_client_certificate("alice", groups=["dev"])

From a shell: ``python -m kcore.testenv up`` (prints ``KUBECONFIG=<path>`` last), ``env``, ``down``.
"""

from kcore.testenv.binaries import (
    Binaries,
    Kwok,
    ensure_binaries,
    ensure_controller_manager,
    ensure_kwok,
    pinned_release,
)
from kcore.testenv.control_plane import ADMIN_USER, KWOK_NODE_ANNOTATION, ControlPlane
from kcore.testenv.errors import ControlPlaneError
from kcore.testenv.pki import CertificateFiles

__all__ = [
    "ADMIN_USER",
    "KWOK_NODE_ANNOTATION",
    "Binaries",
    "CertificateFiles",
    "ControlPlane",
    "ControlPlaneError",
    "Kwok",
    "ensure_binaries",
    "ensure_controller_manager",
    "ensure_kwok",
    "pinned_release",
]
