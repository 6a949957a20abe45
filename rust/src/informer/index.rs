//! Indices (client-go tools/cache/index.go): per index, each value → the keys of the objects
//! that have it. "namespace" is built in and read from the tape; other indexers are Python
//! callables, called outside the store's lock. Keys and values are `Arc<str>` shared between
//! the item map and every index, so an index costs a pointer per entry, not a string.
use crate::codec::compact::CompactObject;
use hashbrown::{HashMap, HashSet};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use std::sync::Arc;

/// The built-in index: metadata.namespace (cluster-scoped objects are in none).
pub(crate) const NAMESPACE: &str = "namespace";

pub(crate) type Index = HashMap<Arc<str>, HashSet<Arc<str>>>;

/// A user index function: called with the object, returns the list of its values.
pub(crate) struct Indexer {
    pub(crate) name: String,
    pub(crate) func: Py<PyAny>,
}

/// An object's values in the user indices: (indexer number, value).
pub(crate) type Values = Vec<(usize, String)>;

/// The values `obj` has in `indexers`, numbered from `first`.
pub(crate) fn values_of(
    py: Python<'_>,
    indexers: &[Indexer],
    first: usize,
    obj: &Bound<'_, CompactObject>,
) -> PyResult<Values> {
    let mut out = Values::new();
    for (i, ix) in indexers.iter().enumerate() {
        let returned = ix.func.bind(py).call1((obj,))?;
        let wrong = |what: String| {
            PyTypeError::new_err(format!(
                "index function {:?} returned {what}, not a list of str",
                ix.name
            ))
        };
        if !returned.is_instance_of::<PyList>() && !returned.is_instance_of::<PyTuple>() {
            return Err(wrong(format!("a {}", returned.get_type().name()?)));
        }
        for v in returned.try_iter()? {
            let v = v?;
            let s = v.cast::<PyString>().map_err(|_| {
                wrong(format!(
                    "a list holding a {}",
                    v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
                ))
            })?;
            out.push((first + i, s.to_cow()?.into_owned()));
        }
    }
    Ok(out)
}

/// Files `key` under `value`; returns the value as the index holds it (one copy per value).
pub(crate) fn add(index: &mut Index, value: &str, key: &Arc<str>) -> Arc<str> {
    if let Some((held, keys)) = index.get_key_value_mut(value) {
        keys.insert(key.clone());
        return held.clone();
    }
    let value: Arc<str> = Arc::from(value);
    index.insert(value.clone(), HashSet::from_iter([key.clone()]));
    value
}

/// Removes `key` from under `value`, and the value once no key has it.
pub(crate) fn remove(index: &mut Index, value: &str, key: &str) {
    if let Some(keys) = index.get_mut(value) {
        keys.remove(key);
        if keys.is_empty() {
            index.remove(value);
        }
    }
}
