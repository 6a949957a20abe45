//! The exception classes Rust raises, made once per process with the bases Python code
//! expects: `KcoreError` (the base of every error kcore raises on purpose, re-exported by
//! `kcore.errors`) and, for the codec's, `ValueError` too. pyo3's exception macros take one base;
//! Python's `type()` takes several.
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

static KCORE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DECODE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static ENCODE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn class(py: Python<'_>, module: &str, name: &str, doc: &str, bases: &[Bound<'_, PyType>]) -> Py<PyType> {
    let namespace = PyDict::new(py);
    let made = (|| {
        namespace.set_item("__module__", module)?;
        namespace.set_item("__doc__", doc)?;
        let made = py
            .get_type::<PyType>()
            .call1((name, PyTuple::new(py, bases)?, namespace))?;
        Ok::<_, PyErr>(made.cast_into::<PyType>()?.unbind())
    })();
    made.expect("an exception class with builtin bases can always be made")
}

pub fn kcore_error(py: Python<'_>) -> &Bound<'_, PyType> {
    KCORE_ERROR
        .get_or_init(py, || {
            let base = py.get_type::<pyo3::exceptions::PyException>();
            class(
                py,
                "kcore.errors",
                "KcoreError",
                "Base class of kcore's own errors.",
                &[base],
            )
        })
        .bind(py)
}

fn value_error_class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    doc: &str,
) -> &'py Bound<'py, PyType> {
    cell.get_or_init(py, || {
        let bases = [kcore_error(py).clone(), py.get_type::<pyo3::exceptions::PyValueError>()];
        class(py, "kcore.codec", name, doc, &bases)
    })
    .bind(py)
}

pub fn decode_error_class(py: Python<'_>) -> &Bound<'_, PyType> {
    value_error_class(
        py,
        &DECODE_ERROR,
        "DecodeError",
        "A body or stream that is not valid JSON / Kubernetes protobuf; the message says what and where.",
    )
}

pub fn encode_error_class(py: Python<'_>) -> &Bound<'_, PyType> {
    value_error_class(
        py,
        &ENCODE_ERROR,
        "EncodeError",
        "An object that cannot be written in the requested format; the message says which field.",
    )
}

/// `kcore.codec.DecodeError(message)`.
pub fn decode_error(message: String) -> PyErr {
    Python::attach(|py| PyErr::from_type(decode_error_class(py).clone(), message))
}

/// `kcore.codec.EncodeError(message)`.
pub fn encode_error(message: String) -> PyErr {
    Python::attach(|py| PyErr::from_type(encode_error_class(py).clone(), message))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("KcoreError", kcore_error(py))?;
    m.add("DecodeError", decode_error_class(py))?;
    m.add("EncodeError", encode_error_class(py))?;
    Ok(())
}
