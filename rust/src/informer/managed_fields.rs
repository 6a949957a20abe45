//! The informer's default transform: drop metadata.managedFields, often half of what a cached
//! object would weigh. The tape is spliced byte for byte: the format is position-independent
//! (lengths are relative, keys are process-wide ids), so only two headers change.
use super::convert::to_compact;
use super::view::find_entry;
use crate::codec::compact::CompactObject;
use crate::codec::tape::{self, Tape, EMPTY_OBJECT, HEADER};
use pyo3::prelude::*;
use std::sync::Arc;

fn set_header(out: &mut [u8], at: usize, count: usize) {
    let len = (out.len() - at - HEADER) as u32;
    out[at + 1..at + 5].copy_from_slice(&len.to_le_bytes());
    out[at + 5..at + 9].copy_from_slice(&(count as u32).to_le_bytes());
}

/// The object at `pos` without metadata.managedFields, as a tape of its own; None if it has none.
fn without_managed_fields(t: &Tape, pos: usize) -> Option<Arc<Tape>> {
    let b = &*t.bytes;
    let (_, meta) = find_entry(b, pos, "metadata")?;
    let (cut_start, cut_value) = find_entry(b, meta, "managedFields")?;
    let (cut_end, meta_end, end) = (tape::skip(b, cut_value), tape::skip(b, meta), tape::skip(b, pos));
    let mut out = Vec::with_capacity(end - pos - (cut_end - cut_start));
    out.extend_from_slice(&b[pos..meta]);
    let meta_count = tape::count(b, meta) - 1;
    if meta_count == 0 {
        out.push(EMPTY_OBJECT);
    } else {
        let at = out.len();
        out.extend_from_slice(&b[meta..cut_start]);
        out.extend_from_slice(&b[cut_end..meta_end]);
        set_header(&mut out, at, meta_count);
    }
    out.extend_from_slice(&b[meta_end..end]);
    set_header(&mut out, 0, tape::count(b, pos));
    // Only a root (a list) holds CHILD references; a nested object's bytes never do.
    let children = if pos == 0 {
        t.children.clone()
    } else {
        Box::new([]) as Box<[_]>
    };
    Some(Arc::new(Tape {
        bytes: out.into_boxed_slice(),
        children,
    }))
}

/// `obj` without metadata.managedFields: the same object when it has none.
#[pyfunction]
pub fn strip_managed_fields(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Py<CompactObject>> {
    let obj = to_compact(py, obj)?;
    let c = obj.get();
    match without_managed_fields(&c.tape, c.pos) {
        Some(tape) => Py::new(py, CompactObject { tape, pos: 0 }),
        None => Ok(obj),
    }
}
