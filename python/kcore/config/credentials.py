"""What a request presents to the API server: a bearer token, basic auth, a client certificate."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional


@dataclass(frozen=True)
class Credentials:
    """One snapshot of the credentials to send. A token and a client certificate may go together;
    ``expires_at`` is set when an exec plugin said when its credential expires."""

    token: Optional[str] = field(default=None, repr=False)
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    client_cert_data: Optional[bytes] = field(default=None, repr=False)
    client_key_data: Optional[bytes] = field(default=None, repr=False)
    expires_at: Optional[datetime] = None

    @property
    def authorization(self) -> Optional[str]:
        """The ``Authorization`` header value, or None when only a certificate (or nothing) applies."""
        if self.token:
            return f"Bearer {self.token}"
        if self.username is not None or self.password is not None:
            pair = f"{self.username or ''}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return None
