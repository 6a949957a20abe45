//! The basic workqueue (client-go util/workqueue/queue.go): fair, stingy, and an item re-added
//! while it is processed is processed again once it is done.
//!
//! Each distinct item gets a slot; the FIFO, the waiting heap and the flags work on slot numbers,
//! so handing an item out and the timer thread never need Python (only lookups by value do).
use crate::workqueue::item::{self, Item};
use crate::workqueue::lock::{Locked, PyLock};
use crate::workqueue::metrics::{Metrics, QueueMetrics};
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use parking_lot::Condvar;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a blocked call wakes to let Python run signal handlers (Ctrl-C in the main thread).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

pub(crate) struct Slot {
    pub(crate) item: Item,
    /// Needs processing (client-go's `dirty` set).
    dirty: bool,
    /// Handed out by get, not yet done (client-go's `processing` set).
    processing: bool,
    /// In the delaying queue's heap: (ready time, heap sequence number of the live entry).
    pub(crate) ready_at: Option<(u64, u64)>,
    /// When it became dirty and when it was handed out, ns since the epoch (named queues only).
    added_at: u64,
    started_at: u64,
}

pub(crate) struct State {
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Slot numbers by item value.
    index: HashTable<u32>,
    fifo: VecDeque<u32>,
    processing: usize,
    pub(crate) shutting_down: bool,
    drain: bool,
    blocked_getters: usize,
    /// Getters notified but not yet running Python again: while one is on its way, notifying
    /// more would only make more threads fight for the GIL. A getter that takes an item and
    /// sees more queued passes the wake-up on.
    woken_getters: usize,
    /// Callables that wake one `aget` each (asyncio's call_soon_threadsafe under the hood).
    async_waiters: VecDeque<Py<PyAny>>,
    /// The delaying queue's heap: (ready time, sequence, slot); entries whose sequence no longer
    /// matches the slot's `ready_at` were superseded by an earlier time and are skipped.
    pub(crate) waiting: BinaryHeap<Reverse<(u64, u64, u32)>>,
    pub(crate) next_seq: u64,
    pub(crate) timer_running: bool,
    /// The Python object is gone: the timer thread ends.
    pub(crate) closed: bool,
    pub(crate) metrics: Option<Arc<Metrics>>,
}

/// What has to be woken once the lock is released.
#[must_use]
pub(crate) enum Wake {
    Nobody,
    Async(Py<PyAny>),
    AllAsync(Vec<Py<PyAny>>),
}

impl Wake {
    /// Calls the asyncio wakers. A closed event loop raises; its waiter is gone, so that is ignored.
    pub(crate) fn run(self, py: Python<'_>) {
        let wakers = match self {
            Wake::Nobody => return,
            Wake::Async(w) => vec![w],
            Wake::AllAsync(ws) => ws,
        };
        for w in wakers {
            let _ = w.call0(py);
        }
    }
}

impl State {
    fn slot(&self, id: u32) -> &Slot {
        self.slots[id as usize].as_ref().expect("live slot")
    }

    pub(crate) fn slot_mut(&mut self, id: u32) -> &mut Slot {
        self.slots[id as usize].as_mut().expect("live slot")
    }

    /// Whether slot `id` is live and waits for exactly this timer entry: a superseded entry's
    /// slot may have been freed since, or handed to another item.
    pub(crate) fn waits_for(&self, id: u32, at: u64, seq: u64) -> bool {
        self.slots[id as usize]
            .as_ref()
            .is_some_and(|slot| slot.ready_at == Some((at, seq)))
    }

    /// The slot of `obj`, if the queue knows it.
    fn find(&mut self, py: Python<'_>, obj: &Bound<'_, PyAny>, hash: u64) -> PyResult<Option<u32>> {
        let slots = &self.slots;
        Ok(
            match item::entry(py, &mut self.index, obj, hash, |&id| {
                slots[id as usize].as_ref().expect("live slot").item.key()
            })? {
                Entry::Occupied(e) => Some(*e.get()),
                Entry::Vacant(_) => None,
            },
        )
    }

    /// The slot of `obj`, made if the queue does not know it yet.
    pub(crate) fn find_or_make(&mut self, py: Python<'_>, obj: &Bound<'_, PyAny>, hash: u64) -> PyResult<u32> {
        let slots = &self.slots;
        let vacant = match item::entry(py, &mut self.index, obj, hash, |&id| {
            slots[id as usize].as_ref().expect("live slot").item.key()
        })? {
            Entry::Occupied(e) => return Ok(*e.get()),
            Entry::Vacant(v) => v,
        };
        let slot = Slot {
            item: Item {
                hash,
                obj: obj.clone().unbind(),
            },
            dirty: false,
            processing: false,
            ready_at: None,
            added_at: 0,
            started_at: 0,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        vacant.insert(id);
        Ok(id)
    }

    /// Forgets a slot nothing refers to any more (not dirty, processing, nor waiting).
    fn release_if_idle(&mut self, id: u32) {
        let slot = self.slot(id);
        if slot.dirty || slot.processing || slot.ready_at.is_some() {
            return;
        }
        let hash = slot.item.hash;
        if let Ok(e) = self.index.find_entry(hash, |&row| row == id) {
            e.remove();
        }
        self.slots[id as usize] = None;
        self.free.push(id);
    }

    /// client-go's Add, once the item's slot is known.
    pub(crate) fn add(&mut self, id: u32, now: impl Fn() -> u64, cv: &Condvar) -> Wake {
        if self.shutting_down {
            return Wake::Nobody;
        }
        let metrics = self.metrics.clone();
        let slot = self.slot_mut(id);
        if slot.dirty {
            return Wake::Nobody;
        }
        slot.dirty = true;
        if let Some(m) = metrics {
            m.add();
            slot.added_at = now();
        }
        if slot.processing {
            return Wake::Nobody;
        }
        self.fifo.push_back(id);
        self.signal(cv)
    }

    /// Wakes one blocked getter, threads first, then asyncio waiters.
    fn signal(&mut self, cv: &Condvar) -> Wake {
        if self.blocked_getters > 0 {
            if self.blocked_getters > self.woken_getters && cv.notify_one() {
                self.woken_getters += 1;
            }
            return Wake::Nobody;
        }
        match self.async_waiters.pop_front() {
            Some(w) => Wake::Async(w),
            None => Wake::Nobody,
        }
    }

    /// client-go's Get when an item is ready: the front of the FIFO moves to processing.
    fn pop(&mut self, now: impl Fn() -> u64) -> Option<u32> {
        let id = self.fifo.pop_front()?;
        let metrics = self.metrics.clone();
        let slot = self.slot_mut(id);
        slot.dirty = false;
        slot.processing = true;
        if let Some(m) = metrics {
            let t = now();
            m.get(t.saturating_sub(slot.added_at));
            slot.started_at = t;
        }
        self.processing += 1;
        Some(id)
    }

    /// What get returns now, or None if it has to wait.
    fn try_get(&mut self, py: Python<'_>, now: impl Fn() -> u64) -> Option<(Py<PyAny>, bool)> {
        match self.pop(now) {
            Some(id) => Some((self.slot(id).item.obj.clone_ref(py), false)),
            None if self.shutting_down => Some((py.None(), true)),
            None => None,
        }
    }
}

/// A queue's state with its condition variables; shared with the timer thread and metrics.
pub(crate) struct Shared {
    pub(crate) state: PyLock<State>,
    /// An item was queued, or shutdown.
    ready: Condvar,
    /// Processing became empty during a drain, or a plain shutdown ended the drain.
    drained: Condvar,
    /// The delaying queue's earliest ready time moved earlier, or shutdown.
    pub(crate) timer: Condvar,
    epoch: Instant,
}

impl Shared {
    pub(crate) fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    pub(crate) fn ready(&self) -> &Condvar {
        &self.ready
    }

    /// Adds `obj` now (client-go's Add), from an attached thread.
    pub(crate) fn add(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let hash = item::hash_of(obj)?;
        let mut st = self.state.lock(py)?;
        if st.shutting_down {
            return Ok(());
        }
        let id = st.find_or_make(py, obj, hash)?;
        let wake = st.add(id, || self.now(), &self.ready);
        drop(st);
        wake.run(py);
        Ok(())
    }

    /// Unfinished work and the longest running processor, in seconds, as of now.
    pub(crate) fn unfinished_work(&self, py: Python<'_>) -> PyResult<(f64, f64)> {
        let st = self.state.lock(py)?;
        let now = self.now();
        let (mut total, mut longest) = (0.0, 0.0f64);
        for slot in st.slots.iter().flatten().filter(|s| s.processing) {
            let age = crate::workqueue::duration::seconds(now.saturating_sub(slot.started_at) as i64);
            total += age;
            longest = longest.max(age);
        }
        Ok((total, longest))
    }

    /// Waits detached until `done(state)` holds, `deadline` passes (then false), or a signal
    /// handler raises; Ctrl-C stays responsive during long waits. The lock is released before
    /// re-attaching: a woken thread that held it while waiting for the GIL would force a GIL
    /// hand-off on every other thread's next call.
    fn wait_until<'a>(
        &'a self,
        py: Python<'_>,
        mut st: Locked<'a, State>,
        cv: &Condvar,
        deadline: Option<Instant>,
        done: impl Fn(&State) -> bool + Send + Sync,
        getter: bool,
    ) -> PyResult<(Locked<'a, State>, bool)> {
        loop {
            if done(&st) {
                return Ok((st, true));
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| d <= now) {
                return Ok((st, false));
            }
            let slice_end = now + SIGNAL_CHECK;
            let wake_at = deadline.map_or(slice_end, |d| d.min(slice_end));
            let done = &done;
            let (ready, notified) = py.detach(move || {
                let mut st = st;
                let mut notified = false;
                st.blocked_getters += usize::from(getter);
                while !done(&st) && Instant::now() < wake_at {
                    if st.wait(cv, Some(wake_at)) && getter {
                        // Still counted as woken until it runs, unless it has to wait again.
                        notified = done(&st);
                        if !notified {
                            st.woken_getters = st.woken_getters.saturating_sub(1);
                        }
                    }
                }
                st.blocked_getters -= usize::from(getter);
                (done(&st), notified)
            });
            if !ready {
                py.check_signals()?;
            }
            st = self.state.lock(py)?;
            if notified {
                st.woken_getters = st.woken_getters.saturating_sub(1);
            }
        }
    }
}

static EMPTY: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The basic queue. DelayingQueue and RateLimitingQueue extend it.
#[pyclass(subclass, frozen, module = "kcore._core")]
pub struct Queue {
    pub(crate) shared: Arc<Shared>,
    metrics: Option<Py<QueueMetrics>>,
}

impl Queue {
    pub(crate) fn create(py: Python<'_>, name: Option<String>) -> PyResult<Self> {
        let metrics = name.filter(|n| !n.is_empty()).map(|n| (n, Arc::new(Metrics::new())));
        let shared = Arc::new(Shared {
            state: PyLock::new(State {
                slots: Vec::new(),
                free: Vec::new(),
                index: HashTable::new(),
                fifo: VecDeque::new(),
                processing: 0,
                shutting_down: false,
                drain: false,
                blocked_getters: 0,
                woken_getters: 0,
                async_waiters: VecDeque::new(),
                waiting: BinaryHeap::new(),
                next_seq: 0,
                timer_running: false,
                closed: false,
                metrics: metrics.as_ref().map(|(_, m)| m.clone()),
            }),
            ready: Condvar::new(),
            drained: Condvar::new(),
            timer: Condvar::new(),
            epoch: Instant::now(),
        });
        let metrics = match metrics {
            Some((name, metrics)) => Some(Py::new(
                py,
                QueueMetrics {
                    name,
                    metrics,
                    queue: Arc::downgrade(&shared),
                },
            )?),
            None => None,
        };
        Ok(Queue { shared, metrics })
    }

    /// Marks the queue shutting down and wakes everyone; `drain` says whether a drain is waiting.
    fn begin_shutdown(&self, py: Python<'_>, drain: bool) -> PyResult<Locked<'_, State>> {
        let sh = &self.shared;
        let mut st = sh.state.lock(py)?;
        st.drain = drain;
        st.shutting_down = true;
        sh.ready.notify_all();
        sh.drained.notify_all();
        sh.timer.notify_all();
        let waiters = Wake::AllAsync(st.async_waiters.drain(..).collect());
        drop(st);
        waiters.run(py);
        sh.state.lock(py)
    }
}

#[pymethods]
impl Queue {
    #[new]
    #[pyo3(signature = (name=None))]
    fn new(py: Python<'_>, name: Option<String>) -> PyResult<Self> {
        Queue::create(py, name)
    }

    /// Marks `item` as needing processing; ignored while shutting down.
    fn add(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        self.shared.add(py, item)
    }

    /// Blocks until an item is ready, returning `(item, False)`, or until the queue is shut down
    /// and empty, returning `(None, True)`. With a timeout, raises queue.Empty when it passes.
    #[pyo3(signature = (timeout=None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<(Py<PyAny>, bool)> {
        let sh = &*self.shared;
        let mut st = sh.state.lock(py)?;
        if let Some(got) = st.try_get(py, || sh.now()) {
            return Ok(got);
        }
        let deadline = match timeout {
            None => None,
            // A timeout too long to represent waits forever.
            Some(t) if t >= 0.0 => Duration::try_from_secs_f64(t)
                .ok()
                .and_then(|t| Instant::now().checked_add(t)),
            Some(_) => return Err(PyValueError::new_err("'timeout' must be a non-negative number")),
        };
        let (mut st, ready) = sh.wait_until(
            py,
            st,
            &sh.ready,
            deadline,
            |s| !s.fifo.is_empty() || s.shutting_down,
            true,
        )?;
        if !ready {
            drop(st);
            let empty = EMPTY.import(py, "queue", "Empty")?;
            return Err(PyErr::from_type(empty.clone(), "workqueue get() timed out"));
        }
        let got = st.try_get(py, || sh.now()).expect("an item or shutdown");
        // Pass the wake-up on: adds made while this thread was waking did not notify anyone.
        let wake = if st.fifo.is_empty() {
            Wake::Nobody
        } else {
            st.signal(&sh.ready)
        };
        drop(st);
        wake.run(py);
        Ok(got)
    }

    /// Marks `item` as done processing; if it was added meanwhile, it is queued again.
    /// An item that is not being processed is ignored.
    fn done(&self, py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<()> {
        let sh = &*self.shared;
        let hash = item::hash_of(item)?;
        let mut st = sh.state.lock(py)?;
        let Some(id) = st.find(py, item, hash)? else {
            return Ok(());
        };
        if !st.slot(id).processing {
            return Ok(());
        }
        if let Some(m) = st.metrics.clone() {
            m.done(sh.now().saturating_sub(st.slot(id).started_at));
        }
        st.slot_mut(id).processing = false;
        st.processing -= 1;
        let wake = if st.slot(id).dirty {
            st.fifo.push_back(id);
            st.signal(&sh.ready)
        } else {
            if st.processing == 0 {
                sh.drained.notify_all();
            }
            st.release_if_idle(id);
            Wake::Nobody
        };
        drop(st);
        wake.run(py);
        Ok(())
    }

    /// Number of items waiting to be handed out (not those being processed).
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.shared.state.lock(py)?.fifo.len())
    }

    /// Ignores new items from now on; getters drain what is queued, then see shutdown.
    fn shut_down(&self, py: Python<'_>) -> PyResult<()> {
        self.begin_shutdown(py, false).map(drop)
    }

    /// Like shut_down, then waits until every item handed out has been marked done. A later
    /// shut_down() ends the wait early.
    fn shut_down_with_drain(&self, py: Python<'_>) -> PyResult<()> {
        let sh = &*self.shared;
        let st = self.begin_shutdown(py, true)?;
        sh.wait_until(py, st, &sh.drained, None, |s| s.processing == 0 || !s.drain, false)
            .map(drop)
    }

    /// Whether shut_down or shut_down_with_drain was called.
    fn shutting_down(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.shared.state.lock(py)?.shutting_down)
    }

    /// The metrics reader of a named queue, None for an unnamed one.
    #[getter]
    fn metrics(&self, py: Python<'_>) -> Option<Py<QueueMetrics>> {
        self.metrics.as_ref().map(|m| m.clone_ref(py))
    }

    /// For aget: `(item, shutdown)` if get would not block; otherwise registers `waker` (if
    /// any), which is called once, attached, when an item may be ready, and returns None.
    #[pyo3(signature = (waker))]
    fn _get_or_wait(&self, py: Python<'_>, waker: Option<Py<PyAny>>) -> PyResult<Option<(Py<PyAny>, bool)>> {
        let sh = &*self.shared;
        let mut st = sh.state.lock(py)?;
        let got = st.try_get(py, || sh.now());
        if let (None, Some(waker)) = (&got, waker) {
            st.async_waiters.push_back(waker);
        }
        Ok(got)
    }

    /// For a cancelled aget: unregisters `waker` if it was not called; if it was, passes the
    /// wake-up on so the item it announced is not stranded.
    fn _cancel_wait(&self, py: Python<'_>, waker: &Bound<'_, PyAny>) -> PyResult<()> {
        let sh = &*self.shared;
        let mut st = sh.state.lock(py)?;
        let before = st.async_waiters.len();
        st.async_waiters.retain(|w| !w.is(waker));
        let wake = if st.async_waiters.len() == before && !st.fifo.is_empty() {
            st.signal(&sh.ready)
        } else {
            Wake::Nobody
        };
        drop(st);
        wake.run(py);
        Ok(())
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Ends the delaying queue's timer thread, which holds the other reference to `shared`.
        Python::attach(|py| {
            if let Ok(mut st) = self.shared.state.lock(py) {
                st.closed = true;
                self.shared.timer.notify_all();
            }
        });
    }
}
