"""Objects for the codec parity tests: together they carry every special type the protobuf
codec renders (times, micro-times, quantities, int-or-strings, raw extensions, field sets,
apiextensions JSON and schema unions, bytes, maps), empty vs absent lists and maps, unicode
and integers past 2**53."""

from __future__ import annotations

import base64
from typing import Any

UNICODE = "h\u00e9llo \u2713 \u4e16\u754c \U0001f600"
BIG = 2**53 + 1  # not representable as a float: must stay an exact int
BINARY = base64.b64encode(bytes(range(256))).decode()
GROUP = "parity.kcore.dev"


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "labels": {"app": "parity", "tier": "t-1"}, "annotations": {"note": UNICODE}, **extra}


def pod_spec() -> dict[str, Any]:
    return {
        "containers": [
            {
                "name": "app",
                "image": "registry.example/app:1.2.3",
                "command": ["/app"],
                "args": ["--flag", UNICODE],
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [
                    {"name": "PLAIN", "value": UNICODE},
                    {"name": "EMPTY", "value": ""},
                    {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {
                        "name": "LIMIT",
                        "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
                    },
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "1.5", "memory": "1Gi"},
                },
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
                "readinessProbe": {"tcpSocket": {"port": "http"}, "initialDelaySeconds": 0},
                "volumeMounts": [
                    {"name": "scratch", "mountPath": "/tmp"},
                    {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True},
                ],
                "securityContext": {
                    "runAsNonRoot": False,
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "initContainers": [{"name": "init", "image": "busybox", "command": ["true"], "resources": {}}],
        "volumes": [
            {"name": "scratch", "emptyDir": {"sizeLimit": "500Mi"}},
            {
                "name": "cfg",
                "configMap": {"name": "parity-data", "defaultMode": 0o644, "items": [{"key": "text", "path": "t"}]},
            },
            {
                "name": "api",
                "projected": {
                    "sources": [
                        {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}
                    ]
                },
            },
        ],
        "nodeSelector": {},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": BIG}],
        "activeDeadlineSeconds": 2**31 - 1,
        "terminationGracePeriodSeconds": 0,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}
                    ]
                }
            }
        },
        "restartPolicy": "Always",
    }


def template_spec() -> dict[str, Any]:
    """A pod spec for workload templates, which may not set a deadline."""
    return {k: v for k, v in pod_spec().items() if k != "activeDeadlineSeconds"}


def template() -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "parity"}}, "spec": template_spec()}


def namespaced(ns: str) -> list[tuple[str, dict[str, Any]]]:
    """(collection path, body) for objects in namespace `ns`."""
    api = f"/api/v1/namespaces/{ns}"
    apis = lambda gv, plural: f"/apis/{gv}/namespaces/{ns}/{plural}"  # noqa: E731
    selector = {"matchLabels": {"app": "parity"}}
    return [
        (
            f"{api}/configmaps",
            {"metadata": meta("parity-data"), "data": {"text": UNICODE, "empty": ""}, "binaryData": {"bin": BINARY}},
        ),
        (f"{api}/configmaps", {"metadata": meta("parity-empty-map"), "data": {}}),
        (f"{api}/configmaps", {"metadata": {"name": "parity-bare"}}),
        (
            f"{api}/secrets",
            {
                "metadata": meta("parity-secret"),
                "type": "Opaque",
                "data": {"bin": BINARY, "none": ""},
                "stringData": {"s": UNICODE},
            },
        ),
        (f"{api}/pods", {"metadata": meta("parity-pod"), "spec": pod_spec()}),
        (
            f"{api}/services",
            {
                "metadata": meta("parity-svc"),
                "spec": {
                    "selector": {},
                    "ports": [
                        {"name": "http", "port": 80, "targetPort": "http"},
                        {"name": "alt", "port": 81, "targetPort": 8081, "protocol": "UDP"},
                    ],
                },
            },
        ),
        (
            f"{api}/resourcequotas",
            {
                "metadata": meta("parity-quota"),
                "spec": {
                    "hard": {
                        "pods": "10",
                        "requests.cpu": "1500m",
                        "requests.memory": "1Gi",
                        "count/configmaps": "9223372036854775807",
                    }
                },
            },
        ),
        (
            f"{api}/limitranges",
            {
                "metadata": meta("parity-limits"),
                "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "max": {"memory": "2Gi"}}]},
            },
        ),
        (f"{api}/serviceaccounts", {"metadata": meta("parity-sa"), "automountServiceAccountToken": False}),
        (
            f"{api}/persistentvolumeclaims",
            {
                "metadata": meta("parity-pvc"),
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            },
        ),
        (
            f"{api}/replicationcontrollers",
            {
                "metadata": meta("parity-rc"),
                "spec": {"replicas": 0, "selector": {"app": "parity"}, "template": template()},
            },
        ),
        (f"{api}/podtemplates", {"metadata": meta("parity-podtemplate"), "template": template()}),
        (
            apis("apps/v1", "deployments"),
            {
                "metadata": meta("parity-deploy"),
                "spec": {
                    "replicas": 2,
                    "selector": selector,
                    "template": template(),
                    "revisionHistoryLimit": 3,
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                },
            },
        ),
        (
            apis("apps/v1", "statefulsets"),
            {
                "metadata": meta("parity-sts"),
                "spec": {
                    "serviceName": "parity-svc",
                    "selector": selector,
                    "template": template(),
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data"},
                            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
                        }
                    ],
                },
            },
        ),
        (
            apis("apps/v1", "daemonsets"),
            {
                "metadata": meta("parity-ds"),
                "spec": {
                    "selector": selector,
                    "template": template(),
                    "updateStrategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": "10%", "maxSurge": 0},
                    },
                },
            },
        ),
        (
            apis("apps/v1", "controllerrevisions"),
            {
                "metadata": meta("parity-rev"),
                "revision": BIG,
                "data": {"spec": {"template": {"nested": [1, 2.5, None, True, {"deep": UNICODE}]}}},
            },
        ),
        (
            apis("batch/v1", "jobs"),
            {
                "metadata": meta("parity-job"),
                "spec": {
                    "template": {**template(), "spec": {**template_spec(), "restartPolicy": "Never"}},
                    "backoffLimit": 2,
                    "ttlSecondsAfterFinished": 100,
                    "suspend": True,
                },
            },
        ),
        (
            apis("batch/v1", "cronjobs"),
            {
                "metadata": meta("parity-cron"),
                "spec": {
                    "schedule": "*/5 * * * *",
                    "timeZone": "Etc/UTC",
                    "startingDeadlineSeconds": BIG,
                    "suspend": False,
                    "jobTemplate": {
                        "spec": {"template": {**template(), "spec": {**template_spec(), "restartPolicy": "OnFailure"}}}
                    },
                },
            },
        ),
        (
            apis("autoscaling/v2", "horizontalpodautoscalers"),
            {
                "metadata": meta("parity-hpa"),
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "parity-deploy"},
                    "minReplicas": 1,
                    "maxReplicas": 5,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                        },
                        {
                            "type": "Resource",
                            "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}},
                        },
                    ],
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": 300,
                            "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
                        }
                    },
                },
            },
        ),
        (
            apis("policy/v1", "poddisruptionbudgets"),
            {"metadata": meta("parity-pdb"), "spec": {"minAvailable": "50%", "selector": selector}},
        ),
        (
            apis("policy/v1", "poddisruptionbudgets"),
            {"metadata": meta("parity-pdb-int"), "spec": {"maxUnavailable": 1, "selector": selector}},
        ),
        (
            apis("networking.k8s.io/v1", "networkpolicies"),
            {
                "metadata": meta("parity-netpol"),
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"ports": [{"port": 8080, "endPort": 8090}, {"port": "http", "protocol": "TCP"}]}],
                },
            },
        ),
        (
            apis("coordination.k8s.io/v1", "leases"),
            {
                "metadata": meta("parity-lease"),
                "spec": {
                    "holderIdentity": UNICODE,
                    "leaseDurationSeconds": 15,
                    "acquireTime": "2026-05-01T12:00:00.123456Z",
                    "renewTime": "2026-05-01T12:00:10.000001Z",
                    "leaseTransitions": 0,
                },
            },
        ),
        (
            apis("events.k8s.io/v1", "events"),
            {
                "metadata": meta("parity-event"),
                "eventTime": "2026-05-01T12:00:00.654321Z",
                "series": {"count": 2, "lastObservedTime": "2026-05-01T12:01:00.000000Z"},
                "reportingController": "kcore.dev/parity",
                "reportingInstance": "parity-1",
                "action": "Testing",
                "reason": "Parity",
                "type": "Normal",
                "note": UNICODE,
                "regarding": {"kind": "Pod", "namespace": ns, "name": "parity-pod", "apiVersion": "v1"},
            },
        ),
        (
            f"{api}/events",
            {
                "metadata": meta("parity-core-event"),
                "involvedObject": {"kind": "Pod", "namespace": ns, "name": "parity-pod"},
                "reason": "Parity",
                "message": UNICODE,
                "type": "Warning",
                "count": 3,
                "source": {"component": "parity"},
                "firstTimestamp": "2026-05-01T12:00:00Z",
                "lastTimestamp": "2026-05-01T12:05:00Z",
            },
        ),
        (apis("rbac.authorization.k8s.io/v1", "roles"), {"metadata": meta("parity-role-empty"), "rules": []}),
        (
            apis("rbac.authorization.k8s.io/v1", "roles"),
            {
                "metadata": meta("parity-role"),
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"], "resourceNames": ["a"]}],
            },
        ),
        (
            apis("rbac.authorization.k8s.io/v1", "rolebindings"),
            {
                "metadata": meta("parity-rb"),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "parity-role"},
            },
        ),
        (
            apis("discovery.k8s.io/v1", "endpointslices"),
            {
                "metadata": meta("parity-slice"),
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": ["10.1.2.3"], "conditions": {"ready": False, "serving": True}},
                    {"addresses": ["10.1.2.4"], "conditions": {}},
                ],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            },
        ),
        (
            apis(f"{GROUP}/v1", "widgets"),
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "Widget",
                "metadata": meta("parity-widget"),
                "spec": {"size": 4, "free": {"anything": [1, {"x": None}]}},
            },
        ),
    ]


def cluster(suffix: str) -> list[tuple[str, dict[str, Any]]]:
    """(collection path, body) for cluster-scoped objects; names end in `suffix`."""
    return [
        (
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            {
                "metadata": meta(f"parity-{suffix}"),
                "value": 1_000_000_000,
                "globalDefault": False,
                "description": UNICODE,
                "preemptionPolicy": "Never",
            },
        ),
        (
            "/apis/storage.k8s.io/v1/storageclasses",
            {
                "metadata": meta(f"parity-{suffix}"),
                "provisioner": "kcore.dev/none",
                "parameters": {"type": "fast", "unicode": UNICODE},
                "allowVolumeExpansion": True,
                "mountOptions": ["ro"],
                "reclaimPolicy": "Retain",
            },
        ),
        (
            "/api/v1/persistentvolumes",
            {
                "metadata": meta(f"parity-{suffix}"),
                "spec": {
                    "capacity": {"storage": "10Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "hostPath": {"path": "/tmp/pv"},
                    "persistentVolumeReclaimPolicy": "Retain",
                },
            },
        ),
        (
            "/api/v1/nodes",
            {
                "metadata": meta(f"parity-{suffix}"),
                "spec": {
                    "podCIDR": "10.244.0.0/24",
                    "podCIDRs": ["10.244.0.0/24"],
                    "taints": [
                        {"key": "k", "value": "v", "effect": "NoSchedule"},
                        {"key": "t", "effect": "NoExecute", "timeAdded": "2026-05-01T12:00:00Z"},
                    ],
                },
            },
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            {
                "metadata": meta(f"parity-{suffix}"),
                "webhooks": [
                    {
                        "name": "parity.kcore.dev",
                        "clientConfig": {"url": "https://hook.invalid/mutate", "caBundle": BINARY},
                        "rules": [
                            {
                                "apiGroups": [GROUP],
                                "apiVersions": ["*"],
                                "operations": ["CREATE"],
                                "resources": ["gadgets"],
                            }
                        ],
                        "admissionReviewVersions": ["v1"],
                        "sideEffects": "None",
                        "failurePolicy": "Ignore",
                        "timeoutSeconds": 5,
                    }
                ],
            },
        ),
        (
            "/apis/resource.k8s.io/v1/deviceclasses",
            {
                "metadata": meta(f"parity-{suffix}"),
                "spec": {"selectors": [{"cel": {"expression": "device.driver == 'parity.kcore.dev'"}}]},
            },
        ),
        (
            "/apis/resource.k8s.io/v1/resourceslices",
            {
                "metadata": meta(f"parity-{suffix}"),
                "spec": {
                    "driver": "parity.kcore.dev",
                    "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
                    "allNodes": True,
                    "devices": [
                        {
                            "name": "d0",
                            "attributes": {
                                "model": {"string": UNICODE},
                                "count": {"int": BIG},
                                "ok": {"bool": True},
                                "v": {"version": "1.2.3"},
                            },
                            "capacity": {"memory": {"value": "16Gi"}},
                        }
                    ],
                },
            },
        ),
    ]


def widget_crd() -> dict[str, Any]:
    """A CRD whose schema uses apiextensions JSON (default, enum, example) and the schema unions."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}", "annotations": {"note": UNICODE}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {
                        "status": {},
                        "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"},
                    },
                    "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {
                                            "type": "integer",
                                            "default": 3,
                                            "minimum": 1,
                                            "maximum": 10,
                                            "multipleOf": 1,
                                        },
                                        "mode": {
                                            "type": "string",
                                            "enum": ["a", "b", UNICODE],
                                            "default": "a",
                                            "example": "b",
                                        },
                                        "ratio": {
                                            "type": "number",
                                            "maximum": 1.5,
                                            "exclusiveMaximum": True,
                                            "minimum": 0,
                                        },
                                        "tags": {
                                            "type": "array",
                                            "items": {"type": "string"},
                                            "x-kubernetes-list-type": "set",
                                            "maxItems": 10,
                                        },
                                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                        "port": {
                                            "x-kubernetes-int-or-string": True,
                                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                                        },
                                        "obj": {
                                            "type": "object",
                                            "default": {"a": [1, 2], "b": {}},
                                            "properties": {
                                                "a": {"type": "array", "items": {"type": "integer"}},
                                                "b": {"type": "object"},
                                            },
                                        },
                                    },
                                    "x-kubernetes-validations": [{"rule": "self.size <= 10", "message": UNICODE}],
                                },
                                "status": {"type": "object", "properties": {"size": {"type": "integer"}}},
                            },
                        }
                    },
                }
            ],
        },
    }
