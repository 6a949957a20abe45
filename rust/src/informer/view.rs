//! Reading the few fields the cache needs (metadata, labels, a field selector's path) from a
//! compact object's tape in place: no Python objects are built.
use crate::codec::compact::CompactObject;
use crate::codec::tape::{self, Key, Tape};
use std::borrow::Cow;

/// Where the entry under `key` of the object at `obj` is: (start of its key, its value).
pub(crate) fn find_entry(b: &[u8], obj: usize, key: &str) -> Option<(usize, usize)> {
    if b[obj] != tape::OBJECT {
        return None;
    }
    let id = tape::key_id(key);
    let mut p = obj + tape::HEADER;
    for _ in 0..tape::count(b, obj) {
        let start = p;
        let hit = match tape::get_key(b, &mut p) {
            Key::Id(i) => Some(i) == id,
            Key::Inline(k) => k == key,
        };
        if hit {
            return Some((start, p));
        }
        p = tape::skip(b, p);
    }
    None
}

/// One value of a tape.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    tape: &'a Tape,
    pos: usize,
}

impl<'a> View<'a> {
    pub(crate) fn of(obj: &'a CompactObject) -> Self {
        View::at(&obj.tape, obj.pos)
    }

    fn at(t: &'a Tape, pos: usize) -> Self {
        // The items of a top-level list live in tapes of their own.
        if t.bytes[pos] == tape::CHILD {
            let mut p = pos + 1;
            return View {
                tape: &t.children[tape::get_varint(&t.bytes, &mut p) as usize],
                pos: 0,
            };
        }
        View { tape: t, pos }
    }

    /// The value under `key`, if this is an object that has it.
    pub(crate) fn get(&self, key: &str) -> Option<View<'a>> {
        find_entry(&self.tape.bytes, self.pos, key).map(|(_, value)| View::at(self.tape, value))
    }

    /// The value at a path of keys.
    pub(crate) fn path<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> Option<View<'a>> {
        keys.into_iter().try_fold(*self, |v, k| v.get(k))
    }

    /// The tape bytes and the position of this value, if it is a non-empty object.
    pub(crate) fn object(&self) -> Option<(&'a [u8], usize)> {
        (self.tape.bytes[self.pos] == tape::OBJECT).then_some((&*self.tape.bytes, self.pos))
    }

    pub(crate) fn is_null(&self) -> bool {
        self.tape.bytes[self.pos] == tape::NULL
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self.tape.bytes[self.pos] {
            tape::TRUE => Some(true),
            tape::FALSE => Some(false),
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        let mut p = self.pos + 1;
        (self.tape.bytes[self.pos] == tape::INT).then(|| {
            let z = tape::get_varint(&self.tape.bytes, &mut p);
            ((z >> 1) as i64) ^ -((z & 1) as i64)
        })
    }

    /// The items of an array (None if this is not one).
    pub(crate) fn items(&self) -> Option<impl Iterator<Item = View<'a>> + 'a> {
        let b = &*self.tape.bytes;
        let tape = self.tape;
        let (n, mut p) = match b[self.pos] {
            tape::EMPTY_ARRAY => (0, self.pos + 1),
            tape::ARRAY => (tape::count(b, self.pos), self.pos + tape::HEADER),
            _ => return None,
        };
        Some((0..n).map(move |_| {
            let item = View::at(tape, p);
            p = tape::skip(b, p);
            item
        }))
    }

    /// The entries of an object (None if this is not one).
    pub(crate) fn entries(&self) -> Option<impl Iterator<Item = (Cow<'a, str>, View<'a>)> + 'a> {
        let b = &*self.tape.bytes;
        let tape = self.tape;
        let (n, mut p) = match b[self.pos] {
            tape::EMPTY_OBJECT => (0, self.pos + 1),
            tape::OBJECT => (tape::count(b, self.pos), self.pos + tape::HEADER),
            _ => return None,
        };
        Some((0..n).map(move |_| {
            let key = match tape::get_key(b, &mut p) {
                Key::Id(i) => Cow::Owned(tape::key_name(i).to_string()),
                Key::Inline(k) => Cow::Borrowed(k),
            };
            let value = View::at(tape, p);
            p = tape::skip(b, p);
            (key, value)
        }))
    }

    pub(crate) fn as_str(&self) -> Option<&'a str> {
        (self.tape.bytes[self.pos] == tape::STR).then(|| tape::get_str(&self.tape.bytes, self.pos))
    }

    /// A scalar as the text the API server's field sets hold: strings as they are, numbers and
    /// booleans as their JSON text; null, objects and arrays as "".
    pub(crate) fn text(&self) -> Cow<'a, str> {
        let b = &*self.tape.bytes;
        let mut p = self.pos + 1;
        match b[self.pos] {
            tape::STR | tape::BIGINT => Cow::Borrowed(tape::get_str(b, self.pos)),
            tape::TRUE => Cow::Borrowed("true"),
            tape::FALSE => Cow::Borrowed("false"),
            tape::INT => {
                let z = tape::get_varint(b, &mut p);
                Cow::Owned((((z >> 1) as i64) ^ -((z & 1) as i64)).to_string())
            }
            tape::FLOAT => Cow::Owned(f64::from_le_bytes(b[p..p + 8].try_into().unwrap()).to_string()),
            _ => Cow::Borrowed(""),
        }
    }
}

/// metadata.`field` when it is a non-empty string.
pub(crate) fn meta_str<'a>(obj: &'a CompactObject, field: &str) -> Option<&'a str> {
    View::of(obj)
        .path(["metadata", field])?
        .as_str()
        .filter(|s| !s.is_empty())
}
