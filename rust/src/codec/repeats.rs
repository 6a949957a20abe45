//! The messages a protobuf body repeats byte for byte. The pods of one ReplicaSet share their
//! containers, volumes, owner references and managed fields; length-delimited protobuf hands
//! a decoder each message's exact bytes, so a repeat can be recognised before it is rendered
//! and its earlier rendering copied instead. JSON cannot tell where a value ends without
//! parsing it, so only the protobuf decoder does this.
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use std::hash::BuildHasher;

/// Bytes hashed from each end of a message; the middle is compared only on a hash match.
const HASHED_END: usize = 32;
/// Distinct messages kept per hash: bounds the comparisons a lookup makes, so bodies crafted
/// to collide cost at most this many comparisons per message, never quadratic time.
const SAME_HASH_LIMIT: usize = 4;
/// A field whose last this many messages were all new (conditions with their own times, a
/// pod's metadata) is looked up only for one message in `SAMPLE_EVERY` after that: lookups that
/// never hit cost a few percent of a decode. A hit makes every message count again, so a list
/// whose repeats start late (sorted by name, one Deployment after another) still finds them.
const MISS_STREAK: u32 = 16;
const SAMPLE_EVERY: u32 = 8;

struct Seen {
    hash: u64,
    /// What the bytes are rendered as (the schema field), so equal bytes of other fields differ.
    field: usize,
    start: usize,
    end: usize,
    token: u32,
}

/// What the decoder should do with a message.
pub enum Lookup {
    /// The same bytes were rendered before: repeat the value the sink kept under this token.
    Repeat(u32),
    /// First sight: render it, then `keep` it under this hash.
    Render(u64),
    /// Render it and keep nothing: too many messages already share its hash, or the field's
    /// messages have not been repeating.
    RenderOnly,
}

/// Offsets count from the start of the body the decoder walks, which every call passes again:
/// a body that grows as it arrives (a list decoded while received) keeps its offsets.
#[derive(Default)]
pub struct Repeats {
    table: HashTable<Seen>,
    hasher: DefaultHashBuilder,
    /// Per field: messages since its last repeat.
    misses: HashMap<usize, u32, DefaultHashBuilder>,
}

impl Repeats {
    fn hash(&self, body: &[u8], field: usize, start: usize, end: usize) -> u64 {
        let b = &body[start..end];
        if b.len() <= 2 * HASHED_END {
            return self.hasher.hash_one((field, b));
        }
        self.hasher
            .hash_one((field, b.len(), &b[..HASHED_END], &b[b.len() - HASHED_END..]))
    }

    pub fn lookup(&mut self, body: &[u8], field: usize, start: usize, end: usize) -> Lookup {
        let misses = self.misses.entry(field).or_insert(0);
        *misses += 1;
        if *misses > MISS_STREAK && *misses % SAMPLE_EVERY != 0 {
            return Lookup::RenderOnly;
        }
        let hash = self.hash(body, field, start, end);
        let bytes = &body[start..end];
        let mut same_hash = 0;
        for seen in self.table.iter_hash(hash) {
            if seen.hash != hash {
                continue;
            }
            if seen.field == field && &body[seen.start..seen.end] == bytes {
                self.misses.insert(field, 0);
                return Lookup::Repeat(seen.token);
            }
            same_hash += 1;
        }
        if same_hash >= SAME_HASH_LIMIT {
            Lookup::RenderOnly
        } else {
            Lookup::Render(hash)
        }
    }

    pub fn keep(&mut self, hash: u64, field: usize, start: usize, end: usize, token: u32) {
        self.table.insert_unique(
            hash,
            Seen {
                hash,
                field,
                start,
                end,
                token,
            },
            |s| s.hash,
        );
    }
}
