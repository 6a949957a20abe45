"""client-go's names for what the generator emits: a group-version's accessor (``CoreV1`` →
``core_v1``), a resource's method (``CSIDrivers`` → ``csi_drivers``), a schema's module.

client-gen names a group-version after the first DNS label of the group ("rbac" for
rbac.authorization.k8s.io, "core" for the legacy group) and a resource after its Kind, made
plural by gengo's rules; both are turned into snake_case here.
"""

from __future__ import annotations

import re

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_VERSION = re.compile(r"^v\d+((alpha|beta)\d+)?$")

# client-gen's only exception to gengo's plural rules: Endpoints is already plural.
_PLURAL_EXCEPTIONS = {"Endpoints": "Endpoints"}


def snake_case(name: str) -> str:
    """``CSIStorageCapacity`` → ``csi_storage_capacity``: acronyms stay one word."""
    return _WORD_BOUNDARY.sub("_", name).lower()


def plural(kind: str) -> str:
    """gengo's plural namer, as client-gen uses it for resource methods."""
    if kind in _PLURAL_EXCEPTIONS:
        return _PLURAL_EXCEPTIONS[kind]
    if len(kind) < 2:
        return kind
    last, before = kind[-1], kind[-2]
    if last in "sxz" or (last == "h" and before in "cs"):
        return kind + "es"
    if last == "y":
        return kind[:-1] + "ies" if before not in "aeiou" else kind + "s"
    if last == "f" or (last == "e" and before == "f"):
        return kind.rstrip("e")[:-1] + "ves"
    return kind + "s"


def resource_method(kind: str) -> str:
    """``cs.<group_version>.<resource_method>(...)``: ``ConfigMap`` → ``config_maps``."""
    # Pluralized before the split so that an acronym's plural (``ServiceCIDRs``) stays in its word.
    plural_kind = plural(kind)
    return snake_case(kind) + plural_kind[len(kind) :] if plural_kind.startswith(kind) else snake_case(plural_kind)


def group_version_attribute(group: str, version: str) -> str:
    """``cs.<attribute>``: ``core_v1``, ``apps_v1``, ``rbac_v1``, ``flowcontrol_v1``."""
    return f"{group.split('.')[0] if group else 'core'}_{version}"


def group_version_class(group: str, version: str) -> str:
    """client-go's method name, as the class of the group-version's client: ``RbacV1``."""
    label = group.split(".")[0] if group else "core"
    return label.capitalize() + version.capitalize()


def schema_module(schema_name: str) -> str | None:
    """The types module of an OpenAPI schema, named for its Go package's last two parts:
    ``io.k8s.api.core.v1.Pod`` → ``core_v1``; ``...apis.meta.v1.ObjectMeta`` → ``meta_v1``.
    None for a schema outside a versioned API package (Quantity, IntOrString...)."""
    parts = schema_name.split(".")
    if len(parts) < 3 or not _VERSION.match(parts[-2]):
        return None
    return f"{parts[-3].replace('-', '_')}_{parts[-2]}"


def schema_class(schema_name: str) -> str:
    return schema_name.rsplit(".", 1)[1]
