"""kcore.codec.WatchDecoder on protobuf streams: length-prefixed WatchEvent frames holding
enveloped objects, decoded whatever the chunking; bad frames are errors that say where."""

from __future__ import annotations

import random
import struct

import pytest

from kcore.codec import PROTOBUF, CompactObject, DecodeError, WatchDecoder, encode

STREAM_TYPE = "application/vnd.kubernetes.protobuf;stream=watch"
CM = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "data": {"k": "\u00e9"}}
STATUS = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "too old resource version: 1 (5)",
    "reason": "Expired",
    "code": 410,
}
BOOKMARK = {
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {"resourceVersion": "12", "annotations": {"k8s.io/initial-events-end": "true"}},
}


def varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def field(num: int, payload: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def frame(event_type: str, raw: bytes) -> bytes:
    event = field(1, event_type.encode()) + field(2, field(1, raw))
    return struct.pack(">I", len(event)) + event


EVENTS = [("ADDED", CM), ("MODIFIED", CM), ("BOOKMARK", BOOKMARK), ("DELETED", CM), ("ERROR", STATUS)]
STREAM = b"".join(frame(t, encode(o, PROTOBUF)) for t, o in EVENTS)


def test_frames_decode_whatever_the_chunk_boundaries() -> None:
    rnd = random.Random(3)
    for _ in range(50):
        decoder, got, pos = WatchDecoder(STREAM_TYPE), [], 0
        while pos < len(STREAM):
            step = rnd.randint(1, 64)
            got += decoder.feed(STREAM[pos : pos + step])
            pos += step
        decoder.close()
        assert got == EVENTS


def test_compact_variant_gives_compact_objects() -> None:
    got = WatchDecoder(PROTOBUF, compact=True).feed(STREAM)
    assert all(isinstance(o, CompactObject) for _, o in got) and got == EVENTS


def test_an_oversized_frame_is_refused_from_its_header_alone() -> None:
    with pytest.raises(
        DecodeError, match="watch frame at stream byte 0 declares 16777217 bytes, over the 16777216-byte limit"
    ):
        WatchDecoder(PROTOBUF).feed(struct.pack(">I", (16 << 20) + 1))


def test_a_stream_cut_inside_a_frame_is_an_error_on_close() -> None:
    decoder = WatchDecoder(PROTOBUF)
    assert decoder.feed(STREAM[:-5]) == EVENTS[:-1]
    with pytest.raises(DecodeError, match="ended inside an event"):
        decoder.close()


second = len(frame("ADDED", encode(CM, PROTOBUF)))


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (
            frame("ADDED", b"k9s\x00" + encode(CM, PROTOBUF)[4:]),
            "watch frame at stream byte 0: protobuf: expected the Kubernetes magic",
        ),
        (
            frame("ADDED", encode(CM, PROTOBUF)) + frame("ADDED", b"{}"),
            f"watch frame at stream byte {second}: protobuf: expected the Kubernetes magic",
        ),
        (frame("EXPLODED", encode(CM, PROTOBUF)), 'unknown type "EXPLODED"'),
        (frame("ADDED", encode(CM, PROTOBUF)[:-3]), "protobuf: field 2 of .* claims"),
        (
            frame("ADDED", encode(CM, PROTOBUF)[:4] + field(1, field(1, b"example.com/v1") + field(2, b"Widget"))),
            'no built-in kind "Widget"',
        ),
        (struct.pack(">I", 2) + b"\x0a\xff", "truncated varint in WatchEvent"),
        (struct.pack(">I", 3) + b"\x12\x01\x0a", "truncated varint in WatchEvent.object"),
        (struct.pack(">I", 7) + field(1, b"ADDED"), "no object"),
        (struct.pack(">I", 2) + b"\x08\x01", "no type"),
        (struct.pack(">I", 1) + b"\x0f", "unsupported wire type 7"),
    ],
)
def test_corrupt_frames_raise_decode_error_saying_what_and_where(stream: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        WatchDecoder(PROTOBUF).feed(stream)


def test_after_a_bad_frame_the_decoder_keeps_refusing() -> None:
    decoder = WatchDecoder(PROTOBUF)
    with pytest.raises(DecodeError):
        decoder.feed(struct.pack(">I", 1) + b"\x0f")
    with pytest.raises(DecodeError, match="unsupported wire type 7"):
        decoder.feed(STREAM)
