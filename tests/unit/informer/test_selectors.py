"""Label and field selectors of the informer cache (kcore._core, rust/src/informer): parsed and
matched as k8s.io/apimachinery's labels and fields packages do. The label-selector parity test
runs the same cases through apimachinery itself (tests/unit/selectors_upstream, its own Go
module, built here with GOWORK=off into ~/.cache/kcore)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest

from kcore._core import FieldSelector, LabelSelector, parse_field_selector, parse_label_selector
from kcore.codec import JSON, decode_compact
from kcore.informer import label_selector, label_selector_string

GO_MODULE = Path(__file__).parent.parent / "selectors_upstream"
BINARY = Path.home() / ".cache" / "kcore" / "selectors_upstream"


def obj(**fields: Any) -> Any:
    return decode_compact(json.dumps(fields).encode(), JSON)


def matches(selector: str, labels: Dict[str, str]) -> bool:
    return parse_label_selector(selector).matches(labels)


# --- label selectors ---


def test_equality_selectors_select_by_value() -> None:
    labels = {"app": "web", "tier": "front"}
    assert matches("app=web", labels) and matches("app==web", labels)
    assert not matches("app=db", labels)
    assert matches("app=web,tier=front", labels) and not matches("app=web,tier=back", labels)


def test_a_not_equals_selector_matches_objects_without_the_label() -> None:
    assert matches("app!=web", {})
    assert matches("app!=web", {"app": "db"})
    assert not matches("app!=web", {"app": "web"})


def test_a_notin_selector_matches_objects_without_the_label() -> None:
    assert matches("app notin (web, db)", {})
    assert matches("app notin (web, db)", {"app": "api"})
    assert not matches("app notin (web, db)", {"app": "db"})


def test_an_in_selector_needs_the_label_with_one_of_the_values() -> None:
    assert matches("app in (web, db)", {"app": "db"})
    assert not matches("app in (web, db)", {})
    assert not matches("app in (web, db)", {"app": "api"})


def test_a_bare_key_needs_the_label_and_a_negated_key_its_absence() -> None:
    assert matches("app", {"app": ""}) and not matches("app", {})
    assert matches("!app", {}) and not matches("!app", {"app": "web"})


def test_greater_and_less_than_compare_integers_and_never_match_a_non_integer() -> None:
    assert matches("n>5", {"n": "6"}) and not matches("n>5", {"n": "5"})
    assert matches("n<5", {"n": "-3"}) and not matches("n<5", {"n": "10"})
    assert not matches("n>5", {"n": "six"}) and not matches("n>5", {})


def test_whitespace_is_tolerated_and_the_empty_selector_selects_everything() -> None:
    assert matches("  app = web ,\ttier in ( front , back )  ", {"app": "web", "tier": "back"})
    assert matches("", {}) and matches("   ", {"x": "y"})


def test_in_and_notin_are_plain_values_where_a_value_is_expected() -> None:
    assert matches("x in (in, notin)", {"x": "notin"})
    assert matches("x=in", {"x": "in"})


def test_a_malformed_label_selector_raises_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r'"app in \(web"'):
        parse_label_selector("app in (web")
    with pytest.raises(ValueError, match="label key"):
        parse_label_selector("-app=web")
    with pytest.raises(ValueError, match="label value"):
        parse_label_selector("app=" + "v" * 64)
    with pytest.raises(ValueError, match="integer"):
        parse_label_selector("n>five")


def test_a_parsed_label_selector_is_reusable_and_takes_any_mapping() -> None:
    s = parse_label_selector("app=web")
    assert isinstance(s, LabelSelector) and "app=web" in repr(s)
    assert s.matches({"app": "web"}) and not s.matches(None)
    assert s.matches(obj(app="web"))  # a CompactObject is a Mapping too
    with pytest.raises(TypeError):
        s.matches({"app": 1})  # type: ignore[dict-item]


# --- field selectors ---

POD = obj(
    metadata={"name": "web-0", "namespace": "default"},
    spec={"nodeName": "node-1", "priority": 10, "hostNetwork": False},
    status={"phase": "Running"},
)


def test_field_selectors_compare_the_value_at_a_dotted_path() -> None:
    assert parse_field_selector("metadata.name=web-0").matches(POD)
    assert parse_field_selector("metadata.namespace==default,status.phase=Running").matches(POD)
    assert parse_field_selector("spec.nodeName!=node-2").matches(POD)
    assert not parse_field_selector("spec.nodeName!=node-1").matches(POD)


def test_a_missing_field_reads_as_the_empty_string() -> None:
    assert parse_field_selector("spec.schedulerName=").matches(POD)
    assert parse_field_selector("spec.schedulerName!=x").matches(POD)
    assert not parse_field_selector("spec.schedulerName=x").matches(POD)


def test_numbers_and_booleans_compare_as_their_json_text() -> None:
    assert parse_field_selector("spec.priority=10,spec.hostNetwork=false").matches(POD)


def test_field_selector_values_unescape_commas_equals_and_backslashes() -> None:
    o = obj(metadata={"name": r"a,b=c\d"})
    assert parse_field_selector(r"metadata.name=a\,b\=c\\d").matches(o)


def test_field_selectors_take_dicts_too_and_skip_empty_terms() -> None:
    assert parse_field_selector("metadata.name=x,").matches({"metadata": {"name": "x"}})
    assert parse_field_selector("").matches({})


@pytest.mark.parametrize("bad", ["metadata.name", "a=b=c", r"a=b\x", "a=b\\", "a===b"])
def test_a_malformed_field_selector_raises_value_error_naming_it(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid field selector"):
        parse_field_selector(bad)


def test_a_parsed_field_selector_shows_its_text() -> None:
    s = parse_field_selector("status.phase=Running")
    assert isinstance(s, FieldSelector) and "status.phase=Running" in repr(s)


# --- parity with k8s.io/apimachinery/pkg/labels ---

SELECTORS = [
    # valid
    "",
    " ",
    "a",
    "!a",
    "a=b",
    "a==b",
    "a!=b",
    "a=",
    "a==",
    "a!=",
    "a in (b)",
    "a in (b,c)",
    "a notin (b,c)",
    "a in ()",
    "a notin ()",
    "a in (,)",
    "a in (b,)",
    "a in (,b)",
    "a in (b,,c)",
    "a in(b)",
    "a notin(b)",
    "a>1",
    "a<1",
    "a>0",
    "a<10",
    "a > 1",
    "a>01",
    "a>9223372036854775807",
    " a = b , c != d ",
    "a\t=\tb",
    "a\n,\nb",
    "a,b,c",
    "!a,!b",
    "a,!b",
    "example.com/a=b",
    "x.y.z/a-b_c.d=E-f_g.1",
    "a in (in)",
    "a in (notin)",
    "a=in",
    "in",
    "notin",
    "in=notin",
    "a in (b),c notin (d),e",
    "A=B",
    "9=9",
    "a" * 63,
    "a=" + "b" * 63,
    "a.b=c",
    "a-b=c_d",
    "a in ( b , c )",
    "!a ,b",
    "a=b\x00garbage(((",
    "a!=b,a=c",
    # malformed
    ",",
    "a,",
    ",a",
    "a,,b",
    "!",
    "!!a",
    "!a=b",
    "!a in (b)",
    "a b",
    "a=b c",
    "a=b=c",
    "a==b=c",
    "a=(b)",
    "a in b",
    "a in (b",
    "a in (b c)",
    "a in ((b))",
    "a in (b,(c))",
    "a notin",
    "a in",
    "a)",
    "(a)",
    "a=b)",
    "a>b",
    "a>",
    "a<",
    "a>-1",
    "a>+1",
    "a>1.5",
    "a>99999999999999999999",
    "a>=1",
    "a<=1",
    "a=>1",
    "-a",
    "a-",
    "_a",
    "a_",
    ".a",
    "a/b/c",
    "/a",
    "a/",
    "Example.com/a",
    "exa_mple.com/a",
    "-example.com/a",
    "example..com/a",
    "a" * 64,
    "a=" + "b" * 64,
    "a=-b",
    "a=b-",
    "a=b_",
    "a=.b",
    "a in (-b)",
    "a=b\x00",
    "a\x00b",
    "é=b",
    "a=é",
    "a!b",
    "a=!b",
    "a!==b",
    "a===b",
    "=b",
    "==b",
    "in (b)",
    "a in (b) c",
]

LABEL_SETS: List[Dict[str, str]] = [
    {},
    {"a": "b", "c": "e", "in": "notin", "A": "B", "9": "9", "example.com/a": "b"},
    {"a": "5", "b": "", "e": "x", "a.b": "c", "a-b": "c_d", "x.y.z/a-b_c.d": "E-f_g.1"},
    {"a": "", "in": "x"},
    {"a": "in", "b": "c"},
    {"a": "notin", "c": "d"},
]


@pytest.fixture(scope="module")
def upstream() -> Path:
    go = shutil.which("go")
    assert go, "the parity test needs the Go toolchain (it builds apimachinery's labels package)"
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [go, "build", "-o", str(BINARY), "."],
        cwd=GO_MODULE,
        env={**os.environ, "GOWORK": "off"},
        check=True,
        timeout=900,
    )
    return BINARY


def kcore_result(selector: str, labels: Dict[str, str]) -> Dict[str, Any]:
    try:
        s = parse_label_selector(selector)
    except ValueError:
        return {"ok": False, "matches": False}
    return {"ok": True, "matches": s.matches(labels)}


def test_label_selectors_parse_and_match_exactly_as_apimachinery(upstream: Path) -> None:
    cases: List[Dict[str, Any]] = [{"selector": s, "labels": labels} for s in SELECTORS for labels in LABEL_SETS]
    stdin = "".join(json.dumps(c) + "\n" for c in cases)
    done = subprocess.run([str(upstream)], input=stdin, capture_output=True, text=True, check=True, timeout=120)
    theirs = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(theirs) == len(cases)
    differences = []
    for case, go in zip(cases, theirs):
        ours = kcore_result(case["selector"], case["labels"])
        if ours != {"ok": go["ok"], "matches": go["matches"]}:
            differences.append((case, ours, go))
    assert not differences, differences[:5]
    # The cases exercise both sides: some selectors are refused, some match, some do not.
    assert {r["ok"] for r in theirs} == {True, False}
    assert {r["matches"] for r in theirs if r["ok"]} == {True, False}


# --- an object's metav1.LabelSelector, with k8s.io/apimachinery's LabelSelectorAsSelector ---

LABEL_SELECTOR_OBJECTS: List[Dict[str, Any]] = [
    {},
    {"matchLabels": {}},
    {"matchLabels": {"a": "b"}},
    {"matchLabels": {"a": "b", "c": "e"}},
    {"matchLabels": {"a": ""}},
    {"matchLabels": {"example.com/a": "b"}},
    {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b", "5"]}]},
    {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b"]}]},
    {"matchExpressions": [{"key": "e", "operator": "Exists"}]},
    {"matchExpressions": [{"key": "e", "operator": "DoesNotExist"}]},
    {
        "matchLabels": {"a": "b"},
        "matchExpressions": [
            {"key": "c", "operator": "In", "values": ["e", "d"]},
            {"key": "in", "operator": "DoesNotExist"},
        ],
    },
    # refused
    {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
    {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b"]}]},
    {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
    {"matchExpressions": [{"key": "a", "operator": "Near", "values": ["b"]}]},
    {"matchLabels": {"a": "b c"}},
    {"matchLabels": {"-a": "b"}},
    {"matchLabels": {"a": "b" * 64}},
    {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b,c"]}]},
    {"matchExpressions": [{"key": "a b", "operator": "Exists"}]},
    {"matchLabels": {"a,b": "c"}},
    {"matchLabels": {"a": "b,c=d"}},
    {"matchLabels": {"a=b": "c"}},
    {"matchLabels": {"a": "(b)"}},
    {"matchExpressions": [{"key": "!a", "operator": "Exists"}]},
    {"matchExpressions": [{"key": "a", "operator": "In", "values": [""]}]},
    {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b", ""]}]},
    {"matchLabels": {"x/y/z": "b"}},
    {"matchLabels": {"Example.com/a": "b"}},
]


def kcore_object_result(selector: Dict[str, Any], labels: Dict[str, str]) -> Dict[str, Any]:
    try:
        s = label_selector(selector)
    except ValueError:
        return {"ok": False, "matches": False}
    return {"ok": True, "matches": s is not None and s.matches(labels)}


def test_a_label_selector_object_selects_exactly_as_apimachinery_reads_it(upstream: Path) -> None:
    cases = [{"labelSelector": s, "labels": labels} for s in LABEL_SELECTOR_OBJECTS for labels in LABEL_SETS]
    stdin = "".join(json.dumps(c) + "\n" for c in cases)
    done = subprocess.run([str(upstream)], input=stdin, capture_output=True, text=True, check=True, timeout=120)
    theirs = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(theirs) == len(cases)
    differences = [
        (case, ours, go)
        for case, go in zip(cases, theirs)
        if (ours := kcore_object_result(case["labelSelector"], case["labels"]))
        != {"ok": go["ok"], "matches": go["matches"]}
    ]
    assert not differences, differences[:5]
    assert {r["ok"] for r in theirs} == {True, False}
    assert {r["matches"] for r in theirs if r["ok"]} == {True, False}


def test_a_missing_label_selector_selects_nothing_and_an_empty_one_everything() -> None:
    assert label_selector(None) is None and label_selector_string(None) is None
    assert label_selector_string({}) == ""
    selector = label_selector({})
    assert selector is not None and selector.matches({"any": "thing"})


def test_an_invalid_label_selector_object_is_refused_naming_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="'Near' is not a valid label selector operator"):
        label_selector({"matchExpressions": [{"key": "a", "operator": "Near", "values": ["b"]}]})
    with pytest.raises(ValueError, match="In of 'a' needs values"):
        label_selector({"matchExpressions": [{"key": "a", "operator": "In"}]})
