//! Lookup keys: how a receiver and a sender are identified, as Django's
//! `_make_id` does, but as plain Rust values so that the receiver index can be
//! searched without running Python code while the signal's lock is held.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

use parking_lot::Mutex;
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyFunction, PyInt, PyTuple, PyType};

/// The type of bound methods, `types.MethodType` (CPython's `PyMethod_Type`),
/// set once when the module is made (`init_method_type`). Only ever compared
/// with an object's type, never dereferenced here; until it is set (null), no
/// object is taken for a bound method, and the callers answer through
/// `__func__` and `__self__`, as slowly as correctly.
static METHOD_TYPE: AtomicPtr<ffi::PyTypeObject> = AtomicPtr::new(ptr::null_mut());

/// Take `types.MethodType` for `bound_method_parts`. Called by `init_module`.
pub fn init_method_type(py: Python<'_>) -> PyResult<()> {
    let method_type = py.import("types")?.getattr("MethodType")?.cast_into::<PyType>()?;
    let ptr = method_type.as_type_ptr();
    if METHOD_TYPE.load(Ordering::Relaxed) != ptr {
        // A strong reference, kept for the rest of the process (the type is
        // static in CPython anyway): the pointer stays valid. Set once: the
        // type is the same object whenever the module is made again.
        METHOD_TYPE.store(method_type.into_ptr().cast(), Ordering::Relaxed);
    }
    Ok(())
}

/// Whether `ptr`'s type is exactly `types.MethodType`: a pointer load and a
/// compare (the send path asks it of every sender).
///
/// # Safety
/// `ptr` must be a live object.
#[inline]
unsafe fn is_method_type(ptr: *mut ffi::PyObject) -> bool {
    // SAFETY: `ptr` is a live object (the caller's promise), whose type
    // pointer can be read. `METHOD_TYPE` is written with the GIL held and
    // read with it held, and is only compared: a relaxed load suffices.
    unsafe { ffi::Py_TYPE(ptr) == METHOD_TYPE.load(Ordering::Relaxed) }
}

/// Django's `_make_id(target)`: `id(target)`, or `(id(target.__self__),
/// id(target.__func__))` for anything with a `__func__` (bound methods), so
/// that two bound-method objects of the same method and instance compare equal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ObjId {
    Single(usize),
    Pair(usize, usize),
}

impl ObjId {
    pub fn of_none() -> ObjId {
        // SAFETY: Py_None returns a borrowed pointer to the None singleton.
        ObjId::Single(unsafe { ffi::Py_None() } as usize)
    }

    /// The Python value Django would have computed: an int or a 2-tuple of ints.
    pub fn to_object<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            ObjId::Single(id) => id.into_pyobject(py)?.into_any(),
            ObjId::Pair(a, b) => PyTuple::new(py, [a, b])?.into_any(),
        })
    }
}

/// `(__self__, __func__)` of a bound method (`types.MethodType`), borrowed.
///
/// # Safety
/// `ptr` must be a live object.
pub unsafe fn bound_method_parts(ptr: *mut ffi::PyObject) -> Option<(*mut ffi::PyObject, *mut ffi::PyObject)> {
    // SAFETY: `ptr` is live (the caller's promise), and its type is checked
    // to be `types.MethodType` before its parts are read.
    unsafe { is_method_type(ptr).then(|| crate::ffi::method_parts(ptr)) }
}

/// `(__self__, __func__)` of a bound method (`types.MethodType`), borrowed
/// from it.
#[inline]
pub fn bound_method<'a, 'py>(
    obj: &'a Bound<'py, PyAny>,
) -> Option<(Borrowed<'a, 'py, PyAny>, Borrowed<'a, 'py, PyAny>)> {
    // SAFETY: `obj` is live; the parts of a bound method are its own
    // fields, alive as long as it is (the borrow of `obj`).
    unsafe {
        bound_method_parts(obj.as_ptr())
            .map(|(slf, func)| (Borrowed::from_ptr(obj.py(), slf), Borrowed::from_ptr(obj.py(), func)))
    }
}

/// Django's test for a bound method: `hasattr(r, "__self__") and
/// hasattr(r, "__func__")`, answered without Python for the usual types.
pub fn is_bound_method(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = obj.py();
    if bound_method(obj).is_some() {
        return Ok(true);
    }
    if let Ok(function) = obj.cast::<PyFunction>() {
        // SAFETY: a live function object.
        let has = |name| unsafe { function_has_attr(function.as_ptr(), name) };
        return Ok(has(intern!(py, "__self__")) && has(intern!(py, "__func__")));
    }
    Ok(obj.hasattr(intern!(py, "__self__"))? && obj.hasattr(intern!(py, "__func__"))?)
}

/// Django's module-level `_make_id` while code has replaced it
/// (`mock.patch("django.dispatch.dispatcher._make_id", ...)`, as Django's own
/// tests do): the signal's keys then come from it, as Django's `connect`,
/// `disconnect` and `_live_receivers` look the name up at every call. The
/// flag is all that a send reads while nothing is patched.
static MAKE_ID_PATCHED: AtomicBool = AtomicBool::new(false);
static PATCHED_MAKE_ID: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// `_use_make_id(function)`: the keys of every signal come from `function`
/// (a replaced `django.dispatch.dispatcher._make_id`), or natively again when
/// it is `None`. Called by the shim when the module attribute is set.
#[pyfunction]
pub fn _use_make_id(function: Option<Py<PyAny>>) {
    MAKE_ID_PATCHED.store(function.is_some(), Ordering::Relaxed);
    // The previous function is released after the lock is, since releasing
    // it may run a finaliser that sets it again.
    let previous = std::mem::replace(&mut *PATCHED_MAKE_ID.lock(), function);
    drop(previous);
}

/// The lookup key Django's dispatcher would compute for `target`: through a
/// replaced `_make_id` if there is one, natively otherwise.
#[inline(always)]
pub fn make_id(target: &Bound<'_, PyAny>) -> PyResult<ObjId> {
    if MAKE_ID_PATCHED.load(Ordering::Relaxed) {
        return patched_make_id(target);
    }
    native_make_id(target)
}

#[cold]
fn patched_make_id(target: &Bound<'_, PyAny>) -> PyResult<ObjId> {
    let py = target.py();
    let function = PATCHED_MAKE_ID.lock().as_ref().map(|f| f.clone_ref(py));
    let Some(function) = function else {
        return native_make_id(target);
    };
    let key = function.bind(py).call1((target,))?;
    int_obj_id(&key).ok_or_else(|| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "the replaced _make_id() must return an int or a pair of ints, as Django's does, not {}",
            key.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string())
        ))
    })
}

/// Django's own `_make_id`: `hasattr(target, "__func__")` and the ids it
/// derives from it.
#[inline]
pub fn native_make_id(target: &Bound<'_, PyAny>) -> PyResult<ObjId> {
    let py = target.py();
    let ptr = target.as_ptr();
    // SAFETY: `ptr` is a live object (we hold `target`); the macros below only
    // read its type and, for bound methods, its two borrowed fields.
    unsafe {
        if ptr == ffi::Py_None() {
            return Ok(ObjId::Single(ptr as usize));
        }
        if let Some((slf, func)) = bound_method_parts(ptr) {
            return Ok(ObjId::Pair(slf as usize, func as usize));
        }
        if ffi::PyType_Check(ptr) != 0 && !class_may_have_func(ptr, intern!(py, "__func__")) {
            // Classes are the usual senders (models); answering from their MRO
            // avoids raising and clearing an AttributeError on every send.
            return Ok(ObjId::Single(ptr as usize));
        }
        if ffi::PyFunction_Check(ptr) != 0 && !function_has_attr(ptr, intern!(py, "__func__")) {
            // Plain functions (most receivers): `__func__` could only be in
            // their own `__dict__`.
            return Ok(ObjId::Single(ptr as usize));
        }
    }
    match target.getattr_opt(intern!(py, "__func__"))? {
        None => Ok(ObjId::Single(ptr as usize)),
        Some(func) => {
            let slf = target.getattr(intern!(py, "__self__"))?;
            Ok(ObjId::Pair(slf.as_ptr() as usize, func.as_ptr() as usize))
        }
    }
}

/// Whether a plain function's `__dict__` has `name` (the function type
/// itself defines neither `__func__` nor `__self__`).
///
/// # Safety
/// `function` must be a live function object.
unsafe fn function_has_attr(function: *mut ffi::PyObject, name: &Bound<'_, pyo3::types::PyString>) -> bool {
    // SAFETY: `function` is a live function (the caller's promise), whose
    // `func_dict` is NULL or a live dict it owns; `dict_has` holds that dict
    // while it searches, as its `__eq__`s may replace it.
    unsafe {
        let dict = (*function.cast::<ffi::PyFunctionObject>()).func_dict;
        if dict.is_null() || ffi::PyDict_Size(dict) == 0 {
            return false;
        }
        dict_has(dict, name.as_ptr())
    }
}

/// Whether `getattr(cls, "__func__")` could find something, judged from the
/// class's and its metaclass's MRO dictionaries. Answers `true` (so the
/// caller asks Python) whenever the metaclass customises attribute lookup.
///
/// # Safety
/// `cls` must be a live type object.
unsafe fn class_may_have_func(cls: *mut ffi::PyObject, name: &Bound<'_, pyo3::types::PyString>) -> bool {
    // SAFETY: `cls` is a live type (the caller's promise), and so is its
    // metaclass, held while the MRO dictionaries are searched; `PyType_Type`
    // is a static object, only read.
    unsafe {
        let meta = ffi::Py_TYPE(cls);
        let generic = (*std::ptr::addr_of_mut!(ffi::PyType_Type)).tp_getattro;
        if (*meta).tp_getattro.map(|f| f as usize) != generic.map(|f| f as usize) {
            return true;
        }
        // A class and metaclass seen without the attribute are trusted while
        // their version tags stand: setting an attribute on either (or a
        // base) gives them new ones.
        let tags = version_tags(cls.cast(), meta);
        if tags.is_some() && CLASSES_WITHOUT_FUNC.with(|known| known.iter().any(|entry| entry.get() == tags)) {
            return false;
        }
        // The metaclass is held from here on: a key's `__eq__` in a class
        // dict, which giving the class a tag or searching its MRO may run,
        // may give the class another one (`cls.__class__ = ...`), and collect
        // this one.
        let _meta = Strong::new(meta.cast());
        // Tags given now (a class nothing looked up yet has none) make the
        // answer below a cache entry for the next send.
        let tags = tags.or_else(|| {
            crate::ffi::assigned_type_version_tag(cls.cast(), name.as_ptr());
            crate::ffi::assigned_type_version_tag(meta, name.as_ptr());
            version_tags(cls.cast(), meta)
        });
        let defined = mro_defines(cls.cast(), name.as_ptr()) || mro_defines(meta, name.as_ptr());
        if !defined && tags.is_some() {
            CLASSES_WITHOUT_FUNC.with(|known| {
                let mut newer = tags;
                for entry in known {
                    newer = entry.replace(newer);
                }
            });
        }
        defined
    }
}

type ClassTags = Option<(usize, u32, usize, u32)>;

thread_local! {
    /// Classes recently found to have no `__func__`, by version tags, the
    /// newest first. A cell each, so that a look-up copies one entry at a
    /// time rather than all eight.
    static CLASSES_WITHOUT_FUNC: [std::cell::Cell<ClassTags>; 8] = const { [const { std::cell::Cell::new(None) }; 8] };
}

/// The version tags of a class and its metaclass, when both are valid.
///
/// # Safety
/// Both must be live type objects.
unsafe fn version_tags(cls: *mut ffi::PyTypeObject, meta: *mut ffi::PyTypeObject) -> ClassTags {
    // SAFETY: as the caller promises.
    unsafe {
        Some((
            cls as usize,
            crate::ffi::type_version_tag(cls)?,
            meta as usize,
            crate::ffi::type_version_tag(meta)?,
        ))
    }
}

/// # Safety
/// `tp` must be a live, ready type object.
unsafe fn mro_defines(tp: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> bool {
    // SAFETY: `tp` is a live, ready type (the caller's promise); its MRO is
    // NULL or a tuple of types, held while searched, each base's `tp_dict`
    // NULL or a live dict; `PyClassMethod_Type` and `PyStaticMethod_Type`
    // are static objects, only their addresses taken.
    unsafe {
        let mro = (*tp).tp_mro;
        if mro.is_null() {
            return true;
        }
        // Held while searching: a key's `__eq__` may run code that gives the
        // type a new MRO, freeing this one.
        let mro = Strong::new(mro);
        for i in 0..ffi::PyTuple_GET_SIZE(mro.0) {
            let base = ffi::PyTuple_GET_ITEM(mro.0, i).cast::<ffi::PyTypeObject>();
            let dict = (*base).tp_dict;
            if dict.is_null() {
                // Python 3.12+ keeps the dicts of static builtin types
                // elsewhere. Of those, only `classmethod` and `staticmethod`
                // define `__func__` and can be subclassed (`types.MethodType`
                // cannot), so a class deriving from them answers as on 3.11.
                if base == std::ptr::addr_of_mut!(ffi::PyClassMethod_Type)
                    || base == std::ptr::addr_of_mut!(ffi::PyStaticMethod_Type)
                {
                    return true;
                }
                continue;
            }
            if dict_has(dict, name) {
                return true;
            }
        }
        false
    }
}

/// A strong reference to a borrowed object, for as long as this lives.
struct Strong(*mut ffi::PyObject);

impl Strong {
    /// # Safety
    /// `ptr` is a live object, and the thread is attached to the interpreter
    /// while this lives.
    unsafe fn new(ptr: *mut ffi::PyObject) -> Strong {
        // SAFETY: as the caller promises.
        unsafe { ffi::Py_INCREF(ptr) };
        Strong(ptr)
    }
}

impl Drop for Strong {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `new`, released attached.
        unsafe { ffi::Py_DECREF(self.0) };
    }
}

/// Whether `dict` has the key `name` (an exact `str`); `true` also when the
/// lookup fails, so that the caller asks Python. The dict is held while
/// searching: comparing a key of a `str` subclass runs its `__eq__`, which
/// may replace the dict and free it.
///
/// # Safety
/// `dict` is a live dict, `name` a live object; the thread is attached.
unsafe fn dict_has(dict: *mut ffi::PyObject, name: *mut ffi::PyObject) -> bool {
    // SAFETY: as the caller promises; the dict is held while searched, and
    // the lookup returns a borrowed value (not used beyond its nullness) or
    // NULL, with an error set only on failure, which is then cleared.
    unsafe {
        let dict = Strong::new(dict);
        let found = ffi::PyDict_GetItemWithError(dict.0, name);
        if found.is_null() && !ffi::PyErr_Occurred().is_null() {
            ffi::PyErr_Clear();
            return true;
        }
        !found.is_null()
    }
}

/// The receiver half of a lookup key: the receiver's identity, or the
/// `dispatch_uid` it was connected with.
///
/// A uid that is an int (or a pair of ints) is stored as the same `ObjId` an
/// identity would be: in Django both are compared as tuples of ints, so a
/// receiver list written back by user code (`signal.receivers = saved`) keeps
/// matching the keys `connect`/`disconnect` compute.
pub enum ReceiverKey {
    Target(ObjId),
    Uid { hash: isize, uid: Py<PyAny> },
}

/// The bucket of unhashable uids: -1 is never a Python hash.
const UNHASHABLE: isize = -1;

impl ReceiverKey {
    /// The key for `connect(receiver, dispatch_uid=uid)`; `uid` must be truthy.
    pub fn for_uid(uid: &Bound<'_, PyAny>) -> PyResult<ReceiverKey> {
        if let Some(id) = int_obj_id(uid) {
            return Ok(ReceiverKey::Target(id));
        }
        // Django only compares keys with `==`, so even a uid that cannot be
        // hashed works: all of those share one bucket.
        let hash = match uid.hash() {
            Ok(hash) => hash,
            Err(err) if err.is_instance_of::<pyo3::exceptions::PyException>(uid.py()) => UNHASHABLE,
            Err(err) => return Err(err),
        };
        Ok(ReceiverKey::Uid {
            hash,
            uid: uid.clone().unbind(),
        })
    }

    pub fn to_object<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            ReceiverKey::Target(id) => id.to_object(py),
            ReceiverKey::Uid { uid, .. } => Ok(uid.bind(py).clone()),
        }
    }

    pub fn clone_ref(&self, py: Python<'_>) -> ReceiverKey {
        match self {
            ReceiverKey::Target(id) => ReceiverKey::Target(*id),
            ReceiverKey::Uid { hash, uid } => ReceiverKey::Uid {
                hash: *hash,
                uid: uid.clone_ref(py),
            },
        }
    }
}

/// Parse a sender key (`NONE_ID`, an id, or a pair of ids) from Django's layout.
pub fn sender_key_from_object(key: &Bound<'_, PyAny>) -> PyResult<ObjId> {
    int_obj_id(key).ok_or_else(|| {
        pyo3::exceptions::PyTypeError::new_err(
            "a receiver's sender key must be an int or a pair of ints, as made by _make_id()",
        )
    })
}

/// An exact int (or bool) that fits an id, or a tuple of two of them.
pub fn int_obj_id(obj: &Bound<'_, PyAny>) -> Option<ObjId> {
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<usize>().ok().map(ObjId::Single);
    }
    let tuple = obj.cast_exact::<PyTuple>().ok()?;
    if tuple.len() != 2 {
        return None;
    }
    let first = tuple.get_item(0).ok()?;
    let second = tuple.get_item(1).ok()?;
    if !first.is_instance_of::<PyInt>() || !second.is_instance_of::<PyInt>() {
        return None;
    }
    Some(ObjId::Pair(first.extract().ok()?, second.extract().ok()?))
}
