"""One replica of a manager, as its own process, for tests/e2e/test_manager.py:

    python -m tests.e2e.manager_replica KUBECONFIG NAMESPACE LEASE IDENTITY

It runs a Manager electing its leader on the Lease NAMESPACE/LEASE (4 / 3 / 0.5 s, released on
cancel) with one controller of the namespace's ConfigMaps that prints ``reconciled <key>`` for
each key; it stops on SIGTERM (the manager's own handler) and prints ``exited`` once run()
returned, or ``error <type>`` if it raised.
"""

from __future__ import annotations

import sys

from kcore import load_kubeconfig
from kcore.controller import LeaderElectionOptions, Manager


def main(kubeconfig: str, namespace: str, lease: str, identity: str) -> int:
    manager = Manager(
        load_kubeconfig(kubeconfig),
        namespace=namespace,
        metrics_address=None,
        health_address=None,
        leader_election=LeaderElectionOptions(
            namespace,
            lease,
            identity=identity,
            lease_duration=4.0,
            renew_deadline=3.0,
            retry_period=0.5,
            release_on_cancel=True,
        ),
    )
    manager.controller("replica", lambda key: print("reconciled", key, flush=True)).for_(
        manager.informers.core_v1.config_maps()
    )
    try:
        manager.run()
    except Exception as error:
        print("error", type(error).__name__, flush=True)
        return 1
    print("exited", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
