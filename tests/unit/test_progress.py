"""kcore.testenv.progress: a long set-up step says it is alive (step, time so far, packages built)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from kcore.testenv import progress
from kcore.testenv.progress import CARGO_CRATE_LINE, GO_PACKAGE_LINE, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_go_build_v_lines_count_as_packages_and_its_errors_do_not() -> None:
    p = Progress("building", count=GO_PACKAGE_LINE, stream=io.StringIO(), terminal=False)
    for line in [
        "k8s.io/api/core/v1",
        "go.etcd.io/etcd/server/v3",
        "fmt",
        "# k8s.io/foo",
        "./x.go:3:1: undefined: y",
        "go: downloading k8s.io/api v0.37.2",
    ]:
        p.line(line)
    assert p.built == 3


def test_cargo_compiling_lines_count_as_crates() -> None:
    p = Progress("building", count=CARGO_CRATE_LINE, unit="crates", stream=io.StringIO(), terminal=False)
    for line in ["   Compiling pyo3 v0.30.0", "    Finished `release` profile", "warning: unused"]:
        p.line(line)
    assert p.built == 1 and p.status().endswith("1 crates")


def test_in_a_log_a_plain_line_every_30_seconds_then_a_closing_line() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress("building kwok v0.8.0", count=GO_PACKAGE_LINE, stream=out, terminal=False, clock=clock)
    p.line("a/b")
    clock.now += 29
    p.tick()
    assert out.getvalue() == ""
    clock.now += 1
    p.tick()
    p.tick()
    clock.now += 65
    p.line("c/d")
    p.tick()
    p.finish(ok=True)
    assert out.getvalue().splitlines() == [
        "building kwok v0.8.0: 30s, 1 packages",
        "building kwok v0.8.0: 1m35s, 2 packages",
        "building kwok v0.8.0: 1m35s, 2 packages, done",
    ]


def test_on_a_terminal_one_line_is_rewritten_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    p = Progress("building", stream=out, terminal=True, clock=clock)
    clock.now += 6
    p.tick()
    clock.now += 1
    p.tick()
    p.finish(ok=True)
    assert out.getvalue() == "\r\033[Kbuilding: 6s\r\033[Kbuilding: 7s\r\033[Kbuilding: 7s, done\n"


def test_a_step_that_ends_quickly_says_nothing_unless_it_failed() -> None:
    quiet, failed = io.StringIO(), io.StringIO()
    Progress("cached", stream=quiet, terminal=False).finish(ok=True)
    Progress("broken", stream=failed, terminal=False).finish(ok=False)
    assert quiet.getvalue() == ""
    assert failed.getvalue() == "broken: 0s, failed\n"


def test_run_returns_the_exit_code_and_the_last_lines_of_output() -> None:
    code, tail = progress.run(
        "step",
        [sys.executable, "-c", "import sys\nfor i in range(50): print(i)\nsys.exit(3)"],
        stream=io.StringIO(),
        keep=3,
    )
    assert (code, tail) == (3, "47\n48\n49")


def test_as_a_script_it_needs_no_kcore_and_shows_a_failed_commands_output(tmp_path: Path) -> None:
    script = Path(progress.__file__)
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            str(script),
            "building it",
            "--",
            sys.executable,
            "-c",
            "print('boom'); raise SystemExit(2)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "building it: 0s, failed",
        "building it failed (exit 2); its output ends with:",
        "boom",
    ]
