"""Progress of a long set-up step: which step, time so far, and how many packages were built.

The first Go build of the control plane takes minutes; so do kwok's and the release build of
kcore._core. A newcomer must see that they are alive: on a terminal one line rewritten in place
(``building kwok v0.8.0: 1m12s, 214 packages``), elsewhere (CI logs) a plain line every 30 s.
The count is of the lines the tool prints per package built (``go build -v`` prints each
package's path, cargo a ``Compiling`` line per crate).

It imports nothing from kcore, so ``./dev`` runs it as a script before kcore._core is built::

    python progress.py "building kcore._core" --count '^\\s*Compiling ' --unit crates -- maturin develop --release
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
from collections import deque
from typing import IO, Callable, Optional, Sequence

GO_PACKAGE_LINE = r"^[\w.~-]+(/[\w.~-]+)*$"
"""What ``go build -v`` prints for each package it compiles: the bare import path."""
CARGO_CRATE_LINE = r"^\s*Compiling "

TERMINAL_REFRESH = 1.0
LOG_INTERVAL = 30.0
QUIET_FOR = 5.0
"""A step that ends sooner says nothing: a cached build should not add lines to every run."""


def elapsed_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Counts a tool's output lines and says, now and then, how far the step has come."""

    def __init__(
        self,
        step: str,
        *,
        count: Optional[str] = None,
        unit: str = "packages",
        stream: IO[str] = sys.stderr,
        terminal: Optional[bool] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.step = step
        self.built = 0
        self._count = re.compile(count) if count else None
        self._unit = unit
        self._stream = stream
        self._terminal = stream.isatty() if terminal is None else terminal
        self._clock = clock
        self._started = clock()
        self._next_report = self._started + (QUIET_FOR if self._terminal else LOG_INTERVAL)
        self._reported = False

    def status(self) -> str:
        text = f"{self.step}: {elapsed_text(self._clock() - self._started)}"
        return f"{text}, {self.built} {self._unit}" if self._count else text

    def line(self, text: str) -> None:
        """One line of the tool's output."""
        if self._count is not None and self._count.search(text):
            self.built += 1

    def tick(self) -> None:
        """Report if one is due (called about once a second)."""
        now = self._clock()
        if now < self._next_report:
            return
        if self._terminal:
            self._stream.write(f"\r\033[K{self.status()}")
            self._next_report = now + TERMINAL_REFRESH
        else:
            self._stream.write(f"{self.status()}\n")
            self._next_report = now + LOG_INTERVAL
        self._stream.flush()
        self._reported = True

    def finish(self, ok: bool) -> None:
        """The closing line, for a step long enough to have reported (or one that failed)."""
        if ok and not self._reported:
            return
        prefix = "\r\033[K" if self._terminal and self._reported else ""
        self._stream.write(f"{prefix}{self.status()}, {'done' if ok else 'failed'}\n")
        self._stream.flush()


def run(
    step: str,
    argv: Sequence[str],
    *,
    count: Optional[str] = None,
    unit: str = "packages",
    cwd: Optional[str] = None,
    env: Optional[dict[str, str]] = None,
    stream: IO[str] = sys.stderr,
    keep: int = 30,
) -> tuple[int, str]:
    """Run ``argv`` (stdout and stderr merged) showing its progress; its exit code and the last
    ``keep`` lines of its output, for the error message when it fails."""
    progress = Progress(step, count=count, unit=unit, stream=stream)
    tail: deque[str] = deque(maxlen=keep)
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    done = threading.Event()

    def report() -> None:
        while not done.wait(TERMINAL_REFRESH):
            progress.tick()

    reporter = threading.Thread(target=report, name="progress", daemon=True)
    reporter.start()
    try:
        for text in process.stdout:
            text = text.rstrip("\n")
            tail.append(text)
            progress.line(text)
        code = process.wait()
    finally:
        done.set()
        reporter.join()
        if process.poll() is None:
            process.kill()
            process.wait()
    progress.finish(code == 0)
    return code, "\n".join(tail)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="run a command, showing its progress; its output is shown only if it fails"
    )
    parser.add_argument("step", help="what the command does, e.g. 'building kcore._core'")
    parser.add_argument("--count", help="a regular expression matching the output lines to count")
    parser.add_argument("--unit", default="packages", help="what the counted lines are")
    parser.usage = "%(prog)s STEP [--count REGEX] [--unit UNIT] -- COMMAND ..."
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("no command given after --")
    split = argv.index("--")
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    code, tail = run(args.step, command, count=args.count, unit=args.unit)
    if code != 0:
        print(f"{args.step} failed (exit {code}); its output ends with:\n{tail}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
