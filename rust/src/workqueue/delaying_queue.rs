//! The delaying queue (client-go util/workqueue/delaying_queue.go): add_after puts an item on a
//! heap by ready time; a timer thread moves it to the queue when the time comes. A second
//! add_after for a waiting item keeps the earlier ready time. Ties leave in add_after order.
use crate::workqueue::duration::nanos;
use crate::workqueue::item;
use crate::workqueue::queue::{Queue, Shared, Wake};
use pyo3::prelude::*;
use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Duration;

#[pyclass(extends = Queue, subclass, frozen, module = "kcore._core")]
pub struct DelayingQueue;

impl DelayingQueue {
    pub(crate) fn create(py: Python<'_>, name: Option<String>) -> PyResult<PyClassInitializer<Self>> {
        Ok(PyClassInitializer::from(Queue::create(py, name)?).add_subclass(DelayingQueue))
    }
}

/// client-go's AddAfter, with the delay in nanoseconds.
pub(crate) fn add_after(py: Python<'_>, shared: &Arc<Shared>, obj: &Bound<'_, PyAny>, delay: i64) -> PyResult<()> {
    let hash = item::hash_of(obj)?;
    let mut st = shared.state.lock(py)?;
    if st.shutting_down {
        return Ok(());
    }
    if let Some(m) = &st.metrics {
        m.retry();
    }
    let id = st.find_or_make(py, obj, hash)?;
    if delay <= 0 {
        let wake = st.add(id, || shared.now(), shared.ready());
        drop(st);
        wake.run(py);
        return Ok(());
    }
    let at = shared.now().saturating_add(delay as u64);
    if st.slot_mut(id).ready_at.is_some_and(|(existing, _)| existing <= at) {
        return Ok(());
    }
    let seq = st.next_seq;
    st.next_seq += 1;
    st.slot_mut(id).ready_at = Some((at, seq));
    let earliest = st.waiting.peek().is_none_or(|Reverse((first, _, _))| at < *first);
    st.waiting.push(Reverse((at, seq, id)));
    if !st.timer_running {
        st.timer_running = true;
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("kcore-workqueue-timer".into())
            .spawn(move || run_timer(&shared))
            .map_err(|e| {
                pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the delaying queue's timer: {e}"))
            })?;
    } else if earliest {
        shared.timer.notify_all();
    }
    Ok(())
}

/// The timer thread: adds items whose time has come, sleeps until the next one. It never
/// touches Python except to wake asyncio waiters, and ends at shutdown or when the queue is gone.
fn run_timer(shared: &Shared) {
    let mut st = shared.state.lock_detached();
    loop {
        if st.shutting_down || st.closed {
            st.timer_running = false;
            return;
        }
        let now = shared.now();
        let mut wakers = Vec::new();
        while let Some(&Reverse((at, seq, id))) = st.waiting.peek() {
            if at > now {
                break;
            }
            st.waiting.pop();
            if !st.waits_for(id, at, seq) {
                continue; // superseded by an earlier ready time (that may have fired and freed the slot)
            }
            st.slot_mut(id).ready_at = None;
            if let Wake::Async(w) = st.add(id, || now, shared.ready()) {
                wakers.push(w);
            }
        }
        if !wakers.is_empty() {
            drop(st);
            Python::attach(|py| Wake::AllAsync(wakers).run(py));
            st = shared.state.lock_detached();
            continue;
        }
        let next = st.waiting.peek().map(|Reverse((at, _, _))| *at);
        let deadline = next.and_then(|at| shared.epoch().checked_add(Duration::from_nanos(at)));
        st.wait(&shared.timer, deadline);
    }
}

#[pymethods]
impl DelayingQueue {
    #[new]
    #[pyo3(signature = (name=None))]
    fn new(py: Python<'_>, name: Option<String>) -> PyResult<PyClassInitializer<Self>> {
        DelayingQueue::create(py, name)
    }

    /// Adds `item` once `seconds` have passed (now if `seconds` <= 0). If the item is already
    /// waiting, the earlier of the two ready times is kept.
    fn add_after(slf: &Bound<'_, Self>, item: &Bound<'_, PyAny>, seconds: f64) -> PyResult<()> {
        add_after(slf.py(), &slf.as_super().get().shared, item, nanos(seconds, "seconds")?)
    }
}
