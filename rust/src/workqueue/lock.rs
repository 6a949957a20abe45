//! The lock around state that Python threads and the delaying queue's timer thread share.
//!
//! A thread attached to the interpreter never blocks on it: a holder may be waiting for the GIL
//! (an item's `__eq__` can run Python code and let other threads in), so blocking while attached
//! could deadlock. Contended acquisitions detach first.
use parking_lot::{Condvar, Mutex, MutexGuard};
use pyo3::exceptions::PyRuntimeError;
use pyo3::{ffi, prelude::*};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

pub(crate) struct PyLock<T> {
    mutex: Mutex<T>,
    /// Python thread id of the attached holder, 0 if none: detects re-entry from `__eq__`.
    owner: AtomicU64,
}

pub(crate) struct Locked<'a, T> {
    guard: MutexGuard<'a, T>,
    owner: &'a AtomicU64,
}

fn thread_id() -> u64 {
    // SAFETY: no preconditions; the id of the calling OS thread.
    unsafe { ffi::PyThread_get_thread_ident() as u64 }
}

impl<T> PyLock<T> {
    pub(crate) fn new(value: T) -> Self {
        PyLock {
            mutex: Mutex::new(value),
            owner: AtomicU64::new(0),
        }
    }

    /// Locks from a thread attached to the interpreter.
    pub(crate) fn lock(&self, py: Python<'_>) -> PyResult<Locked<'_, T>>
    where
        T: Send,
    {
        let me = thread_id();
        let guard = match self.mutex.try_lock() {
            Some(guard) => guard,
            None if self.owner.load(Relaxed) == me => {
                return Err(PyRuntimeError::new_err(
                    "kcore.workqueue: an item's __eq__ called back into the workqueue that is comparing it",
                ))
            }
            None => py.detach(|| self.mutex.lock()),
        };
        self.owner.store(me, Relaxed);
        Ok(Locked {
            guard,
            owner: &self.owner,
        })
    }

    /// Locks from a Rust thread that is not attached to the interpreter.
    pub(crate) fn lock_detached(&self) -> Locked<'_, T> {
        Locked {
            guard: self.mutex.lock(),
            owner: &self.owner,
        }
    }
}

impl<T> Locked<'_, T> {
    /// Waits on `cv` until notified or until `deadline`, with the lock released meanwhile.
    /// Returns whether a notification (not the deadline) ended the wait.
    pub(crate) fn wait(&mut self, cv: &Condvar, deadline: Option<Instant>) -> bool {
        let me = self.owner.swap(0, Relaxed);
        let notified = match deadline {
            Some(deadline) => !cv.wait_until(&mut self.guard, deadline).timed_out(),
            None => {
                cv.wait(&mut self.guard);
                true
            }
        };
        self.owner.store(me, Relaxed);
        notified
    }
}

impl<T> Deref for Locked<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for Locked<'_, T> {
    fn drop(&mut self) {
        self.owner.store(0, Relaxed);
    }
}
