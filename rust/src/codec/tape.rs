//! The compact form of a decoded value: one byte buffer (a "tape") per object, read in place.
//! Object keys are numbers into a process-wide table, so a cached pod costs little more than
//! its JSON. The items of a top-level list each get a tape of their own ("children"), so that a
//! cache can keep one item without the rest of the list.
//!
//! Encoding, one value:
//!   NULL | FALSE | TRUE
//!   INT zigzag-varint            FLOAT f64 (8 bytes LE)      BIGINT varint-len digits
//!   STR varint-len utf8          CHILD varint (index into the tape's children)
//!   ARRAY u32-len u32-count value*          (u32-len: bytes after the header)
//!   OBJECT u32-len u32-count (key value)*   key: varint id<<1, or varint len<<1|1 then utf8
//!   EMPTY_ARRAY | EMPTY_OBJECT              (one byte: most field-set leaves are `{}`)
use super::error::Result;
use super::hash::FastMap;
use super::schema::Field;
use super::sink::Sink;
use std::sync::{Arc, OnceLock, RwLock};

pub const NULL: u8 = 0;
pub const FALSE: u8 = 1;
pub const TRUE: u8 = 2;
pub const INT: u8 = 3;
pub const FLOAT: u8 = 4;
pub const BIGINT: u8 = 5;
pub const STR: u8 = 6;
pub const ARRAY: u8 = 7;
pub const OBJECT: u8 = 8;
pub const CHILD: u8 = 9;
pub const EMPTY_ARRAY: u8 = 10;
pub const EMPTY_OBJECT: u8 = 11;
pub const HEADER: usize = 9;

pub struct Tape {
    pub bytes: Box<[u8]>,
    pub children: Box<[Arc<Tape>]>,
}

impl Tape {
    /// Bytes this tape holds, counting its children.
    pub fn size(&self) -> usize {
        std::mem::size_of::<Tape>()
            + self.bytes.len()
            + self
                .children
                .iter()
                .map(|c| std::mem::size_of::<Arc<Tape>>() + c.size())
                .sum::<usize>()
    }
}

/// The process-wide key table. Bounded: keys past the limit, or long ones, stay inline.
struct Keys {
    ids: FastMap<Box<str>, u32>,
    names: Vec<Arc<str>>,
}
const MAX_KEYS: usize = 1 << 16;
const MAX_KEY_LEN: usize = 64;

fn keys() -> &'static RwLock<Keys> {
    static K: OnceLock<RwLock<Keys>> = OnceLock::new();
    K.get_or_init(|| {
        RwLock::new(Keys {
            ids: FastMap::default(),
            names: Vec::new(),
        })
    })
}

/// The id of a key already in the table (for lookups: never adds).
pub fn key_id(k: &str) -> Option<u32> {
    keys().read().unwrap().ids.get(k).copied()
}

pub fn key_name(id: u32) -> Arc<str> {
    keys().read().unwrap().names[id as usize].clone()
}

fn intern(k: &str) -> Option<u32> {
    if k.len() > MAX_KEY_LEN {
        return None;
    }
    if let Some(id) = key_id(k) {
        return Some(id);
    }
    let mut t = keys().write().unwrap();
    if let Some(&id) = t.ids.get(k) {
        return Some(id);
    }
    if t.names.len() >= MAX_KEYS {
        return None;
    }
    let id = t.names.len() as u32;
    t.names.push(Arc::from(k));
    t.ids.insert(k.into(), id);
    Some(id)
}

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint the tape writer wrote (so it is well formed).
#[inline]
pub fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let c = b[*pos];
        *pos += 1;
        v |= ((c & 0x7f) as u64) << shift;
        if c < 0x80 {
            return v;
        }
        shift += 7;
    }
}

#[inline]
pub fn get_u32(b: &[u8], pos: usize) -> usize {
    u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap()) as usize
}

/// The position just past the value at `pos`.
pub fn skip(b: &[u8], pos: usize) -> usize {
    let mut p = pos + 1;
    match b[pos] {
        NULL | FALSE | TRUE | EMPTY_ARRAY | EMPTY_OBJECT => p,
        INT | CHILD => {
            get_varint(b, &mut p);
            p
        }
        FLOAT => p + 8,
        BIGINT | STR => {
            let n = get_varint(b, &mut p) as usize;
            p + n
        }
        _ => pos + HEADER + get_u32(b, pos + 1),
    }
}

/// Count of the array's items or the object's entries at `pos`.
pub fn count(b: &[u8], pos: usize) -> usize {
    match b[pos] {
        EMPTY_ARRAY | EMPTY_OBJECT => 0,
        _ => get_u32(b, pos + 5),
    }
}

pub enum Key<'a> {
    Id(u32),
    Inline(&'a str),
}

/// Reads the key at `pos` and moves past it.
pub fn get_key<'a>(b: &'a [u8], pos: &mut usize) -> Key<'a> {
    let v = get_varint(b, pos);
    if v & 1 == 0 {
        return Key::Id((v >> 1) as u32);
    }
    let n = (v >> 1) as usize;
    let s = &b[*pos..*pos + n];
    *pos += n;
    Key::Inline(std::str::from_utf8(s).expect("tape keys are UTF-8"))
}

/// The string of a STR or BIGINT value at `pos`.
pub fn get_str(b: &[u8], pos: usize) -> &str {
    let mut p = pos + 1;
    let n = get_varint(b, &mut p) as usize;
    std::str::from_utf8(&b[p..p + n]).expect("tape strings are UTF-8")
}

/// The "type" string and the position of "object" in a watch event decoded to a tape.
pub fn event_parts(t: &Tape) -> Option<(&str, usize)> {
    let b = &*t.bytes;
    if b.first() != Some(&OBJECT) {
        return None;
    }
    let (ty_id, obj_id) = (key_id("type"), key_id("object"));
    let (mut ty, mut obj) = (None, None);
    let mut p = HEADER;
    for _ in 0..count(b, 0) {
        let k = get_key(b, &mut p);
        let is = |name: &str, id: Option<u32>| match k {
            Key::Id(i) => Some(i) == id,
            Key::Inline(s) => s == name,
        };
        if is("type", ty_id) && b[p] == STR {
            ty = Some(get_str(b, p));
        } else if is("object", obj_id) {
            obj = Some(p);
        }
        p = skip(b, p);
    }
    Some((ty?, obj?))
}

/// One item of a list written on its own (`TapeWriter::for_items`).
pub enum Item {
    /// An object: a child tape of the list's.
    Child(Arc<Tape>),
    /// Anything else, as it stands in the list's array.
    Inline(Box<[u8]>),
}

/// The tape of a whole list, from the tape of the list without its items (`shell`: its
/// top-level "items" an empty array or null) and the items: byte for byte what one writer of
/// the whole list writes. None if `shell` is not an object with "items".
pub fn with_items(shell: &Tape, items: Vec<Item>) -> Option<Arc<Tape>> {
    let b = &*shell.bytes;
    if b.first() != Some(&OBJECT) || !shell.children.is_empty() {
        return None;
    }
    let items_id = key_id("items");
    let mut out = Vec::with_capacity(b.len() + HEADER + 3 * items.len());
    out.extend_from_slice(&b[..HEADER]);
    let mut children = Vec::new();
    let (mut p, mut found) = (HEADER, false);
    for _ in 0..count(b, 0) {
        let entry = p;
        let is_items = match get_key(b, &mut p) {
            Key::Id(id) => Some(id) == items_id,
            Key::Inline(k) => k == "items",
        };
        let end = skip(b, p);
        if !is_items || found {
            out.extend_from_slice(&b[entry..end]);
            p = end;
            continue;
        }
        found = true;
        out.extend_from_slice(&b[entry..p]);
        let header = out.len();
        out.push(ARRAY);
        out.extend_from_slice(&[0; 8]);
        let n = items.len() as u32;
        for item in items.iter() {
            match item {
                Item::Child(t) => {
                    out.push(CHILD);
                    put_varint(&mut out, children.len() as u64);
                    children.push(t.clone());
                }
                Item::Inline(v) => out.extend_from_slice(v),
            }
        }
        let len = (out.len() - header - HEADER) as u32;
        out[header + 1..header + 5].copy_from_slice(&len.to_le_bytes());
        out[header + 5..header + 9].copy_from_slice(&n.to_le_bytes());
        p = end;
    }
    if !found {
        return None;
    }
    let len = (out.len() - HEADER) as u32;
    out[1..5].copy_from_slice(&len.to_le_bytes());
    Some(Arc::new(Tape {
        bytes: out.into_boxed_slice(),
        children: children.into_boxed_slice(),
    }))
}

struct Open {
    header: usize,
    count: u32,
    /// An array whose object items each get a tape of their own.
    detach_items: bool,
    /// This object is such an item: its bytes are in a buffer of their own.
    detached: bool,
    /// With `managed_fields` Leave: a Kubernetes object (a root, a list's item, a watch event's
    /// object), or such an object's metadata.
    role: Role,
}

/// What a writer does with metadata.managedFields (`TapeWriter::leave_out_managed_fields`).
#[derive(Clone, Copy, Default, PartialEq)]
enum ManagedFields {
    #[default]
    Keep,
    /// Left out of every object the tape holds: the root, a top-level list's items.
    Leave,
    /// The same for a tape of one watch event: the object under its "object" key.
    LeaveInEvent,
}

#[derive(Clone, Copy, Default, PartialEq)]
enum Role {
    #[default]
    Other,
    Object,
    Metadata,
}

/// A `Sink` that writes one tape (plus children for the items of a top-level list).
#[derive(Default)]
pub struct TapeWriter {
    out: Vec<u8>,
    open: Vec<Open>,
    /// Buffers of the tapes being written around a detached item.
    outer: Vec<Vec<u8>>,
    children: Vec<Arc<Tape>>,
    local_keys: FastMap<Box<str>, Option<u32>>,
    last_key_items: bool,
    /// Writes the items of a list one at a time (`for_items`).
    item: bool,
    managed_fields: ManagedFields,
    /// With `managed_fields` Leave: the role of the object that the key just written opens.
    next_role: Role,
    /// While a managedFields value is left out: the containers open inside it.
    leaving: Option<u32>,
}

impl TapeWriter {
    /// A writer of a list's items one at a time, one value per `finish`, each written as the
    /// writer of the whole list writes it there: an object as its child tape, anything else
    /// as its bytes in the list's array (see `with_items`).
    pub fn for_items() -> Self {
        TapeWriter {
            item: true,
            ..TapeWriter::default()
        }
    }

    /// This writer leaves out the metadata.managedFields of the Kubernetes objects it writes
    /// (a root object, a top-level list's items; with `event`, the "object" of a watch event),
    /// writing exactly the tape that `strip_managed_fields` would make of them.
    pub fn leave_out_managed_fields(mut self, event: bool) -> Self {
        self.managed_fields = if event {
            ManagedFields::LeaveInEvent
        } else {
            ManagedFields::Leave
        };
        self
    }

    /// Whether this part of the input belongs to a managedFields value left out: `depth` is +1
    /// when it opens a container, -1 when it closes one, 0 for a scalar.
    #[inline]
    fn left_out(&mut self, depth: i32) -> bool {
        let Some(open) = self.leaving else { return false };
        let open = open as i32 + depth;
        self.leaving = if open == 0 && depth <= 0 {
            None
        } else {
            Some(open as u32)
        };
        true
    }

    /// A fresh writer of the same kind, for a new value after one that failed mid-way.
    pub fn reset(&mut self) {
        *self = TapeWriter {
            item: self.item,
            managed_fields: self.managed_fields,
            ..TapeWriter::default()
        };
    }

    pub fn finish(&mut self) -> Arc<Tape> {
        Arc::new(Tape {
            bytes: std::mem::take(&mut self.out).into_boxed_slice(),
            children: std::mem::take(&mut self.children).into_boxed_slice(),
        })
    }

    fn value(&mut self) {
        self.next_role = Role::Other;
        if let Some(o) = self.open.last_mut() {
            o.count += 1;
        }
    }

    fn begin(&mut self, tag: u8, detach_items: bool) {
        let detached = tag == OBJECT && self.open.last().is_some_and(|o| o.detach_items);
        let role = match self.managed_fields {
            ManagedFields::Keep => Role::Other,
            _ if tag != OBJECT => Role::Other,
            _ if self.open.is_empty() || detached => Role::Object,
            _ => self.next_role,
        };
        if detached {
            self.outer.push(std::mem::take(&mut self.out));
        } else {
            self.value();
        }
        let header = self.out.len();
        self.out.push(tag);
        self.out.extend_from_slice(&[0; 8]);
        self.open.push(Open {
            header,
            count: 0,
            detach_items,
            detached,
            role,
        });
    }

    fn end(&mut self) {
        let o = self.open.pop().expect("balanced containers");
        // An object item's own tape keeps its whole header, as a detached one does.
        let item_tape = self.item && self.open.is_empty() && self.out[o.header] == OBJECT;
        if o.count == 0 && !o.detached && !item_tape {
            // Nothing follows the header: keep one byte of it.
            self.out.truncate(o.header + 1);
            self.out[o.header] = if self.out[o.header] == OBJECT {
                EMPTY_OBJECT
            } else {
                EMPTY_ARRAY
            };
            return;
        }
        let len = (self.out.len() - o.header - HEADER) as u32;
        self.out[o.header + 1..o.header + 5].copy_from_slice(&len.to_le_bytes());
        self.out[o.header + 5..o.header + 9].copy_from_slice(&o.count.to_le_bytes());
        if o.detached {
            let bytes = std::mem::replace(&mut self.out, self.outer.pop().expect("outer tape"));
            self.children.push(Arc::new(Tape {
                bytes: bytes.into_boxed_slice(),
                children: Box::new([]),
            }));
            self.value();
            self.out.push(CHILD);
            put_varint(&mut self.out, (self.children.len() - 1) as u64);
        }
    }
}

impl TapeWriter {
    /// With `managed_fields` Leave: whether the key `k` starts a managedFields value to leave
    /// out; otherwise notes the role of the object it may open.
    fn leaves_out(&mut self, k: &str) -> bool {
        let role = self.open.last().map_or(Role::Other, |o| o.role);
        let event_object = self.managed_fields == ManagedFields::LeaveInEvent && self.open.len() == 1;
        self.next_role = match role {
            Role::Metadata if k == "managedFields" => {
                self.leaving = Some(0);
                return true;
            }
            Role::Object if k == "metadata" => Role::Metadata,
            _ if event_object && k == "object" => Role::Object,
            _ => Role::Other,
        };
        false
    }

    fn put_key(&mut self, k: &str, id: Option<u32>) {
        // The "items" of the top-level object are the items of a list.
        self.last_key_items = !self.item && self.open.len() == 1 && k == "items";
        match id {
            Some(id) => put_varint(&mut self.out, (id as u64) << 1),
            None => {
                put_varint(&mut self.out, ((k.len() as u64) << 1) | 1);
                self.out.extend_from_slice(k.as_bytes());
            }
        }
    }
}

impl Sink for TapeWriter {
    fn null(&mut self) -> Result<()> {
        if self.left_out(0) {
            return Ok(());
        }
        self.value();
        self.out.push(NULL);
        Ok(())
    }
    fn bool(&mut self, v: bool) -> Result<()> {
        if self.left_out(0) {
            return Ok(());
        }
        self.value();
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }
    fn int(&mut self, v: i64) -> Result<()> {
        if self.left_out(0) {
            return Ok(());
        }
        self.value();
        self.out.push(INT);
        put_varint(&mut self.out, ((v << 1) ^ (v >> 63)) as u64);
        Ok(())
    }
    fn big_int(&mut self, digits: &str) -> Result<()> {
        if self.left_out(0) {
            return Ok(());
        }
        self.value();
        self.out.push(BIGINT);
        put_varint(&mut self.out, digits.len() as u64);
        self.out.extend_from_slice(digits.as_bytes());
        Ok(())
    }
    fn float(&mut self, v: f64) -> Result<()> {
        if self.left_out(0) {
            return Ok(());
        }
        self.value();
        self.out.push(FLOAT);
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn str(&mut self, v: &str) -> Result<()> {
        if self.left_out(0) {
            return Ok(());
        }
        self.value();
        self.out.push(STR);
        put_varint(&mut self.out, v.len() as u64);
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }
    fn begin_object(&mut self) -> Result<()> {
        if self.left_out(1) {
            return Ok(());
        }
        self.begin(OBJECT, false);
        Ok(())
    }
    fn key(&mut self, k: &str) -> Result<()> {
        if self.leaving.is_some() || (self.managed_fields != ManagedFields::Keep && self.leaves_out(k)) {
            return Ok(());
        }
        let id = match self.local_keys.get(k) {
            Some(&id) => id,
            None => {
                let id = intern(k);
                self.local_keys.insert(k.into(), id);
                id
            }
        };
        self.put_key(k, id);
        Ok(())
    }
    fn field_key(&mut self, f: &'static Field) -> Result<()> {
        if self.leaving.is_some() || (self.managed_fields != ManagedFields::Keep && self.leaves_out(&f.json)) {
            return Ok(());
        }
        let id = *f.tape_key.get_or_init(|| intern(&f.json));
        self.put_key(&f.json, id);
        Ok(())
    }
    fn end_object(&mut self) -> Result<()> {
        if self.left_out(-1) {
            return Ok(());
        }
        self.end();
        Ok(())
    }
    fn begin_array(&mut self) -> Result<()> {
        if self.left_out(1) {
            return Ok(());
        }
        let items = std::mem::take(&mut self.last_key_items) && self.open.len() == 1;
        self.begin(ARRAY, items);
        Ok(())
    }
    fn end_array(&mut self) -> Result<()> {
        if self.left_out(-1) {
            return Ok(());
        }
        self.end();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::json;

    fn written(body: &str, mut w: TapeWriter) -> Arc<Tape> {
        assert!(json::parse(body.as_bytes(), &mut w).is_ok(), "{body}");
        w.finish()
    }

    /// A pod with metadata.managedFields, and keys of that name elsewhere that are not its.
    fn pod(managed_fields: bool) -> String {
        let mf = if managed_fields {
            r#""managedFields":[{"manager":"m","fieldsV1":{"f:spec":{"f:x":{}}}}],"#
        } else {
            ""
        };
        format!(
            r#"{{"kind":"Pod","metadata":{{"name":"a",{mf}"labels":{{"x":"y"}}}},"spec":{{"template":{{"metadata":{{"managedFields":[1]}}}},"managedFields":2}}}}"#
        )
    }

    #[test]
    fn a_writer_leaving_out_managed_fields_writes_the_object_without_them() {
        let cases = [
            (pod(true), pod(false)),
            (
                r#"{"metadata":{"managedFields":[{"a":[{"b":null}]}]},"x":[true]}"#.into(),
                r#"{"metadata":{},"x":[true]}"#.into(),
            ),
            (
                r#"{"metadata":{"name":"a"},"managedFields":[]}"#.into(),
                r#"{"metadata":{"name":"a"},"managedFields":[]}"#.into(),
            ),
        ];
        for (body, without) in cases {
            let left_out = written(&body, TapeWriter::default().leave_out_managed_fields(false));
            assert_eq!(left_out.bytes, written(&without, TapeWriter::default()).bytes, "{body}");
        }
    }

    #[test]
    fn the_items_of_a_list_and_the_object_of_a_watch_event_are_written_without_managed_fields() {
        let stripped = written(&pod(false), TapeWriter::default());
        let list = format!(
            r#"{{"kind":"PodList","metadata":{{"resourceVersion":"1"}},"items":[{},{}]}}"#,
            pod(true),
            pod(true)
        );
        let t = written(&list, TapeWriter::default().leave_out_managed_fields(false));
        assert_eq!(t.children.len(), 2);
        assert!(t.children.iter().all(|c| c.bytes == stripped.bytes));

        let item = written(&pod(true), TapeWriter::for_items().leave_out_managed_fields(false));
        assert_eq!(item.bytes, stripped.bytes);

        let event = |p: String| format!(r#"{{"type":"ADDED","object":{p}}}"#);
        let left_out = written(&event(pod(true)), TapeWriter::default().leave_out_managed_fields(true));
        assert_eq!(left_out.bytes, written(&event(pod(false)), TapeWriter::default()).bytes);
    }
}
