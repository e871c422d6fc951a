//! `send` and `send_robust`: the hot path.
//!
//! Both are plain CPython methods taking vectorcall arguments
//! (`METH_FASTCALL | METH_KEYWORDS`), installed on the class when the module
//! loads: PyO3's `#[pymethods]` would collect `**named` into a dict first. The caller's arguments are passed on to every receiver as they
//! came: one argument array and one keyword-names tuple per send, nothing
//! allocated per receiver but its `(receiver, response)` pair. The names
//! tuple (`("signal", "sender", *named)`) is cached per call shape, so a send
//! from the same call site allocates none.

use std::cell::{Cell, RefCell};
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::ptr;

use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use smallvec::SmallVec;

use crate::compat;
use crate::python;
use crate::signal::{live_receivers_of_into, Live, Signal};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Send,
    Robust,
}

impl Mode {
    fn qualname(self) -> &'static str {
        match self {
            Mode::Send => "Signal.send",
            Mode::Robust => "Signal.send_robust",
        }
    }
}

/// Install `send` and `send_robust` on `Signal` as method descriptors.
pub fn install(py: Python<'_>, signal_type: &Bound<'_, pyo3::types::PyType>) -> PyResult<()> {
    const SEND_DOC: &CStr = c"send($self, sender, /, **named)\n--\n\nSend signal from sender to all connected receivers.\n\nReceivers are called in connection order as receiver(signal=self, sender=sender, **named); async receivers run after the sync ones, concurrently. A receiver's exception propagates and ends the dispatch. Return a list of (receiver, response) pairs.";
    const ROBUST_DOC: &CStr = c"send_robust($self, sender, /, **named)\n--\n\nSend signal from sender to all connected receivers, catching errors.\n\nAn Exception raised by a receiver is logged on the django.dispatch logger and returned as that receiver's response. Return a list of (receiver, response) pairs.";
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
unsafe fn send(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    unsafe { run(py, slf, args, nargsf, kwnames, Mode::Send) }
}

unsafe fn send_robust(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<*mut ffi::PyObject> {
    unsafe { run(py, slf, args, nargsf, kwnames, Mode::Robust) }
}

/// # Safety
/// Called by CPython with a vectorcall argument layout; `slf` is an instance
/// of `Signal` (the method descriptor checks it).
unsafe fn run(
    py: Python<'_>,
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
    mode: Mode,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: forwarded from the caller's contract.
    let signal = unsafe { Bound::from_borrowed_ptr(py, slf).cast_into_unchecked::<Signal>() };
    // The receivers' argument array lives here, uninitialised until filled:
    // on the stack for calls with up to `INLINE_ARGS - 3` named arguments.
    let mut inline = [MaybeUninit::uninit(); INLINE_ARGS];
    let mut spilled = Vec::new();
    let call = unsafe { CallArgs::parse(py, slf, args, nargsf, kwnames, mode, &mut inline, &mut spilled)? };
    dispatch(&signal, &call, mode).map(Bound::into_ptr)
}

const INLINE_ARGS: usize = 16;

/// The arguments of one send, laid out for the receivers' vectorcall:
/// `[<spare>, signal, sender, *named values]` (borrowed from the caller) with
/// `kwnames` `("signal", "sender", *named names)`. The spare slot in front
/// lets a bound-method receiver prepend its `self` without copying
/// (`PY_VECTORCALL_ARGUMENTS_OFFSET`), hence cells: the callee writes there.
struct CallArgs<'a, 'py> {
    stack: &'a [Cell<*mut ffi::PyObject>],
    kwnames: Bound<'py, PyTuple>,
    /// A named argument is called `signal`: Python's own call machinery must
    /// report the clash, as it does for Django.
    clashes: bool,
}

impl<'a, 'py> CallArgs<'a, 'py> {
    /// Lay the arguments out in `inline`, or in `spilled` when they do not fit.
    ///
    /// # Safety
    /// `args`, `nargsf` and `kwnames` are a valid vectorcall argument layout.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn parse(
        py: Python<'py>,
        signal: *mut ffi::PyObject,
        args: *const *mut ffi::PyObject,
        nargsf: ffi::Py_ssize_t,
        kwnames: *mut ffi::PyObject,
        mode: Mode,
        inline: &'a mut [MaybeUninit<*mut ffi::PyObject>; INLINE_ARGS],
        spilled: &'a mut Vec<MaybeUninit<*mut ffi::PyObject>>,
    ) -> PyResult<CallArgs<'a, 'py>> {
        let nargs = unsafe { ffi::PyVectorcall_NARGS(nargsf as usize) } as usize;
        let names = if kwnames.is_null() {
            None
        } else {
            Some(unsafe { Bound::from_borrowed_ptr(py, kwnames).cast_into_unchecked::<PyTuple>() })
        };
        let nkw = names.as_ref().map_or(0, |n| n.len());
        if nargs > 1 {
            return Err(PyTypeError::new_err(format!(
                "{}() takes 2 positional arguments but {} were given",
                mode.qualname(),
                nargs + 1
            )));
        }
        let shape = call_shape(py, names.as_ref(), nargs == 1)?;
        let sender = match (nargs, shape.sender_index) {
            (1, None) => unsafe { *args },
            // SAFETY: `sender_index < nkw`.
            (0, Some(i)) => unsafe { *args.add(i) },
            (1, Some(_)) => {
                return Err(PyTypeError::new_err(format!(
                    "{}() got multiple values for argument 'sender'",
                    mode.qualname()
                )))
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "{}() missing 1 required positional argument: 'sender'",
                    mode.qualname()
                )))
            }
        };
        // SAFETY: the caller passes `nargs + nkw` arguments.
        let values = unsafe { std::slice::from_raw_parts(args.add(nargs), nkw) };
        let len = 3 + nkw - usize::from(shape.sender_index.is_some());
        let slots = if len <= INLINE_ARGS {
            &mut inline[..len]
        } else {
            spilled.resize(len, MaybeUninit::uninit());
            &mut spilled[..]
        };
        slots[0].write(ptr::null_mut());
        slots[1].write(signal);
        slots[2].write(sender);
        let mut next = 3;
        for (i, &value) in values.iter().enumerate() {
            if shape.sender_index != Some(i) {
                slots[next].write(value);
                next += 1;
            }
        }
        // SAFETY: all `len` slots were written above.
        let stack = unsafe { &mut *(slots as *mut [MaybeUninit<*mut ffi::PyObject>] as *mut [*mut ffi::PyObject]) };
        let stack = Cell::from_mut(stack).as_slice_of_cells();
        Ok(CallArgs {
            stack,
            kwnames: shape.kwnames,
            clashes: shape.clashes,
        })
    }

    fn sender(&self) -> *mut ffi::PyObject {
        self.stack[2].get()
    }

    /// `named`, as a dict (for the Python side: async receivers, clashes).
    fn named(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let named = PyDict::new(py);
        for (i, name) in self.kwnames.iter().enumerate().skip(2) {
            // SAFETY: the caller's argument array outlives this send.
            named.set_item(name, unsafe { Bound::from_borrowed_ptr(py, self.stack[i + 1].get()) })?;
        }
        Ok(named)
    }
}

/// The receivers' keyword names for one shape of call, and where the sender is.
struct CallShape<'py> {
    kwnames: Bound<'py, PyTuple>,
    sender_index: Option<usize>,
    clashes: bool,
}

struct CachedShape {
    positional_sender: bool,
    names: SmallVec<[Py<PyString>; 8]>,
    kwnames: Py<PyTuple>,
    sender_index: Option<usize>,
    clashes: bool,
}

const SHAPE_CACHE_SIZE: usize = 16;

thread_local! {
    /// Most recently used first. Keyword names are nearly always interned
    /// strings, so a shape is recognised by pointer comparisons alone.
    static SHAPES: RefCell<Vec<CachedShape>> = const { RefCell::new(Vec::new()) };
}

fn call_shape<'py>(
    py: Python<'py>,
    names: Option<&Bound<'py, PyTuple>>,
    positional_sender: bool,
) -> PyResult<CallShape<'py>> {
    let same = |cached: &CachedShape| {
        cached.positional_sender == positional_sender
            && match names {
                None => cached.names.is_empty(),
                Some(names) => {
                    cached.names.len() == names.len()
                        && cached.names.iter().enumerate().all(|(i, n)| {
                            // SAFETY: i < len of a tuple we hold.
                            n.as_ptr() == unsafe { ffi::PyTuple_GET_ITEM(names.as_ptr(), i as ffi::Py_ssize_t) }
                        })
                }
            }
    };
    let hit = SHAPES.with(|cache| {
        let mut cache = cache.try_borrow_mut().ok()?;
        // Nearly always the shape of the previous send: found first.
        let index = cache.iter().position(same)?;
        if index > 0 {
            let shape = cache.remove(index);
            cache.insert(0, shape);
        }
        let shape = cache.first()?;
        Some(CallShape {
            kwnames: shape.kwnames.bind(py).clone(),
            sender_index: shape.sender_index,
            clashes: shape.clashes,
        })
    });
    if let Some(shape) = hit {
        return Ok(shape);
    }

    // A new shape: built with nothing borrowed, since allocating may run
    // the garbage collector and, through finalisers, another send.
    let signal_name = intern!(py, "signal");
    let sender_name = intern!(py, "sender");
    let mut out: SmallVec<[Bound<'py, PyString>; 8]> = SmallVec::new();
    out.push(signal_name.clone());
    out.push(sender_name.clone());
    let mut sender_index = None;
    let mut clashes = false;
    let mut cached_names = SmallVec::new();
    if let Some(names) = names {
        for (i, name) in names.iter().enumerate() {
            let name = name.cast_into::<PyString>()?;
            cached_names.push(name.clone().unbind());
            if name.as_any().eq(sender_name)? {
                sender_index = Some(i);
                continue;
            }
            clashes |= name.as_any().eq(signal_name)?;
            out.push(name);
        }
    }
    let kwnames = PyTuple::new(py, out)?;
    SHAPES.with(|cache| {
        if let Ok(mut cache) = cache.try_borrow_mut() {
            cache.truncate(SHAPE_CACHE_SIZE - 1);
            cache.insert(
                0,
                CachedShape {
                    positional_sender,
                    names: cached_names,
                    kwnames: kwnames.clone().unbind(),
                    sender_index,
                    clashes,
                },
            );
        }
    });
    Ok(CallShape {
        kwnames,
        sender_index,
        clashes,
    })
}

fn dispatch<'py>(signal: &Bound<'py, Signal>, call: &CallArgs<'_, 'py>, mode: Mode) -> PyResult<Bound<'py, PyList>> {
    let py = signal.py();
    let this = signal.get();
    // SAFETY: the sender is borrowed from the caller's arguments, which
    // outlive this call.
    let sender = unsafe { pyo3::Borrowed::from_ptr(py, call.sender()) };
    if !this.admits(&sender)? {
        return Ok(PyList::empty(py));
    }
    let mut live = Live::default();
    live_receivers_of_into(signal, &sender, &mut live)?;

    let stack = call.stack;
    let kwnames = call.kwnames.as_ptr();
    // The responses are made in `live.sync` itself: each receiver's slot
    // takes its `(receiver, response)` pair once it has answered. The
    // results list is made only at the end, in one stretch that runs no
    // Python code: a list with empty slots must never be reachable (a
    // receiver could find it with `gc.get_referrers`). On an error, the
    // pairs made and the receivers not reached are released with `live`.
    for slot in live.sync.iter_mut() {
        let receiver = slot.as_ptr();
        let response = if call.clashes {
            call_with_clash(signal, slot, &sender, call)
        } else {
            // SAFETY: `stack[1..]` holds one borrowed argument per name in
            // `kwnames`; `stack[0]` is the spare slot the offset flag allows
            // the callee to use; `slot` keeps the receiver alive.
            unsafe {
                Bound::from_owned_ptr_or_err(
                    py,
                    ffi::PyObject_Vectorcall(
                        receiver,
                        stack.as_ptr().add(1).cast::<*mut ffi::PyObject>(),
                        ffi::PY_VECTORCALL_ARGUMENTS_OFFSET,
                        kwnames,
                    ),
                )
            }
        };
        let response = match (response, mode) {
            (Ok(response), _) => response,
            (Err(err), Mode::Robust) if err.is_instance_of::<PyException>(py) => robust_failure(signal, slot, err)?,
            (Err(err), _) => return Err(err),
        };
        // SAFETY: a new 2-tuple, filled at once (nothing runs in between)
        // with two owned references: the receiver's, moved out of its slot,
        // and the response.
        unsafe {
            let pair = ffi::PyTuple_New(2);
            if pair.is_null() {
                return Err(PyErr::fetch(py));
            }
            let receiver = std::mem::replace(slot, Bound::from_owned_ptr(py, pair));
            ffi::PyTuple_SET_ITEM(pair, 0, receiver.into_ptr());
            ffi::PyTuple_SET_ITEM(pair, 1, response.into_ptr());
        }
    }
    if !live.asynchronous.is_empty() {
        let receivers = PyList::new(py, &live.asynchronous)?;
        let async_responses = python::glue(py, "send_async_receivers")?.call1((
            signal,
            &sender,
            call.named(py)?,
            receivers,
            mode == Mode::Robust,
        ))?;
        for pair in async_responses.try_iter()? {
            live.sync.push(pair?);
        }
    }
    list_of(py, &mut live.sync)
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
        crate::signal::log_robust_failure(py, receiver, &err)?;
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
