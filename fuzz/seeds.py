"""``python -m fuzz.seeds``: writes the seed corpus: valid bodies and streams of every shape the
decoders read (built with kcore.codec.encode from the e2e fixture objects), and truncated and
corrupt variants of them."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

from kcore.codec import PROTOBUF, encode
from tests.e2e import codec_objects

CORPUS = Path(__file__).with_name("corpus")
# The decoder an input's first byte picks, in the order of MODES in rust/src/codec/fuzzing.rs.
MODES = (
    "decode protobuf",
    "decode json",
    "compact protobuf",
    "compact json",
    "watch protobuf",
    "watch json",
    "compact watch protobuf",
)


def seed(mode: str, body: bytes) -> bytes:
    """A corpus entry running `body` through `mode`."""
    return bytes([MODES.index(mode)]) + body


def frame(event_type: str, raw: bytes) -> bytes:
    def field(num: int, payload: bytes) -> bytes:
        n, out = len(payload), b""
        while n >= 0x80:
            out += bytes([n & 0x7F | 0x80])
            n >>= 7
        return bytes([num << 3 | 2]) + out + bytes([n]) + payload

    event = field(1, event_type.encode()) + field(2, field(1, raw))
    return struct.pack(">I", len(event)) + event


def seeds() -> list[bytes]:
    out = []
    kinds = {
        "configmaps": ("v1", "ConfigMap"),
        "pods": ("v1", "Pod"),
        "leases": ("coordination.k8s.io/v1", "Lease"),
        "deployments": ("apps/v1", "Deployment"),
        "resourceslices": ("resource.k8s.io/v1", "ResourceSlice"),
        "mutatingwebhookconfigurations": ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
    }
    objects = []
    for collection, body in codec_objects.namespaced("ns") + codec_objects.cluster("x"):
        plural = collection.rsplit("/", 1)[1]
        if plural in kinds:
            api_version, kind = kinds[plural]
            objects.append({"apiVersion": api_version, "kind": kind, **body})
    crd = codec_objects.widget_crd()
    objects.append(crd)
    for obj in objects:
        pb, js = encode(obj, PROTOBUF), json.dumps(obj).encode()
        out += [seed("decode protobuf", pb), seed("decode json", js), seed("compact protobuf", pb)]
        out += [seed("decode protobuf", pb[: len(pb) // 2]), seed("decode json", js[: len(js) // 2])]
        out.append(seed("decode protobuf", pb[:4] + bytes([pb[4] ^ 0x07]) + pb[5:]))
        stream = frame("ADDED", pb) + frame("DELETED", pb)
        out += [
            seed("watch protobuf", stream),
            seed("watch protobuf", stream[:-7]),
            seed("compact watch protobuf", stream),
        ]
        out.append(seed("watch json", (json.dumps({"type": "ADDED", "object": obj}) + "\n").encode() * 2))
    return out


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for data in seeds():
        (CORPUS / f"seed-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)


if __name__ == "__main__":
    main()
