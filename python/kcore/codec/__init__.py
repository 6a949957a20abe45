"""Bytes to Python objects and back, for JSON and Kubernetes protobuf, done in Rust.

``decode`` gives plain objects equal to what ``json.loads`` gives for the JSON form of the same
object, whichever format the body is in. ``decode_compact`` keeps the object in Rust as a
read-only Mapping a fraction of the size, for caches. ``WatchDecoder`` turns a watch stream,
chunked anyhow, into ``(event_type, object)`` pairs. Bad input raises ``DecodeError``.
``encode`` writes JSON for anything and protobuf for built-in kinds (``EncodeError`` names the
field it could not write).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kcore._core import (
    CompactList,
    CompactObject,
    DecodeError,
    EncodeError,
    WatchDecoder,
    decode,
    decode_compact,
    encode,
)

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"

Mapping.register(CompactObject)
Sequence.register(CompactList)

__all__ = [
    "JSON",
    "PROTOBUF",
    "CompactList",
    "CompactObject",
    "DecodeError",
    "EncodeError",
    "WatchDecoder",
    "decode",
    "decode_compact",
    "encode",
]
