"""kcore's LeaderElector as a candidate process, speaking tests/e2e/leader_election_upstream's
protocol so tests drive both alike (tests/e2e/leader_election_upstream_driver.py):

    python -m tests.e2e.leader_election_candidate -kubeconfig=K -name=lock -identity=py-1 \
        [-namespace=default] [-lease-duration=15s] [-renew-deadline=10s] [-retry-period=2s] \
        [-release-on-cancel=true] [-asyncio=true]

stdout: one JSON line per event, {"event": ..., "identity": ..., "at": RFC 3339 local time}:
"started" when on_started_leading is called, "stopped" when its stop event is set (the leader's
work must end: before a release is written, and before its lease can expire for the others),
"new_leader", and "exited" once run() has returned (on_stopped_leading has run by then). Closing stdin or SIGTERM stops the election (a
release follows with -release-on-cancel); the process exits once run() has returned.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
from datetime import datetime, timezone
from typing import Any

from kcore import Clientset, aio, load_kubeconfig
from kcore.controller import LeaderElector

_out = threading.Lock()


def emit(event: str, **extra: str) -> None:
    line = json.dumps({"event": event, **extra, "at": datetime.now(timezone.utc).isoformat()})
    with _out:
        print(line, flush=True)


def seconds(text: str) -> float:
    return float(text[:-2]) / 1e9 if text.endswith("ns") else float(text.rstrip("s"))


def main(argv: list[str]) -> int:
    opts = dict(a.lstrip("-").split("=", 1) for a in argv)
    config = load_kubeconfig(opts["kubeconfig"])
    settings: dict[str, Any] = dict(
        namespace=opts.get("namespace", "default"),
        name=opts["name"],
        identity=opts["identity"],
        lease_duration=seconds(opts.get("lease-duration", "15s")),
        renew_deadline=seconds(opts.get("renew-deadline", "10s")),
        retry_period=seconds(opts.get("retry-period", "2s")),
        release_on_cancel=opts.get("release-on-cancel") == "true",
        on_stopped_leading=lambda: None,
        on_new_leader=lambda identity: emit("new_leader", identity=identity),
    )
    if opts.get("asyncio") == "true":
        return asyncio.run(run_async(config, settings))
    led, done = threading.Event(), threading.Event()

    def lead(stop: threading.Event) -> None:  # on a thread of its own, as the work would be
        led.set()
        emit("started")
        stop.wait()
        emit("stopped")
        done.set()

    elector = LeaderElector(Clientset(config), on_started_leading=lead, **settings)
    signal.signal(signal.SIGTERM, lambda *_: elector.stop())
    threading.Thread(target=lambda: (sys.stdin.read(), elector.stop()), daemon=True).start()
    elector.run()
    if led.is_set():
        done.wait(10)  # the work has seen its stop event (set before run returned)
    emit("exited")
    return 0


async def run_async(config: Any, settings: dict[str, Any]) -> int:
    done = asyncio.Event()
    led = False

    async def started(stop: asyncio.Event) -> None:
        nonlocal led
        led = True
        emit("started")
        await stop.wait()
        emit("stopped")
        done.set()

    elector = aio.LeaderElector(aio.Clientset(config), on_started_leading=started, **settings)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, elector.stop)
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(elector.stop)), daemon=True).start()
    await elector.run()
    if led:
        await asyncio.wait_for(done.wait(), 10)  # the work has seen its stop event
    emit("exited")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
