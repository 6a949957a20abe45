"""A minimal HTTPS client for the tests that must reach the API server before kcore's own
clients exist (or to check them against something independent): stdlib only."""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class KubeHTTP:
    """Plain HTTPS requests to one API server with a bearer token or a client certificate."""

    def __init__(
        self,
        server: str,
        ca_file: str,
        *,
        token: Optional[str] = None,
        cert_file: Optional[str] = None,
        key_file: Optional[str] = None,
    ) -> None:
        parts = urlsplit(server)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.context = ssl.create_default_context(cafile=ca_file)
        if cert_file:
            self.context.load_cert_chain(cert_file, key_file)
        self.token = token

    def connect(self, timeout: float = 30.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)

    def headers(self, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: Optional[dict[str, str]] = None,
    ) -> Response:
        data = None
        extra = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            extra.setdefault("Content-Type", "application/json")
        conn = self.connect()
        try:
            conn.request(method, path, body=data, headers=self.headers(extra))
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        """The decoded JSON of a 2xx answer; anything else fails with the server's words."""
        resp = self.request(method, path, body, **kw)
        assert 200 <= resp.status < 300, f"{method} {path} -> {resp.status}: {resp.body[:500]!r}"
        return resp.json()
