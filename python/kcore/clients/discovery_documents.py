"""The discovery documents an API server serves, and reading them into discovery_types.

Two formats reach the same result:
- aggregated (``apidiscovery.k8s.io/v2`` APIGroupDiscoveryList at /api and /apis): every
  group, version and resource in two answers;
- legacy: APIVersions at /api, APIGroupList at /apis, then one APIResourceList per
  group-version (subresources listed flat, as ``pods/status``).

Aggregated answers are split into legacy documents (as client-go's SplitGroupsAndResources
does), because those are what the disk cache holds: the very files kubectl writes.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from kcore.clients.discovery_types import APIGroup, APIResource, APISubresource, group_version

ACCEPT_AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
ACCEPT_LEGACY = "application/json"

Document = dict[str, Any]


def is_aggregated(content_type: Optional[str]) -> bool:
    """Whether a Content-Type is the v2 APIGroupDiscoveryList, whatever the order of its
    parameters or what a proxy added to them."""
    base, _, rest = (content_type or "").partition(";")
    params = {}
    for part in rest.split(";"):
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return (
        base.strip().lower() == "application/json"
        and params.get("g") == "apidiscovery.k8s.io"
        and params.get("v") == "v2"
        and params.get("as") == "APIGroupDiscoveryList"
    )


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# -- aggregated (v2) -> legacy documents --------------------------------------------------------


def _kind_of(entry: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    kind = entry.get("responseKind")
    return kind if isinstance(kind, Mapping) and any(kind.get(k) for k in ("group", "version", "kind")) else None


def _legacy_resource(entry: Mapping[str, Any]) -> Optional[Document]:
    kind = _kind_of(entry)
    if kind is None or not isinstance(entry.get("resource"), str):
        return None  # client-go drops a resource without a kind
    resource: Document = {
        "name": entry["resource"],
        "singularName": entry.get("singularResource") or "",
        "namespaced": entry.get("scope") == "Namespaced",
        "kind": kind.get("kind") or "",
        "verbs": _strings(entry.get("verbs")),
    }
    if kind.get("group"):
        resource["group"] = kind["group"]
    if kind.get("version"):
        resource["version"] = kind["version"]
    for field, key in (("shortNames", "shortNames"), ("categories", "categories")):
        if _strings(entry.get(key)):
            resource[field] = _strings(entry[key])
    return resource


def _legacy_subresources(parent: Document, entry: Mapping[str, Any]) -> list[Document]:
    found = []
    for sub in entry.get("subresources") or []:
        kind = _kind_of(sub) if isinstance(sub, Mapping) else None
        if kind is None or not isinstance(sub.get("subresource"), str):
            continue
        found.append(
            {
                "name": f"{parent['name']}/{sub['subresource']}",
                "singularName": "",
                "namespaced": parent["namespaced"],
                "kind": kind.get("kind") or "",
                **({"group": kind["group"]} if kind.get("group") else {}),
                **({"version": kind["version"]} if kind.get("version") else {}),
                "verbs": _strings(sub.get("verbs")),
            }
        )
    return found


def split_aggregated(doc: Any) -> tuple[list[Document], dict[str, Document], dict[str, str]]:
    """An APIGroupDiscoveryList as legacy documents: its groups (APIGroup objects), an
    APIResourceList per group-version, and the group-versions the server marked stale (left
    out of their group, as client-go does)."""
    groups: list[Document] = []
    resources: dict[str, Document] = {}
    failed: dict[str, str] = {}
    items = _object(doc, "the APIGroupDiscoveryList").get("items")
    for item in items if isinstance(items, list) else []:
        item = _object(item, "an APIGroupDiscovery")
        name = (item.get("metadata") or {}).get("name") or ""
        versions: list[Document] = []
        for entry in item.get("versions") or []:
            version = entry.get("version") if isinstance(entry, Mapping) else None
            if not isinstance(version, str) or not version:
                continue
            gv = group_version(name, version)
            if entry.get("freshness") == "Stale":
                failed[gv] = f"stale discovery of {gv}: its API server did not answer in time"
                continue
            versions.append({"groupVersion": gv, "version": version})
            listed: list[Document] = []
            for resource_entry in entry.get("resources") or []:
                if not isinstance(resource_entry, Mapping):
                    continue
                resource = _legacy_resource(resource_entry)
                if resource is not None:
                    listed.append(resource)
                    listed += _legacy_subresources(resource, resource_entry)
            resources[gv] = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": listed}
        group: Document = {"name": name, "versions": versions}
        if versions:
            group["preferredVersion"] = versions[0]  # the server lists the preferred first
        groups.append(group)
    return groups, resources, failed


# -- legacy documents -----------------------------------------------------------------------------


def core_group(api_versions: Any) -> list[Document]:
    """The core group from /api's APIVersions (none if it lists no version)."""
    versions = _strings(_object(api_versions, "the APIVersions at /api").get("versions"))
    if not versions:
        return []
    listed = [{"groupVersion": v, "version": v} for v in versions]
    return [{"name": "", "versions": listed, "preferredVersion": listed[0]}]


def api_groups(group_list: Any) -> list[Document]:
    """The groups of /apis's APIGroupList."""
    groups = _object(group_list, "the APIGroupList at /apis").get("groups")
    return [dict(g) for g in groups if isinstance(g, Mapping)] if isinstance(groups, list) else []


def group_list_document(groups: list[Document]) -> Document:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def read_groups(doc: Any) -> tuple[APIGroup, ...]:
    groups = []
    for g in api_groups(doc):
        versions = tuple(
            v["version"]
            for v in g.get("versions") or []
            if isinstance(v, Mapping) and isinstance(v.get("version"), str)
        )
        preferred = g.get("preferredVersion")
        preferred_version = preferred.get("version") if isinstance(preferred, Mapping) else None
        if not versions:
            continue
        groups.append(
            APIGroup(
                name=str(g.get("name") or ""),
                versions=versions,
                preferred_version=str(preferred_version) if preferred_version in versions else versions[0],
            )
        )
    return tuple(groups)


def read_resources(group: str, version: str, doc: Any) -> tuple[APIResource, ...]:
    """An APIResourceList as APIResources, each with its subresources folded in."""
    entries = _object(doc, f"the APIResourceList of {group_version(group, version)}").get("resources")
    entries = (
        [e for e in entries if isinstance(e, Mapping) and isinstance(e.get("name"), str)]
        if isinstance(entries, list)
        else []
    )
    subresources: dict[str, list[APISubresource]] = {}
    for e in entries:
        parent, slash, sub = e["name"].partition("/")
        if slash:  # an empty group or version is the list's own (metav1.APIResource)
            subresources.setdefault(parent, []).append(
                APISubresource(
                    name=sub,
                    kind=str(e.get("kind") or ""),
                    group=str(e.get("group") or group),
                    version=str(e.get("version") or version),
                    verbs=tuple(_strings(e.get("verbs"))),
                )
            )
    return tuple(
        APIResource(
            name=e["name"],
            singular_name=str(e.get("singularName") or ""),
            namespaced=bool(e.get("namespaced")),
            kind=str(e.get("kind") or ""),
            group=group,
            version=version,
            verbs=tuple(_strings(e.get("verbs"))),
            short_names=tuple(_strings(e.get("shortNames"))),
            categories=tuple(_strings(e.get("categories"))),
            subresources=tuple(subresources.get(e["name"], ())),
        )
        for e in entries
        if "/" not in e["name"]
    )
