//! A list body decoded while it arrives. A LIST's items are delimited before they are decoded —
//! protobuf: each is a length-prefixed field `items` of the List message inside the "k8s\0" +
//! runtime.Unknown envelope; JSON: each is an element of the top-level object's "items" array,
//! found by its structure — so each item is decoded once its last byte is in, by the same
//! decoders as a whole body: into a tape of its own with no GIL needed (compact), or into
//! Python objects in batches. At the end, the rest of the list (kind, apiVersion, metadata:
//! the "shell", the body without its items) is decoded and the items are put in its "items".
//!
//! The result is exactly what `decode` / `decode_compact` give for the whole body. Anything
//! this does not expect — bad input, a body cut short, a layout no server writes — makes it
//! decode the whole body at the end instead, the old way: that gives the body's own result or
//! its own DecodeError (the same message, the same offsets).
use super::compact::root_view;
use super::error::{Error, Result};
use super::json;
use super::protobuf::{self, MAGIC};
use super::pyobjects::{with_gc_paused, Kept, PyBuilder, StrCache};
use super::repeats::Repeats;
use super::schema::schema;
use super::sink::{Sink, MAX_DEPTH};
use super::tape::{with_items, Item, Tape, TapeWriter};
use super::{compact_of, decode_into, decode_plain, format_of, Format};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Arc;

const BOM: &[u8] = b"\xef\xbb\xbf";
/// Longest top-level JSON key looked for across chunks.
const MAX_KEY: usize = 1024;
/// The tag of runtime.Unknown's `raw` (field 2, length-delimited).
const RAW_TAG: u8 = 2 << 3 | 2;

/// Where the framer stands. `Pb*`: protobuf, `Js*`: JSON.
#[derive(Clone, Copy, Debug, PartialEq)]
enum State {
    PbMagic,
    /// At a field of runtime.Unknown, before `raw`.
    PbEnvelope,
    /// At a field of the List message in `raw`.
    PbList,
    /// Past `raw`: the rest of the envelope is checked at the end.
    PbRest,
    /// Before the top-level '{' (a byte order mark, white space).
    JsStart,
    /// At a key of the top-level object (`first`: or at its '}').
    JsKey {
        first: bool,
    },
    JsColon {
        items: bool,
    },
    JsValue {
        items: bool,
    },
    /// Inside a top-level value other than the items.
    JsSkip(Scan),
    /// After a top-level value: ',' or '}'.
    JsAfter,
    /// At an element of "items" (`first`: or at its ']').
    JsElem {
        first: bool,
    },
    JsInElem(Scan),
    /// After an element: ',' or ']'.
    JsAfterElem,
    /// After the top-level '}': white space only.
    JsDone,
    /// Decode the whole body at the end.
    Whole,
}

/// A JSON value being passed over: where it started, how deep the scan is, whether it is in a
/// string (and just after a backslash there), or a number or literal (ended by a delimiter).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scan {
    start: usize,
    depth: usize,
    string: bool,
    escape: bool,
    scalar: bool,
}

/// Bytes that end a run inside a JSON string: the quote and the backslash.
static IN_STRING: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Bytes that matter to the structure of a JSON value outside strings.
static STRUCTURE: [bool; 256] = {
    let mut t = [false; 256];
    t[b'"' as usize] = true;
    t[b'{' as usize] = true;
    t[b'}' as usize] = true;
    t[b'[' as usize] = true;
    t[b']' as usize] = true;
    t
};

/// Non-zero if a byte of `w` is `b` (exact as a yes or no; which byte, not).
#[inline]
fn has_byte(w: u64, b: u8) -> u64 {
    let v = w ^ (0x0101_0101_0101_0101 * u64::from(b));
    v.wrapping_sub(0x0101_0101_0101_0101) & !v & 0x8080_8080_8080_8080
}

/// Moves on from `p` eight bytes at a time while `hit` finds nothing in them.
#[inline]
fn skip_words(b: &[u8], mut p: usize, hit: impl Fn(u64) -> u64) -> usize {
    while p + 8 <= b.len() && hit(u64::from_le_bytes(b[p..p + 8].try_into().unwrap())) == 0 {
        p += 8;
    }
    p
}

/// What one step of the framer did.
enum Step {
    More,
    Wait,
    Bad,
}

/// Unwraps a look-ahead: the value, or the step that stops the framer (wait, or give up).
macro_rules! need {
    ($e:expr) => {
        match $e {
            Ok(Some(v)) => v,
            Ok(None) => return Step::Wait,
            Err(()) => return Step::Bad,
        }
    };
}

/// The varint at `pos` and the position after it; None if the body has not got that far yet;
/// Err if it is malformed or runs into `limit` (where the whole decoder would call it truncated).
fn varint_at(b: &[u8], pos: usize, limit: usize) -> std::result::Result<Option<(u64, usize)>, ()> {
    let mut v = 0u64;
    for i in 0..10 {
        let p = pos + i;
        if p >= limit {
            return Err(());
        }
        let Some(&c) = b.get(p) else { return Ok(None) };
        v |= ((c & 0x7f) as u64) << (7 * i);
        if c < 0x80 {
            return Ok(Some((v, p + 1)));
        }
    }
    Err(())
}

/// The end of the protobuf field whose key is at `at`: (number, wire type, start of its
/// payload, end). None until its bytes are all in; Err where the whole decoder would fail or
/// the field would run past `limit`.
fn field_at(b: &[u8], at: usize, limit: usize) -> std::result::Result<Option<(u64, u8, usize, usize)>, ()> {
    let Some((key, p)) = varint_at(b, at, limit)? else {
        return Ok(None);
    };
    let (num, wire) = (key >> 3, (key & 7) as u8);
    if num == 0 {
        return Err(());
    }
    let (start, end) = match wire {
        0 => match varint_at(b, p, limit)? {
            Some((_, e)) => (p, e),
            None => return Ok(None),
        },
        1 => (p, p + 8),
        5 => (p, p + 4),
        2 => match varint_at(b, p, limit)? {
            Some((n, s)) => (s, s.checked_add(usize::try_from(n).map_err(|_| ())?).ok_or(())?),
            None => return Ok(None),
        },
        _ => return Err(()),
    };
    if end > limit {
        return Err(());
    }
    Ok((end <= b.len()).then_some((num, wire, start, end)))
}

/// The protobuf list found in the envelope.
struct PbList {
    /// Where runtime.Unknown's `raw` field starts (its tag), and its payload.
    raw_field: usize,
    raw: (usize, usize),
    api_version: String,
    kind: String,
    msg: u32,
    /// The index of `items` in the message's fields, and its field number.
    items: usize,
    items_num: u64,
    /// The List message's other fields (metadata...), as spans of the body.
    others: Vec<(usize, usize)>,
}

/// What the items become.
enum Out {
    Tapes {
        writer: TapeWriter,
        items: Vec<Item>,
        strip_managed_fields: bool,
    },
    Objects {
        list: Option<Py<PyList>>,
        strings: StrCache,
        kept: Kept,
        repeats: Repeats,
    },
}

/// What a list's items are decoded into: Python objects, or compact ones (`compact`), then
/// optionally without metadata.managedFields.
#[derive(Clone, Copy, Default)]
pub struct Decoding {
    pub compact: bool,
    pub strip_managed_fields: bool,
}

/// The decoder of one list body arriving in chunks (see the module's doc). `feed` needs no GIL;
/// compact items are decoded there, Python objects in `decode_batch`, with the GIL.
pub struct StreamingList {
    format: Format,
    body: Vec<u8>,
    pos: usize,
    state: State,
    pb: Option<PbList>,
    /// JSON: the span of the "items" array, brackets included, once it has ended.
    js_items: Option<(usize, usize)>,
    js_items_start: usize,
    seen_items: bool,
    /// The items framed so far, and how many of them are decoded.
    spans: Vec<(usize, usize)>,
    decoded: usize,
    out: Out,
}

impl StreamingList {
    pub fn new(
        format: Format,
        Decoding {
            compact,
            strip_managed_fields,
        }: Decoding,
    ) -> Self {
        let out = if compact {
            let writer = TapeWriter::for_items();
            let writer = if strip_managed_fields {
                writer.leave_out_managed_fields(false)
            } else {
                writer
            };
            Out::Tapes {
                writer,
                items: Vec::new(),
                strip_managed_fields,
            }
        } else {
            Out::Objects {
                list: None,
                strings: StrCache::default(),
                kept: Kept::default(),
                repeats: Repeats::default(),
            }
        };
        let state = match format {
            Format::Json => State::JsStart,
            Format::Protobuf => State::PbMagic,
        };
        StreamingList {
            format,
            body: Vec::new(),
            pos: 0,
            state,
            pb: None,
            js_items: None,
            js_items_start: 0,
            seen_items: false,
            spans: Vec::new(),
            decoded: 0,
            out,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// Takes a chunk of the body; frames the items it completes (and, compact, decodes them).
    pub fn feed(&mut self, chunk: &[u8]) {
        self.body.extend_from_slice(chunk);
        while self.state != State::Whole {
            match self.step() {
                Step::More => {}
                Step::Wait => break,
                Step::Bad => self.give_up(),
            }
        }
        if let Out::Tapes { .. } = self.out {
            self.decode_tapes();
        }
    }

    /// How many items are decoded (0 once the body is left to the whole decoder).
    pub fn streamed(&self) -> usize {
        if self.state == State::Whole {
            0
        } else {
            self.decoded
        }
    }

    /// Whether items are framed but not decoded yet (Python objects: see `decode_batch`).
    pub fn has_pending(&self) -> bool {
        self.state != State::Whole && self.decoded < self.spans.len()
    }

    /// From here on, only the whole body decoded at the end counts.
    fn give_up(&mut self) {
        self.state = State::Whole;
        self.spans = Vec::new();
        self.decoded = 0;
        match &mut self.out {
            Out::Tapes { items, .. } => *items = Vec::new(),
            Out::Objects {
                list, kept, repeats, ..
            } => {
                *list = None;
                *kept = Kept::default();
                *repeats = Repeats::default();
            }
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.body.get(self.pos) {
            self.pos += 1;
        }
    }

    fn step(&mut self) -> Step {
        let b = &self.body;
        match self.state {
            State::PbMagic => {
                if b.len() < MAGIC.len() {
                    return Step::Wait;
                }
                if &b[..MAGIC.len()] != MAGIC {
                    return Step::Bad;
                }
                self.pos = MAGIC.len();
                self.state = State::PbEnvelope;
            }
            State::PbEnvelope => {
                let at = self.pos;
                let (key, p) = need!(varint_at(b, at, usize::MAX));
                if key == u64::from(RAW_TAG) {
                    let (n, start) = need!(varint_at(b, p, usize::MAX));
                    let Some(end) = usize::try_from(n).ok().and_then(|n| start.checked_add(n)) else {
                        return Step::Bad;
                    };
                    return self.enter_list(at, start, end);
                }
                let (_, _, _, end) = need!(field_at(b, at, usize::MAX));
                self.pos = end;
            }
            State::PbList => {
                let pb = self.pb.as_mut().expect("a protobuf list");
                if self.pos == pb.raw.1 {
                    self.state = State::PbRest;
                    return Step::More;
                }
                let at = self.pos;
                let (num, wire, start, end) = need!(field_at(b, at, pb.raw.1));
                if num == pb.items_num {
                    if wire != 2 {
                        return Step::Bad;
                    }
                    self.spans.push((start, end));
                } else {
                    pb.others.push((at, end));
                }
                self.pos = end;
            }
            State::PbRest | State::Whole => return Step::Wait,
            State::JsStart => {
                if self.pos == 0 {
                    if b.len() < BOM.len() && BOM.starts_with(b) {
                        return Step::Wait;
                    }
                    if b.starts_with(BOM) {
                        self.pos = BOM.len();
                    }
                }
                return self.expect(&[(b'{', State::JsKey { first: true })]);
            }
            State::JsKey { first } => {
                self.ws();
                let b = &self.body;
                match b.get(self.pos) {
                    None => return Step::Wait,
                    Some(b'}') if first => {
                        self.pos += 1;
                        self.state = State::JsDone;
                    }
                    Some(b'"') => {
                        let from = self.pos + 1;
                        let Some(len) = b[from..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20) else {
                            // Looked for again from its start with each chunk: a long one is left to the whole decoder.
                            return if b.len() - from > MAX_KEY {
                                Step::Bad
                            } else {
                                Step::Wait
                            };
                        };
                        if b[from + len] != b'"' {
                            return Step::Bad; // an escape or a control character: rare, left to the whole decoder
                        }
                        let items = &b[from..from + len] == b"items";
                        if items && self.seen_items {
                            return Step::Bad;
                        }
                        self.seen_items |= items;
                        self.pos = from + len + 1;
                        self.state = State::JsColon { items };
                    }
                    Some(_) => return Step::Bad,
                }
            }
            State::JsColon { items } => return self.expect(&[(b':', State::JsValue { items })]),
            State::JsValue { items } => {
                self.ws();
                if items && self.body.get(self.pos) == Some(&b'[') {
                    self.js_items_start = self.pos;
                    self.pos += 1;
                    self.state = State::JsElem { first: true };
                    return Step::More;
                }
                return self.begin_scan(1, State::JsSkip);
            }
            State::JsSkip(mut scan) => {
                self.pos = need!(self.scan(&mut scan, 1));
                self.state = State::JsAfter;
            }
            State::JsAfter => return self.expect(&[(b',', State::JsKey { first: false }), (b'}', State::JsDone)]),
            State::JsElem { first } => {
                self.ws();
                if first && self.body.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    self.js_items = Some((self.js_items_start, self.pos));
                    self.state = State::JsAfter;
                    return Step::More;
                }
                return self.begin_scan(2, State::JsInElem);
            }
            State::JsInElem(mut scan) => {
                self.pos = need!(self.scan(&mut scan, 2));
                self.spans.push((scan.start, self.pos));
                self.state = State::JsAfterElem;
            }
            State::JsAfterElem => {
                let step = self.expect(&[(b',', State::JsElem { first: false }), (b']', State::JsAfter)]);
                if self.state == State::JsAfter {
                    self.js_items = Some((self.js_items_start, self.pos));
                }
                return step;
            }
            State::JsDone => {
                self.ws();
                return if self.pos < self.body.len() {
                    Step::Bad
                } else {
                    Step::Wait
                };
            }
        }
        Step::More
    }

    /// After white space, one of the `expected` bytes, which moves the framer to its state.
    fn expect(&mut self, expected: &[(u8, State)]) -> Step {
        self.ws();
        let Some(&c) = self.body.get(self.pos) else {
            return Step::Wait;
        };
        match expected.iter().find(|(b, _)| *b == c) {
            Some(&(_, next)) => {
                self.pos += 1;
                self.state = next;
                Step::More
            }
            None => Step::Bad,
        }
    }

    /// After white space, the start of a JSON value inside `outer` containers, to be scanned in
    /// the state `scanning` makes.
    fn begin_scan(&mut self, outer: usize, scanning: fn(Scan) -> State) -> Step {
        self.ws();
        let Some(&c) = self.body.get(self.pos) else {
            return Step::Wait;
        };
        let Some(scan) = Scan::at(self.pos, c, outer) else {
            return Step::Bad;
        };
        self.pos += 1;
        self.state = scanning(scan);
        Step::More
    }

    /// At `raw` (its tag at `field`, its payload `start..end`): the list message, if the
    /// envelope so far names a built-in list kind in protobuf.
    fn enter_list(&mut self, field: usize, start: usize, end: usize) -> Step {
        let Ok(env) = protobuf::envelope(&self.body, 0, field) else {
            return Step::Bad;
        };
        if !env.content_type.is_empty() && !env.content_type.starts_with("application/vnd.kubernetes.protobuf") {
            return Step::Bad;
        }
        let Some(msg) = schema().kind(env.api_version, env.kind) else {
            return Step::Bad;
        };
        let Some(items) = protobuf::items_field(msg) else {
            return Step::Bad;
        };
        let items_num = u64::from(schema().messages[msg as usize].fields[items].num);
        self.pb = Some(PbList {
            raw_field: field,
            raw: (start, end),
            api_version: env.api_version.to_owned(),
            kind: env.kind.to_owned(),
            msg,
            items,
            items_num,
            others: Vec::new(),
        });
        self.pos = start;
        self.state = State::PbList;
        Step::More
    }

    /// Moves `scan` on through the body; the end of its value once it is all in. `outer`: how
    /// many containers enclose the value (nesting past MAX_DEPTH is the whole decoder's to refuse).
    fn scan(&mut self, s: &mut Scan, outer: usize) -> std::result::Result<Option<usize>, ()> {
        let b = &self.body[..];
        let n = b.len();
        let mut p = self.pos;
        if s.scalar {
            while p < n {
                if matches!(b[p], b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t') {
                    return Ok(Some(p));
                }
                p += 1;
            }
        } else {
            loop {
                if s.string {
                    if s.escape {
                        if p >= n {
                            break;
                        }
                        p += 1;
                        s.escape = false;
                    }
                    p = skip_words(b, p, |w| has_byte(w, b'"') | has_byte(w, b'\\'));
                    while p < n && !IN_STRING[b[p] as usize] {
                        p += 1;
                    }
                    if p >= n {
                        break;
                    }
                    p += 1;
                    if b[p - 1] == b'\\' {
                        s.escape = true;
                        continue;
                    }
                    s.string = false;
                    if s.depth == 0 {
                        return Ok(Some(p));
                    }
                    continue;
                }
                // '[' and '{', ']' and '}' differ only in bit 5.
                p = skip_words(b, p, |w| {
                    has_byte(w, b'"')
                        | has_byte(w | 0x2020_2020_2020_2020, b'{')
                        | has_byte(w | 0x2020_2020_2020_2020, b'}')
                });
                while p < n && !STRUCTURE[b[p] as usize] {
                    p += 1;
                }
                if p >= n {
                    break;
                }
                p += 1;
                match b[p - 1] {
                    b'"' => s.string = true,
                    b'{' | b'[' => {
                        s.depth += 1;
                        if outer + s.depth > MAX_DEPTH {
                            return Err(());
                        }
                    }
                    _ => {
                        s.depth -= 1;
                        if s.depth == 0 {
                            return Ok(Some(p));
                        }
                    }
                }
            }
        }
        self.pos = p;
        // Resumed later from `pos`, with the state of the scan kept in the framer's state.
        match &mut self.state {
            State::JsSkip(kept) | State::JsInElem(kept) => *kept = *s,
            _ => unreachable!("scans run in JsSkip and JsInElem"),
        }
        Ok(None)
    }

    /// Decodes the framed items into tapes (no GIL).
    fn decode_tapes(&mut self) {
        let Out::Tapes { writer, items, .. } = &mut self.out else {
            return;
        };
        let mut failed = false;
        while self.decoded < self.spans.len() {
            let (s, e) = self.spans[self.decoded];
            let out = match &self.pb {
                Some(pb) => protobuf::render_item(&self.body, pb.msg, pb.items, s, e, writer, &mut Repeats::default()),
                None => json::parse(&self.body[s..e], writer),
            };
            let t = writer.finish();
            if out.is_err() {
                writer.reset(); // it stopped mid-value
                failed = true;
                break;
            }
            let object = t.bytes.first() == Some(&super::tape::OBJECT);
            items.push(if object {
                Item::Child(t)
            } else {
                Item::Inline(t.bytes.clone())
            });
            self.decoded += 1;
        }
        if failed {
            self.give_up();
        }
    }

    /// Decodes framed items into Python objects, about `max_bytes` of them (at least one).
    pub fn decode_batch(&mut self, py: Python<'_>, max_bytes: usize) -> PyResult<()> {
        let Out::Objects {
            list,
            strings,
            kept,
            repeats,
        } = &mut self.out
        else {
            return Ok(());
        };
        if self.state == State::Whole || self.decoded == self.spans.len() {
            return Ok(());
        }
        let (from, mut to, mut bytes) = (self.decoded, self.decoded, 0);
        while to < self.spans.len() && (to == from || bytes < max_bytes) {
            bytes += self.spans[to].1 - self.spans[to].0;
            to += 1;
        }
        let (body, spans, pb) = (&self.body, &self.spans[from..to], &self.pb);
        let batch = with_gc_paused(py, bytes, || {
            let mut b = PyBuilder::new(py, strings);
            b.swap_kept(kept);
            let out = (|| -> Result<()> {
                b.begin_array_of(spans.len())?;
                for &(s, e) in spans {
                    match pb {
                        Some(pb) => protobuf::render_item(body, pb.msg, pb.items, s, e, &mut b, repeats)?,
                        None => json::parse(&body[s..e], &mut b)?,
                    }
                }
                b.end_array()
            })();
            b.swap_kept(kept);
            out.map(|()| b.finish())
        })?;
        match batch {
            Ok(batch) => {
                match list {
                    Some(list) => {
                        list.bind(py)
                            .as_any()
                            .call_method1(pyo3::intern!(py, "extend"), (batch,))?;
                    }
                    None => *list = Some(batch.into_bound(py).cast_into::<PyList>()?.unbind()),
                }
                self.decoded = to;
                Ok(())
            }
            Err(Error::Decode(_)) => {
                self.give_up();
                Ok(())
            }
            Err(Error::Python(e)) => Err(e),
        }
    }

    /// The decoded body, once it has all been fed: the list, or whatever the whole body decodes
    /// to (its DecodeError included).
    pub fn finish(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        while self.state != State::Whole && self.decoded < self.spans.len() {
            self.decode_batch(py, usize::MAX)?;
        }
        if let Some(done) = self.assemble(py)? {
            return Ok(done);
        }
        let body = std::mem::take(&mut self.body);
        match self.out {
            Out::Tapes {
                strip_managed_fields, ..
            } => compact_of(py, &body, self.format, strip_managed_fields),
            Out::Objects { .. } => decode_plain(py, &body, self.format),
        }
    }

    /// The body without its items, when the list was read to its end as a server writes one.
    fn shell(&self) -> Option<Vec<u8>> {
        let b = &self.body;
        match (self.state, &self.pb) {
            (State::PbRest, Some(pb)) => {
                let env = protobuf::envelope(b, 0, b.len()).ok()?;
                let same = env.raw == pb.raw && env.api_version == pb.api_version && env.kind == pb.kind;
                let ct = env.content_type;
                if !same || !(ct.is_empty() || ct.starts_with("application/vnd.kubernetes.protobuf")) {
                    return None;
                }
                let kept: usize = pb.others.iter().map(|(s, e)| e - s).sum();
                let mut out = Vec::with_capacity(pb.raw_field + 11 + kept + b.len() - pb.raw.1);
                out.extend_from_slice(&b[..pb.raw_field]);
                out.push(RAW_TAG);
                super::tape::put_varint(&mut out, kept as u64);
                for &(s, e) in &pb.others {
                    out.extend_from_slice(&b[s..e]);
                }
                out.extend_from_slice(&b[pb.raw.1..]);
                Some(out)
            }
            (State::JsDone, _) => {
                let (s, e) = self.js_items?;
                Some([&b[..s], b"[]", &b[e..]].concat())
            }
            _ => None,
        }
    }

    /// The shell decoded with the items put in; None when only the whole body will do.
    fn assemble(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let Some(shell) = self.shell() else { return Ok(None) };
        match &mut self.out {
            Out::Tapes { items, .. } => Self::tape(&shell, self.format, std::mem::take(items))
                .map(|t| root_view(py, t))
                .transpose(),
            Out::Objects { list, .. } => {
                let mut strings = StrCache::for_body(shell.len());
                let mut b = PyBuilder::new(py, &mut strings);
                let root = match decode_into(&shell, self.format, &mut b) {
                    Ok(()) => b.finish(),
                    Err(Error::Decode(_)) => return Ok(None),
                    Err(Error::Python(e)) => return Err(e),
                };
                if let Some(items) = list.take() {
                    let Ok(dict) = root.bind(py).cast::<PyDict>() else {
                        return Ok(None);
                    };
                    if !dict.contains(pyo3::intern!(py, "items"))? {
                        return Ok(None);
                    }
                    dict.set_item(pyo3::intern!(py, "items"), items)?;
                }
                Ok(Some(root))
            }
        }
    }
}

impl StreamingList {
    /// The tape of the list: its shell's, with the items put in.
    fn tape(shell: &[u8], format: Format, items: Vec<Item>) -> Option<Arc<Tape>> {
        let mut w = TapeWriter::default();
        decode_into(shell, format, &mut w).ok()?;
        let shell = w.finish();
        if items.is_empty() {
            return Some(shell);
        }
        with_items(&shell, items)
    }
}

impl Scan {
    /// A scan of the value starting with byte `c` at `at`, inside `outer` containers; None if
    /// no JSON value starts so.
    fn at(at: usize, c: u8, outer: usize) -> Option<Scan> {
        let scan = Scan {
            start: at,
            depth: 0,
            string: false,
            escape: false,
            scalar: false,
        };
        match c {
            b'{' | b'[' if outer < MAX_DEPTH => Some(Scan { depth: 1, ..scan }),
            b'"' => Some(Scan { string: true, ..scan }),
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' | b'N' | b'I' => Some(Scan { scalar: true, ..scan }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tape::put_varint;

    fn field(num: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        put_varint(&mut v, num << 3 | 2);
        put_varint(&mut v, payload.len() as u64);
        v.extend_from_slice(payload);
        v
    }

    fn config_map(name: &str, data: &[(&str, &str)]) -> Vec<u8> {
        let mut m = field(1, &field(1, name.as_bytes()));
        for (k, v) in data {
            m.extend(field(2, &[field(1, k.as_bytes()), field(2, v.as_bytes())].concat()));
        }
        m
    }

    /// A ConfigMapList as kube-apiserver writes it: the envelope, ListMeta, then the items.
    fn pb_list(items: &[Vec<u8>]) -> Vec<u8> {
        let mut raw = field(1, &[field(2, b"12345"), field(3, b"next-page-token")].concat());
        for item in items {
            raw.extend(field(2, item));
        }
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMapList")].concat();
        [
            &MAGIC[..],
            &field(1, &type_meta),
            &field(2, &raw),
            &field(3, b""),
            &field(4, b""),
        ]
        .concat()
    }

    fn pb_body() -> Vec<u8> {
        let long = "x".repeat(100); // long enough to be looked up as a repeat
        pb_list(&[
            config_map("a", &[("k", "v"), ("long", &long)]),
            config_map("b", &[]),
            config_map("c", &[("long", &long)]),
            Vec::new(), // an empty item
            config_map("d\u{e9}", &[("z", "1"), ("a", "2")]),
        ])
    }

    const JSON_BODY: &str = concat!(
        "\u{feff}{\"kind\": \"PodList\", \"apiVersion\":\"v1\",\n \"metadata\": {\"resourceVersion\": \"7\", \"continue\": \"t\"},",
        " \"items\" : [ {\"a\": [1, 2.5, -3e2, true, null, \"s\\\"]{\"]}, {}, [], [{}], 12, \"str\", null, false,",
        " {\"items\": [{\"x\": {}}], \"k\\u00e9\": \"\\ud83d\\ude00\"} ] , \"extra\": [[[]]]}  \n"
    );

    fn whole(body: &[u8], format: Format) -> Option<Arc<Tape>> {
        let mut w = TapeWriter::default();
        decode_into(body, format, &mut w).ok()?;
        Some(w.finish())
    }

    /// The streaming decode of `body` fed in `chunks`: the list's tape if it was decoded while
    /// it arrived (None: the whole body would be decoded at the end), and how many items were.
    fn streamed(body: &[u8], format: Format, cuts: &[usize]) -> (Option<Arc<Tape>>, usize) {
        let mut list = StreamingList::new(
            format,
            Decoding {
                compact: true,
                strip_managed_fields: false,
            },
        );
        let mut from = 0;
        for &cut in cuts.iter().chain([body.len()].iter()) {
            list.feed(&body[from..cut]);
            from = cut;
        }
        let decoded = list.streamed();
        let items = match &mut list.out {
            Out::Tapes { items, .. } => std::mem::take(items),
            Out::Objects { .. } => unreachable!(),
        };
        (
            list.shell()
                .and_then(|shell| StreamingList::tape(&shell, format, items)),
            decoded,
        )
    }

    fn same(a: &Tape, b: &Tape) -> bool {
        a.bytes == b.bytes
            && a.children.len() == b.children.len()
            && a.children.iter().zip(b.children.iter()).all(|(x, y)| same(x, y))
    }

    fn assert_streams_in_every_chunking(body: &[u8], format: Format, items: usize) {
        let want = whole(body, format).expect("a valid body");
        let (one, n) = streamed(body, format, &[]);
        let one = one.expect("streamed");
        if !same(&one, &want) {
            eprintln!(
                "got  {:?} {:?}\nwant {:?} {:?}",
                one.bytes,
                one.children.iter().map(|c| c.bytes.clone()).collect::<Vec<_>>(),
                want.bytes,
                want.children.iter().map(|c| c.bytes.clone()).collect::<Vec<_>>()
            );
        }
        assert!(same(&one, &want));
        assert_eq!(n, items);
        for cut in 0..=body.len() {
            let (got, n) = streamed(body, format, &[cut]);
            assert!(
                same(&got.unwrap_or_else(|| panic!("cut at {cut}")), &want),
                "cut at {cut}"
            );
            assert_eq!(n, items);
        }
        let every: Vec<usize> = (1..body.len()).collect();
        let (got, _) = streamed(body, format, &every);
        assert!(same(&got.expect("a byte at a time"), &want));
    }

    /// Wherever the streaming decoder gives a list, it is the whole decoder's, byte for byte;
    /// where the whole decoder fails, the streaming one gives nothing (so the error is the
    /// whole decoder's own).
    fn assert_never_differs(body: &[u8], format: Format) {
        for cuts in [vec![], vec![body.len() / 3, body.len() / 2]] {
            let (got, _) = streamed(body, format, &cuts);
            match (got, whole(body, format)) {
                (Some(got), Some(want)) => assert!(same(&got, &want)),
                (Some(_), None) => panic!("streamed a body the whole decoder refuses: {body:?}"),
                (None, _) => {}
            }
        }
    }

    #[test]
    fn a_protobuf_list_decodes_while_it_arrives_in_every_chunking() {
        crate::codec::tape::key_id("items"); // the key table is process-wide: tests share it
        assert_streams_in_every_chunking(&pb_body(), Format::Protobuf, 5);
        assert_streams_in_every_chunking(&pb_list(&[]), Format::Protobuf, 0);
    }

    #[test]
    fn a_json_list_decodes_while_it_arrives_in_every_chunking() {
        assert_streams_in_every_chunking(JSON_BODY.as_bytes(), Format::Json, 9);
        assert_streams_in_every_chunking(br#"{"items":[]}"#, Format::Json, 0);
        assert_streams_in_every_chunking(br#"{"metadata":{},"items":[1]}"#, Format::Json, 1);
    }

    #[test]
    fn a_body_cut_short_is_never_a_short_list() {
        for (body, format) in [
            (pb_body(), Format::Protobuf),
            (JSON_BODY.as_bytes().to_vec(), Format::Json),
        ] {
            for end in 0..body.len() {
                let (got, _) = streamed(&body[..end], format, &[end / 2]);
                // JSON's trailing white space may go; the list must still be whole then.
                if let Some(got) = got {
                    assert!(same(&got, &whole(&body, format).unwrap()), "cut at {end}");
                }
            }
        }
    }

    #[test]
    fn bad_bytes_anywhere_are_left_to_the_whole_decoder() {
        for (body, format) in [
            (pb_body(), Format::Protobuf),
            (JSON_BODY.as_bytes().to_vec(), Format::Json),
        ] {
            for at in 0..body.len() {
                for byte in [
                    0x00,
                    0x07,
                    0x22,
                    0x5b,
                    0x5d,
                    0x7b,
                    0x7d,
                    0x80,
                    0xff,
                    body[at] ^ 0x01,
                    body[at].wrapping_add(1),
                ] {
                    let mut bad = body.clone();
                    bad[at] = byte;
                    assert_never_differs(&bad, format);
                }
                let mut shorter = body.clone();
                shorter.remove(at);
                assert_never_differs(&shorter, format);
            }
        }
    }

    #[test]
    fn a_word_has_a_byte_exactly_when_one_of_its_eight_is_that_byte() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..200_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for b in [b'"', b'\\', b'{', b'}', 0x00, 0x80, 0xff] {
                let mut w = x.to_le_bytes();
                if i % 2 == 0 {
                    w[i as usize % 8] = b; // planted, next to anything
                }
                let word = u64::from_le_bytes(w);
                assert_eq!(has_byte(word, b) != 0, w.contains(&b), "{w:?} {b}");
            }
        }
    }

    #[test]
    fn other_bodies_are_decoded_whole() {
        for body in [
            &br#"{"kind":"Status","code":410}"#[..],
            b"[1,2]",
            b"\"items\"",
            br#"{"items":{"a":[]}}"#,
            br#"{"items":[1],"items":[2]}"#,
        ] {
            let (got, _) = streamed(body, Format::Json, &[]);
            assert!(got.is_none() || same(&got.unwrap(), &whole(body, Format::Json).unwrap()));
        }
        // A protobuf object that is not a list: no items to stream.
        let pod = [
            &MAGIC[..],
            &field(1, &[field(1, b"v1"), field(2, b"ConfigMap")].concat()),
            &field(2, &config_map("a", &[])),
        ]
        .concat();
        assert!(streamed(&pod, Format::Protobuf, &[]).0.is_none());
    }
}

/// `kcore.codec`'s view of `StreamingList`: a list body fed in chunks cut anywhere, decoded
/// as it comes; `finish()` gives what `decode` (or `decode_compact`) gives for the whole body.
#[pyclass(module = "kcore.codec")]
pub struct ListDecoder {
    list: Option<StreamingList>,
    /// Items decoded so far while the body was coming (0 once it is left to the whole decoder).
    #[pyo3(get)]
    streamed: usize,
}

impl ListDecoder {
    fn list(&mut self) -> PyResult<&mut StreamingList> {
        self.list
            .as_mut()
            .ok_or_else(|| PyValueError::new_err("the ListDecoder has finished"))
    }
}

#[pymethods]
impl ListDecoder {
    #[new]
    #[pyo3(signature = (content_type, compact=false, strip_managed_fields=false))]
    fn new(content_type: &str, compact: bool, strip_managed_fields: bool) -> PyResult<Self> {
        Ok(ListDecoder {
            list: Some(StreamingList::new(
                format_of(content_type)?,
                Decoding {
                    compact,
                    strip_managed_fields,
                },
            )),
            streamed: 0,
        })
    }

    /// Adds a chunk of the body: the items it completes are decoded now.
    fn feed(&mut self, py: Python<'_>, chunk: &[u8]) -> PyResult<()> {
        let list = self.list()?;
        py.detach(|| list.feed(chunk));
        list.decode_batch(py, usize::MAX)?;
        self.streamed = list.streamed();
        Ok(())
    }

    /// The decoded body, once all of it has been fed; a body cut short raises DecodeError.
    fn finish(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let mut list = self
            .list
            .take()
            .ok_or_else(|| PyValueError::new_err("the ListDecoder has finished"))?;
        list.finish(py)
    }
}
