//! The informer's cache in Rust (client-go tools/cache: store, index, keys), with the label and
//! field selectors its listers filter by. The Python API is kcore.informer.
//!
//! Guarantees:
//! - Objects are stored as the compact objects the codec decodes (one tape each, shared with
//!   the caller, never copied); plain dicts are converted on the way in.
//! - Every read sees one consistent content: a write (upsert, delete, replace of the whole
//!   content) changes the objects and all indices at once.
//! - Index functions run outside the lock, before a write: one that raises changes nothing.
//! - Selectors parse and match as k8s.io/apimachinery's labels and fields packages do.
pub(crate) mod convert;
mod fields;
mod index;
mod keys;
mod label_index;
mod managed_fields;
pub(crate) mod selector;
mod store;
pub(crate) mod view;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<store::Store>()?;
    m.add_class::<selector::LabelSelector>()?;
    m.add_class::<fields::FieldSelector>()?;
    m.add_function(wrap_pyfunction!(keys::object_key, m)?)?;
    m.add_function(wrap_pyfunction!(convert::to_compact, m)?)?;
    m.add_function(wrap_pyfunction!(managed_fields::strip_managed_fields, m)?)?;
    m.add_function(wrap_pyfunction!(selector::parse_label_selector, m)?)?;
    m.add_function(wrap_pyfunction!(fields::parse_field_selector, m)?)?;
    Ok(())
}
