"""The manager's health probes over HTTP: ``/healthz`` and ``/readyz`` (controller-runtime's
pkg/healthz, as its manager serves them on HealthProbeBindAddress).

Each endpoint runs its named checks: a check is a function of no argument that passes by
returning (anything but False) and fails by raising or returning False. All pass: 200 ``ok``.
One fails: 500 with one line per check, ``[+]name ok`` or ``[-]name failed: reason withheld``,
then ``<endpoint> check failed``. ``?verbose`` lists the checks of a passing answer too;
``/healthz/<name>`` runs only that check (404 if there is none). The server is a
ThreadingHTTPServer on a daemon thread: both manager twins use it, checks only read state.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urlsplit

log = logging.getLogger("kcore.controller.health")

Check = Callable[[], Any]
Checks = Callable[[str], Optional[Mapping[str, Check]]]
"""The checks of an endpoint ("healthz" or "readyz"), None for an unknown endpoint."""


def passes(check: Check) -> tuple[bool, str]:
    """Whether a check passes, and why not."""
    try:
        outcome = check()
    except Exception as error:
        return False, str(error) or type(error).__name__
    return outcome is not False, "returned False" if outcome is False else ""


def answer(endpoint: str, checks: Mapping[str, Check], only: Optional[str], verbose: bool) -> tuple[int, str]:
    """The status and body of one probe."""
    if only is not None:
        if only not in checks:
            return 404, f"no {endpoint} check named {only!r}\n"
        checks = {only: checks[only]}
    lines, failed = [], False
    for name, check in sorted(checks.items()):
        ok, why = passes(check)
        if ok:
            lines.append(f"[+]{name} ok")
        else:
            failed = True
            lines.append(f"[-]{name} failed: reason withheld")
            log.info("%s check %s failed: %s", endpoint, name, why)
    if failed:
        return 500, "\n".join(lines) + f"\n{endpoint} check failed\n"
    if verbose:
        return 200, "\n".join(lines) + f"\n{endpoint} check passed\n"
    return 200, "ok"


class ProbeServer:
    """Serves the probes at ``address`` ((host, port); port 0 picks a free one) until ``close()``."""

    def __init__(self, address: tuple[str, int], checks: Checks) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                endpoint, _, only = url.path.strip("/").partition("/")
                endpoint_checks = checks(endpoint)
                if endpoint_checks is None:
                    status, body = 404, "not found\n"
                else:
                    status, body = answer(endpoint, endpoint_checks, only or None, "verbose" in url.query)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("probe %s", format % args)

        self._server = ThreadingHTTPServer(address, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health-probes", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the port chosen when 0 was asked)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


__all__ = ["Check", "ProbeServer", "answer", "passes"]
