//! JSON text into a `Sink`, accepting what Python's `json.loads` accepts (including NaN and
//! Infinity, integers of any size) so that `decode` equals `json.loads`. Strings are scanned a
//! byte at a time against a table; unescaped strings are handed to the sink without copying.
use super::error::{bad, Result};
use super::sink::{Sink, MAX_DEPTH};

/// Decodes one JSON document (surrounding white space allowed, nothing else).
pub fn parse<S: Sink>(body: &[u8], sink: &mut S) -> Result<()> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    if let Err(e) = std::str::from_utf8(body) {
        return Err(bad(format!("JSON: invalid UTF-8 at byte {}", e.valid_up_to())));
    }
    let mut p = Parser {
        s: body,
        pos: 0,
        depth: 0,
        scratch: Vec::new(),
    };
    p.ws();
    p.value(sink)?;
    p.ws();
    if p.pos != body.len() {
        return Err(p.err("extra data after the JSON value"));
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
    scratch: Vec<u8>,
}

/// Bytes that end the fast path of a string scan: the quote, a backslash, control characters.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

impl<'a> Parser<'a> {
    fn err(&self, what: &str) -> super::error::Error {
        bad(format!("JSON: {what} at byte {}", self.pos))
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.pos += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn value<S: Sink>(&mut self, sink: &mut S) -> Result<()> {
        match self.peek() {
            Some(b'{') => self.object(sink),
            Some(b'[') => self.array(sink),
            Some(b'"') => {
                let s = self.string()?;
                sink.str(s)
            }
            Some(b't') => self.literal(b"true", sink, |s| s.bool(true)),
            Some(b'f') => self.literal(b"false", sink, |s| s.bool(false)),
            Some(b'n') => self.literal(b"null", sink, |s| s.null()),
            Some(b'N') => self.literal(b"NaN", sink, |s| s.float(f64::NAN)),
            Some(b'I') => self.literal(b"Infinity", sink, |s| s.float(f64::INFINITY)),
            Some(b'-') if self.s[self.pos..].starts_with(b"-Infinity") => {
                self.literal(b"-Infinity", sink, |s| s.float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.number(sink),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of input, expected a value")),
        }
    }

    fn literal<S: Sink>(&mut self, word: &[u8], sink: &mut S, emit: impl FnOnce(&mut S) -> Result<()>) -> Result<()> {
        if !self.s[self.pos..].starts_with(word) {
            return Err(self.err("expected a value"));
        }
        self.pos += word.len();
        emit(sink)
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(&format!("nesting deeper than {MAX_DEPTH}")));
        }
        self.pos += 1;
        self.ws();
        Ok(())
    }

    fn object<S: Sink>(&mut self, sink: &mut S) -> Result<()> {
        sink.begin_object()?;
        self.members(sink, b'}', |p, sink| {
            if p.peek() != Some(b'"') {
                return Err(p.err("expected a string key"));
            }
            let k = p.string()?;
            sink.key(k)?;
            p.ws();
            if p.peek() != Some(b':') {
                return Err(p.err("expected ':'"));
            }
            p.pos += 1;
            p.ws();
            p.value(sink)
        })?;
        sink.end_object()
    }

    fn array<S: Sink>(&mut self, sink: &mut S) -> Result<()> {
        sink.begin_array()?;
        self.members(sink, b']', |p, sink| p.value(sink))?;
        sink.end_array()
    }

    /// The comma-separated members of an object or array, up to and including `close`.
    fn members<S: Sink>(
        &mut self,
        sink: &mut S,
        close: u8,
        mut member: impl FnMut(&mut Self, &mut S) -> Result<()>,
    ) -> Result<()> {
        self.enter()?;
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                member(self, sink)?;
                self.ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.ws();
                    }
                    Some(c) if c == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err(&format!("expected ',' or '{}'", close as char))),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// The string starting at the opening quote; borrowed from the input when it has no escapes.
    fn string(&mut self) -> Result<&str> {
        let start = self.pos + 1;
        let mut i = start;
        while i < self.s.len() && !STOP[self.s[i] as usize] {
            i += 1;
        }
        match self.s.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                // The input was checked to be UTF-8 and the quote is ASCII, so this is a char boundary.
                Ok(unsafe { std::str::from_utf8_unchecked(&self.s[start..i]) })
            }
            Some(b'\\') => {
                self.scratch.clear();
                self.scratch.extend_from_slice(&self.s[start..i]);
                self.pos = i;
                self.escaped()?;
                Ok(unsafe { std::str::from_utf8_unchecked(&self.scratch) })
            }
            Some(_) => {
                self.pos = i;
                Err(self.err("control character in a string"))
            }
            None => {
                self.pos = i;
                Err(self.err("unterminated string"))
            }
        }
    }

    /// The rest of a string that has escapes, into `scratch`.
    fn escaped(&mut self) -> Result<()> {
        loop {
            let c = match self.peek() {
                Some(c) => c,
                None => return Err(self.err("unterminated string")),
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    let e = self.s.get(self.pos + 1).copied();
                    self.pos += 2;
                    let ch = match e {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 8,
                        Some(b'f') => 12,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            let cp = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            self.scratch.extend_from_slice(cp.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => {
                            self.pos -= 2;
                            return Err(self.err("invalid escape"));
                        }
                    };
                    self.scratch.push(ch);
                }
                c if c < 0x20 => return Err(self.err("control character in a string")),
                c => {
                    self.scratch.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err("truncated \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.err("invalid \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.err("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn unicode_escape(&mut self) -> Result<char> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.s[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                return Ok(char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).unwrap());
            }
            self.pos = save;
        }
        // A lone surrogate is a valid Python str but not a Rust one; refuse it by name.
        char::from_u32(hi).ok_or_else(|| self.err(&format!("lone surrogate \\u{hi:04x}")))
    }

    fn number<S: Sink>(&mut self, sink: &mut S) -> Result<()> {
        let start = self.pos;
        let s = self.s;
        let mut i = self.pos;
        if s[i] == b'-' {
            i += 1;
        }
        let int_start = i;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        if i == int_start || (s[int_start] == b'0' && i - int_start > 1) {
            self.pos = int_start;
            return Err(self.err("invalid number"));
        }
        let mut float = false;
        if s.get(i) == Some(&b'.') && s.get(i + 1).is_some_and(u8::is_ascii_digit) {
            float = true;
            i += 1;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(s.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if s.get(j).is_some_and(u8::is_ascii_digit) {
                float = true;
                i = j;
                while i < s.len() && s[i].is_ascii_digit() {
                    i += 1;
                }
            }
        }
        self.pos = i;
        let text = unsafe { std::str::from_utf8_unchecked(&s[start..i]) };
        if float {
            sink.float(text.parse::<f64>().map_err(|_| self.err("invalid number"))?)
        } else if let Ok(v) = text.parse::<i64>() {
            sink.int(v)
        } else {
            sink.big_int(text)
        }
    }
}

/// Finds where the JSON values in a growing buffer end, across calls, without parsing them:
/// the watch decoder cuts a stream into events with it whatever the chunk boundaries.
#[derive(Default)]
pub struct Splitter {
    pos: usize,
    depth: usize,
    in_string: bool,
    escape: bool,
    started: bool,
}

impl Splitter {
    /// Scans `buf` on from where the last call stopped; returns the end of the first complete
    /// top-level value, after which the caller drains `buf` up to it and calls `reset`. `base`
    /// is the stream offset of `buf[0]`, for error messages.
    pub fn next_end(&mut self, buf: &[u8], base: usize) -> Result<Option<usize>> {
        while self.pos < buf.len() {
            let c = buf[self.pos];
            self.pos += 1;
            if self.in_string {
                if self.escape {
                    self.escape = false;
                } else if c == b'\\' {
                    self.escape = true;
                } else if c == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            if !self.started {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' => continue,
                    b'{' => self.started = true,
                    _ => {
                        return Err(bad(format!(
                            "JSON watch stream: expected an event object, found {:?} at stream byte {}",
                            c as char,
                            base + self.pos - 1
                        )))
                    }
                }
            }
            match c {
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(bad(format!(
                            "JSON watch stream: nesting deeper than {MAX_DEPTH} at stream byte {}",
                            base + self.pos - 1
                        )));
                    }
                }
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Ok(Some(self.pos));
                    }
                }
                b'"' => self.in_string = true,
                _ => {}
            }
        }
        Ok(None)
    }

    pub fn reset(&mut self) {
        *self = Splitter::default();
    }
}
