"""A child process of the control plane that can never outlive the process that started it."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Optional, Sequence

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # If the parent is killed outright (SIGKILL, a crash), the kernel kills this child too,
    # so a killed test run leaves no etcd or kube-apiserver behind.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: a plane
# restarted from a short-lived thread would lose its kube-apiserver with that thread. So every
# child is forked by this one thread, which lives as long as the process.
_forker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kcore-testenv-forker")


class ManagedProcess:
    """One binary, its output in ``log_file``, stopped by SIGTERM then SIGKILL."""

    def __init__(self, name: str, argv: Sequence[str], log_file: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self._popen: Optional[subprocess.Popen[bytes]] = None
        self._log: Optional[IO[bytes]] = None

    def start(self) -> None:
        self._log = open(self.log_file, "ab")
        self._popen = _forker.submit(
            subprocess.Popen,
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the terminal reaches only us, and we stop the
            # processes in order (API server before etcd) instead of all at once.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        ).result()

    @property
    def pid(self) -> Optional[int]:
        return self._popen.pid if self._popen else None

    def exit_code(self) -> Optional[int]:
        """None while running, else the exit status."""
        return self._popen.poll() if self._popen else None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        popen, self._popen = self._popen, None
        if popen is not None and popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
