//! NodeName: a pod that names its node (spec.nodeName) fits only there; PreFilter narrows the
//! nodes to that one.
use super::{FilterPlugin, PreFilter, Rejection};
use crate::scheduler::node::Node;
use crate::scheduler::pod::Pod;
use crate::scheduler::snapshot::State;
use std::collections::HashSet;

pub(crate) const NAME: &str = "NodeName";
const REASON: &str = "node(s) didn't match the requested node name";

pub(crate) struct NodeName;

impl FilterPlugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, _: &'p State) -> PreFilter<'p> {
        let wanted = pod.node_name.as_str();
        let filter = Box::new(move |_: &_, node: &Node| {
            (!wanted.is_empty() && wanted != node.name).then(|| Rejection::unresolvable(REASON))
        });
        if wanted.is_empty() {
            PreFilter::Run(filter)
        } else {
            PreFilter::Only(HashSet::from([wanted.to_owned()]), filter)
        }
    }
}
