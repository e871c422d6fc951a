//! The Python objects the core calls out to, imported once.
//!
//! Django and asgiref are imported lazily, on first use, so that importing
//! `fastdispatch` costs nothing until a signal is connected.

use pyo3::exceptions::PyImportError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;
use pyo3::PyTypeInfo;

fn cached<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    module: &str,
    attr: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.import(py, module, attr).cloned()
}

/// The `weakref` module. `weakref.ref` and `weakref.WeakMethod` are looked
/// up on it at every connect, as Django does, so that patching them (tests
/// do) has the same effect.
pub fn weakref_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || py.import("weakref").map(Bound::unbind))
        .map(|m| m.bind(py).clone())
}

/// `asgiref.sync.iscoroutinefunction`: recognises coroutine functions and
/// callables marked with `markcoroutinefunction`, on every Python version.
pub fn iscoroutinefunction(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static FUNC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    cached(py, &FUNC, "asgiref.sync", "iscoroutinefunction")
}

/// `inspect.iscoroutinefunction`, Django 6.1's test of an async receiver.
pub fn inspect_iscoroutinefunction(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static FUNC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    cached(py, &FUNC, "inspect", "iscoroutinefunction")
}

/// `functools.partial`, whose wrapped function `describe` reports.
pub fn functools_partial(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static PARTIAL: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    cached(py, &PARTIAL, "functools", "partial")
}

/// `django.conf.settings`, or `None` when it cannot be imported. Kept once
/// imported; a failed import is tried again at the next call (it may have
/// failed during start-up, say through a circular import), unless Django
/// itself is not installed.
pub fn django_settings(py: Python<'_>) -> Option<Bound<'_, PyAny>> {
    static SETTINGS: PyOnceLock<Option<Py<PyAny>>> = PyOnceLock::new();
    if let Some(settings) = SETTINGS.get(py) {
        return settings.as_ref().map(|s| s.bind(py).clone());
    }
    django_settings_import(py, &SETTINGS)
}

#[cold]
#[inline(never)]
fn django_settings_import<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Option<Py<PyAny>>>,
) -> Option<Bound<'py, PyAny>> {
    match py.import("django.conf").and_then(|m| m.getattr("settings")) {
        Ok(settings) => {
            let _ = cell.set(py, Some(settings.clone().unbind()));
            Some(settings)
        }
        Err(err) => {
            let django_missing = err.is_instance_of::<pyo3::exceptions::PyModuleNotFoundError>(py)
                && err
                    .value(py)
                    .getattr("name")
                    .is_ok_and(|name| name.extract::<&str>().is_ok_and(|name| name == "django"));
            if django_missing {
                let _ = cell.set(py, None);
            }
            None
        }
    }
}

/// `django.utils.functional.empty`: what `LazySettings` wraps before settings
/// are configured.
pub fn lazy_empty(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static EMPTY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    cached(py, &EMPTY, "django.utils.functional", "empty")
}

/// `django.utils.inspect.func_accepts_kwargs`, Django's own test of a receiver.
pub fn func_accepts_kwargs(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static FUNC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    cached(py, &FUNC, "django.utils.inspect", "func_accepts_kwargs")
}

/// The `django.dispatch` logger, where `send_robust` reports failures.
pub fn dispatch_logger(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    LOGGER
        .get_or_try_init(py, || {
            py.import("logging")?
                .call_method1("getLogger", ("django.dispatch",))
                .map(Bound::unbind)
        })
        .map(|l| l.bind(py).clone())
}

/// The parts of the signal written in Python (`fastdispatch._glue`).
pub fn glue<'py>(py: Python<'py>, attr: &str) -> PyResult<Bound<'py, PyAny>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || py.import("fastdispatch._glue").map(Bound::unbind))?
        .bind(py)
        .getattr(attr)
}

/// `fastdispatch.registration.signals`, where the registration backends
/// find `user_registered` and `user_activated`.
pub fn registration_signals(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || py.import("fastdispatch.registration.signals").map(Bound::unbind))
        .map(|m| m.bind(py).clone())
}

/// The extra that installs django-registration, named in the error raised
/// when it is missing.
const REGISTRATION_EXTRA: &str = "django-fastdispatch[registration]";

/// django-registration's `RegistrationForm`. When django-registration cannot
/// be imported, Django's `ImproperlyConfigured` (naming the extra that
/// installs it), caused by the `ImportError`. Imported at every call rather
/// than kept: a module already imported is only a `sys.modules` look-up.
pub fn registration_form(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    match py
        .import("django_registration.forms")
        .and_then(|m| m.getattr("RegistrationForm"))
    {
        Err(err) if err.is_instance_of::<PyImportError>(py) => {
            let message = format!(
                "fastdispatch.registration takes its forms from django-registration, which cannot be imported \
                 ({}): install it with the extra, pip install \"{REGISTRATION_EXTRA}\"",
                err.value(py)
            );
            let improperly_configured = py.import("django.core.exceptions")?.getattr("ImproperlyConfigured")?;
            let error = PyErr::from_value(improperly_configured.call1((message,))?);
            error.set_cause(py, Some(err));
            Err(error)
        }
        other => other,
    }
}

/// Django's `NO_RECEIVERS` marker, exported as `fastdispatch.NO_RECEIVERS`.
pub fn no_receivers(py: Python<'_>) -> &Bound<'_, PyAny> {
    static MARKER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    MARKER
        .get_or_init(py, || {
            PyAny::type_object(py)
                .call0()
                .map(Bound::unbind)
                .unwrap_or_else(|_| py.None())
        })
        .bind(py)
}
