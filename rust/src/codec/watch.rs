//! `WatchDecoder`: a watch response body, fed in chunks cut anywhere, into (type, object)
//! events. JSON streams are split by the structure of the values (not by newlines); protobuf
//! streams are frames of a 4-byte big-endian length and a WatchEvent {1 type, 2 object {1 raw}},
//! raw being an enveloped object. Memory is bounded: no event may exceed 16 MiB.
use super::compact::{root_view, view_at};
use super::error::{bad, Error, Result};
use super::json::{self, Splitter};
use super::protobuf::{self, Fields};
use super::pyobjects::{with_gc_paused, PyBuilder, StrCache};
use super::tape::{self, TapeWriter};
use super::Format;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

pub const MAX_EVENT: usize = 16 << 20;
const TYPES: [&str; 5] = ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"];

#[pyclass(module = "kcore.codec")]
pub struct WatchDecoder {
    format: Format,
    compact: bool,
    /// Compact objects are written without metadata.managedFields.
    strip_managed_fields: bool,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`, for error messages.
    offset: usize,
    splitter: Splitter,
    strings: StrCache,
    /// Once the stream is known to be bad, every later call says so again.
    failed: Option<String>,
}

type Event = (Py<PyString>, Py<PyAny>);

impl WatchDecoder {
    fn tape_writer(&self, event: bool) -> TapeWriter {
        let w = TapeWriter::default();
        if self.strip_managed_fields {
            w.leave_out_managed_fields(event)
        } else {
            w
        }
    }

    fn event_type<'a>(&self, t: &'a str, at: usize) -> Result<&'a str> {
        if TYPES.contains(&t) {
            Ok(t)
        } else {
            Err(bad(format!("watch event at stream byte {at}: unknown type {t:?}")))
        }
    }

    fn json_event(&mut self, py: Python<'_>, body: &[u8], at: usize) -> Result<Event> {
        let here = |e: Error| match e {
            Error::Decode(m) => bad(format!("watch event at stream byte {at}: {m}")),
            other => other,
        };
        if self.compact {
            let mut w = self.tape_writer(true);
            json::parse(body, &mut w).map_err(here)?;
            let t = w.finish();
            let (ty, obj) = tape::event_parts(&t).ok_or_else(|| {
                bad(format!(
                    "watch event at stream byte {at}: not {{\"type\": …, \"object\": …}}"
                ))
            })?;
            let ty = self.event_type(ty, at)?;
            let obj = view_at(py, &t, obj)?;
            return Ok((PyString::new(py, ty).unbind(), obj));
        }
        let mut b = PyBuilder::new(py, &mut self.strings);
        json::parse(body, &mut b).map_err(here)?;
        let ev = b.finish();
        let ev = ev.bind(py);
        let dict = ev
            .cast::<PyDict>()
            .map_err(|_| bad(format!("watch event at stream byte {at}: not a JSON object")))?;
        let ty: String = match dict.get_item("type")? {
            Some(t) => t
                .extract()
                .map_err(|_| bad(format!("watch event at stream byte {at}: \"type\" is not a string")))?,
            None => return Err(bad(format!("watch event at stream byte {at}: no \"type\""))),
        };
        let obj = dict
            .get_item("object")?
            .ok_or_else(|| bad(format!("watch event at stream byte {at}: no \"object\"")))?;
        self.event_type(&ty, at)?;
        Ok((PyString::new(py, &ty).unbind(), obj.unbind()))
    }

    fn proto_event(&mut self, py: Python<'_>, b: &[u8], start: usize, end: usize, at: usize) -> Result<Event> {
        let here = |e: Error| match e {
            Error::Decode(m) => bad(format!("watch frame at stream byte {at}: {m}")),
            other => other,
        };
        let (mut ty, mut raw) = (None, None);
        let mut f = Fields::new(b, start, end, "WatchEvent");
        while let Some((num, wire, val, fend)) = f.next_field().map_err(here)? {
            match (num, wire) {
                (1, 2) => {
                    ty = Some(
                        std::str::from_utf8(&b[val as usize..fend])
                            .map_err(|_| bad(format!("watch frame at stream byte {at}: type is not UTF-8")))?,
                    )
                }
                (2, 2) => {
                    let mut o = Fields::new(b, val as usize, fend, "WatchEvent.object");
                    while let Some((n, w, v, e)) = o.next_field().map_err(here)? {
                        if (n, w) == (1, 2) {
                            raw = Some((v as usize, e));
                        }
                    }
                }
                _ => {}
            }
        }
        let ty = self.event_type(
            ty.ok_or_else(|| bad(format!("watch frame at stream byte {at}: no type")))?,
            at,
        )?;
        let (rs, re) = raw.ok_or_else(|| bad(format!("watch frame at stream byte {at}: no object")))?;
        let obj = if self.compact {
            let mut w = self.tape_writer(false);
            protobuf::decode_enveloped(b, rs, re, &mut w).map_err(here)?;
            root_view(py, w.finish())?
        } else {
            let mut pb = PyBuilder::new(py, &mut self.strings);
            protobuf::decode_enveloped(b, rs, re, &mut pb).map_err(here)?;
            pb.finish()
        };
        Ok((PyString::new(py, ty).unbind(), obj))
    }

    fn drain(&mut self, py: Python<'_>) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        let mut start = 0;
        let buf = std::mem::take(&mut self.buf);
        let out = (|| -> Result<()> {
            loop {
                let at = self.offset + start;
                match self.format {
                    Format::Json => {
                        let end = match self.splitter.next_end(&buf[start..], at)? {
                            Some(end) => end,
                            None => {
                                if buf.len() - start > MAX_EVENT {
                                    return Err(bad(format!(
                                        "watch event at stream byte {at} is over the {MAX_EVENT}-byte limit"
                                    )));
                                }
                                return Ok(());
                            }
                        };
                        events.push(self.json_event(py, &buf[start..start + end], at)?);
                        self.splitter.reset();
                        start += end;
                    }
                    Format::Protobuf => {
                        let rest = &buf[start..];
                        if rest.len() < 4 {
                            return Ok(());
                        }
                        let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                        if n > MAX_EVENT {
                            return Err(bad(format!(
                                "watch frame at stream byte {at} declares {n} bytes, over the {MAX_EVENT}-byte limit"
                            )));
                        }
                        if rest.len() < 4 + n {
                            return Ok(());
                        }
                        events.push(self.proto_event(py, &buf, start + 4, start + 4 + n, at)?);
                        start += 4 + n;
                    }
                }
            }
        })();
        self.buf = buf;
        self.buf.drain(..start);
        self.offset += start;
        out.map(|_| events)
    }
}

#[pymethods]
impl WatchDecoder {
    #[new]
    #[pyo3(signature = (content_type, compact=false, strip_managed_fields=false))]
    pub(crate) fn new(content_type: &str, compact: bool, strip_managed_fields: bool) -> PyResult<Self> {
        Ok(WatchDecoder {
            format: super::format_of(content_type)?,
            compact,
            strip_managed_fields,
            buf: Vec::new(),
            offset: 0,
            splitter: Splitter::default(),
            strings: StrCache::default(),
            failed: None,
        })
    }

    /// Adds a chunk of the stream; returns the events it completed, in order.
    pub(crate) fn feed(&mut self, py: Python<'_>, chunk: &[u8]) -> PyResult<Vec<Event>> {
        if let Some(m) = &self.failed {
            return Err(Error::Decode(m.clone()).into());
        }
        self.buf.extend_from_slice(chunk);
        let size = self.buf.len();
        match with_gc_paused(py, size, || self.drain(py))? {
            Ok(events) => Ok(events),
            Err(Error::Decode(m)) => {
                self.failed = Some(m.clone());
                self.buf = Vec::new();
                Err(Error::Decode(m).into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Declares the end of the stream: an event cut short is an error.
    pub(crate) fn close(&mut self) -> PyResult<()> {
        if let Some(m) = &self.failed {
            return Err(Error::Decode(m.clone()).into());
        }
        let left = match self.format {
            Format::Json => self.buf.iter().filter(|c| !c.is_ascii_whitespace()).count(),
            Format::Protobuf => self.buf.len(),
        };
        if left > 0 {
            return Err(Error::Decode(format!(
                "watch stream ended inside an event: {left} bytes from stream byte {} are incomplete",
                self.offset
            ))
            .into());
        }
        Ok(())
    }
}
