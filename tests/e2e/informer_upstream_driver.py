"""client-go's own SharedInformer (v0.37.2) as a subprocess, to compare kcore's informer with it.

The Go side is tests/e2e/informer_upstream, its own Go module, built here with GOWORK=off into
~/.cache/kcore. Two uses:

- ``RecordingInformer``: every handler call of client-go's informer as a dict, in order:
  ``{"handler": "add", "key": "ns/name", "rv": "123", "initial": True}``,
  ``{"handler": "update", "key": "ns/name", "old_rv": "122", "rv": "123"}``,
  ``{"handler": "delete", "key": "ns/name", "rv": "123", "tombstone": False}``
  (``tombstone`` when the handler got a DeletedFinalStateUnknown: ``key`` is its Key, ``rv`` the
  resourceVersion of the object inside, "" if none).
- ``bench``: client-go's time from Start to HasSynced and its memory once synced.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, Deque, Dict, List, Optional, Type, Union

GO_MODULE = Path(__file__).parent / "informer_upstream"
BINARY = Path.home() / ".cache" / "kcore" / "informer_upstream"

Call = Dict[str, Any]
PathLike = Union[str, "os.PathLike[str]"]

_built: Optional[Path] = None
_build_lock = threading.Lock()


def build() -> Path:
    """Build the driver (once per process; Go's build cache makes a rebuild take a second or two)
    and return the binary's path."""
    global _built
    with _build_lock:
        if _built is None:
            go = shutil.which("go")
            assert go, "the informer driver needs the Go toolchain on PATH (it builds client-go's informer)"
            BINARY.parent.mkdir(parents=True, exist_ok=True)
            # Build beside the binary and rename, so a driver already running elsewhere is unharmed.
            tmp = BINARY.with_name(f"{BINARY.name}.{os.getpid()}.tmp")
            done = subprocess.run(
                [go, "build", "-o", str(tmp), "."],
                cwd=GO_MODULE,
                env={**os.environ, "GOWORK": "off"},
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert done.returncode == 0, f"go build in {GO_MODULE} failed:\n{done.stderr}"
            os.replace(tmp, BINARY)
            _built = BINARY
        return _built


def _flags(
    kubeconfig: PathLike,
    mode: str,
    resource: str,
    namespace: str,
    resync: float,
    protobuf: bool,
    strip: bool,
) -> List[str]:
    return [
        f"-kubeconfig={os.fspath(kubeconfig)}",
        f"-mode={mode}",
        f"-resource={resource}",
        f"-namespace={namespace}",
        f"-resync={round(resync * 1e9)}ns",
        f"-protobuf={str(protobuf).lower()}",
        f"-strip-managed-fields={str(strip).lower()}",
    ]


class RecordingInformer:
    """client-go's informer in record mode, for the ``with`` block: ``calls`` grows as its handler
    is called. Leaving the block closes the driver's stdin, which stops the informer."""

    def __init__(
        self,
        kubeconfig: PathLike,
        *,
        resource: str = "configmaps",
        namespace: str = "",
        resync: float = 0.0,
        protobuf: bool = False,
        strip_managed_fields: bool = True,
        env: Optional[Dict[str, str]] = None,
    ) -> None:
        self.args = [
            str(build()),
            *_flags(kubeconfig, "record", resource, namespace, resync, protobuf, strip_managed_fields),
        ]
        self.env = {**os.environ, **(env or {})}  # e.g. KUBE_FEATURE_WatchListClient=false
        self._calls: List[Call] = []
        self._synced = False
        self._eof = False
        self._changed = threading.Condition()
        self._stderr: Deque[str] = collections.deque(maxlen=200)
        self._threads: List[threading.Thread] = []
        self.process: Optional[subprocess.Popen[str]] = None

    def __enter__(self) -> "RecordingInformer":
        self.process = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=self.env,
        )
        for target in (self._read_stdout, self._read_stderr):
            thread = threading.Thread(target=target, daemon=True, name=f"informer_upstream {target.__name__}")
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        code = self.stop()
        if exc_type is None and code != 0:
            raise RuntimeError(f"informer_upstream exited with {code}:\n{self.stderr}")

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """Close stdin (the driver then stops its factory and exits); kill it if it takes more than
        ``timeout`` seconds. Returns the exit code (negative: killed by that signal)."""
        process = self.process
        if process is None:
            return None
        if process.stdin and not process.stdin.closed:
            try:
                process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for thread in self._threads:
            thread.join(5)
        return process.returncode

    def _read_stdout(self) -> None:
        assert self.process and self.process.stdout
        for line in self.process.stdout:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            with self._changed:
                if record.get("synced"):
                    self._synced = True
                else:
                    self._calls.append(record)
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process and self.process.stderr
        for line in self.process.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        """The driver's last 200 lines of logs."""
        return "".join(self._stderr)

    @property
    def calls(self) -> List[Call]:
        """The handler calls so far, in order (a copy)."""
        with self._changed:
            return list(self._calls)

    @property
    def synced(self) -> bool:
        """True once the store has synced and the handler has returned from every initial add."""
        with self._changed:
            return self._synced

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if self._eof:
                    raise RuntimeError(f"informer_upstream exited before {what}:\n{self.stderr}")
                if left <= 0:
                    raise TimeoutError(
                        f"informer_upstream: no {what} in {timeout} s; calls: {self._calls}\n{self.stderr}"
                    )
                self._changed.wait(left)

    def wait_synced(self, timeout: float = 60.0) -> List[Call]:
        """Wait for the {"synced": true} line; returns the calls so far (the initial adds)."""
        self._wait(lambda: self._synced, timeout, "sync")
        return self.calls

    def wait_for(self, predicate: Callable[[List[Call]], Any], timeout: float = 30.0) -> List[Call]:
        """Wait until ``predicate(calls)`` is true; returns those calls."""
        self._wait(lambda: bool(predicate(list(self._calls))), timeout, "calls matching the predicate")
        return self.calls


def bench(
    kubeconfig: PathLike,
    resource: str = "configmaps",
    namespace: str = "",
    protobuf: bool = False,
    strip: bool = True,
    *,
    env: Optional[Dict[str, str]] = None,
    timeout: float = 900.0,
) -> Dict[str, Any]:
    """client-go's informer from Start to HasSynced: ``synced_seconds``, ``items`` in the store, and
    after two GCs ``heap_alloc``, ``heap_inuse``, ``sys`` (Go runtime MemStats) and ``rss``
    (VmRSS), all in bytes, each also as ``baseline_*``: measured the same way once the clientset
    existed, before the informer did."""
    args = [str(build()), *_flags(kubeconfig, "bench", resource, namespace, 0.0, protobuf, strip)]
    args.append(f"-sync-timeout={round(timeout * 1e9)}ns")
    done = subprocess.run(
        args,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise RuntimeError(f"informer_upstream bench exited with {done.returncode}:\n{done.stderr}")
    result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
