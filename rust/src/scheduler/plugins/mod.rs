//! The plugins (pkg/scheduler/framework/plugins), one file each, behind two small interfaces:
//! a filter plugin's PreFilter looks at the pod once and gives what Filter runs per node; a score
//! plugin's PreScore does the same for Score, and its normalization runs over all scored nodes.
pub(crate) mod image_locality;
pub(crate) mod inter_pod_affinity;
pub(crate) mod node_affinity;
pub(crate) mod node_name;
pub(crate) mod node_ports;
pub(crate) mod node_resources_balanced_allocation;
pub(crate) mod node_resources_fit;
pub(crate) mod node_unschedulable;
pub(crate) mod pod_topology_spread;
pub(crate) mod taint_toleration;
pub(crate) mod volume_restrictions;

use super::node::Node;
use super::node_info::NodeInfo;
use super::pod::Pod;
use super::snapshot::State;
use crate::informer::view::View;
use std::collections::HashSet;
use std::sync::Arc;

/// framework.MaxNodeScore.
pub(crate) const MAX_NODE_SCORE: i64 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    Unschedulable,
    UnschedulableAndUnresolvable,
}

impl Code {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::Unschedulable => "Unschedulable",
            Code::UnschedulableAndUnresolvable => "UnschedulableAndUnresolvable",
        }
    }
}

/// Why a node does not fit (a Status that rejects): the code and kube-scheduler's reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) code: Code,
    pub(crate) reasons: Vec<String>,
}

impl Rejection {
    pub(crate) fn unresolvable(reason: &str) -> Rejection {
        Rejection {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.to_owned()],
        }
    }

    pub(crate) fn unschedulable(reason: &str) -> Rejection {
        Rejection {
            code: Code::Unschedulable,
            reasons: vec![reason.to_owned()],
        }
    }
}

/// Filter for one pod, over any node.
pub(crate) trait NodeFilter: Sync {
    fn filter(&self, info: &NodeInfo, node: &Node) -> Option<Rejection>;
}

impl<F: Fn(&NodeInfo, &Node) -> Option<Rejection> + Sync> NodeFilter for F {
    fn filter(&self, info: &NodeInfo, node: &Node) -> Option<Rejection> {
        self(info, node)
    }
}

/// What PreFilter decided.
pub(crate) enum PreFilter<'p> {
    /// The plugin has nothing to check for this pod: its Filter is skipped.
    Skip,
    /// Run this filter on every node.
    Run(Box<dyn NodeFilter + 'p>),
    /// Only these nodes can fit; run the filter on them.
    Only(HashSet<String>, Box<dyn NodeFilter + 'p>),
    /// No node can fit.
    Reject(Rejection),
    /// The pod cannot be scheduled by this profile at all (kube-scheduler's Error status).
    Error(String),
}

pub(crate) trait FilterPlugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn pre_filter<'p>(&'p self, pod: &'p Pod, snapshot: &'p State) -> PreFilter<'p>;
}

/// Score for one pod, over any node, and the normalization of all the nodes' scores.
pub(crate) trait NodeScorer: Sync {
    fn score(&self, info: &NodeInfo, node: &Node) -> i64;
    fn normalize(&self, _scores: &mut [i64]) {}
}

pub(crate) enum PreScore<'p> {
    /// The plugin does not score this pod: it is left out of the scores and the total.
    Skip,
    Run(Box<dyn NodeScorer + 'p>),
}

pub(crate) trait ScorePlugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// `feasible`: the nodes that passed filtering, in the order Score is run and normalized.
    fn pre_score<'p>(
        &'p self,
        pod: &'p Pod,
        snapshot: &'p State,
        feasible: &[(&NodeInfo, &Node)],
    ) -> Result<PreScore<'p>, String>;
}

/// helper.DefaultNormalizeScore: scaled so that the highest is MAX_NODE_SCORE (reversed: the
/// lowest); all zero stays zero (reversed: all MAX_NODE_SCORE).
pub(crate) fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().fold(0, i64::max);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *s / max;
        *s = if reverse { MAX_NODE_SCORE - scaled } else { scaled };
    }
}

/// A plugin by its name and arguments (the args object, if any, as given in a profile).
pub(crate) struct Registry;

impl Registry {
    pub(crate) fn filter(name: &str, args: Option<View<'_>>) -> Result<Arc<dyn FilterPlugin>, String> {
        Ok(match name {
            node_unschedulable::NAME => Arc::new(node_unschedulable::NodeUnschedulable),
            node_name::NAME => Arc::new(node_name::NodeName),
            taint_toleration::NAME => Arc::new(taint_toleration::TaintToleration),
            node_affinity::NAME => Arc::new(node_affinity::NodeAffinity::new(args)?),
            node_ports::NAME => Arc::new(node_ports::NodePorts),
            node_resources_fit::NAME => Arc::new(node_resources_fit::Fit::new(args)?),
            volume_restrictions::NAME => Arc::new(volume_restrictions::VolumeRestrictions),
            pod_topology_spread::NAME => Arc::new(pod_topology_spread::PodTopologySpread::new(args)?),
            inter_pod_affinity::NAME => Arc::new(inter_pod_affinity::InterPodAffinity::new(args)?),
            _ => {
                return Err(format!(
                    "no filter plugin named {name:?} (kcore has {})",
                    FILTERS.join(", ")
                ))
            }
        })
    }

    pub(crate) fn score(name: &str, args: Option<View<'_>>) -> Result<Arc<dyn ScorePlugin>, String> {
        Ok(match name {
            taint_toleration::NAME => Arc::new(taint_toleration::TaintToleration),
            node_affinity::NAME => Arc::new(node_affinity::NodeAffinity::new(args)?),
            node_resources_fit::NAME => Arc::new(node_resources_fit::Fit::new(args)?),
            node_resources_balanced_allocation::NAME => {
                Arc::new(node_resources_balanced_allocation::BalancedAllocation::new(args)?)
            }
            image_locality::NAME => Arc::new(image_locality::ImageLocality),
            pod_topology_spread::NAME => Arc::new(pod_topology_spread::PodTopologySpread::new(args)?),
            inter_pod_affinity::NAME => Arc::new(inter_pod_affinity::InterPodAffinity::new(args)?),
            _ => {
                return Err(format!(
                    "no score plugin named {name:?} (kcore has {})",
                    SCORES.join(", ")
                ))
            }
        })
    }
}

pub(crate) const FILTERS: &[&str] = &[
    node_unschedulable::NAME,
    node_name::NAME,
    taint_toleration::NAME,
    node_affinity::NAME,
    node_ports::NAME,
    node_resources_fit::NAME,
    volume_restrictions::NAME,
    pod_topology_spread::NAME,
    inter_pod_affinity::NAME,
];
pub(crate) const SCORES: &[&str] = &[
    taint_toleration::NAME,
    node_affinity::NAME,
    node_resources_fit::NAME,
    node_resources_balanced_allocation::NAME,
    image_locality::NAME,
    pod_topology_spread::NAME,
    inter_pod_affinity::NAME,
];
