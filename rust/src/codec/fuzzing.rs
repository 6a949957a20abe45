//! One fuzz input through one of the decoders, for the cargo-fuzz target in fuzz/ (which builds
//! with `--cfg fuzzing`) and for the unit test that replays fuzz/corpus. The first byte picks
//! the decoder (and the chunk size for watch streams; fuzz/seeds.py writes the same format), the
//! rest is the body. Bad input must end in DecodeError; anything else panics, which libFuzzer
//! reports as a finding.
use super::watch::WatchDecoder;
use super::{decode, decode_compact};
use crate::errors::decode_error_class;
use pyo3::prelude::*;

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// fuzz/seeds.py's MODES, in the same order.
const MODES: [&str; 7] = [
    "decode protobuf",
    "decode json",
    "compact protobuf",
    "compact json",
    "watch protobuf",
    "watch json",
    "compact watch protobuf",
];

pub fn run_one(data: &[u8]) {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let mode = MODES[first as usize % MODES.len()];
    let ctype = if mode.contains("protobuf") { PROTOBUF } else { JSON };
    // Compact objects are written with managedFields left out on every other input.
    let strip = first as usize / MODES.len() % 2 == 1;
    Python::attach(|py| {
        let out: PyResult<()> = (|| {
            if mode.starts_with("decode") {
                decode(py, body, ctype)?;
            } else if !mode.contains("watch") {
                // Reading the whole object back materializes every nested value.
                decode_compact(py, body, ctype, strip)?.bind(py).repr()?;
            } else {
                let mut decoder = WatchDecoder::new(ctype, mode.starts_with("compact"), strip)?;
                let step = 1 + first as usize / MODES.len();
                for chunk in body.chunks(step) {
                    for (_, obj) in decoder.feed(py, chunk)? {
                        obj.bind(py).repr()?;
                    }
                }
                decoder.close()?;
            }
            Ok(())
        })();
        if let Err(e) = out {
            assert!(
                e.matches(py, decode_error_class(py)).unwrap_or(false),
                "{mode}: not a DecodeError: {e}"
            );
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_corpus_input_decodes_or_raises_decode_error() {
        pyo3::Python::initialize();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).expect("fuzz/corpus") {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            // A panic names the input: the test harness prints this message after it.
            let name = path.display().to_string();
            std::panic::catch_unwind(|| super::run_one(&data)).unwrap_or_else(|_| panic!("{name}"));
            count += 1;
        }
        assert!(count >= 50, "{count} corpus inputs in {}", dir.display());
    }
}
