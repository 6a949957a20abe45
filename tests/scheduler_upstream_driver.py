"""kube-scheduler's own framework runtime (k8s.io/kubernetes v1.37.2) as a subprocess, to compare
kcore.scheduler with it.

The Go side is tests/scheduler_upstream, its own Go module, built by tests/go_driver_build.py. ``UpstreamScheduler().run(cases)`` sends each case ({"nodes", "pods", "pod",
"profile": {"filters", "scores", "pluginConfig"}}) and returns the driver's answers in order:
``{"filter": {node: None | {"plugin", "code", "reasons"}}, "scores": {plugin: {node: score}},
"total": {node: total}}``, or ``{"error": "..."}`` for a case the framework refused. A case with
"pending" pods and "repeats" is timed instead (bench/scheduler.py; see the driver's timed.go).
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Dict, Iterable, List, Optional, Type

from kcore.scheduler import Profile
from kcore.scheduler.profile import DEFAULT_WEIGHTS, FILTERS
from tests.go_driver_build import build_go_driver

GO_MODULE = Path(__file__).parent / "scheduler_upstream"


def build() -> Path:
    """The driver's binary (built once per version of its sources)."""
    return build_go_driver(GO_MODULE, "the scheduler driver (it builds kube-scheduler's framework)")


def upstream_default(profile: Profile) -> Dict[str, Any]:
    """The driver's profile for a built-in one: kube-scheduler's own defaults (plugins, order,
    weights) keeping only the plugins kcore has, with the built-in profile's plugin args."""
    return {
        "default": True,
        "name": profile.name,
        "keep": sorted(set(FILTERS) | set(DEFAULT_WEIGHTS)),
        "filters": [],
        "scores": [],
        "pluginConfig": [{"name": n, "args": a} for n, a in profile.plugin_args.items()],
    }


class UpstreamScheduler:
    """The driver process, for the ``with`` block."""

    def __init__(self) -> None:
        self.process: Optional["subprocess.Popen[str]"] = None

    def __enter__(self) -> "UpstreamScheduler":
        self.process = subprocess.Popen(
            [str(build())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        assert self.process is not None
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def run(self, cases: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """The answers to ``cases``, in order (written from a thread while they are read, so
        that neither pipe fills)."""
        process = self.process
        assert process is not None and process.stdin and process.stdout
        lines = [json.dumps(c) for c in cases]

        def write() -> None:
            assert process.stdin
            for line in lines:
                process.stdin.write(line + "\n")
            process.stdin.flush()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        answers = []
        for _ in lines:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(
                    f"scheduler_upstream exited early:\n{process.stderr.read() if process.stderr else ''}"
                )
            answers.append(json.loads(line))
        writer.join()
        return answers
