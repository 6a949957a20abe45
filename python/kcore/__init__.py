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

from typing import TYPE_CHECKING, Any

from kcore.config import Config, in_cluster_config, load_config, load_kubeconfig

if TYPE_CHECKING:
    from kcore.clients.clientset import Clientset
    from kcore.clients.dynamic import DynamicClient

_LAZY = {"Clientset": "kcore.clients.clientset", "DynamicClient": "kcore.clients.dynamic"}


def __getattr__(name: str) -> Any:
    # The clients (and the Clientset's hundreds of TypedDicts) load on first use, so a program
    # that only needs, say, kcore.workqueue does not pay for them at import.
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kcore' has no attribute {name!r}")


__all__ = ["Clientset", "Config", "DynamicClient", "__version__", "in_cluster_config", "load_config", "load_kubeconfig"]
