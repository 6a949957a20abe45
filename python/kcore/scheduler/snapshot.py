"""The scheduler's view of the cluster: nodes and the pods assigned to them, kept up to date one
change at a time (kube-scheduler's cache and its snapshot)."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Union

from kcore import _core
from kcore.codec import CompactObject

Object = Union[CompactObject, Mapping[str, Any]]


class Snapshot:
    """Nodes and their pods, held in Rust. Pods and nodes are compact objects or mappings.

    A pod is keyed by its ``metadata.uid`` (``namespace/name`` when it has none). A pod may name
    a node the snapshot does not have yet: it counts there once the node is added, as in
    kube-scheduler's cache; until then the scheduler does not see that node.
    """

    __slots__ = ("_core",)

    def __init__(
        self,
        nodes: Optional[List[Object]] = None,
        pods: Optional[List[Object]] = None,
        namespaces: Optional[List[Object]] = None,
        persistent_volume_claims: Optional[List[Object]] = None,
    ) -> None:
        self._core = _core.Snapshot()
        for namespace in namespaces or ():
            self.set_namespace(namespace)
        for claim in persistent_volume_claims or ():
            self.set_persistent_volume_claim(claim)
        for node in nodes or ():
            self.add_node(node)
        for pod in pods or ():
            self.add_pod(pod)

    def add_node(self, node: Object) -> None:
        """Adds a node; ValueError if one of that name is already here."""
        self._core.add_node(node)

    def update_node(self, node: Object) -> None:
        """Replaces the node of that name; KeyError if there is none."""
        self._core.update_node(node)

    def remove_node(self, name: str) -> None:
        """Removes the node; its pods stay counted until removed. KeyError if there is none."""
        self._core.remove_node(name)

    def add_pod(self, pod: Object) -> None:
        """Adds a pod bound to the node its ``spec.nodeName`` names."""
        self._core.add_pod(pod)

    def remove_pod(self, pod: Object) -> None:
        """Removes a pod (by its uid, else namespace/name); KeyError if it is not here."""
        self._core.remove_pod(pod)

    def assume_pod(self, pod: Object, node_name: str) -> None:
        """Counts ``pod`` on ``node_name`` before it is bound there (kube-scheduler's assume)."""
        self._core.add_pod(pod, node_name)

    def forget_pod(self, pod: Object) -> None:
        """Undoes ``assume_pod`` (the binding failed)."""
        self._core.remove_pod(pod)

    def set_namespace(self, namespace: Object) -> None:
        """Adds or replaces a namespace: its labels are what pod affinity's namespaceSelector
        selects on."""
        self._core.set_namespace(namespace)

    def remove_namespace(self, name: str) -> None:
        """Removes a namespace; KeyError if there is none."""
        self._core.remove_namespace(name)

    def set_persistent_volume_claim(self, claim: Object) -> None:
        """Adds or replaces a PersistentVolumeClaim: VolumeRestrictions reads its access modes
        (ReadWriteOncePod), and a pod naming a claim the snapshot lacks fits no node, as in
        kube-scheduler."""
        self._core.set_persistent_volume_claim(claim)

    def remove_persistent_volume_claim(self, namespace: str, name: str) -> None:
        """Removes a PersistentVolumeClaim; KeyError if there is none."""
        self._core.remove_persistent_volume_claim(namespace, name)

    def set_selector_source(self, kind: str, obj: Object) -> None:
        """Adds or replaces a Service, ReplicationController, ReplicaSet or StatefulSet
        (``kind``): PodTopologySpread's default constraints select the pods that the services
        selecting a pod, and its controller, select."""
        self._core.set_selector_source(kind, obj)

    def remove_selector_source(self, kind: str, namespace: str, name: str) -> None:
        """Removes one; KeyError if there is none."""
        self._core.remove_selector_source(kind, namespace, name)

    def node_names(self) -> List[str]:
        """The nodes, sorted by name."""
        return self._core.node_names()

    def node_order(self) -> List[str]:
        """The nodes in the order the scheduler walks them, kube-scheduler's node tree: grouped
        by zone (the topology zone and region labels), zones in the order they first appeared,
        each zone's nodes in the order they arrived, one node from each zone in turn."""
        return self._core.node_order()

    def pod_keys(self, node_name: str) -> List[str]:
        """The keys of the pods counted on ``node_name``, sorted."""
        return self._core.pod_keys(node_name)

    def node_usage(self, node_name: str) -> Dict[str, Dict[str, int]]:
        """``allocatable``, ``requested`` and ``non_zero_requested`` of the node as the
        scheduler counts them: cpu in millicores, the rest in units, ``pods`` as a count."""
        return self._core.node_usage(node_name)

    def __len__(self) -> int:
        return len(self._core)
