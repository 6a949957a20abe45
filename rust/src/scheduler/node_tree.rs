//! The order in which the scheduler walks the nodes (pkg/scheduler/backend/cache node_tree.go):
//! nodes grouped by zone (region and zone labels), zones in the order they first appeared, each
//! zone's nodes in the order they arrived; the walk takes one node from each zone in turn.
use super::node::Node;

const ZONE: &str = "topology.kubernetes.io/zone";
const REGION: &str = "topology.kubernetes.io/region";
const BETA_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
const BETA_REGION: &str = "failure-domain.beta.kubernetes.io/region";

/// GetZoneKey: "" without region and zone, else both (the beta labels first, when present).
pub(crate) fn zone_key(node: &Node) -> String {
    let get = |beta: &str, ga: &str| {
        node.labels
            .get(beta)
            .or_else(|| node.labels.get(ga))
            .cloned()
            .unwrap_or_default()
    };
    let (zone, region) = (get(BETA_ZONE, ZONE), get(BETA_REGION, REGION));
    if zone.is_empty() && region.is_empty() {
        return String::new();
    }
    format!("{region}:\x00:{zone}")
}

#[derive(Default)]
pub(crate) struct NodeTree {
    /// Each zone with its nodes' names, in order.
    zones: Vec<(String, Vec<String>)>,
}

impl NodeTree {
    pub(crate) fn add(&mut self, zone: String, name: &str) {
        match self.zones.iter_mut().find(|(z, _)| *z == zone) {
            Some((_, names)) => names.push(name.to_owned()),
            None => self.zones.push((zone, vec![name.to_owned()])),
        }
    }

    /// Removes the node from its zone, and the zone once it is empty.
    pub(crate) fn remove(&mut self, zone: &str, name: &str) {
        if let Some(at) = self.zones.iter().position(|(z, _)| z == zone) {
            let names = &mut self.zones[at].1;
            names.retain(|n| n != name);
            if names.is_empty() {
                self.zones.remove(at);
            }
        }
    }

    /// list(): the first node of each zone, then the second of each, and so on.
    pub(crate) fn order(&self) -> Vec<&str> {
        let longest = self.zones.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
        (0..longest)
            .flat_map(|i| self.zones.iter().filter_map(move |(_, names)| names.get(i)))
            .map(String::as_str)
            .collect()
    }
}
