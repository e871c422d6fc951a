//! fastdispatch: Django's signal dispatcher, natively.
//!
//! - `compat`: which Django's internals the `Signal` shows (4.2, 5.x, 6.0, 6.1)
//! - `signal`: the `Signal` class (connect, disconnect, receivers, ...)
//! - `send`: `send` and `send_robust`, the hot path
//! - `receivers`: receiver storage and its indexes
//! - `registry`: every live signal, weakly, for `describe`
//! - `describe`: signals and receivers as data, JSON and text
//! - `keys`: lookup keys (`_make_id`)
//! - `lock`: the signal's lock and `signal.lock`
//! - `python`: the Python objects the core calls out to
//! - `registration`: `RegistrationBackend`, the base class of the
//!   registration workflows of `fastdispatch.registration`

mod compat;
mod describe;
mod keys;
mod lock;
mod python;
mod receivers;
mod registration;
mod registry;
mod send;
mod signal;

use pyo3::prelude::*;

pub use registration::RegistrationBackend;
pub use signal::Signal;

/// Django's `_make_id`: `id(target)`, or `(id(target.__self__), id(target.__func__))`.
#[pyfunction]
fn _make_id<'py>(target: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // Always Django's own computation: a replacement of the module's
    // `_make_id` usually calls this one.
    keys::native_make_id(target)?.to_object(target.py())
}

/// The native module. Not declared safe to run without the GIL yet
/// (`gil_used = true`, so a free-threaded interpreter turns the GIL back on
/// when it is imported): the receiver store has its own lock, but `keys.rs`
/// reads type and function dictionaries through borrowed references, and the
/// kwnames and class-id caches, which is safe only while the GIL keeps other
/// threads from changing those objects meanwhile; and nothing here is tested
/// on a free-threaded build yet.
#[pymodule(gil_used = true)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_module(m)
}

/// Fill `fastdispatch._native`. Public so that an embedding program (the
/// benchmarks) can build the module without importing a shared library.
pub fn init_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let sys = py.import("sys")?;
    let gil_disabled = sys.hasattr("_is_gil_enabled")? && !sys.call_method0("_is_gil_enabled")?.is_truthy()?;
    lock::GIL_ENABLED.store(!gil_disabled, std::sync::atomic::Ordering::Relaxed);
    // Before anything can make a key: bound methods are told by this type.
    keys::init_method_type(py)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Signal>()?;
    m.add_class::<lock::SignalLock>()?;
    m.add_function(wrap_pyfunction!(_make_id, m)?)?;
    m.add_function(wrap_pyfunction!(keys::_use_make_id, m)?)?;
    m.add_function(wrap_pyfunction!(compat::_set_django_version, m)?)?;
    m.add_function(wrap_pyfunction!(compat::_django_series, m)?)?;
    m.add("NONE_ID", keys::ObjId::of_none().to_object(py)?)?;
    m.add_class::<signal::SenderReceiversCache>()?;
    m.add_class::<RegistrationBackend>()?;
    m.add_class::<describe::SignalInfo>()?;
    m.add_class::<describe::ReceiverInfo>()?;
    m.add_class::<describe::SignalsReport>()?;
    m.add("SignalLookupError", py.get_type::<describe::SignalLookupError>())?;
    m.add("SIGNALS_SCHEMA_VERSION", describe::SCHEMA_VERSION)?;
    m.add_function(wrap_pyfunction!(describe::live_signals, m)?)?;
    m.add_function(wrap_pyfunction!(describe::describe, m)?)?;
    m.add_function(wrap_pyfunction!(describe::describe_all, m)?)?;
    // Django's marker for "no receivers" in `sender_receivers_cache`.
    m.add("NO_RECEIVERS", python::no_receivers(py))?;

    let signal_type = py.get_type::<Signal>();
    python::native_live_receivers(py)?;
    send::install(py, &signal_type)?;
    // `asend` and `asend_robust` are given by `fastdispatch._compat`, with
    // the other methods that depend on the Django series.
    signal_type.setattr("connect", python::glue(py, "connect")?)?;
    Ok(())
}
