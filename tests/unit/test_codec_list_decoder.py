"""A list body decoded while it arrives (kcore._core.ListDecoder, under Request.do() of a LIST)
gives exactly what kcore.codec.decode / decode_compact give for the whole body, however the body
is cut into chunks; bad input raises the same DecodeError, and a body cut short is an error."""

from __future__ import annotations

import json
import random
from typing import Any, Callable

import pytest

from kcore._core import ListDecoder
from kcore.codec import JSON, PROTOBUF, DecodeError, decode, decode_compact, encode
from tests.e2e import codec_objects

MODES = [(PROTOBUF, False), (PROTOBUF, True), (JSON, False), (JSON, True)]
IDS = ["protobuf", "protobuf-compact", "json", "json-compact"]


def pods(n: int) -> list[dict[str, Any]]:
    """Pods of the parity fixtures (every special type), each a little different, some alike."""
    (template,) = [body for collection, body in codec_objects.namespaced("ns") if collection.endswith("/pods")]
    out = []
    for i in range(n):
        pod = json.loads(json.dumps(template))
        pod["metadata"]["name"] = f"pod-{i}"
        if i % 3:
            pod["spec"]["containers"][0]["args"] = [f"--index={i}"]
        out.append({"apiVersion": "v1", "kind": "Pod", **pod})
    return out


def body_of(content_type: str, items: list[dict[str, Any]], kind: str = "PodList", **metadata: Any) -> bytes:
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "42", **metadata}, "items": items}
    return encode(obj, content_type) if content_type == PROTOBUF else json.dumps(obj).encode()


def plain(value: Any) -> Any:
    """The value as plain objects, whatever it was decoded into, in its key order."""
    for to_plain in ("to_dict", "to_list"):
        if hasattr(value, to_plain):
            value = getattr(value, to_plain)()
    return json.dumps(value)


def whole(body: bytes, content_type: str, compact: bool) -> Any:
    return (decode_compact if compact else decode)(body, content_type)


def streamed(body: bytes, content_type: str, compact: bool, cuts: list[int]) -> tuple[Any, int]:
    """The body fed in pieces cut at `cuts`: (what finish() gives, items decoded as they came)."""
    decoder = ListDecoder(content_type, compact)
    start = 0
    for cut in [*cuts, len(body)]:
        decoder.feed(body[start:cut])
        start = cut
    return decoder.finish(), decoder.streamed


def outcome(run: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", plain(run())
    except DecodeError as error:
        return "DecodeError", str(error)


@pytest.mark.parametrize("content_type,compact", MODES, ids=IDS)
def test_a_small_list_cut_at_every_byte_decodes_as_the_whole_body(content_type: str, compact: bool) -> None:
    body = body_of(
        content_type,
        [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {"k": "v" * i, "é": "✓"}}
            for i in range(3)
        ],
        kind="ConfigMapList",
        **{"continue": "token"},
    )
    want = plain(whole(body, content_type, compact))
    for cut in range(len(body) + 1):
        got, items = streamed(body, content_type, compact, [cut])
        assert plain(got) == want, f"cut at byte {cut}"
        assert items == 3, f"cut at byte {cut}: decoded whole, not while arriving"
    got, items = streamed(body, content_type, compact, list(range(1, len(body))))  # a byte at a time
    assert (plain(got), items) == (want, 3)


@pytest.mark.parametrize("content_type,compact", MODES, ids=IDS)
def test_a_large_list_in_random_chunks_decodes_as_the_whole_body(content_type: str, compact: bool) -> None:
    body = body_of(content_type, pods(400))
    want = plain(whole(body, content_type, compact))
    rng = random.Random(7)
    for _ in range(12):
        cuts = sorted(rng.sample(range(1, len(body)), rng.choice([1, 10, 100, 2000])))
        got, items = streamed(body, content_type, compact, cuts)
        assert plain(got) == want
        assert items == 400


@pytest.mark.parametrize("content_type,compact", MODES, ids=IDS)
def test_an_empty_list_and_a_list_of_one(content_type: str, compact: bool) -> None:
    for items in ([], pods(1)):
        body = body_of(content_type, items)
        got, _ = streamed(body, content_type, compact, [len(body) // 2])
        assert plain(got) == plain(whole(body, content_type, compact))


def test_compact_items_keep_their_own_tapes_as_a_whole_decode_does() -> None:
    body = body_of(PROTOBUF, pods(20))
    got, _ = streamed(body, PROTOBUF, True, [len(body) // 3])
    want = decode_compact(body, PROTOBUF)
    assert [item.__sizeof__() for item in got["items"]] == [item.__sizeof__() for item in want["items"]]
    assert got.__sizeof__() == want.__sizeof__()


@pytest.mark.parametrize("content_type,compact", MODES, ids=IDS)
def test_a_body_cut_short_raises_the_whole_decoders_error_never_a_short_list(content_type: str, compact: bool) -> None:
    body = body_of(content_type, pods(3))
    for end in range(0, len(body), 7):
        cut = body[:end]
        want = outcome(lambda: whole(cut, content_type, compact)) if cut else ("DecodeError", None)
        got = outcome(lambda: streamed(cut, content_type, compact, [end // 2])[0])
        if cut:
            assert got == want, f"cut at byte {end}"
        else:
            assert got[0] == "DecodeError"
        assert got[0] == "DecodeError" or (content_type == JSON and not body[end:].strip()), f"cut at byte {end}"


@pytest.mark.parametrize("content_type,compact", MODES, ids=IDS)
def test_corrupt_bytes_anywhere_raise_the_same_error_as_the_whole_body(content_type: str, compact: bool) -> None:
    body = body_of(content_type, pods(2))
    rng = random.Random(11)
    for _ in range(400):
        bad = bytearray(body)
        at = rng.randrange(len(bad))
        bad[at] = rng.choice([0x00, 0x22, 0x5B, 0x5D, 0x7B, 0x7D, 0x80, 0xFF, bad[at] ^ 1])
        if rng.random() < 0.3:
            del bad[rng.randrange(len(bad))]
        corrupt = bytes(bad)
        want = outcome(lambda: whole(corrupt, content_type, compact))
        got = outcome(
            lambda: streamed(corrupt, content_type, compact, sorted(rng.sample(range(1, len(corrupt)), 5)))[0]
        )
        assert got == want, f"byte {at}"


def test_bodies_that_are_not_lists_decode_whole() -> None:
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired"}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"items": "x"}}
    for content_type, body in [
        (JSON, json.dumps(status).encode()),
        (PROTOBUF, encode(configmap, PROTOBUF)),
        (JSON, b'{"items": {"not": "a list"}}'),
        (JSON, b'[{"items": []}]'),
    ]:
        for compact in (False, True):
            got, items = streamed(body, content_type, compact, [5])
            assert (plain(got), items) == (plain(whole(body, content_type, compact)), 0)


def test_a_finished_decoder_cannot_be_fed() -> None:
    decoder = ListDecoder(JSON)
    decoder.feed(b'{"items": []}')
    assert decoder.finish() == {"items": []}
    with pytest.raises(ValueError, match="finished"):
        decoder.feed(b"{}")
