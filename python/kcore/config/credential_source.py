"""Where a Config's credentials come from: fixed values, a token file, or an exec plugin."""

from __future__ import annotations

from typing import Optional, Protocol

from kcore.config.credentials import Credentials


class CredentialSource(Protocol):
    def current(self) -> Credentials:
        """The credentials to use now; may block (an exec plugin runs a subprocess)."""

    def cached(self) -> Optional[Credentials]:
        """The current credentials if getting them cannot block, else None."""

    def refresh(self, stale: Optional[Credentials]) -> Credentials:
        """New credentials after a 401, unless ``stale`` was already replaced meanwhile."""


class FixedCredentials:
    """Credentials that never change: a static token, basic auth, client certificate data."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def current(self) -> Credentials:
        return self._credentials

    def cached(self) -> Optional[Credentials]:
        return self._credentials

    def refresh(self, stale: Optional[Credentials]) -> Credentials:
        return self._credentials
