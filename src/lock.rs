//! The signal's lock, and `signal.lock`, its Python face.
//!
//! One re-entrant lock guards a signal's receivers, whether taken by the
//! signal's own methods or by user code (`with signal.lock:`, as Django's own
//! test-suite does around `_clear_dead_receivers()`). Re-entrant, because the
//! same thread can come back while holding it: from the garbage collector
//! (weakref callbacks, finalisers) or from a `dispatch_uid`'s `__eq__`.
//!
//! A thread that has to wait for it waits with the GIL released: the holder
//! may be running Python code and need the GIL to finish.

use std::cell::{Ref, RefCell, RefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::prelude::*;

use crate::receivers::{ReceiverStore, Released};

/// Whether this interpreter runs with the GIL, as the reads of `Shared::read`
/// need: set when the module loads (false until then, the safe side). A
/// free-threaded build started with `PYTHON_GIL=0` runs without it.
pub static GIL_ENABLED: AtomicBool = AtomicBool::new(false);

/// State shared between a signal and its `lock` object.
pub struct Shared {
    store: ReentrantMutex<RefCell<ReceiverStore>>,
    /// Number of entries, readable without the lock for `send`'s fast exit.
    pub len: AtomicUsize,
    /// Whether some receiver is limited to a sender, so that `send` knows
    /// before reading the store that it needs the sender's key. A hint: the
    /// store itself decides.
    pub sender_specific: AtomicBool,
    /// How many of the holds of the thread that owns the lock were taken by
    /// `signal.lock.acquire()`: all that `release()` may give back. The rest
    /// belong to guards of native code. Changed only by the owner, with the
    /// lock held, so the lock itself orders every access.
    python_holds: AtomicUsize,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared {
            store: ReentrantMutex::new(RefCell::new(ReceiverStore::new())),
            len: AtomicUsize::new(0),
            sender_specific: AtomicBool::new(false),
            python_holds: AtomicUsize::new(0),
        })
    }

    /// Take the lock, waiting (GIL released) if another thread holds it.
    fn acquire(&self, py: Python<'_>) -> ReentrantMutexGuard<'_, RefCell<ReceiverStore>> {
        loop {
            if let Some(guard) = self.store.try_lock() {
                return guard;
            }
            py.detach(|| drop(self.store.lock()));
        }
    }

    /// Take the lock, to read the store and change it (`Locked::write`).
    pub fn lock(&self, py: Python<'_>) -> Locked<'_> {
        Locked {
            guard: self.acquire(py),
            shared: self,
            released: RefCell::new(Released::default()),
        }
    }

    /// Read the store under the lock, for a stretch that runs no Python code
    /// and changes nothing (the cheap path of `send`).
    #[inline(always)]
    pub fn read<R>(&self, py: Python<'_>, f: impl FnOnce(&ReceiverStore) -> R) -> PyResult<R> {
        // When nobody holds the lock, taking it only to let it go again
        // changes nothing another thread could see: every thread borrows the
        // store with the GIL held, which this one holds throughout `f` (it
        // runs no Python code), so no one can borrow it meanwhile. A thread
        // that takes the lock with the GIL released (in `acquire`) touches
        // the store only once it has the GIL back. Two atomic operations
        // fewer on every send; a held lock still makes this wait, as in Django.
        if GIL_ENABLED.load(Ordering::Relaxed) && !self.store.is_locked() {
            // SAFETY: see above; the RefCell's own borrow flag still guards
            // against a borrow this thread already holds.
            let cell = unsafe { &*self.store.data_ptr() };
            let store = cell.try_borrow().map_err(|_| reentered())?;
            return Ok(f(&store));
        }
        let guard = self.acquire(py);
        let store = guard.try_borrow().map_err(|_| reentered())?;
        Ok(f(&store))
    }

    /// For the garbage collector: the store if it can be read right now
    /// without waiting. Skipping a traversal is safe (objects stay alive).
    fn try_read<R>(&self, f: impl FnOnce(&ReceiverStore) -> R) -> Option<R> {
        let guard = self.store.try_lock()?;
        let store = guard.try_borrow().ok()?;
        Some(f(&store))
    }

    /// Visit every object the store holds, for the garbage collector.
    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.try_read(|store| {
            let mut result = Ok(());
            store.for_each_object(|obj| {
                if result.is_ok() {
                    result = visit.call(obj);
                }
            });
            result
        })
        .unwrap_or(Ok(()))
    }

    /// Drop every entry, for the garbage collector's `tp_clear` (of the
    /// signal or of its lock object): what the store held is released after
    /// the lock.
    pub fn clear(&self, py: Python<'_>) {
        let locked = self.lock(py);
        let _ = locked.write(|store, released| store.clear(released));
    }
}

/// The signal's lock, held. Borrow the store with `read`/`write` for
/// stretches that run no Python code; objects removed meanwhile are released
/// after the lock is, when this is dropped (fields drop in declaration order).
pub struct Locked<'a> {
    guard: ReentrantMutexGuard<'a, RefCell<ReceiverStore>>,
    shared: &'a Shared,
    released: RefCell<Released>,
}

impl Locked<'_> {
    pub fn read(&self) -> PyResult<Ref<'_, ReceiverStore>> {
        self.guard.try_borrow().map_err(|_| reentered())
    }

    /// Run `f` on the store; what it removes is released with the lock.
    pub fn write<R>(&self, f: impl FnOnce(&mut ReceiverStore, &mut Released) -> R) -> PyResult<R> {
        let mut store: RefMut<'_, ReceiverStore> = self.guard.try_borrow_mut().map_err(|_| reentered())?;
        let mut released = self.released.try_borrow_mut().map_err(|_| reentered())?;
        let result = f(&mut store, &mut released);
        store.compact_if_sparse();
        self.shared.len.store(store.len(), Ordering::Release);
        self.shared
            .sender_specific
            .store(store.has_sender_specific(), Ordering::Relaxed);
        Ok(result)
    }
}

#[cold]
fn unacquired() -> PyErr {
    PyRuntimeError::new_err("cannot release un-acquired lock")
}

#[cold]
fn reentered() -> PyErr {
    PyRuntimeError::new_err("signal receivers were changed from inside a change to them")
}

/// `signal.lock`: a context manager (and `acquire`/`release`, like
/// `threading.Lock`) over the lock the signal's own methods take.
#[pyclass(module = "fastdispatch", name = "SignalLock", frozen)]
pub struct SignalLock {
    pub shared: Arc<Shared>,
}

#[pymethods]
impl SignalLock {
    #[pyo3(signature = (blocking = true, timeout = -1.0))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: f64) -> PyResult<bool> {
        let store = &self.shared.store;
        let acquired = if store.try_lock().map(std::mem::forget).is_some() {
            true
        } else if !blocking {
            if timeout != -1.0 {
                return Err(PyValueError::new_err("can't specify a timeout for a non-blocking call"));
            }
            false
        } else if timeout < 0.0 {
            if timeout != -1.0 {
                return Err(PyValueError::new_err("timeout value must be a non-negative number"));
            }
            py.detach(|| std::mem::forget(store.lock()));
            true
        } else {
            let wait = Duration::try_from_secs_f64(timeout)
                .map_err(|_| PyValueError::new_err("timeout value is too large"))?;
            py.detach(|| store.try_lock_for(wait).map(std::mem::forget).is_some())
        };
        if acquired {
            // This thread owns the lock now: the count is its own.
            self.shared.python_holds.fetch_add(1, Ordering::Relaxed);
        }
        Ok(acquired)
    }

    /// Give back one hold taken by `acquire()` on this thread. The holds of
    /// the signal's own methods (when `release()` is called from code they
    /// run: a finaliser, a `dispatch_uid`'s `__eq__`) are never given back:
    /// `RuntimeError`, as `threading.RLock` raises for a lock it did not take.
    fn release(&self) -> PyResult<()> {
        let shared = &self.shared;
        if !shared.store.is_owned_by_current_thread() || shared.python_holds.load(Ordering::Relaxed) == 0 {
            return Err(unacquired());
        }
        shared.python_holds.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: this thread holds the lock (checked above) at least once
        // more than its native guards do: a hold taken by a guard that
        // `acquire` forgot, and gives back here.
        unsafe { shared.store.force_unlock() };
        Ok(())
    }

    fn locked(&self) -> bool {
        self.shared.store.is_locked()
    }

    fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
        self.acquire(py, true, -1.0)
    }

    #[pyo3(signature = (*_exc_info))]
    fn __exit__(&self, _exc_info: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.release()
    }

    /// The store's objects: the lock object holds the store (shared with
    /// its signal, which does not visit it), so a receiver that holds
    /// `signal.lock` makes a cycle the collector must see.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        self.shared.traverse(&visit)
    }

    fn __clear__(&self) {
        // SAFETY: tp_clear runs attached to the interpreter.
        let py = unsafe { Python::assume_attached() };
        self.shared.clear(py);
    }

    fn __repr__(&self) -> String {
        let state = if self.locked() { "locked" } else { "unlocked" };
        format!("<{state} fastdispatch.SignalLock>")
    }
}
