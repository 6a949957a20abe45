//! Plain Python objects into compact ones, so that the cache holds one kind of object: tests and
//! user transforms may hand it dicts.
use crate::codec::compact::{replay, CompactList, CompactObject};
use crate::codec::sink::{Sink, MAX_DEPTH};
use crate::codec::tape::TapeWriter;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};

fn write_entries<'py>(
    w: &mut TapeWriter,
    entries: impl Iterator<Item = PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)>>,
    path: &str,
    depth: usize,
) -> PyResult<()> {
    w.begin_object()?;
    for entry in entries {
        let (k, v) = entry?;
        let Ok(k) = k.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "to_compact: {path}: key {} is not a string",
                k.repr()?
            )));
        };
        let k = k.to_cow()?;
        w.key(&k)?;
        write(w, &v, &format!("{path}.{k}"), depth + 1)?;
    }
    Ok(w.end_object()?)
}

/// Writes a JSON-like Python value (None, bool, int, float, str, mappings with str keys, lists,
/// tuples, compact views) as one value of the tape.
fn write(w: &mut TapeWriter, v: &Bound<'_, PyAny>, path: &str, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "to_compact: {path}: nested deeper than {MAX_DEPTH} levels"
        )));
    }
    if v.is_none() {
        w.null()?;
    } else if let Ok(b) = v.cast::<PyBool>() {
        w.bool(b.is_true())?;
    } else if v.is_instance_of::<PyInt>() {
        match v.extract::<i64>() {
            Ok(i) => w.int(i)?,
            Err(_) => w.big_int(&v.str()?.to_cow()?)?,
        }
    } else if let Ok(f) = v.cast::<PyFloat>() {
        w.float(f.value())?;
    } else if let Ok(s) = v.cast::<PyString>() {
        w.str(&s.to_cow()?)?;
    } else if let Ok(d) = v.cast::<PyDict>() {
        write_entries(w, d.iter().map(Ok), path, depth)?;
    } else if let Ok(c) = v.cast::<CompactObject>() {
        replay(&c.get().tape, c.get().pos, w)?;
    } else if let Ok(c) = v.cast::<CompactList>() {
        replay(&c.get().tape, c.get().pos, w)?;
    } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        w.begin_array()?;
        for (i, item) in v.try_iter()?.enumerate() {
            write(w, &item?, &format!("{path}[{i}]"), depth + 1)?;
        }
        w.end_array()?;
    } else if let Ok(m) = v.cast::<PyMapping>() {
        write_entries(w, m.items()?.iter().map(|kv| kv.extract()), path, depth)?;
    } else {
        return Err(PyTypeError::new_err(format!(
            "to_compact: {path}: {} is not JSON-like",
            v.get_type().name()?
        )));
    }
    Ok(())
}

/// A compact object equal to `obj`: a CompactObject as it is, any other Mapping copied.
#[pyfunction]
pub fn to_compact(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Py<CompactObject>> {
    if let Ok(c) = obj.cast::<CompactObject>() {
        return Ok(c.clone().unbind());
    }
    if !obj.is_instance_of::<PyDict>() && obj.cast::<PyMapping>().is_err() {
        return Err(PyTypeError::new_err(format!(
            "to_compact: expected a Mapping, got {}",
            obj.get_type().name()?
        )));
    }
    let mut w = TapeWriter::default();
    write(&mut w, obj, "", 0)?;
    Py::new(
        py,
        CompactObject {
            tape: w.finish(),
            pos: 0,
        },
    )
}
