"""Coverage-guided fuzzing of kcore.codec's decoders with atheris (libFuzzer).

    python fuzz/fuzz_codec.py /tmp/found fuzz/corpus -max_total_time=20     # the short run (CI)
    python fuzz/fuzz_codec.py /tmp/found fuzz/corpus -max_total_time=3600   # the long run

(see fuzz/README.md).
A crash or an exception other than DecodeError stops it with the input saved as crash-*; add
that input to fuzz/corpus/ (tests/unit/test_codec_fuzz_corpus.py replays every file there).
The corpus seeds come from fuzz/seeds.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from fuzz.harness import run_one


def main() -> None:
    atheris.Setup(sys.argv, run_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
