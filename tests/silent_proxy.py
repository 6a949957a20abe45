"""A loopback TCP forwarder in front of the real API server whose connections can go silent.

``silence()`` makes every connection open at that moment drop every byte, both ways, while the
TCP connection stays up: no FIN, no RST, nothing for the client's kernel to notice — a NAT or
load balancer that forgot the flow. Connections made later are forwarded, so a client that
notices and reconnects gets through — unless ``partition()`` cut the client off entirely: then
new connections go silent too, until ``heal()``. TLS passes through untouched (the API server's certificate
names 127.0.0.1), so HTTP/2 is negotiated end to end.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from kcore.testenv import ControlPlane


class _Pair:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.silent = False


class SilentProxy:
    def __init__(self, control_plane: ControlPlane) -> None:
        upstream = urlsplit(control_plane.server)
        self._upstream = (upstream.hostname or "127.0.0.1", upstream.port or 443)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()
        self._closed = False
        self._partitioned = False

    def __enter__(self) -> "SilentProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            for sock in (pair.client, pair.upstream):
                sock.close()

    def silence(self) -> int:
        """Every connection open now drops all bytes from here on; how many there were."""
        with self._lock:
            for pair in self._pairs:
                pair.silent = True
            return len(self._pairs)

    def partition(self) -> None:
        """Nothing gets through any more: the open connections and every new one drop all bytes."""
        with self._lock:
            self._partitioned = True
            for pair in self._pairs:
                pair.silent = True

    def heal(self) -> None:
        """New connections are forwarded again (the silenced ones stay silent)."""
        with self._lock:
            self._partitioned = False

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return len(self._pairs)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            pair = _Pair(client, upstream)
            with self._lock:
                pair.silent = self._partitioned
                self._pairs.append(pair)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(pair, source, target), daemon=True).start()

    @staticmethod
    def _pump(pair: _Pair, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not pair.silent:  # silent: read and dropped, so no window fills and nothing shows
                    target.sendall(data)
            if not pair.silent:
                target.shutdown(socket.SHUT_WR)
        except OSError:
            pass
