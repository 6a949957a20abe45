"""kcore.codec.encode: JSON for any plain value, protobuf for built-in kinds, errors that name the field."""

from __future__ import annotations

import base64
import json

import pytest

from kcore.codec import JSON, PROTOBUF, EncodeError, decode, decode_compact, encode

CONFIGMAP = {
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {"name": "c", "namespace": "ns", "labels": {"a": "b"}, "creationTimestamp": "2026-05-01T12:00:00Z"},
    "data": {"text": "h\u00e9llo \U0001f600"},
    "binaryData": {"bin": base64.b64encode(bytes(range(256))).decode()},
}


@pytest.mark.parametrize(
    "value",
    [{}, [], {"a": [1, 2.0, -0.5, 1e300, '\u00e9\n"\\\x01', None, True, False]}, {"big": 2**80}, "s", 0, (1, 2)],
)
def test_json_encoding_reads_back_with_json_loads(value: object) -> None:
    assert json.loads(encode(value, JSON)) == json.loads(json.dumps(value))


def test_json_encoding_keeps_floats_floats() -> None:
    assert repr(json.loads(encode({"f": 2.0}, JSON))) == "{'f': 2.0}"


def test_compact_objects_encode_like_their_dicts() -> None:
    body = encode(CONFIGMAP, JSON)
    assert encode(decode_compact(body, JSON), JSON) == body
    assert encode(decode_compact(body, JSON), PROTOBUF) == encode(CONFIGMAP, PROTOBUF)


def test_protobuf_starts_with_the_kubernetes_magic_and_decodes_back() -> None:
    body = encode(CONFIGMAP, PROTOBUF)
    assert body[:4] == b"k8s\x00"
    assert decode(body, PROTOBUF) == CONFIGMAP


def test_special_types_round_trip_through_protobuf() -> None:
    deployment = {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "d", "creationTimestamp": None},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"a": "b"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"creationTimestamp": None},
                "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1500m"}}}]},
            },
        },
        "status": {},
    }
    got = decode(encode(deployment, PROTOBUF), PROTOBUF)
    assert got["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}
    assert got["spec"]["replicas"] == 0  # a pointer set to zero is kept
    assert got["spec"]["template"]["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "1500m"}}
    lease = {
        "kind": "Lease",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"name": "l"},
        "spec": {"renewTime": "2026-05-01T14:00:00.123456+02:00", "leaseDurationSeconds": 15},
    }
    assert decode(encode(lease, PROTOBUF), PROTOBUF)["spec"]["renewTime"] == "2026-05-01T12:00:00.123456Z"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"kind": "ConfigMap"}, 'protobuf needs "apiVersion"'),
        (
            {"apiVersion": "example.com/v1", "kind": "Widget"},
            'no built-in kind "Widget" in apiVersion "example.com/v1"',
        ),
        ({**CONFIGMAP, "spec": {}}, 'ConfigMap has no field "spec"'),
        ({**CONFIGMAP, "metadata": {"name": 5}}, ".metadata.name: expected a string, got int"),
        (
            {**CONFIGMAP, "metadata": {"creationTimestamp": "today"}},
            '.metadata.creationTimestamp: "today" is not an RFC 3339 time',
        ),
        ({**CONFIGMAP, "binaryData": {"b": "!!"}}, ".binaryData.b: not valid base64"),
        ({**CONFIGMAP, "metadata": {"finalizers": "x"}}, ".metadata.finalizers: expected a list, got str"),
        ([], "protobuf needs an object with apiVersion and kind"),
    ],
)
def test_objects_protobuf_cannot_carry_raise_encode_error_naming_the_field(obj: object, message: str) -> None:
    with pytest.raises(EncodeError, match=message.replace("(", "\\(").replace(")", "\\)")):
        encode(obj, PROTOBUF)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1: 2}, "key 1 is not a string"),
        ({"f": float("nan")}, "NaN is not valid JSON"),
        ({"s": {1}}, "set is not JSON-serializable"),
    ],
)
def test_values_json_cannot_carry_raise_encode_error(value: object, message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        encode(value, JSON)
