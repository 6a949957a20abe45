//! Kubernetes protobuf into a `Sink`, rendering exactly the JSON the API server writes for the
//! same object: the generated Go unmarshaler fills a struct, encoding/json writes it. Driven by
//! the schema tables; every offset in an error counts from the start of the body.
use super::error::{bad, Result};
use super::gotime;
use super::json;
use super::repeats::{Lookup, Repeats};
use super::schema::{schema, Field, Schema, Ty};
use super::sink::{Sink, MAX_DEPTH};
use std::borrow::Cow;

pub const MAGIC: &[u8; 4] = b"k8s\0";

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// One field occurrence in a message: its index in the schema's field list and its payload.
#[derive(Clone, Copy)]
struct Entry {
    field: u16,
    wire: u8,
    /// The varint or fixed value, or the start of a length-delimited payload.
    val: u64,
    end: usize,
}

/// Reads the varint at `pos`; errors name `what` was being read and where.
#[inline]
pub fn varint(b: &[u8], pos: &mut usize, end: usize, what: &str) -> Result<u64> {
    if *pos < end && b[*pos] < 0x80 {
        *pos += 1;
        return Ok(b[*pos - 1] as u64);
    }
    long_varint(b, pos, end, what)
}

#[inline(never)]
fn long_varint(b: &[u8], pos: &mut usize, end: usize, what: &str) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        if *pos >= end {
            return Err(bad(format!("protobuf: truncated varint in {what} at byte {pos}")));
        }
        let c = b[*pos];
        *pos += 1;
        v |= ((c & 0x7f) as u64) << shift;
        if c < 0x80 {
            return Ok(v);
        }
    }
    Err(bad(format!(
        "protobuf: varint longer than 10 bytes in {what} at byte {pos}"
    )))
}

/// The fields of the message in `b[start..end]`, in wire order: (number, wire type, value, end).
pub struct Fields<'a> {
    b: &'a [u8],
    pos: usize,
    end: usize,
    what: &'a str,
}

impl<'a> Fields<'a> {
    pub fn new(b: &'a [u8], start: usize, end: usize, what: &'a str) -> Self {
        Fields {
            b,
            pos: start,
            end,
            what,
        }
    }

    #[inline]
    pub fn next_field(&mut self) -> Result<Option<(u64, u8, u64, usize)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let at = self.pos;
        let key = varint(self.b, &mut self.pos, self.end, self.what)?;
        let (num, wire) = (key >> 3, (key & 7) as u8);
        match wire {
            LEN if num != 0 => {
                let n = varint(self.b, &mut self.pos, self.end, self.what)?;
                if n > (self.end - self.pos) as u64 {
                    return Err(self.overrun(num, at, n));
                }
                let start = self.pos;
                self.pos += n as usize;
                Ok(Some((num, wire, start as u64, self.pos)))
            }
            VARINT if num != 0 => Ok(Some((
                num,
                wire,
                varint(self.b, &mut self.pos, self.end, self.what)?,
                self.pos,
            ))),
            _ => self.rare(num, wire, at),
        }
    }

    #[cold]
    fn overrun(&self, num: u64, at: usize, n: u64) -> super::error::Error {
        bad(format!(
            "protobuf: field {num} of {} at byte {at} claims {n} bytes, {} remain",
            self.what,
            self.end - self.pos
        ))
    }

    /// Fixed-width fields, and the errors.
    #[cold]
    fn rare(&mut self, num: u64, wire: u8, at: usize) -> Result<Option<(u64, u8, u64, usize)>> {
        if num == 0 {
            return Err(bad(format!("protobuf: field number 0 in {} at byte {at}", self.what)));
        }
        let n = match wire {
            FIXED64 => 8,
            FIXED32 => 4,
            _ => {
                return Err(bad(format!(
                    "protobuf: unsupported wire type {wire} for field {num} of {} at byte {at}",
                    self.what
                )))
            }
        };
        if self.pos + n > self.end {
            return Err(bad(format!(
                "protobuf: truncated field {num} of {} at byte {at}",
                self.what
            )));
        }
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&self.b[self.pos..self.pos + n]);
        self.pos += n;
        Ok(Some((num, wire, u64::from_le_bytes(buf), self.pos)))
    }
}

/// The strings of a `runtime.Unknown` envelope body (after the magic).
pub struct Envelope<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
    pub raw: (usize, usize),
    pub content_type: &'a str,
}

fn utf8<'a>(b: &'a [u8], start: usize, end: usize, what: &str) -> Result<&'a str> {
    std::str::from_utf8(&b[start..end]).map_err(|e| {
        bad(format!(
            "protobuf: invalid UTF-8 in {what} at byte {}",
            start + e.valid_up_to()
        ))
    })
}

/// Parses `b[start..end]` as "k8s\0" + runtime.Unknown.
pub fn envelope(b: &[u8], start: usize, end: usize) -> Result<Envelope<'_>> {
    let head = &b[start..end.min(start + 4)];
    if head != MAGIC {
        return Err(bad(format!(
            "protobuf: expected the Kubernetes magic \"k8s\\0\" at byte {start}, found {head:?}"
        )));
    }
    let mut env = Envelope {
        api_version: "",
        kind: "",
        raw: (start + 4, start + 4),
        content_type: "",
    };
    let mut f = Fields::new(b, start + 4, end, "runtime.Unknown");
    while let Some((num, wire, val, fend)) = f.next_field()? {
        if wire != LEN {
            continue;
        }
        let vs = val as usize;
        match num {
            1 => {
                let mut t = Fields::new(b, vs, fend, "runtime.TypeMeta");
                while let Some((n, w, v, e)) = t.next_field()? {
                    match (n, w) {
                        (1, LEN) => env.api_version = utf8(b, v as usize, e, "apiVersion")?,
                        (2, LEN) => env.kind = utf8(b, v as usize, e, "kind")?,
                        _ => {}
                    }
                }
            }
            2 => env.raw = (vs, fend),
            4 => env.content_type = utf8(b, vs, fend, "contentType")?,
            _ => {}
        }
    }
    Ok(env)
}

/// Decodes an enveloped body ("k8s\0" + Unknown) in `b[start..end]` into the sink.
pub fn decode_enveloped<S: Sink>(b: &[u8], start: usize, end: usize, sink: &mut S) -> Result<()> {
    let env = envelope(b, start, end)?;
    let (rs, re) = env.raw;
    let ct = env.content_type;
    if !ct.is_empty() && !ct.starts_with("application/vnd.kubernetes.protobuf") {
        if ct.starts_with("application/json") {
            return json::parse(&b[rs..re], sink);
        }
        return Err(bad(format!("protobuf: envelope holds unsupported contentType {ct:?}")));
    }
    let s = schema();
    let msg = s.kind(env.api_version, env.kind).ok_or_else(|| {
        bad(format!(
            "protobuf: no built-in kind {:?} in apiVersion {:?} (custom resources are JSON only)",
            env.kind, env.api_version
        ))
    })?;
    // The server's lists never have nil items, except the metadata-only ones it builds by appending.
    let list = env.kind.ends_with("List") && env.kind != "PartialObjectMetadataList";
    let mut r = Renderer {
        b,
        s,
        sink,
        entries: Vec::new(),
        depth: 0,
        type_meta: Some((env.api_version, env.kind)),
        list,
        repeats: Repeats::default(),
    };
    r.message(msg, rs, re)
}

/// The list message `msg` carries its items in field `items` (an index into its fields): the
/// field of a list that a decoder can render item by item (see `render_item`). None for
/// messages that are not lists, and for lists whose `items` the JSON may omit (then a missing
/// `items` would change where the others' members stand).
pub fn items_field(msg: u32) -> Option<usize> {
    let m = &schema().messages[msg as usize];
    let i = m.fields.iter().position(|f| &*f.json == "items" && !f.inline)?;
    let f = &m.fields[i];
    let of_messages = matches!(&f.ty, Ty::List(elem) if matches!(**elem, Ty::Msg(_)));
    (of_messages && !f.omitempty && !f.omitzero).then_some(i)
}

/// Renders one item of list message `msg` (its field `items`, see `items_field`) held in
/// `b[start..end]` exactly as `decode_enveloped` renders it inside the whole list: the same
/// depth, the same apiVersion/kind written into it, and the messages repeated across items
/// (`repeats` lives as long as the list; offsets count from the start of `b`).
pub fn render_item<S: Sink>(
    b: &[u8],
    msg: u32,
    items: usize,
    start: usize,
    end: usize,
    sink: &mut S,
    repeats: &mut Repeats,
) -> Result<()> {
    let s = schema();
    let f = &s.messages[msg as usize].fields[items];
    let Ty::List(elem) = &f.ty else {
        unreachable!("items_field chose a list")
    };
    let mut r = Renderer {
        b,
        s,
        sink,
        entries: Vec::new(),
        depth: 1,
        type_meta: None,
        list: true,
        repeats: std::mem::take(repeats),
    };
    let out = r.value(
        msg,
        f,
        elem,
        Some(Entry {
            field: items as u16,
            wire: LEN,
            val: start as u64,
            end,
        }),
    );
    *repeats = r.repeats;
    out
}

struct Renderer<'a, 's, S: Sink> {
    b: &'a [u8],
    s: &'static Schema,
    sink: &'s mut S,
    entries: Vec<Entry>,
    depth: usize,
    /// apiVersion and kind for the top-level object's TypeMeta; taken by the first one rendered.
    type_meta: Option<(&'a str, &'a str)>,
    /// The body is a list kind, whose `items` the API server always writes as an array.
    list: bool,
    /// Messages already rendered, when the sink can repeat values.
    repeats: Repeats,
}

/// Messages shorter than this are rendered every time: a lookup would cost about as much.
const REPEAT_MIN_BYTES: usize = 64;

/// Numbers and booleans: the element types protobuf may pack into one length-delimited field.
fn is_scalar(ty: &Ty) -> bool {
    matches!(
        ty,
        Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Uint32 | Ty::Uint64 | Ty::Float64
    )
}

fn float_out<S: Sink>(sink: &mut S, f: f64) -> Result<()> {
    // encoding/json writes an integral float below 1e21 without a point, so json.loads reads an int.
    if f.fract() == 0.0 && f.abs() < 9.2e18 {
        sink.int(f as i64)
    } else if f.fract() == 0.0 && f.abs() < 1e21 {
        sink.big_int(&format!("{f}")) // shortest digits, as Go's 'f' format
    } else {
        sink.float(f)
    }
}

impl<'a, S: Sink> Renderer<'a, '_, S> {
    fn name(&self, msg: u32) -> &'static str {
        &self.s.messages[msg as usize].name
    }

    fn str(&self, start: usize, end: usize) -> Result<Cow<'a, str>> {
        Ok(go_string(&self.b[start..end]))
    }

    /// `{…}` for message `msg` in `b[start..end]`.
    fn message(&mut self, msg: u32, start: usize, end: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(bad(format!(
                "protobuf: messages nested deeper than {MAX_DEPTH} at byte {start}"
            )));
        }
        self.sink.begin_object()?;
        self.fields(msg, start, end)?;
        self.sink.end_object()?;
        self.depth -= 1;
        Ok(())
    }

    /// The JSON members of message `msg` (into the object being written).
    fn fields(&mut self, msg: u32, start: usize, end: usize) -> Result<()> {
        let m = &self.s.messages[msg as usize];
        let base = self.entries.len();
        let mut f = Fields::new(self.b, start, end, &m.name);
        while let Some((num, wire, val, fend)) = f.next_field()? {
            if let Some(i) = m.field_index(num) {
                self.entries.push(Entry {
                    field: i as u16,
                    wire,
                    val,
                    end: fend,
                });
            }
        }
        let top = self.entries.len();
        if !self.entries[base..top].windows(2).all(|w| w[0].field <= w[1].field) {
            self.entries[base..top].sort_by_key(|e| e.field); // stable: repeated values keep their order
        }
        // Merge the present fields with those rendered even when absent, both in field order.
        let (mut cursor, mut next_always) = (base, 0);
        loop {
            let present = (cursor < top).then(|| self.entries[cursor].field as usize);
            let always = m.always.get(next_always).map(|&i| i as usize);
            let i = match (present, always) {
                (Some(p), Some(a)) => p.min(a),
                (Some(i), None) | (None, Some(i)) => i,
                (None, None) => break,
            };
            if always == Some(i) {
                next_always += 1;
            }
            let from = cursor;
            while cursor < top && self.entries[cursor].field as usize == i {
                cursor += 1;
            }
            self.field(msg, &m.fields[i], from, cursor)?;
        }
        self.entries.truncate(base);
        Ok(())
    }

    fn check_wire(&self, msg: u32, field: &Field, e: &Entry, want: u8) -> Result<()> {
        if e.wire != want {
            return Err(bad(format!(
                "protobuf: field {} ({}) of {} has wire type {}, expected {want}",
                field.num,
                field.json,
                self.name(msg),
                e.wire
            )));
        }
        Ok(())
    }

    /// One struct field: present or omitted as encoding/json would.
    fn field(&mut self, msg: u32, f: &'static Field, from: usize, to: usize) -> Result<()> {
        let present = from < to;
        let last = if present { Some(self.entries[to - 1]) } else { None };
        if f.inline {
            return match (&f.ty, last) {
                (Ty::TypeMeta, _) => self.type_meta(),
                (Ty::Msg(m), Some(e)) => {
                    self.check_wire(msg, f, &e, LEN)?;
                    self.fields(*m, e.val as usize, e.end)
                }
                (Ty::Msg(m), None) if !f.pointer => self.fields(*m, 0, 0),
                _ => Ok(()),
            };
        }
        let omit = f.omitempty || f.omitzero;
        match &f.ty {
            Ty::List(elem) => {
                if !present && self.list && self.depth == 1 && &*f.json == "items" {
                    // Protobuf cannot tell an empty list from none; the server's lists are never nil.
                    self.sink.field_key(f)?;
                    self.sink.begin_array()?;
                    return self.sink.end_array();
                }
                if !present {
                    return if omit { Ok(()) } else { self.null_member(f) };
                }
                if !is_scalar(elem) {
                    // One entry an item: render them in place.
                    self.sink.field_key(f)?;
                    self.sink.begin_array_of(to - from)?;
                    for i in from..to {
                        let e = self.entries[i];
                        self.value(msg, f, elem, Some(e))?;
                    }
                    return self.sink.end_array();
                }
                let mut items = Vec::new();
                for i in from..to {
                    let e = self.entries[i];
                    self.list_items(msg, f, elem, e, &mut items)?;
                }
                if items.is_empty() && omit {
                    return Ok(());
                }
                self.sink.field_key(f)?;
                self.sink.begin_array_of(items.len())?;
                for e in items {
                    self.value(msg, f, elem, Some(e))?;
                }
                self.sink.end_array()
            }
            Ty::Map(v) => {
                if !present {
                    return if omit { Ok(()) } else { self.null_member(f) };
                }
                self.sink.field_key(f)?;
                self.map(msg, f, v, from, to)
            }
            Ty::Bytes => match last {
                None if omit => Ok(()),
                None => self.null_member(f),
                Some(e) if omit && e.end == e.val as usize => Ok(()),
                Some(e) => {
                    self.check_wire(msg, f, &e, LEN)?;
                    self.sink.field_key(f)?;
                    self.sink.str(&base64(&self.b[e.val as usize..e.end]))
                }
            },
            _ if f.pointer => match last {
                None if omit => Ok(()),
                None => self.null_member(f),
                Some(e) => {
                    self.sink.field_key(f)?;
                    self.value(msg, f, &f.ty, Some(e))
                }
            },
            ty => {
                if omit && self.is_empty(f, ty, last) {
                    return Ok(());
                }
                self.sink.field_key(f)?;
                self.value(msg, f, ty, last)
            }
        }
    }

    fn null_member(&mut self, f: &'static Field) -> Result<()> {
        self.sink.field_key(f)?;
        self.sink.null()
    }

    fn type_meta(&mut self) -> Result<()> {
        // TypeMeta's fields are both omitempty; only the top-level object has them set.
        if let Some((api_version, kind)) = self.type_meta.take() {
            if !kind.is_empty() {
                self.sink.key("kind")?;
                self.sink.str(kind)?;
            }
            if !api_version.is_empty() {
                self.sink.key("apiVersion")?;
                self.sink.str(api_version)?;
            }
        }
        Ok(())
    }

    /// Whether a non-pointer value is one omitempty (scalars) or omitzero (anything) drops.
    fn is_empty(&self, f: &Field, ty: &Ty, last: Option<Entry>) -> bool {
        let scalar = is_scalar(ty) || *ty == Ty::String;
        let Some(e) = last else { return scalar || f.omitzero };
        match ty {
            Ty::String => e.end == e.val as usize,
            Ty::Int32 | Ty::Uint32 => e.val as u32 == 0,
            Ty::Bool | Ty::Int64 | Ty::Uint64 | Ty::Float64 => e.val == 0,
            // omitempty never drops a struct; omitzero drops an empty one (a zero Time included).
            _ => f.omitzero && e.end == e.val as usize,
        }
    }

    /// Splits one occurrence of a repeated scalar field into items (packed ones hold many).
    fn list_items(&self, msg: u32, f: &'static Field, elem: &Ty, e: Entry, items: &mut Vec<Entry>) -> Result<()> {
        if e.wire == LEN {
            let (mut pos, end) = (e.val as usize, e.end);
            while pos < end {
                let (wire, val) = if *elem == Ty::Float64 {
                    if pos + 8 > end {
                        return Err(bad(format!(
                            "protobuf: truncated packed doubles in {} of {} at byte {pos}",
                            f.json,
                            self.name(msg)
                        )));
                    }
                    let v = u64::from_le_bytes(self.b[pos..pos + 8].try_into().unwrap());
                    pos += 8;
                    (FIXED64, v)
                } else {
                    (VARINT, varint(self.b, &mut pos, end, self.name(msg))?)
                };
                items.push(Entry {
                    field: e.field,
                    wire,
                    val,
                    end: pos,
                });
            }
        } else {
            items.push(e);
        }
        Ok(())
    }

    /// A map field: entries {1 key, 2 value}, written with sorted keys as encoding/json does.
    fn map(&mut self, msg: u32, f: &'static Field, vty: &Ty, from: usize, to: usize) -> Result<()> {
        let mut pairs: Vec<(Cow<'a, str>, Option<Entry>)> = Vec::with_capacity(to - from);
        for i in from..to {
            let e = self.entries[i];
            self.check_wire(msg, f, &e, LEN)?;
            let (mut key, mut value) = (Cow::Borrowed(""), None);
            let mut fs = Fields::new(self.b, e.val as usize, e.end, "map entry");
            while let Some((num, wire, val, end)) = fs.next_field()? {
                match num {
                    1 if wire == LEN => key = self.str(val as usize, end)?,
                    2 => {
                        value = Some(Entry {
                            field: e.field,
                            wire,
                            val,
                            end,
                        })
                    }
                    _ => {}
                }
            }
            pairs.push((key, value));
        }
        // Go writes maps sorted; otherwise a later entry for a key replaces the earlier one, as in a Go map.
        if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            pairs.reverse();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs.dedup_by(|a, b| a.0 == b.0);
        }
        self.sink.begin_object()?;
        for (k, v) in pairs {
            self.sink.key(&k)?;
            match (vty, v) {
                (Ty::Bytes, Some(e)) => {
                    self.check_wire(msg, f, &e, LEN)?;
                    self.sink.str(&base64(&self.b[e.val as usize..e.end]))?
                }
                (Ty::Bytes, None) => self.sink.null()?,
                (Ty::Wrapped(elem), v) => {
                    self.sink.begin_array()?;
                    if let Some(e) = v {
                        self.check_wire(msg, f, &e, LEN)?;
                        let mut items = Fields::new(self.b, e.val as usize, e.end, "map value");
                        while let Some((num, wire, val, end)) = items.next_field()? {
                            if num == 1 {
                                self.value(
                                    msg,
                                    f,
                                    elem,
                                    Some(Entry {
                                        field: e.field,
                                        wire,
                                        val,
                                        end,
                                    }),
                                )?;
                            }
                        }
                    }
                    self.sink.end_array()?
                }
                (ty, v) => self.value(msg, f, ty, v)?,
            }
        }
        self.sink.end_object()
    }

    /// A single value of type `ty` (absent: Go's zero value), as encoding/json writes it.
    fn value(&mut self, msg: u32, f: &'static Field, ty: &Ty, e: Option<Entry>) -> Result<()> {
        let want = match ty {
            Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Uint32 | Ty::Uint64 => VARINT,
            Ty::Float64 => FIXED64,
            _ => LEN,
        };
        if let Some(e) = &e {
            self.check_wire(msg, f, e, want)?;
        }
        let v = e.map_or(0, |e| e.val);
        let span = e.map(|e| (e.val as usize, e.end));
        let (start, end) = span.unwrap_or((0, 0));
        match ty {
            Ty::Bool => self.sink.bool(v != 0),
            Ty::Int32 => self.sink.int(v as u32 as i32 as i64),
            Ty::Int64 => self.sink.int(v as i64),
            Ty::Uint32 => self.sink.int(v as u32 as i64),
            Ty::Uint64 => match i64::try_from(v) {
                Ok(i) => self.sink.int(i),
                Err(_) => self.sink.big_int(&v.to_string()),
            },
            Ty::Float64 => float_out(self.sink, f64::from_bits(v)),
            Ty::String => {
                let s = self.str(start, end)?;
                self.sink.str(&s)
            }
            Ty::Bytes => match span {
                Some((s, e)) => self.sink.str(&base64(&self.b[s..e])),
                None => self.sink.null(),
            },
            Ty::Msg(m) => self.once(f, start, end, |r| {
                if let Some(tm) = &f.type_meta {
                    r.type_meta = Some((&tm.0, &tm.1));
                }
                r.message(*m, start, end)
            }),
            Ty::Time | Ty::MicroTime => {
                // An empty Timestamp is Go's zero time, whatever the seconds would have said.
                if start == end {
                    return self.sink.null();
                }
                let (mut secs, mut nanos) = (0i64, 0i64);
                let mut fs = Fields::new(self.b, start, end, "Timestamp");
                while let Some((num, wire, val, _)) = fs.next_field()? {
                    match (num, wire) {
                        (1, VARINT) => secs = val as i64,
                        (2, VARINT) => nanos = val as u32 as i32 as i64,
                        _ => {}
                    }
                }
                let micro = *ty == Ty::MicroTime;
                if !micro {
                    nanos = 0; // metav1.Time keeps whole seconds only
                }
                secs += nanos.div_euclid(1_000_000_000);
                nanos = nanos.rem_euclid(1_000_000_000);
                if secs == gotime::ZERO_TIME_UNIX && nanos == 0 {
                    return self.sink.null();
                }
                self.sink.str(gotime::format(secs, nanos, micro, &mut [0; 40]))
            }
            Ty::Duration => {
                let d = self.scalar_field(start, end, 1)?.unwrap_or(0);
                self.sink.str(&gotime::duration(d as i64))
            }
            Ty::Quantity => match self.string_field(start, end, 1)? {
                Some(s) if !s.is_empty() => self.sink.str(&s),
                _ => self.sink.str("0"),
            },
            Ty::IntOrString => {
                let kind = self.scalar_field(start, end, 1)?.unwrap_or(0);
                if kind == 1 {
                    let s = self.string_field(start, end, 3)?.unwrap_or_default();
                    self.sink.str(&s)
                } else {
                    let i = self.scalar_field(start, end, 2)?.unwrap_or(0);
                    self.sink.int(i as u32 as i32 as i64)
                }
            }
            Ty::RawExtension | Ty::FieldsV1 | Ty::Json => {
                self.once(f, start, end, |r| match r.bytes_field(start, end, 1)? {
                    Some((s, e)) if s < e => r.embedded(s, e),
                    _ => r.sink.null(),
                })
            }
            Ty::PropsOrBool(props) => match self.bytes_field(start, end, 2)? {
                Some((s, e)) => self.message(*props, s, e),
                None => self.sink.bool(self.scalar_field(start, end, 1)?.unwrap_or(0) != 0),
            },
            Ty::PropsOrArray(props) => {
                let schemas = self.all_fields(start, end, 2)?;
                if !schemas.is_empty() {
                    self.sink.begin_array_of(schemas.len())?;
                    for (s, e) in schemas {
                        self.message(*props, s, e)?;
                    }
                    return self.sink.end_array();
                }
                match self.bytes_field(start, end, 1)? {
                    Some((s, e)) => self.message(*props, s, e),
                    None => self.sink.null(),
                }
            }
            Ty::PropsOrStringArray(props) => {
                let strings = self.all_fields(start, end, 2)?;
                if !strings.is_empty() {
                    self.sink.begin_array_of(strings.len())?;
                    for (s, e) in strings {
                        let v = self.str(s, e)?;
                        self.sink.str(&v)?;
                    }
                    return self.sink.end_array();
                }
                match self.bytes_field(start, end, 1)? {
                    Some((s, e)) => self.message(*props, s, e),
                    None => self.sink.null(),
                }
            }
            Ty::TypeMeta | Ty::List(_) | Ty::Map(_) | Ty::Wrapped(_) => Err(bad(format!(
                "protobuf: schema type {ty:?} of {} cannot stand alone",
                f.json
            ))),
        }
    }

    /// Renders the value of field `f` held in `b[start..end]`, or repeats the rendering of the
    /// same bytes for the same field seen earlier in this body (the same bytes render the same).
    fn once(
        &mut self,
        f: &'static Field,
        start: usize,
        end: usize,
        render: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        if !S::REPEATS || end - start < REPEAT_MIN_BYTES {
            return render(self);
        }
        let field = f as *const Field as usize;
        match self.repeats.lookup(self.b, field, start, end) {
            Lookup::Repeat(token) => self.sink.repeat(token),
            Lookup::RenderOnly => render(self),
            Lookup::Render(hash) => {
                render(self)?;
                let token = self.sink.remember();
                self.repeats.keep(hash, field, start, end, token);
                Ok(())
            }
        }
    }

    /// Raw JSON kept inside a message (RawExtension, FieldsV1, apiextensions JSON), spliced in;
    /// an embedded protobuf object (a RawExtension a Go client filled) is rendered too.
    fn embedded(&mut self, start: usize, end: usize) -> Result<()> {
        if self.b[start..end].starts_with(MAGIC) {
            let saved = self.type_meta.take();
            let out = decode_enveloped(self.b, start, end, self.sink);
            self.type_meta = saved;
            return out;
        }
        json::parse(&self.b[start..end], self.sink).map_err(|e| match e {
            super::error::Error::Decode(m) => {
                bad(format!("{m} (in JSON embedded at byte {start} of the protobuf body)"))
            }
            other => other,
        })
    }

    fn all_fields(&self, start: usize, end: usize, want: u64) -> Result<Vec<(usize, usize)>> {
        let mut out = Vec::new();
        let mut fs = Fields::new(self.b, start, end, "message");
        while let Some((num, wire, val, e)) = fs.next_field()? {
            if num == want && wire == LEN {
                out.push((val as usize, e));
            }
        }
        Ok(out)
    }

    fn bytes_field(&self, start: usize, end: usize, want: u64) -> Result<Option<(usize, usize)>> {
        let mut out = None;
        let mut fs = Fields::new(self.b, start, end, "message");
        while let Some((num, wire, val, e)) = fs.next_field()? {
            if num == want && wire == LEN {
                out = Some((val as usize, e));
            }
        }
        Ok(out)
    }

    fn string_field(&self, start: usize, end: usize, want: u64) -> Result<Option<Cow<'a, str>>> {
        match self.bytes_field(start, end, want)? {
            Some((s, e)) => Ok(Some(self.str(s, e)?)),
            None => Ok(None),
        }
    }

    fn scalar_field(&self, start: usize, end: usize, want: u64) -> Result<Option<u64>> {
        let mut out = None;
        let mut fs = Fields::new(self.b, start, end, "message");
        while let Some((num, wire, val, _)) = fs.next_field()? {
            if num == want && wire == VARINT {
                out = Some(val);
            }
        }
        Ok(out)
    }
}

/// A Go string as encoding/json writes it: each byte of invalid UTF-8 becomes U+FFFD.
fn go_string(b: &[u8]) -> Cow<'_, str> {
    if b.is_ascii() {
        return Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(b) });
    }
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(go_lossy(b)),
    }
}

fn go_lossy(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    while !b.is_empty() {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let good = e.valid_up_to();
                out.push_str(std::str::from_utf8(&b[..good]).unwrap());
                out.push('\u{FFFD}');
                b = &b[good + 1..];
            }
        }
    }
    out
}

pub fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 { A[n as usize & 63] as char } else { '=' });
    }
    out
}
