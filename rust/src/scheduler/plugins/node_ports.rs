//! NodePorts: a pod's host ports must be free on the node.
use super::{FilterPlugin, PreFilter, Rejection};
use crate::scheduler::node::Node;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod::{HostPort, Pod};
use crate::scheduler::snapshot::State;

pub(crate) const NAME: &str = "NodePorts";
const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub(crate) struct NodePorts;

impl FilterPlugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, _: &'p State) -> PreFilter<'p> {
        let wanted: Vec<&HostPort> = pod.host_ports().collect();
        if wanted.is_empty() {
            return PreFilter::Skip;
        }
        PreFilter::Run(Box::new(move |info: &NodeInfo, _: &Node| {
            wanted
                .iter()
                .any(|p| info.used_ports.conflicts(p))
                .then(|| Rejection::unschedulable(REASON))
        }))
    }
}
