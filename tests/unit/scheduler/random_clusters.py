"""Random clusters, pods and profiles for the parity tests against kube-scheduler's framework:
each case draws nodes (allocatable, labels, taints, images, unschedulable), pods already assigned
to them, one pod to place and one profile, from small pools so that matches, conflicts and ties
are frequent. Everything comes from one ``random.Random``: a seed gives the same cases."""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional

from kcore.scheduler.profile import DEFAULT_WEIGHTS, FILTERS

Obj = Dict[str, Any]

EXTENDED = "example.com/gpu"
HUGEPAGES = "hugepages-2Mi"
LABELS = {
    "zone": ["a", "b", "c"],
    "disk": ["ssd", "hdd"],
    "example.com/tier": ["gold", "silver"],
    "num": ["1", "5", "10", "42"],
}
TAINT_KEYS = ["dedicated", "gpu", "node.kubernetes.io/unschedulable", "example.com/maintenance"]
TAINT_VALUES = ["", "a", "b"]
EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
IMAGES = [
    "nginx:1.25",
    "redis",
    "busybox:latest",
    "registry.io/app:v1",
    "localhost:5000/tool",
    "docker.io/library/nginx:1.25",
]
MB = 1024 * 1024
POD_LABELS = {"app": ["web", "db"], "tier": ["front", "back"], "version": ["1", "2"]}
TOPOLOGY_KEYS = ["zone", "kubernetes.io/hostname", "disk"]
NAMESPACES = ["default", "other"]
#: Inline disks and claims from small pools, so that two pods often name the same one.
DISKS = ["disk-1", "disk-2"]
MONITORS = ["10.0.0.1:6789", "10.0.0.2:6789", "10.0.0.3:6789"]
CLAIMS = ["data", "logs", "cache"]
ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
#: The kinds whose selectors PodTopologySpread's default constraints use, with the case key and
#: apiVersion of each, and owners that are none of them.
SELECTOR_SOURCES = {
    "Service": ("services", "v1"),
    "ReplicationController": ("replicationControllers", "v1"),
    "ReplicaSet": ("replicaSets", "apps/v1"),
    "StatefulSet": ("statefulSets", "apps/v1"),
}
OTHER_OWNERS = [("apps/v1", "Deployment"), ("apps/v1beta2", "ReplicaSet"), ("batch/v1", "Job")]


class RandomClusters:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        # Volumes and claims, and the workloads (services, controllers, owners, zones), draw from
        # their own streams: the other draws stay as they were before them.
        self.volume_rng = random.Random(seed)
        self.workload_rng = random.Random(-1 - seed)
        self.uid = 0

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: List[Any]) -> Any:
        return self.rng.choice(items)

    # --- nodes ---

    def node(self, name: str) -> Obj:
        r = self.rng
        allocatable: Obj = {"pods": str(self.pick([1, 3, 5, 110, 110, 110]))}
        if self.chance(0.95):
            allocatable["cpu"] = self.pick(["1", "2", "4", "3500m", "0.5", "8", "1500m", "16", "32", "12"])
        if self.chance(0.95):
            allocatable["memory"] = self.pick(
                ["1Gi", "2Gi", "4096Mi", "3G", "512Mi", "1.5Gi", "8Gi", "16Gi", "32Gi", "24G"]
            )
        if self.chance(0.4):
            allocatable["ephemeral-storage"] = self.pick(["10Gi", "20G", "1Gi"])
        if self.chance(0.4):
            allocatable[EXTENDED] = self.pick(["0", "1", "2", "4"])
        if self.chance(0.2):
            allocatable[HUGEPAGES] = self.pick(["0", "4Mi", "1Gi"])
        labels = {"kubernetes.io/hostname": name}
        if self.workload_rng.random() < 0.6:
            labels["topology.kubernetes.io/zone"] = self.workload_rng.choice(["z1", "z2", "z3"])
        for key, values in LABELS.items():
            if self.chance(0.6):
                labels[key] = self.pick(values)
        spec: Obj = {}
        if self.chance(0.06):
            spec["unschedulable"] = True
        taints = [
            {
                "key": self.pick(TAINT_KEYS),
                "value": self.pick(TAINT_VALUES),
                "effect": self.pick([*EFFECTS, "PreferNoSchedule"]),
            }
            for _ in range(r.choice([0, 0, 0, 0, 0, 1, 1, 2]))
        ]
        if taints:
            spec["taints"] = taints
        images = [
            {"names": r.sample(IMAGES, r.choice([1, 1, 2])), "sizeBytes": r.randint(1, 2000) * MB}
            for _ in range(r.choice([0, 1, 2, 3]))
        ]
        status: Obj = {"allocatable": allocatable}
        if images:
            status["images"] = images
        return {"metadata": {"name": name, "labels": labels}, "spec": spec, "status": status}

    # --- pods ---

    def quantity(self, name: str) -> str:
        choices = {
            # Odd spellings too: rounding below a millicore or a byte happens once, on the sum.
            "cpu": [
                "0",
                "50m",
                "100m",
                "250m",
                "0.5",
                "1",
                "1500m",
                "1e-1",
                "3",
                "0.0001",
                "1.0000000001",
                "2e-4",
                "+0.2",
                "250000u",
            ],
            "memory": [
                "0",
                "64Mi",
                "128Mi",
                "256M",
                "1Gi",
                "0.5Gi",
                "1e8",
                "3Gi",
                "1k",
                "0.1Mi",
                "128974848",
                "1.5Ki",
                "500000000n",
            ],
            "ephemeral-storage": ["0", "1Gi", "5G", "12Gi"],
            EXTENDED: ["0", "1", "2", "3"],
            HUGEPAGES: ["2Mi", "4Mi", "8Mi"],
        }
        return str(self.pick(choices[name]))

    def requests(self) -> Obj:
        out: Obj = {}
        for name, p in (
            ("cpu", 0.7),
            ("memory", 0.7),
            ("ephemeral-storage", 0.15),
            (EXTENDED, 0.15),
            (HUGEPAGES, 0.05),
        ):
            if self.chance(p):
                out[name] = self.quantity(name)
        return out

    def container(self, i: int, sidecar: Optional[bool] = None) -> Obj:
        c: Obj = {"name": f"c{i}", "image": self.pick([*IMAGES, "nginx", "busybox"])}
        requests = self.requests()
        if requests or self.chance(0.3):
            c["resources"] = {"requests": requests}
        if self.chance(0.25):
            c["ports"] = [
                {
                    "containerPort": 8000 + j,
                    "hostPort": self.pick([0, 80, 443, 8080]),
                    "protocol": self.pick(["TCP", "UDP"]),
                    **({"hostIP": self.pick(["127.0.0.1", "10.0.0.1", "0.0.0.0"])} if self.chance(0.3) else {}),
                }
                for j in range(self.rng.choice([1, 2]))
            ]
        if sidecar:
            c["restartPolicy"] = "Always"
        return c

    def term(self, node_names: List[str], allow_invalid: bool) -> Obj:
        expressions = []
        for _ in range(self.rng.choice([0, 1, 1, 2])):
            key = self.pick(list(LABELS))
            op = self.pick(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"])
            if op in ("In", "NotIn"):
                values = self.rng.sample(LABELS[key], self.rng.choice([1, 2]))
            elif op in ("Gt", "Lt"):
                values = [self.pick(["0", "3", "7", "20"])]
            else:
                values = []
            if allow_invalid and self.chance(0.05):
                values = ["not a value!"] if op != "Exists" else ["x"]
            expressions.append({"key": key, "operator": op, "values": values})
        term: Obj = {}
        if expressions:
            term["matchExpressions"] = expressions
        if self.chance(0.3):
            names = [*node_names, "elsewhere"]
            term["matchFields"] = [
                {"key": "metadata.name", "operator": self.pick(["In", "In", "NotIn"]), "values": [self.pick(names)]}
                for _ in range(self.rng.choice([1, 2]))
            ]
        return term

    def pod(self, name: str, node_names: List[str], node_name: Optional[str] = None) -> Obj:
        self.uid += 1
        spec: Obj = {"containers": [self.container(i) for i in range(self.rng.choice([1, 1, 1, 2, 3]))]}
        if self.chance(0.35):
            spec["initContainers"] = [
                self.container(10 + i, sidecar=self.chance(0.5)) for i in range(self.rng.choice([1, 2, 3]))
            ]
        if self.chance(0.15):
            spec["overhead"] = {"cpu": self.pick(["10m", "250m"]), "memory": self.pick(["32Mi", "120Mi"])}
        if self.chance(0.05):
            spec["resources"] = {"requests": {"cpu": self.pick(["200m", "1"]), "memory": self.pick(["256Mi", "1Gi"])}}
        if node_name is not None:
            spec["nodeName"] = node_name
        elif self.chance(0.05):
            spec["nodeName"] = self.pick([*node_names, "elsewhere"])
        if self.chance(0.15):
            spec["nodeSelector"] = {
                k: self.pick(LABELS[k]) for k in self.rng.sample(list(LABELS), self.rng.choice([0, 1, 1, 2]))
            }
        if self.chance(0.6):
            spec["tolerations"] = [self.toleration() for _ in range(self.rng.choice([1, 2, 3]))]
        affinity: Obj = {}
        if self.chance(0.15):
            terms = [self.term(node_names, allow_invalid=True) for _ in range(self.rng.choice([1, 1, 2, 3]))]
            affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
        if self.chance(0.35):
            affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": self.pick([0, 1, 5, 50, 100]), "preference": self.term(node_names, allow_invalid=False)}
                for _ in range(self.rng.choice([0, 1, 2, 3]))
            ]
        spec_affinity: Obj = {"nodeAffinity": affinity} if affinity else {}
        for kind in ("podAffinity", "podAntiAffinity"):
            if self.chance(0.2):
                spec_affinity[kind] = self.pod_affinity(allow_invalid=node_name is not None)
        if spec_affinity:
            spec["affinity"] = spec_affinity
        volumes = []
        if self.chance(0.05):
            volumes.append({"name": "v", "image": {"reference": self.pick(IMAGES)}})
        if self.volume_rng.random() < 0.3:
            volumes += [self.volume(f"vol-{i}") for i in range(self.volume_rng.choice([1, 1, 2]))]
        if volumes:
            spec["volumes"] = volumes
        if self.chance(0.4):
            spec["topologySpreadConstraints"] = [self.spread_constraint() for _ in range(self.rng.choice([1, 1, 2, 3]))]
        metadata: Obj = {
            "name": name,
            "namespace": "default" if self.chance(0.85) else NAMESPACES[1],
            "uid": f"uid-{self.uid}",
        }
        labels = {k: self.pick(v) for k, v in POD_LABELS.items() if self.chance(0.6)}
        if labels or self.chance(0.2):
            metadata["labels"] = labels
        if node_name is not None and self.chance(0.05):
            metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        if self.workload_rng.random() < 0.5:
            metadata["ownerReferences"] = [self.owner() for _ in range(self.workload_rng.choice([1, 1, 2]))]
        pod: Obj = {"metadata": metadata, "spec": spec}
        if self.chance(0.3 if node_name is not None else 0.05):
            pod["status"] = self.status(spec)
        return pod

    def volume(self, name: str) -> Obj:
        """An inline disk (GCE PD, AWS EBS, iSCSI, RBD), maybe read-only, or a claim."""
        read_only = self.volume_rng.random() < 0.4
        kind = self.volume_rng.choice(
            ["gcePersistentDisk", "awsElasticBlockStore", "iscsi", "rbd", "persistentVolumeClaim"]
        )
        source: Obj
        if kind == "gcePersistentDisk":
            source = {"pdName": self.volume_rng.choice(DISKS), "readOnly": read_only}
        elif kind == "awsElasticBlockStore":
            source = {"volumeID": self.volume_rng.choice(DISKS), "readOnly": read_only}
        elif kind == "iscsi":
            source = {
                "targetPortal": "10.0.0.9:3260",
                "iqn": self.volume_rng.choice(DISKS),
                "lun": 0,
                "readOnly": read_only,
            }
        elif kind == "rbd":
            source = {
                "monitors": self.volume_rng.sample(MONITORS, self.volume_rng.choice([0, 1, 2])),
                "image": self.volume_rng.choice(DISKS),
                "readOnly": read_only,
            }
            if self.volume_rng.random() < 0.7:
                source["pool"] = self.volume_rng.choice(["rbd", "other"])
        else:
            source = {"claimName": self.volume_rng.choice(CLAIMS)}
        return {"name": name, kind: source}

    def owner(self) -> Obj:
        """An owner reference: mostly a controller of a kind with a selector, named like the
        generated ones (some missing), sometimes not the controller or of another kind."""
        w = self.workload_rng
        if w.random() < 0.8:
            kind = w.choice(list(SELECTOR_SOURCES)[1:])
            api_version = SELECTOR_SOURCES[kind][1]
        else:
            api_version, kind = w.choice(OTHER_OWNERS)
        return {
            "apiVersion": api_version,
            "kind": kind,
            "name": f"{kind.lower()}-{w.choice([0, 1, 2])}",
            "uid": "owner",
            "controller": w.random() < 0.85,
        }

    def selector_sources(self) -> Obj:
        """Services, ReplicationControllers, ReplicaSets and StatefulSets in each namespace,
        named <kind>-0 and <kind>-1 (when drawn), with selectors on the pods' labels (some
        empty, some absent), by case key."""
        w = self.workload_rng
        out: Obj = {key: [] for key, _ in SELECTOR_SOURCES.values()}
        for kind, (key, api_version) in SELECTOR_SOURCES.items():
            for namespace in NAMESPACES:
                for i in range(2):
                    if w.random() < 0.4:
                        continue
                    spec: Obj = {}
                    labels = {k: w.choice(v) for k, v in POD_LABELS.items() if w.random() < 0.4}
                    if kind in ("Service", "ReplicationController"):
                        if w.random() < 0.9:
                            spec["selector"] = labels
                    elif w.random() < 0.9:
                        selector: Obj = {"matchLabels": labels} if labels or w.random() < 0.5 else {}
                        if w.random() < 0.4:
                            k = w.choice(list(POD_LABELS))
                            operator = w.choice(["In", "NotIn", "Exists", "DoesNotExist"])
                            values = [w.choice(POD_LABELS[k])] if operator in ("In", "NotIn") else []
                            selector["matchExpressions"] = [{"key": k, "operator": operator, "values": values}]
                        spec["selector"] = selector
                    name = f"{kind.lower()}-{i}"
                    out[key].append(
                        {
                            "apiVersion": api_version,
                            "kind": kind,
                            "metadata": {"name": name, "namespace": namespace},
                            "spec": spec,
                        }
                    )
        return out

    def claims(self) -> List[Obj]:
        """The PersistentVolumeClaims: most of CLAIMS in each namespace (a pod may name one that
        is missing), each with random access modes."""
        return [
            {
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"accessModes": self.volume_rng.sample(ACCESS_MODES, self.volume_rng.choice([1, 1, 2]))},
            }
            for namespace in NAMESPACES
            for name in CLAIMS
            if self.volume_rng.random() < 0.9
        ]

    def affinity_term(self, allow_invalid: bool) -> Obj:
        """A pod affinity term: a selector, a topology key, maybe namespaces or a namespaceSelector."""
        term: Obj = {"topologyKey": self.pick(TOPOLOGY_KEYS)}
        selector = self.pod_selector(allow_invalid)
        if selector is not None:
            term["labelSelector"] = selector
        if self.chance(0.2):
            term["namespaces"] = self.rng.sample([*NAMESPACES, "elsewhere"], self.rng.choice([1, 2]))
        if self.chance(0.25):
            term["namespaceSelector"] = {} if self.chance(0.3) else {"matchLabels": {"team": self.pick(["a", "b"])}}
        return term

    def pod_affinity(self, allow_invalid: bool) -> Obj:
        """podAffinity or podAntiAffinity: required and preferred terms (``allow_invalid``: an
        existing pod's selector may have an operator the API does not have, which the
        scheduler's cache tolerates)."""
        out: Obj = {}
        if self.chance(0.5):
            out["requiredDuringSchedulingIgnoredDuringExecution"] = [
                self.affinity_term(allow_invalid) for _ in range(self.rng.choice([1, 1, 2]))
            ]
        if self.chance(0.6):
            out["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": self.pick([1, 5, 50, 100]), "podAffinityTerm": self.affinity_term(allow_invalid)}
                for _ in range(self.rng.choice([1, 2]))
            ]
        return out

    def namespaces(self) -> List[Obj]:
        """The cluster's namespaces, labelled for namespaceSelector; sometimes one is unknown."""
        return [
            {"metadata": {"name": n, "labels": {"team": self.pick(["a", "b"])} if self.chance(0.8) else {}}}
            for n in NAMESPACES
            if self.chance(0.9)
        ]

    def pod_selector(self, allow_invalid: bool = True) -> Optional[Obj]:
        """A label selector that selects some of the pods: absent, empty, by labels, by
        expressions (rarely with an operator the API does not have)."""
        if self.chance(0.1):
            return None
        selector: Obj = {}
        if self.chance(0.6):
            selector["matchLabels"] = {
                k: self.pick(POD_LABELS[k]) for k in self.rng.sample(list(POD_LABELS), self.rng.choice([1, 1, 2]))
            }
        if self.chance(0.4):
            expressions = []
            for _ in range(self.rng.choice([1, 2])):
                key = self.pick(list(POD_LABELS))
                op = self.pick(
                    ["In", "NotIn", "Exists", "DoesNotExist"] + (["Gt"] if allow_invalid and self.chance(0.05) else [])
                )
                values = self.rng.sample(POD_LABELS[key], self.rng.choice([1, 2])) if op in ("In", "NotIn") else []
                expressions.append({"key": key, "operator": op, "values": values})
            selector["matchExpressions"] = expressions
        return selector

    def spread_constraint(self) -> Obj:
        c: Obj = {
            "maxSkew": self.pick([1, 1, 1, 2, 3]),
            "topologyKey": self.pick(TOPOLOGY_KEYS),
            "whenUnsatisfiable": self.pick(["DoNotSchedule", "ScheduleAnyway"]),
        }
        selector = self.pod_selector()
        if selector is not None:
            c["labelSelector"] = selector
        if self.chance(0.2):
            c["minDomains"] = self.pick([1, 2, 3, 5])
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            if self.chance(0.25):
                c[policy] = self.pick(["Honor", "Ignore"])
        if self.chance(0.2):
            c["matchLabelKeys"] = self.rng.sample([*list(POD_LABELS), "pod-template-hash"], self.rng.choice([1, 2]))
        return c

    def status(self, spec: Obj) -> Obj:
        """What a kubelet reports, mid-resize or after one: each container's allocated and actual
        requests (the spec's or others), a PodResizePending condition, pod-level ones."""

        def reported(c: Obj) -> Obj:
            s: Obj = {"name": c["name"]}
            spec_requests = c.get("resources", {}).get("requests", {})
            if self.chance(0.6):
                s["allocatedResources"] = spec_requests if self.chance(0.5) else self.requests()
            if self.chance(0.6):
                s["resources"] = (
                    {"requests": spec_requests if self.chance(0.5) else self.requests()} if self.chance(0.8) else {}
                )
            return s

        status: Obj = {}
        for key, containers in (
            ("containerStatuses", spec["containers"]),
            ("initContainerStatuses", spec.get("initContainers", [])),
        ):
            reports = [reported(c) for c in containers if self.chance(0.7)]
            if reports:
                status[key] = reports
        if self.chance(0.3):
            status["conditions"] = [{"type": "Ready", "status": "True"}] if self.chance(0.3) else []
            status["conditions"].append(
                {"type": "PodResizePending", "status": "True", "reason": self.pick(["Infeasible", "Deferred"])}
            )
        if "resources" in spec:
            if self.chance(0.5):
                status["resources"] = {"requests": self.requests()} if self.chance(0.8) else {}
            if self.chance(0.5):
                status["allocatedResources"] = self.requests()
        return status

    def toleration(self) -> Obj:
        op = self.pick(["Equal", "Exists", ""])
        t: Obj = {"operator": op} if op else {}
        if op != "Exists" or self.chance(0.7):
            t["key"] = self.pick(TAINT_KEYS)
        if op != "Exists":
            t["value"] = self.pick(TAINT_VALUES)
        effect = self.pick(["", "NoSchedule", "PreferNoSchedule", "NoExecute"])
        if effect:
            t["effect"] = effect
        return t

    # --- profiles ---

    def profile(self) -> Obj:
        """{"filters": [...], "scores": [{"name", "weight"}], "pluginConfig": [{"name", "args"}]}."""
        filters = list(FILTERS)  # every plugin kcore has, in kube-scheduler's default order
        weights = dict(DEFAULT_WEIGHTS)
        if self.chance(0.5):
            filters = [f for f in filters if self.chance(0.8)]
            self.rng.shuffle(filters)
            weights = {n: self.rng.randint(0, 5) for n in weights if self.chance(0.8)}
        config: List[Obj] = []
        strategy = self.pick(["default", "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"])
        if strategy != "default":
            s: Obj = {"type": strategy}
            if self.chance(0.5):
                resources = [
                    {"name": "cpu", "weight": self.rng.randint(1, 5)},
                    {"name": "memory", "weight": self.rng.randint(0, 5)},
                ]
                resources += [
                    {"name": n, "weight": self.rng.randint(1, 5)}
                    for n in ("ephemeral-storage", EXTENDED, HUGEPAGES)
                    if self.chance(0.4)
                ]
                s["resources"] = resources
            if strategy == "RequestedToCapacityRatio":
                points = sorted(self.rng.sample(range(0, 101), self.rng.choice([1, 2, 3])))
                s["requestedToCapacityRatio"] = {
                    "shape": [{"utilization": u, "score": self.rng.randint(0, 10)} for u in points]
                }
            args: Obj = {"scoringStrategy": s}
            if self.chance(0.2):
                args["ignoredResources"] = [EXTENDED]
            config.append({"name": "NodeResourcesFit", "args": args})
        if self.chance(0.3):
            names = ["cpu", "memory"] + [n for n in ("ephemeral-storage", EXTENDED) if self.chance(0.5)]
            config.append(
                {
                    "name": "NodeResourcesBalancedAllocation",
                    "args": {"resources": [{"name": n, "weight": 1} for n in names]},
                }
            )
        return {
            "filters": filters,
            "scores": [{"name": n, "weight": w} for n, w in weights.items()],
            "pluginConfig": config,
        }

    def case(self, nodes: Optional[int] = None) -> Obj:
        """One case; ``nodes`` fixes the cluster's size (else 1 to 12)."""
        names = [f"node-{i}" for i in range(nodes or self.rng.randint(1, 12))]
        nodes = [self.node(n) for n in names]
        pods = [
            self.pod(f"p{self.uid}-{j}", names, node_name=n)
            for n in names
            for j in range(self.rng.choice([0, 0, 1, 1, 2, 4]))
        ]
        return {
            "namespaces": self.namespaces(),
            "persistentVolumeClaims": self.claims(),
            **self.selector_sources(),
            "nodes": nodes,
            "pods": pods,
            "pod": self.pod("incoming", names),
            "profile": self.profile(),
        }
