//! What a decoder emits while it walks one value, in document order. Every decoder (JSON,
//! protobuf) drives a `Sink`; every output (Python objects, compact tapes) is one.
use super::error::Result;
use super::schema::Field;

pub trait Sink {
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
    fn end_array(&mut self) -> Result<()>;
}

/// Deepest nesting any decoder accepts: deeper input is refused, not a stack overflow.
pub const MAX_DEPTH: usize = 1000;
