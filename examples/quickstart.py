"""kcore quickstart: a real control plane on loopback; create, list, watch and delete objects.

Run with ``./dev quickstart``. It starts etcd + kube-apiserver with kcore.testenv, watches
ConfigMaps in a namespace while it creates, updates, lists and deletes them, and prints what it
saw. kcore's own clients are on their way (see the issues); until then this speaks plain HTTPS
with the credentials of the kubeconfig that kcore.testenv wrote.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from typing import Any, Optional

from kcore.testenv import ControlPlane

NAMESPACE = "quickstart"


class Cluster:
    """Just enough HTTPS to talk to the API server as the kubeconfig's user."""

    def __init__(self, kubeconfig: dict[str, Any]) -> None:
        cluster = kubeconfig["clusters"][0]["cluster"]
        host, port = cluster["server"].removeprefix("https://").split(":")
        self.address = (host, int(port))
        self.context = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.headers = {"Authorization": f"Bearer {kubeconfig['users'][0]['user']['token']}",
                        "Accept": "application/json", "Content-Type": "application/json"}

    def open(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPSConnection(*self.address, context=self.context, timeout=30)
        conn.request(method, path, json.dumps(body) if body is not None else None, self.headers)
        return conn.getresponse()

    def call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        response = self.open(method, path, body)
        result: dict[str, Any] = json.loads(response.read())
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {result.get('message')}")
        return result


def watch(cluster: Cluster, resource_version: str, seen: list[str], expected: int, done: threading.Event) -> None:
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps?watch=true&resourceVersion={resource_version}"
    stream = cluster.open("GET", path)
    while len(seen) < expected:
        line = stream.readline()  # the JSON watch stream from the API server: one event a line
        if not line:
            break
        event = json.loads(line)
        seen.append(f"{event['type']:<8} {event['object']['metadata']['name']}")
    stream.close()
    done.set()


def main() -> None:
    with ControlPlane(log=print) as cp:
        print(f"control plane {cp.release} at {cp.server}\nKUBECONFIG={cp.kubeconfig}")
        cluster = Cluster(json.loads(cp.kubeconfig.read_text()))
        print("server version:", cluster.call("GET", "/version")["gitVersion"])
        cluster.call("POST", "/api/v1/namespaces", {"metadata": {"name": NAMESPACE}})
        configmaps = f"/api/v1/namespaces/{NAMESPACE}/configmaps"

        start = cluster.call("GET", configmaps)["metadata"]["resourceVersion"]
        seen: list[str] = []
        done = threading.Event()
        names = ["alpha", "beta", "gamma"]
        watcher = threading.Thread(target=watch, args=(cluster, start, seen, 2 * len(names) + 1, done), daemon=True)
        watcher.start()

        for name in names:
            cluster.call("POST", configmaps, {"metadata": {"name": name}, "data": {"name": name}})
            print(f"created  {name}")
        beta = cluster.call("GET", f"{configmaps}/beta")
        beta["data"]["updated"] = "yes"
        cluster.call("PUT", f"{configmaps}/beta", beta)
        print("updated  beta")
        listed = cluster.call("GET", configmaps)
        print("listed  ", ", ".join(item["metadata"]["name"] for item in listed["items"]))
        for name in names:
            cluster.call("DELETE", f"{configmaps}/{name}")
            print(f"deleted  {name}")

        if not done.wait(30):
            raise SystemExit(f"the watch saw only {len(seen)} events")
        print("the watch saw:")
        for line in seen:
            print("  ", line)


if __name__ == "__main__":
    main()
