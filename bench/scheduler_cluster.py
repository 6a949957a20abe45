"""The cluster bench/scheduler.py schedules into, and the pods it schedules, drawn from one seed.

Nodes: a few machine types over three zones (labels as a cloud provider sets them: hostname,
zone, region, instance type, node pool); spot nodes tainted PreferNoSchedule, database and GPU
pools tainted NoSchedule, a few nodes cordoned; each node lists the images its kubelet has.
Pods: on every node three DaemonSet pods (one with a host port) and the rest from a few hundred
Deployments in twenty namespaces, each Deployment with its own requests (some none), some an
init container, tolerations, preferred or required anti-affinity, zone spread or a host port.
Pending pods: plain, best-effort, node selector, required and preferred node affinity,
tolerations, a GPU, required and preferred pod (anti-)affinity, topology spread, a host port,
a large pod, an init container.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, List, Tuple

Obj = Dict[str, Any]

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
#: (instance type, pool, allocatable cpu, memory, share of the nodes)
MACHINES = [
    ("m6i.2xlarge", "general", "7910m", "29Gi", 0.30),
    ("m6i.4xlarge", "general", "15890m", "59Gi", 0.38),
    ("m6i.8xlarge", "general", "31850m", "120Gi", 0.10),
    ("m6i.4xlarge", "spot", "15890m", "59Gi", 0.12),
    ("r6i.4xlarge", "database", "15890m", "122Gi", 0.06),
    ("g5.4xlarge", "gpu", "15890m", "59Gi", 0.04),
]
POOL_TAINTS = {
    "spot": {"key": "spot", "value": "true", "effect": "PreferNoSchedule"},
    "database": {"key": "dedicated", "value": "database", "effect": "NoSchedule"},
    "gpu": {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
}
GPU = "nvidia.com/gpu"
CORDONED = 0.01
PODS_PER_NODE = 30
DEPLOYMENTS = 400
NAMESPACES = [f"team-{i:02d}" for i in range(20)]
MB = 1024 * 1024
CPU_REQUESTS = ["50m", "100m", "100m", "200m", "250m", "250m", "500m", "1"]
MEMORY_REQUESTS = ["64Mi", "128Mi", "256Mi", "256Mi", "512Mi", "1Gi", "2Gi"]


def images(rng: random.Random) -> List[Tuple[str, int]]:
    """The image pool: name and size."""
    out = [
        (f"registry.example.com/{ns}/service-{i}:v{rng.randint(1, 40)}", rng.randint(20, 900) * MB)
        for i, ns in enumerate(NAMESPACES * 4)
    ]
    return [*out, ("docker.io/library/nginx:1.27", 70 * MB), ("docker.io/library/redis:7", 45 * MB)]


def daemon_sets() -> List[Obj]:
    """The pod specs every node runs: kube-proxy, a node exporter on host port 9100, a log shipper."""
    everything = [{"operator": "Exists"}]

    def spec(name: str, image: str, requests: Obj, ports: List[Obj]) -> Obj:
        container: Obj = {"name": name, "image": image, "resources": {"requests": requests}}
        if ports:
            container["ports"] = ports
        return {"containers": [container], "tolerations": everything}

    return [
        spec("kube-proxy", "registry.k8s.io/kube-proxy:v1.37.2", {"cpu": "100m"}, []),
        spec(
            "node-exporter",
            "quay.io/prometheus/node-exporter:v1.9.0",
            {"cpu": "10m", "memory": "32Mi"},
            [{"containerPort": 9100, "hostPort": 9100, "protocol": "TCP"}],
        ),
        spec("fluent-bit", "cr.fluentbit.io/fluent/fluent-bit:3.2", {"cpu": "50m", "memory": "100Mi"}, []),
    ]


DAEMON_IMAGES = [
    ("registry.k8s.io/kube-proxy:v1.37.2", 30 * MB),
    ("quay.io/prometheus/node-exporter:v1.9.0", 25 * MB),
    ("cr.fluentbit.io/fluent/fluent-bit:3.2", 40 * MB),
]


class Deployment:
    """A workload's pod template, its namespace and labels, and whether a node may run two."""

    def __init__(self, rng: random.Random, index: int, pool: List[Tuple[str, int]]) -> None:
        self.name = f"app-{index:03d}"
        self.namespace = NAMESPACES[index % len(NAMESPACES)]
        self.labels = {"app": self.name, "pod-template-hash": f"{rng.getrandbits(32):08x}"}
        self.image = rng.choice(pool)[0]
        self.one_per_node = False
        self.gpus = False
        selector = {"matchLabels": {"app": self.name}}
        container: Obj = {"name": "main", "image": self.image}
        if rng.random() < 0.9:  # the rest are best-effort
            container["resources"] = {
                "requests": {"cpu": rng.choice(CPU_REQUESTS), "memory": rng.choice(MEMORY_REQUESTS)}
            }
        spec: Obj = {"containers": [container]}
        if rng.random() < 0.15:
            spec["initContainers"] = [
                {"name": "migrate", "image": self.image, "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}}
            ]
        kind = rng.random()
        if kind < 0.03:
            self.one_per_node = True
            spec["affinity"] = {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}
                    ]
                }
            }
        elif kind < 0.15:
            spec["affinity"] = {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"},
                        }
                    ]
                }
            }
        elif kind < 0.30:
            spec["topologySpreadConstraints"] = [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": selector,
                }
            ]
        elif kind < 0.32:
            self.one_per_node = True
            container["ports"] = [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]
        tolerate = rng.random()
        if tolerate < 0.30:
            spec["tolerations"] = [{"key": "spot", "operator": "Equal", "value": "true", "effect": "PreferNoSchedule"}]
        elif tolerate < 0.36:
            spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "database"}]
            spec["nodeSelector"] = {"node-pool": "database"}
        elif tolerate < 0.40:
            spec["tolerations"] = [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}]
            spec["nodeSelector"] = {"node-pool": "gpu"}
            container.setdefault("resources", {}).setdefault("requests", {})[GPU] = "1"
            self.one_per_node = self.gpus = True
        elif tolerate < 0.46:  # infrastructure agents run anywhere
            spec["tolerations"] = [{"operator": "Exists"}]
        self.spec = spec

    def tolerates(self, node: Obj) -> bool:
        """Whether the Deployment's pods tolerate the node's NoSchedule taints and match its selector."""
        tolerations = self.spec.get("tolerations", [])
        labels = node["metadata"]["labels"]
        if any(labels.get(k) != v for k, v in self.spec.get("nodeSelector", {}).items()):
            return False
        return all(
            any(
                (t.get("operator") == "Exists" and not t.get("key")) or t.get("key") == taint["key"]
                for t in tolerations
            )
            for taint in node["spec"].get("taints", [])
            if taint["effect"] == "NoSchedule"
        )


class Cluster:
    """``nodes`` nodes with PODS_PER_NODE pods each, their namespaces, and ``pending`` pods to place."""

    def __init__(self, nodes: int, pending: int, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.rng = rng
        pool = images(rng)
        self.deployments = [Deployment(rng, i, pool) for i in range(DEPLOYMENTS)]
        self.namespaces = [{"metadata": {"name": ns, "labels": {"team": ns}}} for ns in NAMESPACES] + [
            {"metadata": {"name": "kube-system", "labels": {}}}
        ]
        self.nodes: List[Obj] = []
        self.pods: List[Obj] = []
        daemons = daemon_sets()
        for i in range(nodes):
            node = self.node(f"node-{i:05d}")
            name = node["metadata"]["name"]
            for spec in daemons:
                self.pods.append(self.pod(f"{spec['containers'][0]['name']}-{i:05d}", "kube-system", {}, spec, name))
            placed = self.place(node)
            for j, deployment in enumerate(placed):
                self.pods.append(
                    self.pod(
                        f"{deployment.name}-{i:05d}-{j}", deployment.namespace, deployment.labels, deployment.spec, name
                    )
                )
            running = {d.image for d in placed}
            known = [img for img in pool if img[0] in running] + rng.sample(pool, 5) + DAEMON_IMAGES
            node["status"]["images"] = [
                {"names": [f"{image.split(':')[0]}@sha256:{rng.getrandbits(128):032x}", image], "sizeBytes": size}
                for image, size in dict(known).items()
            ]
            self.nodes.append(node)
        self.pending = [self.pending_pod(k) for k in range(pending)]

    def node(self, name: str) -> Obj:
        rng = self.rng
        instance, pool, cpu, memory, _ = rng.choices(MACHINES, weights=[m[4] for m in MACHINES])[0]
        zone = rng.choice(ZONES)
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": instance,
            "topology.kubernetes.io/region": "us-east-1",
            "topology.kubernetes.io/zone": zone,
            "node-pool": pool,
        }
        allocatable = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "95Gi"}
        if pool == "gpu":
            allocatable[GPU] = "4"
        spec: Obj = {"taints": [POOL_TAINTS[pool]] if pool in POOL_TAINTS else []}
        if rng.random() < CORDONED:
            spec["unschedulable"] = True
            spec["taints"].append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
        return {"metadata": {"name": name, "labels": labels}, "spec": spec, "status": {"allocatable": allocatable}}

    def place(self, node: Obj) -> List[Deployment]:
        """The Deployments whose pods run on ``node``: as many distinct ones as fit the count (at
        most two that use a GPU), then repeats of those a node may run twice."""
        fitting = [d for d in self.deployments if d.tolerates(node)]
        gpus = [d for d in fitting if d.gpus]
        fitting = [d for d in fitting if not d.gpus] + self.rng.sample(gpus, min(2, len(gpus)))
        count = PODS_PER_NODE - len(daemon_sets())
        chosen = self.rng.sample(fitting, min(count, len(fitting)))
        repeatable = [d for d in fitting if not d.one_per_node]
        return chosen + self.rng.choices(repeatable, k=count - len(chosen))

    @staticmethod
    def pod(name: str, namespace: str, labels: Obj, spec: Obj, node: str) -> Obj:
        # The spec's parts are shared between the pods of one template (they are only read).
        return {
            "metadata": {"name": name, "namespace": namespace, "uid": f"{namespace}/{name}", "labels": labels},
            "spec": {**spec, "nodeName": node},
        }

    def pending_pod(self, k: int) -> Obj:
        """The k-th pod to place: one of PENDING's kinds in turn, about a Deployment drawn anew."""
        kind, make = PENDING[k % len(PENDING)]
        deployment = self.rng.choice([d for d in self.deployments if not d.spec.get("nodeSelector")])
        spec = make(deployment)
        labels = {**deployment.labels, "bench-kind": kind}
        return {
            "metadata": {
                "name": f"pending-{k:02d}",
                "namespace": deployment.namespace,
                "uid": f"pending-{k}",
                "labels": labels,
            },
            "spec": spec,
        }


def requests(cpu: str, memory: str) -> Obj:
    return {"resources": {"requests": {"cpu": cpu, "memory": memory}}}


def container(image: str, cpu: str = "500m", memory: str = "1Gi") -> Obj:
    return {"name": "main", "image": image, **requests(cpu, memory)}


def same_app(d: Deployment) -> Obj:
    """A label selector of the Deployment's pods."""
    return {"matchLabels": {"app": d.name}}


def term(d: Deployment, key: str) -> Obj:
    """A pod affinity term: the Deployment's pods, in the same ``key`` domain."""
    return {"labelSelector": same_app(d), "topologyKey": key}


HOSTNAME, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"

#: The kinds of pending pod: a name (the table's) and the spec for a Deployment's next pod.
PENDING: List[Tuple[str, Callable[[Deployment], Obj]]] = [
    ("plain", lambda d: {"containers": [container(d.image)]}),
    ("best-effort", lambda d: {"containers": [{"name": "main", "image": d.image}]}),
    (
        "node selector",
        lambda d: {
            "containers": [container(d.image)],
            "nodeSelector": {ZONE: "us-east-1b", "node-pool": "general"},
        },
    ),
    (
        "node affinity",
        lambda d: {
            "containers": [container(d.image)],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": ZONE, "operator": "In", "values": ZONES[:2]},
                                    {"key": "node-pool", "operator": "NotIn", "values": ["spot"]},
                                ]
                            }
                        ]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 50,
                            "preference": {
                                "matchExpressions": [
                                    {
                                        "key": "node.kubernetes.io/instance-type",
                                        "operator": "In",
                                        "values": ["m6i.8xlarge"],
                                    }
                                ]
                            },
                        },
                        {
                            "weight": 10,
                            "preference": {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [ZONES[0]]}]},
                        },
                    ],
                }
            },
        },
    ),
    (
        "spot toleration",
        lambda d: {
            "containers": [container(d.image, "250m", "512Mi")],
            "tolerations": [{"key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"}],
            "affinity": {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "preference": {
                                "matchExpressions": [{"key": "node-pool", "operator": "In", "values": ["spot"]}]
                            },
                        }
                    ]
                }
            },
        },
    ),
    (
        "GPU",
        lambda d: {
            "containers": [
                {"name": "main", "image": d.image, "resources": {"requests": {"cpu": "2", "memory": "8Gi", GPU: "1"}}}
            ],
            "tolerations": [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}],
        },
    ),
    (
        "required anti-affinity",
        lambda d: {
            "containers": [container(d.image)],
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term(d, HOSTNAME)]}},
        },
    ),
    (
        "preferred anti-affinity",
        lambda d: {
            "containers": [container(d.image)],
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": term(d, HOSTNAME)},
                        {"weight": 20, "podAffinityTerm": term(d, ZONE)},
                    ]
                }
            },
        },
    ),
    (
        "required pod affinity",
        lambda d: {
            "containers": [container(d.image, "100m", "128Mi")],
            "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term(d, HOSTNAME)]}},
        },
    ),
    (
        "zone spread",
        lambda d: {
            "containers": [container(d.image)],
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": same_app(d)},
                {
                    "maxSkew": 1,
                    "topologyKey": HOSTNAME,
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": same_app(d),
                },
            ],
        },
    ),
    (
        "host port",
        lambda d: {
            "containers": [
                {**container(d.image), "ports": [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]}
            ]
        },
    ),
    ("large", lambda d: {"containers": [container(d.image, "12", "48Gi")]}),
    (
        "init container",
        lambda d: {
            "initContainers": [{"name": "setup", "image": d.image, **requests("2", "512Mi")}],
            "containers": [
                container(d.image, "250m", "256Mi"),
                {"name": "proxy", "image": "docker.io/library/nginx:1.27"},
            ],
        },
    ),
]
