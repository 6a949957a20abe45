"""Fuzzing kcore.codec's decoders (see fuzz/README.md)."""
