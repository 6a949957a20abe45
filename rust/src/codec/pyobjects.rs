//! A `Sink` that builds plain Python objects (dict, list, str, int, float, bool, None) through
//! the C API: no intermediate tree. Repeated keys and short values come from a small cache, so
//! 10,000 pods share one `"metadata"` string object, which saves both time and memory.
use super::error::Result;
use super::hash::hash_words;
use super::schema::Field;
use super::sink::Sink;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

/// Strings up to this many bytes are looked up in (and added to) the cache.
const CACHED_LEN: usize = 24;
const MAX_SLOTS: usize = 4096;

/// A cached string: its bytes inline (zero-padded words, so comparing is three word compares,
/// no pointer to follow) and the Python str.
struct Slot {
    words: [u64; 3],
    len: usize,
    obj: Option<Py<PyAny>>,
}

/// A direct-mapped cache of Python strings by content; a collision replaces the slot.
pub struct StrCache {
    slots: Box<[Slot]>,
    /// log2 of the number of slots.
    bits: u32,
}

impl StrCache {
    /// A cache sized for a body of `size` bytes: a small body needs few slots, and each decode
    /// would otherwise pay for the largest table.
    pub fn for_body(size: usize) -> Self {
        let n = (size / 64).clamp(64, MAX_SLOTS).next_power_of_two();
        let slots = (0..n)
            .map(|_| Slot {
                words: [0; 3],
                len: 0,
                obj: None,
            })
            .collect();
        StrCache {
            slots,
            bits: n.trailing_zeros(),
        }
    }
}

impl Default for StrCache {
    fn default() -> Self {
        StrCache::for_body(usize::MAX)
    }
}

fn new_str(py: Python<'_>, s: &str) -> Result<*mut ffi::PyObject> {
    let p = unsafe { ffi::PyUnicode_FromStringAndSize(s.as_ptr().cast(), s.len() as ffi::Py_ssize_t) };
    if p.is_null() {
        return Err(PyErr::fetch(py).into());
    }
    Ok(p)
}

impl StrCache {
    /// A new reference to a Python str equal to `s`.
    #[inline]
    pub fn get(&mut self, py: Python<'_>, s: &str) -> Result<*mut ffi::PyObject> {
        let b = s.as_bytes();
        if b.len() > CACHED_LEN {
            return new_str(py, s);
        }
        let mut padded = [0u8; CACHED_LEN];
        padded[..b.len()].copy_from_slice(b);
        let words: [u64; 3] = std::array::from_fn(|i| u64::from_le_bytes(padded[i * 8..i * 8 + 8].try_into().unwrap()));
        let h = hash_words(&words, b.len());
        // The multiply leaves its best bits at the top.
        let slot = &mut self.slots[(h >> (64 - self.bits)) as usize];
        if let Some(obj) = &slot.obj {
            if slot.len == b.len() && slot.words == words {
                let p = obj.as_ptr();
                unsafe { ffi::Py_INCREF(p) };
                return Ok(p);
            }
        }
        let p = new_str(py, s)?;
        unsafe { ffi::Py_INCREF(p) };
        *slot = Slot {
            words,
            len: b.len(),
            obj: Some(unsafe { Bound::from_owned_ptr(py, p) }.unbind()),
        };
        Ok(p)
    }
}

enum Frame {
    /// `key`: the key of the next value; owned unless it is a schema field's interned name,
    /// which lives as long as the process (saving two reference-count calls a member).
    Dict {
        obj: *mut ffi::PyObject,
        key: *mut ffi::PyObject,
        key_owned: bool,
    },
    List {
        obj: *mut ffi::PyObject,
    },
    /// A list made at its final length, filled in place (each item's reference handed over).
    SizedList {
        obj: *mut ffi::PyObject,
        next: ffi::Py_ssize_t,
    },
}

pub struct PyBuilder<'c, 'py> {
    py: Python<'py>,
    stack: Vec<Frame>,
    root: Option<Py<PyAny>>,
    strings: &'c mut StrCache,
    /// The value emitted last (borrowed: its container or `root` holds it).
    last: *mut ffi::PyObject,
    /// Values kept by `remember` (owned references), indexed by token.
    kept: Vec<*mut ffi::PyObject>,
}

impl<'c, 'py> PyBuilder<'c, 'py> {
    pub fn new(py: Python<'py>, strings: &'c mut StrCache) -> Self {
        PyBuilder {
            py,
            stack: Vec::with_capacity(32),
            root: None,
            strings,
            last: std::ptr::null_mut(),
            kept: Vec::new(),
        }
    }

    /// The finished value (None if nothing was emitted).
    pub fn finish(mut self) -> Py<PyAny> {
        self.root.take().unwrap_or_else(|| self.py.None())
    }

    /// Hands a new reference to the enclosing container (or makes it the result).
    #[inline]
    fn put(&mut self, obj: *mut ffi::PyObject) -> Result<()> {
        if obj.is_null() {
            return Err(PyErr::fetch(self.py).into());
        }
        self.last = obj;
        let rc = match self.stack.last_mut() {
            Some(Frame::Dict { obj: d, key, key_owned }) => unsafe {
                let rc = ffi::PyDict_SetItem(*d, *key, obj);
                if *key_owned {
                    ffi::Py_DECREF(*key);
                }
                *key = std::ptr::null_mut();
                ffi::Py_DECREF(obj);
                rc
            },
            Some(Frame::List { obj: l }) => unsafe {
                let rc = ffi::PyList_Append(*l, obj);
                ffi::Py_DECREF(obj);
                rc
            },
            Some(Frame::SizedList { obj: l, next }) => unsafe {
                let rc = ffi::PyList_SetItem(*l, *next, obj);
                *next += 1;
                rc
            },
            None => {
                self.root = Some(unsafe { Bound::from_owned_ptr(self.py, obj) }.unbind());
                0
            }
        };
        if rc != 0 {
            return Err(PyErr::fetch(self.py).into());
        }
        Ok(())
    }

    /// Sets the key of the next value: a new reference if `owned`, else one that outlives us.
    fn set_key(&mut self, p: *mut ffi::PyObject, owned: bool) {
        if let Some(Frame::Dict { key, key_owned, .. }) = self.stack.last_mut() {
            if !key.is_null() && *key_owned {
                unsafe { ffi::Py_DECREF(*key) };
            }
            *key = p;
            *key_owned = owned;
        } else if owned {
            unsafe { ffi::Py_DECREF(p) };
        }
    }

    fn close(&mut self) -> Result<()> {
        let obj = match self.stack.pop() {
            Some(Frame::Dict { obj, .. }) | Some(Frame::List { obj }) | Some(Frame::SizedList { obj, .. }) => obj,
            None => return Ok(()),
        };
        self.put(obj)
    }
}

/// Values a `PyBuilder` kept for `repeat`, held between builders (with the GIL released in
/// between) so that a list decoded in batches repeats across them; tokens stay valid.
#[derive(Default)]
pub struct Kept(Vec<*mut ffi::PyObject>);

// Owned references, touched only by a builder, which holds the GIL.
unsafe impl Send for Kept {}
unsafe impl Sync for Kept {}

impl Drop for Kept {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            Python::attach(|_| {
                for p in self.0.drain(..) {
                    unsafe { ffi::Py_DECREF(p) };
                }
            });
        }
    }
}

impl PyBuilder<'_, '_> {
    /// Trades the values this builder keeps for `kept`: before a batch, to take up the values
    /// of earlier ones, and after it, to hand them all back.
    pub fn swap_kept(&mut self, kept: &mut Kept) {
        std::mem::swap(&mut self.kept, &mut kept.0);
    }
}

impl Drop for PyBuilder<'_, '_> {
    fn drop(&mut self) {
        for p in self.kept.drain(..) {
            unsafe { ffi::Py_DECREF(p) };
        }
        // After an error, release the half-built containers (and a key waiting for its value).
        for f in self.stack.drain(..) {
            unsafe {
                match f {
                    Frame::Dict { obj, key, key_owned } => {
                        ffi::Py_DECREF(obj);
                        if !key.is_null() && key_owned {
                            ffi::Py_DECREF(key);
                        }
                    }
                    // A sized list not yet full holds NULLs, which its deallocation skips.
                    Frame::List { obj } | Frame::SizedList { obj, .. } => ffi::Py_DECREF(obj),
                }
            }
        }
    }
}

/// A new reference to a copy of `o` that shares no dict or list with it (strings, numbers and
/// the rest are immutable and shared). Copying a dict clones its hash table in one piece, far
/// cheaper than inserting its keys again; null on a Python error.
unsafe fn deep_copy(o: *mut ffi::PyObject) -> *mut ffi::PyObject {
    if ffi::PyDict_CheckExact(o) != 0 {
        let copy = ffi::PyDict_Copy(o);
        if copy.is_null() {
            return copy;
        }
        let (mut pos, mut k, mut v) = (0, std::ptr::null_mut(), std::ptr::null_mut());
        while ffi::PyDict_Next(o, &mut pos, &mut k, &mut v) != 0 {
            if is_container(v) {
                let inner = deep_copy(v);
                let rc = if inner.is_null() {
                    -1
                } else {
                    ffi::PyDict_SetItem(copy, k, inner)
                };
                if !inner.is_null() {
                    ffi::Py_DECREF(inner);
                }
                if rc != 0 {
                    ffi::Py_DECREF(copy);
                    return std::ptr::null_mut();
                }
            }
        }
        copy
    } else if ffi::PyList_CheckExact(o) != 0 {
        let n = ffi::PyList_Size(o);
        let copy = ffi::PyList_GetSlice(o, 0, n);
        if copy.is_null() {
            return copy;
        }
        for i in 0..n {
            let v = ffi::PyList_GetItem(o, i);
            if is_container(v) {
                let inner = deep_copy(v);
                if inner.is_null() || ffi::PyList_SetItem(copy, i, inner) != 0 {
                    ffi::Py_DECREF(copy);
                    return std::ptr::null_mut();
                }
            }
        }
        copy
    } else {
        ffi::Py_INCREF(o);
        o
    }
}

unsafe fn is_container(o: *mut ffi::PyObject) -> bool {
    ffi::PyDict_CheckExact(o) != 0 || ffi::PyList_CheckExact(o) != 0
}

impl Sink for PyBuilder<'_, '_> {
    const REPEATS: bool = true;

    fn remember(&mut self) -> u32 {
        unsafe { ffi::Py_INCREF(self.last) };
        self.kept.push(self.last);
        (self.kept.len() - 1) as u32
    }
    fn repeat(&mut self, token: u32) -> Result<()> {
        let copy = unsafe { deep_copy(self.kept[token as usize]) };
        self.put(copy)
    }
    fn null(&mut self) -> Result<()> {
        let p = unsafe { ffi::Py_None() };
        unsafe { ffi::Py_INCREF(p) };
        self.put(p)
    }
    fn bool(&mut self, v: bool) -> Result<()> {
        let p = unsafe {
            if v {
                ffi::Py_True()
            } else {
                ffi::Py_False()
            }
        };
        unsafe { ffi::Py_INCREF(p) };
        self.put(p)
    }
    fn int(&mut self, v: i64) -> Result<()> {
        self.put(unsafe { ffi::PyLong_FromLongLong(v) })
    }
    fn big_int(&mut self, digits: &str) -> Result<()> {
        let c = std::ffi::CString::new(digits).expect("digits have no NUL");
        self.put(unsafe { ffi::PyLong_FromString(c.as_ptr(), std::ptr::null_mut(), 10) })
    }
    fn float(&mut self, v: f64) -> Result<()> {
        self.put(unsafe { ffi::PyFloat_FromDouble(v) })
    }
    fn str(&mut self, v: &str) -> Result<()> {
        let p = self.strings.get(self.py, v)?;
        self.put(p)
    }
    fn begin_object(&mut self) -> Result<()> {
        let obj = unsafe { ffi::PyDict_New() };
        if obj.is_null() {
            return Err(PyErr::fetch(self.py).into());
        }
        self.stack.push(Frame::Dict {
            obj,
            key: std::ptr::null_mut(),
            key_owned: false,
        });
        Ok(())
    }
    fn key(&mut self, k: &str) -> Result<()> {
        let p = self.strings.get(self.py, k)?;
        self.set_key(p, true);
        Ok(())
    }
    fn field_key(&mut self, f: &'static Field) -> Result<()> {
        // Interned: one object per name across all kinds, as JSON decoding shares one per name too.
        let p = f
            .py_key
            .get_or_init(self.py, || PyString::intern(self.py, &f.json).unbind())
            .as_ptr();
        self.set_key(p, false);
        Ok(())
    }
    fn end_object(&mut self) -> Result<()> {
        self.close()
    }
    fn begin_array(&mut self) -> Result<()> {
        let obj = unsafe { ffi::PyList_New(0) };
        if obj.is_null() {
            return Err(PyErr::fetch(self.py).into());
        }
        self.stack.push(Frame::List { obj });
        Ok(())
    }
    fn begin_array_of(&mut self, len: usize) -> Result<()> {
        let obj = unsafe { ffi::PyList_New(len as ffi::Py_ssize_t) };
        if obj.is_null() {
            return Err(PyErr::fetch(self.py).into());
        }
        self.stack.push(Frame::SizedList { obj, next: 0 });
        Ok(())
    }
    fn end_array(&mut self) -> Result<()> {
        self.close()
    }
}

static GC_ENABLED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static GC_DISABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static GC_ENABLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Bodies smaller than this are decoded with the collector left alone: pausing costs more.
const PAUSE_GC_ABOVE: usize = 64 * 1024;

/// CPython's cyclic garbage collector paused (if it was running) until this is dropped: for
/// a body decoded into Python objects in batches, between which other threads may run. Per
/// batch, the collector would go over the objects of every earlier batch again and again.
pub struct GcPaused(bool);

impl GcPaused {
    pub fn new(py: Python<'_>) -> PyResult<Self> {
        let enabled = GC_ENABLED.import(py, "gc", "isenabled")?.call0()?.is_truthy()?;
        if enabled {
            GC_DISABLE.import(py, "gc", "disable")?.call0()?;
        }
        Ok(GcPaused(enabled))
    }
}

impl Drop for GcPaused {
    fn drop(&mut self) {
        if self.0 {
            Python::attach(|py| {
                if let Err(e) = GC_ENABLE.import(py, "gc", "enable").and_then(|enable| enable.call0()) {
                    e.write_unraisable(py, None);
                }
            });
        }
    }
}

/// Runs `f` with CPython's cyclic garbage collector paused when `size` is large. Building a tree
/// of millions of containers otherwise triggers collection after collection over objects that
/// cannot be garbage yet; that, not parsing, is most of the time `json.loads` takes.
pub fn with_gc_paused<T>(py: Python<'_>, size: usize, f: impl FnOnce() -> T) -> PyResult<T> {
    if size < PAUSE_GC_ABOVE {
        return Ok(f());
    }
    let enabled = GC_ENABLED.import(py, "gc", "isenabled")?.call0()?.is_truthy()?;
    if !enabled {
        return Ok(f());
    }
    GC_DISABLE.import(py, "gc", "disable")?.call0()?;
    let out = f();
    GC_ENABLE.import(py, "gc", "enable")?.call0()?;
    Ok(out)
}
