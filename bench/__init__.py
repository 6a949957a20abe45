"""kcore's benchmarks: side by side with the peers, in one run, on one machine. Never timed tests."""
