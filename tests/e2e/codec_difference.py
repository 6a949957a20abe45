"""Where two decoded JSON values differ, for failure messages that point at the field."""

from __future__ import annotations

from typing import Any


def difference(got: Any, want: Any, path: str = "") -> str | None:
    """Where two decoded values first differ (None when equal, types included)."""
    if type(got) is not type(want):
        return f"{path or '.'}: {got!r:.200} != {want!r:.200}"
    if isinstance(want, dict):
        for k in sorted(set(got) | set(want)):
            if k not in got:
                return f"{path}.{k}: missing, want {want[k]!r:.200}"
            if k not in want:
                return f"{path}.{k}: unexpected {got[k]!r:.200}"
            d = difference(got[k], want[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if len(got) != len(want):
            return f"{path}: {len(got)} items, want {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            d = difference(g, w, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if got == want else f"{path or '.'}: {got!r:.200} != {want!r:.200}"
