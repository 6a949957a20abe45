"""A short coverage-guided fuzzing run of kcore.codec's decoders (``./dev fuzz``: cargo-fuzz,
libFuzzer and AddressSanitizer over the Rust decoders). The corpus it starts from, fuzz/corpus,
is replayed as a Rust unit test (rust/src/codec/fuzzing.rs) on every ``./dev test``."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(2400)  # the first run on a machine installs cargo-fuzz and builds with ASan
def test_a_short_fuzzing_run_with_coverage_from_the_rust_decoders_finds_no_crash(tmp_path: Path) -> None:
    # The inputs the run finds go under TMPDIR: pytest's own temporary folder, which it prunes.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.run(
        [str(ROOT / "dev"), "fuzz", "20"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=2300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert re.search(r"Done \d+ runs", run.stderr), run.stderr[-3000:]
    # libFuzzer's feedback comes from counters compiled into the decoders, not from Python.
    counters = re.search(r"Loaded 1 modules +\((\d+) inline 8-bit counters\)", run.stderr)
    assert counters and int(counters.group(1)) > 5000, run.stderr[:3000]
