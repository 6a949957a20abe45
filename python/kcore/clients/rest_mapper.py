"""RESTMapper: kinds to resources and back, from one discovery (client-go's DiscoveryRESTMapper
under its PriorityRESTMapper, with kubectl's short names and argument parsing).

    mapper = RESTMapper(discovery.server_apis())
    mapper.resource_for("apps", "Deployment")      # ResourceInfo(group="apps", version="v1", resource="deployments", ...)
    mapper.kind_for(None, "po")                   # pods in any group: core v1 Pod
    mapper.resolve("deployment.v1.apps")          # as kubectl reads its arguments

When several versions (or groups) match, the priority is client-go's: core v1 first, then each
group in discovery order, its preferred version before its others. Subresources never match.
A name nothing matches raises ``kcore.errors.NoMatchError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from kcore.clients.discovery_types import APIResource, ServerAPIs, group_version
from kcore.clients.resource import ResourceInfo
from kcore.errors import NoMatchError


@dataclass(frozen=True)
class _Entry:
    info: ResourceInfo
    singular: str
    short_names: tuple[str, ...]
    rank: int  # the group-version's place in the priority order: lower wins


def _singular(resource: APIResource) -> str:
    # An empty singularName is guessed from the kind, as client-go's UnsafeGuessKindToResource does.
    return resource.singular_name or resource.kind.lower()


def _priority(apis: ServerAPIs) -> list[str]:
    """Group-versions with resources, best first: core v1, then per group the preferred version
    and the group's others in the server's order (client-go's resource/kind priority)."""
    order = ["v1"]
    for g in apis.groups:
        versions = [g.preferred_version] + [v for v in g.versions if v != g.preferred_version]
        order += [group_version(g.name, v) for v in versions if group_version(g.name, v) in apis.resources]
    return list(dict.fromkeys(order))


def _describe(what: str, name: str, group: Optional[str], version: Optional[str]) -> str:
    if group is None:
        where = f" in version {version!r}" if version else ""
    else:
        where = f" in {group_version(group, version)!r}" if version else f" in group {group!r}"
    return f"the server has no {what} {name!r}{where}"


class RESTMapper:
    """Immutable: built from one ``ServerAPIs``; after the server changes (a new CRD), build a
    new one from a fresh discovery."""

    def __init__(self, apis: ServerAPIs) -> None:
        rank = {gv: i for i, gv in enumerate(_priority(apis))}
        entries = [
            _Entry(
                ResourceInfo(r.group, r.version, r.name, r.kind, r.namespaced), _singular(r), r.short_names, rank[gv]
            )
            for gv, resources in apis.resources.items()
            if gv in rank
            for r in resources
        ]
        # Discovery order among equals: a stable sort keeps it.
        self._entries = sorted(entries, key=lambda e: e.rank)

    def _best(self, matches: Callable[[_Entry], bool]) -> Optional[ResourceInfo]:
        return next((e.info for e in self._entries if matches(e)), None)

    def _expand_short_name(self, group: Optional[str], resource: str) -> tuple[Optional[str], str]:
        """kubectl's shortcut expansion: a name that is some resource's plural or singular stays
        as it is; else the first resource with it as a short name (in the group, if given),
        else one whose group starts with the given group."""

        def in_group(e: _Entry) -> bool:
            return group is None or e.info.group == group

        if any(in_group(e) and resource in (e.info.resource, e.singular) for e in self._entries):
            return group, resource
        found = self._best(lambda e: in_group(e) and resource in e.short_names)
        if found is None and group:
            found = self._best(lambda e: e.info.group.startswith(group) and resource in e.short_names)
        return (found.group, found.resource) if found else (group, resource)

    def kind_for(self, group: Optional[str], resource: str, version: Optional[str] = None) -> ResourceInfo:
        """The resource named ``resource`` (plural, singular or short name; any case) in
        ``group`` ("" is the core group, None any group), in ``version`` if given, else the
        best version by priority. A group given in part matches the groups it begins
        (``deployments`` in "app" is apps'), as client-go's mapper allows."""
        if not resource:
            raise ValueError("a resource name is required")
        group, name = self._expand_short_name(group, resource.lower())

        def named(e: _Entry, exact_group: bool = True) -> bool:
            return (
                name in (e.info.resource, e.singular)
                and (version is None or e.info.version == version)
                and (group is None or (e.info.group == group if exact_group else e.info.group.startswith(group)))
            )

        found = self._best(named)
        if found is None and group and version is None:
            found = self._best(lambda e: named(e, exact_group=False))
        if found is None:
            raise NoMatchError(_describe("resource", resource, group, version))
        return found

    def resource_for(self, group: str, kind: str, version: Optional[str] = None) -> ResourceInfo:
        """The resource of ``kind`` (as written, or all lower case) in ``group`` ("" is the
        core group), in ``version`` if given, else the best version by priority."""
        if not kind:
            raise ValueError("a kind is required")
        found = self._best(
            lambda e: (
                e.info.group == group
                and kind in (e.info.kind, e.info.kind.lower())
                and (version is None or e.info.version == version)
            )
        )
        if found is None:
            raise NoMatchError(_describe("kind", kind, group, version))
        return found

    def resolve(self, arg: str) -> ResourceInfo:
        """A resource as kubectl reads it: ``pods``, ``po``, ``pod``, ``deployments.apps``,
        ``deploy.apps``, ``deployment.v1.apps``, or a kind: ``Deployment``, ``Deployment.apps``,
        ``Deployment.v1.apps``."""
        if not arg or not arg.strip(".") or arg != arg.strip():
            raise ValueError(f"not a resource or kind: {arg!r}")
        name, _, group = arg.partition(".")
        # kubectl's order: resource.version.group, resource.group, Kind.version.group, Kind.group.
        attempts: list[Callable[[], ResourceInfo]] = []
        if arg.count(".") >= 2:
            first, version, full_group = arg.split(".", 2)
            attempts.append(lambda: self.kind_for(full_group, first, version))
        attempts.append(lambda: self.kind_for(group or None, name))
        if arg.count(".") >= 2:
            attempts.append(lambda: self.resource_for(full_group, first, version))
        attempts.append(lambda: self.resource_for(group, name))
        for attempt in attempts:
            try:
                return attempt()
            except NoMatchError:
                continue
        raise NoMatchError(f"the server doesn't have a resource type {name!r}")
