"""kcore.errors: which ApiError a failed response becomes (apimachinery's rules: reason first,
then the HTTP code only when the reason is not one it knows)."""

from __future__ import annotations

import json

import pytest

from kcore import codec
from kcore.errors import (
    AlreadyExists,
    ApiError,
    ConfigError,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    KcoreError,
    NotFound,
    ServerTimeout,
    TooManyRequests,
    TransportError,
    Unauthorized,
    api_error_from_status,
)


def status(code: int, reason: str = "", message: str = "msg", **extra: object) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
        **extra,
    }


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (422, "Invalid", Invalid),
        (403, "Forbidden", Forbidden),
        (401, "Unauthorized", Unauthorized),
        (410, "Gone", Gone),
        (410, "Expired", Gone),
        (429, "TooManyRequests", TooManyRequests),
        (504, "Timeout", ServerTimeout),
        (500, "ServerTimeout", ServerTimeout),
        (500, "InternalError", InternalError),
    ],
)
def test_the_reason_picks_the_error_class(code: int, reason: str, expected: type) -> None:
    error = api_error_from_status(code, status(code, reason, "the words"), b"")
    assert type(error) is expected
    assert (error.code, error.reason, error.message) == (code, reason, "the words")
    assert str(error) == "the words"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (410, Gone),
        (422, Invalid),
        (429, TooManyRequests),
        (500, InternalError),
        (504, ServerTimeout),
    ],
)
def test_without_a_known_reason_the_http_code_picks_the_class(code: int, expected: type) -> None:
    assert type(api_error_from_status(code, status(code, ""), b"")) is expected
    assert type(api_error_from_status(code, status(code, "SomethingNew"), b"")) is expected


def test_a_known_reason_is_not_overruled_by_the_code() -> None:
    # apimachinery: IsNotFound is false for reason BadRequest even with code 404.
    error = api_error_from_status(404, status(404, "BadRequest"), b"")
    assert type(error) is ApiError and error.reason == "BadRequest"


def test_429_is_too_many_requests_whatever_the_known_reason() -> None:
    assert type(api_error_from_status(429, status(429, "ServiceUnavailable"), b"")) is TooManyRequests


def test_an_unknown_code_is_a_plain_api_error() -> None:
    error = api_error_from_status(418, status(418, ""), b"")
    assert type(error) is ApiError and error.code == 418


def test_already_exists_is_not_a_conflict_so_update_retries_never_retry_a_create() -> None:
    assert not isinstance(api_error_from_status(409, status(409, "AlreadyExists"), b""), Conflict)


def test_a_status_code_wins_over_the_http_code_as_in_a_watch_error_event() -> None:
    error = api_error_from_status(200, status(410, "Expired", "too old resource version"), b"")
    assert type(error) is Gone and error.code == 410


def test_a_status_without_a_code_takes_the_http_code() -> None:
    body = {"kind": "Status", "reason": "", "message": "m"}
    assert type(api_error_from_status(404, body, b"")) is NotFound


def test_a_body_that_is_not_a_status_becomes_a_generic_status_quoting_the_body() -> None:
    error = api_error_from_status(503, None, b"upstream connect error")
    assert type(error) is ApiError
    assert error.reason == "ServiceUnavailable" and error.code == 503
    assert "upstream connect error" in error.message
    assert error.status["kind"] == "Status"


def test_an_empty_5xx_body_is_an_internal_error_that_says_so() -> None:
    error = api_error_from_status(502, None, b"")
    assert type(error) is InternalError
    assert error.message == "the server responded with the status code 502 but did not return more information"


def test_a_json_object_that_is_not_a_status_is_treated_as_no_status() -> None:
    error = api_error_from_status(404, {"kind": "Pod"}, b'{"kind":"Pod"}')
    assert type(error) is NotFound and error.status["kind"] == "Status"


def test_details_carry_causes_and_a_malformed_code_does_not_crash() -> None:
    causes = [{"field": "spec.containers", "reason": "FieldValueRequired"}]
    error = api_error_from_status(422, status(422, "Invalid", details={"causes": causes}), b"")
    assert error.details["causes"] == causes
    weird = api_error_from_status(500, {"kind": "Status", "code": "five hundred", "reason": None}, b"")
    assert type(weird) is InternalError and weird.code == 500


def test_every_error_is_a_kcore_error() -> None:
    for cls in (ConfigError, TransportError, ApiError, NotFound, Gone):
        assert issubclass(cls, KcoreError)
    assert (
        str(ConfigError("context 'dev' is not defined", source="/k/config"))
        == "/k/config: context 'dev' is not defined"
    )


def test_a_status_decoded_compact_becomes_its_error_class_as_a_plain_one_does() -> None:
    body = json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": 410,
            "reason": "Expired",
            "message": "too old resource version: 1 (50)",
        }
    ).encode()
    error = api_error_from_status(200, codec.decode_compact(body, codec.JSON), b"")
    assert isinstance(error, Gone)
    assert error.code == 410 and error.status["message"] == "too old resource version: 1 (50)"
    assert isinstance(error.status, dict)  # a private copy: the caller may keep or change it


def public_exception_classes() -> dict[str, type]:
    """Every exception class a public kcore module exports."""
    import importlib
    import pkgutil

    import kcore

    found: dict[str, type] = {}
    for module_info in pkgutil.walk_packages(kcore.__path__, "kcore."):
        if any(part.startswith("_") for part in module_info.name.split(".")):
            continue
        module = importlib.import_module(module_info.name)
        names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        for name in names:
            value = getattr(module, name)
            # kcore's own (kcore.workqueue re-exports the standard library's queue.Empty, say)
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__.startswith("kcore"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_error_kcore_exports_derives_from_kcore_error() -> None:
    from kcore.errors import KcoreError

    classes = public_exception_classes()
    assert {"kcore.codec.DecodeError", "kcore.testenv.errors.ControlPlaneError", "kcore.errors.NotFound"} <= set(
        classes
    )
    assert [name for name, cls in sorted(classes.items()) if not issubclass(cls, KcoreError)] == []


def test_the_codecs_errors_are_value_errors_too() -> None:
    from kcore import codec

    assert issubclass(codec.DecodeError, ValueError) and issubclass(codec.EncodeError, ValueError)
    with pytest.raises(ValueError, match="expected a string key"):
        codec.decode(b"{", codec.JSON)
