//! kcore's workqueue core: client-go's util/workqueue in Rust. The Python API is kcore.workqueue.
mod default_rate_limiters;
mod delaying_queue;
mod duration;
mod item;
mod lock;
mod metrics;
mod queue;
mod rate_limiting_queue;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<queue::Queue>()?;
    m.add_class::<delaying_queue::DelayingQueue>()?;
    m.add_class::<rate_limiting_queue::RateLimitingQueue>()?;
    m.add_class::<metrics::QueueMetrics>()?;
    m.add_class::<default_rate_limiters::RateLimiter>()?;
    m.add_class::<default_rate_limiters::ItemExponentialFailureRateLimiter>()?;
    m.add_class::<default_rate_limiters::ItemFastSlowRateLimiter>()?;
    m.add_class::<default_rate_limiters::BucketRateLimiter>()?;
    m.add_class::<default_rate_limiters::MaxOfRateLimiter>()?;
    m.add_class::<default_rate_limiters::WithMaxWaitRateLimiter>()?;
    m.add_function(wrap_pyfunction!(
        default_rate_limiters::default_controller_rate_limiter,
        m
    )?)?;
    Ok(())
}
