"""Config: everything needed to reach one cluster, resolved (no file paths left to follow except
a token file, which is re-read because it rotates)."""

from __future__ import annotations

import asyncio
import base64
import platform
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlsplit

from kcore import _core
from kcore.config.certificate_files import CertificateFiles
from kcore.config.credential_source import CredentialSource, FixedCredentials
from kcore.config.credentials import Credentials
from kcore.config.exec_credential import ExecPlugin, ExecProvider
from kcore.config.token_file import TokenFile
from kcore.errors import ConfigError

DEFAULT_QPS = 5.0
DEFAULT_BURST = 10
DEFAULT_USER_AGENT = f"kcore/{_core.core_version()} (python {platform.python_version()}; {platform.system().lower()})"
PROXY_SCHEMES = ("http", "https", "socks5")


@dataclass(frozen=True)
class Config:
    """How to reach one cluster and who to be there.

    Credentials, in client-go's order: ``token_file`` (re-read as it rotates; wins over
    ``token``), ``token``, ``username``/``password``, ``client_cert_data``/``client_key_data``
    (sent alongside a token; from ``client_cert_file``/``client_key_file`` when those are set,
    re-read as they rotate, as client-go does); ``exec_provider`` only when none of those is set. The transport calls
    :meth:`credentials` for every request and :meth:`refresh_credentials` after a 401.

    ``qps``/``burst``: the client-side rate limit (a negative ``qps`` means no limit).
    ``timeout``: seconds per request, None for none. ``http2``: offer HTTP/2 by ALPN (the API
    server takes it; many requests then share one connection); False speaks HTTP/1.1 only, as
    client-go does with ``DISABLE_HTTP2``. Secrets are left out of ``repr``.
    """

    server: str
    ca_data: Optional[bytes] = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    tls_server_name: Optional[str] = None
    proxy_url: Optional[str] = None
    namespace: str = "default"
    token: Optional[str] = field(default=None, repr=False)
    token_file: Optional[str] = None
    client_cert_data: Optional[bytes] = field(default=None, repr=False)
    client_key_data: Optional[bytes] = field(default=None, repr=False)
    client_cert_file: Optional[str] = None
    client_key_file: Optional[str] = None
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    exec_provider: Optional[ExecProvider] = None
    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST
    timeout: Optional[float] = None
    user_agent: str = DEFAULT_USER_AGENT
    http2: bool = True
    _source: CredentialSource = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate()
        object.__setattr__(self, "_source", self._credential_source())

    def credentials(self) -> Credentials:
        """The credentials for the next request. May run the exec plugin (a subprocess; a lock
        makes concurrent callers share one run); cached until its expirationTimestamp."""
        return self._source.current()

    def refresh_credentials(self, stale: Optional[Credentials] = None) -> Credentials:
        """Fresh credentials after a 401: runs the exec plugin again or re-reads the token file.
        Pass the ``stale`` credentials that got the 401 so that, when many requests fail at once,
        only the first one triggers a refresh. Fixed credentials come back unchanged."""
        return self._source.refresh(stale)

    async def credentials_async(self) -> Credentials:
        """:meth:`credentials` without blocking the event loop: a plugin run goes to a thread."""
        cached = self._source.cached()
        return cached if cached is not None else await asyncio.to_thread(self._source.current)

    async def refresh_credentials_async(self, stale: Optional[Credentials] = None) -> Credentials:
        """:meth:`refresh_credentials` in a thread, so the event loop keeps running."""
        return await asyncio.to_thread(self._source.refresh, stale)

    def _exec_cluster(self) -> dict[str, Any]:
        """The cluster as an exec plugin sees it (ExecCredential ``spec.cluster``)."""
        cluster: dict[str, Any] = {"server": self.server}
        if self.tls_server_name:
            cluster["tls-server-name"] = self.tls_server_name
        if self.insecure_skip_tls_verify:
            cluster["insecure-skip-tls-verify"] = True
        if self.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_data).decode("ascii")
        if self.proxy_url:
            cluster["proxy-url"] = self.proxy_url
        if self.exec_provider is not None and self.exec_provider.cluster_config is not None:
            cluster["config"] = self.exec_provider.cluster_config
        return cluster

    def _credential_source(self) -> CredentialSource:
        fixed = Credentials(
            token=self.token,
            username=self.username,
            password=self.password,
            client_cert_data=self.client_cert_data,
            client_key_data=self.client_key_data,
        )
        source: CredentialSource
        if self.token_file:
            source = TokenFile(self.token_file, fixed)
        elif self.exec_provider is not None and fixed == Credentials() and not self.client_cert_file:
            return ExecPlugin(self.exec_provider, self._exec_cluster())
        else:
            source = FixedCredentials(fixed)
        if self.client_cert_file and self.client_key_file:
            return CertificateFiles(source, self.client_cert_file, self.client_key_file)
        return source

    def _validate(self) -> None:
        url = urlsplit(self.server) if isinstance(self.server, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"server {self.server!r} is not an http(s) URL with a host")
        if self.proxy_url and urlsplit(self.proxy_url).scheme not in PROXY_SCHEMES:
            raise ConfigError(f"proxy URL {self.proxy_url!r} must use one of the schemes {', '.join(PROXY_SCHEMES)}")
        if self.insecure_skip_tls_verify and self.ca_data:
            raise ConfigError("a certificate authority and insecure-skip-tls-verify are both set; choose one")
        if (self.token or self.token_file) and (self.username is not None or self.password is not None):
            raise ConfigError("both a token and basic auth (username/password) are set; choose one")
        if bool(self.client_cert_data) != bool(self.client_key_data):
            raise ConfigError("a client certificate needs both its certificate and its key; only one is set")
        if bool(self.client_cert_file) != bool(self.client_key_file):
            raise ConfigError("a client certificate file needs its key file too (client_cert_file and client_key_file)")
        if self.qps > 0 and self.burst <= 0:
            raise ConfigError(f"burst must be positive when qps ({self.qps}) is; got {self.burst}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"timeout must be positive seconds or None; got {self.timeout}")
