"""The fuzzing corpus (fuzz/corpus: valid, truncated and corrupt bodies and streams) replayed
through every decoder, and a short coverage-guided fuzzing run (fuzz/fuzz_codec.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fuzz.harness import run_one

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fuzz" / "corpus"


def test_every_corpus_input_decodes_or_raises_decode_error() -> None:
    inputs = sorted(CORPUS.iterdir())
    assert len(inputs) >= 50
    for path in inputs:
        run_one(path.read_bytes())  # anything but DecodeError propagates and fails the test


def test_a_short_fuzzing_run_finds_no_crash(tmp_path: Path) -> None:
    found = tmp_path / "found"
    found.mkdir()
    run = subprocess.run(
        [sys.executable, "fuzz/fuzz_codec.py", str(found), str(CORPUS), "-max_total_time=20", "-rss_limit_mb=2048",
         "-timeout=10", f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done" in run.stderr and not list(tmp_path.glob("crash-*"))
