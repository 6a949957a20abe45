//! Field selectors, as k8s.io/apimachinery/pkg/fields.ParseSelector reads them: comma-separated
//! `path=value`, `path==value` or `path!=value`, with `\,` `\=` `\\` escaped in values. A path is
//! dotted keys into the object (metadata.name, spec.nodeName, status.phase); a missing field
//! reads as "", as in the API server's field sets.
use super::convert::to_compact;
use super::view::View;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

#[derive(Clone, Debug)]
struct Term {
    path: Vec<String>,
    value: String,
    equal: bool,
}

/// An AND of terms; none matches everything.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selector {
    terms: Vec<Term>,
}

impl Selector {
    pub(crate) fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub(crate) fn matches(&self, obj: View<'_>) -> bool {
        self.terms.iter().all(|t| {
            let have = obj.path(t.path.iter().map(String::as_str)).map(|v| v.text());
            (have.as_deref().unwrap_or("") == t.value) == t.equal
        })
    }
}

/// The terms, split at commas that are not escaped (the backslashes stay, for `unescape`).
fn split_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    terms
}

/// (field, equal, raw value) at the first operator; the field has no escapes.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        if rest.starts_with("!=") {
            Some((&term[..i], false, &term[i + 2..]))
        } else if rest.starts_with("==") {
            Some((&term[..i], true, &term[i + 2..]))
        } else if rest.starts_with('=') {
            Some((&term[..i], true, &term[i + 1..]))
        } else {
            None
        }
    })
}

fn unescape(v: &str) -> Result<String, String> {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => return Err(format!("invalid escape sequence \\{e}")),
                None => return Err("a value ends with a lone '\\'".to_owned()),
            },
            ',' | '=' => return Err(format!("unescaped {c:?} in a value")),
            _ => out.push(c),
        }
    }
    Ok(out)
}

pub(crate) fn parse(s: &str) -> Result<Selector, String> {
    let fail = |what: String| format!("invalid field selector {s:?}: {what}");
    let mut terms = Vec::new();
    // Empty terms ("a=b," or "") are skipped, as upstream does.
    for term in split_terms(s).into_iter().filter(|t| !t.is_empty()) {
        let (field, equal, raw) = split_term(term).ok_or_else(|| fail(format!("can't understand {term:?}")))?;
        let value = unescape(raw).map_err(fail)?;
        terms.push(Term {
            path: field.split('.').map(str::to_owned).collect(),
            value,
            equal,
        });
    }
    Ok(Selector { terms })
}

/// A parsed field selector.
#[pyclass(frozen, module = "kcore.informer")]
pub struct FieldSelector {
    pub(crate) selector: Selector,
    text: String,
}

#[pymethods]
impl FieldSelector {
    /// Whether the selector selects this object (a CompactObject or a Mapping).
    fn matches(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
        let obj = to_compact(py, obj)?;
        Ok(self.selector.matches(View::of(obj.get())))
    }

    fn __repr__(&self) -> String {
        format!("FieldSelector({:?})", self.text)
    }
}

/// Parses a field selector, so that a bad one fails early: ValueError saying what is wrong.
#[pyfunction]
pub fn parse_field_selector(selector: &str) -> PyResult<FieldSelector> {
    let parsed = parse(selector).map_err(PyValueError::new_err)?;
    Ok(FieldSelector {
        selector: parsed,
        text: selector.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_split_at_unescaped_commas_and_values_unescape() {
        let s = parse(r"metadata.name=a\,b\=c\\d,status.phase!=Running").unwrap();
        assert_eq!(s.terms.len(), 2);
        assert_eq!(s.terms[0].value, r"a,b=c\d");
        assert_eq!(s.terms[0].path, ["metadata", "name"]);
        assert!(!s.terms[1].equal);
    }

    #[test]
    fn double_equals_leaves_no_equals_sign_in_the_value() {
        let s = parse("spec.nodeName==n1").unwrap();
        assert_eq!(s.terms[0].value, "n1");
    }

    #[test]
    fn empty_terms_are_skipped() {
        assert!(parse("").unwrap().terms.is_empty());
        assert!(parse(",,").unwrap().terms.is_empty());
        assert_eq!(parse("a=b,").unwrap().terms.len(), 1);
    }

    #[test]
    fn malformed_selectors_are_refused() {
        for bad in ["a", "a=b=c", r"a=b\x", r"a=b\", "a===b", "x,y=z"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
