//! Durations cross the boundary as float seconds (Python's convention) and live inside as signed
//! nanoseconds, like Go's time.Duration, so rate-limiter arithmetic rounds where client-go's does.
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Seconds to nanoseconds, saturating like a Duration; NaN is an error.
pub(crate) fn nanos(seconds: f64, what: &str) -> PyResult<i64> {
    if seconds.is_nan() {
        return Err(PyValueError::new_err(format!(
            "{what} must be a number of seconds, not NaN"
        )));
    }
    // `as` saturates at the i64 range, infinities included.
    Ok((seconds * 1e9).round() as i64)
}

/// Seconds from nanoseconds, computed as Go's Duration.Seconds() does.
pub(crate) fn seconds(nanos: i64) -> f64 {
    (nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 / 1e9
}

/// Like `nanos`, for arguments that must not be negative.
pub(crate) fn non_negative_nanos(seconds: f64, what: &str) -> PyResult<i64> {
    let n = nanos(seconds, what)?;
    if n < 0 {
        return Err(PyValueError::new_err(format!(
            "{what} must not be negative, got {seconds}"
        )));
    }
    Ok(n)
}
