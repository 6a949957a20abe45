"""Building a benchmark's Go peer (its own module under bench/, GOWORK=off) into ~/.cache/kcore."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def build(module: Path, binary: Path, purpose: str) -> Path:
    """``go build`` of ``module`` into ``binary``; ``purpose`` says in the error what needs Go."""
    go = shutil.which("go")
    assert go, f"{purpose} needs the Go toolchain on PATH"
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=module, env={**os.environ, "GOWORK": "off"}, check=True)
    return binary
