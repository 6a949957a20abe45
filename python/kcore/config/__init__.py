"""How to reach a cluster: kcore.Config, loaded from kubeconfig files or a pod's service account.

``load_config()`` is what most programs want; ``load_kubeconfig()`` and ``in_cluster_config()``
pick one source. The transport asks ``Config.credentials()`` before each request.
"""

from kcore.config.config import Config
from kcore.config.credentials import Credentials
from kcore.config.exec_credential import ExecProvider
from kcore.config.in_cluster import in_cluster_config
from kcore.config.kubeconfig import load_kubeconfig
from kcore.config.load_config import load_config

__all__ = ["Config", "Credentials", "ExecProvider", "in_cluster_config", "load_config", "load_kubeconfig"]
