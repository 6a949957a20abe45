//! The parts of a v1.Pod the scheduler reads, taken once from the object.
use super::read::{boolean, field, int, list, resource_list, string, string_map, strings, Read};
use super::resources::ResourceList;
use super::volume::Volume;
use crate::informer::view::View;
use std::collections::{BTreeMap, HashMap};

/// A container port with a host port (others do not take a port on the node).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct HostPort {
    pub(crate) ip: String,
    pub(crate) protocol: String,
    pub(crate) port: i64,
}

#[derive(Clone, Debug)]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) requests: ResourceList,
    pub(crate) host_ports: Vec<HostPort>,
    /// An init container with restartPolicy Always: a sidecar.
    pub(crate) restartable: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Toleration {
    pub(crate) key: String,
    pub(crate) operator: String,
    pub(crate) value: String,
    pub(crate) effect: String,
}

/// A v1.NodeSelectorRequirement as written.
#[derive(Clone, Debug)]
pub(crate) struct SelectorRequirement {
    pub(crate) key: String,
    pub(crate) operator: String,
    pub(crate) values: Vec<String>,
}

/// A v1.NodeSelectorTerm as written.
#[derive(Clone, Debug, Default)]
pub(crate) struct SelectorTerm {
    pub(crate) match_expressions: Vec<SelectorRequirement>,
    pub(crate) match_fields: Vec<SelectorRequirement>,
}

/// A metav1.LabelSelector as written.
#[derive(Clone, Debug, Default)]
pub(crate) struct LabelSelectorSpec {
    pub(crate) match_labels: BTreeMap<String, String>,
    pub(crate) match_expressions: Vec<SelectorRequirement>,
}

/// A v1.TopologySpreadConstraint as written (absent pointers as None).
#[derive(Clone, Debug)]
pub(crate) struct SpreadConstraint {
    pub(crate) max_skew: i64,
    pub(crate) topology_key: String,
    pub(crate) when_unsatisfiable: String,
    pub(crate) label_selector: Option<LabelSelectorSpec>,
    pub(crate) min_domains: Option<i64>,
    pub(crate) node_affinity_policy: Option<String>,
    pub(crate) node_taints_policy: Option<String>,
    pub(crate) match_label_keys: Vec<String>,
}

/// A v1.PodAffinityTerm as written.
#[derive(Clone, Debug)]
pub(crate) struct AffinityTermSpec {
    pub(crate) label_selector: Option<LabelSelectorSpec>,
    pub(crate) namespaces: Vec<String>,
    pub(crate) namespace_selector: Option<LabelSelectorSpec>,
    pub(crate) topology_key: String,
}

/// podAffinity or podAntiAffinity: the required terms and the (weight, term) preferred ones.
#[derive(Clone, Debug, Default)]
pub(crate) struct PodAffinitySpec {
    pub(crate) required: Vec<AffinityTermSpec>,
    pub(crate) preferred: Vec<(i64, AffinityTermSpec)>,
}

/// What the kubelet reports for a container (status.containerStatuses / initContainerStatuses):
/// the requests it allocated, and those in effect (resources.requests).
#[derive(Clone, Debug, Default)]
pub(crate) struct ContainerStatus {
    pub(crate) name: String,
    pub(crate) allocated: Option<ResourceList>,
    pub(crate) actual: Option<ResourceList>,
}

#[derive(Clone, Debug)]
pub(crate) struct Pod {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) uid: String,
    pub(crate) labels: HashMap<String, String>,
    /// metadata.deletionTimestamp is set: the pod is going and no longer counts for spreading.
    pub(crate) deleting: bool,
    /// The first owner reference with controller: true, as (apiVersion, kind, name).
    pub(crate) controller: Option<(String, String, String)>,
    pub(crate) node_name: String,
    pub(crate) containers: Vec<Container>,
    pub(crate) init_containers: Vec<Container>,
    pub(crate) overhead: Option<ResourceList>,
    pub(crate) pod_level_requests: Option<ResourceList>,
    pub(crate) node_selector: Option<BTreeMap<String, String>>,
    pub(crate) tolerations: Vec<Toleration>,
    /// nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution: None when not set; Some
    /// with its terms (maybe none) when set.
    pub(crate) required_node_affinity: Option<Vec<SelectorTerm>>,
    /// nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution: (weight, term); None when not set.
    pub(crate) preferred_node_affinity: Option<Vec<(i64, SelectorTerm)>>,
    pub(crate) spread_constraints: Vec<SpreadConstraint>,
    /// spec.affinity.podAffinity and podAntiAffinity: None when not set.
    pub(crate) pod_affinity: Option<PodAffinitySpec>,
    pub(crate) pod_anti_affinity: Option<PodAffinitySpec>,
    /// The references of the pod's image volumes.
    pub(crate) image_volumes: Vec<String>,
    /// spec.volumes, in order, as VolumeRestrictions reads them.
    pub(crate) volumes: Vec<Volume>,
    /// status.containerStatuses, then status.initContainerStatuses.
    pub(crate) container_statuses: Vec<ContainerStatus>,
    /// A PodResizePending condition with reason Infeasible.
    pub(crate) resize_infeasible: bool,
    /// status.resources is set; with status.resources.requests (pod level).
    pub(crate) status_resources: bool,
    pub(crate) status_requests: Option<ResourceList>,
    /// status.allocatedResources (pod level).
    pub(crate) status_allocated: Option<ResourceList>,
}

fn container(v: View<'_>, path: &str) -> Read<Container> {
    let requests = match field(v, "resources") {
        Some(r) => resource_list(r, "requests", &format!("{path}.resources"))?.unwrap_or_default(),
        None => ResourceList::new(),
    };
    let mut host_ports = Vec::new();
    for (i, p) in list(v, "ports", path)?.into_iter().flatten().enumerate() {
        let at = format!("{path}.ports[{i}]");
        let port = int(p, "hostPort", &at)?;
        if port > 0 {
            host_ports.push(HostPort {
                ip: string(p, "hostIP", &at)?,
                protocol: string(p, "protocol", &at)?,
                port,
            });
        }
    }
    Ok(Container {
        name: string(v, "name", path)?,
        image: string(v, "image", path)?,
        requests,
        host_ports,
        restartable: string(v, "restartPolicy", path)? == "Always",
    })
}

fn requirements(v: View<'_>, key: &str, path: &str) -> Read<Vec<SelectorRequirement>> {
    let mut out = Vec::new();
    for (i, r) in list(v, key, path)?.into_iter().flatten().enumerate() {
        let at = format!("{path}.{key}[{i}]");
        out.push(SelectorRequirement {
            key: string(r, "key", &at)?,
            operator: string(r, "operator", &at)?,
            values: strings(r, "values", &at)?,
        });
    }
    Ok(out)
}

pub(crate) fn selector_term(v: View<'_>, path: &str) -> Read<SelectorTerm> {
    Ok(SelectorTerm {
        match_expressions: requirements(v, "matchExpressions", path)?,
        match_fields: requirements(v, "matchFields", path)?,
    })
}

/// A metav1.LabelSelector: None when absent or null.
pub(crate) fn label_selector(v: View<'_>, key: &str, path: &str) -> Read<Option<LabelSelectorSpec>> {
    let Some(s) = field(v, key) else { return Ok(None) };
    let at = format!("{path}.{key}");
    Ok(Some(LabelSelectorSpec {
        match_labels: string_map(s, "matchLabels", &at)?.unwrap_or_default(),
        match_expressions: requirements(s, "matchExpressions", &at)?,
    }))
}

fn affinity_term(v: View<'_>, path: &str) -> Read<AffinityTermSpec> {
    Ok(AffinityTermSpec {
        label_selector: label_selector(v, "labelSelector", path)?,
        namespaces: strings(v, "namespaces", path)?,
        namespace_selector: label_selector(v, "namespaceSelector", path)?,
        topology_key: string(v, "topologyKey", path)?,
    })
}

fn pod_affinity(affinity: Option<View<'_>>, key: &str) -> Read<Option<PodAffinitySpec>> {
    let Some(a) = affinity.and_then(|a| field(a, key)) else {
        return Ok(None);
    };
    let path = format!("spec.affinity.{key}");
    let mut spec = PodAffinitySpec::default();
    for (i, t) in list(a, "requiredDuringSchedulingIgnoredDuringExecution", &path)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        spec.required.push(affinity_term(
            t,
            &format!("{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"),
        )?);
    }
    for (i, t) in list(a, "preferredDuringSchedulingIgnoredDuringExecution", &path)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
        let term = match field(t, "podAffinityTerm") {
            Some(term) => affinity_term(term, &format!("{at}.podAffinityTerm"))?,
            None => AffinityTermSpec {
                label_selector: None,
                namespaces: Vec::new(),
                namespace_selector: None,
                topology_key: String::new(),
            },
        };
        spec.preferred.push((int(t, "weight", &at)?, term));
    }
    Ok(Some(spec))
}

pub(crate) fn spread_constraint(v: View<'_>, path: &str) -> Read<SpreadConstraint> {
    let optional = |key: &str| field(v, key).map(|_| string(v, key, path)).transpose();
    Ok(SpreadConstraint {
        max_skew: int(v, "maxSkew", path)?,
        topology_key: string(v, "topologyKey", path)?,
        when_unsatisfiable: string(v, "whenUnsatisfiable", path)?,
        label_selector: label_selector(v, "labelSelector", path)?,
        min_domains: field(v, "minDomains").map(|_| int(v, "minDomains", path)).transpose()?,
        node_affinity_policy: optional("nodeAffinityPolicy")?,
        node_taints_policy: optional("nodeTaintsPolicy")?,
        match_label_keys: strings(v, "matchLabelKeys", path)?,
    })
}

fn container_status(v: View<'_>, path: &str) -> Read<ContainerStatus> {
    let actual = match field(v, "resources") {
        Some(r) => resource_list(r, "requests", &format!("{path}.resources"))?,
        None => None,
    };
    Ok(ContainerStatus {
        name: string(v, "name", path)?,
        allocated: resource_list(v, "allocatedResources", path)?,
        actual,
    })
}

impl Pod {
    pub(crate) fn read(obj: View<'_>) -> Read<Pod> {
        let meta = field(obj, "metadata");
        let (namespace, name, uid) = match meta {
            Some(m) => (
                string(m, "namespace", "metadata")?,
                string(m, "name", "metadata")?,
                string(m, "uid", "metadata")?,
            ),
            None => Default::default(),
        };
        let labels = match meta {
            Some(m) => string_map(m, "labels", "metadata")?
                .unwrap_or_default()
                .into_iter()
                .collect(),
            None => HashMap::new(),
        };
        let deleting = meta.is_some_and(|m| field(m, "deletionTimestamp").is_some());
        let mut controller = None;
        let owners = meta
            .map(|m| list(m, "ownerReferences", "metadata"))
            .transpose()?
            .flatten();
        for (i, owner) in owners.into_iter().flatten().enumerate() {
            let at = format!("metadata.ownerReferences[{i}]");
            if boolean(owner, "controller", &at)? {
                controller = Some((
                    string(owner, "apiVersion", &at)?,
                    string(owner, "kind", &at)?,
                    string(owner, "name", &at)?,
                ));
                break;
            }
        }
        let Some(spec) = field(obj, "spec") else {
            return Err("pod: spec is missing".to_owned());
        };
        if spec.entries().is_none() {
            return Err("pod: spec must be an object".to_owned());
        }
        let mut containers = Vec::new();
        for (i, c) in list(spec, "containers", "spec")?.into_iter().flatten().enumerate() {
            containers.push(container(c, &format!("spec.containers[{i}]"))?);
        }
        let mut init_containers = Vec::new();
        for (i, c) in list(spec, "initContainers", "spec")?.into_iter().flatten().enumerate() {
            init_containers.push(container(c, &format!("spec.initContainers[{i}]"))?);
        }
        let mut tolerations = Vec::new();
        for (i, t) in list(spec, "tolerations", "spec")?.into_iter().flatten().enumerate() {
            let at = format!("spec.tolerations[{i}]");
            tolerations.push(Toleration {
                key: string(t, "key", &at)?,
                operator: string(t, "operator", &at)?,
                value: string(t, "value", &at)?,
                effect: string(t, "effect", &at)?,
            });
        }
        let node_affinity = field(spec, "affinity").and_then(|a| field(a, "nodeAffinity"));
        let mut required_node_affinity = None;
        let mut preferred_node_affinity = None;
        if let Some(na) = node_affinity {
            const REQUIRED: &str = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
            if let Some(req) = field(na, "requiredDuringSchedulingIgnoredDuringExecution") {
                let mut terms = Vec::new();
                for (i, t) in list(req, "nodeSelectorTerms", REQUIRED)?
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    terms.push(selector_term(t, &format!("{REQUIRED}.nodeSelectorTerms[{i}]"))?);
                }
                required_node_affinity = Some(terms);
            }
            const PREFERRED: &str = "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution";
            if let Some(prefs) = list(
                na,
                "preferredDuringSchedulingIgnoredDuringExecution",
                "spec.affinity.nodeAffinity",
            )? {
                let mut terms = Vec::new();
                for (i, p) in prefs.into_iter().enumerate() {
                    let at = format!("{PREFERRED}[{i}]");
                    let term = match field(p, "preference") {
                        Some(t) => selector_term(t, &format!("{at}.preference"))?,
                        None => SelectorTerm::default(),
                    };
                    terms.push((int(p, "weight", &at)?, term));
                }
                preferred_node_affinity = Some(terms);
            }
        }
        let mut spread_constraints = Vec::new();
        for (i, c) in list(spec, "topologySpreadConstraints", "spec")?
            .into_iter()
            .flatten()
            .enumerate()
        {
            spread_constraints.push(spread_constraint(c, &format!("spec.topologySpreadConstraints[{i}]"))?);
        }
        let affinity = field(spec, "affinity");
        let (pod_affinity, pod_anti_affinity) = (
            pod_affinity(affinity, "podAffinity")?,
            pod_affinity(affinity, "podAntiAffinity")?,
        );
        let mut image_volumes = Vec::new();
        let mut volumes = Vec::new();
        for (i, v) in list(spec, "volumes", "spec")?.into_iter().flatten().enumerate() {
            let at = format!("spec.volumes[{i}]");
            if let Some(image) = field(v, "image") {
                image_volumes.push(string(image, "reference", &format!("{at}.image"))?);
            }
            volumes.push(Volume::read(v, &at)?);
        }
        let mut container_statuses = Vec::new();
        let mut resize_infeasible = false;
        let (mut status_resources, mut status_requests, mut status_allocated) = (false, None, None);
        if let Some(status) = field(obj, "status") {
            for key in ["containerStatuses", "initContainerStatuses"] {
                for (i, s) in list(status, key, "status")?.into_iter().flatten().enumerate() {
                    container_statuses.push(container_status(s, &format!("status.{key}[{i}]"))?);
                }
            }
            // The first PodResizePending condition decides, as IsPodResizeInfeasible reads it.
            let conditions = list(status, "conditions", "status")?.unwrap_or_default();
            let mut resize = Vec::new();
            for (i, c) in conditions.into_iter().enumerate() {
                let at = format!("status.conditions[{i}]");
                if string(c, "type", &at)? == "PodResizePending" {
                    resize.push(string(c, "reason", &at)?);
                }
            }
            resize_infeasible = resize.first().is_some_and(|r| r == "Infeasible");
            if let Some(r) = field(status, "resources") {
                status_resources = true;
                status_requests = resource_list(r, "requests", "status.resources")?;
            }
            status_allocated = resource_list(status, "allocatedResources", "status")?;
        }
        Ok(Pod {
            namespace,
            name,
            uid,
            labels,
            deleting,
            controller,
            node_name: string(spec, "nodeName", "spec")?,
            containers,
            init_containers,
            overhead: resource_list(spec, "overhead", "spec")?,
            pod_level_requests: match field(spec, "resources") {
                Some(r) => resource_list(r, "requests", "spec.resources")?,
                None => None,
            },
            node_selector: string_map(spec, "nodeSelector", "spec")?,
            tolerations,
            required_node_affinity,
            preferred_node_affinity,
            spread_constraints,
            pod_affinity,
            pod_anti_affinity,
            image_volumes,
            volumes,
            container_statuses,
            resize_infeasible,
            status_resources,
            status_requests,
            status_allocated,
        })
    }

    /// The namespace/name of each PersistentVolumeClaim the pod's volumes name (PodPVCKeys).
    pub(crate) fn claim_keys(&self) -> impl Iterator<Item = String> + '_ {
        self.volumes
            .iter()
            .filter_map(|v| v.claim.as_ref().map(|c| format!("{}/{c}", self.namespace)))
    }

    /// The cache's key for the pod: its UID, else namespace/name.
    pub(crate) fn key(&self) -> String {
        if self.uid.is_empty() {
            format!("{}/{}", self.namespace, self.name)
        } else {
            self.uid.clone()
        }
    }

    /// schedutil.GetHostPorts: the sidecars' host ports, then the app containers'.
    pub(crate) fn host_ports(&self) -> impl Iterator<Item = &HostPort> {
        let sidecars = self.init_containers.iter().filter(|c| c.restartable);
        sidecars.chain(self.containers.iter()).flat_map(|c| c.host_ports.iter())
    }
}
