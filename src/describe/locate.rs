//! What a receiver is, and where the code it runs is defined: through bound
//! methods, partials, callable objects and chains of decorators.

use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyCode, PyFunction, PyString, PyType};

use super::ReceiverKind;
use crate::keys;
use crate::python;

/// The code a receiver runs, and what kind of callable leads to it.
pub(super) struct Code {
    pub kind: ReceiverKind,
    pub qualname: String,
    pub module: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// How many wrappers deep `locate` looks, against endless `__wrapped__` chains.
const MAX_UNWRAP: usize = 32;

/// Find the Python code behind a receiver: a bound method's function, a
/// partial's function, a callable object's `__call__`, and the innermost
/// function of a chain of decorators (`__wrapped__`).
pub(super) fn locate(receiver: &Bound<'_, PyAny>) -> PyResult<Code> {
    let py = receiver.py();
    let connected_kind = kind_of(receiver)?;
    let mut target = receiver.clone();
    // Kept alive, so that their addresses stay theirs while compared.
    let mut seen = vec![receiver.clone()];
    let mut through_call = false;
    for _ in 0..MAX_UNWRAP {
        let mut next = unseen(&seen, method_function(&target)?);
        if next.is_none() && is_partial(&target)? {
            next = unseen(&seen, attribute(&target, intern!(py, "func"))?);
        }
        if next.is_none() {
            next = unseen(&seen, attribute(&target, intern!(py, "__wrapped__"))?);
        }
        if next.is_none() && !through_call && kind_of(&target)?.is_none() {
            // Only a `__call__` written in Python leads to code; a native
            // one would describe a slot wrapper rather than the object.
            next = unseen(&seen, attribute(target.get_type().as_any(), intern!(py, "__call__"))?)
                .filter(|call| is_python_callable(call));
            through_call = next.is_some();
        }
        let Some(next) = next else {
            break;
        };
        seen.push(next.clone());
        target = next;
    }
    let kind = connected_kind.unwrap_or(if through_call {
        ReceiverKind::CallableObject
    } else {
        ReceiverKind::Builtin
    });

    let qualname = match text_attribute(&target, intern!(py, "__qualname__"))? {
        Some(name) => name,
        None => match text_attribute(&target, intern!(py, "__name__"))? {
            Some(name) => name,
            None => target.get_type().qualname()?.to_str()?.to_owned(),
        },
    };
    let module = text_attribute(&target, intern!(py, "__module__"))?;
    let (file, line) = match attribute(&target, intern!(py, "__code__"))? {
        Some(code) if code.is_instance_of::<PyCode>() => (
            text_attribute(&code, intern!(py, "co_filename"))?,
            attribute(&code, intern!(py, "co_firstlineno"))?
                .and_then(|line| line.extract::<u32>().ok())
                .filter(|line| *line > 0),
        ),
        _ => (None, None),
    };
    Ok(Code {
        kind,
        qualname,
        module,
        file,
        line,
    })
}

/// `candidate`, unless it is one of the objects already walked through.
fn unseen<'py>(seen: &[Bound<'py, PyAny>], candidate: Option<Bound<'py, PyAny>>) -> Option<Bound<'py, PyAny>> {
    candidate.filter(|c| !seen.iter().any(|s| s.is(c)))
}

/// The kind of what was connected; None for other callable objects, told
/// apart by what `locate` finds behind them.
fn kind_of(receiver: &Bound<'_, PyAny>) -> PyResult<Option<ReceiverKind>> {
    Ok(Some(if receiver.is_instance_of::<PyFunction>() {
        ReceiverKind::Function
    } else if method_function(receiver)?.is_some() {
        ReceiverKind::Method
    } else if is_partial(receiver)? {
        ReceiverKind::Partial
    } else if receiver.is_instance_of::<PyType>() {
        ReceiverKind::Class
    } else if receiver.is_instance_of::<PyCFunction>() {
        ReceiverKind::Builtin
    } else {
        return Ok(None);
    }))
}

/// The function of a bound method (`__func__` beside `__self__`, as Django
/// tells bound methods).
fn method_function<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    if let Some((_, function)) = keys::bound_method(obj) {
        return Ok(Some(function.to_owned()));
    }
    if obj.is_instance_of::<PyFunction>() || obj.is_instance_of::<PyType>() {
        return Ok(None);
    }
    if attribute(obj, intern!(py, "__self__"))?.is_none() {
        return Ok(None);
    }
    // Builtin methods have a `__self__` but no `__func__`.
    attribute(obj, intern!(py, "__func__"))
}

fn is_partial(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    obj.is_instance(&python::functools_partial(obj.py())?)
}

/// A Python function, or a method of one: what a `__call__` written in
/// Python is found as on its class.
fn is_python_callable(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyFunction>()
        || keys::bound_method(obj).is_some_and(|(_, function)| function.is_instance_of::<PyFunction>())
}

/// `getattr(obj, name)`, None when it raises: a receiver with odd attributes
/// is described as far as it can be rather than failing the whole report.
/// Only `Exception`s are taken for absence; `KeyboardInterrupt` and the like
/// go through.
pub(super) fn attribute<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match obj.getattr(name) {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_instance_of::<PyException>(obj.py()) => Ok(None),
        Err(err) => Err(err),
    }
}

pub(super) fn text_attribute(obj: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> PyResult<Option<String>> {
    match attribute(obj, name)? {
        Some(value) => match value.cast::<PyString>() {
            Ok(text) => Ok(Some(text.to_str()?.to_owned())),
            Err(_) => Ok(None),
        },
        None => Ok(None),
    }
}

/// `repr(obj)`, or a stand-in when its `__repr__` raises.
pub(super) fn safe_repr(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    match obj.repr() {
        Ok(text) => Ok(text.to_str()?.to_owned()),
        Err(err) if err.is_instance_of::<PyException>(obj.py()) => {
            Ok(format!("<{} object>", qualified_type_name(&obj.get_type())?))
        }
        Err(err) => Err(err),
    }
}

/// `module.qualname` of a class (just `qualname` for builtins).
pub(super) fn qualified_type_name(class: &Bound<'_, PyType>) -> PyResult<String> {
    let py = class.py();
    let qualname = match text_attribute(class, intern!(py, "__qualname__"))? {
        Some(qualname) => qualname,
        None => class.name()?.to_str()?.to_owned(),
    };
    Ok(match text_attribute(class, intern!(py, "__module__"))? {
        Some(module) if module != "builtins" => format!("{module}.{qualname}"),
        _ => qualname,
    })
}
