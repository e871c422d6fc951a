//! Connecting and disconnecting receivers, and clearing dead ones: every
//! change to a signal's receivers but assigning `receivers`
//! (`internals.rs`).

use std::sync::atomic::Ordering;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyFunction;

use super::Signal;
use crate::compat::{self, Series};
use crate::ffi;
use crate::keys::{self, make_id, ObjId, ReceiverKey};
use crate::lock::Locked;
use crate::python;
use crate::receivers::Entry;
use crate::weak;

impl Signal {
    /// `connect`, called by its Python front (`fastdispatch._glue.connect`).
    ///
    /// Weak references are kept to the receiver unless `weak` is false (a
    /// `WeakMethod` for bound methods), and to the sender where it allows
    /// one, so that receivers of a collected sender are dropped. A second
    /// connection with the same `dispatch_uid` (or the same receiver) and
    /// sender is ignored.
    pub(super) fn connect(
        &self,
        py: Python<'_>,
        receiver: &Bound<'_, PyAny>,
        sender: Option<&Bound<'_, PyAny>>,
        weak: bool,
        dispatch_uid: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        check_receiver_when_debug(py, receiver)?;

        let none = py.None().into_bound(py);
        let sender = sender.unwrap_or(&none);
        let key = receiver_key(receiver, dispatch_uid)?;
        let sender_key = make_id(sender)?;
        let is_async = is_async_receiver(receiver)?;

        let on_dead = self.on_dead.bind(py).as_any();
        let receiver = if weak {
            weak::to_receiver(receiver, keys::is_bound_method(receiver)?, on_dead)?
        } else {
            receiver.clone()
        };
        // Before Django 6.0 a bound method sender (keyed by its object's and
        // function's ids) is matched by any bound method of them; the one
        // given here dies at once, so it is not followed there.
        let sender_ref = if sender.is_none() || (!compat::rows_have_sender_ref() && keys::is_bound_method(sender)?) {
            None
        } else {
            weak::to_sender(sender, on_dead)?.map(Bound::unbind)
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
    pub(super) fn disconnect_receiver(
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
    ) -> PyResult<Option<(usize, *mut pyo3::ffi::PyObject)>> {
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
    ) -> PyResult<Option<Option<(usize, *mut pyo3::ffi::PyObject)>>> {
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
    pub(super) fn clear_dead(&self, py: Python<'_>) -> PyResult<()> {
        let locked = self.shared.lock(py);
        self.clear_dead_locked(py, &locked)
    }

    /// Django's `_clear_dead_receivers`, with the lock held: if flagged, drop
    /// entries whose receiver or sender died. Liveness of a `WeakMethod` is
    /// Python code, so it is judged with the store not borrowed.
    pub(super) fn clear_dead_locked(&self, py: Python<'_>, locked: &Locked<'_>) -> PyResult<()> {
        if !self.dead.load(Ordering::Acquire) || !self.dead.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let candidates: Vec<(usize, Py<PyAny>, Option<Py<PyAny>>)> = locked
            .read()?
            .slots()
            .filter(|(_, e)| weak::is_weakref(&e.receiver) || e.sender_ref.is_some())
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
            let receiver_dead = weak::is_weakref(receiver) && weak::resolve(py, receiver)?.is_none();
            if receiver_dead || !weak::sender_alive(py, sender_ref.as_ref())? {
                dead.push((*slot, receiver.as_ptr()));
            }
        }
        let all_removed = locked.write(|store, released| {
            store.clear_sender_cache(|cached| weak::is_alive(py, &cached.sender_ref), released);
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
    // A function, or the function of a bound method (held by the method).
    let method_function = keys::bound_method(receiver).map(|(_, function)| function);
    let function = match receiver.cast::<PyFunction>() {
        Ok(function) => Some(function),
        Err(_) => method_function.as_deref().and_then(|f| f.cast::<PyFunction>().ok()),
    };
    if let Some(function) = function {
        if ffi::function_dict(function).is_none() {
            let flags: i64 = ffi::function_code(function)
                .getattr(intern!(py, "co_flags"))?
                .extract()?;
            return Ok(flags & i64::from(pyo3::ffi::CO_COROUTINE) != 0);
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
    let dict = ffi::generic_dict(settings);
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
