"""Pods that kwok runs, for the streaming subresources (exec, attach, port-forward)."""

from __future__ import annotations

from kcore.clients.resource import ResourceClient, ResourceInfo
from kcore.clients.rest import RESTClient
from kcore.testenv import KWOK_NODE_ANNOTATION
from tests.waiting import wait_for

PODS = ResourceInfo("", "v1", "pods", "Pod", namespaced=True)
NODES = ResourceInfo("", "v1", "nodes", "Node", namespaced=False)
NODE = "kwok-streaming"


def running_pod(core: RESTClient, namespace: str, name: str) -> ResourceClient[dict]:
    """Create pod ``name`` (one container, ``app``) on a kwok node, wait until it
    runs, and return the pods client of its namespace."""
    nodes: ResourceClient[dict] = ResourceClient(core, NODES)
    if not nodes.list(field_selector=f"metadata.name={NODE}")["items"]:
        nodes.create({"metadata": {"name": NODE, "annotations": {KWOK_NODE_ANNOTATION: "fake"}}})
    pods: ResourceClient[dict] = ResourceClient(core, PODS, namespace)
    pods.create(
        {"metadata": {"name": name}, "spec": {"nodeName": NODE, "containers": [{"name": "app", "image": "app"}]}}
    )
    assert wait_for(lambda: pods.get(name)["status"].get("phase") == "Running", timeout=60), "kwok did not run the pod"
    return pods
