//! Every kcore.codec decoder on fuzzed input (the decoder picked by the first byte, as in
//! fuzz/harness.py), with coverage feedback from the Rust decoders themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        pyo3::Python::initialize();
    },
    |data: &[u8]| _core::fuzz_codec(data)
);
