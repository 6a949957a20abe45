"""load_config: the Config a program gets without being told where to look, in kubectl's order."""

from __future__ import annotations

import os
from typing import Optional

from kcore.config.config import Config
from kcore.config.in_cluster import in_cluster_config
from kcore.config.kubeconfig import load_kubeconfig
from kcore.config.kubeconfig_files import kubeconfig_paths
from kcore.errors import ConfigError


def load_config(context: Optional[str] = None) -> Config:
    """A kubeconfig (KUBECONFIG, else ~/.kube/config) if one exists; else the in-cluster config.
    A kubeconfig that exists but is broken is an error, not a reason to fall back; so is a
    ``context`` when there is no kubeconfig to define it."""
    paths = kubeconfig_paths()
    if any(os.path.exists(p) for p in paths):
        return load_kubeconfig(context=context)
    if context:  # a named context only exists in a kubeconfig
        raise ConfigError(f"context {context!r} was asked for, but there is no kubeconfig at {os.pathsep.join(paths)}")
    try:
        return in_cluster_config()
    except ConfigError as e:
        raise ConfigError(
            f"no configuration found: no kubeconfig at {os.pathsep.join(paths)}, and the in-cluster config failed: {e}"
        ) from None
