//! Every live signal of the process, in creation order: what `describe`
//! lists, found without walking the garbage collector's objects.
//!
//! A signal registers itself in `Signal.__new__`, which every subclass
//! reaches, even one whose `__init__` skips `super().__init__()`. The registry
//! holds a weak reference to each signal, never the signal itself, so it keeps
//! nothing alive; entries of signals that died are dropped lazily, when the
//! registry grows or is read. Nothing here is on the `send` path.
//!
//! Along with the signal, the registry keeps the `__name__` of the module
//! whose code created it: where its importable name is looked for first.

use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::ffi;
use crate::weak;

struct Registered {
    /// A `weakref.ref` to the signal, without callback.
    signal: Py<PyAny>,
    /// `__name__` of the module whose code created the signal, if Python
    /// code did.
    module: Option<Py<PyString>>,
}

struct Registry {
    entries: Vec<Registered>,
    /// Registering at this length first drops the dead entries: pruning stays
    /// O(1) amortized, and the registry at most twice the live signals (or
    /// `MIN_PRUNE_AT`) long.
    prune_at: usize,
}

const MIN_PRUNE_AT: usize = 64;

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    entries: Vec::new(),
    prune_at: MIN_PRUNE_AT,
});

/// The registry, locked. Held only for stretches that run no Python code and
/// release no Python object that could run any: another thread waiting for
/// it holds the GIL, which the holder would then need.
fn registry() -> MutexGuard<'static, Registry> {
    // Nothing panics while holding it; were it poisoned, the entries would
    // still be valid.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Registry {
    /// Move the entries of dead signals out, for the caller to drop once the
    /// registry is unlocked.
    fn take_dead(&mut self, py: Python<'_>) -> Vec<Registered> {
        let (live, dead): (Vec<_>, Vec<_>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|entry| referent(py, &entry.signal).is_some());
        self.entries = live;
        self.prune_at = (2 * self.entries.len()).max(MIN_PRUNE_AT);
        dead
    }
}

/// What a weak reference of the registry refers to, if it is alive. Safe to
/// call, and to drop, with the registry locked: resolving a plain
/// `weakref.ref` runs no Python code, a referent whose last reference is
/// being dropped reads as dead, and a live one is referenced elsewhere too,
/// so dropping this reference frees nothing.
fn referent<'py>(py: Python<'py>, reference: &Py<PyAny>) -> Option<Bound<'py, PyAny>> {
    weak::referent(py, reference)
}

/// Record a signal that was just created.
pub fn register(signal: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = signal.py();
    let module = creating_module(py);
    // Made before locking the registry: allocating may run the garbage
    // collector, and with it finalisers that create signals.
    let reference = weak::to_object_quietly(signal)?;
    let entry = Registered {
        signal: reference.unbind(),
        module,
    };
    let dead = {
        let mut registry = registry();
        let dead = if registry.entries.len() >= registry.prune_at {
            registry.take_dead(py)
        } else {
            Vec::new()
        };
        registry.entries.push(entry);
        dead
    };
    drop(dead);
    Ok(())
}

/// `__name__` of the module whose code is running: the caller of
/// `Signal(...)`, since native code pushes no frame of its own.
fn creating_module(py: Python<'_>) -> Option<Py<PyString>> {
    let globals = ffi::running_globals(py)?;
    let name = globals.get_item(pyo3::intern!(py, "__name__")).ok()??;
    name.cast_into::<PyString>().ok().map(Bound::unbind)
}

/// A live signal and the module that created it.
pub struct LiveSignal<'py> {
    pub signal: Bound<'py, PyAny>,
    pub module: Option<Bound<'py, PyString>>,
}

/// The live signals, in creation order; dead entries are dropped on the way.
pub fn live_signals(py: Python<'_>) -> Vec<LiveSignal<'_>> {
    let (live, dead) = {
        let mut registry = registry();
        let dead = registry.take_dead(py);
        let live: Vec<LiveSignal<'_>> = registry
            .entries
            .iter()
            .filter_map(|entry| {
                Some(LiveSignal {
                    signal: referent(py, &entry.signal)?,
                    module: entry.module.as_ref().map(|m| m.bind(py).clone()),
                })
            })
            .collect();
        (live, dead)
    };
    drop(dead);
    live
}

/// The module that created `signal`, if it is registered and Python code
/// created it.
pub fn creating_module_of<'py>(signal: &Bound<'py, PyAny>) -> Option<Bound<'py, PyString>> {
    let py = signal.py();
    registry()
        .entries
        .iter()
        .find(|entry| referent(py, &entry.signal).is_some_and(|s| s.is(signal)))
        .and_then(|entry| entry.module.as_ref().map(|m| m.bind(py).clone()))
}

/// How many entries the registry holds, dead ones included.
#[cfg(test)]
fn registered_count() -> usize {
    registry().entries.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Signal;

    fn is_listed(py: Python<'_>, signal: &Bound<'_, PyAny>) -> bool {
        live_signals(py).iter().any(|live| live.signal.is(signal))
    }

    #[test]
    fn signals_are_listed_while_alive_and_never_kept_alive() {
        Python::initialize();
        Python::attach(|py| {
            let signal_type = py.get_type::<Signal>();
            let first = signal_type.call0().unwrap();
            let second = signal_type.call0().unwrap();
            let listed: Vec<_> = live_signals(py)
                .into_iter()
                .filter(|live| live.signal.is(&first) || live.signal.is(&second))
                .collect();
            assert_eq!(listed.len(), 2);
            assert!(listed[0].signal.is(&first), "creation order");
            // No Python frame created them.
            assert!(listed[0].module.is_none());
            drop(listed);

            let weak = pyo3::types::PyWeakrefReference::new(&first).unwrap();
            drop(first);
            py.import("gc").unwrap().call_method0("collect").unwrap();
            assert!(weak.upgrade().is_none(), "the registry kept the signal alive");
            assert!(is_listed(py, &second));
        });
    }

    #[test]
    fn dead_entries_are_pruned_as_signals_are_created() {
        Python::initialize();
        Python::attach(|py| {
            let signal_type = py.get_type::<Signal>();
            for _ in 0..10 * MIN_PRUNE_AT {
                drop(signal_type.call0().unwrap());
            }
            // Other tests may hold signals meanwhile, but never hundreds.
            assert!(registered_count() <= 2 * MIN_PRUNE_AT, "{}", registered_count());
        });
    }
}
