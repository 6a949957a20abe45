"""in_cluster_config: the Config of a pod, from the environment the kubelet gives it and the
service-account files mounted into it (client-go's rest.InClusterConfig)."""

from __future__ import annotations

import logging
import os
from typing import Union

from kcore.config.config import Config
from kcore.config.files import read_file, require_pem
from kcore.config.token_file import read_token
from kcore.errors import ConfigError

log = logging.getLogger("kcore.config")

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SOURCE = "in-cluster config"


def in_cluster_config(directory: Union[str, "os.PathLike[str]", None] = None) -> Config:
    """The Config for the API server of the cluster this process runs in, authenticated by the
    service-account ``token`` in ``directory`` (default: SERVICE_ACCOUNT_DIR; re-read as the
    kubelet rotates it), trusting its ``ca.crt``; the namespace is $POD_NAMESPACE, else the
    ``namespace`` file, else "default"."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST", ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError(
            "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set", source=SOURCE
        )
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"KUBERNETES_SERVICE_PORT {port!r} is not a port number", source=SOURCE)
    directory = os.fspath(directory if directory is not None else SERVICE_ACCOUNT_DIR)
    token_file = os.path.join(directory, "token")
    read_token(token_file, what="service-account token", source=SOURCE)
    return Config(
        server=f"https://{_host_for_url(host)}:{port}",
        ca_data=_ca(os.path.join(directory, "ca.crt")),
        token_file=token_file,
        namespace=_namespace(os.path.join(directory, "namespace")),
    )


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host  # IPv6 literal


def _ca(path: str) -> Union[bytes, None]:
    if not os.path.exists(path):
        # As client-go: no mounted CA means trusting the system roots, with a complaint.
        log.warning("%s: %s does not exist; trusting the system's root certificates", SOURCE, path)
        return None
    what = f"service-account CA {path}"
    return require_pem(read_file(path, "service-account CA", source=SOURCE), "CERTIFICATE", what, source=SOURCE)


def _namespace(path: str) -> str:
    from_env = os.environ.get("POD_NAMESPACE", "").strip()
    if from_env:
        return from_env
    if os.path.exists(path):
        return (
            read_file(path, "service-account namespace", source=SOURCE).decode("utf-8", "replace").strip() or "default"
        )
    return "default"
