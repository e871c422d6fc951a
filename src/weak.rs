//! Weak references: the one place they are made and dereferenced.
//!
//! A signal holds its receivers through `weakref.ref` or `weakref.WeakMethod`
//! (unless connected with `weak=False`), and senders through `weakref.ref`
//! where they allow one, so that neither is kept alive by the signal. A
//! `weakref.ref` is dereferenced natively, without running Python code; a
//! `WeakMethod` (or any other subclass) by calling it.

use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyWeakrefReference;

use crate::ffi;
use crate::python;

pub use crate::ffi::{is_plain_weakref, is_weakref};

/// A receiver's weak reference, made as Django makes it: `weakref.WeakMethod`
/// for a bound method, `weakref.ref` otherwise, both looked up on the
/// `weakref` module at every call (so that patching them takes effect).
pub fn to_receiver<'py>(
    receiver: &Bound<'py, PyAny>,
    is_method: bool,
    callback: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = receiver.py();
    let weakref = python::weakref_module(py)?;
    let factory = if is_method {
        weakref.getattr(intern!(py, "WeakMethod"))?
    } else {
        weakref.getattr(intern!(py, "ref"))?
    };
    factory.call1((receiver, callback))
}

/// A sender's weak reference (`weakref.ref`, looked up as Django does), or
/// `None` when the sender cannot be weakly referenced.
pub fn to_sender<'py>(sender: &Bound<'py, PyAny>, callback: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = sender.py();
    let weakref_ref = python::weakref_module(py)?.getattr(intern!(py, "ref"))?;
    match weakref_ref.call1((sender, callback)) {
        Ok(r) => Ok(Some(r)),
        Err(err) if err.is_instance_of::<PyTypeError>(py) => Ok(None),
        Err(err) => Err(err),
    }
}

/// A `weakref.ref` to `obj` with `callback`, made natively.
pub fn to_object<'py>(obj: &Bound<'py, PyAny>, callback: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    ffi::new_weakref(obj, callback)
}

/// A `weakref.ref` to `obj` without callback.
pub fn to_object_quietly<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    PyWeakrefReference::new(obj).map(Bound::into_any)
}

/// Raise Python's own error for an object that cannot be weakly referenced.
#[cold]
#[inline(never)]
pub fn refuse(obj: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = obj.py();
    python::weakref_module(py)?.getattr(intern!(py, "ref"))?.call1((obj,))?;
    Ok(())
}

/// What a receiver slot refers to: the referent of a weak reference (`None`
/// once dead), or the object itself.
pub fn resolve<'py>(py: Python<'py>, obj: &Py<PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    if is_plain_weakref(obj) {
        return ffi::weakref_get(py, obj).map_err(|()| PyErr::fetch(py));
    }
    if is_weakref(obj) {
        // A subclass such as WeakMethod: its __call__ builds the referent.
        let referent = obj.bind(py).call0()?;
        return Ok((!referent.is_none()).then_some(referent));
    }
    Ok(Some(obj.bind(py).clone()))
}

/// What a `weakref.ref` refers to, if it is alive. Runs no Python code.
#[inline(always)]
pub fn referent<'py>(py: Python<'py>, weak: &Py<PyAny>) -> Option<Bound<'py, PyAny>> {
    match ffi::weakref_get(py, weak) {
        Ok(referent) => referent,
        Err(()) => {
            // Never for a `weakref.ref`; cleared, as the answer is "dead".
            ffi::clear_error(py);
            None
        }
    }
}

/// Whether a `weakref.ref` is alive. Runs no Python code.
#[inline(always)]
pub fn is_alive(py: Python<'_>, weak: &Py<PyAny>) -> bool {
    referent(py, weak).is_some()
}

/// Whether a `weakref.ref` still refers to `target`. Runs no Python code.
#[inline]
pub fn refers_to(weak: &Py<PyAny>, target: &Bound<'_, PyAny>) -> bool {
    referent(target.py(), weak).is_some_and(|r| r.is(target))
}

/// Django's `sender_ref is None or sender_ref() is not None`, for a sender
/// reference that is a `weakref.ref` or none: runs no Python code.
#[inline(always)]
pub fn sender_alive_natively(py: Python<'_>, sender_ref: Option<&Py<PyAny>>) -> bool {
    sender_ref.is_none_or(|r| is_alive(py, r))
}

/// Django's `sender_ref is None or sender_ref() is not None`.
pub fn sender_alive(py: Python<'_>, sender_ref: Option<&Py<PyAny>>) -> PyResult<bool> {
    match sender_ref {
        Some(r) if !is_plain_weakref(r) => Ok(!r.bind(py).call0()?.is_none()),
        _ => Ok(sender_alive_natively(py, sender_ref)),
    }
}
