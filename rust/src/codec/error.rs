//! The codec's one error type. Bad input becomes `kcore.codec.DecodeError` naming what was wrong
//! and where; a Python failure inside a sink (out of memory, a failing `__eq__`) passes through.
use crate::errors::decode_error;
use pyo3::PyErr;

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
            Error::Decode(msg) => decode_error(msg),
            Error::Python(e) => e,
        }
    }
}
