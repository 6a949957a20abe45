"""kcore.codec.WatchDecoder on JSON streams: events whatever the chunking, bounded and strict."""

from __future__ import annotations

import json
import random

import pytest

from kcore.codec import JSON, CompactObject, DecodeError, WatchDecoder

EVENTS = [
    {"type": "ADDED", "object": {"kind": "ConfigMap", "metadata": {"name": 'a {with} "braces" ]['}}},
    {"type": "MODIFIED", "object": {"kind": "ConfigMap", "data": {"k": "v\n"}}},
    {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "12"}}},
    {"type": "DELETED", "object": {"kind": "ConfigMap", "metadata": {"name": "\u00e9\U0001f600"}}},
    {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410}},
]


def stream(separator: str) -> bytes:
    return separator.join(json.dumps(e) for e in EVENTS).encode()


@pytest.mark.parametrize("separator", ["\n", "", " \r\n\t"])
def test_events_come_out_whatever_the_chunk_boundaries(separator: str) -> None:
    body = stream(separator)
    rnd = random.Random(7)
    for _ in range(20):
        decoder, got, pos = WatchDecoder(JSON), [], 0
        while pos < len(body):
            step = rnd.randint(1, 40)
            got += decoder.feed(body[pos : pos + step])
            pos += step
        decoder.close()
        assert got == [(e["type"], e["object"]) for e in EVENTS]


def test_one_byte_chunks_work() -> None:
    decoder, got = WatchDecoder(JSON), []
    for b in stream("\n"):
        got += decoder.feed(bytes([b]))
    assert [t for t, _ in got] == [e["type"] for e in EVENTS]


def test_compact_variant_gives_compact_objects() -> None:
    got = WatchDecoder(JSON, compact=True).feed(stream("\n"))
    assert all(isinstance(o, CompactObject) for _, o in got)
    assert got == [(e["type"], e["object"]) for e in EVENTS]


def test_a_stream_that_ends_inside_an_event_is_an_error_on_close() -> None:
    decoder = WatchDecoder(JSON)
    assert decoder.feed(stream("\n")[:-3]) == [(e["type"], e["object"]) for e in EVENTS[:-1]]
    with pytest.raises(DecodeError, match="ended inside an event"):
        decoder.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"type": "ADDED", "object": {}}\n[1]', "expected an event object, found '\\[' at stream byte 32"),
        (b'{"type": "EXPLODED", "object": {}}', 'watch event at stream byte 0: unknown type "EXPLODED"'),
        (b'{"object": {}}', 'no "type"'),
        (b'{"type": "ADDED"}', 'no "object"'),
        (b'{"type": "ADDED", "object": {]}', "watch event at stream byte 0: JSON: expected a string key"),
    ],
)
def test_bad_events_raise_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        WatchDecoder(JSON).feed(body)


def test_after_an_error_the_decoder_keeps_refusing() -> None:
    decoder = WatchDecoder(JSON)
    with pytest.raises(DecodeError):
        decoder.feed(b"nonsense")
    with pytest.raises(DecodeError, match="expected an event object"):
        decoder.feed(stream("\n"))


def test_an_endless_event_is_cut_off_at_16_mib() -> None:
    decoder = WatchDecoder(JSON)
    decoder.feed(b'{"type": "ADDED", "object": {"data": "')
    chunk = b"x" * (1 << 20)
    with pytest.raises(DecodeError, match="over the 16777216-byte limit"):
        for _ in range(17):
            decoder.feed(chunk)
