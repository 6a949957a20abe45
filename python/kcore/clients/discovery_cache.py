"""The discovery disk cache, laid out as client-go's (and so kubectl's) is:

    <root>/<host_port>/servergroups.json            the APIGroupList (core group first)
    <root>/<host_port>/<group-version>/serverresources.json   one APIResourceList each

Directories 0750, files 0660, each file trusted for ``ttl`` seconds from when it was written.
After ``invalidate()`` only files this cache has written since are trusted, as in client-go:
another process's files may be just as old as the ones being discarded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from typing import Any, Optional

log = logging.getLogger("kcore.discovery")

GROUPS_FILE = "servergroups.json"
RESOURCES_FILE = "serverresources.json"

# kubectl's computeDiscoverCacheDir: anything but word characters, "/", "." and parentheses
# becomes "_", so https://127.0.0.1:6443 is cached under 127.0.0.1_6443.
_UNSAFE = re.compile(r"[^(\w/.)]")


def server_cache_name(server: str) -> str:
    """The directory name kubectl gives a server's discovery cache."""
    host = server.replace("https://", "", 1).replace("http://", "", 1)
    return _UNSAFE.sub("_", host)


def resources_file(group_version: str) -> Optional[str]:
    """The cache file of a group-version; None if its name cannot be a safe path."""
    parts = group_version.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    return os.path.join(*parts, RESOURCES_FILE)


class DiscoveryDiskCache:
    """Reads and writes discovery documents under ``<root>/<host_port>``; never raises on a
    bad or missing file (it is a miss) nor on a failed write (logged: the cache is optional)."""

    def __init__(self, root: str, server: str, ttl: float) -> None:
        self.directory = os.path.join(os.path.expanduser(root), server_cache_name(server))
        self.ttl = ttl
        self._lock = threading.Lock()
        self._invalidated = False
        self._ours: set[str] = set()

    def read(self, name: str) -> Optional[dict[str, Any]]:
        """The document in ``name`` (relative to the server's directory) if fresh, else None."""
        path = os.path.join(self.directory, name)
        with self._lock:
            if self._invalidated and path not in self._ours:
                return None
        try:
            with open(path, "rb") as f:
                if time.time() > os.fstat(f.fileno()).st_mtime + self.ttl:
                    return None
                doc = json.loads(f.read())
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def write(self, name: str, doc: dict[str, Any]) -> None:
        path = os.path.join(self.directory, name)
        try:
            os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=os.path.basename(path) + ".")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(json.dumps(doc, separators=(",", ":")).encode())
                os.chmod(temp, 0o660)
                with self._lock:
                    os.replace(temp, path)  # readers see the old file or the new one, never half
                    self._ours.add(path)
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
        except OSError as exc:
            log.info("could not write the discovery cache file %s: %s", path, exc)

    def invalidate(self) -> None:
        with self._lock:
            self._invalidated = True
            self._ours.clear()
