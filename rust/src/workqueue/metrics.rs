//! client-go's workqueue metrics, counted in Rust and read by a prometheus-client Collector at
//! scrape time, so that a named queue pays a few plain stores per item rather than Python calls.
//!
//! Every write happens under the owning queue's lock, so counters use relaxed load-then-store
//! (no locked instructions); scrapes read without that lock and may be one item behind.
use crate::workqueue::duration::seconds;
use crate::workqueue::queue::Shared;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};

/// Upper bounds of the latency histograms: component-base's ExponentialBuckets(10e-9, 10, 10),
/// computed by the same repeated multiplication so the `le` labels match to the last bit.
fn bucket_bounds() -> [f64; 10] {
    let mut bounds = [0.0; 10];
    let mut bound = 10e-9;
    for b in &mut bounds {
        *b = bound;
        bound *= 10.0;
    }
    bounds
}

#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    fn bump(&self) {
        self.0.store(self.0.load(Relaxed) + 1, Relaxed);
    }
    fn read(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

struct Histogram {
    bounds: [f64; 10],
    /// Observations per bucket (not cumulative); the last is +Inf.
    counts: [Counter; 11],
    /// Sum of observations in seconds, as f64 bits.
    sum: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            bounds: bucket_bounds(),
            counts: Default::default(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    fn observe(&self, nanos: u64) {
        let value = seconds(nanos as i64);
        let bucket = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].bump();
        self.sum
            .store((f64::from_bits(self.sum.load(Relaxed)) + value).to_bits(), Relaxed);
    }

    fn snapshot(&self) -> (Vec<u64>, f64) {
        (
            self.counts.iter().map(Counter::read).collect(),
            f64::from_bits(self.sum.load(Relaxed)),
        )
    }
}

/// The metrics of one named queue.
pub(crate) struct Metrics {
    adds: Counter,
    gets: Counter,
    retries: Counter,
    latency: Histogram,
    work: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Metrics {
            adds: Counter::default(),
            gets: Counter::default(),
            retries: Counter::default(),
            latency: Histogram::new(),
            work: Histogram::new(),
        }
    }

    /// An item became dirty (client-go: depth up, adds up).
    pub(crate) fn add(&self) {
        self.adds.bump();
    }

    /// An item was handed out after `waited` ns in the queue (depth down, queue duration).
    pub(crate) fn get(&self, waited: u64) {
        self.gets.bump();
        self.latency.observe(waited);
    }

    /// An item's processing took `worked` ns.
    pub(crate) fn done(&self, worked: u64) {
        self.work.observe(worked);
    }

    /// AddAfter was called (retries_total).
    pub(crate) fn retry(&self) {
        self.retries.bump();
    }
}

/// Read side of one named queue's metrics, for kcore.workqueue's Collector. It outlives the queue
/// so counters never go backwards when a queue is dropped.
#[pyclass(frozen, module = "kcore._core")]
pub struct QueueMetrics {
    pub(crate) name: String,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) queue: Weak<Shared>,
}

#[pymethods]
impl QueueMetrics {
    /// The queue's name: the `name` label.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Whether the queue still exists (a Collector folds dead queues into running totals).
    fn alive(&self) -> bool {
        self.queue.strong_count() > 0
    }

    /// The upper bounds of both histograms' buckets (without +Inf).
    #[staticmethod]
    fn bucket_bounds() -> Vec<f64> {
        bucket_bounds().to_vec()
    }

    /// `(depth, adds, retries, (queue_buckets, queue_sum), (work_buckets, work_sum),
    /// unfinished_work_seconds, longest_running_processor_seconds)`, buckets not cumulative with
    /// +Inf last. The two gauges are computed now from the items in processing.
    fn snapshot(&self, py: Python<'_>) -> PyResult<QueueSnapshot> {
        let m = &self.metrics;
        let (unfinished, longest) = match self.queue.upgrade() {
            Some(queue) => queue.unfinished_work(py)?,
            None => (0.0, 0.0),
        };
        let gets = m.gets.read();
        let adds = m.adds.read();
        Ok((
            adds.saturating_sub(gets),
            adds,
            m.retries.read(),
            m.latency.snapshot(),
            m.work.snapshot(),
            unfinished,
            longest,
        ))
    }
}

type QueueSnapshot = (u64, u64, u64, (Vec<u64>, f64), (Vec<u64>, f64), f64, f64);
