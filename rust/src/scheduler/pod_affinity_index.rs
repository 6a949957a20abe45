//! A node's pods as InterPodAffinity looks them up. Upstream keeps the pods with affinity terms
//! apart (PodsWithAffinity); this goes one step further by namespace, since a term selects only
//! pods in its namespaces unless it has a namespaceSelector: every pod by namespace (for the
//! incoming pod's terms), and the pods with affinity terms under each namespace their terms name
//! (for the terms that may select the incoming pod). Same answers, fewer pods visited.
use super::affinity_terms::{AffinityTerm, PodAffinityTerms};
use super::label_selector::PodSelector;
use super::pod::Pod;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A pod with pod affinity or anti-affinity, and its terms.
#[derive(Clone, Debug)]
pub(crate) struct PodWithAffinity {
    pub(crate) pod: Arc<Pod>,
    pub(crate) terms: Arc<PodAffinityTerms>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct PodAffinityIndex {
    by_namespace: HashMap<String, Vec<Arc<Pod>>>,
    /// Pods with affinity, under each namespace one of their terms names.
    with_affinity: HashMap<String, Vec<PodWithAffinity>>,
    /// Pods with a term that has a namespaceSelector: it may select a pod in any namespace.
    with_affinity_anywhere: Vec<PodWithAffinity>,
}

/// The namespaces `terms` can select pods in; None when a namespaceSelector makes it any.
fn namespaces_of(terms: &PodAffinityTerms) -> Option<HashSet<&str>> {
    let mut names = HashSet::new();
    for t in terms.all() {
        if !matches!(t.namespace_selector, PodSelector::Nothing) {
            return None;
        }
        names.extend(t.namespaces.iter().map(String::as_str));
    }
    Some(names)
}

impl PodAffinityIndex {
    pub(crate) fn add(&mut self, pod: &Arc<Pod>) {
        let list = self.by_namespace.entry(pod.namespace.clone()).or_default();
        list.push(pod.clone());
        let Some(terms) = PodAffinityTerms::of(pod) else {
            return;
        };
        let with = PodWithAffinity {
            pod: pod.clone(),
            terms: Arc::new(terms),
        };
        match namespaces_of(&with.terms) {
            None => self.with_affinity_anywhere.push(with),
            Some(names) => {
                for name in names {
                    self.with_affinity
                        .entry(name.to_owned())
                        .or_default()
                        .push(with.clone());
                }
            }
        }
    }

    pub(crate) fn remove(&mut self, pod: &Arc<Pod>) {
        if let Some(list) = self.by_namespace.get_mut(&pod.namespace) {
            list.retain(|p| !Arc::ptr_eq(p, pod));
            if list.is_empty() {
                self.by_namespace.remove(&pod.namespace);
            }
        }
        self.with_affinity_anywhere.retain(|w| !Arc::ptr_eq(&w.pod, pod));
        self.with_affinity.retain(|_, list| {
            list.retain(|w| !Arc::ptr_eq(&w.pod, pod));
            !list.is_empty()
        });
    }

    pub(crate) fn has_pods_with_affinity(&self) -> bool {
        !self.with_affinity.is_empty() || !self.with_affinity_anywhere.is_empty()
    }

    /// Each pod here that `term` (an incoming pod's, its namespaceSelector resolved) may select.
    pub(crate) fn for_each_selectable(&self, term: &AffinityTerm, mut f: impl FnMut(&Pod)) {
        if matches!(term.namespace_selector, PodSelector::Nothing) {
            let lists = term.namespaces.iter().filter_map(|n| self.by_namespace.get(n));
            lists.flatten().for_each(|p| f(p));
        } else {
            self.by_namespace.values().flatten().for_each(|p| f(p));
        }
    }

    /// The pods here with affinity terms that may select a pod in `namespace`.
    pub(crate) fn with_affinity_for<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a PodWithAffinity> {
        let named = self.with_affinity.get(namespace).into_iter().flatten();
        named.chain(&self.with_affinity_anywhere)
    }
}
