"""Bytes to Python objects and back, for JSON and Kubernetes protobuf, done in Rust.

``decode`` gives plain objects equal to what ``json.loads`` gives for the JSON form of the same
object, whichever format the body is in. ``decode_compact`` keeps the object in Rust as a
read-only Mapping a fraction of the size, for caches. ``WatchDecoder`` turns a watch stream,
chunked anyhow, into ``(event_type, object)`` pairs. Bad input raises ``DecodeError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kcore._core import CompactList, CompactObject, DecodeError, WatchDecoder, decode, decode_compact

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
    "WatchDecoder",
    "decode",
    "decode_compact",
]
