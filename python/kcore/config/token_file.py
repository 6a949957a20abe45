"""A bearer token read from a file that may be rotated underneath us (projected service-account
tokens are replaced about hourly by the kubelet, via an atomic symlink swap)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Optional

from kcore.config.credentials import Credentials
from kcore.config.files import FileStamp, file_stamp, read_file
from kcore.errors import ConfigError

log = logging.getLogger("kcore.config")

# Like client-go's cached file token source: re-read at least this often even when the file
# looks unchanged (a rewrite within one mtime tick, same size, same inode).
MAX_TOKEN_AGE_SECONDS = 60.0


def read_token(path: str, *, what: str = "token file", source: Optional[str] = None) -> str:
    """The token in ``path``, whitespace stripped; ConfigError naming ``what`` the file is if it
    is unreadable or empty."""
    data = read_file(path, what, source=source)
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text", source=source) from None
    if not token:
        raise ConfigError(f"{what} {path} is empty", source=source)
    return token


class TokenFile:
    """Credentials whose token is the content of ``path``, re-read when the file changes (checked
    on every use: one stat) or is a minute old, and on refresh after a 401. ``base`` carries any
    client certificate to send with it."""

    def __init__(self, path: str, base: Credentials = Credentials()) -> None:
        self.path = path
        self._base = base
        self._lock = threading.Lock()
        self._credentials = dataclasses.replace(base, token=read_token(path))
        self._stamp = self._file_stamp()
        self._read_at = time.monotonic()

    def current(self) -> Credentials:
        with self._lock:
            stamp = self._file_stamp()
            if stamp != self._stamp or time.monotonic() - self._read_at >= MAX_TOKEN_AGE_SECONDS:
                self._reread(stamp)
            return self._credentials

    def cached(self) -> Optional[Credentials]:
        return self.current()  # a stat and a small read: not worth a thread hop

    def refresh(self, stale: Optional[Credentials]) -> Credentials:
        with self._lock:
            if stale is None or stale is self._credentials:
                self._reread(self._file_stamp())
            return self._credentials

    def _reread(self, stamp: FileStamp) -> None:
        self._read_at, self._stamp = time.monotonic(), stamp
        try:
            token = read_token(self.path)
        except ConfigError as e:
            # A token that worked a moment ago is a better bet than none (client-go keeps it too).
            log.warning("keeping the previous token: %s", e)
            return
        if token != self._credentials.token:
            self._credentials = dataclasses.replace(self._base, token=token)

    def _file_stamp(self) -> FileStamp:
        return file_stamp(self.path)
