//! Cache keys: client-go's MetaNamespaceKeyFunc, "namespace/name", or "name" for an object
//! without a namespace (cluster-scoped). Tombstones (DeletedFinalStateUnknown) are Python's.
use super::view::meta_str;
use crate::codec::compact::CompactObject;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

fn join(namespace: Option<&str>, name: Option<&str>) -> PyResult<String> {
    let name =
        name.ok_or_else(|| PyValueError::new_err("object_key: the object has no metadata.name (a non-empty string)"))?;
    Ok(match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    })
}

/// The key of a compact object.
pub(crate) fn key_of(obj: &CompactObject) -> PyResult<String> {
    join(meta_str(obj, "namespace"), meta_str(obj, "name"))
}

/// `m[key]` of a dict or any other Mapping, None when absent or None.
fn item<'py>(m: &Bound<'py, PyAny>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let v = match m.cast::<PyDict>() {
        Ok(d) => d.get_item(key)?,
        Err(_) => Some(m.call_method1("get", (key,))?),
    };
    Ok(v.filter(|v| !v.is_none()))
}

/// A non-empty string at metadata.`field` of a plain Mapping.
fn meta_field(meta: Option<&Bound<'_, PyAny>>, field: &str) -> PyResult<Option<String>> {
    let Some(v) = meta.map(|m| item(m, field)).transpose()?.flatten() else {
        return Ok(None);
    };
    let s = v
        .cast::<PyString>()
        .map_err(|_| PyValueError::new_err(format!("object_key: metadata.{field} is not a string")))?;
    Ok(Some(s.to_cow()?.into_owned()).filter(|s| !s.is_empty()))
}

/// The cache key of an object: a CompactObject or any Mapping (a plain dict too).
#[pyfunction]
pub fn object_key(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(c) = obj.cast::<CompactObject>() {
        return key_of(c.get());
    }
    let meta = item(obj, "metadata")?;
    join(
        meta_field(meta.as_ref(), "namespace")?.as_deref(),
        meta_field(meta.as_ref(), "name")?.as_deref(),
    )
}
