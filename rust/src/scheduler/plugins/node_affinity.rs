//! NodeAffinity: Filter requires the pod's nodeSelector and its required node affinity terms
//! (any term: all of its matchExpressions on labels and matchFields on metadata.name); PreFilter
//! narrows to the nodes named by `metadata.name In` fields; Score sums the weights of the
//! preferred terms a node matches.
use super::{default_normalize, FilterPlugin, NodeScorer, PreFilter, PreScore, Rejection, ScorePlugin};
use crate::informer::selector::{equals_requirement, node_selector_requirement, Selector};
use crate::informer::view::View;
use crate::scheduler::node::Node;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod::{Pod, SelectorRequirement, SelectorTerm};
use crate::scheduler::snapshot::State;
use std::collections::HashSet;

pub(crate) const NAME: &str = "NodeAffinity";
const REASON: &str = "node(s) didn't match Pod's node affinity/selector";
const REASON_CONFLICT: &str = "pod affinity terms conflict";

/// A field requirement on metadata.name (the only node field): equal or not equal to a value.
struct FieldRequirement {
    key: String,
    value: String,
    equal: bool,
}

/// A parsed nodeSelectorTerm (nodeaffinity.nodeSelectorTerm).
struct Term {
    labels: Option<Selector>,
    fields: Option<Vec<FieldRequirement>>,
}

impl Term {
    fn parse(term: &SelectorTerm) -> Result<Term, String> {
        let mut errors = Vec::new();
        let mut labels = None;
        if !term.match_expressions.is_empty() {
            let parsed: Vec<_> = term
                .match_expressions
                .iter()
                .map(|r| node_selector_requirement(&r.key, &r.operator, &r.values))
                .collect();
            errors.extend(parsed.iter().filter_map(|r| r.as_ref().err().cloned()));
            labels = Some(Selector::from_requirements(
                parsed.into_iter().filter_map(Result::ok).collect(),
            ));
        }
        let mut fields = None;
        if !term.match_fields.is_empty() {
            let field = |r: &SelectorRequirement| {
                let equal = match r.operator.as_str() {
                    "In" => true,
                    "NotIn" => false,
                    op => {
                        return Err(format!(
                            "field requirement {:?}: operator {op:?} is not supported: In or NotIn",
                            r.key
                        ))
                    }
                };
                match r.values.as_slice() {
                    [value] => Ok(FieldRequirement {
                        key: r.key.clone(),
                        value: value.clone(),
                        equal,
                    }),
                    _ => Err(format!("field requirement {:?}: values must have one element", r.key)),
                }
            };
            let parsed: Vec<_> = term.match_fields.iter().map(field).collect();
            errors.extend(parsed.iter().filter_map(|r| r.as_ref().err().cloned()));
            fields = Some(parsed.into_iter().filter_map(Result::ok).collect());
        }
        if errors.is_empty() {
            Ok(Term { labels, fields })
        } else {
            Err(errors.join("; "))
        }
    }

    fn matches(&self, node: &Node) -> bool {
        if self.labels.as_ref().is_some_and(|s| !s.matches(&node.labels)) {
            return false;
        }
        let field_value = |key: &str| if key == "metadata.name" { node.name.as_str() } else { "" };
        self.fields
            .iter()
            .flatten()
            .all(|f| (field_value(&f.key) == f.value) == f.equal)
    }
}

fn is_empty(term: &SelectorTerm) -> bool {
    term.match_expressions.is_empty() && term.match_fields.is_empty()
}

/// RequiredNodeAffinity: the nodeSelector, and the required terms (a term that does not parse
/// matches nothing).
pub(crate) struct Required {
    node_selector: Option<Selector>,
    terms: Option<Vec<Result<Term, String>>>,
}

impl Required {
    pub(crate) fn of(pod: &Pod) -> Required {
        let node_selector = pod
            .node_selector
            .as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| Selector::from_requirements(s.iter().map(|(k, v)| equals_requirement(k, v)).collect()));
        let terms = pod
            .required_node_affinity
            .as_ref()
            .map(|ts| ts.iter().filter(|t| !is_empty(t)).map(Term::parse).collect());
        Required { node_selector, terms }
    }

    pub(crate) fn matches(&self, node: &Node) -> bool {
        if self.node_selector.as_ref().is_some_and(|s| !s.matches(&node.labels)) {
            return false;
        }
        match &self.terms {
            None => true,
            Some(terms) => terms.iter().any(|t| t.as_ref().is_ok_and(|t| t.matches(node))),
        }
    }
}

/// The node names PreFilter can narrow to: per term, the intersection of its `metadata.name In`
/// fields; the union over terms; None when some term has no such field.
fn named_nodes(terms: &[SelectorTerm]) -> Option<HashSet<String>> {
    let mut names: Option<HashSet<String>> = None;
    for term in terms {
        let mut term_names: Option<HashSet<String>> = None;
        for r in &term.match_fields {
            if r.key == "metadata.name" && r.operator == "In" {
                let values: HashSet<String> = r.values.iter().cloned().collect();
                term_names = Some(match term_names {
                    None => values,
                    Some(have) => have.intersection(&values).cloned().collect(),
                });
            }
        }
        names.get_or_insert_with(HashSet::new).extend(term_names?);
    }
    names
}

pub(crate) struct NodeAffinity;

impl NodeAffinity {
    pub(crate) fn new(args: Option<View<'_>>) -> Result<NodeAffinity, String> {
        if args.and_then(|a| a.get("addedAffinity")).is_some_and(|a| !a.is_null()) {
            return Err("NodeAffinity: addedAffinity is not supported by kcore yet".to_owned());
        }
        Ok(NodeAffinity)
    }
}

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, _: &'p State) -> PreFilter<'p> {
        if pod.required_node_affinity.is_none() && pod.node_selector.is_none() {
            return PreFilter::Skip;
        }
        let required = Required::of(pod);
        let filter = Box::new(move |_: &NodeInfo, node: &Node| {
            (!required.matches(node)).then(|| Rejection::unresolvable(REASON))
        });
        match pod
            .required_node_affinity
            .as_deref()
            .filter(|t| !t.is_empty())
            .and_then(named_nodes)
        {
            None => PreFilter::Run(filter),
            Some(names) if names.is_empty() => PreFilter::Reject(Rejection::unresolvable(REASON_CONFLICT)),
            Some(names) => PreFilter::Only(names, filter),
        }
    }
}

struct Preferred {
    terms: Vec<(i64, Term)>,
}

impl NodeScorer for Preferred {
    fn score(&self, _: &NodeInfo, node: &Node) -> i64 {
        self.terms.iter().filter(|(_, t)| t.matches(node)).map(|(w, _)| w).sum()
    }

    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}

impl ScorePlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score<'p>(&'p self, pod: &'p Pod, _: &'p State, _: &[(&NodeInfo, &Node)]) -> Result<PreScore<'p>, String> {
        let Some(preferred) = &pod.preferred_node_affinity else {
            return Ok(PreScore::Skip);
        };
        let mut terms = Vec::new();
        let mut errors = Vec::new();
        for (weight, term) in preferred.iter().filter(|(w, t)| *w != 0 && !is_empty(t)) {
            match Term::parse(term) {
                Ok(t) => terms.push((*weight, t)),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(format!(
                "running PreScore plugin \"NodeAffinity\": {}",
                errors.join("; ")
            ));
        }
        Ok(PreScore::Run(Box::new(Preferred { terms })))
    }
}
