//! The store's label index: label key → value → the keys of the objects labelled so, kept with
//! every write. A selector with an equality, set or existence requirement then visits only the
//! objects that can match it (the smallest such set), not every object; the selector itself
//! still decides on each, so what a list returns is exactly what a scan would.
use super::index::{self, Index};
use super::selector::Selector;
use super::view::View;
use crate::codec::tape::{self, Key};
use hashbrown::HashMap;
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct LabelIndex {
    by_key: HashMap<Arc<str>, Index>,
}

/// The labels of `labels` (a tape's metadata.labels) with string values, each key once: the
/// first entry, as a selector's lookup reads it.
fn each_label<'a>(labels: View<'a>, mut f: impl FnMut(&str, &'a str)) {
    let Some((b, obj)) = labels.object() else { return };
    let mut seen: Vec<Key<'a>> = Vec::new();
    let mut p = obj + tape::HEADER;
    for _ in 0..tape::count(b, obj) {
        let key = tape::get_key(b, &mut p);
        let value = p;
        p = tape::skip(b, p);
        if b[value] != tape::STR || seen.iter().any(|k| same(k, &key)) {
            continue;
        }
        let value = tape::get_str(b, value);
        match &key {
            Key::Id(id) => f(&tape::key_name(*id), value),
            Key::Inline(k) => f(k, value),
        }
        seen.push(key);
    }
}

fn same(a: &Key<'_>, b: &Key<'_>) -> bool {
    match (a, b) {
        (Key::Id(x), Key::Id(y)) => x == y,
        (Key::Inline(x), Key::Inline(y)) => x == y,
        _ => false, // a key is either in the table or never is
    }
}

impl LabelIndex {
    pub(crate) fn add(&mut self, labels: Option<View<'_>>, key: &Arc<str>) {
        let Some(labels) = labels else { return };
        each_label(labels, |k, v| {
            let values = match self.by_key.get_mut(k) {
                Some(values) => values,
                None => self.by_key.entry(Arc::from(k)).or_default(),
            };
            index::add(values, v, key);
        });
    }

    pub(crate) fn remove(&mut self, labels: Option<View<'_>>, key: &str) {
        let Some(labels) = labels else { return };
        each_label(labels, |k, v| {
            if let Some(values) = self.by_key.get_mut(k) {
                index::remove(values, v, key);
                if values.is_empty() {
                    self.by_key.remove(k);
                }
            }
        });
    }

    /// The keys of every object that may match `selector`, from its most selective requirement
    /// that says a label must be there (`k=v`, `k in (…)`, `k`); None when it has none such.
    pub(crate) fn candidates(&self, selector: &Selector) -> Option<Vec<&Arc<str>>> {
        let sets = |key: &str, values: Option<&[String]>| -> Vec<&hashbrown::HashSet<Arc<str>>> {
            let Some(by_value) = self.by_key.get(key) else {
                return Vec::new();
            };
            match values {
                Some(values) => values.iter().filter_map(|v| by_value.get(v.as_str())).collect(),
                None => by_value.values().collect(),
            }
        };
        let narrowest = selector
            .required_labels()
            .map(|(key, values)| sets(key, values))
            .min_by_key(|sets| sets.iter().map(|s| s.len()).sum::<usize>())?;
        // An object has one value per key here: the sets are disjoint.
        Some(narrowest.into_iter().flatten().collect())
    }
}
