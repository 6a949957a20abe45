//! NodeUnschedulable: a node marked spec.unschedulable takes only pods that tolerate the
//! node.kubernetes.io/unschedulable:NoSchedule taint.
use super::taint_toleration::tolerated;
use super::{FilterPlugin, PreFilter, Rejection};
use crate::scheduler::node::Taint;
use crate::scheduler::pod::Pod;
use crate::scheduler::snapshot::State;

pub(crate) const NAME: &str = "NodeUnschedulable";
const REASON: &str = "node(s) were unschedulable";

pub(crate) struct NodeUnschedulable;

impl FilterPlugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, _: &'p State) -> PreFilter<'p> {
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".to_owned(),
            value: String::new(),
            effect: "NoSchedule".to_owned(),
        };
        let tolerates = tolerated(&pod.tolerations, &taint);
        PreFilter::Run(Box::new(move |_: &_, node: &crate::scheduler::node::Node| {
            (node.unschedulable && !tolerates).then(|| Rejection::unresolvable(REASON))
        }))
    }
}
