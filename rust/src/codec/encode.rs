//! Python objects into JSON or Kubernetes protobuf bytes. Protobuf is written from the same
//! schema the decoder reads, so `decode(encode(obj, PROTOBUF), PROTOBUF)` is what the server
//! would answer for `obj`. Encoding a field the kind does not have is an error, not a loss.
use super::compact::{CompactList, CompactObject};
use super::protobuf::MAGIC;
use super::schema::{schema, Ty};
use super::tape::put_varint;
use super::Format;
use crate::errors::encode_error;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

fn fail<T>(path: &str, what: impl std::fmt::Display) -> PyResult<T> {
    Err(encode_error(format!(
        "{}: {what}",
        if path.is_empty() { "." } else { path }
    )))
}

/// A CompactObject/CompactList as plain objects; anything else as is.
fn plain<'py>(v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(o) = v.cast::<CompactObject>() {
        return Ok(o.get().to_dict(v.py())?.into_bound(v.py()));
    }
    if let Ok(l) = v.cast::<CompactList>() {
        return Ok(l.get().to_list(v.py())?.into_bound(v.py()));
    }
    Ok(v.clone())
}

fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            c if c < 0x20 => {
                out.extend_from_slice(&s.as_bytes()[start..i]);
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}

/// Compact JSON of a Python value (dict keys must be strings; NaN and infinities are refused).
pub fn json(out: &mut Vec<u8>, v: &Bound<'_, PyAny>, path: &str) -> PyResult<()> {
    let v = plain(v)?;
    if v.is_none() {
        out.extend_from_slice(b"null");
    } else if let Ok(b) = v.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if v.is_instance_of::<PyInt>() {
        out.extend_from_slice(v.str()?.to_cow()?.as_bytes());
    } else if let Ok(f) = v.cast::<PyFloat>() {
        let f = f.value();
        if !f.is_finite() {
            return fail(path, format!("{f} is not valid JSON"));
        }
        out.extend_from_slice(format!("{f:?}").as_bytes()); // shortest round-trip form, "1.0" stays a float
    } else if let Ok(s) = v.cast::<PyString>() {
        json_string(out, &s.to_cow()?);
    } else if let Ok(d) = v.cast::<PyDict>() {
        out.push(b'{');
        for (i, (k, val)) in d.iter().enumerate() {
            let Ok(k) = k.cast::<PyString>() else {
                return fail(path, format!("key {k} is not a string"));
            };
            if i > 0 {
                out.push(b',');
            }
            let k = k.to_cow()?;
            json_string(out, &k);
            out.push(b':');
            json(out, &val, &format!("{path}.{k}"))?;
        }
        out.push(b'}');
    } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        out.push(b'[');
        for (i, item) in v.try_iter()?.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json(out, &item?, &format!("{path}[{i}]"))?;
        }
        out.push(b']');
    } else {
        return fail(path, format!("{} is not JSON-serializable", v.get_type().name()?));
    }
    Ok(())
}

fn key(out: &mut Vec<u8>, num: u32, wire: u8) {
    put_varint(out, ((num as u64) << 3) | wire as u64);
}

fn len_field(out: &mut Vec<u8>, num: u32, payload: &[u8]) {
    key(out, num, 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Seconds and nanoseconds of an RFC 3339 time ("2006-01-02T15:04:05.999999Z", or an offset).
fn parse_time(s: &str) -> Option<(i64, i64)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { std::str::from_utf8(b.get(r)?).ok()?.parse().ok() };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut i = 19;
    let mut nanos = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let o = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    // Days since the epoch of a civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + se - offset, nanos))
}

/// Nanoseconds of a Go duration string ("1h2m3.5s", "300ms", "-1.5µs").
fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&n| n > 0)?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let units = [
            ("ns", 1.0),
            ("us", 1e3),
            ("µs", 1e3),
            ("μs", 1e3),
            ("ms", 1e6),
            ("s", 1e9),
            ("m", 60e9),
            ("h", 3600e9),
        ];
        let (unit, scale) = units
            .iter()
            .filter(|(u, _)| rest.starts_with(u))
            .max_by_key(|(u, _)| u.len())?;
        rest = &rest[unit.len()..];
        total += value * scale;
    }
    Some(if neg { -total } else { total } as i64)
}

struct Writer {
    s: &'static super::schema::Schema,
}

impl Writer {
    /// The fields of message `msg` taken from `d` (and, for inlined structs, from `d` too).
    fn message(&self, msg: u32, d: &Bound<'_, PyDict>, path: &str, used: &mut Vec<String>) -> PyResult<Vec<u8>> {
        let mut out = Vec::new();
        for f in &self.s.messages[msg as usize].fields {
            if f.inline {
                match &f.ty {
                    Ty::TypeMeta => used.extend(["apiVersion".into(), "kind".into()]),
                    Ty::Msg(m) => {
                        let inner = self.message(*m, d, path, used)?;
                        len_field(&mut out, f.num, &inner);
                    }
                    _ => {}
                }
                continue;
            }
            used.push(f.json.to_string());
            let Some(v) = d.get_item(&*f.json)? else { continue };
            if v.is_none() {
                continue;
            }
            let p = format!("{path}.{}", f.json);
            self.field(&mut out, f.num, &f.ty, &plain(&v)?, &p)?;
        }
        Ok(out)
    }

    /// A whole message value from a Python dict, refusing keys the message does not have.
    fn object(&self, msg: u32, v: &Bound<'_, PyAny>, path: &str) -> PyResult<Vec<u8>> {
        let v = plain(v)?;
        let Ok(d) = v.cast::<PyDict>() else {
            return fail(
                path,
                format!(
                    "expected an object for {}, got {}",
                    self.s.messages[msg as usize].name,
                    v.get_type().name()?
                ),
            );
        };
        let mut used = Vec::new();
        let out = self.message(msg, d, path, &mut used)?;
        for k in d.keys() {
            let k: String = k.extract()?;
            if !used.contains(&k) {
                return fail(
                    path,
                    format!("{} has no field {k:?}", self.s.messages[msg as usize].name),
                );
            }
        }
        Ok(out)
    }

    fn int(v: &Bound<'_, PyAny>, path: &str) -> PyResult<i64> {
        if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
            return fail(path, format!("expected an integer, got {}", v.get_type().name()?));
        }
        v.extract::<i64>()
            .or_else(|_| v.extract::<u64>().map(|u| u as i64))
            .or_else(|_| fail(path, "integer out of range"))
    }

    fn string(v: &Bound<'_, PyAny>, path: &str) -> PyResult<String> {
        match v.cast::<PyString>() {
            Ok(s) => Ok(s.to_cow()?.into_owned()),
            Err(_) => fail(path, format!("expected a string, got {}", v.get_type().name()?)),
        }
    }

    /// Field number `n` of type `ty` holding `v`.
    fn field(&self, out: &mut Vec<u8>, n: u32, ty: &Ty, v: &Bound<'_, PyAny>, path: &str) -> PyResult<()> {
        match ty {
            Ty::Bool => match v.cast::<PyBool>() {
                Ok(b) => {
                    key(out, n, 0);
                    put_varint(out, b.is_true() as u64);
                }
                Err(_) => return fail(path, format!("expected a boolean, got {}", v.get_type().name()?)),
            },
            Ty::Int32 | Ty::Int64 | Ty::Uint32 | Ty::Uint64 => {
                let i = Self::int(v, path)?;
                key(out, n, 0);
                put_varint(out, i as u64);
            }
            Ty::Float64 => {
                let x: f64 = if v.is_instance_of::<PyBool>() {
                    return fail(path, "expected a number, got bool");
                } else {
                    v.extract().or_else(|_| fail(path, "expected a number"))?
                };
                key(out, n, 1);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Ty::String => len_field(out, n, Self::string(v, path)?.as_bytes()),
            Ty::Bytes => {
                let raw = if let Ok(b) = v.cast::<PyBytes>() {
                    b.as_bytes().to_vec()
                } else {
                    let s = Self::string(v, path)?;
                    match base64_decode(&s) {
                        Some(b) => b,
                        None => return fail(path, "not valid base64"),
                    }
                };
                len_field(out, n, &raw);
            }
            Ty::Msg(m) => {
                let inner = self.object(*m, v, path)?;
                len_field(out, n, &inner);
            }
            Ty::Time | Ty::MicroTime => {
                let s = Self::string(v, path)?;
                let Some((secs, nanos)) = parse_time(&s) else {
                    return fail(path, format!("{s:?} is not an RFC 3339 time"));
                };
                let mut ts = Vec::new();
                key(&mut ts, 1, 0);
                put_varint(&mut ts, secs as u64);
                if *ty == Ty::MicroTime && nanos != 0 {
                    key(&mut ts, 2, 0);
                    put_varint(&mut ts, nanos as u64);
                }
                len_field(out, n, &ts);
            }
            Ty::Duration => {
                let s = Self::string(v, path)?;
                let Some(d) = parse_duration(&s) else {
                    return fail(path, format!("{s:?} is not a Go duration"));
                };
                let mut inner = Vec::new();
                key(&mut inner, 1, 0);
                put_varint(&mut inner, d as u64);
                len_field(out, n, &inner);
            }
            Ty::Quantity => {
                let s = if v.is_instance_of::<PyInt>() && !v.is_instance_of::<PyBool>() {
                    v.str()?.to_cow()?.into_owned()
                } else {
                    Self::string(v, path)?
                };
                let mut inner = Vec::new();
                len_field(&mut inner, 1, s.as_bytes());
                len_field(out, n, &inner);
            }
            Ty::IntOrString => {
                let mut inner = Vec::new();
                if v.is_instance_of::<PyString>() {
                    key(&mut inner, 1, 0);
                    put_varint(&mut inner, 1);
                    len_field(&mut inner, 3, Self::string(v, path)?.as_bytes());
                } else {
                    let i = Self::int(v, path)?;
                    key(&mut inner, 1, 0);
                    put_varint(&mut inner, 0);
                    key(&mut inner, 2, 0);
                    put_varint(&mut inner, i as u64);
                }
                len_field(out, n, &inner);
            }
            Ty::RawExtension | Ty::FieldsV1 | Ty::Json => {
                let mut raw = Vec::new();
                json(&mut raw, v, path)?;
                let mut inner = Vec::new();
                len_field(&mut inner, 1, &raw);
                len_field(out, n, &inner);
            }
            Ty::PropsOrBool(props) => {
                let mut inner = Vec::new();
                key(&mut inner, 1, 0);
                match v.cast::<PyBool>() {
                    Ok(b) => put_varint(&mut inner, b.is_true() as u64),
                    Err(_) => {
                        put_varint(&mut inner, 1); // a schema allows, as Go's UnmarshalJSON says
                        len_field(&mut inner, 2, &self.object(*props, v, path)?);
                    }
                }
                len_field(out, n, &inner);
            }
            Ty::PropsOrArray(props) | Ty::PropsOrStringArray(props) => {
                let mut inner = Vec::new();
                if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
                    for (i, item) in v.try_iter()?.enumerate() {
                        let (item, p) = (item?, format!("{path}[{i}]"));
                        match ty {
                            Ty::PropsOrArray(_) => len_field(&mut inner, 2, &self.object(*props, &item, &p)?),
                            _ => len_field(&mut inner, 2, Self::string(&item, &p)?.as_bytes()),
                        }
                    }
                } else {
                    len_field(&mut inner, 1, &self.object(*props, v, path)?);
                }
                len_field(out, n, &inner);
            }
            Ty::List(elem) => {
                if !(v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>()) {
                    return fail(path, format!("expected a list, got {}", v.get_type().name()?));
                }
                for (i, item) in v.try_iter()?.enumerate() {
                    let item = plain(&item?)?;
                    let p = format!("{path}[{i}]");
                    if item.is_none() {
                        return fail(&p, "null in a list");
                    }
                    self.field(out, n, elem, &item, &p)?;
                }
            }
            Ty::Map(vty) => {
                let Ok(d) = v.cast::<PyDict>() else {
                    return fail(path, format!("expected an object, got {}", v.get_type().name()?));
                };
                for (k, val) in d.iter() {
                    let k = Self::string(&k, path)?;
                    let p = format!("{path}.{k}");
                    let mut entry = Vec::new();
                    len_field(&mut entry, 1, k.as_bytes());
                    let val = plain(&val)?;
                    if !val.is_none() {
                        match &**vty {
                            Ty::Wrapped(elem) => {
                                let mut items = Vec::new();
                                self.field(&mut items, 1, &Ty::List(elem.clone()), &val, &p)?;
                                len_field(&mut entry, 2, &items);
                            }
                            t => self.field(&mut entry, 2, t, &val, &p)?,
                        }
                    }
                    len_field(out, n, &entry);
                }
            }
            Ty::TypeMeta | Ty::Wrapped(_) => return fail(path, format!("schema type {ty:?} cannot stand alone")),
        }
        Ok(())
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let b = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 != 0 || s.len() - b.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    for chunk in b.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

/// `obj` as bytes of the given format. Protobuf needs a built-in kind (apiVersion and kind set).
#[pyfunction]
pub fn encode<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>, content_type: &str) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    match super::format_of(content_type)? {
        Format::Json => json(&mut out, obj, "")?,
        Format::Protobuf => {
            let obj = plain(obj)?;
            let Ok(d) = obj.cast::<PyDict>() else {
                return fail("", "protobuf needs an object with apiVersion and kind");
            };
            let get = |k: &str| -> PyResult<String> {
                match d.get_item(k)? {
                    Some(v) => Writer::string(&v, &format!(".{k}")),
                    None => fail("", format!("protobuf needs {k:?} to choose the message")),
                }
            };
            let (api_version, kind) = (get("apiVersion")?, get("kind")?);
            let s = schema();
            let Some(msg) = s.kind(&api_version, &kind) else {
                return fail(
                    "",
                    format!("no built-in kind {kind:?} in apiVersion {api_version:?} (custom resources are JSON only)"),
                );
            };
            let raw = Writer { s }.object(msg, &obj, "")?;
            let mut type_meta = Vec::new();
            len_field(&mut type_meta, 1, api_version.as_bytes());
            len_field(&mut type_meta, 2, kind.as_bytes());
            out.extend_from_slice(MAGIC);
            len_field(&mut out, 1, &type_meta);
            len_field(&mut out, 2, &raw);
        }
    }
    Ok(PyBytes::new(py, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_back_to_what_gotime_formats() {
        assert_eq!(parse_time("2026-05-01T12:00:00Z"), Some((1_777_636_800, 0)));
        assert_eq!(parse_time("2026-05-01T14:00:00+02:00"), Some((1_777_636_800, 0)));
        assert_eq!(
            parse_time("2026-05-01T12:00:00.123456Z"),
            Some((1_777_636_800, 123_456_000))
        );
        assert_eq!(
            parse_time("0001-01-01T00:00:00Z"),
            Some((super::super::gotime::ZERO_TIME_UNIX, 0))
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("1h0m0s"), Some(3_600_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("-1m30s"), Some(-90_000_000_000));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("1.5µs"), Some(1_500));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("1x"), None);
    }
}
