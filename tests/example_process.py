"""An example (examples/*.py) run as its own process against a control plane's kubeconfig, as a
user would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from kcore.testenv import ControlPlane

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def example_process(script: str, plane: ControlPlane, *args: str) -> Iterator[Callable[[], str]]:
    """Start ``examples/<script>`` with KUBECONFIG set to the plane's; yields ``stop()``, which
    sends SIGTERM, waits for the exit, checks it was 0 and returns what the process printed. The
    process is killed if the block leaves without stopping it."""
    env = {
        **os.environ,
        "KUBECONFIG": str(plane.kubeconfig),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "python"), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, f"examples/{script}", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def stop() -> str:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        return output

    try:
        yield stop
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
