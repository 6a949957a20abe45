//! The codec: JSON and Kubernetes protobuf bodies into Python objects (plain or compact),
//! watch streams into events, and Python objects back into either format.
pub(crate) mod compact;
mod encode;
mod error;
#[cfg(any(test, fuzzing))]
pub mod fuzzing;
mod gotime;
mod hash;
mod json;
pub(crate) mod list;
mod protobuf;
pub(crate) mod pyobjects;
mod repeats;
mod schema;
pub(crate) mod sink;
pub(crate) mod tape;
mod watch;

use crate::errors::decode_error;
use error::{bad, Result};
use pyo3::prelude::*;
use pyobjects::{with_gc_paused, PyBuilder, StrCache};
use sink::Sink;
use tape::TapeWriter;

#[derive(Clone, Copy)]
pub enum Format {
    Json,
    Protobuf,
}

/// The format a media type names; parameters (charset, stream=watch, …) do not matter here.
pub fn format_of(content_type: &str) -> PyResult<Format> {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" => Ok(Format::Json),
        "application/vnd.kubernetes.protobuf" => Ok(Format::Protobuf),
        _ => Err(decode_error(format!(
            "unsupported content type {content_type:?}: expected application/json or application/vnd.kubernetes.protobuf"
        ))),
    }
}

fn decode_into<S: Sink>(body: &[u8], format: Format, sink: &mut S) -> Result<()> {
    match format {
        Format::Json => json::parse(body, sink),
        Format::Protobuf => {
            if body.len() < 4 {
                return Err(bad(format!(
                    "protobuf: a body of {} bytes is too short for the \"k8s\\0\" magic",
                    body.len()
                )));
            }
            protobuf::decode_enveloped(body, 0, body.len(), sink)
        }
    }
}

/// A body into plain Python objects.
#[pyfunction]
fn decode(py: Python<'_>, body: &[u8], content_type: &str) -> PyResult<Py<PyAny>> {
    decode_plain(py, body, format_of(content_type)?)
}

fn decode_plain(py: Python<'_>, body: &[u8], format: Format) -> PyResult<Py<PyAny>> {
    let mut strings = StrCache::for_body(body.len());
    with_gc_paused(py, body.len(), || {
        let mut b = PyBuilder::new(py, &mut strings);
        decode_into(body, format, &mut b)?;
        Ok(b.finish())
    })?
}

/// A body into a compact read-only object held in Rust; built without the GIL.
/// `strip_managed_fields`: the object (or a list's items) without metadata.managedFields.
#[pyfunction]
#[pyo3(signature = (body, content_type, strip_managed_fields=false))]
fn decode_compact(py: Python<'_>, body: &[u8], content_type: &str, strip_managed_fields: bool) -> PyResult<Py<PyAny>> {
    compact_of(py, body, format_of(content_type)?, strip_managed_fields)
}

fn compact_of(py: Python<'_>, body: &[u8], format: Format, strip_managed_fields: bool) -> PyResult<Py<PyAny>> {
    let t = py.detach(|| -> std::result::Result<_, String> {
        let mut w = TapeWriter::default();
        if strip_managed_fields {
            w = w.leave_out_managed_fields(false);
        }
        match decode_into(body, format, &mut w) {
            Ok(()) => Ok(w.finish()),
            Err(error::Error::Decode(m)) => Err(m),
            Err(error::Error::Python(_)) => unreachable!("the tape writer never calls Python"),
        }
    });
    match t {
        Ok(t) => compact::root_view(py, t),
        Err(m) => Err(decode_error(m)),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(decode_compact, m)?)?;
    m.add_function(wrap_pyfunction!(encode::encode, m)?)?;
    m.add_class::<compact::CompactObject>()?;
    m.add_class::<compact::CompactList>()?;
    m.add_class::<watch::WatchDecoder>()?;
    m.add_class::<list::ListDecoder>()?;
    Ok(())
}
