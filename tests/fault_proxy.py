"""A loopback HTTPS proxy in front of the real API server that injects faults on cue.

Everything it does not break it forwards, unchanged, to the real kube-apiserver, so a test sees
real answers around the injected 429s, 503s, dropped connections and Warning headers.
"""

from __future__ import annotations

import http.client
import http.server
import json
import ssl
import threading
from collections import deque
from typing import Optional
from urllib.parse import urlsplit

from kcore.testenv import ControlPlane

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps(
        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message}
    ).encode()


class FaultProxy:
    """``faults`` is a queue consumed one per request: "429" / "503" (with Retry-After: 1),
    "503-no-retry-after", "drop" (close the connection unanswered), "warn:<text>" (forward, add
    a Warning header), "corrupt" (forward the answer's head, then bytes no decoder accepts, then
    close), or None (forward). ``seen`` records each request's method and path, ``sent`` each
    request body with its method, path and Content-Type."""

    def __init__(self, control_plane: ControlPlane) -> None:
        upstream = urlsplit(control_plane.server)
        self.upstream = (upstream.hostname, upstream.port)
        self.upstream_context = ssl.create_default_context(cafile=str(control_plane.ca_file))
        self.faults: deque[Optional[str]] = deque()
        self.seen: list[tuple[str, str]] = []
        self.sent: list[tuple[str, str, str, bytes]] = []
        self._lock = threading.Lock()
        self._open: set = set()  # client connections with a response being forwarded
        cert = control_plane.issue_serving_certificate()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert.cert_file), str(cert.key_file))
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_one_request(self) -> None:
                try:
                    super().handle_one_request()
                except (OSError, http.client.HTTPException):  # a side went away, or a test cut it
                    self.close_connection = True

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def cut_streams(self) -> int:
        """Drop every connection with a response still flowing (e.g. watches); how many."""
        with self._lock:
            victims = list(self._open)
        for client_side, upstream in victims:
            for sock in (client_side, upstream.sock):
                try:
                    sock.shutdown(2)
                except (OSError, AttributeError):
                    pass
        return len(victims)

    def _next_fault(self, method: str, path: str) -> Optional[str]:
        with self._lock:
            self.seen.append((method, path))
            return self.faults.popleft() if self.faults else None

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        fault = self._next_fault(handler.command, handler.path)
        if body is not None:
            with self._lock:
                self.sent.append((handler.command, handler.path, handler.headers.get("Content-Type", ""), body))
        if fault == "drop":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault in ("429", "503", "503-no-retry-after"):
            code = int(fault[:3])
            payload = status_body(code, "TooManyRequests" if code == 429 else "ServiceUnavailable", f"injected {fault}")
            handler.send_response(code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            if fault != "503-no-retry-after":
                handler.send_header("Retry-After", "1")
            handler.end_headers()
            handler.wfile.write(payload)
            return
        self._forward(
            handler,
            body,
            warning=fault[5:] if fault and fault.startswith("warn:") else None,
            corrupt=fault == "corrupt",
        )

    def _forward(
        self,
        handler: http.server.BaseHTTPRequestHandler,
        body: Optional[bytes],
        warning: Optional[str],
        corrupt: bool = False,
    ) -> None:
        conn = http.client.HTTPSConnection(*self.upstream, context=self.upstream_context, timeout=120)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
        conn.request(handler.command, handler.path, body=body, headers=headers)
        upstream = conn.getresponse()
        handler.send_response(upstream.status)
        for name, value in upstream.getheaders():
            if name.lower() not in HOP_BY_HOP | {"content-length"}:
                handler.send_header(name, value)
        if warning:
            quoted = warning.replace("\\", "\\\\").replace('"', '\\"')  # as the API server escapes them
            handler.send_header("Warning", f'299 - "{quoted}"')
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        if corrupt:  # a frame of 5 bytes that is no WatchEvent, and JSON that is no event: either way garbage
            garbage = b"\x00\x00\x00\x05\xff\xff\xff\xff\xff" + b'{"type": "ADDED", "object": }\n'
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(garbage), garbage))
            handler.wfile.flush()
            handler.close_connection = True
            conn.close()
            return
        with self._lock:
            self._open.add((handler.connection, conn))
        try:
            while chunk := upstream.read1(65536):  # forward as it comes: watch streams too
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
        finally:
            with self._lock:
                self._open.discard((handler.connection, conn))
            conn.close()
