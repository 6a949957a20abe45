//! Label selectors, as k8s.io/apimachinery/pkg/labels parses and matches them (v0.37.2): the
//! same lexer (bytes; a NUL ends the input), the same grammar and the same validation of keys
//! and values, so a selector this accepts is one the API server accepts, and it selects the
//! same objects. Only the error messages are worded differently.
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::collections::HashMap;

/// Labels a selector looks at: a tape's metadata.labels, or a map for tests and Python.
pub(crate) trait Labels {
    fn lookup(&self, key: &str) -> Option<&str>;
}

impl Labels for HashMap<String, String> {
    fn lookup(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Exists,
    DoesNotExist,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
}

#[derive(Clone, Debug)]
pub(crate) struct Requirement {
    key: String,
    op: Op,
    /// Sorted and distinct, as upstream's string set gives them.
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: &impl Labels) -> bool {
        let value = labels.lookup(&self.key);
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.op {
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Equals | Op::DoubleEquals | Op::In => value.is_some_and(has),
            // A missing label is "not equal" to anything.
            Op::NotEquals | Op::NotIn => !value.is_some_and(has),
            Op::GreaterThan | Op::LessThan => {
                let (Some(Ok(have)), Ok(want)) = (value.map(str::parse::<i64>), self.values[0].parse::<i64>()) else {
                    return false;
                };
                if self.op == Op::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

/// An AND of requirements; none matches everything.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    pub(crate) fn from_requirements(requirements: Vec<Requirement>) -> Selector {
        Selector { requirements }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// This selector and `more` requirements.
    pub(crate) fn and(mut self, more: impl Iterator<Item = Requirement>) -> Selector {
        self.requirements.extend(more);
        self
    }

    pub(crate) fn matches(&self, labels: &impl Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The requirements that only an object with the label can meet: its key, and the values
    /// it may have (None: any).
    pub(crate) fn required_labels(&self) -> impl Iterator<Item = (&str, Option<&[String]>)> {
        self.requirements.iter().filter_map(|r| match r.op {
            Op::Equals | Op::DoubleEquals | Op::In => Some((r.key.as_str(), Some(r.values.as_slice()))),
            Op::Exists => Some((r.key.as_str(), None)),
            _ => None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn symbol(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b")" => Tok::ClosedPar,
        b"," => Tok::Comma,
        b"!" => Tok::DoesNotExist,
        b"==" => Tok::DoubleEquals,
        b"=" => Tok::Equals,
        b">" => Tok::GreaterThan,
        b"<" => Tok::LessThan,
        b"!=" => Tok::NotEquals,
        b"(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// upstream's Lexer, step for step (its `read` gives 0 at the end, so a NUL byte ends a token).
struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn read(&mut self) -> u8 {
        match self.s.as_bytes().get(self.pos) {
            Some(&c) => {
                self.pos += 1;
                c
            }
            None => 0,
        }
    }

    fn identifier_or_keyword(&mut self) -> (Tok, &'a str) {
        let start = self.pos;
        let mut end = start;
        loop {
            match self.read() {
                0 => break,
                c if is_special(c) || is_whitespace(c) => {
                    self.pos -= 1;
                    break;
                }
                _ => end = self.pos,
            }
        }
        let lit = &self.s[start..end];
        let tok = match lit {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Identifier,
        };
        (tok, lit)
    }

    /// The longest operator at this point ("!=" and "==" over "!" and "=").
    fn special_symbol(&mut self) -> (Tok, &'a str) {
        let start = self.pos;
        let mut last = None;
        loop {
            match self.read() {
                0 => break,
                c if is_special(c) => match symbol(&self.s.as_bytes()[start..self.pos]) {
                    Some(tok) => last = Some((tok, &self.s[start..self.pos])),
                    None => {
                        self.pos -= 1;
                        break;
                    }
                },
                _ => {
                    self.pos -= 1;
                    break;
                }
            }
        }
        last.expect("every special byte alone is a token")
    }

    fn lex(&mut self) -> (Tok, &'a str) {
        let mut c = self.read();
        while is_whitespace(c) {
            c = self.read();
        }
        if c == 0 {
            return (Tok::End, "");
        }
        self.pos -= 1;
        if is_special(c) {
            self.special_symbol()
        } else {
            self.identifier_or_keyword()
        }
    }
}

/// Where a token is read: as a value, "in" and "notin" are plain identifiers.
#[derive(Clone, Copy, PartialEq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    tokens: Vec<(Tok, &'a str)>,
    position: usize,
}

type Parsed<T> = Result<T, String>;

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        let mut lexer = Lexer { s, pos: 0 };
        let mut tokens = Vec::new();
        loop {
            let t = lexer.lex();
            tokens.push(t);
            if t.0 == Tok::End {
                return Parser { tokens, position: 0 };
            }
        }
    }

    fn lookahead(&self, ctx: Context) -> (Tok, &'a str) {
        let (tok, lit) = self.tokens[self.position.min(self.tokens.len() - 1)];
        match tok {
            Tok::In | Tok::NotIn if ctx == Context::Values => (Tok::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn consume(&mut self, ctx: Context) -> (Tok, &'a str) {
        let t = self.lookahead(ctx);
        self.position += 1;
        t
    }

    fn parse(&mut self) -> Parsed<Vec<Requirement>> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    requirements.push(self.requirement()?);
                    let (tok, lit) = self.consume(Context::Values);
                    match tok {
                        Tok::End => return Ok(requirements),
                        Tok::Comma => {
                            let (next, lit) = self.lookahead(Context::Values);
                            if next != Tok::Identifier && next != Tok::DoesNotExist {
                                return Err(format!("found '{lit}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{lit}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(requirements),
                _ => return Err(format!("found '{lit}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Parsed<Requirement> {
        let (key, op) = self.key_and_inferred_operator()?;
        let (op, values) = match op {
            Some(op) => (op, Vec::new()),
            None => {
                let op = self.operator()?;
                let values = match op {
                    Op::In | Op::NotIn => self.value_set()?,
                    _ => vec![self.exact_value()?],
                };
                (op, values)
            }
        };
        new_requirement(key, op, values)
    }

    /// The key, and its operator when there is no other: "!key" or a lone "key".
    fn key_and_inferred_operator(&mut self) -> Parsed<(&'a str, Option<Op>)> {
        let (mut tok, mut lit) = self.consume(Context::Values);
        let negated = tok == Tok::DoesNotExist;
        if negated {
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        validate_key(lit)?;
        if negated {
            return Ok((lit, Some(Op::DoesNotExist)));
        }
        let (next, _) = self.lookahead(Context::Values);
        Ok((lit, matches!(next, Tok::End | Tok::Comma).then_some(Op::Exists)))
    }

    fn operator(&mut self) -> Parsed<Op> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Tok::In => Op::In,
            Tok::Equals => Op::Equals,
            Tok::DoubleEquals => Op::DoubleEquals,
            Tok::GreaterThan => Op::GreaterThan,
            Tok::LessThan => Op::LessThan,
            Tok::NotIn => Op::NotIn,
            Tok::NotEquals => Op::NotEquals,
            _ => return Err(format!("found '{lit}', expected: in, notin, =, ==, !=, gt, lt")),
        })
    }

    /// "(a, b, …)": empty members are "", and "()" is {""}.
    fn value_set(&mut self) -> Parsed<Vec<String>> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        let mut values = match tok {
            Tok::Identifier | Tok::Comma => self.identifiers()?,
            Tok::ClosedPar => vec![String::new()],
            _ => return Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        };
        self.consume(Context::Values); // the ')' that ended the list
        values.sort();
        values.dedup();
        Ok(values)
    }

    fn identifiers(&mut self) -> Parsed<Vec<String>> {
        let mut values = Vec::new();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Tok::Identifier => {
                    values.push(lit.to_owned());
                    match self.lookahead(Context::Values) {
                        (Tok::Comma, _) => continue,
                        (Tok::ClosedPar, _) => return Ok(values),
                        (_, lit) => return Err(format!("found '{lit}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    // An empty member: "(,a)", "(a,)", "(a,,b)".
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    match self.lookahead(Context::Values).0 {
                        Tok::ClosedPar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Tok::Comma => values.push(String::new()),
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    /// The value after "=", "==", "!=", ">" or "<"; none before ',' or the end is "".
    fn exact_value(&mut self) -> Parsed<String> {
        if matches!(self.lookahead(Context::Values).0, Tok::End | Tok::Comma) {
            return Ok(String::new());
        }
        match self.consume(Context::Values) {
            (Tok::Identifier, lit) => Ok(lit.to_owned()),
            (_, lit) => Err(format!("found '{lit}', expected: identifier")),
        }
    }
}

/// upstream's NewRequirement checks (the parser already guarantees the value counts).
fn new_requirement(key: &str, op: Op, values: Vec<String>) -> Parsed<Requirement> {
    validate_key(key)?;
    if matches!(op, Op::GreaterThan | Op::LessThan) && values[0].parse::<i64>().is_err() {
        return Err(format!(
            "for 'gt', 'lt' operators, the value must be an integer, not {:?}",
            values[0]
        ));
    }
    for v in &values {
        validate_value(v)?;
    }
    Ok(Requirement {
        key: key.to_owned(),
        op,
        values,
    })
}

/// labels.NewRequirement for a v1.NodeSelectorRequirement's operator (In, NotIn, Exists,
/// DoesNotExist, Gt, Lt), with all of its checks.
pub(crate) fn node_selector_requirement(key: &str, operator: &str, values: &[String]) -> Parsed<Requirement> {
    let op = match operator {
        "In" => Op::In,
        "NotIn" => Op::NotIn,
        "Exists" => Op::Exists,
        "DoesNotExist" => Op::DoesNotExist,
        "Gt" => Op::GreaterThan,
        "Lt" => Op::LessThan,
        _ => {
            return Err(format!(
                "operator {operator:?} is not supported: In, NotIn, Exists, DoesNotExist, Gt or Lt"
            ))
        }
    };
    let count_ok = match op {
        Op::In | Op::NotIn => !values.is_empty(),
        Op::Exists | Op::DoesNotExist => values.is_empty(),
        _ => values.len() == 1,
    };
    if !count_ok {
        return Err(format!(
            "requirement {key:?} {operator}: wrong number of values ({})",
            values.len()
        ));
    }
    new_requirement(key, op, values.to_vec())
}

/// The requirement `key = value` that labels.SelectorFromSet builds (unchecked, as there).
pub(crate) fn equals_requirement(key: &str, value: &str) -> Requirement {
    Requirement {
        key: key.to_owned(),
        op: Op::Equals,
        values: vec![value.to_owned()],
    }
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`: a label key's name part, or a non-empty value.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_alnum(b[0])
        && is_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_alnum(c) || matches!(c, b'-' | b'_' | b'.'))
}

/// A lowercase RFC 1123 subdomain: dot-separated labels of [a-z0-9-], alphanumeric at both ends.
fn is_dns_subdomain(s: &str) -> bool {
    let label = |l: &[u8]| {
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !l.is_empty() && edge(l[0]) && edge(l[l.len() - 1]) && l.iter().all(|&c| edge(c) || c == b'-')
    };
    s.len() <= 253 && s.as_bytes().split(|&c| c == b'.').all(label)
}

/// A label key: [prefix "/"] name, the prefix a DNS subdomain, the name at most 63 characters.
fn validate_key(key: &str) -> Parsed<()> {
    let name = match key.split_once('/') {
        None => key,
        Some((prefix, name)) => {
            if name.contains('/') {
                return Err(format!("invalid label key {key:?}: more than one '/'"));
            }
            if !is_dns_subdomain(prefix) {
                return Err(format!(
                    "invalid label key {key:?}: the prefix must be a lowercase DNS subdomain (e.g. 'example.com')"
                ));
            }
            name
        }
    };
    if name.len() > 63 || !is_label_name(name) {
        return Err(format!(
            "invalid label key {key:?}: the name part must be 1 to 63 characters, alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric"
        ));
    }
    Ok(())
}

/// A label value: empty, or up to 63 characters, alphanumeric, '-', '_' or '.' between alphanumerics.
fn validate_value(v: &str) -> Parsed<()> {
    if v.len() > 63 || !(v.is_empty() || is_label_name(v)) {
        return Err(format!(
            "invalid label value {v:?}: must be empty or up to 63 characters, alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric"
        ));
    }
    Ok(())
}

/// labels.Parse: an error names the selector and what is wrong with it.
pub(crate) fn parse(s: &str) -> Parsed<Selector> {
    let mut requirements = Parser::new(s)
        .parse()
        .map_err(|e| format!("invalid label selector {s:?}: {e}"))?;
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Selector { requirements })
}

/// A parsed label selector.
#[pyclass(frozen, module = "kcore.informer")]
pub struct LabelSelector {
    pub(crate) selector: Selector,
    text: String,
}

#[pymethods]
impl LabelSelector {
    /// Whether the selector selects an object with these labels (None: no labels).
    fn matches(&self, labels: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let mut map = HashMap::new();
        if let Some(labels) = labels {
            let items = match labels.cast::<PyDict>() {
                Ok(d) => d.items().into_any(),
                Err(_) => labels.call_method0("items")?,
            };
            for kv in items.try_iter()? {
                let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = kv?.extract()?;
                match (k.cast::<PyString>(), v.cast::<PyString>()) {
                    (Ok(k), Ok(v)) => map.insert(k.to_cow()?.into_owned(), v.to_cow()?.into_owned()),
                    _ => {
                        return Err(PyTypeError::new_err(
                            "LabelSelector.matches: labels must map str to str",
                        ))
                    }
                };
            }
        }
        Ok(self.selector.matches(&map))
    }

    fn __repr__(&self) -> String {
        format!("LabelSelector({:?})", self.text)
    }
}

/// Parses a label selector, so that a bad one fails early: ValueError saying what is wrong.
#[pyfunction]
pub fn parse_label_selector(selector: &str) -> PyResult<LabelSelector> {
    let parsed = parse(selector).map_err(PyValueError::new_err)?;
    Ok(LabelSelector {
        selector: parsed,
        text: selector.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn matches(selector: &str, pairs: &[(&str, &str)]) -> bool {
        parse(selector)
            .unwrap_or_else(|e| panic!("{e}"))
            .matches(&labels(pairs))
    }

    #[test]
    fn every_operator_selects_as_upstream() {
        let l = [("app", "web"), ("tier", "front"), ("replicas", "3")];
        assert!(matches("", &l));
        assert!(matches("  ", &l));
        assert!(matches("app=web", &l));
        assert!(matches("app==web", &l));
        assert!(!matches("app!=web", &l));
        assert!(matches("app in (web, db)", &l));
        assert!(!matches("app notin (web)", &l));
        assert!(matches("app", &l));
        assert!(!matches("!app", &l));
        assert!(matches("!missing", &l));
        assert!(matches("replicas>2,replicas<4", &l));
        assert!(!matches("replicas>3", &l));
        assert!(!matches("app>1", &l)); // not an integer: no match
        assert!(matches("app = web , tier in ( front ) ", &l));
        assert!(!matches("app=web,tier=back", &l));
    }

    #[test]
    fn negative_requirements_match_a_missing_label() {
        assert!(matches("x!=a", &[]));
        assert!(matches("x notin (a)", &[]));
        assert!(!matches("x in (a)", &[]));
        assert!(!matches("x>1", &[]));
    }

    #[test]
    fn empty_values_are_values() {
        assert!(matches("x=", &[("x", "")]));
        assert!(matches("x in ()", &[("x", "")]));
        assert!(matches("x in (a,)", &[("x", "")]));
        assert!(matches("x in (,a)", &[("x", "a")]));
        assert!(!matches("x=", &[("x", "a")]));
    }

    #[test]
    fn in_and_notin_are_values_where_a_value_is_expected() {
        assert!(matches("x in (in, notin)", &[("x", "notin")]));
        assert!(matches("x=in", &[("x", "in")]));
        assert!(matches("in", &[("in", "1")]));
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for bad in [
            "x=a=b",
            "x in a",
            "x in (a",
            "x in (a b)",
            ",",
            "a,",
            ",a",
            "x=(a)",
            "!x=a",
            "x>a",
            "x>-1",
            "x<",
            "!",
            "x y",
            "-x",
            "x/y/z",
            "Example.com/x",
            "/x",
            "a/",
            "x=-a",
            "x in (a,(b))",
            "x notin",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = "a".repeat(64);
        assert!(parse(&long).is_err());
        assert!(parse(&format!("x={long}")).is_err());
        assert!(parse(&"a".repeat(63)).is_ok());
        assert!(parse("example.com/x-y_z.1=A-b_c.9").is_ok());
    }

    #[test]
    fn the_error_names_the_selector() {
        let e = parse("x in (a").unwrap_err();
        assert!(e.contains("\"x in (a\""), "{e}");
    }

    #[test]
    fn a_nul_byte_ends_the_input_as_upstream() {
        assert!(parse("x=a \0 garbage (((").is_ok());
        assert!(parse("x\0y").is_err());
    }
}
