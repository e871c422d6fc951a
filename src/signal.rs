//! `Signal`: Django's `django.dispatch.Signal`, natively.
//!
//! Behaviour follows the installed Django's `dispatcher.py` (`compat.rs`
//! says how the series differ); where this file departs from it, a comment
//! says so. `send` and `send_robust` live in `send.rs`.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use pyo3::exceptions::{PyDeprecationWarning, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};
use pyo3::PyClassInitializer;
use smallvec::SmallVec;

use crate::compat::{self, Series};
use crate::keys::{self, make_id, sender_key_from_object, ObjId, ReceiverKey};
use crate::lock::{Locked, Shared, SignalLock};
use crate::python;
use crate::receivers::{CachedSender, Entry, Snapshot, Target};
use crate::registry;

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

/// The cyclic garbage collector kept from starting while this lives (and
/// left as it was found: a program may have disabled it).
struct CollectorPaused {
    was_enabled: bool,
}

impl CollectorPaused {
    fn new() -> CollectorPaused {
        // SAFETY: called attached to the interpreter (from `__new__`).
        CollectorPaused {
            was_enabled: unsafe { ffi::PyGC_Disable() } != 0,
        }
    }
}

impl Drop for CollectorPaused {
    fn drop(&mut self) {
        if self.was_enabled {
            // SAFETY: as in `new`.
            unsafe { ffi::PyGC_Enable() };
        }
    }
}

/// What `resolve_built` found.
enum Built {
    /// The receivers, resolved into `live`.
    Resolved,
    /// The receivers' snapshot, to resolve outside the store.
    Snapshot(Snapshot),
    /// Nothing built for the sender (or dead receivers to clear first).
    Missing,
}

/// Live receivers for one send, split as Django's `_live_receivers` does.
#[derive(Default)]
pub struct Live<'py> {
    pub sync: SmallVec<[Bound<'py, PyAny>; 8]>,
    pub asynchronous: SmallVec<[Bound<'py, PyAny>; 2]>,
}

impl<'py> Live<'py> {
    pub fn is_empty(&self) -> bool {
        self.sync.is_empty() && self.asynchronous.is_empty()
    }

    #[inline]
    fn push(&mut self, receiver: Bound<'py, PyAny>, is_async: bool) {
        if is_async {
            self.asynchronous.push(receiver);
        } else {
            self.sync.push(receiver);
        }
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
            let _paused = CollectorPaused::new();
            let ptr = pyo3::impl_::pymethods::tp_new_impl(py, PyClassInitializer::from(contents), cls.as_type_ptr())?;
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
        check_receiver_when_debug(py, receiver)?;

        let none = py.None().into_bound(py);
        let sender = sender.unwrap_or(&none);
        let key = receiver_key(receiver, dispatch_uid)?;
        let sender_key = make_id(sender)?;
        let is_async = is_async_receiver(receiver)?;

        let receiver = if weak.0 {
            let weakref = python::weakref_module(py)?;
            let is_method = is_bound_method(receiver)?;
            let factory = if is_method {
                weakref.getattr(intern!(py, "WeakMethod"))?
            } else {
                weakref.getattr(intern!(py, "ref"))?
            };
            factory.call1((receiver, self.on_dead.bind(py)))?
        } else {
            receiver.clone()
        };
        // Before Django 6.0 a bound method sender (keyed by its object's and
        // function's ids) is matched by any bound method of them; the one
        // given here dies at once, so it is not followed there.
        let sender_ref = if sender.is_none() || (!compat::rows_have_sender_ref() && is_bound_method(sender)?) {
            None
        } else {
            let weakref_ref = python::weakref_module(py)?.getattr(intern!(py, "ref"))?;
            match weakref_ref.call1((sender, self.on_dead.bind(py))) {
                Ok(r) => Some(r.unbind()),
                Err(err) if err.is_instance_of::<PyTypeError>(py) => None,
                Err(err) => return Err(err),
            }
        };

        let locked = self.shared.lock(py);
        self.clear_dead_locked(py, &locked)?;
        if self.find(py, &locked, &key, sender_key)?.is_some() {
            return Ok(());
        }
        locked.write(|store, released| {
            store.push(
                Entry {
                    key,
                    sender: sender_key,
                    receiver: receiver.unbind(),
                    sender_ref,
                    is_async,
                },
                released,
            )
        })
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
        let none = py.None().into_bound(py);
        let key = receiver_key(receiver.unwrap_or(&none), dispatch_uid)?;
        let sender_key = make_id(sender.unwrap_or(&none))?;

        let locked = self.shared.lock(py);
        self.clear_dead_locked(py, &locked)?;
        for _ in 0..UID_LOOKUP_ATTEMPTS {
            let Some((slot, receiver)) = self.find(py, &locked, &key, sender_key)? else {
                return Ok(false);
            };
            // Comparing uids may have run Python code that changed the store.
            if locked.write(|store, released| store.remove_if_holds(slot, receiver, released))? {
                return Ok(true);
            }
        }
        Err(uid_kept_changing())
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
        let py = slf.py();
        let this = slf.get();
        // Copied out under the lock, turned into Python objects after it:
        // allocating can run the garbage collector, and with it any code.
        let (rows, version): (Vec<_>, u64) = {
            let locked = this.shared.lock(py);
            let store = locked.read()?;
            if let Some(view) = store.view() {
                return Ok(view.bind(py).clone());
            }
            (store.entries().map(|e| e.clone_ref(py)).collect(), store.version())
        };
        let list = PyList::empty(py);
        for entry in rows {
            list.append(row_of_entry(py, entry)?)?;
        }
        let view = python::glue(py, "ReceiverList")?.call1((list, slf))?;
        let locked = this.shared.lock(py);
        locked.write(|store, released| store.set_view(view.clone().unbind(), version, released))?;
        Ok(view)
    }

    /// Replace the receivers with a list in the layout `receivers` shows, as
    /// code that saves and restores them does (`signal.receivers = saved`).
    #[setter]
    fn set_receivers(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let version = slf.get().replace_receivers(py, value)?;
        // The list assigned stays the signal's list if it is one of its own,
        // and if nothing changed the receivers since it was taken in (the
        // finaliser of a receiver it replaced may have connected another).
        if value.is_instance(&python::glue(py, "ReceiverList")?)? && value.getattr(intern!(py, "signal"))?.is(slf) {
            slf.get().adopt_view(py, value, version)?;
        }
        Ok(())
    }

    /// Called by the `receivers` list after an in-place change: if it is
    /// still the signal's list, the signal takes its new contents.
    fn _receivers_changed(&self, py: Python<'_>, view: &Bound<'_, PyAny>) -> PyResult<()> {
        let is_current = {
            let locked = self.shared.lock(py);
            let store = locked.read()?;
            store.view().is_some_and(|v| v.is(view))
        };
        if is_current {
            let version = self.replace_receivers(py, view)?;
            self.adopt_view(py, view, version)?;
        }
        Ok(())
    }

    /// Django's per-sender cache of receivers: filled by sends when
    /// `use_caching` is on, emptied by any change to the receivers.
    #[getter]
    fn sender_receivers_cache(slf: &Bound<'_, Self>) -> PyResult<Py<SenderReceiversCache>> {
        Py::new(
            slf.py(),
            SenderReceiversCache {
                signal: slf.clone().unbind(),
            },
        )
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
        log_robust_failure(py, receiver, err)
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

    /// The first step of each of Django's sends: with no receivers at all,
    /// there is nothing to do (false). Otherwise the sender is looked up in
    /// the sender cache before anything else: a dict, so an unhashable sender
    /// is a `TypeError`; with `use_caching` a `WeakKeyDictionary`, which also
    /// refuses what it cannot weakly reference (dead receivers stay).
    #[inline]
    pub(crate) fn admits(&self, sender: &Bound<'_, PyAny>) -> PyResult<bool> {
        if self.shared.len.load(Ordering::Acquire) == 0 {
            return Ok(false);
        }
        if !self.use_caching_enabled() {
            if !sender.is_none() {
                sender.hash()?;
            }
        } else {
            check_cacheable(sender)?;
        }
        Ok(true)
    }

    /// The connected entries, copied out of the lock, dead ones included.
    pub(crate) fn entries(&self, py: Python<'_>) -> PyResult<Vec<Entry>> {
        self.shared
            .read(py, |store| store.entries().map(|e| e.clone_ref(py)).collect())
    }

    /// Replace every entry with the rows of `value` (Django's layout).
    /// Returns the store's version right after: the entries replaced are
    /// released after the lock, and their finalisers may change it again.
    fn replace_receivers(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<u64> {
        // Rows of Django 4.2 and 5.x have no sender reference: a row that is
        // still connected keeps the one its entry has.
        let previous = if compat::rows_have_sender_ref() {
            Vec::new()
        } else {
            self.entries(py)?
        };
        let mut entries = Vec::new();
        for row in value.try_iter()? {
            entries.push(entry_from_row(&row?, &previous)?);
        }
        let locked = self.shared.lock(py);
        locked.write(|store, released| {
            store.clear(released);
            for entry in entries {
                store.push(entry, released);
            }
            store.version()
        })
    }

    /// Django's `_live_receivers`: the receivers for `sender`, weak references
    /// resolved, dead ones skipped, split into sync and async.
    pub fn live_receivers<'py>(&self, py: Python<'py>, sender: &Bound<'py, PyAny>) -> PyResult<Live<'py>> {
        let mut live = Live::default();
        self.live_receivers_into(py, sender, &mut live)?;
        Ok(live)
    }

    /// `live_receivers`, filling `live` (empty) in place: the hot path of `send`.
    #[inline(always)]
    pub fn live_receivers_into<'py>(
        &self,
        py: Python<'py>,
        sender: &Bound<'py, PyAny>,
        live: &mut Live<'py>,
    ) -> PyResult<()> {
        if self.use_caching_enabled() {
            if self.dead.load(Ordering::Acquire) {
                // Django's `_live_receivers` clears the dead receivers before
                // its cache, a WeakKeyDictionary, refuses a sender: they are
                // gone even when this raises. (`send` checks the sender
                // first, as Django's does: `send.rs`.)
                self.clear_dead(py)?;
            }
            check_cacheable(sender)?;
        }
        let snapshot = match self.resolve_built(py, sender, live)? {
            Built::Resolved => return Ok(()),
            Built::Snapshot(snapshot) => snapshot,
            Built::Missing => self.build_snapshot(py, sender)?,
        };
        // Resolved all at once before any receiver runs, as in Django: a
        // receiver that disconnects or kills another does not stop it from
        // being called in this send.
        for target in snapshot.iter() {
            let Some(receiver) = resolve(py, &target.receiver)? else {
                continue;
            };
            if !sender_alive(py, target.sender_ref.as_ref())? {
                continue;
            }
            live.push(receiver, target.is_async);
        }
        Ok(())
    }

    /// The usual case of `live_receivers`: nothing flagged dead and the
    /// receivers for `sender` already built, found by reading the store (the
    /// sender's key, when needed, computed between two reads, since it may run
    /// Python code). When every one of them is a strong reference or a plain
    /// weakref, they are resolved during that read, without taking a
    /// reference to the snapshot; otherwise (a `WeakMethod` resolves by
    /// running Python code) the snapshot is returned. `live` is untouched
    /// unless `Resolved`.
    #[inline(always)]
    fn resolve_built<'py>(&self, py: Python<'py>, sender: &Bound<'py, PyAny>, live: &mut Live<'py>) -> PyResult<Built> {
        if self.dead.load(Ordering::Acquire) {
            return Ok(Built::Missing);
        }
        let caching = self.use_caching_enabled();
        // Computed before the read when it will be needed (the read decides).
        let mut sender_key = if !caching && self.shared.sender_specific.load(Ordering::Relaxed) && !sender.is_none() {
            Some(make_id(sender)?)
        } else {
            None
        };
        loop {
            let found = self.shared.read(py, |store| {
                let targets = if caching {
                    store
                        .cached_sender(sender.as_ptr() as usize)
                        .filter(|c| refers_to(&c.sender_ref, sender))
                        .map(|c| &c.receivers)
                } else if sender_key.is_none() && store.has_sender_specific() {
                    return None;
                } else {
                    store.built_snapshot(sender_key)
                };
                Some(match targets {
                    Some(targets) if targets.iter().all(Target::resolves_natively) => {
                        live.sync.reserve(targets.len());
                        for target in targets.iter() {
                            if let Some(receiver) = target.resolve_natively(py) {
                                live.push(receiver, target.is_async);
                            }
                        }
                        Built::Resolved
                    }
                    Some(targets) => Built::Snapshot(targets.clone()),
                    None => Built::Missing,
                })
            })?;
            match found {
                Some(built) => return Ok(built),
                None => sender_key = Some(make_id(sender)?),
            }
        }
    }

    /// The receivers for `sender`, built (dead ones cleared first) and, with
    /// `use_caching`, cached for it.
    fn build_snapshot(&self, py: Python<'_>, sender: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
        let caching = self.use_caching_enabled();
        let address = sender.as_ptr() as usize;
        let locked = self.shared.lock(py);
        self.clear_dead_locked(py, &locked)?;
        if caching {
            let store = locked.read()?;
            if let Some(cached) = store
                .cached_sender(address)
                .filter(|c| refers_to(&c.sender_ref, sender))
            {
                return Ok(cached.receivers.clone());
            }
        }
        let sender_key = if locked.read()?.has_sender_specific() {
            Some(make_id(sender)?)
        } else {
            None
        };
        let (snapshot, version) = locked.write(|store, _| (store.snapshot(py, sender_key), store.version()))?;
        if caching {
            // Weakly, as Django's WeakKeyDictionary: a collected sender flags
            // its entry for the next cleanup.
            // SAFETY: `sender` is live; a new reference or NULL is returned.
            let sender_ref = unsafe {
                Bound::from_owned_ptr_or_err(py, ffi::PyWeakref_NewRef(sender.as_ptr(), self.on_dead.as_ptr()))?
            };
            let receivers = snapshot.clone();
            locked.write(|store, released| {
                if store.version() == version {
                    let entry = CachedSender {
                        sender_ref: sender_ref.unbind(),
                        receivers,
                    };
                    store.cache_sender(address, entry, released);
                }
            })?;
        }
        Ok(snapshot)
    }

    /// Make `view` the list `receivers` returns, until the next change, if
    /// it still shows the receivers: nothing changed them since `version`.
    fn adopt_view(&self, py: Python<'_>, view: &Bound<'_, PyAny>, version: u64) -> PyResult<()> {
        let locked = self.shared.lock(py);
        locked.write(|store, released| store.set_view(view.clone().unbind(), version, released))
    }

    /// The entry with this lookup key, if any: its slot and the receiver
    /// object it holds. Uids with equal hashes are compared with `==`, which
    /// may run Python code: the store is not borrowed meanwhile, and the lock
    /// is re-entrant.
    fn find(
        &self,
        py: Python<'_>,
        locked: &Locked<'_>,
        key: &ReceiverKey,
        sender: ObjId,
    ) -> PyResult<Option<(usize, *mut ffi::PyObject)>> {
        match key {
            ReceiverKey::Target(id) => {
                let store = locked.read()?;
                Ok(store
                    .find_target(*id, sender)
                    .and_then(|slot| store.entry_at(slot).map(|e| (slot, e.receiver.as_ptr()))))
            }
            ReceiverKey::Uid { hash, uid } => {
                for _ in 0..UID_LOOKUP_ATTEMPTS {
                    if let Some(found) = self.find_uid(py, locked, *hash, uid, sender)? {
                        return Ok(found);
                    }
                }
                Err(uid_kept_changing())
            }
        }
    }

    /// One attempt of `find` for a uid: `None` when comparing the uids
    /// changed the store, so that the answer does not count.
    fn find_uid(
        &self,
        py: Python<'_>,
        locked: &Locked<'_>,
        hash: isize,
        uid: &Py<PyAny>,
        sender: ObjId,
    ) -> PyResult<Option<Option<(usize, *mut ffi::PyObject)>>> {
        // `==` may run Python code that changes the store (slots move when it
        // is compacted): an answer counts only if the store is as it was when
        // the candidates were taken.
        let (candidates, version) = {
            let store = locked.read()?;
            (store.uid_candidates(py, hash, sender), store.version())
        };
        let mut found = None;
        for (slot, candidate) in candidates {
            if candidate.is(uid) || candidate.bind(py).eq(uid.bind(py))? {
                found = Some(slot);
                break;
            }
        }
        let store = locked.read()?;
        if store.version() != version {
            return Ok(None);
        }
        Ok(Some(found.and_then(|slot| {
            store.entry_at(slot).map(|e| (slot, e.receiver.as_ptr()))
        })))
    }

    /// `clear_dead_locked`, taking the lock.
    #[cold]
    #[inline(never)]
    fn clear_dead(&self, py: Python<'_>) -> PyResult<()> {
        let locked = self.shared.lock(py);
        self.clear_dead_locked(py, &locked)
    }

    /// Django's `_clear_dead_receivers`, with the lock held: if flagged, drop
    /// entries whose receiver or sender died. Liveness of a `WeakMethod` is
    /// Python code, so it is judged with the store not borrowed.
    fn clear_dead_locked(&self, py: Python<'_>, locked: &Locked<'_>) -> PyResult<()> {
        if !self.dead.load(Ordering::Acquire) || !self.dead.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let candidates: Vec<(usize, Py<PyAny>, Option<Py<PyAny>>)> = locked
            .read()?
            .slots()
            .filter(|(_, e)| is_weakref(&e.receiver) || e.sender_ref.is_some())
            .map(|(slot, e)| {
                (
                    slot,
                    e.receiver.clone_ref(py),
                    e.sender_ref.as_ref().map(|r| r.clone_ref(py)),
                )
            })
            .collect();
        let mut dead = Vec::new();
        for (slot, receiver, sender_ref) in &candidates {
            let receiver_dead = is_weakref(receiver) && resolve(py, receiver)?.is_none();
            if receiver_dead || !sender_alive(py, sender_ref.as_ref())? {
                dead.push((*slot, receiver.as_ptr()));
            }
        }
        let all_removed = locked.write(|store, released| {
            store.clear_sender_cache(|cached| weak_alive(&cached.sender_ref), released);
            dead.into_iter().fold(true, |all, (slot, receiver)| {
                store.remove_if_holds(slot, receiver, released) && all
            })
        })?;
        if !all_removed {
            // The store changed under us (re-entrantly): try again next time.
            self.dead.store(true, Ordering::Release);
        }
        Ok(())
    }
}

/// Django's log record for a receiver that failed in `send_robust`, on the
/// `django.dispatch` logger.
#[cold]
pub(crate) fn log_robust_failure(py: Python<'_>, receiver: &Bound<'_, PyAny>, err: &Bound<'_, PyAny>) -> PyResult<()> {
    // Django reads `receiver.__qualname__`, which callable instances and
    // partials lack (Django then fails with AttributeError): fall back to
    // the type's name.
    let name = match receiver.getattr_opt(intern!(py, "__qualname__"))? {
        Some(name) => name,
        None => receiver.get_type().getattr(intern!(py, "__qualname__"))?,
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "exc_info"), err)?;
    python::dispatch_logger(py)?.call_method(
        intern!(py, "error"),
        ("Error calling %s in Signal.send_robust() (%s)", name, err),
        Some(&kwargs),
    )?;
    Ok(())
}

/// How many times a uid is looked up again after comparing it with `==`
/// changed the receivers. Django's lookup would deadlock there (its lock is
/// not re-entrant); this one gives up with `uid_kept_changing`.
const UID_LOOKUP_ATTEMPTS: usize = 8;

#[cold]
fn uid_kept_changing() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(format!(
        "comparing the dispatch_uid with ==, its __eq__ changed the signal's receivers at each of \
         {UID_LOOKUP_ATTEMPTS} attempts to look it up; a dispatch_uid's __eq__ must not connect or disconnect receivers"
    ))
}

/// A Python truth value, for arguments Django tests with `if x:`.
pub struct Truthy(pub bool);

impl<'a, 'py> FromPyObject<'a, 'py> for Truthy {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        obj.is_truthy().map(Truthy)
    }
}

/// Django's test for a bound method: `hasattr(r, "__self__") and
/// hasattr(r, "__func__")`, answered without Python for the usual types.
fn is_bound_method(receiver: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = receiver.py();
    let ptr = receiver.as_ptr();
    // SAFETY: type checks and a function's `__dict__`, of live objects.
    unsafe {
        if crate::keys::bound_method_parts(ptr).is_some() {
            return Ok(true);
        }
        if ffi::PyFunction_Check(ptr) != 0 {
            return Ok(crate::keys::function_has_attr(ptr, intern!(py, "__self__"))
                && crate::keys::function_has_attr(ptr, intern!(py, "__func__")));
        }
    }
    Ok(receiver.hasattr(intern!(py, "__self__"))? && receiver.hasattr(intern!(py, "__func__"))?)
}

/// Whether `receiver` is a coroutine function, as `asgiref.sync.iscoroutinefunction`
/// says (which also honours `markcoroutinefunction`). Plain functions, and
/// methods of them, that carry no attributes (so no marker) are answered from
/// their code flags without the round trip through `inspect`.
fn is_async_receiver(receiver: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = receiver.py();
    let check = match compat::series() {
        // No async receivers: a coroutine function is called like any other.
        Series::Django42 => return Ok(false),
        Series::Django5 | Series::Django60 => python::iscoroutinefunction(py)?,
        Series::Django61 => python::inspect_iscoroutinefunction(py)?,
    };
    let ptr = receiver.as_ptr();
    // SAFETY: type checks and field reads of live objects; the function is
    // kept alive by `receiver` (itself, or the method holding it).
    unsafe {
        let function = if ffi::PyFunction_Check(ptr) != 0 {
            Some(ptr)
        } else {
            crate::keys::bound_method_parts(ptr).map(|(_, func)| func)
        };
        if let Some(function) = function.filter(|f| ffi::PyFunction_Check(*f) != 0) {
            let dict = (*function.cast::<ffi::PyFunctionObject>()).func_dict;
            if dict.is_null() || ffi::PyDict_Size(dict) == 0 {
                let code = Bound::from_borrowed_ptr(py, ffi::PyFunction_GetCode(function));
                let flags: i64 = code.getattr(intern!(py, "co_flags"))?.extract()?;
                return Ok(flags & i64::from(ffi::CO_COROUTINE) != 0);
            }
        }
    }
    check.call1((receiver,))?.is_truthy()
}

/// With Django settings configured and DEBUG on, reject receivers Django
/// would reject, with Django's messages.
fn check_receiver_when_debug(py: Python<'_>, receiver: &Bound<'_, PyAny>) -> PyResult<()> {
    let Some(settings) = python::django_settings(py) else {
        return Ok(());
    };
    if !debug_enabled(&settings)? {
        return Ok(());
    }
    if !receiver.is_callable() {
        return Err(PyTypeError::new_err("Signal receivers must be callable."));
    }
    if !python::func_accepts_kwargs(py)?.call1((receiver,))?.is_truthy()? {
        return Err(PyValueError::new_err(
            "Signal receivers must accept keyword arguments (**kwargs).",
        ));
    }
    Ok(())
}

/// Django's `settings.configured and settings.DEBUG`. `LazySettings` keeps
/// what it wraps, and each setting once read, in its instance `__dict__`;
/// reading them there skips two trips through `LazyObject.__getattribute__`,
/// which would cost more than the rest of `connect`.
fn debug_enabled(settings: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = settings.py();
    // SAFETY: the instance dict of a live object: a new reference, or NULL
    // with an error set (no dict), which is then cleared.
    let dict = unsafe {
        let dict = ffi::PyObject_GenericGetDict(settings.as_ptr(), std::ptr::null_mut());
        if dict.is_null() {
            ffi::PyErr_Clear();
        }
        Bound::from_owned_ptr_or_opt(py, dict).and_then(|d| d.cast_into::<PyDict>().ok())
    };
    if let Some(dict) = dict {
        if let Some(wrapped) = dict.get_item(intern!(py, "_wrapped"))? {
            if wrapped.is(python::lazy_empty(py)?) {
                return Ok(false);
            }
            if let Some(debug) = dict.get_item(intern!(py, "DEBUG"))? {
                return debug.is_truthy();
            }
        }
    }
    Ok(settings.getattr(intern!(py, "configured"))?.is_truthy()?
        && settings.getattr(intern!(py, "DEBUG"))?.is_truthy()?)
}

/// The receiver half of the lookup key: the `dispatch_uid` when it is truthy,
/// else the receiver's identity.
fn receiver_key(receiver: &Bound<'_, PyAny>, dispatch_uid: Option<&Bound<'_, PyAny>>) -> PyResult<ReceiverKey> {
    match dispatch_uid {
        Some(uid) if uid.is_truthy()? => ReceiverKey::for_uid(uid),
        _ => Ok(ReceiverKey::Target(make_id(receiver)?)),
    }
}

/// A row of `receivers` in the installed Django's layout.
fn row_of_entry(py: Python<'_>, entry: Entry) -> PyResult<Bound<'_, PyTuple>> {
    let lookup_key = PyTuple::new(py, [entry.key.to_object(py)?, entry.sender.to_object(py)?])?;
    let receiver = entry.receiver.into_bound(py);
    match compat::series() {
        Series::Django42 => PyTuple::new(py, [lookup_key.into_any(), receiver]),
        Series::Django5 => {
            let is_async = pyo3::types::PyBool::new(py, entry.is_async).to_owned().into_any();
            PyTuple::new(py, [lookup_key.into_any(), receiver, is_async])
        }
        Series::Django60 | Series::Django61 => {
            (lookup_key, receiver, entry.sender_ref, entry.is_async).into_pyobject(py)
        }
    }
}

/// The layout of a row, for the error raised on another.
fn row_layout() -> &'static str {
    match compat::series() {
        Series::Django42 => "((receiver_key, sender_key), receiver)",
        Series::Django5 => "((receiver_key, sender_key), receiver, is_async)",
        Series::Django60 | Series::Django61 => "((receiver_key, sender_key), receiver, sender_ref, is_async)",
    }
}

/// An entry from a row of `receivers` in the installed Django's layout. A
/// layout without the sender's reference takes it from the entry of
/// `previous` with the same receiver object and sender key, if any.
fn entry_from_row(row: &Bound<'_, PyAny>, previous: &[Entry]) -> PyResult<Entry> {
    let invalid = || PyTypeError::new_err(format!("each receiver must be a tuple {}", row_layout()));
    let row = row.cast::<PyTuple>().map_err(|_| invalid())?;
    let width = match compat::series() {
        Series::Django42 => 2,
        Series::Django5 => 3,
        Series::Django60 | Series::Django61 => 4,
    };
    if row.len() != width {
        return Err(invalid());
    }
    let (receiver_key, sender_key): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
        row.get_item(0)?.extract().map_err(|_| invalid())?;
    let receiver = row.get_item(1)?;
    let sender = sender_key_from_object(&sender_key)?;
    let (sender_ref, is_async) = match width {
        2 => (None, false),
        3 => (None, row.get_item(2)?.is_truthy()?),
        _ => (Some(row.get_item(2)?), row.get_item(3)?.is_truthy()?),
    };
    let sender_ref = match sender_ref {
        Some(r) if r.is_none() => None,
        Some(r) => Some(r.unbind()),
        None => previous
            .iter()
            .find(|e| e.sender == sender && e.receiver.is(&receiver))
            .and_then(|e| e.sender_ref.as_ref().map(|r| r.clone_ref(row.py()))),
    };
    Ok(Entry {
        key: ReceiverKey::for_uid(&receiver_key)?,
        sender,
        receiver: receiver.unbind(),
        sender_ref,
        is_async,
    })
}

/// With `use_caching`, Django looks senders up in a `WeakKeyDictionary`, so a
/// sender that cannot be weakly referenced or hashed raises `TypeError`.
fn check_cacheable(sender: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = sender.py();
    // SAFETY: reading the type's weaklist offset of a live object.
    let weakrefable = unsafe { (*ffi::Py_TYPE(sender.as_ptr())).tp_weaklistoffset != 0 };
    if !weakrefable {
        // Let Python raise its own message.
        python::weakref_module(py)?
            .getattr(intern!(py, "ref"))?
            .call1((sender,))?;
    }
    sender.hash()?;
    Ok(())
}

/// `isinstance(obj, weakref.ReferenceType)`.
pub(crate) fn is_weakref(obj: &Py<PyAny>) -> bool {
    // SAFETY: type check of a live object.
    unsafe { ffi::PyWeakref_CheckRef(obj.as_ptr()) != 0 }
}

/// What a receiver slot refers to: the referent of a weak reference (`None`
/// once dead), or the object itself.
pub fn resolve<'py>(py: Python<'py>, obj: &Py<PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let ptr = obj.as_ptr();
    // SAFETY: `ptr` is live (we hold `obj`); PyWeakref_GetRef returns a new
    // reference or NULL.
    unsafe {
        if ffi::PyWeakref_CheckRefExact(ptr) != 0 {
            let mut referent = std::ptr::null_mut();
            if ffi::compat::PyWeakref_GetRef(ptr, &mut referent) < 0 {
                return Err(PyErr::fetch(py));
            }
            return Ok((!referent.is_null()).then(|| Bound::from_owned_ptr(py, referent)));
        }
        if ffi::PyWeakref_CheckRef(ptr) != 0 {
            // A subclass such as WeakMethod: its __call__ builds the referent.
            let referent = obj.bind(py).call0()?;
            return Ok((!referent.is_none()).then_some(referent));
        }
    }
    Ok(Some(obj.bind(py).clone()))
}

/// Django's `sender_ref is None or sender_ref() is not None`.
fn sender_alive(py: Python<'_>, sender_ref: Option<&Py<PyAny>>) -> PyResult<bool> {
    let Some(sender_ref) = sender_ref else {
        return Ok(true);
    };
    // SAFETY: type check of a live object.
    if unsafe { ffi::PyWeakref_CheckRefExact(sender_ref.as_ptr()) } != 0 {
        return Ok(resolve(py, sender_ref)?.is_some());
    }
    Ok(!sender_ref.bind(py).call0()?.is_none())
}

/// The address of what a weak reference we made refers to, if it is alive.
fn referent_address(weak: &Py<PyAny>) -> Option<usize> {
    let mut referent = std::ptr::null_mut();
    // SAFETY: `weak` is a weakref.ref we created; GetRef returns a new
    // reference or NULL. The referent is alive elsewhere too, so dropping
    // our reference frees nothing.
    unsafe {
        if ffi::compat::PyWeakref_GetRef(weak.as_ptr(), &mut referent) <= 0 {
            ffi::PyErr_Clear();
            return None;
        }
        ffi::Py_DECREF(referent);
    }
    Some(referent as usize)
}

/// Whether a weak reference we made still refers to `target`.
fn refers_to(weak: &Py<PyAny>, target: &Bound<'_, PyAny>) -> bool {
    referent_address(weak) == Some(target.as_ptr() as usize)
}

/// Whether a weak reference we made is alive.
fn weak_alive(weak: &Py<PyAny>) -> bool {
    referent_address(weak).is_some()
}

/// The live receivers of `signal` for `sender`, through `_live_receivers`
/// when user code replaced it (on the class, as sentry-sdk does, on a
/// subclass, or on the instance), natively otherwise.
pub fn live_receivers_of<'py>(signal: &Bound<'py, Signal>, sender: &Bound<'py, PyAny>) -> PyResult<Live<'py>> {
    let mut live = Live::default();
    live_receivers_of_into(signal, sender, &mut live)?;
    Ok(live)
}

/// `live_receivers_of`, filling `live` (empty) in place.
#[inline(always)]
pub fn live_receivers_of_into<'py>(
    signal: &Bound<'py, Signal>,
    sender: &Bound<'py, PyAny>,
    live: &mut Live<'py>,
) -> PyResult<()> {
    let py = signal.py();
    if !live_receivers_replaced(signal)? {
        return signal.get().live_receivers_into(py, sender, live);
    }
    let found = signal.call_method1(intern!(py, "_live_receivers"), (sender,))?;
    if !compat::live_receivers_split() {
        for receiver in found.try_iter()? {
            live.sync.push(receiver?);
        }
        return Ok(());
    }
    let (sync, asynchronous): (Bound<'py, PyAny>, Bound<'py, PyAny>) = found.extract()?;
    for receiver in sync.try_iter()? {
        live.sync.push(receiver?);
    }
    for receiver in asynchronous.try_iter()? {
        live.asynchronous.push(receiver?);
    }
    Ok(())
}

/// Whether `signal._live_receivers` is anything but the native method.
#[inline(always)]
fn live_receivers_replaced(signal: &Bound<'_, Signal>) -> PyResult<bool> {
    let py = signal.py();
    let name = intern!(py, "_live_receivers");
    // SAFETY: the instance's `__dict__` slot (at the type's positive dict
    // offset, as laid out for `#[pyclass(dict)]` and inherited by Python
    // subclasses) holds NULL or a borrowed dict; the type's fields are live.
    unsafe {
        let tp = ffi::Py_TYPE(signal.as_ptr());
        let offset = (*tp).tp_dictoffset;
        let dict = if offset > 0 {
            *signal.as_ptr().cast::<u8>().offset(offset).cast::<*mut ffi::PyObject>()
        } else {
            std::ptr::null_mut()
        };
        if !dict.is_null() && ffi::PyDict_Size(dict) > 0 {
            let dict = Bound::from_borrowed_ptr(py, dict);
            if dict.cast::<PyDict>()?.contains(name)? {
                return Ok(true);
            }
        } else if offset <= 0 && signal.hasattr(intern!(py, "__dict__"))? {
            // An unusual layout: ask Python.
            let dict = signal.getattr(intern!(py, "__dict__"))?;
            if dict.cast::<PyDict>()?.contains(name)? {
                return Ok(true);
            }
        }
        let this = signal.get();
        if let Some(tag) = keys::type_version_tag(tp) {
            if this.native_live_type.load(Ordering::Relaxed) == tp as usize
                && this.native_live_tag.load(Ordering::Relaxed) == tag
            {
                return Ok(false);
            }
        }
        let replaced = !signal.get_type().getattr(name)?.is(python::native_live_receivers(py)?);
        // The lookup gave the type a valid tag, if it can have one.
        if let (false, Some(tag)) = (replaced, keys::type_version_tag(tp)) {
            this.native_live_type.store(tp as usize, Ordering::Relaxed);
            this.native_live_tag.store(tag, Ordering::Relaxed);
        }
        Ok(replaced)
    }
}

/// `signal.sender_receivers_cache`: Django's `WeakKeyDictionary` of
/// receivers per sender (a plain dict that stays empty without
/// `use_caching`), seen through the signal's own cache.
#[pyclass(module = "fastdispatch", name = "SenderReceiversCache", frozen)]
pub struct SenderReceiversCache {
    signal: Py<Signal>,
}

impl SenderReceiversCache {
    /// `(sender, receivers)` of the live cached senders, copied out of the lock.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, PyAny>, Snapshot)>> {
        let pairs: Vec<(Py<PyAny>, Snapshot)> = {
            let locked = self.signal.get().shared.lock(py);
            let store = locked.read()?;
            store
                .cached_senders()
                .map(|c| (c.sender_ref.clone_ref(py), c.receivers.clone()))
                .collect()
        };
        let mut items = Vec::with_capacity(pairs.len());
        for (sender_ref, receivers) in pairs {
            if let Some(sender) = resolve(py, &sender_ref)? {
                items.push((sender, receivers));
            }
        }
        Ok(items)
    }

    /// Django's cached value, or `NO_RECEIVERS`: a list of
    /// `receiver_or_ref` (4.2), `(receiver_or_ref, is_async)` (5.x) or
    /// `(receiver_or_ref, sender_ref, is_async)` (6.x).
    fn value<'py>(py: Python<'py>, receivers: &Snapshot) -> PyResult<Bound<'py, PyAny>> {
        if receivers.is_empty() {
            return Ok(python::no_receivers(py).clone());
        }
        let list = PyList::empty(py);
        for target in receivers.iter() {
            let receiver = target.receiver.bind(py);
            match compat::series() {
                Series::Django42 => list.append(receiver)?,
                Series::Django5 => list.append((receiver, target.is_async))?,
                Series::Django60 | Series::Django61 => {
                    let sender_ref = target.sender_ref.as_ref().map(|r| r.bind(py));
                    list.append((receiver, sender_ref, target.is_async))?
                }
            }
        }
        Ok(list.into_any())
    }
}

#[pymethods]
impl SenderReceiversCache {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A receiver may hold the cache object: the signal it shows is then
        // in a cycle with it. Clearing the signal breaks that cycle.
        visit.call(&self.signal)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.items(py)?.len())
    }

    fn __contains__(&self, py: Python<'_>, sender: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.items(py)?.iter().any(|(cached, _)| cached.is(sender)))
    }

    fn __getitem__<'py>(&self, py: Python<'py>, sender: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.get(py, sender, None)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(sender.clone().unbind()))
    }

    #[pyo3(signature = (sender, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        sender: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        for (cached, receivers) in self.items(py)? {
            if cached.is(sender) {
                return Self::value(py, &receivers).map(Some);
            }
        }
        Ok(default)
    }

    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        let locked = self.signal.get().shared.lock(py);
        locked.write(|store, released| store.clear_sender_cache(|_| false, released))
    }

    /// A copy in Django's type: a `WeakKeyDictionary` with `use_caching`, a dict without.
    fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let copy = if self.signal.get().use_caching_enabled() {
            python::weakref_module(py)?
                .getattr(intern!(py, "WeakKeyDictionary"))?
                .call0()?
        } else {
            PyDict::new(py).into_any()
        };
        for (sender, receivers) in self.items(py)? {
            copy.set_item(sender, Self::value(py, &receivers)?)?;
        }
        Ok(copy)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<fastdispatch.SenderReceiversCache of {} senders>",
            self.__len__(py)?
        ))
    }
}
