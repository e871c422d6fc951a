//! `send` and `send_robust`: the hot path.
//!
//! Both are plain CPython methods taking vectorcall arguments
//! (`METH_FASTCALL | METH_KEYWORDS`), installed on the class when the module
//! loads: PyO3's `#[pymethods]` would collect `**named` into a dict first.
//! The caller's arguments are passed on to every receiver as they came
//! (`args.rs`): one argument array and one keyword-names tuple per send, nothing
//! allocated per receiver but its `(receiver, response)` pair. The names
//! tuple (`("signal", "sender", *named)`) is cached per call shape, so a send
//! from the same call site allocates none.

use std::ffi::CStr;
use std::mem::MaybeUninit;

use pyo3::exceptions::PyException;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use smallvec::SmallVec;

use super::args::{CallArgs, INLINE_ARGS};
use super::live::{live_receivers_of_into, Live};
use super::Signal;
use crate::compat;
use crate::profile;
use crate::python;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Send,
    Robust,
}

impl Mode {
    pub(super) fn qualname(self) -> &'static str {
        match self {
            Mode::Send => "Signal.send",
            Mode::Robust => "Signal.send_robust",
        }
    }
}

/// Install `send` and `send_robust` on `Signal` as method descriptors.
pub fn install(py: Python<'_>, signal_type: &Bound<'_, pyo3::types::PyType>) -> PyResult<()> {
    const SEND_DOC: &CStr = c"send($self, sender, **named)\n--\n\nSend signal from sender to all connected receivers.\n\nReceivers are called in connection order as receiver(signal=self, sender=sender, **named); async receivers run after the sync ones, concurrently. A receiver's exception propagates and ends the dispatch. Return a list of (receiver, response) pairs.";
    const ROBUST_DOC: &CStr = c"send_robust($self, sender, **named)\n--\n\nSend signal from sender to all connected receivers, catching errors.\n\nAn Exception raised by a receiver is logged on the django.dispatch logger and returned as that receiver's response. Return a list of (receiver, response) pairs.";
    // The same trampoline `#[pymethods]` expands to.
    let send: ffi::PyCFunctionFastWithKeywords =
        pyo3::impl_::trampoline::get_trampoline_function!(fastcall_cfunction_with_keywords, send);
    let send_robust: ffi::PyCFunctionFastWithKeywords =
        pyo3::impl_::trampoline::get_trampoline_function!(fastcall_cfunction_with_keywords, send_robust);
    let methods: [(&CStr, ffi::PyCFunctionFastWithKeywords, &CStr); 2] =
        [(c"send", send, SEND_DOC), (c"send_robust", send_robust, ROBUST_DOC)];
    for (name, function, doc) in methods {
        // The definition must outlive the type: leaked once per process.
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: name.as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunctionFastWithKeywords: function,
            },
            ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
            ml_doc: doc.as_ptr(),
        }));
        // SAFETY: the type is a ready heap type; `def` is 'static.
        let descriptor =
            unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyDescr_NewMethod(signal_type.as_type_ptr(), def))? };
        signal_type.setattr(PyString::new(py, &name.to_string_lossy()), descriptor)?;
    }
    Ok(())
}

/// `send`, run by PyO3's trampoline: it marks the thread as attached (so
/// objects released here are released at once, not deferred to PyO3's pool)
/// and turns a panic into `PanicException`.
///
/// # Safety
/// Called by CPython through the method descriptor: `args`, `nargsf` and
/// `kwnames` are a vectorcall argument layout, and `slf` an instance of
/// `Signal` (the descriptor checks it).
unsafe fn send(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: the caller's promise, passed on.
    unsafe { run(py, slf, args, nargsf, kwnames, Mode::Send) }
}

/// `send_robust`, run as `send` is.
///
/// # Safety
/// As for `send`.
unsafe fn send_robust(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: the caller's promise, passed on.
    unsafe { run(py, slf, args, nargsf, kwnames, Mode::Robust) }
}

/// A send, in the order things happen.
///
/// # Safety
/// As for `send`.
unsafe fn run(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
    mode: Mode,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: `slf` is a live `Signal` (the caller's promise).
    let signal = unsafe { Bound::from_borrowed_ptr(py, slf).cast_into_unchecked::<Signal>() };

    // 0. No receiver at all, the usual state of most signals: Django looks
    //    at nothing but its arguments' binding (not the sender), so once
    //    they bind there is nothing to lay out.
    // SAFETY: a vectorcall argument layout (the caller's promise).
    if signal.get().has_no_receivers() && unsafe { super::args::binds_plainly(py, nargsf, kwnames) } {
        return Ok(PyList::empty(py).into_ptr());
    }

    // 1. The receivers' arguments, laid out once for all of them: on the
    //    stack for up to `INLINE_ARGS - 3` named arguments.
    let mut inline = [MaybeUninit::uninit(); INLINE_ARGS];
    let mut spilled = Vec::new();
    // SAFETY: a vectorcall argument layout (the caller's promise).
    let call = unsafe { CallArgs::parse(py, slf, args, nargsf, kwnames, mode, &mut inline, &mut spilled)? };
    // SAFETY: borrowed from the caller's arguments, which outlive this call.
    let sender = unsafe { pyo3::Borrowed::from_ptr(py, call.sender()) };

    // 2. Nothing to do without receivers; the sender is checked first, as
    //    Django's sender cache would.
    if !signal.get().admits(&sender)? {
        return Ok(PyList::empty(py).into_ptr());
    }

    // 3. The live receivers, all resolved before any of them runs.
    let mut live = Live::default();
    live_receivers_of_into(&signal, &sender, &mut live)?;

    // 4. The sync receivers, in connection order. Each receiver's slot in
    //    `live.sync` takes its `(receiver, response)` pair once it has
    //    answered; on an error, the pairs made and the receivers not reached
    //    are released with `live`.
    //    While a profile records, each call is timed (`send_profiled`).
    if profile::active() {
        send_profiled(&signal, &sender, &call, mode, &mut live)?;
    } else {
        for slot in live.sync.iter_mut() {
            let response = respond(&signal, slot, &sender, &call, mode)?;
            into_pair(py, slot, response)?;
        }
    }

    // 5. The async receivers, after the sync ones, concurrently.
    if !live.asynchronous.is_empty() {
        send_async(&signal, &sender, &call, mode, &mut live)?;
    }

    // 6. The responses, as one list, made in one stretch that runs no Python
    //    code: a list with empty slots must never be reachable (a receiver
    //    could find it with `gc.get_referrers`).
    list_of(py, &mut live.sync).map(Bound::into_ptr)
}

/// A receiver's response: what it returns, or with `send_robust` the
/// `Exception` it raises (logged as Django logs it).
#[inline(always)]
fn respond<'py>(
    signal: &Bound<'py, Signal>,
    receiver: &Bound<'py, PyAny>,
    sender: &Bound<'py, PyAny>,
    call: &CallArgs<'_, 'py>,
    mode: Mode,
) -> PyResult<Bound<'py, PyAny>> {
    settle(signal, receiver, invoke(signal, receiver, sender, call), mode)
}

/// A receiver's call.
#[inline(always)]
fn invoke<'py>(
    signal: &Bound<'py, Signal>,
    receiver: &Bound<'py, PyAny>,
    sender: &Bound<'py, PyAny>,
    call: &CallArgs<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    if call.clashes {
        call_with_clash(signal, receiver, sender, call)
    } else {
        call.call(receiver)
    }
}

/// What a receiver's call gives the send: its response, or with
/// `send_robust` the `Exception` it raised, logged.
#[inline(always)]
fn settle<'py>(
    signal: &Bound<'py, Signal>,
    receiver: &Bound<'py, PyAny>,
    response: PyResult<Bound<'py, PyAny>>,
    mode: Mode,
) -> PyResult<Bound<'py, PyAny>> {
    match (response, mode) {
        (Ok(response), _) => Ok(response),
        (Err(err), Mode::Robust) if err.is_instance_of::<PyException>(signal.py()) => {
            robust_failure(signal, receiver, err)
        }
        (Err(err), _) => Err(err),
    }
}

/// Step 4 while a profile records: each sync receiver timed from just
/// before its call to its return; the calls are recorded together once the
/// receivers ran, or one of them raised. The time a robust send takes to log
/// an error is not the receiver's.
#[cold]
#[inline(never)]
fn send_profiled<'py>(
    signal: &Bound<'py, Signal>,
    sender: &Bound<'py, PyAny>,
    call: &CallArgs<'_, 'py>,
    mode: Mode,
    live: &mut Live<'py>,
) -> PyResult<()> {
    let py = signal.py();
    let mut timed: SmallVec<[profile::Timed<'py>; 8]> = SmallVec::new();
    let mut run_all = || -> PyResult<()> {
        for slot in live.sync.iter_mut() {
            let start = profile::ticks();
            let response = invoke(signal, slot, sender, call);
            let duration = profile::ticks().saturating_sub(start);
            let outcome = match &response {
                Ok(_) => profile::Outcome::Returned,
                Err(err) if mode == Mode::Robust && err.is_instance_of::<PyException>(py) => profile::Outcome::Caught,
                Err(_) => profile::Outcome::Raised,
            };
            timed.push(profile::Timed {
                receiver: slot.clone(),
                duration,
                outcome,
            });
            let response = settle(signal, slot, response, mode)?;
            into_pair(py, slot, response)?;
        }
        Ok(())
    };
    let result = run_all();
    profile::record(signal.as_any(), sender, &timed);
    result
}

/// Replace the receiver in `slot` with the pair `(receiver, response)`.
#[inline(always)]
fn into_pair<'py>(py: Python<'py>, slot: &mut Bound<'py, PyAny>, response: Bound<'py, PyAny>) -> PyResult<()> {
    // SAFETY: a new 2-tuple, filled at once (nothing runs in between) with
    // two owned references: the receiver's, moved out of its slot, and the
    // response.
    unsafe {
        let pair = ffi::PyTuple_New(2);
        if pair.is_null() {
            return Err(PyErr::fetch(py));
        }
        let receiver = std::mem::replace(slot, Bound::from_owned_ptr(py, pair));
        ffi::PyTuple_SET_ITEM(pair, 0, receiver.into_ptr());
        ffi::PyTuple_SET_ITEM(pair, 1, response.into_ptr());
    }
    Ok(())
}

/// Run the async receivers (through `fastdispatch._glue`), and add their
/// `(receiver, response)` pairs after those of the sync ones.
#[inline(never)]
fn send_async<'py>(
    signal: &Bound<'py, Signal>,
    sender: &Bound<'py, PyAny>,
    call: &CallArgs<'_, 'py>,
    mode: Mode,
    live: &mut Live<'py>,
) -> PyResult<()> {
    let py = signal.py();
    let receivers = PyList::new(py, &live.asynchronous)?;
    let responses = python::glue(py, "send_async_receivers")?.call1((
        signal,
        sender,
        call.named(py)?,
        receivers,
        mode == Mode::Robust,
    ))?;
    for pair in responses.try_iter()? {
        live.sync.push(pair?);
    }
    Ok(())
}

/// A robust send's response for a receiver that raised `err`: the error,
/// logged as Django logs it.
#[cold]
#[inline(never)]
fn robust_failure<'py>(
    signal: &Bound<'py, Signal>,
    receiver: &Bound<'py, PyAny>,
    err: PyErr,
) -> PyResult<Bound<'py, PyAny>> {
    let py = signal.py();
    let err = err.into_value(py).into_bound(py).into_any();
    // Django 4.2's send_robust logs by itself: the class has no
    // _log_robust_failure there, and a subclass's method of that name is not
    // called.
    if compat::has_log_robust_failure() {
        signal.call_method1(intern!(py, "_log_robust_failure"), (receiver, &err))?;
    } else {
        log_robust_failure(py, receiver, &err)?;
    }
    Ok(err)
}

/// A list of `items`, their references moved in (`items` is left empty). No
/// Python code runs between making the list and filling it: nobody sees it
/// with empty slots.
#[inline(always)]
fn list_of<'py>(py: Python<'py>, items: &mut SmallVec<[Bound<'py, PyAny>; 8]>) -> PyResult<Bound<'py, PyList>> {
    let Ok(length) = ffi::Py_ssize_t::try_from(items.len()) else {
        return Err(too_many_responses());
    };
    // SAFETY: a new list of `length` empty slots, each filled below with one
    // of the references `items` owns before anything else runs (SET_ITEM
    // neither allocates nor runs code); `items` is emptied without releasing
    // them, since the list owns them now.
    unsafe {
        let list = ffi::PyList_New(length);
        if list.is_null() {
            return Err(PyErr::fetch(py));
        }
        for (index, item) in items.iter().enumerate() {
            ffi::PyList_SET_ITEM(list, index as ffi::Py_ssize_t, item.as_ptr());
        }
        items.set_len(0);
        Ok(Bound::from_owned_ptr(py, list).cast_into_unchecked::<PyList>())
    }
}

#[cold]
fn too_many_responses() -> PyErr {
    pyo3::exceptions::PyMemoryError::new_err("too many responses for one list")
}

/// `receiver(signal=signal, sender=sender, **named)` where `named` has its
/// own `signal`: Python raises its usual "got multiple values" error.
fn call_with_clash<'py>(
    signal: &Bound<'py, Signal>,
    receiver: &Bound<'py, PyAny>,
    sender: &Bound<'py, PyAny>,
    call: &CallArgs<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = signal.py();
    python::glue(py, "call_receiver")?.call1((receiver, signal, sender, call.named(py)?))
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
