"""CustomResourceDefinitions for end-to-end tests: each test gets a group of its own, so tests
never see each other's custom resources; the CRD is deleted afterwards."""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from kcore import Config
from kcore.clients import RESTClient


@dataclass(frozen=True)
class Widgets:
    """A namespaced ``widgets`` resource (kind Widget, short name ``wdg``) in ``group``, served
    at v1 with a status subresource and at v1beta1, v1 the storage (and so preferred) version."""

    group: str
    plural: str = "widgets"
    kind: str = "Widget"

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"


def _definition(widgets: Widgets) -> dict:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    version = lambda name, storage: {  # noqa: E731
        "name": name,
        "served": True,
        "storage": storage,
        "schema": schema,
        "subresources": {"status": {}},
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": widgets.name},
        "spec": {
            "group": widgets.group,
            "scope": "Namespaced",
            "names": {
                "plural": widgets.plural,
                "singular": "widget",
                "kind": widgets.kind,
                "shortNames": ["wdg"],
                "categories": ["kcore-test"],
            },
            "versions": [version("v1", True), version("v1beta1", False)],
        },
    }


@contextmanager
def widgets_crd(config: Config, *, wait_established: bool = True) -> Iterator[Widgets]:
    """Create the CRD (and wait until the server serves it); delete it on the way out."""
    widgets = Widgets(group=f"t{uuid.uuid4().hex[:8]}.kcore.test")
    crds = RESTClient(config, group="apiextensions.k8s.io", protobuf=False)
    crds.post().resource("customresourcedefinitions").body(_definition(widgets)).do()
    try:
        deadline = time.monotonic() + 30
        while wait_established:
            crd = crds.get().resource("customresourcedefinitions").name(widgets.name).do()
            conditions = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") == "True":
                break
            assert time.monotonic() < deadline, f"CRD {widgets.name} not Established in 30 s: {conditions}"
            time.sleep(0.1)
        yield widgets
    finally:
        crds.delete().resource("customresourcedefinitions").name(widgets.name).do()
