"""Building a Go parity driver (a Go module under tests/) once: the binary is cached in
~/.cache/kcore under a digest of the module's sources, so a later run, in this process or
another, builds nothing until go.mod, go.sum or a .go file changes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path

CACHE = Path.home() / ".cache" / "kcore"

_lock = threading.Lock()


def source_hash(module: Path) -> str:
    """A digest of the module's sources (go.mod, go.sum, *.go)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in module.iterdir() if p.name in ("go.mod", "go.sum") or p.suffix == ".go"):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_go_driver(module: Path, purpose: str) -> Path:
    """The binary of the Go module at ``module``, built with GOWORK=off if no binary of these
    sources is cached yet; ``purpose`` says in the error what needs Go."""
    binary = CACHE / f"{module.name}-{source_hash(module)}"
    with _lock:
        if binary.exists():
            return binary
        go = shutil.which("go")
        assert go, f"{purpose} needs the Go toolchain on PATH"
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = binary.with_name(f"{binary.name}.{os.getpid()}.tmp")  # renamed: a running driver is unharmed
        done = subprocess.run(
            [go, "build", "-o", str(tmp), "."],
            cwd=module,
            env={**os.environ, "GOWORK": "off"},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"go build in {module} failed:\n{done.stderr}"
        os.replace(tmp, binary)
        return binary
