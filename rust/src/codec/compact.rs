//! Read-only Python views over a tape: `CompactObject` (a Mapping) and `CompactList` (a
//! Sequence). Nested values are materialized when accessed; `to_dict`/`to_list` give a plain,
//! mutable deep copy. A view is immutable and holds only an `Arc` of its tape, so threads share
//! it freely.
use super::error::Result;
use super::pyobjects::{PyBuilder, StrCache};
use super::sink::Sink;
use super::tape::{self, Key, Tape};
use pyo3::exceptions::{PyIndexError, PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PySlice, PyString};
use std::sync::Arc;

/// Replays the value at `pos` into a sink, entering child tapes.
pub fn replay<S: Sink>(t: &Tape, pos: usize, sink: &mut S) -> Result<()> {
    let b = &*t.bytes;
    let mut p = pos + 1;
    match b[pos] {
        tape::NULL => sink.null(),
        tape::FALSE => sink.bool(false),
        tape::TRUE => sink.bool(true),
        tape::INT => {
            let z = tape::get_varint(b, &mut p);
            sink.int(((z >> 1) as i64) ^ -((z & 1) as i64))
        }
        tape::FLOAT => sink.float(f64::from_le_bytes(b[p..p + 8].try_into().unwrap())),
        tape::BIGINT => sink.big_int(tape::get_str(b, pos)),
        tape::STR => sink.str(tape::get_str(b, pos)),
        tape::CHILD => replay(&t.children[tape::get_varint(b, &mut p) as usize], 0, sink),
        tape::ARRAY | tape::EMPTY_ARRAY => {
            sink.begin_array()?;
            let mut p = pos + tape::HEADER;
            for _ in 0..tape::count(b, pos) {
                replay(t, p, sink)?;
                p = tape::skip(b, p);
            }
            sink.end_array()
        }
        _ => {
            sink.begin_object()?;
            let mut p = pos + tape::HEADER;
            for _ in 0..tape::count(b, pos) {
                match tape::get_key(b, &mut p) {
                    Key::Id(id) => sink.key(&tape::key_name(id))?,
                    Key::Inline(k) => sink.key(k)?,
                }
                replay(t, p, sink)?;
                p = tape::skip(b, p);
            }
            sink.end_object()
        }
    }
}

/// The plain Python value (dicts, lists, …) of the value at `pos`.
fn plain(py: Python<'_>, t: &Tape, pos: usize) -> PyResult<Py<PyAny>> {
    let mut strings = StrCache::for_body(t.bytes.len() - pos);
    let mut b = PyBuilder::new(py, &mut strings);
    replay(t, pos, &mut b)?;
    Ok(b.finish())
}

/// The value at `pos`, with objects and arrays as views.
pub fn view_at(py: Python<'_>, t: &Arc<Tape>, pos: usize) -> PyResult<Py<PyAny>> {
    let b = &*t.bytes;
    Ok(match b[pos] {
        tape::OBJECT | tape::EMPTY_OBJECT => Py::new(py, CompactObject { tape: t.clone(), pos })?.into_any(),
        tape::ARRAY | tape::EMPTY_ARRAY => Py::new(py, CompactList { tape: t.clone(), pos })?.into_any(),
        tape::CHILD => {
            let mut p = pos + 1;
            let child = t.children[tape::get_varint(b, &mut p) as usize].clone();
            Py::new(py, CompactObject { tape: child, pos: 0 })?.into_any()
        }
        _ => plain(py, t, pos)?,
    })
}

/// The root view of a freshly written tape.
pub fn root_view(py: Python<'_>, t: Arc<Tape>) -> PyResult<Py<PyAny>> {
    view_at(py, &t, 0)
}

fn read_only(what: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{what} is read-only; .to_dict() / .to_list() gives a mutable copy"
    ))
}

static KEYS_VIEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static VALUES_VIEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ITEMS_VIEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A decoded object kept compactly in Rust: a read-only Mapping.
#[pyclass(frozen, module = "kcore.codec")]
pub struct CompactObject {
    pub(crate) tape: Arc<Tape>,
    pub(crate) pos: usize,
}

impl CompactObject {
    /// Position of the value stored under `key`.
    fn find(&self, key: &str) -> Option<usize> {
        let b = &*self.tape.bytes;
        let id = tape::key_id(key);
        let mut p = self.pos + tape::HEADER;
        for _ in 0..tape::count(b, self.pos) {
            let hit = match tape::get_key(b, &mut p) {
                Key::Id(i) => Some(i) == id,
                Key::Inline(k) => k == key,
            };
            if hit {
                return Some(p);
            }
            p = tape::skip(b, p);
        }
        None
    }

    fn entries(&self, py: Python<'_>) -> Vec<(Py<PyString>, usize)> {
        let b = &*self.tape.bytes;
        let mut p = self.pos + tape::HEADER;
        let mut out = Vec::with_capacity(tape::count(b, self.pos));
        for _ in 0..tape::count(b, self.pos) {
            let k = match tape::get_key(b, &mut p) {
                Key::Id(id) => PyString::new(py, &tape::key_name(id)),
                Key::Inline(k) => PyString::new(py, k),
            };
            out.push((k.unbind(), p));
            p = tape::skip(b, p);
        }
        out
    }
}

#[pymethods]
impl CompactObject {
    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let found = key.cast::<PyString>().ok().and_then(|k| self.find(&k.to_cow().ok()?));
        match found {
            Some(p) => view_at(py, &self.tape, p),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    #[pyo3(signature = (key, default=None))]
    fn get(&self, py: Python<'_>, key: &Bound<'_, PyAny>, default: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let found = key.cast::<PyString>().ok().and_then(|k| self.find(&k.to_cow().ok()?));
        match found {
            Some(p) => view_at(py, &self.tape, p),
            None => Ok(default.unwrap_or_else(|| py.None())),
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> bool {
        key.cast::<PyString>()
            .ok()
            .and_then(|k| self.find(&k.to_cow().ok()?))
            .is_some()
    }

    fn __len__(&self) -> usize {
        tape::count(&self.tape.bytes, self.pos)
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let keys: Vec<Py<PyString>> = self.entries(py).into_iter().map(|(k, _)| k).collect();
        Ok(PyList::new(py, keys)?.try_iter()?.into_any().unbind())
    }

    fn keys(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Ok(KEYS_VIEW
            .import(slf.py(), "collections.abc", "KeysView")?
            .call1((slf,))?
            .unbind())
    }

    fn values(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Ok(VALUES_VIEW
            .import(slf.py(), "collections.abc", "ValuesView")?
            .call1((slf,))?
            .unbind())
    }

    fn items(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Ok(ITEMS_VIEW
            .import(slf.py(), "collections.abc", "ItemsView")?
            .call1((slf,))?
            .unbind())
    }

    /// A plain, mutable deep copy (dicts and lists).
    pub fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        plain(py, &self.tape, self.pos)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let other = match other.cast::<CompactObject>() {
            Ok(o) => o.get().to_dict(py)?.into_bound(py),
            Err(_) => other.clone(),
        };
        self.to_dict(py)?
            .bind(py)
            .eq(other)
            .map(|b| b.into_pyobject(py).unwrap().to_owned().into_any().unbind())
    }

    fn __hash__(&self) -> PyResult<isize> {
        Err(PyTypeError::new_err("unhashable type: 'CompactObject'"))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("CompactObject({})", self.to_dict(py)?.bind(py).repr()?))
    }

    /// Memory held: the view, plus the tape when this view is its root.
    fn __sizeof__(&self) -> usize {
        std::mem::size_of::<Self>() + if self.pos == 0 { self.tape.size() } else { 0 }
    }

    fn __setitem__(&self, _k: &Bound<'_, PyAny>, _v: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactObject"))
    }
    fn __delitem__(&self, _k: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactObject"))
    }
    #[pyo3(signature = (*_a, **_kw))]
    fn update(&self, _a: &Bound<'_, PyAny>, _kw: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        Err(read_only("CompactObject"))
    }
    #[pyo3(signature = (*_a))]
    fn pop(&self, _a: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactObject"))
    }
    fn popitem(&self) -> PyResult<()> {
        Err(read_only("CompactObject"))
    }
    #[pyo3(signature = (*_a))]
    fn setdefault(&self, _a: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactObject"))
    }
    fn clear(&self) -> PyResult<()> {
        Err(read_only("CompactObject"))
    }
}

/// A decoded array kept compactly in Rust: a read-only Sequence.
#[pyclass(frozen, module = "kcore.codec")]
pub struct CompactList {
    pub(crate) tape: Arc<Tape>,
    pub(crate) pos: usize,
}

impl CompactList {
    fn positions(&self) -> Vec<usize> {
        let b = &*self.tape.bytes;
        let mut p = self.pos + tape::HEADER;
        (0..tape::count(b, self.pos))
            .map(|_| {
                let here = p;
                p = tape::skip(b, p);
                here
            })
            .collect()
    }

    fn views(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        self.positions()
            .into_iter()
            .map(|p| view_at(py, &self.tape, p))
            .collect()
    }
}

#[pymethods]
impl CompactList {
    fn __len__(&self) -> usize {
        tape::count(&self.tape.bytes, self.pos)
    }

    fn __getitem__(&self, py: Python<'_>, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(slice) = index.cast::<PySlice>() {
            return Ok(PyList::new(py, self.views(py)?)?.as_any().get_item(slice)?.unbind());
        }
        let n = self.__len__() as isize;
        let mut i: isize = index.extract()?;
        if i < 0 {
            i += n;
        }
        if i < 0 || i >= n {
            return Err(PyIndexError::new_err("CompactList index out of range"));
        }
        view_at(py, &self.tape, self.positions()[i as usize])
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PyList::new(py, self.views(py)?)?.try_iter()?.into_any().unbind())
    }

    fn __contains__(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        PyList::new(py, self.views(py)?)?.contains(value)
    }

    fn index(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        PyList::new(py, self.views(py)?)?.index(value)
    }

    fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut n = 0;
        for v in self.views(py)? {
            if v.bind(py).eq(value)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// A plain, mutable deep copy.
    pub fn to_list(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        plain(py, &self.tape, self.pos)
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let other = match other.cast::<CompactList>() {
            Ok(o) => o.get().to_list(py)?.into_bound(py),
            Err(_) => other.clone(),
        };
        self.to_list(py)?
            .bind(py)
            .eq(other)
            .map(|b| b.into_pyobject(py).unwrap().to_owned().into_any().unbind())
    }

    fn __hash__(&self) -> PyResult<isize> {
        Err(PyTypeError::new_err("unhashable type: 'CompactList'"))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("CompactList({})", self.to_list(py)?.bind(py).repr()?))
    }

    fn __sizeof__(&self) -> usize {
        std::mem::size_of::<Self>()
    }

    fn __setitem__(&self, _k: &Bound<'_, PyAny>, _v: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    fn __delitem__(&self, _k: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    #[pyo3(signature = (*_a))]
    fn append(&self, _a: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    #[pyo3(signature = (*_a))]
    fn extend(&self, _a: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    #[pyo3(signature = (*_a))]
    fn insert(&self, _a: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    #[pyo3(signature = (*_a))]
    fn pop(&self, _a: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    #[pyo3(signature = (*_a))]
    fn remove(&self, _a: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    #[pyo3(signature = (*_a, **_kw))]
    fn sort(&self, _a: &Bound<'_, PyAny>, _kw: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    fn reverse(&self) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    fn clear(&self) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
    fn __iadd__(&self, _o: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only("CompactList"))
    }
}
