//! `kcore._core`: the Rust half of kcore. Everything here is private; the public API lives in
//! the Python package `kcore`, which wraps these types.
use pyo3::prelude::*;

mod codec;
mod errors;
mod informer;
mod scheduler;
#[cfg(fuzzing)]
pub use codec::fuzzing::run_one as fuzz_codec;
#[cfg(feature = "transport")]
mod transport;
mod workqueue;

/// Version of the compiled core, checked against the Python package's version at import.
#[pyfunction]
fn core_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(core_version, m)?)?;
    errors::register(m)?;
    codec::register(m)?;
    #[cfg(feature = "transport")]
    transport::register(m)?;
    workqueue::register(m)?;
    informer::register(m)?;
    scheduler::register(m)?;
    Ok(())
}
