//! The objects whose selectors give PodTopologySpread's default constraints their selector
//! (plugins/helper DefaultSelector): the services that select a pod, and the
//! ReplicationController, ReplicaSet or StatefulSet that controls it.
use super::label_selector::PodSelector;
use super::pod::{label_selector, LabelSelectorSpec, Pod, SelectorRequirement};
use super::read::{field, string, string_map, Read};
use crate::informer::view::View;
use std::collections::{BTreeMap, HashMap};

pub(crate) const KINDS: &[&str] = &["Service", "ReplicationController", "ReplicaSet", "StatefulSet"];

/// A source's spec.selector: a map (Service, ReplicationController) or a LabelSelector
/// (ReplicaSet, StatefulSet); None when absent.
#[derive(Clone, Debug)]
enum Selector {
    Map(Option<BTreeMap<String, String>>),
    Label(Option<LabelSelectorSpec>),
}

#[derive(Default)]
pub(crate) struct SelectorSources {
    /// By kind, then namespace, then name (services walked in name order).
    by_kind: HashMap<&'static str, HashMap<String, BTreeMap<String, Selector>>>,
}

fn kind_of(kind: &str) -> Result<&'static str, String> {
    KINDS
        .iter()
        .copied()
        .find(|k| *k == kind)
        .ok_or_else(|| format!("kind {kind:?} is not one of {}", KINDS.join(", ")))
}

impl SelectorSources {
    /// Adds or replaces the object of `kind` (its namespace, name and spec.selector).
    pub(crate) fn set(&mut self, kind: &str, obj: View<'_>) -> Read<()> {
        let kind = kind_of(kind)?;
        let meta = field(obj, "metadata").ok_or("metadata is missing")?;
        let name = string(meta, "name", "metadata")?;
        if name.is_empty() {
            return Err("metadata.name is missing".to_owned());
        }
        let namespace = string(meta, "namespace", "metadata")?;
        let selector = match field(obj, "spec") {
            None if matches!(kind, "Service" | "ReplicationController") => Selector::Map(None),
            None => Selector::Label(None),
            Some(spec) if matches!(kind, "Service" | "ReplicationController") => {
                Selector::Map(string_map(spec, "selector", "spec")?)
            }
            Some(spec) => Selector::Label(label_selector(spec, "selector", "spec")?),
        };
        self.by_kind
            .entry(kind)
            .or_default()
            .entry(namespace)
            .or_default()
            .insert(name, selector);
        Ok(())
    }

    pub(crate) fn remove(&mut self, kind: &str, namespace: &str, name: &str) -> Read<()> {
        let kind = kind_of(kind)?;
        self.by_kind
            .get_mut(kind)
            .and_then(|n| n.get_mut(namespace))
            .and_then(|objects| objects.remove(name))
            .map(|_| ())
            .ok_or_else(|| format!("{kind} {namespace}/{name} is not in the snapshot"))
    }

    fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<&Selector> {
        self.by_kind.get(kind)?.get(namespace)?.get(name)
    }

    /// DefaultSelector: the labels of the services in the pod's namespace that select it (a
    /// later one's value wins for a key; kube-scheduler's order is its lister's, kcore's by
    /// name), with the selector of the pod's controller: a ReplicationController's labels
    /// merged in, a ReplicaSet's or StatefulSet's requirements added. None when that selects
    /// with no requirement at all.
    pub(crate) fn default_selector(&self, pod: &Pod) -> Result<Option<PodSelector>, String> {
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        let services = self.by_kind.get("Service").and_then(|n| n.get(&pod.namespace));
        for selector in services.into_iter().flat_map(BTreeMap::values) {
            if let Selector::Map(Some(s)) = selector {
                if s.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
                    labels.extend(s.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut expressions = Vec::new();
        if let Some((api_version, kind, name)) = &pod.controller {
            match (api_version.as_str(), kind.as_str()) {
                ("v1", "ReplicationController") => {
                    if let Some(Selector::Map(Some(s))) = self.get(kind, &pod.namespace, name) {
                        labels.extend(s.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                ("apps/v1", "ReplicaSet" | "StatefulSet") => {
                    // A selector that does not parse adds nothing, as upstream.
                    if let Some(Selector::Label(Some(s))) = self.get(kind, &pod.namespace, name) {
                        if PodSelector::of(Some(s)).is_ok() {
                            expressions.extend(s.match_labels.iter().map(|(k, v)| SelectorRequirement {
                                key: k.clone(),
                                operator: "In".to_owned(),
                                values: vec![v.clone()],
                            }));
                            expressions.extend(s.match_expressions.iter().cloned());
                        }
                    }
                }
                _ => {}
            }
        }
        if labels.is_empty() && expressions.is_empty() {
            return Ok(None);
        }
        let spec = LabelSelectorSpec {
            match_labels: labels,
            match_expressions: expressions,
        };
        PodSelector::of(Some(&spec)).map(Some)
    }
}
