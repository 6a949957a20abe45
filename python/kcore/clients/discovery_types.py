"""What discovery finds on an API server: its groups and each group-version's resources.

Small frozen dataclasses, the same whichever way they were discovered (aggregated or legacy,
from the server or a cache). Subresources (``pods/status``, ``deployments/scale``) hang off
their resource rather than sitting beside it, so nothing that lists resources meets them by
accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping


def group_version(group: str, version: str) -> str:
    """``"apps/v1"``, or ``"v1"`` for the core group."""
    return f"{group}/{version}" if group else version


@dataclass(frozen=True)
class APIGroup:
    """A group and its versions in the server's order of preference."""

    name: str  # "" is the core group
    versions: tuple[str, ...]
    preferred_version: str


@dataclass(frozen=True)
class APISubresource:
    """e.g. ``status`` of pods, or ``scale`` of deployments (kind Scale in autoscaling/v1).
    ``group``/``version`` are those of its kind; the server leaves them empty when they are the
    parent's, and they are filled in here so that ``scale`` and ``status`` read alike."""

    name: str
    kind: str
    group: str
    version: str
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class APIResource:
    """A resource served at ``group``/``version``, e.g. ``deployments`` in apps/v1."""

    name: str
    singular_name: str
    namespaced: bool
    kind: str
    group: str
    version: str
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[APISubresource, ...] = ()

    def subresource(self, name: str) -> "APISubresource | None":
        return next((s for s in self.subresources if s.name == name), None)


@dataclass(frozen=True)
class ServerAPIs:
    """One discovery of a server. ``resources`` is keyed by group-version (``"v1"``,
    ``"apps/v1"``); ``failed`` names the group-versions that could not be discovered and why
    (e.g. an aggregated API server that is down), the rest being complete."""

    groups: tuple[APIGroup, ...]
    resources: Mapping[str, tuple[APIResource, ...]]
    failed: Mapping[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "resources", MappingProxyType(dict(self.resources)))
        object.__setattr__(self, "failed", MappingProxyType(dict(self.failed)))

    def group(self, name: str) -> "APIGroup | None":
        return next((g for g in self.groups if g.name == name), None)
