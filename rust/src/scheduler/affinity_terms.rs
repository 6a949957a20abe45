//! Pod affinity terms as the scheduler reads them (fwk.AffinityTerm), and an assigned pod's
//! terms parsed once, when it joins the snapshot (those upstream's PodInfo keeps), so that
//! InterPodAffinity does not parse them again for every pod it schedules.
use super::label_selector::PodSelector;
use super::pod::{AffinityTermSpec, Pod, PodAffinitySpec};
use std::collections::{HashMap, HashSet};

pub(crate) type Labels = HashMap<String, String>;

/// fwk.AffinityTerm.
#[derive(Debug)]
pub(crate) struct AffinityTerm {
    pub(crate) namespaces: HashSet<String>,
    pub(crate) selector: PodSelector,
    pub(crate) namespace_selector: PodSelector,
    pub(crate) topology_key: String,
}

impl AffinityTerm {
    /// newAffinityTerm for a term of `owner`: its namespaces are its own list, else the owner's.
    pub(crate) fn of(owner: &Pod, spec: &AffinityTermSpec) -> Result<AffinityTerm, String> {
        let namespaces = if spec.namespaces.is_empty() && spec.namespace_selector.is_none() {
            HashSet::from([owner.namespace.clone()])
        } else {
            spec.namespaces.iter().cloned().collect()
        };
        Ok(AffinityTerm {
            namespaces,
            selector: PodSelector::of(spec.label_selector.as_ref())?,
            namespace_selector: PodSelector::of(spec.namespace_selector.as_ref())?,
            topology_key: spec.topology_key.clone(),
        })
    }

    pub(crate) fn matches(&self, pod: &Pod, namespace_labels: &Labels) -> bool {
        (self.namespaces.contains(&pod.namespace) || self.namespace_selector.matches(namespace_labels))
            && self.selector.matches(&pod.labels)
    }
}

/// An assigned pod's pod affinity and anti-affinity terms. A kind is empty when one of its terms
/// does not parse: the cache keeps such a pod and drops those terms, as the API server does not
/// validate them all.
#[derive(Debug, Default)]
pub(crate) struct PodAffinityTerms {
    pub(crate) required_affinity: Vec<AffinityTerm>,
    pub(crate) required_anti_affinity: Vec<AffinityTerm>,
    pub(crate) preferred_affinity: Vec<(i64, AffinityTerm)>,
    pub(crate) preferred_anti_affinity: Vec<(i64, AffinityTerm)>,
}

impl PodAffinityTerms {
    pub(crate) fn all(&self) -> impl Iterator<Item = &AffinityTerm> {
        let preferred = self.preferred_affinity.iter().chain(&self.preferred_anti_affinity);
        let required = self.required_affinity.iter().chain(&self.required_anti_affinity);
        required.chain(preferred.map(|(_, t)| t))
    }

    /// None for a pod with neither podAffinity nor podAntiAffinity (upstream's podWithAffinity).
    pub(crate) fn of(pod: &Pod) -> Option<PodAffinityTerms> {
        if pod.pod_affinity.is_none() && pod.pod_anti_affinity.is_none() {
            return None;
        }
        let required = |spec: Option<&PodAffinitySpec>| -> Vec<AffinityTerm> {
            let specs = spec.map_or(&[][..], |s| &s.required);
            let parsed = specs.iter().map(|s| AffinityTerm::of(pod, s));
            parsed.collect::<Result<_, _>>().unwrap_or_default()
        };
        let preferred = |spec: Option<&PodAffinitySpec>| -> Vec<(i64, AffinityTerm)> {
            let specs = spec.map_or(&[][..], |s| &s.preferred);
            let parsed = specs.iter().map(|(w, s)| AffinityTerm::of(pod, s).map(|t| (*w, t)));
            parsed.collect::<Result<_, _>>().unwrap_or_default()
        };
        Some(PodAffinityTerms {
            required_affinity: required(pod.pod_affinity.as_ref()),
            required_anti_affinity: required(pod.pod_anti_affinity.as_ref()),
            preferred_affinity: preferred(pod.pod_affinity.as_ref()),
            preferred_anti_affinity: preferred(pod.pod_anti_affinity.as_ref()),
        })
    }
}
