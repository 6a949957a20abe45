//! The framework runtime for one pod (pkg/scheduler/framework/runtime, and schedule_one.go's
//! findNodesThatFitPod and prioritizeNodes): PreFilter, then every node's Filter in the profile's
//! order (the first rejection is the node's status), then PreScore, Score and NormalizeScore over
//! the feasible nodes and the weighted total. The per-node loops run on all cores.
use super::node::Node;
use super::node_info::NodeInfo;
use super::plugins::{Code, FilterPlugin, NodeFilter, PreFilter, PreScore, Registry, Rejection, ScorePlugin};
use super::pod::Pod;
use super::snapshot::{read_object, Snapshot, State};
use crate::informer::convert::to_compact;
use crate::informer::view::View;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyMapping;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A node's status after filtering: the plugin that rejected it ("" when PreFilter did for all
/// the plugins that narrowed the nodes) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) plugin: String,
    pub(crate) rejection: Rejection,
}

pub(crate) struct Outcome {
    /// Every node, by name, with its failure (None: it fits).
    pub(crate) statuses: Vec<(String, Option<Failure>)>,
    /// The feasible nodes, in the order `scores` and `totals` use.
    pub(crate) feasible: Vec<String>,
    /// Each score plugin that ran, its normalized (unweighted) scores.
    pub(crate) scores: Vec<(&'static str, Vec<i64>)>,
    pub(crate) totals: Vec<i64>,
    /// When PreFilter rejected the pod outright: its message (the reasons joined by ", ").
    pub(crate) pre_filter_message: Option<String>,
    /// The nodes Filter ran on (ScheduleResult.EvaluatedNodes): how far the next pod's search
    /// starts after this one's.
    pub(crate) evaluated: usize,
}

pub(crate) struct Profile {
    filters: Vec<Arc<dyn FilterPlugin>>,
    scores: Vec<(Arc<dyn ScorePlugin>, i64)>,
}

/// Nodes per thread below which a loop stays on the calling thread.
const NODES_PER_THREAD: usize = 256;

/// `f` over `items` in order, on up to all cores when there are enough items.
pub(crate) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / NODES_PER_THREAD)
        .max(1);
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a scheduler worker panicked"))
            .collect()
    })
}

impl Profile {
    pub(crate) fn new(
        filters: &[String],
        scores: &[(String, i64)],
        args: &HashMap<String, View<'_>>,
    ) -> Result<Profile, String> {
        let filters = filters
            .iter()
            .map(|n| Registry::filter(n, args.get(n).copied()))
            .collect::<Result<_, _>>()?;
        let scores = scores
            .iter()
            .map(|(n, w)| {
                if *w < 0 {
                    return Err(format!("score plugin {n:?}: weight {w} is negative"));
                }
                // A weight of 0 counts as 1, as in kube-scheduler's profiles.
                Ok((Registry::score(n, args.get(n).copied())?, if *w == 0 { 1 } else { *w }))
            })
            .collect::<Result<_, _>>()?;
        Ok(Profile { filters, scores })
    }

    /// `sampling`: None evaluates every node; Some(percentageOfNodesToScore) stops once as many
    /// nodes fit as kube-scheduler looks for, searching from the candidate at `start` on.
    pub(crate) fn run(
        &self,
        pod: &Pod,
        state: &State,
        score: bool,
        sampling: Option<i64>,
        start: usize,
    ) -> Result<Outcome, String> {
        let nodes: Vec<(&NodeInfo, &Node)> = state.node_infos_in_order();
        let mut filters: Vec<(&'static str, Box<dyn NodeFilter + '_>)> = Vec::new();
        let mut only: Option<HashSet<String>> = None;
        let mut narrowing: Vec<&'static str> = Vec::new();
        let mut rejected: Option<Failure> = None;
        for plugin in &self.filters {
            match plugin.pre_filter(pod, state) {
                PreFilter::Skip => {}
                PreFilter::Run(f) => filters.push((plugin.name(), f)),
                PreFilter::Only(names, f) => {
                    narrowing.push(plugin.name());
                    only = Some(match only {
                        None => names,
                        Some(have) => have.intersection(&names).cloned().collect(),
                    });
                    filters.push((plugin.name(), f));
                    if only.as_ref().is_some_and(HashSet::is_empty) {
                        narrowing.sort_unstable();
                        let reason = if narrowing.len() == 1 {
                            format!("node(s) didn't satisfy plugin {}", narrowing[0])
                        } else {
                            format!(
                                "node(s) didn't satisfy plugin(s) {} simultaneously",
                                go_list(&narrowing)
                            )
                        };
                        rejected = Some(Failure {
                            plugin: String::new(),
                            rejection: Rejection::unresolvable(&reason),
                        });
                        break;
                    }
                }
                PreFilter::Error(e) => return Err(format!("running PreFilter plugin {:?}: {e}", plugin.name())),
                PreFilter::Reject(r) => {
                    let unresolvable = r.code == Code::UnschedulableAndUnresolvable;
                    rejected = Some(Failure {
                        plugin: plugin.name().to_owned(),
                        rejection: r,
                    });
                    if unresolvable {
                        break;
                    }
                }
            }
        }
        if let Some(failure) = rejected {
            let statuses = nodes
                .iter()
                .map(|(_, n)| (n.name.clone(), Some(failure.clone())))
                .collect();
            let message = Some(failure.rejection.reasons.join(", "));
            return Ok(Outcome {
                statuses,
                feasible: Vec::new(),
                scores: Vec::new(),
                totals: Vec::new(),
                pre_filter_message: message,
                evaluated: 0,
            });
        }
        narrowing.sort_unstable();
        let absent = Failure {
            plugin: String::new(),
            rejection: Rejection::unresolvable(&format!("node(s) didn't satisfy plugin(s) {}", go_list(&narrowing))),
        };
        let mut statuses: Vec<(String, Option<Failure>)> = Vec::new();
        let mut candidates: Vec<(&NodeInfo, &Node)> = Vec::new();
        for (info, node) in &nodes {
            if only.as_ref().is_some_and(|names| !names.contains(&node.name)) {
                statuses.push((node.name.clone(), Some(absent.clone())));
            } else {
                candidates.push((info, node));
            }
        }
        // findNodesThatPassFilters: with nothing to score one feasible node is enough.
        let wanted = match sampling {
            Some(_) if self.scores.is_empty() => 1,
            Some(percentage) => nodes_to_find(percentage, candidates.len()),
            None => candidates.len(),
        };
        // The candidates from `start` on, wrapping around, until more than `wanted` fit:
        // evaluated a block at a time on all cores, then taken in order, so the answer is that
        // of the sequential search.
        let block = wanted.saturating_mul(2).max(NODES_PER_THREAD);
        let rotated: Vec<usize> = (0..candidates.len()).map(|i| (start + i) % candidates.len()).collect();
        let mut fitting: Vec<(&NodeInfo, &Node)> = Vec::new();
        let mut evaluated = 0;
        'blocks: for indices in rotated.chunks(block) {
            let checked = parallel_map(indices, |&i| {
                let (info, node) = candidates[i];
                filters.iter().find_map(|(name, f)| {
                    f.filter(info, node).map(|r| Failure {
                        plugin: (*name).to_owned(),
                        rejection: r,
                    })
                })
            });
            for (&i, failure) in indices.iter().zip(checked) {
                // As kube-scheduler, the search goes on past the last node wanted, counting the
                // nodes that do not fit, until one more fits (that one is not kept).
                if failure.is_none() && fitting.len() == wanted {
                    break 'blocks;
                }
                evaluated += 1;
                let (info, node) = candidates[i];
                if failure.is_none() {
                    fitting.push((info, node));
                }
                statuses.push((node.name.clone(), failure));
            }
        }
        let feasible: Vec<String> = fitting.iter().map(|(_, n)| n.name.clone()).collect();
        let mut scores = Vec::new();
        // With no score plugin every feasible node totals 1, as prioritizeNodes has it.
        let mut totals = vec![i64::from(self.scores.is_empty()); fitting.len()];
        if score && !fitting.is_empty() {
            for (plugin, weight) in &self.scores {
                let PreScore::Run(scorer) = plugin.pre_score(pod, state, &fitting)? else {
                    continue;
                };
                let mut s = parallel_map(&fitting, |(info, node)| scorer.score(info, node));
                scorer.normalize(&mut s);
                for (t, v) in totals.iter_mut().zip(&s) {
                    *t += v * weight;
                }
                scores.push((plugin.name(), s));
            }
        }
        Ok(Outcome {
            statuses,
            feasible,
            scores,
            totals,
            pre_filter_message: None,
            evaluated,
        })
    }
}

/// numFeasibleNodesToFind: every node below 100; else the percentage of them (0: 50 less one
/// per 125 nodes, at least 5), at least 100.
fn nodes_to_find(percentage: i64, all: usize) -> usize {
    const MIN_FEASIBLE_NODES: i64 = 100;
    let all = i64::try_from(all).unwrap_or(i64::MAX);
    if all < MIN_FEASIBLE_NODES {
        return all as usize;
    }
    let percentage = if percentage == 0 {
        (50 - all / 125).max(5)
    } else {
        percentage
    };
    (all * percentage / 100).max(MIN_FEASIBLE_NODES) as usize
}

/// A list as Go's fmt prints a []string: "[a b]".
fn go_list(items: &[&str]) -> String {
    format!("[{}]", items.join(" "))
}

type NodeStatus = Option<(String, &'static str, Vec<String>)>;

/// A profile's plugins, ready to run on pods against a Snapshot.
#[pyclass(frozen, module = "kcore.scheduler")]
pub struct Framework {
    profile: Profile,
    /// The profile's percentageOfNodesToScore (0: kube-scheduler's adaptive default); None
    /// when every node is evaluated.
    sampling: Option<i64>,
    /// nextStartNodeIndex: where the next pod's search for feasible nodes begins.
    next_start: AtomicUsize,
}

#[pymethods]
impl Framework {
    /// `filters`: plugin names in order; `scores`: (name, weight); `plugin_args`: name → args
    /// (a Mapping as in a KubeSchedulerConfiguration's pluginConfig).
    #[new]
    /// `percentage_of_nodes_to_score`: 0..=100, 0 for kube-scheduler's adaptive default;
    /// `every_node`: no sampling, every node is filtered (and the feasible ones scored).
    #[pyo3(signature = (filters, scores, plugin_args=None, percentage_of_nodes_to_score=0, every_node=false))]
    fn new(
        py: Python<'_>,
        filters: Vec<String>,
        scores: Vec<(String, i64)>,
        plugin_args: Option<&Bound<'_, PyAny>>,
        percentage_of_nodes_to_score: i64,
        every_node: bool,
    ) -> PyResult<Self> {
        if !(0..=100).contains(&percentage_of_nodes_to_score) {
            return Err(PyValueError::new_err(format!(
                "percentageOfNodesToScore {percentage_of_nodes_to_score} is not in 0..100"
            )));
        }
        let mut compact = Vec::new();
        if let Some(args) = plugin_args {
            let mapping = args
                .cast::<PyMapping>()
                .map_err(|_| PyTypeError::new_err("plugin_args must be a Mapping of plugin names to args"))?;
            for item in mapping.items()?.iter() {
                let (name, value): (String, Bound<'_, PyAny>) = item.extract()?;
                compact.push((name, to_compact(py, &value)?));
            }
        }
        let views: HashMap<String, View<'_>> = compact.iter().map(|(n, c)| (n.clone(), View::of(c.get()))).collect();
        let profile = Profile::new(&filters, &scores, &views).map_err(PyValueError::new_err)?;
        Ok(Framework {
            profile,
            sampling: (!every_node).then_some(percentage_of_nodes_to_score),
            next_start: AtomicUsize::new(0),
        })
    }

    /// nextStartNodeIndex: where the next pod's search begins in the snapshot's node order.
    #[getter]
    fn next_start_node_index(&self) -> usize {
        self.next_start.load(Ordering::Relaxed)
    }

    /// Filters (and, with `score`, scores) `pod` against `snapshot`, without the GIL. Returns
    /// ({node: None | (plugin, code, reasons)}, feasible nodes, {plugin: [score per feasible
    /// node]}, [total per feasible node], PreFilter's message when it rejected the pod, the
    /// number of nodes filtered).
    #[pyo3(signature = (pod, snapshot, score=true))]
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        py: Python<'_>,
        pod: &Bound<'_, PyAny>,
        snapshot: &Snapshot,
        score: bool,
    ) -> PyResult<(
        HashMap<String, NodeStatus>,
        Vec<String>,
        BTreeMap<&'static str, Vec<i64>>,
        Vec<i64>,
        Option<String>,
        usize,
    )> {
        let pod = read_object(py, pod, Pod::read)?;
        let outcome = py.detach(|| {
            let state = snapshot.state().read();
            let start = self.next_start.load(Ordering::Relaxed);
            let outcome = self.profile.run(&pod, &state, score, self.sampling, start);
            // As findNodesThatFitPod: the index moves once Filter has run (not after PreFilter
            // rejected the pod), by the nodes it ran on, modulo all the nodes.
            if let (Ok(o), true) = (&outcome, state.node_count > 0) {
                if o.pre_filter_message.is_none() {
                    self.next_start
                        .store((start + o.evaluated) % state.node_count, Ordering::Relaxed);
                }
            }
            outcome
        });
        let outcome = outcome.map_err(PyValueError::new_err)?;
        let statuses = outcome
            .statuses
            .into_iter()
            .map(|(node, f)| {
                (
                    node,
                    f.map(|f| (f.plugin, f.rejection.code.as_str(), f.rejection.reasons)),
                )
            })
            .collect();
        Ok((
            statuses,
            outcome.feasible,
            outcome.scores.into_iter().collect(),
            outcome.totals,
            outcome.pre_filter_message,
            outcome.evaluated,
        ))
    }
}
