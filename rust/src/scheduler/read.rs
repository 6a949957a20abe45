//! Reading the fields the scheduler needs from a pod or node (a compact object's tape, which is
//! what a plain dict is converted to as well), each error naming the field that is wrong.
use super::quantity::{self, Nano};
use super::resources::ResourceList;
use crate::informer::view::View;
use std::collections::BTreeMap;

pub(crate) type Read<T> = Result<T, String>;

/// A field that may be absent or null: Ok(None) then.
pub(crate) fn field<'a>(v: View<'a>, key: &str) -> Option<View<'a>> {
    v.get(key).filter(|f| !f.is_null())
}

pub(crate) fn string(v: View<'_>, key: &str, path: &str) -> Read<String> {
    match field(v, key) {
        None => Ok(String::new()),
        Some(f) => f
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{path}.{key} must be a string")),
    }
}

pub(crate) fn int(v: View<'_>, key: &str, path: &str) -> Read<i64> {
    match field(v, key) {
        None => Ok(0),
        Some(f) => f.as_i64().ok_or_else(|| format!("{path}.{key} must be an integer")),
    }
}

pub(crate) fn boolean(v: View<'_>, key: &str, path: &str) -> Read<bool> {
    match field(v, key) {
        None => Ok(false),
        Some(f) => f.as_bool().ok_or_else(|| format!("{path}.{key} must be a boolean")),
    }
}

/// An array field: None when absent or null (upstream tells a nil list from an empty one).
pub(crate) fn list<'a>(v: View<'a>, key: &str, path: &str) -> Read<Option<Vec<View<'a>>>> {
    match field(v, key) {
        None => Ok(None),
        Some(f) => f
            .items()
            .map(|i| Some(i.collect()))
            .ok_or_else(|| format!("{path}.{key} must be a list")),
    }
}

/// A map of strings (labels, nodeSelector): None when absent or null.
pub(crate) fn string_map(v: View<'_>, key: &str, path: &str) -> Read<Option<BTreeMap<String, String>>> {
    let Some(f) = field(v, key) else { return Ok(None) };
    let entries = f.entries().ok_or_else(|| format!("{path}.{key} must be a mapping"))?;
    let mut out = BTreeMap::new();
    for (k, value) in entries {
        let s = value
            .as_str()
            .ok_or_else(|| format!("{path}.{key}.{k} must be a string"))?;
        out.insert(k.into_owned(), s.to_owned());
    }
    Ok(Some(out))
}

pub(crate) fn strings(v: View<'_>, key: &str, path: &str) -> Read<Vec<String>> {
    let mut out = Vec::new();
    for (i, item) in list(v, key, path)?.into_iter().flatten().enumerate() {
        out.push(
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{path}.{key}[{i}] must be a string"))?,
        );
    }
    Ok(out)
}

/// A v1.ResourceList: None when absent or null; each quantity a string (or a JSON number).
pub(crate) fn resource_list(v: View<'_>, key: &str, path: &str) -> Read<Option<ResourceList>> {
    let Some(f) = field(v, key) else { return Ok(None) };
    let entries = f
        .entries()
        .ok_or_else(|| format!("{path}.{key} must be a mapping of resource names to quantities"))?;
    let mut out = ResourceList::new();
    for (name, q) in entries {
        // As Quantity.UnmarshalJSON: null is zero; a string (trimmed) or a JSON number is parsed.
        let text = q.text();
        if q.is_null() {
            out.insert(name.into_owned(), 0);
            continue;
        }
        if text.is_empty() && q.as_str().is_none() || q.as_bool().is_some() {
            return Err(format!("{path}.{key}.{name} must be a quantity"));
        }
        let parsed: Nano = quantity::parse(text.trim()).map_err(|e| format!("{path}.{key}.{name}: {e}"))?;
        out.insert(name.into_owned(), parsed);
    }
    Ok(Some(out))
}
