//! `RegistrationBackend`: the base class of `fastdispatch.registration`'s
//! pluggable registration workflows.
//!
//! The base class keeps the contract of the backend API: `register` and
//! `activate` send `user_registered` and `user_activated` (sender: the
//! backend's class, with `user` and `request`) and return the user, or False
//! when activation fails. What differs between workflows, creating an account
//! and activating one, is left to two hooks, `create_user` and
//! `activate_user`, looked up on the instance, so a Python subclass supplies
//! them, and any method it overrides is the one called.

use pyo3::exceptions::{PyImportError, PyNotImplementedError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};

use crate::python;

/// URL names that the default redirects after registration and activation go to.
const REGISTRATION_COMPLETE_URL: &str = "registration_complete";
const ACTIVATION_COMPLETE_URL: &str = "registration_activation_complete";

/// Base class of registration backends.
///
/// `register(request, **kwargs)` calls `self.create_user(request, **kwargs)`,
/// sends `user_registered` and returns the user; `activate(request, **kwargs)`
/// calls `self.activate_user(request, **kwargs)` and, when that returns a
/// user, sends `user_activated` and returns it, or returns False. A workflow
/// that does not implement `activate_user` has no activation step: `activate`
/// and `post_activation_redirect` raise `NotImplementedError`.
#[pyclass(module = "fastdispatch.registration", name = "RegistrationBackend", subclass, frozen)]
pub struct RegistrationBackend;

#[pymethods]
impl RegistrationBackend {
    // Any arguments: a subclass may take its own in `__init__`.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __new__(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        RegistrationBackend
    }

    /// Create the account from the validated form data in `kwargs` (through
    /// `self.create_user`), send `user_registered` with sender the backend's
    /// class, `user` and `request`, and return the user.
    #[pyo3(signature = (request, **kwargs))]
    fn register<'py>(
        slf: &Bound<'py, Self>,
        request: &Bound<'py, PyAny>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let user = slf.call_method(intern!(slf.py(), "create_user"), (request,), kwargs)?;
        send(slf, intern!(slf.py(), "user_registered"), &user, request)?;
        Ok(user)
    }

    /// Activate the account that `request` and `kwargs` (say, an activation
    /// key from the URL) identify, through `self.activate_user`. On success,
    /// send `user_activated` with sender the backend's class, `user` and
    /// `request`, and return the user; otherwise return False and send nothing.
    #[pyo3(signature = (request, **kwargs))]
    fn activate<'py>(
        slf: &Bound<'py, Self>,
        request: &Bound<'py, PyAny>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let user = slf.call_method(intern!(py, "activate_user"), (request,), kwargs)?;
        if !user.is_truthy()? {
            return Ok(PyBool::new(py, false).to_owned().into_any());
        }
        send(slf, intern!(py, "user_activated"), &user, request)?;
        Ok(user)
    }

    /// Hook of `register`: create and return the new account. Every workflow
    /// implements it.
    #[pyo3(signature = (request, **kwargs))]
    fn create_user(
        slf: &Bound<'_, Self>,
        request: &Bound<'_, PyAny>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let _ = (request, kwargs);
        Err(PyNotImplementedError::new_err(format!(
            "{} does not implement create_user(request, **kwargs), which register() calls to create the account",
            class_name(slf)?
        )))
    }

    /// Hook of `activate`: activate and return the account, or return a false
    /// value when it cannot be activated. Only two-step workflows implement it.
    #[pyo3(signature = (request, **kwargs))]
    fn activate_user(
        slf: &Bound<'_, Self>,
        request: &Bound<'_, PyAny>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let _ = (request, kwargs);
        Err(no_activation_step(slf)?)
    }

    /// Whether `request` may register a new account: `settings.REGISTRATION_OPEN`,
    /// True when that is not set.
    fn registration_allowed(slf: &Bound<'_, Self>, request: &Bound<'_, PyAny>) -> PyResult<bool> {
        let _ = request;
        let py = slf.py();
        let settings = python::django_settings(py).ok_or_else(|| PyImportError::new_err("Django is not importable"))?;
        match settings.getattr_opt(intern!(py, "REGISTRATION_OPEN"))? {
            Some(open) => open.is_truthy(),
            None => Ok(true),
        }
    }

    /// The signup form: django-registration's `RegistrationForm`.
    fn get_form_class<'py>(slf: &Bound<'py, Self>, request: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let _ = request;
        python::registration_form(slf.py())
    }

    /// Where to go after registering, as `(to, args, kwargs)` for Django's
    /// `redirect`: the URL named `registration_complete`.
    fn post_registration_redirect<'py>(
        slf: &Bound<'py, Self>,
        request: &Bound<'py, PyAny>,
        user: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = (request, user);
        redirect_to(slf.py(), REGISTRATION_COMPLETE_URL)
    }

    /// Where to go after activating, as `(to, args, kwargs)`: the URL named
    /// `registration_activation_complete`. `NotImplementedError` for a
    /// workflow without an activation step.
    fn post_activation_redirect<'py>(
        slf: &Bound<'py, Self>,
        request: &Bound<'py, PyAny>,
        user: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = (request, user);
        if !has_activation_step(slf)? {
            return Err(no_activation_step(slf)?);
        }
        redirect_to(slf.py(), ACTIVATION_COMPLETE_URL)
    }

    /// Whether this workflow has an activation step: its class implements
    /// `activate_user`.
    #[getter]
    fn has_activation_step(slf: &Bound<'_, Self>) -> PyResult<bool> {
        has_activation_step(slf)
    }
}

/// A workflow has an activation step when its class provides its own
/// `activate_user` instead of the base class's.
fn has_activation_step(slf: &Bound<'_, RegistrationBackend>) -> PyResult<bool> {
    let py = slf.py();
    let name = intern!(py, "activate_user");
    let own = slf.get_type().getattr(name)?;
    let base = py.get_type::<RegistrationBackend>().getattr(name)?;
    Ok(!own.is(&base))
}

fn no_activation_step(slf: &Bound<'_, RegistrationBackend>) -> PyResult<PyErr> {
    Ok(PyNotImplementedError::new_err(format!(
        "{} is a one-step workflow: it has no activation step (a two-step workflow implements activate_user(request, **kwargs))",
        class_name(slf)?
    )))
}

fn class_name(slf: &Bound<'_, RegistrationBackend>) -> PyResult<String> {
    Ok(slf.get_type().qualname()?.to_string())
}

fn redirect_to<'py>(py: Python<'py>, url_name: &str) -> PyResult<Bound<'py, PyTuple>> {
    let to = PyString::new(py, url_name).into_any();
    let args = PyTuple::empty(py).into_any();
    let kwargs = PyDict::new(py).into_any();
    PyTuple::new(py, [to, args, kwargs])
}

/// Send one of the registration signals the way the backend API documents it.
fn send(
    slf: &Bound<'_, RegistrationBackend>,
    signal: &Bound<'_, PyString>,
    user: &Bound<'_, PyAny>,
    request: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let py = slf.py();
    let signal = python::registration_signals(py)?.getattr(signal)?;
    let named = PyDict::new(py);
    named.set_item(intern!(py, "user"), user)?;
    named.set_item(intern!(py, "request"), request)?;
    signal.call_method(intern!(py, "send"), (slf.get_type(),), Some(&named))?;
    Ok(())
}
