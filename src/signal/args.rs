//! The arguments of a send, laid out once for every receiver's vectorcall,
//! and the keyword-names tuple of each shape of call, cached.

use std::cell::{Cell, RefCell};
use std::mem::MaybeUninit;
use std::ptr;

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use smallvec::SmallVec;

use super::send::Mode;

pub(super) const INLINE_ARGS: usize = 16;

/// The arguments of one send, laid out for the receivers' vectorcall:
/// `[<spare>, signal, sender, *named values]` (borrowed from the caller) with
/// `kwnames` `("signal", "sender", *named names)`. The spare slot in front
/// lets a bound-method receiver prepend its `self` without copying
/// (`PY_VECTORCALL_ARGUMENTS_OFFSET`), hence cells: the callee writes there.
pub(super) struct CallArgs<'a, 'py> {
    stack: &'a [Cell<*mut ffi::PyObject>],
    kwnames: Bound<'py, PyTuple>,
    /// A named argument is called `signal`: Python's own call machinery must
    /// report the clash, as it does for Django.
    pub(super) clashes: bool,
}

impl<'a, 'py> CallArgs<'a, 'py> {
    /// Lay the arguments out in `inline`, or in `spilled` when they do not fit.
    ///
    /// # Safety
    /// `args`, `nargsf` and `kwnames` are a valid vectorcall argument layout.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn parse(
        py: Python<'py>,
        signal: *mut ffi::PyObject,
        args: *const *mut ffi::PyObject,
        nargsf: ffi::Py_ssize_t,
        kwnames: *mut ffi::PyObject,
        mode: Mode,
        inline: &'a mut [MaybeUninit<*mut ffi::PyObject>; INLINE_ARGS],
        spilled: &'a mut Vec<MaybeUninit<*mut ffi::PyObject>>,
    ) -> PyResult<CallArgs<'a, 'py>> {
        // SAFETY: a plain computation on the caller's `nargsf`.
        let nargs = unsafe { ffi::PyVectorcall_NARGS(nargsf as usize) } as usize;
        let names = if kwnames.is_null() {
            None
        } else {
            // SAFETY: a non-null `kwnames` is a tuple of the keyword names
            // (the caller's promise), alive for the call.
            Some(unsafe { Bound::from_borrowed_ptr(py, kwnames).cast_into_unchecked::<PyTuple>() })
        };
        let nkw = names.as_ref().map_or(0, |n| n.len());
        let shape = call_shape(py, names.as_ref(), nargs == 1)?;
        // Python's order: the names first, in the order given (a name that
        // binds `self`, or `sender` when a positional argument took it),
        // then the number of positional arguments.
        match (shape.self_index, shape.sender_index) {
            (Some(s), Some(i)) if nargs > 0 && i < s => return Err(given_twice(mode, "sender")),
            (Some(_), _) => return Err(given_twice(mode, "self")),
            (None, Some(_)) if nargs > 0 => return Err(given_twice(mode, "sender")),
            _ => {}
        }
        if nargs > 1 {
            return Err(too_many_positional(mode, nargs));
        }
        let sender = match (nargs, shape.sender_index) {
            // SAFETY: one positional argument, at `args[0]`.
            (1, None) => unsafe { *args },
            // SAFETY: `args[nargs + i]` is the value of the name at `i`, and
            // `sender_index < nkw`, `nargs` 0.
            (0, Some(i)) => unsafe { *args.add(i) },
            _ => return Err(sender_missing(mode)),
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

    pub(super) fn sender(&self) -> *mut ffi::PyObject {
        self.stack[2].get()
    }

    /// `receiver(signal=signal, sender=sender, **named)`.
    #[inline(always)]
    pub(super) fn call(&self, receiver: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: `stack[1..]` holds one borrowed argument per name in
        // `kwnames`, alive for the send; `stack[0]` is the spare slot the
        // offset flag allows the callee to use; `receiver` is held.
        unsafe {
            Bound::from_owned_ptr_or_err(
                receiver.py(),
                ffi::PyObject_Vectorcall(
                    receiver.as_ptr(),
                    self.stack.as_ptr().add(1).cast::<*mut ffi::PyObject>(),
                    ffi::PY_VECTORCALL_ARGUMENTS_OFFSET,
                    self.kwnames.as_ptr(),
                ),
            )
        }
    }

    /// `named`, as a dict (for the Python side: async receivers, clashes).
    pub(super) fn named(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let named = PyDict::new(py);
        for (i, name) in self.kwnames.iter().enumerate().skip(2) {
            // SAFETY: the caller's argument array outlives this send.
            named.set_item(name, unsafe { Bound::from_borrowed_ptr(py, self.stack[i + 1].get()) })?;
        }
        Ok(named)
    }
}

/// Whether a send's arguments bind to `send(self, sender, **named)` as
/// Python would bind them, without error, judged without the call-shape
/// cache: the sender given once, and no name that could be `self` or
/// `sender` but the interned `sender` itself. Only those two names can fail
/// to bind, and any other length rules them out; `false` when unsure, for
/// `CallArgs::parse` to decide (and raise).
///
/// # Safety
/// `nargsf` and `kwnames` are those of a valid vectorcall argument layout.
#[inline(always)]
pub(super) unsafe fn binds_plainly(py: Python<'_>, nargsf: ffi::Py_ssize_t, kwnames: *mut ffi::PyObject) -> bool {
    // SAFETY: a plain computation on the caller's `nargsf`.
    let nargs = unsafe { ffi::PyVectorcall_NARGS(nargsf as usize) };
    let mut named_sender = false;
    if !kwnames.is_null() {
        let sender = intern!(py, "sender").as_ptr();
        // SAFETY: a non-null `kwnames` is a tuple of `str` (the caller's
        // promise; CPython allows no other keyword names), alive for the
        // call; each name is only read.
        unsafe {
            for i in 0..ffi::PyTuple_GET_SIZE(kwnames) {
                let name = ffi::PyTuple_GET_ITEM(kwnames, i);
                if name == sender && !named_sender {
                    named_sender = true;
                } else if matches!(ffi::PyUnicode_GET_LENGTH(name), 4 | 6) {
                    return false;
                }
            }
        }
    }
    nargs + ffi::Py_ssize_t::from(named_sender) == 1
}

/// The receivers' keyword names for one shape of call, and where the sender is.
struct CallShape<'py> {
    kwnames: Bound<'py, PyTuple>,
    sender_index: Option<usize>,
    /// A name binds the method's `self` (Python's "multiple values" error).
    self_index: Option<usize>,
    clashes: bool,
}

struct CachedShape {
    positional_sender: bool,
    names: SmallVec<[Py<PyString>; 8]>,
    kwnames: Py<PyTuple>,
    sender_index: Option<usize>,
    self_index: Option<usize>,
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
            self_index: shape.self_index,
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
    let self_name = intern!(py, "self");
    let mut sender_index = None;
    let mut self_index = None;
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
            if self_index.is_none() && name.as_any().eq(self_name)? {
                self_index = Some(i);
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
                    self_index,
                    clashes,
                },
            );
        }
    });
    Ok(CallShape {
        kwnames,
        sender_index,
        self_index,
        clashes,
    })
}

#[cold]
#[inline(never)]
fn too_many_positional(mode: Mode, nargs: usize) -> PyErr {
    PyTypeError::new_err(format!(
        "{}() takes 2 positional arguments but {} were given",
        mode.qualname(),
        nargs + 1
    ))
}

#[cold]
#[inline(never)]
fn given_twice(mode: Mode, parameter: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{}() got multiple values for argument '{parameter}'",
        mode.qualname()
    ))
}

#[cold]
#[inline(never)]
fn sender_missing(mode: Mode) -> PyErr {
    PyTypeError::new_err(format!(
        "{}() missing 1 required positional argument: 'sender'",
        mode.qualname()
    ))
}
