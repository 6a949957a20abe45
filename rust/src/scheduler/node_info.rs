//! A node with what the pods assigned to it use (pkg/scheduler/framework types.go NodeInfo):
//! allocatable, requested, the non-zero requests that scoring counts, the host ports in use,
//! kept up to date pod by pod.
use super::node::Node;
use super::pod::{HostPort, Pod};
use super::pod_affinity_index::PodAffinityIndex;
use super::resources::{PodResource, Resource};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

const BIND_ALL: &str = "0.0.0.0";

/// HostPortInfo: for each (protocol, port), the host IPs it is bound on. A set, as upstream's:
/// removing one of two pods that use the same port frees it.
#[derive(Clone, Debug, Default)]
pub(crate) struct UsedPorts(HashMap<(String, i64), HashSet<String>>);

fn sanitized(p: &HostPort) -> (String, (String, i64)) {
    let ip = if p.ip.is_empty() { BIND_ALL } else { &p.ip };
    let protocol = if p.protocol.is_empty() { "TCP" } else { &p.protocol };
    (ip.to_owned(), (protocol.to_owned(), p.port))
}

impl UsedPorts {
    fn add(&mut self, p: &HostPort) {
        let (ip, key) = sanitized(p);
        self.0.entry(key).or_default().insert(ip);
    }

    fn remove(&mut self, p: &HostPort) {
        let (ip, key) = sanitized(p);
        if let Some(ips) = self.0.get_mut(&key) {
            ips.remove(&ip);
            if ips.is_empty() {
                self.0.remove(&key);
            }
        }
    }

    /// CheckConflict: 0.0.0.0 conflicts with the port on any IP; another IP with itself and 0.0.0.0.
    pub(crate) fn conflicts(&self, p: &HostPort) -> bool {
        let (ip, key) = sanitized(p);
        match self.0.get(&key) {
            None => false,
            Some(ips) => ip == BIND_ALL || ips.contains(BIND_ALL) || ips.contains(&ip),
        }
    }
}

/// One pod as its node counts it.
#[derive(Clone, Debug)]
pub(crate) struct AssignedPod {
    pub(crate) pod: Arc<Pod>,
    pub(crate) resource: PodResource,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct NodeInfo {
    /// None while pods name a node the snapshot does not have (yet, or any more).
    pub(crate) node: Option<Arc<Node>>,
    pub(crate) allocatable: Resource,
    pub(crate) requested: Resource,
    pub(crate) non_zero_milli_cpu: i64,
    pub(crate) non_zero_memory: i64,
    pub(crate) used_ports: UsedPorts,
    pub(crate) pods: HashMap<String, AssignedPod>,
    /// The same pods as InterPodAffinity looks them up.
    pub(crate) affinity_index: PodAffinityIndex,
}

impl NodeInfo {
    pub(crate) fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = Resource::from_list(&node.allocatable);
        self.node = Some(node);
    }

    pub(crate) fn add_pod(&mut self, key: String, pod: Arc<Pod>) {
        let resource = PodResource::of(&pod);
        self.update(&pod, &resource, 1);
        self.affinity_index.add(&pod);
        self.pods.insert(key, AssignedPod { pod, resource });
    }

    pub(crate) fn remove_pod(&mut self, key: &str) -> Option<AssignedPod> {
        let gone = self.pods.remove(key)?;
        self.update(&gone.pod, &gone.resource, -1);
        self.affinity_index.remove(&gone.pod);
        Some(gone)
    }

    fn update(&mut self, pod: &Pod, resource: &PodResource, sign: i64) {
        self.requested.add_signed(&resource.requested, sign);
        self.non_zero_milli_cpu += sign * resource.non_zero_milli_cpu;
        self.non_zero_memory += sign * resource.non_zero_memory;
        for p in pod.host_ports() {
            if sign > 0 {
                self.used_ports.add(p);
            } else {
                self.used_ports.remove(p);
            }
        }
    }
}
