//! The rate-limiting queue (client-go util/workqueue/rate_limiting_queue.go): add_rate_limited is
//! add_after with the limiter's delay; forget and num_requeues go to the limiter.
use crate::workqueue::default_rate_limiters::Limiter;
use crate::workqueue::delaying_queue::{add_after, DelayingQueue};
use pyo3::prelude::*;

#[pyclass(extends = DelayingQueue, subclass, frozen, module = "kcore._core")]
pub struct RateLimitingQueue {
    limiter: Limiter,
}

#[pymethods]
impl RateLimitingQueue {
    /// `rate_limiter` None means a new default_controller_rate_limiter().
    #[new]
    #[pyo3(signature = (rate_limiter=None, name=None))]
    fn new(
        py: Python<'_>,
        rate_limiter: Option<&Bound<'_, PyAny>>,
        name: Option<String>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let limiter = match rate_limiter {
            Some(obj) => Limiter::from_object(obj)?,
            None => Limiter::default_controller(),
        };
        Ok(DelayingQueue::create(py, name)?.add_subclass(RateLimitingQueue { limiter }))
    }

    /// Adds `item` after the delay the rate limiter gives it (which counts a failure).
    fn add_rate_limited(slf: &Bound<'_, Self>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let delay = slf.get().limiter.when(py, item)?;
        add_after(py, &slf.as_super().as_super().get().shared, item, delay)
    }

    /// The rate limiter stops tracking `item`; done() is still needed.
    fn forget(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        self.limiter.forget(py, item)
    }

    /// How many times `item` was requeued, as the rate limiter counts.
    fn num_requeues(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<u64> {
        self.limiter.num_requeues(py, item)
    }
}
