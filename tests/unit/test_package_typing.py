"""kcore ships py.typed: its own code must type-check against its stubs (including _core.pyi),
or users' type checkers inherit the mistakes."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "kcore"


def test_mypy_finds_no_error_in_the_kcore_package() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(Path(tempfile.gettempdir()) / "kcore-mypy-package-cache"),
            "--hide-error-context",
            str(PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
