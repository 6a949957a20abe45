"""The README's main command works: the quickstart runs the servicelookup controller against
its own control plane (with kwok, so the pods run) and prints each mapping once converged."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def converged_mappings(output: str) -> list[dict[str, str]]:
    """Each mapping the quickstart printed after a step: pod -> its services, as printed (the
    table's rows, up to the next blank line; the controller's own log lines may come between)."""
    mappings = []
    for block in output.split("converged: pod -> services\n")[1:]:
        lines = itertools.takewhile(lambda line: line.strip(), block.splitlines())
        mappings.append(dict(line.split(None, 1) for line in lines if line.startswith("  shop/")))
    return mappings


def test_the_quickstart_runs_servicelookup_on_a_local_cluster_and_prints_each_mapping_as_it_converges() -> None:
    result = subprocess.run(
        [sys.executable, "examples/quickstart.py"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert converged_mappings(result.stdout) == [
        {"shop/db-1": "db", "shop/web-1": "frontend, web", "shop/web-2": "frontend, web"},  # created
        {"shop/db-1": "db", "shop/web-1": "frontend", "shop/web-2": "frontend, web"},  # web's selector changed
        {"shop/db-1": "db", "shop/web-1": "frontend"},  # web-2 deleted
    ], result.stdout
    assert "pods running on kwok-node-1: db-1, web-1, web-2" in result.stdout
    assert "PodToService shop/web-2: deleted (its pod is gone)" in result.stdout
