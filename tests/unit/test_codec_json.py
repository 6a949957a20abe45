"""kcore.codec.decode on JSON: the same objects json.loads gives, and clear errors for bad input."""

from __future__ import annotations

import gc
import json

import pytest

from kcore.codec import JSON, DecodeError, decode

SAMPLES = [
    b"{}",
    b"[]",
    b'{"a": 1, "b": [true, false, null], "c": {"d": "e"}}',
    b'  {"n": -0, "f": 1.5e-7, "e": 1E400, "neg": -12.25, "exp": 2e3}  ',
    b'{"big": 123456789012345678901234567890, "min": -9223372036854775808, "over": 9223372036854775808}',
    '{"unicode": "h\u00e9llo \u2713 \U0001f600", "escaped": "\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/"}'.encode(),
    b'{"dup": 1, "dup": 2}',
    b"[NaN, Infinity, -Infinity]",
    b'"just a string"',
    b"42",
    b'\xef\xbb\xbf{"bom": true}',
]


@pytest.mark.parametrize("body", SAMPLES)
def test_json_decodes_to_what_json_loads_gives(body: bytes) -> None:
    got, want = decode(body, JSON), json.loads(body)
    assert repr(got) == repr(want)  # repr also tells 1 from 1.0 and nan from a string


def test_repeated_keys_share_one_string_object() -> None:
    items = decode(b'[{"metadata": 1}, {"metadata": 2}]', JSON)
    assert next(iter(items[0])) is next(iter(items[1]))


def test_content_type_parameters_are_ignored() -> None:
    assert decode(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}


def test_large_bodies_leave_the_garbage_collector_as_they_found_it() -> None:
    body = json.dumps([{"i": i} for i in range(50_000)]).encode()
    assert gc.isenabled()
    decode(body, JSON)
    assert gc.isenabled()
    gc.disable()
    try:
        decode(body, JSON)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "unexpected end of input, expected a value at byte 0"),
        (b'{"a": }', "expected a value at byte 6"),
        (b'{"a" 1}', "expected ':' at byte 5"),
        (b'{"a": 1', "expected ',' or '}' at byte 7"),
        (b"[1, 2", "expected ',' or ']' at byte 5"),
        (b'{"a": "unterminated', "unterminated string at byte 19"),
        (b'{"a": "\x01"}', "control character in a string at byte 7"),
        (b'{"a": "\\x"}', "invalid escape at byte 7"),
        (b'{"a": "\\ud800"}', "lone surrogate \\ud800"),
        (b"[01]", "invalid number at byte 1"),
        (b"{} x", "extra data after the JSON value at byte 3"),
        (b'{"a": "\xff"}', "invalid UTF-8 at byte 7"),
        (b"{1: 2}", "expected a string key at byte 1"),
        (b"[" * 2000, "nesting deeper than 1000"),
    ],
)
def test_bad_json_raises_decode_error_saying_what_and_where(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message.replace("\\", "\\\\").replace("[", "\\[")):
        decode(body, JSON)


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)


def test_an_unknown_content_type_is_refused_by_name() -> None:
    with pytest.raises(DecodeError, match='unsupported content type "text/yaml"'):
        decode(b"{}", "text/yaml")
