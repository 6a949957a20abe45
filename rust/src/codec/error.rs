//! The codec's one error type. Bad input becomes `kcore.codec.DecodeError` naming what was wrong
//! and where; a Python failure inside a sink (out of memory, a failing `__eq__`) passes through.
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::PyErr;

create_exception!(
    kcore.codec,
    DecodeError,
    PyValueError,
    "A body or stream that is not valid JSON / Kubernetes protobuf; the message says what and where."
);

pub enum Error {
    Decode(String),
    Python(PyErr),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A decoding failure with its explanation.
pub fn bad(msg: impl Into<String>) -> Error {
    Error::Decode(msg.into())
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error::Python(e)
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> Self {
        match e {
            Error::Decode(msg) => DecodeError::new_err(msg),
            Error::Python(e) => e,
        }
    }
}
