"""bench/README.md holds one section per benchmark; each run rewrites only its own."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).with_name("README.md")


def write_section(section: tuple[str, str], text: str) -> None:
    """Replace the text between the ``section`` markers (appended if they are not there yet)."""
    start, end = section
    old = (
        README.read_text()
        if README.exists()
        else "# Benchmarks\n\nRun with `./dev bench` (all) or `python -m bench NAME`.\n"
    )
    block = f"{start}\n{text}\n{end}"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) :]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(new)
