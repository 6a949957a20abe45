"""kcore.codec.decode on protobuf bodies: the envelope, Go's JSON rendering rules, and clear
errors for bodies that are not Kubernetes protobuf. (Parity with the real server is proven in
tests/e2e/test_codec_parity.py; these pin the rules down without one.)"""

from __future__ import annotations

import pytest

from kcore.codec import PROTOBUF, DecodeError, decode, encode

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "c", "image": "i"}]},
}


def field(num: int, payload: bytes) -> bytes:
    return bytes([num << 3 | 2, len(payload)]) + payload


def test_the_envelope_gives_apiversion_and_kind_first() -> None:
    assert list(decode(encode(POD, PROTOBUF), PROTOBUF))[:2] == ["kind", "apiVersion"]


def test_fields_go_writes_without_omitempty_are_present_with_zero_values() -> None:
    pod = decode(encode(POD, PROTOBUF), PROTOBUF)
    assert pod["spec"]["containers"] == [{"name": "c", "image": "i", "resources": {}}]
    assert pod["status"] == {}  # a struct: encoding/json never omits it
    assert "creationTimestamp" not in pod["metadata"]  # omitzero on a zero Time


def test_invalid_utf8_in_a_string_becomes_replacement_characters_as_in_go() -> None:
    body = encode({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "AB"}}, PROTOBUF)
    body = body.replace(b"AB", b"\xe2\x82")
    assert decode(body, PROTOBUF)["metadata"]["name"] == "\ufffd\ufffd"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "a body of 0 bytes is too short"),
        (b'{"kind": "Pod"}', 'expected the Kubernetes magic "k8s\\\\0" at byte 0'),
        (b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"Nope")), 'no built-in kind "Nope" in apiVersion "v1"'),
        (b"k8s\x00\x0a\x05\x0a", "field 1 of runtime.Unknown at byte 4 claims 5 bytes, 1 remain"),
        (
            b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"ConfigMap")) + field(2, b"\x08\x01"),
            "field 1 \\(metadata\\) of k8s.io/api/core/v1.ConfigMap has wire type 0, expected 2",
        ),
        (
            b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"ConfigMap")) + field(2, field(1, b"\x10")),
            "truncated varint in k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta at byte 2[0-9]",
        ),
        (b"k8s\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "varint longer than 10 bytes"),
        (
            b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"ConfigMap")) + field(4, b"text/plain"),
            'unsupported contentType "text/plain"',
        ),
    ],
)
def test_bodies_that_are_not_kubernetes_protobuf_raise_decode_error(body: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode(body, PROTOBUF)


def test_an_envelope_of_json_is_decoded_as_json() -> None:
    body = (
        b"k8s\x00"
        + field(1, field(1, b"example.com/v1") + field(2, b"Widget"))
        + field(2, b'{"a": 1}')
        + field(4, b"application/json")
    )
    assert decode(body, PROTOBUF) == {"a": 1}


def test_deeply_nested_messages_are_refused_not_a_stack_overflow() -> None:
    # JSONSchemaProps nests itself through "not"; 2,000 levels is past the limit.
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "x"},
        "spec": {
            "group": "g",
            "names": {"plural": "p", "kind": "K"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {}}}],
        },
    }
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for _ in range(1100):
        schema["not"] = {}
        schema = schema["not"]
    with pytest.raises(DecodeError, match="nested deeper than 1000"):
        decode(encode(crd, PROTOBUF), PROTOBUF)


def pod_list(pods: list[dict[str, object]]) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}


def replica(i: int, image: str = "registry.example.com/team/web:1.27.3") -> dict[str, object]:
    container = {
        "name": "web",
        "image": image,
        "args": ["--port=8080"],
        "env": [{"name": "MODE", "value": "production"}],
    }
    return {"metadata": {"name": f"web-{i}", "labels": {"app": "web"}}, "spec": {"containers": [container]}}


def test_repeated_messages_decode_to_independent_objects() -> None:
    # The pods share their container bytes; the decoder renders the first and copies it after.
    pods = decode(encode(pod_list([replica(i) for i in range(3)]), PROTOBUF), PROTOBUF)["items"]
    first, second = pods[0]["spec"]["containers"][0], pods[1]["spec"]["containers"][0]
    assert first == second and first is not second
    first["env"][0]["value"] = "debug"
    first["args"].append("--verbose")
    assert second["env"] == [{"name": "MODE", "value": "production"}]
    assert second["args"] == ["--port=8080"]
    assert pods[2]["spec"]["containers"][0] == second


def test_equal_messages_in_two_fields_are_independent_objects() -> None:
    pod = replica(0)
    spec = pod["spec"]
    assert isinstance(spec, dict)
    spec["initContainers"] = [dict(spec["containers"][0])]
    decoded = decode(encode(pod_list([pod, replica(1)]), PROTOBUF), PROTOBUF)["items"]
    assert decoded[0]["spec"]["initContainers"] == decoded[0]["spec"]["containers"]
    assert decoded[0]["spec"]["initContainers"][0] is not decoded[0]["spec"]["containers"][0]


def test_messages_alike_at_both_ends_but_different_inside_stay_different() -> None:
    # Same length, same first and last bytes: only the middle tells these containers apart, and
    # more of them share a hash than the decoder keeps, so some are rendered without a lookup.
    images = [f"registry.example.com/team/{i:04d}/web:1.27.3-with-a-long-suffix-for-the-tail" for i in range(40)]
    body = encode(pod_list([replica(0, image) for image in images]), PROTOBUF)
    decoded = decode(body, PROTOBUF)["items"]
    assert [p["spec"]["containers"][0]["image"] for p in decoded] == images


def test_repeats_after_a_long_run_of_distinct_messages_decode_exactly() -> None:
    # Past a streak of new messages a field is only sampled for repeats; the output is the same.
    images = [f"registry.example.com/team/web-{i}:1.0" for i in range(40)] + ["registry.example.com/team/web:2.0"] * 20
    pods = [replica(i, image) for i, image in enumerate(images)]
    decoded = decode(encode(pod_list(pods), PROTOBUF), PROTOBUF)["items"]
    assert [p["spec"]["containers"][0]["image"] for p in decoded] == images
    assert all(p["spec"]["containers"][0] == decoded[-1]["spec"]["containers"][0] for p in decoded[40:])
