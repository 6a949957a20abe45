//! PodTopologySpread: Filter keeps a node only if placing the pod there keeps every
//! DoNotSchedule constraint's skew (the matching pods in the node's domain, plus the pod itself,
//! minus the least-loaded domain — 0 below minDomains domains) within maxSkew; Score prefers
//! nodes whose domains hold fewer matching pods for the ScheduleAnyway constraints, each domain
//! count weighted by ln(domains + 2), normalized so that the emptiest node scores highest.
//!
//! Constraints follow v1.37.2 with its default feature gates: matchLabelKeys adds the pod's own
//! label values to the selector; nodeAffinityPolicy (default Honor) and nodeTaintsPolicy (default
//! Ignore) decide which nodes count. A pod without constraints gets the default ones
//! (System defaulting: hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway), whose selector
//! comes from the services and the controller that select the pod (the Snapshot's selector
//! sources); without any, the plugin skips such a pod. defaultingType List gives the defaults
//! instead (DoNotSchedule ones filter too).
use super::node_affinity::Required;
use super::taint_toleration::untolerated_do_not_schedule;
use super::{FilterPlugin, NodeScorer, PreFilter, PreScore, Rejection, ScorePlugin, MAX_NODE_SCORE};
use crate::informer::view::View;
use crate::scheduler::label_selector::PodSelector;
use crate::scheduler::node::Node;
use crate::scheduler::node_info::{AssignedPod, NodeInfo};
use crate::scheduler::pod::{spread_constraint, Pod, SpreadConstraint};
use crate::scheduler::snapshot::State;
use std::collections::HashMap;

pub(crate) const NAME: &str = "PodTopologySpread";
const REASON: &str = "node(s) didn't match pod topology spread constraints";
const REASON_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

/// A constraint as the plugin uses it (topologySpreadConstraint).
struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: PodSelector,
    min_domains: i64,
    honor_node_affinity: bool,
    honor_node_taints: bool,
}

/// The pod's constraints with `action` (filterTopologySpreadConstraints).
fn constraints(pod: &Pod, action: &str) -> Result<Vec<Constraint>, String> {
    with_action(&pod.spread_constraints, pod, action)
}

/// filterTopologySpreadConstraints: those of `given` with `action`, matchLabelKeys adding the
/// pod's own label values to the selector.
fn with_action(given: &[SpreadConstraint], pod: &Pod, action: &str) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for c in given.iter().filter(|c| c.when_unsatisfiable == action) {
        let mut selector = PodSelector::of(c.label_selector.as_ref())?;
        let own: Vec<(&str, &str)> = c
            .match_label_keys
            .iter()
            .filter_map(|k| pod.labels.get(k).map(|v| (k.as_str(), v.as_str())))
            .collect();
        if !own.is_empty() {
            selector = selector.with_labels(own.into_iter());
        }
        out.push(Constraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: c.min_domains.unwrap_or(1),
            honor_node_affinity: c.node_affinity_policy.as_deref().is_none_or(|p| p == "Honor"),
            honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        });
    }
    Ok(out)
}

/// nodeLabelsMatchSpreadConstraints: the node has every constraint's topology key.
fn has_all_keys(node: &Node, constraints: &[Constraint]) -> bool {
    constraints.iter().all(|c| node.labels.contains_key(&c.topology_key))
}

impl Constraint {
    /// matchNodeInclusionPolicies: whether the node's pods count for this constraint.
    fn includes(&self, pod: &Pod, node: &Node, required: &Required) -> bool {
        !(self.honor_node_affinity && !required.matches(node)
            || self.honor_node_taints && untolerated_do_not_schedule(node, &pod.tolerations))
    }

    /// countPodsMatchSelector: the node's pods in `namespace`, not being deleted, that match.
    fn count(&self, info: &NodeInfo, namespace: &str) -> i64 {
        if self.selector.is_empty() {
            return 0;
        }
        let matching =
            |p: &&AssignedPod| !p.pod.deleting && p.pod.namespace == namespace && self.selector.matches(&p.pod.labels);
        info.pods.values().filter(matching).count() as i64
    }
}

/// PreFilter's state: the DoNotSchedule constraints, and per constraint the matching pods in each domain.
struct Spread<'p> {
    pod: &'p Pod,
    constraints: Vec<Constraint>,
    domains: Vec<HashMap<String, i64>>,
}

impl Spread<'_> {
    fn filter(&self, node: &Node) -> Option<Rejection> {
        for (c, domains) in self.constraints.iter().zip(&self.domains) {
            let Some(value) = node.labels.get(&c.topology_key) else {
                return Some(Rejection::unresolvable(REASON_MISSING_LABEL));
            };
            // The critical path's count: i32::MAX with no domain, 0 below minDomains domains.
            let min = if (domains.len() as i64) < c.min_domains {
                0
            } else {
                domains.values().copied().min().unwrap_or(i32::MAX as i64)
            };
            let own = i64::from(c.selector.matches(&self.pod.labels));
            if domains.get(value).copied().unwrap_or(0) + own - min > c.max_skew {
                return Some(Rejection::unschedulable(REASON));
            }
        }
        None
    }
}

pub(crate) struct PodTopologySpread {
    /// defaultingType System: the default constraints are kube-scheduler's own.
    system_defaulted: bool,
    /// The constraints of a pod without its own (systemDefaultConstraints, or the List).
    defaults: Vec<SpreadConstraint>,
}

/// systemDefaultConstraints: hostname with maxSkew 3, zone with maxSkew 5, both ScheduleAnyway.
fn system_defaults() -> Vec<SpreadConstraint> {
    [(HOSTNAME, 3), (ZONE, 5)]
        .into_iter()
        .map(|(key, max_skew)| SpreadConstraint {
            max_skew,
            topology_key: key.to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: None,
            min_domains: None,
            node_affinity_policy: None,
            node_taints_policy: None,
            match_label_keys: Vec::new(),
        })
        .collect()
}

impl PodTopologySpread {
    pub(crate) fn new(args: Option<View<'_>>) -> Result<PodTopologySpread, String> {
        let system = || PodTopologySpread {
            system_defaulted: true,
            defaults: system_defaults(),
        };
        let Some(args) = args else { return Ok(system()) };
        let defaulting = args.get("defaultingType").filter(|v| !v.is_null());
        let system_defaulted = match defaulting.map(|v| v.as_str()) {
            None | Some(Some("System")) => true,
            Some(Some("List")) => false,
            _ => return Err("PodTopologySpread: defaultingType must be \"System\" or \"List\"".to_owned()),
        };
        let mut defaults = Vec::new();
        let given = args.get("defaultConstraints").filter(|v| !v.is_null());
        for (i, c) in given.and_then(|v| v.items()).into_iter().flatten().enumerate() {
            let at = format!("PodTopologySpread: defaultConstraints[{i}]");
            let c = spread_constraint(c, &at)?;
            // ValidatePodTopologySpreadArgs.
            if c.max_skew <= 0 {
                return Err(format!("{at}.maxSkew: not in valid range (0, inf)"));
            }
            if c.topology_key.is_empty() {
                return Err(format!("{at}.topologyKey: can not be empty"));
            }
            if !matches!(c.when_unsatisfiable.as_str(), "DoNotSchedule" | "ScheduleAnyway") {
                return Err(format!(
                    "{at}.whenUnsatisfiable: must be DoNotSchedule or ScheduleAnyway"
                ));
            }
            if c.label_selector.is_some() {
                return Err(format!(
                    "{at}.labelSelector: constraint must not define a selector, as they deduced for each pod"
                ));
            }
            let repeated =
                |d: &SpreadConstraint| d.topology_key == c.topology_key && d.when_unsatisfiable == c.when_unsatisfiable;
            if defaults.iter().any(repeated) {
                return Err(format!("{at}: the topologyKey and whenUnsatisfiable pair is repeated"));
            }
            defaults.push(c);
        }
        if system_defaulted && !defaults.is_empty() {
            return Err("PodTopologySpread: defaultingType System when .defaultConstraints are not empty".to_owned());
        }
        if system_defaulted {
            return Ok(system());
        }
        Ok(PodTopologySpread {
            system_defaulted,
            defaults,
        })
    }

    /// getConstraints: the pod's own constraints with `action`, else the defaults with it
    /// (buildDefaultConstraints), selecting what the pod's services and controller select;
    /// none when that is nothing.
    fn constraints(&self, pod: &Pod, snapshot: &State, action: &str) -> Result<Vec<Constraint>, String> {
        if !pod.spread_constraints.is_empty() {
            return constraints(pod, action);
        }
        let mut defaults = with_action(&self.defaults, pod, action)?;
        if defaults.is_empty() {
            return Ok(defaults);
        }
        let Some(selector) = snapshot.selector_sources.default_selector(pod)? else {
            return Ok(Vec::new());
        };
        for c in &mut defaults {
            c.selector = selector.clone();
        }
        Ok(defaults)
    }
}

impl FilterPlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, snapshot: &'p State) -> PreFilter<'p> {
        let constraints = match self.constraints(pod, snapshot, "DoNotSchedule") {
            Ok(c) if c.is_empty() => return PreFilter::Skip,
            Ok(c) => c,
            Err(e) if pod.spread_constraints.is_empty() => {
                return PreFilter::Error(format!("setting default hard topology spread constraints: {e}"))
            }
            Err(e) => return PreFilter::Error(format!("obtaining pod's hard topology spread constraints: {e}")),
        };
        let required = Required::of(pod);
        let mut domains: Vec<HashMap<String, i64>> = constraints.iter().map(|_| HashMap::new()).collect();
        for (info, node) in snapshot.node_infos().filter(|(_, n)| has_all_keys(n, &constraints)) {
            for (c, counts) in constraints.iter().zip(domains.iter_mut()) {
                if c.includes(pod, node, &required) {
                    *counts.entry(node.labels[&c.topology_key].clone()).or_insert(0) += c.count(info, &pod.namespace);
                }
            }
        }
        let spread = Spread {
            pod,
            constraints,
            domains,
        };
        PreFilter::Run(Box::new(move |_: &NodeInfo, node: &Node| spread.filter(node)))
    }
}

/// PreScore's state: the ScheduleAnyway constraints, the feasible nodes left out (in order), the
/// matching pods per domain (hostname constraints count on the node itself), and each
/// constraint's weight ln(domains + 2).
struct Skew<'p> {
    pod: &'p Pod,
    constraints: Vec<Constraint>,
    require_all_keys: bool,
    ignored: Vec<bool>,
    domains: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
}

impl Skew<'_> {
    /// A node without every topology key, when the constraints are the pod's own: not scored.
    fn left_out(&self, node: &Node) -> bool {
        self.require_all_keys && !has_all_keys(node, &self.constraints)
    }
}

/// A score that marks a node to be left out of normalization (invalidScore; a node that scores
/// it is treated the same).
const INVALID: i64 = -1;

impl NodeScorer for Skew<'_> {
    fn score(&self, info: &NodeInfo, node: &Node) -> i64 {
        if self.left_out(node) {
            return 0;
        }
        let mut score = 0.0f64;
        for ((c, domains), weight) in self.constraints.iter().zip(&self.domains).zip(&self.weights) {
            let Some(value) = node.labels.get(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == HOSTNAME {
                c.count(info, &self.pod.namespace)
            } else {
                domains[value]
            };
            score += count as f64 * weight + (c.max_skew - 1) as f64;
        }
        score.round() as i64
    }

    fn normalize(&self, scores: &mut [i64]) {
        let counted = || {
            scores
                .iter()
                .zip(&self.ignored)
                .filter(|(_, ignored)| !**ignored)
                .map(|(s, _)| *s)
        };
        let min = counted().min().unwrap_or(i64::MAX);
        let max = counted().fold(0, i64::max);
        for (s, ignored) in scores.iter_mut().zip(&self.ignored) {
            *s = if *ignored || *s == INVALID {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - *s) / max
            };
        }
    }
}

impl ScorePlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score<'p>(
        &'p self,
        pod: &'p Pod,
        snapshot: &'p State,
        feasible: &[(&NodeInfo, &Node)],
    ) -> Result<PreScore<'p>, String> {
        let what = if pod.spread_constraints.is_empty() {
            "setting default soft topology spread constraints"
        } else {
            "obtaining pod's soft topology spread constraints"
        };
        let constraints = self
            .constraints(pod, snapshot, "ScheduleAnyway")
            .map_err(|e| format!("running PreScore plugin {NAME:?}: calculating preScoreState: {what}: {e}"))?;
        if constraints.is_empty() || snapshot.node_count == 0 {
            return Ok(PreScore::Skip);
        }
        let require_all_keys = !pod.spread_constraints.is_empty() || !self.system_defaulted;
        let mut skew = Skew {
            pod,
            constraints,
            require_all_keys,
            ignored: Vec::new(),
            domains: Vec::new(),
            weights: Vec::new(),
        };
        skew.ignored = feasible.iter().map(|(_, n)| skew.left_out(n)).collect();
        let (constraints, ignored) = (&skew.constraints, &skew.ignored);
        let mut domains: Vec<HashMap<String, i64>> = constraints.iter().map(|_| HashMap::new()).collect();
        for ((_, node), _) in feasible.iter().zip(ignored).filter(|(_, ignored)| !**ignored) {
            for (c, counts) in constraints
                .iter()
                .zip(domains.iter_mut())
                .filter(|(c, _)| c.topology_key != HOSTNAME)
            {
                counts
                    .entry(node.labels.get(&c.topology_key).cloned().unwrap_or_default())
                    .or_insert(0);
            }
        }
        let scored = ignored.iter().filter(|i| !**i).count();
        skew.weights = constraints
            .iter()
            .zip(&domains)
            .map(|(c, d)| ((if c.topology_key == HOSTNAME { scored } else { d.len() }) as f64 + 2.0).ln())
            .collect();
        let required = Required::of(pod);
        for (info, node) in snapshot
            .node_infos()
            .filter(|(_, n)| !require_all_keys || has_all_keys(n, constraints))
        {
            for (c, counts) in constraints.iter().zip(domains.iter_mut()) {
                if !c.includes(pod, node, &required) {
                    continue;
                }
                let value = node.labels.get(&c.topology_key).map_or("", String::as_str);
                if let Some(n) = counts.get_mut(value) {
                    *n += c.count(info, &pod.namespace);
                }
            }
        }
        skew.domains = domains;
        Ok(PreScore::Run(Box::new(skew)))
    }
}
