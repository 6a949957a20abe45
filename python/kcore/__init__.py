"""kcore: a Kubernetes client library for Python with a Rust core.

The public API lives in this package; ``kcore._core`` is the private compiled extension.
"""

from kcore import _core

__version__ = "0.1.0"

if _core.core_version() != __version__:  # a stale extension left over from another build
    raise ImportError(
        f"kcore {__version__} found the compiled core at version {_core.core_version()}; "
        "rebuild it (`maturin develop --release` or reinstall kcore)"
    )

from kcore.config import Config, in_cluster_config, load_config, load_kubeconfig  # noqa: E402 (after the check)
from kcore.clients.clientset import Clientset  # noqa: E402
from kcore.clients.dynamic import DynamicClient  # noqa: E402

__all__ = ["Clientset", "Config", "DynamicClient", "__version__", "in_cluster_config", "load_config", "load_kubeconfig"]
