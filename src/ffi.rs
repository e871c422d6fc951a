//! The CPython calls PyO3 does not wrap (or wraps at a cost the hot path
//! cannot pay), each behind a small typed function stating what it needs.
//!
//! Functions taking `&Bound`/`&Py` are safe: holding the object proves it
//! alive and the thread attached. Those taking raw pointers are `unsafe`
//! and say under `# Safety` what the caller promises.

use std::ptr;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

// The bound-method accessors of CPython's classobject.h, which pyo3-ffi does
// not cover. Functions only: a data symbol (`PyMethod_Type`) declared here
// would not link on Windows, where the type object is imported from the
// Python DLL (`__declspec(dllimport)`), so the type comes from
// `types.MethodType` instead (`keys::init_method_type`).
extern "C" {
    fn PyMethod_Function(method: *mut ffi::PyObject) -> *mut ffi::PyObject;
    fn PyMethod_Self(method: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// `(__self__, __func__)` of an object of type `types.MethodType`, borrowed.
///
/// # Safety
/// `method` is a live object whose type is exactly `types.MethodType`.
#[inline]
pub unsafe fn method_parts(method: *mut ffi::PyObject) -> (*mut ffi::PyObject, *mut ffi::PyObject) {
    // SAFETY: for a bound method (the caller's promise) both accessors return
    // a borrowed field of it, and cannot fail.
    unsafe { (PyMethod_Self(method), PyMethod_Function(method)) }
}

/// A type's version tag, while it is valid. CPython gives a type a new tag
/// whenever it or one of its bases changes, so an unchanged tag means what was
/// looked up on the type still stands. Up to Python 3.12 a valid tag is
/// flagged `Py_TPFLAGS_VALID_VERSION_TAG`; 3.13 no longer sets that flag and
/// marks an invalid tag with 0.
///
/// # Safety
/// `tp` must be a live type object.
#[inline]
pub unsafe fn type_version_tag(tp: *mut ffi::PyTypeObject) -> Option<u32> {
    // SAFETY: as the caller promises; only the type's fields are read.
    unsafe {
        let tag = (*tp).tp_version_tag;
        #[cfg(not(Py_3_13))]
        let valid = ffi::PyType_HasFeature(tp, ffi::Py_TPFLAGS_VALID_VERSION_TAG as _) != 0;
        #[cfg(Py_3_13)]
        let valid = tag != 0;
        valid.then_some(tag)
    }
}

/// A type's version tag, given one first if it has none yet: CPython gives
/// a new class its first tag lazily, at its first lookup through the type
/// cache, and a sender class nothing looked up yet would otherwise never hit
/// a cache keyed by tags. Python 3.12+ assigns one directly; before, looking
/// `name` up through the type cache (`_PyType_Lookup`) assigns it, and may
/// run Python code (a key's `__eq__` in a class dict), after which the tag
/// is read afresh.
///
/// # Safety
/// `tp` must be a live type object held by the caller, `name` a live `str`.
#[inline]
pub unsafe fn assigned_type_version_tag(tp: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> Option<u32> {
    // SAFETY: as the caller promises; assigning a tag only writes the type's
    // own tag and flags and sets no exception; `_PyType_Lookup` returns a
    // borrowed result (ignored) and clears any error of its search.
    unsafe {
        if let Some(tag) = type_version_tag(tp) {
            return Some(tag);
        }
        #[cfg(Py_3_12)]
        {
            let _ = name;
            PyUnstable_Type_AssignVersionTag(tp);
        }
        #[cfg(not(Py_3_12))]
        _PyType_Lookup(tp, name);
        type_version_tag(tp)
    }
}

// What assigns a type its version tag: CPython 3.12's public unstable API,
// and before it the type cache's lookup; pyo3-ffi declares neither.
extern "C" {
    #[cfg(Py_3_12)]
    fn PyUnstable_Type_AssignVersionTag(tp: *mut ffi::PyTypeObject) -> std::os::raw::c_int;
    #[cfg(not(Py_3_12))]
    fn _PyType_Lookup(tp: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// Where an object keeps its instance `__dict__`.
pub enum InstanceDict<'a, 'py> {
    /// At a positive offset in the object (`#[pyclass(dict)]`, inherited by
    /// Python subclasses): the dict, if one was made and is not empty.
    Slot(Option<Borrowed<'a, 'py, PyAny>>),
    /// Elsewhere (an unusual layout): ask Python.
    Elsewhere,
}

/// The instance `__dict__` of `obj` as its type lays it out, read without a
/// lookup (the send path asks it at every send).
#[inline(always)]
pub fn instance_dict<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> InstanceDict<'a, 'py> {
    let ptr = obj.as_ptr();
    // SAFETY: `obj` is live, so is its type, whose dict offset is read. A
    // positive offset is that of the `__dict__` slot inside the object,
    // which holds NULL or a borrowed reference to a dict that lives as long
    // as the object keeps it (the borrow of `obj` here).
    unsafe {
        let offset = (*ffi::Py_TYPE(ptr)).tp_dictoffset;
        if offset <= 0 {
            return InstanceDict::Elsewhere;
        }
        let dict = *ptr.cast::<u8>().offset(offset).cast::<*mut ffi::PyObject>();
        if dict.is_null() || ffi::PyDict_Size(dict) <= 0 {
            return InstanceDict::Slot(None);
        }
        InstanceDict::Slot(Some(Borrowed::from_ptr(obj.py(), dict)))
    }
}

/// Release the empty `__dict__` CPython 3.12 gives each new instance of a
/// type with a dict slot (`object.__new__`), leaving the slot empty until
/// the dict is first asked for, when CPython makes it again. 3.12
/// specializes a method load such as `signal.send` on such an instance only
/// while its slot is empty (`LOAD_ATTR_METHOD_LAZY_DICT`); with the dict
/// there, every `signal.send(...)` looks `send` up in full. (3.11 needs the
/// dict for its specialization, and 3.13 makes it lazily.)
///
/// # Safety
/// `obj` is a live object that no Python code has seen yet.
#[cfg(all(Py_3_12, not(Py_3_13)))]
pub unsafe fn release_new_empty_dict(obj: *mut ffi::PyObject) {
    // SAFETY: `obj` is live, so is its type. A positive offset is that of
    // the `__dict__` slot inside the object, which owns the dict it holds;
    // nothing else refers to the dict of an object nobody has seen, and an
    // empty dict's release runs no Python code.
    unsafe {
        let offset = (*ffi::Py_TYPE(obj)).tp_dictoffset;
        if offset <= 0 {
            return;
        }
        let slot = obj.cast::<u8>().offset(offset).cast::<*mut ffi::PyObject>();
        let dict = *slot;
        if !dict.is_null() && ffi::PyDict_Size(dict) == 0 {
            *slot = std::ptr::null_mut();
            ffi::Py_DECREF(dict);
        }
    }
}

/// The address of `obj`'s type, and its version tag while valid.
#[inline(always)]
pub fn type_and_tag(obj: &Bound<'_, PyAny>) -> (usize, Option<u32>) {
    // SAFETY: `obj` is live, so is its type.
    unsafe {
        let tp = ffi::Py_TYPE(obj.as_ptr());
        (tp as usize, type_version_tag(tp))
    }
}

/// Whether instances of `obj`'s type can be weakly referenced.
#[inline]
pub fn supports_weakrefs(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `obj` is live, so is its type, whose weaklist offset is read.
    unsafe { (*ffi::Py_TYPE(obj.as_ptr())).tp_weaklistoffset != 0 }
}

/// `isinstance(obj, weakref.ReferenceType)` (`WeakMethod` included).
#[inline(always)]
pub fn is_weakref(obj: &Py<PyAny>) -> bool {
    // SAFETY: a type check of a live object.
    unsafe { ffi::PyWeakref_CheckRef(obj.as_ptr()) != 0 }
}

/// `type(obj) is weakref.ReferenceType`: dereferenced without Python code.
#[inline(always)]
pub fn is_plain_weakref(obj: &Py<PyAny>) -> bool {
    // SAFETY: a type check of a live object.
    unsafe { ffi::PyWeakref_CheckRefExact(obj.as_ptr()) != 0 }
}

/// The head of CPython's `PyWeakReference` (cpython/weakrefobject.h), the
/// same from 3.10 to 3.13: the object header, then the referent, which
/// CPython sets to None when the referent dies.
#[repr(C)]
struct WeakrefHead {
    ob_base: ffi::PyObject,
    wr_object: *mut ffi::PyObject,
}

/// Whether the `weakref.ref` `weak` still refers to the object at
/// `address`: one field read, no reference taken, no code run. Not for
/// subclasses of `weakref.ref` (`WeakMethod` computes its referent).
#[inline(always)]
pub fn weakref_refers_to_address(weak: &Py<PyAny>, address: usize) -> bool {
    if !is_plain_weakref(weak) {
        return false;
    }
    // SAFETY: `weak` is a live `weakref.ref` (checked above), laid out as
    // `WeakrefHead` begins; its `wr_object` is read, not dereferenced.
    unsafe { (*weak.as_ptr().cast::<WeakrefHead>()).wr_object as usize == address }
}

/// What a weak reference refers to: `Ok(None)` once it died, `Err(())` when
/// CPython failed (an error set, never for a `weakref.ref`).
#[inline(always)]
pub fn weakref_get<'py>(py: Python<'py>, weak: &Py<PyAny>) -> Result<Option<Bound<'py, PyAny>>, ()> {
    let mut referent = ptr::null_mut();
    // SAFETY: `weak` is live; its type is checked by `PyWeakref_GetRef`,
    // which gives a new reference, NULL (dead) or -1 with an error set.
    unsafe {
        if ffi::compat::PyWeakref_GetRef(weak.as_ptr(), &mut referent) < 0 {
            return Err(());
        }
        Ok(Bound::from_owned_ptr_or_opt(py, referent))
    }
}

/// Clear the error set, if any, without looking at it.
#[cold]
pub fn clear_error(_py: Python<'_>) {
    // SAFETY: attached to the interpreter (`_py` proves it).
    unsafe { ffi::PyErr_Clear() };
}

/// `weakref.ref(obj, callback)`, made natively (no lookup of `weakref.ref`).
pub fn new_weakref<'py>(obj: &Bound<'py, PyAny>, callback: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: both objects are live; a new reference, or NULL with an
    // error set, is returned.
    unsafe { Bound::from_owned_ptr_or_err(obj.py(), ffi::PyWeakref_NewRef(obj.as_ptr(), callback.as_ptr())) }
}

/// The cyclic garbage collector kept from starting while this lives (and
/// left as it was found: a program may have disabled it).
pub struct CollectorPaused<'py> {
    _py: Python<'py>,
    was_enabled: bool,
}

impl<'py> CollectorPaused<'py> {
    pub fn new(py: Python<'py>) -> CollectorPaused<'py> {
        // SAFETY: attached to the interpreter (`py` proves it).
        let was_enabled = unsafe { ffi::PyGC_Disable() } != 0;
        CollectorPaused { _py: py, was_enabled }
    }
}

impl Drop for CollectorPaused<'_> {
    fn drop(&mut self) {
        if self.was_enabled {
            // SAFETY: attached, as in `new` (the borrow of `py` outlives this).
            unsafe { ffi::PyGC_Enable() };
        }
    }
}

/// The `__dict__` of a plain function, if it has a non-empty one, borrowed.
#[inline]
pub fn function_dict<'a, 'py>(function: &'a Bound<'py, pyo3::types::PyFunction>) -> Option<Borrowed<'a, 'py, PyAny>> {
    // SAFETY: `function` is a live function object, whose `func_dict` field
    // is NULL or a dict it owns (kept while the borrow of `function` lasts).
    unsafe {
        let dict = (*function.as_ptr().cast::<ffi::PyFunctionObject>()).func_dict;
        if dict.is_null() || ffi::PyDict_Size(dict) == 0 {
            return None;
        }
        Some(Borrowed::from_ptr(function.py(), dict))
    }
}

/// The code object of a plain function.
pub fn function_code<'py>(function: &Bound<'py, pyo3::types::PyFunction>) -> Bound<'py, PyAny> {
    // SAFETY: a live function always has a code object, returned borrowed.
    unsafe { Bound::from_borrowed_ptr(function.py(), ffi::PyFunction_GetCode(function.as_ptr())) }
}

/// The instance `__dict__` of `obj`, read as `object.__getattribute__`
/// would (no `__getattribute__` of its class runs), if it has one.
pub fn generic_dict<'py>(obj: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDict>> {
    let py = obj.py();
    // SAFETY: `obj` is live; a new reference is returned, or NULL with an
    // error set (no dict), which is then cleared.
    let dict = unsafe {
        let dict = ffi::PyObject_GenericGetDict(obj.as_ptr(), ptr::null_mut());
        if dict.is_null() {
            ffi::PyErr_Clear();
        }
        Bound::from_owned_ptr_or_opt(py, dict)
    };
    dict.and_then(|d| d.cast_into::<PyDict>().ok())
}

/// The globals of the running Python frame (the caller of native code,
/// which pushes no frame of its own); `None` when no Python frame runs.
pub fn running_globals(py: Python<'_>) -> Option<Bound<'_, PyDict>> {
    // SAFETY: attached (`py`); a borrowed reference to the running frame's
    // globals is returned, or NULL, and taken as a new one at once.
    let globals = unsafe { Bound::from_borrowed_ptr_or_opt(py, ffi::PyEval_GetGlobals()) }?;
    globals.cast_into::<PyDict>().ok()
}
