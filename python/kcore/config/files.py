"""Reading the files a configuration points at, with errors that say which file and why."""

from __future__ import annotations

import base64
import binascii
import os
from typing import Optional

from kcore.errors import ConfigError


def read_file(path: str, what: str, *, source: Optional[str] = None) -> bytes:
    """The bytes of ``path``; ConfigError naming ``what`` the file is for if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"{what} {path} cannot be read: {e.strerror or e}", source=source) from None


FileStamp = Optional[tuple[int, int, int]]


def file_stamp(path: str) -> FileStamp:
    """What changes when ``path`` is rewritten or swapped (inode, mtime, size); None if it is
    missing. One stat: cheap enough to check before every request."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def require_pem(data: bytes, marker: str, what: str, *, source: Optional[str] = None) -> bytes:
    """``data`` if it holds a PEM block whose label contains ``marker`` (e.g. "CERTIFICATE")."""
    if b"-----BEGIN " not in data or marker.encode() not in data:
        raise ConfigError(f"{what} is not PEM data (no '-----BEGIN ...{marker}-----' block)", source=source)
    return data


def decode_base64(value: str, what: str, *, source: Optional[str] = None) -> bytes:
    """Standard base64 as Go's encoding/json decodes []byte fields (line breaks allowed)."""
    try:
        return base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError) as e:
        raise ConfigError(f"{what} is not valid base64: {e}", source=source) from None
