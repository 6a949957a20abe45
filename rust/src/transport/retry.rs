//! When a request is tried again, as client-go's rest client does it.
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::time::Duration;

/// 429 and 5xx answers are retried only when the server says when: an integer Retry-After.
pub fn retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
        return None;
    }
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// A connection that failed before the request went out is safe to retry for any verb; one
/// that broke later (reset, EOF, HTTP/2 connection lost) only for reads.
pub fn retry_transport_error(method: &Method, error: &reqwest::Error) -> Option<Duration> {
    let idempotent = *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS;
    if error.is_connect() || (idempotent && (error.is_request() || error.is_body())) {
        Some(Duration::from_secs(1))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn throttled_and_server_errors_wait_the_integer_retry_after() {
        let headers = with_retry_after("3");
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &headers), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers), Some(Duration::from_secs(3)));
    }

    #[test]
    fn no_retry_without_an_integer_retry_after_or_for_client_errors() {
        assert_eq!(retry_after(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new()), None);
        assert_eq!(retry_after(StatusCode::SERVICE_UNAVAILABLE, &with_retry_after("soon")), None);
        assert_eq!(retry_after(StatusCode::CONFLICT, &with_retry_after("1")), None);
    }
}
