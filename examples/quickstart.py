"""kcore quickstart: a real control plane on loopback; create, list, watch and delete objects.

Run with ``./dev quickstart``. It starts etcd + kube-apiserver with kcore.testenv, loads the
kubeconfig that kcore.testenv wrote, and through kcore's typed Clientset watches ConfigMaps in a
namespace while it creates, updates, lists and deletes them, then prints what the watch saw.
"""

from __future__ import annotations

import threading

import kcore
from kcore.testenv import ControlPlane

NAMESPACE = "quickstart"
NAMES = ["alpha", "beta", "gamma"]


def main() -> None:
    with ControlPlane(log=print) as cp:
        print(f"control plane {cp.release} at {cp.server}\nKUBECONFIG={cp.kubeconfig}")
        cs = kcore.Clientset(kcore.load_kubeconfig(str(cp.kubeconfig)))
        cs.core_v1.namespaces().create({"metadata": {"name": NAMESPACE}})
        configmaps = cs.core_v1.config_maps(NAMESPACE)

        # A watch "from now" (it resumes by itself if the connection breaks), read in a thread.
        watch = configmaps.watch()
        seen: list[str] = []
        expected = 2 * len(NAMES) + 1  # each created and deleted, one updated

        def read_events() -> None:
            for event_type, obj in watch:
                if event_type != "BOOKMARK":
                    seen.append(f"{event_type:<8} {obj['metadata']['name']}")
                if len(seen) == expected:
                    return

        reader = threading.Thread(target=read_events, daemon=True)
        reader.start()

        for name in NAMES:
            configmaps.create({"metadata": {"name": name}, "data": {"name": name}})
            print(f"created  {name}")
        configmaps.patch("beta", {"data": {"updated": "yes"}})
        print("updated  beta")
        print("listed  ", ", ".join(cm["metadata"]["name"] for cm in configmaps.list()["items"]))
        for name in NAMES:
            configmaps.delete(name)
            print(f"deleted  {name}")

        reader.join(30)
        watch.close()
        if len(seen) < expected:
            raise SystemExit(f"the watch saw only {len(seen)} of {expected} events")
        print("the watch saw:")
        for line in seen:
            print("  ", line)


if __name__ == "__main__":
    main()
