"""A client certificate and key read from files that are rotated underneath us (cert-manager,
a kubelet's client certificate rotation): client-go re-reads such files (``ReloadTLSFiles``)
and closes its connections when they change, so that every request -- watches included --
presents the new certificate."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Optional

from kcore.config.credential_source import CredentialSource
from kcore.config.credentials import Credentials
from kcore.config.files import FileStamp, file_stamp, read_file, require_pem
from kcore.errors import ConfigError

log = logging.getLogger("kcore.config")


class CertificateFiles:
    """Another source's credentials with the client certificate and key of two files, re-read
    when either file changes (checked on every use: two stats; client-go checks every five
    minutes). A file that cannot be read keeps the pair that worked; a pair caught half-way
    through a rotation (the new certificate with the old key) is refused by the transport, which
    keeps the previous one until the key is in place too."""

    def __init__(self, inner: CredentialSource, cert_file: str, key_file: str) -> None:
        self.cert_file, self.key_file = cert_file, key_file
        self._inner = inner
        self._lock = threading.Lock()
        self._stamps = self._file_stamps()
        self._pair = self._read()
        self._inner_seen: Optional[Credentials] = None
        self._credentials = Credentials()

    def current(self) -> Credentials:
        return self._with_pair(self._inner.current())

    def cached(self) -> Optional[Credentials]:
        inner = self._inner.cached()
        return None if inner is None else self._with_pair(inner)

    def refresh(self, stale: Optional[Credentials]) -> Credentials:
        with self._lock:
            # The inner source refreshes only if ``stale`` is what it handed out last.
            inner_stale = None if stale is None else self._inner_seen if stale is self._credentials else Credentials()
        return self._with_pair(self._inner.refresh(inner_stale))

    def _with_pair(self, inner: Credentials) -> Credentials:
        with self._lock:
            stamps = self._file_stamps()
            changed = stamps != self._stamps
            if changed:
                self._stamps = stamps
                try:
                    self._pair = self._read()
                except ConfigError as e:
                    log.warning("keeping the previous client certificate: %s", e)
                    changed = False
            if changed or inner is not self._inner_seen:
                cert, key = self._pair
                self._inner_seen = inner
                self._credentials = dataclasses.replace(inner, client_cert_data=cert, client_key_data=key)
            return self._credentials

    def _read(self) -> tuple[bytes, bytes]:
        cert = require_pem(
            read_file(self.cert_file, "client-certificate"), "CERTIFICATE", f"client-certificate {self.cert_file}"
        )
        key = require_pem(read_file(self.key_file, "client-key"), "PRIVATE KEY", f"client-key {self.key_file}")
        return cert, key

    def _file_stamps(self) -> tuple[FileStamp, FileStamp]:
        return file_stamp(self.cert_file), file_stamp(self.key_file)
