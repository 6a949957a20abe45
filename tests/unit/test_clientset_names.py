"""The generator names group-versions and resources as client-go's clientset does (the
expected names are client-go v0.37.2's, e.g. ``CSIDrivers()`` → ``csi_drivers``)."""

from __future__ import annotations

import pytest

from tools.clientset_gen.names import group_version_attribute, group_version_class, resource_method, schema_module


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("Pod", "pods"),
        ("ConfigMap", "config_maps"),
        ("Endpoints", "endpoints"),
        ("EndpointSlice", "endpoint_slices"),
        ("IngressClass", "ingress_classes"),
        ("NetworkPolicy", "network_policies"),
        ("ComponentStatus", "component_statuses"),
        ("CSIDriver", "csi_drivers"),
        ("CSIStorageCapacity", "csi_storage_capacities"),
        ("APIService", "api_services"),
        ("ServiceCIDR", "service_cidrs"),
        ("IPAddress", "ip_addresses"),
        ("ReplicaSet", "replica_sets"),
        ("VolumeAttributesClass", "volume_attributes_classes"),
        ("HorizontalPodAutoscaler", "horizontal_pod_autoscalers"),
        ("Lease", "leases"),
        ("DeviceClass", "device_classes"),
    ],
)
def test_a_resource_method_is_the_snake_case_of_client_gos_plural_kind(kind: str, method: str) -> None:
    assert resource_method(kind) == method


@pytest.mark.parametrize(
    ("group", "version", "attribute", "client_go"),
    [
        ("", "v1", "core_v1", "CoreV1"),
        ("apps", "v1", "apps_v1", "AppsV1"),
        ("rbac.authorization.k8s.io", "v1", "rbac_v1", "RbacV1"),
        ("flowcontrol.apiserver.k8s.io", "v1", "flowcontrol_v1", "FlowcontrolV1"),
        ("admissionregistration.k8s.io", "v1alpha1", "admissionregistration_v1alpha1", "AdmissionregistrationV1alpha1"),
        ("internal.apiserver.k8s.io", "v1alpha1", "internal_v1alpha1", "InternalV1alpha1"),
    ],
)
def test_a_group_version_is_named_for_the_first_label_of_its_group(
    group: str, version: str, attribute: str, client_go: str
) -> None:
    assert (group_version_attribute(group, version), group_version_class(group, version)) == (attribute, client_go)


def test_a_schema_lives_in_the_module_of_its_go_package() -> None:
    assert schema_module("io.k8s.api.core.v1.Pod") == "core_v1"
    assert schema_module("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta") == "meta_v1"
    assert schema_module("io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIService") == "apiregistration_v1"
    assert schema_module("io.k8s.apimachinery.pkg.api.resource.Quantity") is None
