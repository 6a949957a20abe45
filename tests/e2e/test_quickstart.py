"""The README's main command works: the quickstart runs against its own control plane."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_quickstart_sees_every_change_it_makes_through_its_watch() -> None:
    result = subprocess.run([sys.executable, "examples/quickstart.py"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    seen = result.stdout.split("the watch saw:\n", 1)[1].split()
    assert [" ".join(seen[i:i + 2]) for i in range(0, len(seen), 2)] == [
        "ADDED alpha", "ADDED beta", "ADDED gamma", "MODIFIED beta",
        "DELETED alpha", "DELETED beta", "DELETED gamma",
    ]
