"""``python -m kcore.testenv up|down|env|build``: a control plane that outlives the command.

``up`` starts a small supervisor process in its own session; the supervisor runs a
ControlPlane until ``down`` sends it SIGTERM. Its state (pid, kubeconfig) sits in
``<cache>/testenv/state.json``, so ``env`` and ``down`` find it from any shell.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

from kcore.testenv.binaries import cache_root, ensure_binaries, ensure_controller_manager, ensure_kwok
from kcore.testenv.control_plane import ControlPlane
from kcore.testenv.errors import ControlPlaneError
from kcore.testenv.process import pid_alive


def _state_dir() -> Path:
    return cache_root() / "testenv"


def _state_file() -> Path:
    return _state_dir() / "state.json"


def _read_state() -> Optional[dict[str, Any]]:
    """The running supervisor's state, or None (a state left by a dead one is removed)."""
    try:
        state: dict[str, Any] = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    if not pid_alive(int(state.get("pid", 0))):
        _state_file().unlink(missing_ok=True)
        return None
    return state


def _env_line(state: dict[str, Any]) -> str:
    return f"KUBECONFIG={state['kubeconfig']}"


def _up(with_scheduler: bool, with_kwok: bool, controllers: str, timeout: float) -> int:
    state = _read_state()
    if state is not None:
        print(f"a control plane is already running (pid {state['pid']})", file=sys.stderr)
        print(_env_line(state))
        return 0
    ensure_binaries(log=lambda m: print(m, file=sys.stderr))
    _state_dir().mkdir(parents=True, exist_ok=True)
    log_file = _state_dir() / "supervisor.log"
    argv = [sys.executable, "-m", "kcore.testenv", "serve"]
    argv += (["--with-scheduler"] if with_scheduler else []) + (["--with-kwok"] if with_kwok else [])
    argv += [f"--controllers={controllers}"] if controllers else []
    with open(log_file, "wb") as log:
        supervisor = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _read_state()
        if state is not None and state["pid"] == supervisor.pid:
            print(f"control plane {state['release']} at {state['server']} (pid {state['pid']})", file=sys.stderr)
            print(_env_line(state))
            return 0
        if supervisor.poll() is not None:
            print(log_file.read_text(errors="replace"), file=sys.stderr, end="")
            print(f"the control plane did not start (log: {log_file})", file=sys.stderr)
            return 1
        time.sleep(0.1)
    supervisor.terminate()
    print(f"the control plane was not ready within {timeout:.0f}s (log: {log_file})", file=sys.stderr)
    return 1


def _serve(with_scheduler: bool, with_kwok: bool, controllers: str) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ControlPlane(
        with_scheduler=with_scheduler,
        with_kwok=with_kwok,
        controllers=_names(controllers),
        log=print,
    ) as cp:
        state = {
            "pid": os.getpid(),
            "kubeconfig": str(cp.kubeconfig),
            "server": cp.server,
            "ca_file": str(cp.ca_file),
            "release": cp.release,
            "dir": str(cp.dir),
        }
        tmp = _state_file().with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(_state_file())
        try:
            while not stop.wait(1.0):
                pass
        finally:
            _state_file().unlink(missing_ok=True)
    return 0


def _down(timeout: float) -> int:
    state = _read_state()
    if state is None:
        print("no control plane is running", file=sys.stderr)
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        # The kernel kills its children with it (they die with their parent).
        os.kill(pid, signal.SIGKILL)
    _state_file().unlink(missing_ok=True)
    print(f"stopped the control plane (pid {pid})", file=sys.stderr)
    return 0


def _env() -> int:
    state = _read_state()
    if state is None:
        print("no control plane is running: start one with `python -m kcore.testenv up`", file=sys.stderr)
        return 1
    print(_env_line(state))
    return 0


def _names(controllers: str) -> list[str]:
    return [name for name in controllers.split(",") if name]


def _build(with_kwok: bool, with_controller_manager: bool) -> int:
    binaries = ensure_binaries(log=lambda m: print(m, file=sys.stderr))
    print(f"control plane {binaries.release}: {binaries.kube_apiserver.parent}", file=sys.stderr)
    if with_kwok:
        print(f"kwok: {ensure_kwok(log=lambda m: print(m, file=sys.stderr)).binary}", file=sys.stderr)
    if with_controller_manager:
        print(
            f"kube-controller-manager: {ensure_controller_manager(log=lambda m: print(m, file=sys.stderr))}",
            file=sys.stderr,
        )
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kcore.testenv", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a control plane in the background; prints KUBECONFIG=<path> last")
    up.add_argument("--with-scheduler", action="store_true", help="also run kube-scheduler")
    up.add_argument("--with-kwok", action="store_true", help="also run kwok: annotated nodes become fake kubelets")
    up.add_argument(
        "--controllers",
        default="",
        metavar="NAMES",
        help="also run kube-controller-manager with only these controllers (comma-separated, e.g. replicaset)",
    )
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for readiness")
    down = commands.add_parser("down", help="stop the control plane that `up` started")
    down.add_argument("--timeout", type=float, default=30.0)
    commands.add_parser("env", help="print KUBECONFIG=<path> of the running control plane")
    build = commands.add_parser("build", help="build (or find cached) kube-apiserver, kube-scheduler and etcd")
    build.add_argument("--kwok", action="store_true", help="also build kwok (simulated kubelets)")
    build.add_argument("--controller-manager", action="store_true", help="also build kube-controller-manager")
    serve = commands.add_parser("serve", help=argparse.SUPPRESS)  # the supervisor `up` starts
    serve.add_argument("--with-scheduler", action="store_true")
    serve.add_argument("--with-kwok", action="store_true")
    serve.add_argument("--controllers", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return _up(args.with_scheduler, args.with_kwok, args.controllers, args.timeout)
        if args.command == "down":
            return _down(args.timeout)
        if args.command == "env":
            return _env()
        if args.command == "build":
            return _build(args.kwok, args.controller_manager)
        return _serve(args.with_scheduler, args.with_kwok, args.controllers)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
