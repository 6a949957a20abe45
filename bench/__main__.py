"""``python -m bench [NAME ...]``: run the named benchmarks (all when none is named).

Each benchmark is a module ``bench/<name>.py`` with ``main(argv) -> int``; it prints its table
and rewrites its own section of bench/README.md.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    """The modules that are benchmarks (they define ``main``), not their helpers."""
    here = Path(__file__).parent
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if not m.name.startswith("_") and "\ndef main(" in (here / f"{m.name}.py").read_text()
    )


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        print(f"== bench {name}", flush=True)
        status |= importlib.import_module(f"bench.{name}").main([a for a in argv if a.startswith("-")])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
