"""client-go credential plugins ("exec" in a kubeconfig user): run a command that prints an
ExecCredential, cache it until its expirationTimestamp, run it again after a 401.

Interactive mode is not supported: the plugin always runs with stdin closed and
``spec.interactive: false``, whatever ``interactiveMode`` says, as if it were ``Never``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Sequence, Union

from kcore.config.credentials import Credentials
from kcore.errors import ConfigError, CredentialError

log = logging.getLogger("kcore.config")

SUPPORTED_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_INFO_ENV = "KUBERNETES_EXEC_INFO"
# Enough of a plugin's stderr/stdout to explain a failure without flooding the message.
_EXCERPT = 2000


@dataclass(frozen=True)
class ExecProvider:
    """How to run a credential plugin. ``origin`` says where it was configured (for messages);
    ``cluster_config`` is the cluster's ``client.authentication.k8s.io/exec`` extension, passed
    to the plugin with the rest of the cluster when ``provide_cluster_info`` is set."""

    command: str
    api_version: str = "client.authentication.k8s.io/v1"
    args: Sequence[str] = ()
    env: Union[Mapping[str, str], Sequence[tuple[str, str]]] = ()
    install_hint: Optional[str] = None
    provide_cluster_info: bool = False
    cluster_config: Any = field(default=None, compare=False)
    origin: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        source = self.origin or "exec provider"
        if not isinstance(self.command, str) or not self.command:
            raise ConfigError("command must be a non-empty string", source=source)
        if self.api_version not in SUPPORTED_API_VERSIONS:
            raise ConfigError(
                f"apiVersion {self.api_version!r} is not supported; use one of {', '.join(SUPPORTED_API_VERSIONS)}",
                source=source,
            )
        pairs = self.env.items() if isinstance(self.env, Mapping) else self.env
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "env", tuple((str(k), str(v)) for k, v in pairs))


class ExecPlugin:
    """Runs one ExecProvider for one cluster (``cluster`` is the ExecCredential spec.cluster).
    A lock serialises runs: concurrent callers wait for one run and share its result."""

    def __init__(self, provider: ExecProvider, cluster: Mapping[str, Any]) -> None:
        self.provider = provider
        self._cluster = dict(cluster)
        self._lock = threading.Lock()
        self._credentials: Optional[Credentials] = None

    def cached(self) -> Optional[Credentials]:
        credentials = self._credentials
        return None if credentials is None or _expired(credentials) else credentials

    def current(self) -> Credentials:
        with self._lock:
            if self._credentials is None or _expired(self._credentials):
                self._credentials = self._run()
            return self._credentials

    def refresh(self, stale: Optional[Credentials]) -> Credentials:
        with self._lock:
            if stale is None or stale is self._credentials or self._credentials is None:
                self._credentials = self._run()
            return self._credentials

    def _run(self) -> Credentials:
        p = self.provider
        name = f"exec plugin {p.command!r}"
        spec: dict[str, Any] = {"interactive": False}
        if p.provide_cluster_info:
            spec["cluster"] = self._cluster
        exec_info = {"apiVersion": p.api_version, "kind": "ExecCredential", "spec": spec}
        env = {**os.environ, **dict(p.env), EXEC_INFO_ENV: json.dumps(exec_info)}
        try:
            done = subprocess.run(
                [p.command, *p.args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                check=False,
            )
        except FileNotFoundError:
            hint = f"\n{p.install_hint}" if p.install_hint else ""
            raise self._error(f"{name} was not found (is it installed and on PATH?){hint}") from None
        except OSError as e:
            raise self._error(f"{name} could not be started: {e.strerror or e}") from None
        stderr = done.stderr.decode("utf-8", "replace").strip()
        if done.returncode != 0:
            said = f": {stderr[-_EXCERPT:]}" if stderr else " (it wrote nothing to stderr)"
            raise self._error(f"{name} failed with exit code {done.returncode}{said}")
        if stderr:
            log.info("%s wrote to stderr: %s", name, stderr[-_EXCERPT:])
        return self._parse(name, done.stdout)

    def _parse(self, name: str, stdout: bytes) -> Credentials:
        try:
            credential = json.loads(stdout)
        except ValueError as e:
            excerpt = stdout[:_EXCERPT].decode("utf-8", "replace")
            raise self._error(f"{name} printed something that is not JSON ({e}): {excerpt!r}") from None
        if not isinstance(credential, dict) or credential.get("kind") != "ExecCredential":
            raise self._error(f"{name} did not print an ExecCredential object")
        if credential.get("apiVersion") != self.provider.api_version:
            raise self._error(
                f"{name} is configured for {self.provider.api_version} but returned "
                f"apiVersion {credential.get('apiVersion')!r}"
            )
        status = credential.get("status")
        if not isinstance(status, dict):
            raise self._error(f"{name} returned an ExecCredential without a status")
        fields = {k: status.get(k) for k in ("token", "clientCertificateData", "clientKeyData")}
        for status_key, value in fields.items():
            if value is not None and not isinstance(value, str):
                raise self._error(f"{name} returned a non-string status.{status_key}")
        token, cert, key = fields["token"], fields["clientCertificateData"], fields["clientKeyData"]
        if not (token or cert or key):
            raise self._error(f"{name} returned neither a token nor a client certificate and key")
        if bool(cert) != bool(key):
            raise self._error(f"{name} returned only one of clientCertificateData and clientKeyData; both are needed")
        expires = status.get("expirationTimestamp")
        return Credentials(
            token=token or None,
            client_cert_data=cert.encode() if cert else None,
            client_key_data=key.encode() if key else None,
            expires_at=None if expires is None else self._timestamp(name, expires),
        )

    def _timestamp(self, name: str, value: Any) -> datetime:
        moment = parse_rfc3339(value) if isinstance(value, str) else None
        if moment is None:
            raise self._error(f"{name} returned status.expirationTimestamp {value!r}, which is not an RFC 3339 time")
        return moment

    def _error(self, message: str) -> CredentialError:
        return CredentialError(f"{self.provider.origin}: {message}" if self.provider.origin else message)


def _expired(credentials: Credentials) -> bool:
    return credentials.expires_at is not None and datetime.now(timezone.utc) > credentials.expires_at


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_rfc3339(text: str) -> Optional[datetime]:
    """An aware datetime for an RFC 3339 timestamp (any fraction digits, Z or an offset), else None."""
    m = _RFC3339.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    micros = int((m.group(7) or "0")[:6].ljust(6, "0"))
    offset = timedelta(0) if m.group(8) else timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
    tz = timezone(-offset if m.group(9) == "-" else offset)
    try:
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)
    except ValueError:
        return None
