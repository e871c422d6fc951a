//! `Signal`: Django's `django.dispatch.Signal`, natively.
//!
//! Behaviour follows the installed Django's `dispatcher.py` (`crate::compat`
//! says how the series differ); where this code departs from it, a comment
//! says so. This file holds the class, its Python methods (each a short
//! front for one of the modules below) and its garbage-collector hooks:
//!
//! - `connect`: connecting, disconnecting, and clearing dead receivers
//! - `live`: what a send reads, the live receivers for a sender
//! - `send`: `send` and `send_robust`, the hot path, and the logging of a
//!   receiver's failure in `send_robust`
//! - `args`: a send's arguments, laid out once for every receiver
//! - `internals`: Django's internals as code outside reads them (the
//!   `receivers` list, `sender_receivers_cache`)

mod args;
mod connect;
mod internals;
mod live;
pub mod send;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use pyo3::exceptions::PyDeprecationWarning;
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};
use pyo3::PyClassInitializer;

use crate::compat;
use crate::ffi::CollectorPaused;
use crate::lock::{Shared, SignalLock};
use crate::receivers::Entry;
use crate::registry;

pub use internals::SenderReceiversCache;
pub use live::{live_receivers_of, native_live_receivers};

/// Base class for all signals.
///
/// Receivers are kept in connection order, indexed by lookup key and by
/// sender. `receivers` shows them in the installed Django's layout, on 6.x
/// `[((receiver_key, sender_key), receiver_or_weakref, sender_weakref, is_async), ...]`.
#[pyclass(module = "fastdispatch", name = "Signal", subclass, dict, weakref, frozen)]
pub struct Signal {
    pub(crate) shared: Arc<Shared>,
    /// Django's `_dead_receivers`: a receiver or sender died since the last cleanup.
    dead: Arc<AtomicBool>,
    use_caching: AtomicBool,
    /// The type (and its version tag) last found to use the native
    /// `_live_receivers`; a type's tag changes whenever an attribute of it or
    /// of a base is set, so the check is trusted until then.
    native_live_type: AtomicUsize,
    native_live_tag: AtomicU32,
    lock: Py<SignalLock>,
    /// The callback of every weak reference the signal creates.
    on_dead: Py<FlagDeadReceivers>,
}

/// Weakref callback: flags the signal's dead receivers for removal. It only
/// sets a flag, since it can run while the signal's lock is held.
#[pyclass(module = "fastdispatch", frozen)]
pub struct FlagDeadReceivers {
    dead: Arc<AtomicBool>,
}

#[pymethods]
impl FlagDeadReceivers {
    #[pyo3(signature = (_reference = None))]
    fn __call__(&self, _reference: Option<&Bound<'_, PyAny>>) {
        self.dead.store(true, Ordering::Release);
    }
}

#[pymethods]
impl Signal {
    /// A new signal of class `cls`, entered in the registry of live signals
    /// here rather than in `__init__`, which a subclass may skip.
    #[new]
    #[classmethod]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __new__<'py>(
        cls: &Bound<'py, PyType>,
        _args: &Bound<'py, PyTuple>,
        _kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let shared = Shared::new();
        let dead = Arc::new(AtomicBool::new(false));
        let contents = Signal {
            lock: Py::new(py, SignalLock { shared: shared.clone() })?,
            on_dead: Py::new(py, FlagDeadReceivers { dead: dead.clone() })?,
            shared,
            dead,
            use_caching: AtomicBool::new(false),
            native_live_type: AtomicUsize::new(0),
            native_live_tag: AtomicU32::new(0),
        };
        // What PyO3's own `__new__` does with the value it is given, done
        // here so that the new object can be registered before it is
        // returned.
        // SAFETY: `cls` is `Signal` or a subclass of it: CPython calls a
        // type's `tp_new` with no other (`type.__call__` passes the type
        // called, and `Signal.__new__(other)` checks that `other` is a
        // subtype). A new reference is returned.
        let signal = unsafe {
            // The new object is tracked by the garbage collector from its
            // allocation, but its contents are written only after
            // `object.__new__` has also made its `__dict__`: a collection
            // started by that allocation would traverse a half-made signal.
            let _paused = CollectorPaused::new(py);
            let ptr = pyo3::impl_::pymethods::tp_new_impl(py, PyClassInitializer::from(contents), cls.as_type_ptr())?;
            // So that `signal.send` is a specialized method load on 3.12.
            #[cfg(all(Py_3_12, not(Py_3_13)))]
            crate::ffi::release_new_empty_dict(ptr);
            Bound::from_owned_ptr(py, ptr)
        };
        registry::register(&signal)?;
        Ok(signal)
    }

    /// Create a new signal. `providing_args`, removed from Django in 4.0 but
    /// still common, is accepted with a `DeprecationWarning` and ignored.
    #[pyo3(signature = (use_caching = Truthy(false), *, providing_args = None))]
    fn __init__(slf: &Bound<'_, Self>, use_caching: Truthy, providing_args: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let py = slf.py();
        if providing_args.is_some() {
            PyErr::warn(
                py,
                &py.get_type::<PyDeprecationWarning>(),
                c"The providing_args argument is deprecated. As it is purely documentational, it has no replacement. If you rely on this argument as documentation, you can move the text to a code comment or docstring.",
                // The caller's line: `__init__` itself has no Python frame.
                1,
            )?;
        }
        let this = slf.get();
        this.use_caching.store(use_caching.0, Ordering::Relaxed);
        // Like Django's `self.receivers = []`: a second __init__ starts afresh.
        let locked = this.shared.lock(py);
        locked.write(|store, released| store.clear(released))?;
        this.dead.store(false, Ordering::Release);
        Ok(())
    }

    /// `connect`, called by its Python front (`fastdispatch._glue.connect`).
    ///
    /// Weak references are kept to the receiver unless `weak` is false (a
    /// `WeakMethod` for bound methods), and to the sender where it allows
    /// one, so that receivers of a collected sender are dropped. A second
    /// connection with the same `dispatch_uid` (or the same receiver) and
    /// sender is ignored.
    #[pyo3(signature = (receiver, sender = None, weak = Truthy(true), dispatch_uid = None))]
    fn _connect(
        &self,
        py: Python<'_>,
        receiver: &Bound<'_, PyAny>,
        sender: Option<&Bound<'_, PyAny>>,
        weak: Truthy,
        dispatch_uid: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.connect(py, receiver, sender, weak.0, dispatch_uid)
    }

    /// Disconnect a receiver (or the one connected with `dispatch_uid`) from
    /// `sender`. Returns whether one was connected.
    #[pyo3(signature = (receiver = None, sender = None, dispatch_uid = None))]
    fn disconnect(
        &self,
        py: Python<'_>,
        receiver: Option<&Bound<'_, PyAny>>,
        sender: Option<&Bound<'_, PyAny>>,
        dispatch_uid: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.disconnect_receiver(py, receiver, sender, dispatch_uid)
    }

    /// What `asend` and `asend_robust` run: `_live_receivers(sender)`, or
    /// None when there is nothing to send: `admits` says so (then no
    /// receivers list is built), or both lists came back empty. Either way
    /// `asend` returns at once, with no task and no thread.
    fn _asend_receivers<'py>(
        slf: &Bound<'py, Self>,
        sender: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        if !slf.get().admits(sender)? {
            return Ok(None);
        }
        let live = slf.call_method1(intern!(slf.py(), "_live_receivers"), (sender,))?;
        // Anything but a pair of sized values (a replaced `_live_receivers`
        // may return it) goes to `asend`, to fail there as it does in Django.
        if let Ok(pair) = live.cast::<PyTuple>() {
            if pair.len() == 2 && pair.iter().all(|half| half.len().is_ok_and(|n| n == 0)) {
                return Ok(None);
            }
        }
        Ok(Some(live))
    }

    /// Whether any live receiver would be called for `sender`.
    #[pyo3(signature = (sender = None))]
    fn has_listeners(slf: &Bound<'_, Self>, sender: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let none = slf.py().None().into_bound(slf.py());
        Ok(!live_receivers_of(slf, sender.unwrap_or(&none))?.is_empty())
    }

    /// The live receivers for `sender`, weak references resolved, in
    /// connection order: `(sync_receivers, async_receivers)` (Django 5.0+),
    /// or one list (Django 4.2, which has no async receivers).
    fn _live_receivers<'py>(&self, py: Python<'py>, sender: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let live = self.live_receivers(py, sender)?;
        let sync = PyList::new(py, live.sync)?;
        if !compat::live_receivers_split() {
            return Ok(sync.into_any());
        }
        Ok(PyTuple::new(py, [sync, PyList::new(py, live.asynchronous)?])?.into_any())
    }

    /// Remove receivers whose receiver or sender died, if any did.
    fn _clear_dead_receivers(&self, py: Python<'_>) -> PyResult<()> {
        self.clear_dead(py)
    }

    /// Flag dead receivers for removal at the next use of the signal. This is
    /// the weak references' callback in Django 6.x; here it is kept for
    /// callers. Django 4.2 and 5.x name it `_remove_receiver`: the class has
    /// the one its series has (`fastdispatch._compat`).
    #[pyo3(signature = (reference = None))]
    fn _flag_dead_receivers(&self, reference: Option<&Bound<'_, PyAny>>) {
        let _ = reference;
        self.dead.store(true, Ordering::Release);
    }

    /// `_flag_dead_receivers` by the name of Django 4.2 and 5.x.
    #[pyo3(signature = (receiver = None))]
    fn _remove_receiver(&self, receiver: Option<&Bound<'_, PyAny>>) {
        self._flag_dead_receivers(receiver);
    }

    #[getter]
    fn _dead_receivers(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    #[setter(_dead_receivers)]
    fn set_dead_receivers(&self, value: Truthy) {
        self.dead.store(value.0, Ordering::Release);
    }

    #[getter]
    fn use_caching(&self) -> bool {
        self.use_caching.load(Ordering::Relaxed)
    }

    #[setter]
    fn set_use_caching(&self, value: Truthy) {
        self.use_caching.store(value.0, Ordering::Relaxed);
    }

    /// The lock guarding the receivers: `with signal.lock: ...`.
    #[getter]
    fn lock(&self, py: Python<'_>) -> Py<SignalLock> {
        self.lock.clone_ref(py)
    }

    /// The connected receivers in Django's layout, in connection order: a
    /// list whose in-place changes reach the signal (`fastdispatch._glue.ReceiverList`).
    /// The same list is returned until the receivers change.
    #[getter]
    fn receivers<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        internals::receivers_view(slf)
    }

    /// Replace the receivers with a list in the layout `receivers` shows, as
    /// code that saves and restores them does (`signal.receivers = saved`).
    #[setter]
    fn set_receivers(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        internals::assign_receivers(slf, value)
    }

    /// Called by the `receivers` list after an in-place change: if it is
    /// still the signal's list, the signal takes its new contents.
    fn _receivers_changed(&self, py: Python<'_>, view: &Bound<'_, PyAny>) -> PyResult<()> {
        self.receivers_changed(py, view)
    }

    /// Django's per-sender cache of receivers: filled by sends when
    /// `use_caching` is on, emptied by any change to the receivers.
    #[getter]
    fn sender_receivers_cache(slf: &Bound<'_, Self>) -> PyResult<Py<SenderReceiversCache>> {
        SenderReceiversCache::of(slf)
    }

    /// Assigning a cache (one saved with `.copy()`, say) empties the signal's
    /// own: it is rebuilt from the receivers, which stay the reference.
    #[setter]
    fn set_sender_receivers_cache(&self, py: Python<'_>, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        let locked = self.shared.lock(py);
        locked.write(|store, released| store.clear_sender_cache(|_| false, released))
    }

    /// Log a receiver's failure in `send_robust`, as Django does (5.0+; 4.2
    /// logs without a method, and its class has none).
    fn _log_robust_failure(&self, py: Python<'_>, receiver: &Bound<'_, PyAny>, err: &Bound<'_, PyAny>) -> PyResult<()> {
        send::log_robust_failure(py, receiver, err)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // The store's objects are visited through the lock object, which
        // shares the store and may outlive the signal (a receiver can hold
        // `signal.lock`): each reference the store holds is visited once.
        visit.call(&self.lock)?;
        visit.call(&self.on_dead)
    }

    fn __clear__(&self) {
        // Called by the collector, which holds the interpreter.
        // SAFETY: tp_clear runs attached to the interpreter.
        let py = unsafe { Python::assume_attached() };
        self.shared.clear(py);
    }
}

impl Signal {
    pub fn use_caching_enabled(&self) -> bool {
        self.use_caching.load(Ordering::Relaxed)
    }

    /// The connected entries, copied out of the lock, dead ones included.
    pub(crate) fn entries(&self, py: Python<'_>) -> PyResult<Vec<Entry>> {
        self.shared
            .read(py, |store| store.entries().map(|e| e.clone_ref(py)).collect())
    }
}

/// A Python truth value, for arguments Django tests with `if x:`.
pub struct Truthy(pub bool);

impl<'a, 'py> FromPyObject<'a, 'py> for Truthy {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        obj.is_truthy().map(Truthy)
    }
}
