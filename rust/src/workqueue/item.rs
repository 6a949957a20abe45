//! Work items: any hashable Python object, hashed once when it enters the queue, compared the way
//! a Python dict compares keys (identity first, then `==`).
use pyo3::ffi;
use pyo3::prelude::*;

/// A Python object with its hash computed up front: the tables never call `__hash__` again.
pub(crate) struct Item {
    pub(crate) hash: u64,
    pub(crate) obj: Py<PyAny>,
}

impl Item {
    /// What `entry` needs to compare against this item.
    pub(crate) fn key(&self) -> (u64, *mut ffi::PyObject) {
        (self.hash, self.obj.as_ptr())
    }
}

/// Whether `a == b`, as a dict compares keys. An exception raised by `__eq__` comes back as Err.
fn equals(py: Python<'_>, a: *mut ffi::PyObject, b: &Bound<'_, PyAny>) -> PyResult<bool> {
    if a == b.as_ptr() {
        return Ok(true);
    }
    // SAFETY: `a` is a live object owned by the table the caller holds; this thread is attached.
    match unsafe { ffi::PyObject_RichCompareBool(a, b.as_ptr(), ffi::Py_EQ) } {
        -1 => Err(PyErr::fetch(py)),
        r => Ok(r == 1),
    }
}

/// The object's Python hash, spread over all 64 bits: hashes of small ints are the ints
/// themselves, and hashbrown reads the top bits too. Unhashable objects give Python's TypeError.
pub(crate) fn hash_of(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    Ok((obj.hash()? as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The entry for `key` in a hashbrown table whose rows lead to an item's `key()` through
/// `key_of`. A raising `__eq__` aborts the lookup instead of being taken for "not equal".
pub(crate) fn entry<'t, T>(
    py: Python<'_>,
    table: &'t mut hashbrown::HashTable<T>,
    key: &Bound<'_, PyAny>,
    hash: u64,
    key_of: impl Fn(&T) -> (u64, *mut ffi::PyObject),
) -> PyResult<hashbrown::hash_table::Entry<'t, T>> {
    let mut error = None;
    let found = table.entry(
        hash,
        |row| {
            let (row_hash, row_obj) = key_of(row);
            error.is_none()
                && row_hash == hash
                && equals(py, row_obj, key).unwrap_or_else(|e| {
                    error = Some(e);
                    false
                })
        },
        |row| key_of(row).0,
    );
    match error {
        Some(e) => Err(e),
        None => Ok(found),
    }
}
