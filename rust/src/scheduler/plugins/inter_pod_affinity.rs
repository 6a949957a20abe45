//! InterPodAffinity: Filter requires the pod's required affinity terms to find matching pods in
//! the node's domain (or the pod to match its own terms when no pod anywhere does), refuses a
//! node whose domain holds a pod the pod's required anti-affinity selects, or an existing pod
//! whose required anti-affinity selects the pod; Score sums, per node, the weights of the
//! preferred terms (both ways, anti-affinity negative) and the existing pods' required affinity
//! at hardPodAffinityWeight, and scales them to 0..100 between the lowest and the highest.
//!
//! As v1.37.2 with its default feature gates (InterPodAffinityHostnameFastPath off). A term's
//! namespaces are its own list, else the pod's namespace; an incoming pod's namespaceSelector
//! is resolved against the Snapshot's namespaces, an existing pod's is matched against the
//! incoming pod's namespace labels. matchLabelKeys and mismatchLabelKeys are merged into the
//! selector by the API server when the pod is created, so the scheduler does not read them.
//!
//! PreFilter and PreScore look pods up in each node's PodAffinityIndex (only the pods a term
//! can select), node by node on all cores, and add the nodes' counts up: upstream's answers.
use super::{FilterPlugin, NodeScorer, PreFilter, PreScore, Rejection, ScorePlugin, MAX_NODE_SCORE};
use crate::informer::view::View;
use crate::scheduler::affinity_terms::{AffinityTerm, Labels};
use crate::scheduler::framework::parallel_map;
use crate::scheduler::label_selector::PodSelector;
use crate::scheduler::node::Node;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod::{AffinityTermSpec, Pod};
use crate::scheduler::snapshot::State;
use std::collections::HashMap;

pub(crate) const NAME: &str = "InterPodAffinity";
const REASON_EXISTING_ANTI: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
const REASON_ANTI: &str = "node(s) didn't match pod anti-affinity rules";

/// An incoming pod's term with its namespaceSelector resolved to the namespaces it selects
/// (mergeAffinityTermNamespacesIfNotEmpty; an empty selector stays: it selects them all).
fn resolved(owner: &Pod, spec: &AffinityTermSpec, snapshot: &State) -> Result<AffinityTerm, String> {
    let mut term = AffinityTerm::of(owner, spec)?;
    if !term.namespace_selector.is_empty() {
        let selected = snapshot
            .namespaces
            .iter()
            .filter(|(_, labels)| term.namespace_selector.matches(*labels));
        term.namespaces.extend(selected.map(|(name, _)| name.clone()));
        term.namespace_selector = PodSelector::Nothing;
    }
    Ok(term)
}

fn no_labels() -> &'static Labels {
    static EMPTY: std::sync::OnceLock<Labels> = std::sync::OnceLock::new();
    EMPTY.get_or_init(HashMap::new)
}

/// podMatchesAllAffinityTerms: there are terms and the pod matches each.
fn matches_all(terms: &[AffinityTerm], pod: &Pod) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, no_labels()))
}

/// Matching pods per (topology key, value).
type Counts = HashMap<(String, String), i64>;

fn record(counts: &mut Counts, node: &Node, key: &str) {
    if let Some(value) = node.labels.get(key) {
        *counts.entry((key.to_owned(), value.clone())).or_insert(0) += 1;
    }
}

fn add_counts(into: &mut Counts, from: Counts) {
    for (pair, n) in from {
        *into.entry(pair).or_insert(0) += n;
    }
}

/// The nodes' counts added up (each node's were counted apart, on any thread).
fn summed(per_node: Vec<Counts>) -> Counts {
    let mut total = Counts::new();
    per_node.into_iter().for_each(|c| add_counts(&mut total, c));
    total
}

fn count_of(counts: &Counts, node: &Node, key: &str) -> Option<i64> {
    node.labels
        .get(key)
        .map(|v| counts.get(&(key.to_owned(), v.clone())).copied().unwrap_or(0))
}

struct Required<'p> {
    pod: &'p Pod,
    affinity: Vec<AffinityTerm>,
    anti_affinity: Vec<AffinityTerm>,
    existing_anti: Counts,
    affinity_counts: Counts,
    anti_counts: Counts,
}

impl Required<'_> {
    fn filter(&self, node: &Node) -> Option<Rejection> {
        if !self.affinity.is_empty() {
            let mut pods_exist = true;
            for t in &self.affinity {
                match count_of(&self.affinity_counts, node, &t.topology_key) {
                    None => return Some(Rejection::unresolvable(REASON_AFFINITY)),
                    Some(n) if n <= 0 => pods_exist = false,
                    Some(_) => {}
                }
            }
            // No pod anywhere matches: the first of a group may go where it matches itself.
            let first_of_group = self.affinity_counts.is_empty() && matches_all(&self.affinity, self.pod);
            if !(pods_exist || first_of_group) {
                return Some(Rejection::unresolvable(REASON_AFFINITY));
            }
        }
        if !self.anti_counts.is_empty()
            && self
                .anti_affinity
                .iter()
                .any(|t| count_of(&self.anti_counts, node, &t.topology_key).is_some_and(|n| n > 0))
        {
            return Some(Rejection::unschedulable(REASON_ANTI));
        }
        if !self.existing_anti.is_empty()
            && node
                .labels
                .iter()
                .any(|(k, v)| self.existing_anti.get(&(k.clone(), v.clone())).is_some_and(|n| *n > 0))
        {
            return Some(Rejection::unschedulable(REASON_EXISTING_ANTI));
        }
        None
    }
}

pub(crate) struct InterPodAffinity {
    hard_pod_affinity_weight: i64,
    ignore_preferred_terms_of_existing_pods: bool,
}

impl InterPodAffinity {
    pub(crate) fn new(args: Option<View<'_>>) -> Result<InterPodAffinity, String> {
        let get = |key: &str| args.and_then(|a| a.get(key)).filter(|v| !v.is_null());
        let hard_pod_affinity_weight = match get("hardPodAffinityWeight") {
            None => 1,
            Some(v) => v
                .as_i64()
                .filter(|w| (0..=100).contains(w))
                .ok_or("InterPodAffinity: hardPodAffinityWeight must be an integer from 0 to 100")?,
        };
        let ignore_preferred_terms_of_existing_pods = match get("ignorePreferredTermsOfExistingPods") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or("InterPodAffinity: ignorePreferredTermsOfExistingPods must be a boolean")?,
        };
        Ok(InterPodAffinity {
            hard_pod_affinity_weight,
            ignore_preferred_terms_of_existing_pods,
        })
    }
}

fn required_terms(pod: &Pod, anti: bool) -> &[AffinityTermSpec] {
    let spec = if anti {
        &pod.pod_anti_affinity
    } else {
        &pod.pod_affinity
    };
    spec.as_ref().map_or(&[], |s| &s.required)
}

fn preferred_terms(pod: &Pod, anti: bool) -> &[(i64, AffinityTermSpec)] {
    let spec = if anti {
        &pod.pod_anti_affinity
    } else {
        &pod.pod_affinity
    };
    spec.as_ref().map_or(&[], |s| &s.preferred)
}

fn namespace_labels<'s>(snapshot: &'s State, pod: &Pod) -> &'s Labels {
    snapshot.namespaces.get(&pod.namespace).unwrap_or_else(|| no_labels())
}

impl InterPodAffinity {
    fn pre_filter_state<'p>(&self, pod: &'p Pod, snapshot: &State) -> Result<Option<Required<'p>>, String> {
        let resolve = |specs: &[AffinityTermSpec]| {
            specs
                .iter()
                .map(|s| resolved(pod, s, snapshot))
                .collect::<Result<Vec<_>, _>>()
        };
        let affinity = resolve(required_terms(pod, false))?;
        let anti_affinity = resolve(required_terms(pod, true))?;
        let ns_labels = namespace_labels(snapshot, pod);
        // Existing pods' required anti-affinity: only the pods with terms that may select the pod.
        let with_affinity: Vec<(&NodeInfo, &Node)> = snapshot
            .node_infos()
            .filter(|(info, _)| info.affinity_index.has_pods_with_affinity())
            .collect();
        let existing_anti = summed(parallel_map(&with_affinity, |(info, node)| {
            let mut counts = Counts::new();
            for existing in info.affinity_index.with_affinity_for(&pod.namespace) {
                for t in existing.terms.required_anti_affinity.iter() {
                    if t.matches(pod, ns_labels) {
                        record(&mut counts, node, &t.topology_key);
                    }
                }
            }
            counts
        }));
        // The pod's own terms, only when it has some: over the pods each may select.
        let (mut affinity_counts, mut anti_counts) = (Counts::new(), Counts::new());
        if !affinity.is_empty() || !anti_affinity.is_empty() {
            let nodes: Vec<(&NodeInfo, &Node)> = snapshot.node_infos().collect();
            let per_node = parallel_map(&nodes, |(info, node)| {
                let (mut matching, mut anti_matching) = (Counts::new(), Counts::new());
                // A pod that matches all the terms is one the first may select.
                if let Some(first) = affinity.first() {
                    info.affinity_index.for_each_selectable(first, |existing| {
                        if matches_all(&affinity, existing) {
                            affinity
                                .iter()
                                .for_each(|t| record(&mut matching, node, &t.topology_key));
                        }
                    });
                }
                for t in &anti_affinity {
                    info.affinity_index.for_each_selectable(t, |existing| {
                        if t.matches(existing, no_labels()) {
                            record(&mut anti_matching, node, &t.topology_key);
                        }
                    });
                }
                (matching, anti_matching)
            });
            for (matching, anti_matching) in per_node {
                add_counts(&mut affinity_counts, matching);
                add_counts(&mut anti_counts, anti_matching);
            }
        }
        if existing_anti.is_empty() && affinity.is_empty() && anti_affinity.is_empty() {
            return Ok(None);
        }
        Ok(Some(Required {
            pod,
            affinity,
            anti_affinity,
            existing_anti,
            affinity_counts,
            anti_counts,
        }))
    }
}

impl FilterPlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, snapshot: &'p State) -> PreFilter<'p> {
        match self.pre_filter_state(pod, snapshot) {
            Err(e) => PreFilter::Reject(Rejection::unresolvable(&format!("parsing pod: {e}"))),
            Ok(None) => PreFilter::Skip,
            Ok(Some(required)) => PreFilter::Run(Box::new(move |_: &NodeInfo, node: &Node| required.filter(node))),
        }
    }
}

/// The summed weights per topology key and value.
#[derive(Default)]
struct Preferred {
    scores: HashMap<String, HashMap<String, i64>>,
}

impl Preferred {
    fn add(&mut self, node: &Node, key: &str, weight: i64) {
        if let Some(value) = node.labels.get(key) {
            *self
                .scores
                .entry(key.to_owned())
                .or_default()
                .entry(value.clone())
                .or_insert(0) += weight;
        }
    }

    /// Adds another node's weights (a key is kept once any node recorded it, even at 0).
    fn merge(&mut self, other: Preferred) {
        for (key, values) in other.scores {
            let have = self.scores.entry(key).or_default();
            for (value, weight) in values {
                *have.entry(value).or_insert(0) += weight;
            }
        }
    }
}

impl NodeScorer for Preferred {
    fn score(&self, _: &NodeInfo, node: &Node) -> i64 {
        self.scores
            .iter()
            .filter_map(|(key, values)| node.labels.get(key).map(|v| values.get(v).copied().unwrap_or(0)))
            .sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        let (min, max) = (
            scores.iter().copied().min().unwrap_or(0),
            scores.iter().copied().max().unwrap_or(0),
        );
        let diff = max - min;
        for s in scores.iter_mut() {
            // float64 as upstream: 100 * (29 / 100) truncates to 28.
            *s = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
    }
}

impl ScorePlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score<'p>(
        &'p self,
        pod: &'p Pod,
        snapshot: &'p State,
        _: &[(&NodeInfo, &Node)],
    ) -> Result<PreScore<'p>, String> {
        let has_constraints = !preferred_terms(pod, false).is_empty() || !preferred_terms(pod, true).is_empty();
        if self.ignore_preferred_terms_of_existing_pods && !has_constraints {
            return Ok(PreScore::Skip);
        }
        let error = |e: String| format!("running PreScore plugin {NAME:?}: {e}");
        let weighted = |anti: bool| -> Result<Vec<(i64, AffinityTerm)>, String> {
            preferred_terms(pod, anti)
                .iter()
                .map(|(w, s)| Ok((*w, resolved(pod, s, snapshot)?)))
                .collect()
        };
        let (affinity, anti_affinity) = (weighted(false).map_err(error)?, weighted(true).map_err(error)?);
        let ns_labels = namespace_labels(snapshot, pod);
        // Unless the pod has preferred terms, only the nodes with pods with affinity count.
        let nodes: Vec<(&NodeInfo, &Node)> = snapshot
            .node_infos()
            .filter(|(info, node)| {
                !node.labels.is_empty() && (has_constraints || info.affinity_index.has_pods_with_affinity())
            })
            .collect();
        let per_node = parallel_map(&nodes, |(info, node)| {
            let mut preferred = Preferred::default();
            // The pod's own terms, over the pods each may select.
            for (sign, incoming) in [(1, &affinity), (-1, &anti_affinity)] {
                for (w, t) in incoming {
                    info.affinity_index.for_each_selectable(t, |existing| {
                        if t.matches(existing, no_labels()) {
                            preferred.add(node, &t.topology_key, sign * w);
                        }
                    });
                }
            }
            // The existing pods' terms that may select the pod.
            for existing in info.affinity_index.with_affinity_for(&pod.namespace) {
                let terms = &existing.terms;
                if self.hard_pod_affinity_weight > 0 {
                    for t in terms.required_affinity.iter().filter(|t| t.matches(pod, ns_labels)) {
                        preferred.add(node, &t.topology_key, self.hard_pod_affinity_weight);
                    }
                }
                for (sign, weighted) in [(1, &terms.preferred_affinity), (-1, &terms.preferred_anti_affinity)] {
                    for (w, t) in weighted.iter().filter(|(_, t)| t.matches(pod, ns_labels)) {
                        preferred.add(node, &t.topology_key, sign * w);
                    }
                }
            }
            preferred
        });
        let mut preferred = Preferred::default();
        per_node.into_iter().for_each(|p| preferred.merge(p));
        if preferred.scores.is_empty() {
            return Ok(PreScore::Skip);
        }
        Ok(PreScore::Run(Box::new(preferred)))
    }
}
