"""Leader election candidates as processes on one Lease: client-go's own LeaderElector (v0.37.2,
GoCandidate) and kcore's (KcoreCandidate, tests/e2e/leader_election_candidate.py), driven alike.

The Go side is tests/e2e/leader_election_upstream, its own Go module, built with GOWORK=off into
~/.cache/kcore/leader_election_upstream-<hash of its sources>: a binary already built from the
same sources is reused, across processes and runs.

    with GoCandidate(kubeconfig, name="lock", identity="go-1", release_on_cancel=True) as go:
        go.wait_for("started")
        go.stop()                      # closes stdin: the election's context ends, then it exits
        # go.terminate(): SIGTERM, the same; go.kill(): SIGKILL, no release, no callback

``events`` holds each callback as ``{"event": "started" | "stopped" | "new_leader" | "exited",
"identity": ..., "at": RFC 3339}`` plus ``"seen"``, this process's time.monotonic() on arrival.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Deque, Optional, Union

from tests.go_driver_build import build_go_driver

GO_MODULE = Path(__file__).parent / "leader_election_upstream"
ROOT = Path(__file__).resolve().parents[2]

PathLike = Union[str, "os.PathLike[str]"]


def build() -> Path:
    """The driver's binary, built only if no binary of these sources is cached yet."""
    return build_go_driver(GO_MODULE, "the leader election driver (it builds client-go's LeaderElector)")


def election_args(
    kubeconfig: PathLike,
    *,
    name: str,
    identity: str,
    namespace: str,
    lease_duration: float,
    renew_deadline: float,
    retry_period: float,
    release_on_cancel: bool,
) -> list[str]:
    """The flags both candidate programs take."""
    return [
        f"-kubeconfig={os.fspath(kubeconfig)}",
        f"-namespace={namespace}",
        f"-name={name}",
        f"-identity={identity}",
        f"-lease-duration={round(lease_duration * 1e9)}ns",
        f"-renew-deadline={round(renew_deadline * 1e9)}ns",
        f"-retry-period={round(retry_period * 1e9)}ns",
        f"-release-on-cancel={str(release_on_cancel).lower()}",
    ]


class Candidate:
    """A candidate process on one Lease, for the ``with`` block (killed on leaving it if still
    running): client-go's (GoCandidate) or kcore's (KcoreCandidate), both speaking the protocol
    of tests/e2e/leader_election_upstream."""

    def __init__(self, identity: str, args: list[str]) -> None:
        self.identity = identity
        self.args = args
        self.events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._stderr: Deque[str] = collections.deque(maxlen=200)
        self.process: Optional[subprocess.Popen[str]] = None

    def __enter__(self) -> "Candidate":
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            event = {**json.loads(line), "seen": time.monotonic()}
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_for(self, event: str, identity: Optional[str] = None, timeout: float = 30.0) -> dict[str, Any]:
        """The first ``event`` (for new_leader: naming ``identity``), waiting for it if need be."""

        def found() -> Optional[dict[str, Any]]:
            return next(
                (e for e in self.events if e["event"] == event and (identity is None or e.get("identity") == identity)),
                None,
            )

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(
                    f"{self.identity}: no {event} {identity or ''} within {timeout} s; "
                    f"events {self.events}\n{self.stderr}"
                )
            result = found()
            assert result is not None
            return result

    def stop(self, timeout: float = 30.0) -> int:
        """Close stdin (the election's context ends: a release with -release-on-cancel) and wait
        for the exit code."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM: as ``stop``, the way a pod is told to go."""
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no release, no callback; the Lease is left to expire."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()


class GoCandidate(Candidate):
    """client-go's LeaderElector (tests/e2e/leader_election_upstream)."""

    def __init__(
        self,
        kubeconfig: PathLike,
        *,
        name: str,
        identity: str,
        namespace: str = "default",
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        release_on_cancel: bool = False,
    ) -> None:
        super().__init__(
            identity,
            [
                str(build()),
                *election_args(
                    kubeconfig,
                    name=name,
                    identity=identity,
                    namespace=namespace,
                    lease_duration=lease_duration,
                    renew_deadline=renew_deadline,
                    retry_period=retry_period,
                    release_on_cancel=release_on_cancel,
                ),
            ],
        )


class KcoreCandidate(Candidate):
    """kcore's LeaderElector (tests/e2e/leader_election_candidate.py), its asyncio twin with
    ``asyncio=True``."""

    def __init__(
        self,
        kubeconfig: PathLike,
        *,
        name: str,
        identity: str,
        namespace: str = "default",
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        release_on_cancel: bool = False,
        asyncio: bool = False,
    ) -> None:
        super().__init__(
            identity,
            [
                sys.executable,
                "-m",
                "tests.e2e.leader_election_candidate",
                *election_args(
                    kubeconfig,
                    name=name,
                    identity=identity,
                    namespace=namespace,
                    lease_duration=lease_duration,
                    renew_deadline=renew_deadline,
                    retry_period=retry_period,
                    release_on_cancel=release_on_cancel,
                ),
                f"-asyncio={str(asyncio).lower()}",
            ],
        )
