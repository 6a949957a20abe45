//! client-go's rest client metrics, counted here for every transport in the process (client-go's
//! are process-wide too) and read by a prometheus-client Collector at scrape time.
//!
//! What is counted where, as in client-go's rest.Request: every attempt, retries included, in
//! `rest_client_requests_total{code,method,host}` ("<error>" when no answer came); attempts after
//! the first in `rest_client_request_retries_total{code,verb,host}`; each wait for the client-side
//! rate limiter in `rest_client_rate_limiter_duration_seconds{verb,host}`; a whole request (waits,
//! retries, body) in `rest_client_request_duration_seconds{verb,host}` -- not streams, which
//! client-go's Watch and Stream do not observe either.
use parking_lot::Mutex;
use pyo3::prelude::*;
use reqwest::Method;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// component-base's buckets for both latency histograms.
pub const LATENCY_BUCKETS: [f64; 12] = [0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0];

/// `None`: the attempt got no HTTP answer.
pub type Code = Option<u16>;

#[derive(Clone, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative); the last is +Inf.
    counts: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let value = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.counts[bucket] += 1;
        self.sum += value;
    }
}

#[derive(Default)]
struct Counts {
    requests: HashMap<(Code, Method, Arc<str>), u64>,
    retries: HashMap<(Code, Method, Arc<str>), u64>,
    request_duration: HashMap<(Method, Arc<str>), Histogram>,
    rate_limiter_duration: HashMap<(Method, Arc<str>), Histogram>,
}

static COUNTS: Mutex<Option<Counts>> = Mutex::new(None);

fn with_counts(update: impl FnOnce(&mut Counts)) {
    update(COUNTS.lock().get_or_insert_with(Counts::default));
}

/// One attempt's outcome; `retry` for every attempt after a request's first.
pub fn attempt(code: Code, method: &Method, host: &Arc<str>, retry: bool) {
    with_counts(|c| {
        *c.requests.entry((code, method.clone(), host.clone())).or_default() += 1;
        if retry {
            *c.retries.entry((code, method.clone(), host.clone())).or_default() += 1;
        }
    });
}

pub fn rate_limiter_waited(method: &Method, host: &Arc<str>, took: Duration) {
    with_counts(|c| {
        c.rate_limiter_duration
            .entry((method.clone(), host.clone()))
            .or_default()
            .observe(took)
    });
}

pub fn request_took(method: &Method, host: &Arc<str>, took: Duration) {
    with_counts(|c| {
        c.request_duration
            .entry((method.clone(), host.clone()))
            .or_default()
            .observe(took)
    });
}

fn code_label(code: Code) -> String {
    code.map_or_else(|| "<error>".to_owned(), |c| c.to_string())
}

type CounterRows = Vec<(String, String, String, u64)>;
type HistogramRows = Vec<(String, String, Vec<u64>, f64)>;

fn counter_rows(counts: &HashMap<(Code, Method, Arc<str>), u64>) -> CounterRows {
    let mut rows: CounterRows = counts
        .iter()
        .map(|((code, method, host), n)| (code_label(*code), method.to_string(), host.to_string(), *n))
        .collect();
    rows.sort();
    rows
}

fn histogram_rows(histograms: &HashMap<(Method, Arc<str>), Histogram>) -> HistogramRows {
    let mut rows: HistogramRows = histograms
        .iter()
        .map(|((method, host), h)| (method.to_string(), host.to_string(), h.counts.to_vec(), h.sum))
        .collect();
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}

/// Everything counted so far: (requests, retries, request durations, rate limiter waits), rows
/// of (code, method, host, count) and (verb, host, per-bucket counts, sum), sorted.
#[pyfunction]
pub fn rest_client_metrics() -> (CounterRows, CounterRows, HistogramRows, HistogramRows) {
    let guard = COUNTS.lock();
    match guard.as_ref() {
        None => Default::default(),
        Some(c) => (
            counter_rows(&c.requests),
            counter_rows(&c.retries),
            histogram_rows(&c.request_duration),
            histogram_rows(&c.rate_limiter_duration),
        ),
    }
}

/// The upper bounds of the latency histograms' buckets (without +Inf).
#[pyfunction]
pub fn rest_client_latency_buckets() -> Vec<f64> {
    LATENCY_BUCKETS.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_lands_in_the_first_bucket_whose_bound_it_does_not_exceed() {
        let mut h = Histogram::default();
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(6));
        h.observe(Duration::from_secs(61));
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[LATENCY_BUCKETS.len()], 1);
        assert!((h.sum - 61.011).abs() < 1e-9);
    }
}
