"""``python -m tools.clientset_gen`` (``./dev codegen-clientset``): start a control plane of the
pinned release and regenerate the Clientset and its TypedDicts from what it serves."""

from __future__ import annotations

from kcore import load_kubeconfig
from kcore.testenv import ControlPlane
from tools.clientset_gen.generate import APISERVER_ARGS, generate, write


def main() -> None:
    with ControlPlane(apiserver_args=APISERVER_ARGS) as control_plane:
        files = generate(load_kubeconfig(str(control_plane.kubeconfig)))
    write(files)
    print(f"wrote {len(files)} files")


if __name__ == "__main__":
    main()
