//! client-go's rate limiters (util/workqueue/default_rate_limiters.go), evaluated in Rust, plus
//! an adapter so a limiter written in Python works anywhere a built-in one does (MaxOf included).
//! Delays are nanoseconds internally, float seconds at the boundary.
use crate::workqueue::duration::{nanos, non_negative_nanos, seconds};
use crate::workqueue::item::{self, Item};
use crate::workqueue::lock::PyLock;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// x/time/rate's InfDuration: what a bucket that can never grant a token answers.
const INF_DURATION: i64 = i64::MAX;

/// Failures per item, for the per-item limiters.
pub(crate) struct Failures(PyLock<HashTable<(Item, u64)>>);

impl Default for Failures {
    fn default() -> Self {
        Failures(PyLock::new(HashTable::new()))
    }
}

impl Failures {
    /// Increments the item's failure count, returning the count from before.
    fn bump(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<u64> {
        let hash = item::hash_of(obj)?;
        let mut table = self.0.lock(py)?;
        Ok(match item::entry(py, &mut table, obj, hash, |row| row.0.key())? {
            Entry::Occupied(mut e) => {
                e.get_mut().1 += 1;
                e.get().1 - 1
            }
            Entry::Vacant(v) => {
                v.insert((
                    Item {
                        hash,
                        obj: obj.clone().unbind(),
                    },
                    1,
                ));
                0
            }
        })
    }

    fn count(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<u64> {
        let hash = item::hash_of(obj)?;
        let mut table = self.0.lock(py)?;
        Ok(match item::entry(py, &mut table, obj, hash, |row| row.0.key())? {
            Entry::Occupied(e) => e.get().1,
            Entry::Vacant(_) => 0,
        })
    }

    fn forget(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let hash = item::hash_of(obj)?;
        let mut table = self.0.lock(py)?;
        if let Entry::Occupied(e) = item::entry(py, &mut table, obj, hash, |row| row.0.key())? {
            let (row, _) = e.remove();
            drop(table);
            drop(row); // its reference is released after unlocking: dropping may run Python code
        }
        Ok(())
    }
}

/// x/time/rate's Limiter, as far as Reserve().Delay() uses it.
pub(crate) struct Bucket {
    qps: f64,
    burst: u64,
    tokens: f64,
    last: Option<Instant>,
}

impl Bucket {
    fn reserve(&mut self, now: Instant) -> i64 {
        if self.qps == f64::INFINITY {
            return 0;
        }
        // The first call is measured from the zero time: the bucket starts full.
        let refill = match self.last {
            _ if self.qps <= 0.0 => 0.0,
            Some(last) => {
                seconds(now.saturating_duration_since(last).as_nanos().min(i64::MAX as u128) as i64) * self.qps
            }
            None => f64::INFINITY,
        };
        let tokens = (self.tokens + refill).min(self.burst as f64) - 1.0;
        let wait = if tokens >= 0.0 {
            0
        } else if self.qps <= 0.0 {
            INF_DURATION
        } else {
            let d = (-tokens / self.qps) * 1e9;
            if d > i64::MAX as f64 {
                INF_DURATION
            } else {
                d as i64
            }
        };
        if self.burst < 1 {
            return INF_DURATION; // a reservation of one token can never succeed
        }
        self.last = Some(now);
        self.tokens = tokens;
        wait
    }
}

#[derive(Clone)]
pub(crate) enum Limiter {
    Exponential {
        base: i64,
        max: i64,
        failures: Arc<Failures>,
    },
    FastSlow {
        fast: i64,
        slow: i64,
        max_fast: u64,
        failures: Arc<Failures>,
    },
    Bucket(Arc<Mutex<Bucket>>),
    MaxOf(Arc<[Limiter]>),
    MaxWait {
        limiter: Arc<Limiter>,
        max: i64,
    },
    Python(Arc<Py<PyAny>>),
}

impl Limiter {
    /// Wraps a rate limiter object: a built-in one is used directly, any other object needs
    /// when(item), forget(item) and num_requeues(item).
    pub(crate) fn from_object(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        if let Ok(builtin) = obj.cast::<RateLimiter>() {
            return Ok(builtin.get().limiter.clone());
        }
        for method in ["when", "forget", "num_requeues"] {
            if !obj.hasattr(method)? {
                return Err(PyTypeError::new_err(format!(
                    "a rate limiter needs when(item), forget(item) and num_requeues(item); {} has no {method}",
                    obj.get_type().name()?
                )));
            }
        }
        Ok(Limiter::Python(Arc::new(obj.clone().unbind())))
    }

    /// The delay before `item` may be retried, in ns.
    pub(crate) fn when(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<i64> {
        Ok(match self {
            Limiter::Exponential { base, max, failures } => {
                let exp = failures.bump(py, item)?;
                let backoff = *base as f64 * 2f64.powf(exp as f64);
                if backoff > i64::MAX as f64 {
                    *max
                } else {
                    (backoff as i64).min(*max)
                }
            }
            Limiter::FastSlow {
                fast,
                slow,
                max_fast,
                failures,
            } => {
                if failures.bump(py, item)? < *max_fast {
                    *fast
                } else {
                    *slow
                }
            }
            Limiter::Bucket(bucket) => bucket.lock().reserve(Instant::now()),
            Limiter::MaxOf(limiters) => {
                let mut worst = 0;
                for l in limiters.iter() {
                    worst = worst.max(l.when(py, item)?);
                }
                worst
            }
            Limiter::MaxWait { limiter, max } => limiter.when(py, item)?.min(*max),
            Limiter::Python(obj) => {
                let delay = obj.bind(py).call_method1("when", (item,))?;
                let secs: f64 = delay.extract().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "when() must return seconds as a number, got {}",
                        delay.repr().map(|r| r.to_string()).unwrap_or_default()
                    ))
                })?;
                nanos(secs, "the delay returned by when()")?
            }
        })
    }

    pub(crate) fn forget(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        match self {
            Limiter::Exponential { failures, .. } | Limiter::FastSlow { failures, .. } => failures.forget(py, item),
            Limiter::Bucket(_) => Ok(()),
            Limiter::MaxOf(limiters) => limiters.iter().try_for_each(|l| l.forget(py, item)),
            Limiter::MaxWait { limiter, .. } => limiter.forget(py, item),
            Limiter::Python(obj) => obj.bind(py).call_method1("forget", (item,)).map(drop),
        }
    }

    pub(crate) fn num_requeues(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<u64> {
        match self {
            Limiter::Exponential { failures, .. } | Limiter::FastSlow { failures, .. } => failures.count(py, item),
            Limiter::Bucket(_) => Ok(0),
            Limiter::MaxOf(limiters) => {
                let mut most = 0;
                for l in limiters.iter() {
                    most = most.max(l.num_requeues(py, item)?);
                }
                Ok(most)
            }
            Limiter::MaxWait { limiter, .. } => limiter.num_requeues(py, item),
            Limiter::Python(obj) => obj
                .bind(py)
                .call_method1("num_requeues", (item,))?
                .extract()
                .map_err(|_| PyTypeError::new_err("num_requeues() must return a non-negative int")),
        }
    }

    fn exponential(base: i64, max: i64) -> Self {
        Limiter::Exponential {
            base,
            max,
            failures: Arc::default(),
        }
    }

    fn bucket(qps: f64, burst: u64) -> Self {
        Limiter::Bucket(Arc::new(Mutex::new(Bucket {
            qps,
            burst,
            tokens: burst as f64,
            last: None,
        })))
    }

    /// client-go's DefaultControllerRateLimiter: MaxOf(Exponential(5 ms, 1000 s), Bucket(10 qps, 100)).
    pub(crate) fn default_controller() -> Self {
        Limiter::MaxOf(Arc::new([
            Limiter::exponential(5_000_000, 1_000_000_000_000),
            Limiter::bucket(10.0, 100),
        ]))
    }
}

/// The base of the built-in rate limiters; their state and logic live in `limiter`.
#[pyclass(subclass, frozen, module = "kcore._core")]
pub struct RateLimiter {
    pub(crate) limiter: Limiter,
}

#[pymethods]
impl RateLimiter {
    /// How long `item` should wait before it is retried, in seconds; counts a failure.
    fn when(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<f64> {
        Ok(seconds(self.limiter.when(py, item)?))
    }

    /// Stops tracking `item` (after success or giving up).
    fn forget(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        self.limiter.forget(py, item)
    }

    /// How many failures `item` has had.
    fn num_requeues(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<u64> {
        self.limiter.num_requeues(py, item)
    }
}

fn builtin(limiter: Limiter) -> PyClassInitializer<RateLimiter> {
    PyClassInitializer::from(RateLimiter { limiter })
}

/// base * 2^failures, capped at max.
#[pyclass(extends = RateLimiter, frozen, module = "kcore._core")]
pub struct ItemExponentialFailureRateLimiter;

#[pymethods]
impl ItemExponentialFailureRateLimiter {
    #[new]
    fn new(base: f64, max: f64) -> PyResult<PyClassInitializer<Self>> {
        let limiter = Limiter::exponential(non_negative_nanos(base, "base")?, non_negative_nanos(max, "max")?);
        Ok(builtin(limiter).add_subclass(ItemExponentialFailureRateLimiter))
    }
}

/// `fast` for the first `max_fast_attempts` failures of an item, `slow` after.
#[pyclass(extends = RateLimiter, frozen, module = "kcore._core")]
pub struct ItemFastSlowRateLimiter;

#[pymethods]
impl ItemFastSlowRateLimiter {
    #[new]
    fn new(fast: f64, slow: f64, max_fast_attempts: u64) -> PyResult<PyClassInitializer<Self>> {
        let limiter = Limiter::FastSlow {
            fast: non_negative_nanos(fast, "fast")?,
            slow: non_negative_nanos(slow, "slow")?,
            max_fast: max_fast_attempts,
            failures: Arc::default(),
        };
        Ok(builtin(limiter).add_subclass(ItemFastSlowRateLimiter))
    }
}

/// A token bucket over all items: `qps` tokens a second, at most `burst` saved up.
#[pyclass(extends = RateLimiter, frozen, module = "kcore._core")]
pub struct BucketRateLimiter;

#[pymethods]
impl BucketRateLimiter {
    #[new]
    fn new(qps: f64, burst: u64) -> PyResult<PyClassInitializer<Self>> {
        if qps.is_nan() || qps < 0.0 {
            return Err(PyValueError::new_err(format!(
                "qps must be a non-negative number (inf for no limit), got {qps}"
            )));
        }
        Ok(builtin(Limiter::bucket(qps, burst)).add_subclass(BucketRateLimiter))
    }
}

/// The longest delay and the most requeues of all its limiters; forget goes to all.
#[pyclass(extends = RateLimiter, frozen, module = "kcore._core")]
pub struct MaxOfRateLimiter;

#[pymethods]
impl MaxOfRateLimiter {
    #[new]
    #[pyo3(signature = (*limiters))]
    fn new(limiters: Vec<Bound<'_, PyAny>>) -> PyResult<PyClassInitializer<Self>> {
        let limiters = limiters
            .iter()
            .map(Limiter::from_object)
            .collect::<PyResult<Vec<_>>>()?;
        Ok(builtin(Limiter::MaxOf(limiters.into())).add_subclass(MaxOfRateLimiter))
    }
}

/// Another limiter's delays, capped at `max`.
#[pyclass(extends = RateLimiter, frozen, module = "kcore._core")]
pub struct WithMaxWaitRateLimiter;

#[pymethods]
impl WithMaxWaitRateLimiter {
    #[new]
    fn new(limiter: &Bound<'_, PyAny>, max: f64) -> PyResult<PyClassInitializer<Self>> {
        let limiter = Limiter::MaxWait {
            limiter: Arc::new(Limiter::from_object(limiter)?),
            max: non_negative_nanos(max, "max")?,
        };
        Ok(builtin(limiter).add_subclass(WithMaxWaitRateLimiter))
    }
}

/// client-go's DefaultControllerRateLimiter: the longer of a per-item exponential backoff
/// (5 ms doubling to 1000 s) and an overall bucket of 10 qps with a burst of 100.
#[pyfunction]
pub fn default_controller_rate_limiter(py: Python<'_>) -> PyResult<Py<MaxOfRateLimiter>> {
    Py::new(
        py,
        builtin(Limiter::default_controller()).add_subclass(MaxOfRateLimiter),
    )
}
