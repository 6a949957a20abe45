"""Every error kcore raises on purpose derives from KcoreError.

KcoreError is made by the Rust core (so that its codec errors can derive from it and from
ValueError at once) and re-exported here; these derive from it too:

- ConfigError: a kubeconfig, in-cluster environment or Config that cannot work; the message names
  the file, context and field at fault.
- CredentialError: credentials could not be obtained at request time (an exec plugin failed).
- ApiError and its subclasses: the API server answered with a failure Status.
- TransportError: no answer at all (connection refused, TLS failure, timeout).
- NoMatchError: discovery knows no resource or kind by the name asked for.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from kcore import _core

KcoreError = _core.KcoreError
"""Base class of kcore's own errors."""


class ConfigError(KcoreError):
    """A configuration that cannot work. ``source`` is the file (or description) at fault."""

    def __init__(self, message: str, *, source: Optional[str] = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class CredentialError(KcoreError):
    """Credentials could not be obtained when a request needed them (e.g. an exec plugin failed)."""


class TransportError(KcoreError):
    """The request got no HTTP answer: connection, TLS or timeout failure."""


class NoMatchError(KcoreError, LookupError):
    """The server has no resource or kind by that name (in that group or version), as far as
    discovery knows (client-go's NoResourceMatchError / NoKindMatchError)."""


class ApiError(KcoreError):
    """The API server answered with a failure. ``status`` is the Kubernetes Status object."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        super().__init__(self.message)

    @property
    def code(self) -> int:
        code = self.status.get("code")
        return code if isinstance(code, int) else 0

    @property
    def reason(self) -> str:
        return str(self.status.get("reason") or "")

    @property
    def message(self) -> str:
        return str(self.status.get("message") or "")

    @property
    def details(self) -> dict[str, Any]:
        """``status.details``: name, group, kind, causes, retryAfterSeconds (empty if absent)."""
        details = self.status.get("details")
        return details if isinstance(details, dict) else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, reason={self.reason!r}, message={self.message!r})"


class Unauthorized(ApiError):
    """401: the credentials were missing, wrong or expired."""


class Forbidden(ApiError):
    """403: authenticated, but not allowed (RBAC)."""


class NotFound(ApiError):
    """404: the object (or the resource type) does not exist."""


class Conflict(ApiError):
    """409: the object changed since it was read (stale resourceVersion)."""


class AlreadyExists(ApiError):
    """409 with reason AlreadyExists: create of a name that is taken (not a Conflict, as in
    apimachinery: retrying an update on Conflict must not retry a create)."""


class Gone(ApiError):
    """410 (reasons Gone or Expired): the resourceVersion or continue token is too old; relist."""


class Invalid(ApiError):
    """422: the object failed validation; ``details['causes']`` lists the fields."""


class TooManyRequests(ApiError):
    """429: throttled (API priority and fairness, or eviction blocked by a disruption budget)."""


class InternalError(ApiError):
    """500 (or another 5xx without a more specific reason)."""


class ServerTimeout(ApiError):
    """504, or reasons ServerTimeout / Timeout: the server gave up; the request may be retried."""


# apimachinery decides by reason first; the HTTP code only counts when the reason is not one it
# knows (pkg/api/errors knownReasons), so e.g. reason BadRequest with code 404 is not NotFound.
_CLASS_BY_REASON: dict[str, type[ApiError]] = {
    "Unauthorized": Unauthorized,
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Gone": Gone,
    "Expired": Gone,
    "Invalid": Invalid,
    "TooManyRequests": TooManyRequests,
    "InternalError": InternalError,
    "ServerTimeout": ServerTimeout,
    "Timeout": ServerTimeout,
}
_KNOWN_REASONS = set(_CLASS_BY_REASON) | {
    "StoreReadError",
    "BadRequest",
    "MethodNotAllowed",
    "NotAcceptable",
    "RequestEntityTooLarge",
    "UnsupportedMediaType",
    "ServiceUnavailable",
}
_CLASS_BY_CODE: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
    500: InternalError,
    504: ServerTimeout,
}
# What apimachinery's NewGenericServerResponse calls a failure that came without a Status.
_GENERIC_REASON_BY_CODE: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_BODY_EXCERPT = 1000


def api_error_from_status(http_code: int, status: Optional[Mapping[str, Any]], body: bytes) -> ApiError:
    """The ApiError for a failed response: ``status`` is the decoded Status (None if the body was
    not one), ``body`` the raw bytes. A Status's own code wins over ``http_code`` (a watch ERROR
    event arrives inside a 200)."""
    if isinstance(status, Mapping) and not isinstance(status, dict):
        status = _plain(status)  # a Status decoded compact (a watch decoded for a cache)
    if not isinstance(status, dict) or status.get("kind") != "Status":
        status = _generic_status(http_code, body)
    elif not isinstance(status.get("code"), int) or not status["code"]:
        status = {**status, "code": http_code}
    error = ApiError(status)
    cls = _CLASS_BY_REASON.get(error.reason)
    if cls is None and (error.reason not in _KNOWN_REASONS or error.code == 429):
        cls = _CLASS_BY_CODE.get(error.code)
    return cls(status) if cls else error


def _plain(status: Mapping[str, Any]) -> dict[str, Any]:
    to_dict = getattr(status, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(status)


def _generic_status(http_code: int, body: bytes) -> dict[str, Any]:
    text = body[:_BODY_EXCERPT].decode("utf-8", "replace").strip()
    reason = _GENERIC_REASON_BY_CODE.get(http_code, "InternalError" if http_code >= 500 else "")
    message = f"the server responded with the status code {http_code}"
    message += f": {text}" if text else " but did not return more information"
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": http_code,
        "reason": reason,
        "message": message,
    }
