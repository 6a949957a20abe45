//! What a decoder emits while it walks one value, in document order. Every decoder (JSON,
//! protobuf) drives a `Sink`; every output (Python objects, compact tapes) is one.
use super::error::Result;
use super::schema::Field;

pub trait Sink {
    /// Whether this output can emit a value it built before again (`remember`, `repeat`).
    /// A decoder that sees the same bytes twice (a length-delimited protobuf message) may then
    /// repeat the first rendering instead of rendering again.
    const REPEATS: bool = false;
    fn null(&mut self) -> Result<()>;
    fn bool(&mut self, v: bool) -> Result<()>;
    fn int(&mut self, v: i64) -> Result<()>;
    /// An integer outside i64, as its decimal digits (JSON numbers have no size limit).
    fn big_int(&mut self, digits: &str) -> Result<()>;
    fn float(&mut self, v: f64) -> Result<()>;
    fn str(&mut self, v: &str) -> Result<()>;
    fn begin_object(&mut self) -> Result<()>;
    /// The key of the next value; only inside an object.
    fn key(&mut self, k: &str) -> Result<()>;
    /// The key of a schema field; the same `Field` every time, so an output may cache per field.
    fn field_key(&mut self, f: &'static Field) -> Result<()> {
        self.key(&f.json)
    }
    fn end_object(&mut self) -> Result<()>;
    fn begin_array(&mut self) -> Result<()>;
    /// An array that will hold exactly `len` values (a decoder that knows may say so).
    fn begin_array_of(&mut self, _len: usize) -> Result<()> {
        self.begin_array()
    }
    fn end_array(&mut self) -> Result<()>;
    /// Keeps the value just emitted; the token names it to `repeat`.
    fn remember(&mut self) -> u32 {
        unreachable!("only outputs with REPEATS remember values")
    }
    /// Emits an independent copy of the value `remember` returned `token` for.
    fn repeat(&mut self, _token: u32) -> Result<()> {
        unreachable!("only outputs with REPEATS repeat values")
    }
}

/// Deepest nesting any decoder accepts: deeper input is refused, not a stack overflow.
pub const MAX_DEPTH: usize = 1000;
