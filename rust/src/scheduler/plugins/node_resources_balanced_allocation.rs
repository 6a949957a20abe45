//! NodeResourcesBalancedAllocation: prefers the node where the pod leaves the scored resources'
//! utilizations closest to each other, scored as the change the pod makes to that balance.
//! Best-effort pods (no requests at all) are not scored.
use super::node_resources_fit::{node_usage, pod_request_list, resource_specs, ResourceSpec};
use super::{NodeScorer, PreScore, ScorePlugin, MAX_NODE_SCORE};
use crate::informer::view::View;
use crate::scheduler::node::Node;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod::Pod;
use crate::scheduler::resources::Options;
use crate::scheduler::snapshot::State;

pub(crate) const NAME: &str = "NodeResourcesBalancedAllocation";

pub(crate) struct BalancedAllocation {
    resources: Vec<ResourceSpec>,
}

impl BalancedAllocation {
    pub(crate) fn new(args: Option<View<'_>>) -> Result<BalancedAllocation, String> {
        const PATH: &str = "NodeResourcesBalancedAllocationArgs";
        let resources = resource_specs(args, PATH)?;
        for (i, r) in resources.iter().enumerate() {
            if resources[..i].iter().any(|o| o.name == r.name) {
                return Err(format!("{PATH}.resources[{i}].name: duplicate value {:?}", r.name));
            }
            if r.weight != 1 {
                return Err(format!("{PATH}.resources[{i}].weight: must be 1"));
            }
        }
        Ok(BalancedAllocation { resources })
    }
}

/// balancedResourceScore: (1 - the standard deviation of the utilizations, each capped at 1) × 100.
fn balance(requested: &[i64], allocatable: &[i64]) -> i64 {
    let mut fractions = Vec::new();
    let mut total = 0.0;
    for (r, a) in requested.iter().zip(allocatable) {
        if *a == 0 {
            continue;
        }
        let f = (*r as f64 / *a as f64).min(1.0);
        total += f;
        fractions.push(f);
    }
    let std = match fractions.len() {
        2 => ((fractions[0] - fractions[1]) / 2.0).abs(),
        n if n > 2 => {
            let mean = total / n as f64;
            let sum = fractions.iter().fold(0.0, |s, f| s + (f - mean) * (f - mean));
            (sum / n as f64).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

struct Scorer<'p> {
    resources: &'p [ResourceSpec],
    pod_requests: Vec<i64>,
}

impl NodeScorer for Scorer<'_> {
    fn score(&self, info: &NodeInfo, _: &Node) -> i64 {
        let (requested, allocated, allocatable) = node_usage(info, self.resources, &self.pod_requests, true);
        let with_pod = balance(&requested, &allocatable);
        let without_pod = balance(&allocated, &allocatable);
        MAX_NODE_SCORE / 2 + (MAX_NODE_SCORE / 2 + with_pod - without_pod) / 2
    }
}

impl ScorePlugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score<'p>(&'p self, pod: &'p Pod, _: &'p State, _: &[(&NodeInfo, &Node)]) -> Result<PreScore<'p>, String> {
        let pod_requests = pod_request_list(
            pod,
            &self.resources,
            false,
            Options {
                pod_level: true,
                status: true,
            },
        );
        if pod_requests.iter().all(|r| *r == 0) {
            return Ok(PreScore::Skip);
        }
        Ok(PreScore::Run(Box::new(Scorer {
            resources: &self.resources,
            pod_requests,
        })))
    }
}
