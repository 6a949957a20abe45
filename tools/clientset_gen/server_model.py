"""What the generator reads from a running kube-apiserver: its version, the OpenAPI v3 schemas
of every group-version it serves, and its discovery (resources, kinds, scopes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from kcore import Config
from kcore.clients import APIResource, Discovery, RESTClient


@dataclass(frozen=True)
class GroupVersionModel:
    group: str
    version: str
    resources: tuple[APIResource, ...]
    kind_schemas: Mapping[str, str]  # kind -> OpenAPI schema name


@dataclass(frozen=True)
class ServerModel:
    release: str  # gitVersion, e.g. v1.37.2
    schemas: Mapping[str, Mapping[str, Any]]  # every group-version's, merged
    group_versions: tuple[GroupVersionModel, ...]  # in discovery's order


def _openapi_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _without_kinds(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "x-kubernetes-group-version-kind"}


def read_server(config: Config) -> ServerModel:
    rest = RESTClient(config, protobuf=False)

    def get_json(path: str) -> Any:
        request = rest.get()
        request.abs_path(path).header("accept", "application/json")
        return json.loads(request.do_raw())

    apis = Discovery(RESTClient(config, transport=rest.transport)).server_apis()
    if apis.failed:
        raise RuntimeError(f"discovery failed for {dict(apis.failed)}")
    served = get_json("/openapi/v3")["paths"]
    schemas: dict[str, Mapping[str, Any]] = {}
    group_versions = []
    for group in apis.groups:
        for version in group.versions:
            path = _openapi_path(group.name, version)
            if path not in served:
                raise RuntimeError(f"the server serves {path} but publishes no OpenAPI v3 for it")
            doc_schemas = get_json(served[path]["serverRelativeURL"])["components"]["schemas"]
            for name, schema in doc_schemas.items():
                # Each document lists only its own group-version-kinds (DeleteOptions...): the rest must agree.
                if _without_kinds(schemas.setdefault(name, schema)) != _without_kinds(schema):
                    raise RuntimeError(f"{name} differs between OpenAPI documents (seen again in {path})")
            kinds = {
                gvk["kind"]: name
                for name, schema in doc_schemas.items()
                for gvk in schema.get("x-kubernetes-group-version-kind", ())
                if (gvk["group"], gvk["version"]) == (group.name, version)
            }
            key = f"{group.name}/{version}" if group.name else version
            group_versions.append(GroupVersionModel(group.name, version, apis.resources[key], kinds))
    return ServerModel(get_json("/version")["gitVersion"], schemas, tuple(group_versions))
