//! NodeResourcesFit: Filter requires room for the pod's requests (and one more pod) on the node;
//! Score rates the node by its requested / allocatable after the pod, with one of three
//! strategies: LeastAllocated (the default), MostAllocated (bin packing) or
//! RequestedToCapacityRatio (a piecewise-linear shape).
use super::{Code, FilterPlugin, NodeScorer, PreFilter, PreScore, Rejection, ScorePlugin, MAX_NODE_SCORE};
use crate::informer::view::View;
use crate::scheduler::node::Node;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod::Pod;
use crate::scheduler::quantity::{milli_value, value};
use crate::scheduler::resources::{
    is_extended, is_scalar, pod_requests, scoring_defaults, Options, Resource, ResourceList, CPU, EPHEMERAL_STORAGE,
    MEMORY,
};
use crate::scheduler::snapshot::State;
use std::collections::HashSet;

pub(crate) const NAME: &str = "NodeResourcesFit";
const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;
const MAX_UTILIZATION: i64 = 100;

/// A resource the scorer weighs (config.ResourceSpec).
#[derive(Clone, Debug)]
pub(crate) struct ResourceSpec {
    pub(crate) name: String,
    pub(crate) weight: i64,
}

#[derive(Clone, Debug)]
enum Strategy {
    LeastAllocated,
    MostAllocated,
    /// The shape's points: (utilization, score scaled to MAX_NODE_SCORE).
    RequestedToCapacityRatio(Vec<(i64, i64)>),
}

pub(crate) struct Fit {
    ignored_resources: HashSet<String>,
    ignored_groups: HashSet<String>,
    strategy: Strategy,
    resources: Vec<ResourceSpec>,
}

fn int_field(v: View<'_>, key: &str, path: &str) -> Result<i64, String> {
    match v.get(key).filter(|f| !f.is_null()) {
        None => Ok(0),
        Some(f) => f.as_i64().ok_or_else(|| format!("{path}.{key} must be an integer")),
    }
}

fn strings_field(v: View<'_>, key: &str, path: &str) -> Result<Vec<String>, String> {
    let Some(f) = v.get(key).filter(|f| !f.is_null()) else {
        return Ok(Vec::new());
    };
    let items = f
        .items()
        .ok_or_else(|| format!("{path}.{key} must be a list of strings"))?;
    items
        .map(|i| {
            i.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{path}.{key} must be a list of strings"))
        })
        .collect()
}

/// The `resources` of NodeResourcesFit's scoringStrategy or of BalancedAllocation's args, with
/// v1's defaults (cpu and memory, weight 1; a weight of 0 becomes 1).
pub(crate) fn resource_specs(v: Option<View<'_>>, path: &str) -> Result<Vec<ResourceSpec>, String> {
    let mut specs = Vec::new();
    if let Some(list) = v.and_then(|v| v.get("resources")).filter(|f| !f.is_null()) {
        let items = list.items().ok_or_else(|| format!("{path}.resources must be a list"))?;
        for (i, item) in items.enumerate() {
            let at = format!("{path}.resources[{i}]");
            let name = item
                .get("name")
                .and_then(|n| n.as_str())
                .ok_or_else(|| format!("{at}.name must be a string"))?;
            let weight = int_field(item, "weight", &at)?;
            specs.push(ResourceSpec {
                name: name.to_owned(),
                weight: if weight == 0 { 1 } else { weight },
            });
        }
    }
    if specs.is_empty() {
        specs = vec![
            ResourceSpec {
                name: CPU.to_owned(),
                weight: 1,
            },
            ResourceSpec {
                name: MEMORY.to_owned(),
                weight: 1,
            },
        ];
    }
    Ok(specs)
}

impl Fit {
    /// NodeResourcesFitArgs (v1), defaulted and validated as kube-scheduler does.
    pub(crate) fn new(args: Option<View<'_>>) -> Result<Fit, String> {
        const PATH: &str = "NodeResourcesFitArgs";
        let ignored_resources = args
            .map(|a| strings_field(a, "ignoredResources", PATH))
            .transpose()?
            .unwrap_or_default();
        let ignored_groups = args
            .map(|a| strings_field(a, "ignoredResourceGroups", PATH))
            .transpose()?
            .unwrap_or_default();
        if let Some(g) = ignored_groups.iter().find(|g| g.contains('/')) {
            return Err(format!(
                "{PATH}.ignoredResourceGroups: {g:?}: resource group name can't contain '/'"
            ));
        }
        let strategy_args = args.and_then(|a| a.get("scoringStrategy")).filter(|s| !s.is_null());
        let kind = match strategy_args {
            None => "LeastAllocated",
            Some(s) => s.get("type").and_then(|t| t.as_str()).unwrap_or(""),
        };
        let strategy_path = format!("{PATH}.scoringStrategy");
        let strategy = match kind {
            "LeastAllocated" => Strategy::LeastAllocated,
            "MostAllocated" => Strategy::MostAllocated,
            "RequestedToCapacityRatio" => {
                let shape_args = strategy_args.and_then(|s| s.get("requestedToCapacityRatio")).filter(|r| !r.is_null()).ok_or_else(|| {
                    format!("{strategy_path}.requestedToCapacityRatio: must be specified when type is RequestedToCapacityRatio")
                })?;
                let points = shape_args
                    .get("shape")
                    .and_then(|s| s.items())
                    .map(|i| i.collect::<Vec<_>>())
                    .unwrap_or_default();
                if points.is_empty() {
                    return Err(format!(
                        "{strategy_path}.requestedToCapacityRatio.shape: at least one point must be specified"
                    ));
                }
                let mut shape = Vec::new();
                for (i, p) in points.into_iter().enumerate() {
                    let at = format!("{strategy_path}.requestedToCapacityRatio.shape[{i}]");
                    let (u, s) = (int_field(p, "utilization", &at)?, int_field(p, "score", &at)?);
                    if !(0..=MAX_UTILIZATION).contains(&u) || !(0..=MAX_CUSTOM_PRIORITY_SCORE).contains(&s) {
                        return Err(format!("{at}: utilization must be in [0, 100] and score in [0, 10]"));
                    }
                    if shape.last().is_some_and(|&(last, _)| last >= u) {
                        return Err(format!("{at}.utilization: values must be sorted in increasing order"));
                    }
                    shape.push((u, s * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE)));
                }
                Strategy::RequestedToCapacityRatio(shape)
            }
            other => {
                return Err(format!("{strategy_path}.type: {other:?} is not supported: LeastAllocated, MostAllocated or RequestedToCapacityRatio"));
            }
        };
        let resources = resource_specs(strategy_args, &strategy_path)?;
        if let Some(r) = resources.iter().find(|r| r.weight <= 0 || r.weight > 100) {
            return Err(format!(
                "{strategy_path}.resources: resource weight of {} not in valid range (0, 100]",
                r.name
            ));
        }
        Ok(Fit {
            ignored_resources: ignored_resources.into_iter().collect(),
            ignored_groups: ignored_groups.into_iter().collect(),
            strategy,
            resources,
        })
    }
}

/// fitsRequest: "Too many pods", then cpu, memory, ephemeral-storage and the scalar resources
/// (by name; upstream walks a map) the node has no room for; unresolvable when the request
/// exceeds the node's allocatable outright.
fn fits(request: &Resource, info: &NodeInfo, fit: &Fit) -> Option<Rejection> {
    let mut reasons = Vec::new();
    let mut code = Code::Unschedulable;
    if info.pods.len() as i64 + 1 > info.allocatable.allowed_pods {
        reasons.push("Too many pods".to_owned());
    }
    let empty =
        request.milli_cpu == 0 && request.memory == 0 && request.ephemeral_storage == 0 && request.scalar.is_empty();
    if !empty {
        let alloc = &info.allocatable;
        let used = &info.requested;
        let mut check = |name: &str, want: i64, have: i64, taken: i64| {
            if want > 0 && want > have - taken {
                reasons.push(format!("Insufficient {name}"));
                if want > have {
                    code = Code::UnschedulableAndUnresolvable;
                }
            }
        };
        check(CPU, request.milli_cpu, alloc.milli_cpu, used.milli_cpu);
        check(MEMORY, request.memory, alloc.memory, used.memory);
        check(
            EPHEMERAL_STORAGE,
            request.ephemeral_storage,
            alloc.ephemeral_storage,
            used.ephemeral_storage,
        );
        for (name, want) in &request.scalar {
            if *want == 0 {
                continue;
            }
            if is_extended(name) {
                let group = name.split('/').next().unwrap_or("");
                if fit.ignored_resources.contains(name)
                    || (!fit.ignored_groups.is_empty() && fit.ignored_groups.contains(group))
                {
                    continue;
                }
            }
            check(name, *want, alloc.scalar(name), used.scalar(name));
        }
    }
    (!reasons.is_empty()).then_some(Rejection { code, reasons })
}

impl FilterPlugin for Fit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, _: &'p State) -> PreFilter<'p> {
        // computePodResourceRequest: the spec only, with pod-level requests.
        let options = Options {
            pod_level: true,
            status: false,
        };
        let mut request = Resource::from_list(&pod_requests(pod, &ResourceList::new(), options));
        // SetMaxResource on an empty Resource: pods are not counted, and nothing is below zero.
        request.allowed_pods = 0;
        request.milli_cpu = request.milli_cpu.max(0);
        request.memory = request.memory.max(0);
        request.ephemeral_storage = request.ephemeral_storage.max(0);
        request.scalar.values_mut().for_each(|q| *q = (*q).max(0));
        PreFilter::Run(Box::new(move |info: &NodeInfo, _: &Node| fits(&request, info, self)))
    }
}

/// The pod's request of each scored resource (resourceAllocationScorer.calculatePodResourceRequest).
/// Upstream's NodeResourcesFit scorer leaves its PodLevelResources and InPlacePodVerticalScaling
/// flags unset (only the plugin's own copies are set), so pod-level and status requests count
/// for BalancedAllocation and not for NodeResourcesFit's score: `options` says which.
pub(crate) fn pod_request_list(
    pod: &Pod,
    resources: &[ResourceSpec],
    with_defaults: bool,
    options: Options,
) -> Vec<i64> {
    let defaults = if with_defaults {
        scoring_defaults()
    } else {
        ResourceList::new()
    };
    let requests = pod_requests(pod, &defaults, options);
    resources
        .iter()
        .map(|r| match requests.get(&r.name) {
            None => 0,
            Some(q) if r.name == CPU => milli_value(*q),
            Some(q) => value(*q),
        })
        .collect()
}

/// calculateNodeAllocatableRequest: per scored resource, (requested with the pod, allocated,
/// allocatable); a scalar resource the pod does not request, or one the node lacks, counts zero.
pub(crate) fn node_usage(
    info: &NodeInfo,
    resources: &[ResourceSpec],
    pod_requests: &[i64],
    use_requested: bool,
) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let n = resources.len();
    let (mut requested, mut allocated, mut allocatable) = (vec![0; n], vec![0; n], vec![0; n]);
    for (i, r) in resources.iter().enumerate() {
        if pod_requests[i] == 0 && is_scalar(&r.name) {
            continue;
        }
        let (have, used) = match r.name.as_str() {
            CPU => (
                info.allocatable.milli_cpu,
                if use_requested {
                    info.requested.milli_cpu
                } else {
                    info.non_zero_milli_cpu
                },
            ),
            MEMORY => (
                info.allocatable.memory,
                if use_requested {
                    info.requested.memory
                } else {
                    info.non_zero_memory
                },
            ),
            EPHEMERAL_STORAGE => (info.allocatable.ephemeral_storage, info.requested.ephemeral_storage),
            name => match info.allocatable.scalar.get(name) {
                Some(have) => (*have, info.requested.scalar(name)),
                None => (0, 0),
            },
        };
        if have == 0 {
            continue;
        }
        allocatable[i] = have;
        allocated[i] = used;
        requested[i] = used + pod_requests[i];
    }
    (requested, allocated, allocatable)
}

/// helper.BuildBrokenLinearFunction.
fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, &(u, s)) in shape.iter().enumerate() {
        if p <= u {
            if i == 0 {
                return s;
            }
            let (u0, s0) = shape[i - 1];
            return s0 + (s - s0) * (p - u0) / (u - u0);
        }
    }
    shape[shape.len() - 1].1
}

impl Strategy {
    fn score(&self, resources: &[ResourceSpec], requested: &[i64], allocatable: &[i64]) -> i64 {
        let (mut node_score, mut weight_sum) = (0i64, 0i64);
        for (i, r) in resources.iter().enumerate() {
            let (req, cap) = (requested[i], allocatable[i]);
            if cap == 0 {
                continue;
            }
            let score = match self {
                Strategy::LeastAllocated => {
                    if req > cap {
                        0
                    } else {
                        (cap - req) * MAX_NODE_SCORE / cap
                    }
                }
                Strategy::MostAllocated => req.min(cap) * MAX_NODE_SCORE / cap,
                Strategy::RequestedToCapacityRatio(shape) => {
                    let s = if req > cap {
                        broken_linear(shape, MAX_UTILIZATION)
                    } else {
                        broken_linear(shape, req * MAX_UTILIZATION / cap)
                    };
                    // Resources that score 0 drop out of the mean.
                    if s <= 0 {
                        continue;
                    }
                    s
                }
            };
            node_score += score * r.weight;
            weight_sum += r.weight;
        }
        if weight_sum == 0 {
            return 0;
        }
        match self {
            Strategy::RequestedToCapacityRatio(_) => (node_score as f64 / weight_sum as f64).round() as i64,
            _ => node_score / weight_sum,
        }
    }
}

struct Scorer<'p> {
    fit: &'p Fit,
    pod_requests: Vec<i64>,
}

impl NodeScorer for Scorer<'_> {
    fn score(&self, info: &NodeInfo, _: &Node) -> i64 {
        let (requested, _, allocatable) = node_usage(info, &self.fit.resources, &self.pod_requests, false);
        self.fit.strategy.score(&self.fit.resources, &requested, &allocatable)
    }
}

impl ScorePlugin for Fit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score<'p>(&'p self, pod: &'p Pod, _: &'p State, _: &[(&NodeInfo, &Node)]) -> Result<PreScore<'p>, String> {
        Ok(PreScore::Run(Box::new(Scorer {
            fit: self,
            pod_requests: pod_request_list(
                pod,
                &self.resources,
                true,
                Options {
                    pod_level: false,
                    status: false,
                },
            ),
        })))
    }
}
