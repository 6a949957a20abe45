//! TaintToleration: Filter refuses a node with a NoSchedule or NoExecute taint the pod does not
//! tolerate; Score counts the PreferNoSchedule taints it does not tolerate (fewer is better).
use super::{default_normalize, FilterPlugin, NodeScorer, PreFilter, PreScore, Rejection, ScorePlugin};
use crate::scheduler::node::{Node, Taint};
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod::{Pod, Toleration};
use crate::scheduler::snapshot::State;

pub(crate) const NAME: &str = "TaintToleration";
const REASON: &str = "node(s) had untolerated taint(s)";

/// Toleration.ToleratesTaint (the TaintTolerationComparisonOperators gate is off: Lt and Gt
/// tolerate nothing).
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if !t.effect.is_empty() && t.effect != taint.effect {
        return false;
    }
    if !t.key.is_empty() && t.key != taint.key {
        return false;
    }
    match t.operator.as_str() {
        "" | "Equal" => t.value == taint.value,
        "Exists" => true,
        _ => false,
    }
}

pub(crate) fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// A NoSchedule or NoExecute taint on `node` that `tolerations` do not tolerate.
pub(crate) fn untolerated_do_not_schedule(node: &Node, tolerations: &[Toleration]) -> bool {
    node.taints
        .iter()
        .any(|taint| (taint.effect == "NoSchedule" || taint.effect == "NoExecute") && !tolerated(tolerations, taint))
}

pub(crate) struct TaintToleration;

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, _: &'p State) -> PreFilter<'p> {
        PreFilter::Run(Box::new(move |_: &NodeInfo, node: &Node| {
            untolerated_do_not_schedule(node, &pod.tolerations).then(|| Rejection::unresolvable(REASON))
        }))
    }
}

struct PreferNoSchedule<'p> {
    tolerations: Vec<&'p Toleration>,
}

impl NodeScorer for PreferNoSchedule<'_> {
    fn score(&self, _: &NodeInfo, node: &Node) -> i64 {
        let intolerable = |taint: &&Taint| {
            taint.effect == "PreferNoSchedule" && !self.tolerations.iter().any(|t| tolerates(t, taint))
        };
        node.taints.iter().filter(intolerable).count() as i64
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

impl ScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score<'p>(&'p self, pod: &'p Pod, _: &'p State, _: &[(&NodeInfo, &Node)]) -> Result<PreScore<'p>, String> {
        let tolerations = pod
            .tolerations
            .iter()
            .filter(|t| t.effect.is_empty() || t.effect == "PreferNoSchedule")
            .collect();
        Ok(PreScore::Run(Box::new(PreferNoSchedule { tolerations })))
    }
}
