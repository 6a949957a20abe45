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

/// A read whose connection broke under it (reset, EOF, HTTP/2 connection lost) is tried again, as
/// client-go does for GET; a write may have happened, and a refused connection is an answer.
pub fn retry_transport_error(method: &Method, error: &reqwest::Error) -> Option<Duration> {
    let read = *method == Method::GET || *method == Method::HEAD;
    if read && !error.is_connect() && !error.is_timeout() && (error.is_request() || error.is_body()) {
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
        assert_eq!(
            retry_after(StatusCode::TOO_MANY_REQUESTS, &headers),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, &headers),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn no_retry_without_an_integer_retry_after_or_for_client_errors() {
        assert_eq!(retry_after(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new()), None);
        assert_eq!(
            retry_after(StatusCode::SERVICE_UNAVAILABLE, &with_retry_after("soon")),
            None
        );
        assert_eq!(retry_after(StatusCode::CONFLICT, &with_retry_after("1")), None);
    }
}
