//! fastdispatch: Django's signal dispatcher, natively.
//!
//! Where each concept lives. Dependencies point one way: `describe` uses
//! `signal` and `registry`; `signal` uses the storage (`receivers`, `lock`)
//! and the leaves; the leaves are `ffi`, `compat`, `python`, and `keys` and
//! `weak`, which use only `ffi` and `python`.
//!
//! - `lib.rs`: the module `fastdispatch._native`, wired together
//! - `signal/mod.rs`: the `Signal` class, its Python methods and GC hooks
//! - `signal/connect.rs`: connect, disconnect, clearing dead receivers
//! - `signal/live.rs`: what a send reads, the live receivers for a sender
//! - `signal/send.rs`: `send` and `send_robust`, the hot path
//! - `signal/args.rs`: a send's arguments, laid out for the receivers
//! - `signal/internals.rs`: Django's internals as outside code sees them
//!   (`receivers`, `sender_receivers_cache`)
//! - `receivers/mod.rs`: receiver storage and its indexes
//! - `receivers/tests.rs`: the store's tests
//! - `lock.rs`: the signal's lock and `signal.lock`
//! - `keys.rs`: lookup keys (`_make_id`), bound-method detection
//! - `weak.rs`: weak references, made and dereferenced
//! - `ffi.rs`: the CPython calls PyO3 does not wrap
//! - `python.rs`: the Python objects the core calls out to, imported once
//! - `compat.rs`: which Django's internals the `Signal` shows (4.2 to 6.1)
//! - `registry.rs`: every live signal, weakly, for `describe`
//! - `describe/mod.rs`: signals and receivers as data (`describe`)
//! - `describe/locate.rs`: what a receiver is and where its code is
//! - `describe/render.rs`: the report as JSON and as text
//! - `profile/mod.rs`: recording receiver calls, switched on and off
//! - `profile/session.rs`: one recording's rows, per (signal, receiver)
//! - `profile/report.rs`: the recording as data (`profiling()`'s `Profile`)
//! - `profile/render.rs`: the recording as a text table
//! - `registration.rs`: `RegistrationBackend`, the base class of the
//!   registration workflows of `fastdispatch.registration`

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod compat;
mod describe;
mod ffi;
mod keys;
mod lock;
mod profile;
mod python;
mod receivers;
mod registration;
mod registry;
mod signal;
mod weak;

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
    m.add_class::<profile::Profile>()?;
    m.add_class::<profile::ReceiverTiming>()?;
    m.add("PROFILE_SCHEMA_VERSION", profile::SCHEMA_VERSION)?;
    m.add_function(wrap_pyfunction!(profile::_profile_start, m)?)?;
    m.add_function(wrap_pyfunction!(profile::_profile_record, m)?)?;
    m.add_function(wrap_pyfunction!(profile::_profiling_active, m)?)?;
    // Django's marker for "no receivers" in `sender_receivers_cache`.
    m.add("NO_RECEIVERS", python::no_receivers(py))?;

    let signal_type = py.get_type::<Signal>();
    signal::native_live_receivers(py)?;
    signal::send::install(py, &signal_type)?;
    // `asend` and `asend_robust` are given by `fastdispatch._compat`, with
    // the other methods that depend on the Django series.
    signal_type.setattr("connect", python::glue(py, "connect")?)?;
    Ok(())
}
