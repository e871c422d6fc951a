//! Django's internals, as code outside the dispatcher reads and writes them:
//! the `receivers` list in the installed Django's layout (assigning it
//! replaces the receivers), and `sender_receivers_cache`, seen through the
//! signal's own cache of receivers per sender.

use pyo3::exceptions::PyTypeError;
use pyo3::gc::{PyTraverseError, PyVisit};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::Signal;
use crate::compat::{self, Series};
use crate::keys::{sender_key_from_object, ReceiverKey};
use crate::python;
use crate::receivers::{Entry, Snapshot};
use crate::weak;

/// `signal.receivers`: the connected receivers in Django's layout, in
/// connection order, as a list whose in-place changes reach the signal
/// (`fastdispatch._glue.ReceiverList`). The same list is returned until the
/// receivers change.
pub(super) fn receivers_view<'py>(slf: &Bound<'py, Signal>) -> PyResult<Bound<'py, PyAny>> {
    let py = slf.py();
    let this = slf.get();
    // Copied out under the lock, turned into Python objects after it:
    // allocating can run the garbage collector, and with it any code.
    let (rows, version): (Vec<_>, u64) = {
        let locked = this.shared.lock(py);
        let store = locked.read()?;
        if let Some(view) = store.view() {
            return Ok(view.bind(py).clone());
        }
        (store.entries().map(|e| e.clone_ref(py)).collect(), store.version())
    };
    let list = PyList::empty(py);
    for entry in rows {
        list.append(row_of_entry(py, entry)?)?;
    }
    let view = python::glue(py, "ReceiverList")?.call1((list, slf))?;
    let locked = this.shared.lock(py);
    locked.write(|store, released| store.set_view(view.clone().unbind(), version, released))?;
    Ok(view)
}

/// `signal.receivers = value`: replace the receivers with a list in the
/// layout `receivers` shows, as code that saves and restores them does.
pub(super) fn assign_receivers(slf: &Bound<'_, Signal>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = slf.py();
    let version = slf.get().replace_receivers(py, value)?;
    // The list assigned stays the signal's list if it is one of its own,
    // and if nothing changed the receivers since it was taken in (the
    // finaliser of a receiver it replaced may have connected another).
    if value.is_instance(&python::glue(py, "ReceiverList")?)? && value.getattr(intern!(py, "signal"))?.is(slf) {
        slf.get().adopt_view(py, value, version)?;
    }
    Ok(())
}

impl Signal {
    /// Called by the `receivers` list after an in-place change: if it is
    /// still the signal's list, the signal takes its new contents.
    pub(super) fn receivers_changed(&self, py: Python<'_>, view: &Bound<'_, PyAny>) -> PyResult<()> {
        let is_current = {
            let locked = self.shared.lock(py);
            let store = locked.read()?;
            store.view().is_some_and(|v| v.is(view))
        };
        if is_current {
            let version = self.replace_receivers(py, view)?;
            self.adopt_view(py, view, version)?;
        }
        Ok(())
    }

    /// Replace every entry with the rows of `value` (Django's layout).
    /// Returns the store's version right after: the entries replaced are
    /// released after the lock, and their finalisers may change it again.
    fn replace_receivers(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<u64> {
        // Rows of Django 4.2 and 5.x have no sender reference: a row that is
        // still connected keeps the one its entry has.
        let previous = if compat::rows_have_sender_ref() {
            Vec::new()
        } else {
            self.entries(py)?
        };
        let mut entries = Vec::new();
        for row in value.try_iter()? {
            entries.push(entry_from_row(&row?, &previous)?);
        }
        let locked = self.shared.lock(py);
        locked.write(|store, released| {
            store.clear(released);
            for entry in entries {
                store.push(entry, released);
            }
            store.version()
        })
    }

    /// Make `view` the list `receivers` returns, until the next change, if
    /// it still shows the receivers: nothing changed them since `version`.
    fn adopt_view(&self, py: Python<'_>, view: &Bound<'_, PyAny>, version: u64) -> PyResult<()> {
        let locked = self.shared.lock(py);
        locked.write(|store, released| store.set_view(view.clone().unbind(), version, released))
    }
}

/// A row of `receivers` in the installed Django's layout.
fn row_of_entry(py: Python<'_>, entry: Entry) -> PyResult<Bound<'_, PyTuple>> {
    let lookup_key = PyTuple::new(py, [entry.key.to_object(py)?, entry.sender.to_object(py)?])?;
    let receiver = entry.receiver.into_bound(py);
    match compat::series() {
        Series::Django42 => PyTuple::new(py, [lookup_key.into_any(), receiver]),
        Series::Django5 => {
            let is_async = pyo3::types::PyBool::new(py, entry.is_async).to_owned().into_any();
            PyTuple::new(py, [lookup_key.into_any(), receiver, is_async])
        }
        Series::Django60 | Series::Django61 => {
            (lookup_key, receiver, entry.sender_ref, entry.is_async).into_pyobject(py)
        }
    }
}

/// The layout of a row, for the error raised on another.
fn row_layout() -> &'static str {
    match compat::series() {
        Series::Django42 => "((receiver_key, sender_key), receiver)",
        Series::Django5 => "((receiver_key, sender_key), receiver, is_async)",
        Series::Django60 | Series::Django61 => "((receiver_key, sender_key), receiver, sender_ref, is_async)",
    }
}

/// An entry from a row of `receivers` in the installed Django's layout. A
/// layout without the sender's reference takes it from the entry of
/// `previous` with the same receiver object and sender key, if any.
fn entry_from_row(row: &Bound<'_, PyAny>, previous: &[Entry]) -> PyResult<Entry> {
    let invalid = || PyTypeError::new_err(format!("each receiver must be a tuple {}", row_layout()));
    let row = row.cast::<PyTuple>().map_err(|_| invalid())?;
    let width = match compat::series() {
        Series::Django42 => 2,
        Series::Django5 => 3,
        Series::Django60 | Series::Django61 => 4,
    };
    if row.len() != width {
        return Err(invalid());
    }
    let (receiver_key, sender_key): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
        row.get_item(0)?.extract().map_err(|_| invalid())?;
    let receiver = row.get_item(1)?;
    let sender = sender_key_from_object(&sender_key)?;
    let (sender_ref, is_async) = match width {
        2 => (None, false),
        3 => (None, row.get_item(2)?.is_truthy()?),
        _ => (Some(row.get_item(2)?), row.get_item(3)?.is_truthy()?),
    };
    let sender_ref = match sender_ref {
        Some(r) if r.is_none() => None,
        Some(r) => Some(r.unbind()),
        None => previous
            .iter()
            .find(|e| e.sender == sender && e.receiver.is(&receiver))
            .and_then(|e| e.sender_ref.as_ref().map(|r| r.clone_ref(row.py()))),
    };
    Ok(Entry {
        key: ReceiverKey::for_uid(&receiver_key)?,
        sender,
        receiver: receiver.unbind(),
        sender_ref,
        is_async,
    })
}

/// `signal.sender_receivers_cache`: Django's `WeakKeyDictionary` of
/// receivers per sender (a plain dict that stays empty without
/// `use_caching`), seen through the signal's own cache.
#[pyclass(module = "fastdispatch", name = "SenderReceiversCache", frozen)]
pub struct SenderReceiversCache {
    signal: Py<Signal>,
}

impl SenderReceiversCache {
    /// The cache of `signal`.
    pub(super) fn of(signal: &Bound<'_, Signal>) -> PyResult<Py<SenderReceiversCache>> {
        Py::new(
            signal.py(),
            SenderReceiversCache {
                signal: signal.clone().unbind(),
            },
        )
    }

    /// `(sender, receivers)` of the live cached senders, copied out of the lock.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Bound<'py, PyAny>, Snapshot)>> {
        let pairs: Vec<(Py<PyAny>, Snapshot)> = {
            let locked = self.signal.get().shared.lock(py);
            let store = locked.read()?;
            store
                .cached_senders()
                .map(|c| (c.sender_ref.clone_ref(py), c.receivers.clone()))
                .collect()
        };
        let mut items = Vec::with_capacity(pairs.len());
        for (sender_ref, receivers) in pairs {
            if let Some(sender) = weak::resolve(py, &sender_ref)? {
                items.push((sender, receivers));
            }
        }
        Ok(items)
    }

    /// Django's cached value, or `NO_RECEIVERS`: a list of
    /// `receiver_or_ref` (4.2), `(receiver_or_ref, is_async)` (5.x) or
    /// `(receiver_or_ref, sender_ref, is_async)` (6.x).
    fn value<'py>(py: Python<'py>, receivers: &Snapshot) -> PyResult<Bound<'py, PyAny>> {
        if receivers.is_empty() {
            return Ok(python::no_receivers(py).clone());
        }
        let list = PyList::empty(py);
        for target in receivers.iter() {
            let receiver = target.receiver.bind(py);
            match compat::series() {
                Series::Django42 => list.append(receiver)?,
                Series::Django5 => list.append((receiver, target.is_async))?,
                Series::Django60 | Series::Django61 => {
                    let sender_ref = target.sender_ref.as_ref().map(|r| r.bind(py));
                    list.append((receiver, sender_ref, target.is_async))?
                }
            }
        }
        Ok(list.into_any())
    }
}

#[pymethods]
impl SenderReceiversCache {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // A receiver may hold the cache object: the signal it shows is then
        // in a cycle with it. Clearing the signal breaks that cycle.
        visit.call(&self.signal)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.items(py)?.len())
    }

    fn __contains__(&self, py: Python<'_>, sender: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.items(py)?.iter().any(|(cached, _)| cached.is(sender)))
    }

    fn __getitem__<'py>(&self, py: Python<'py>, sender: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.get(py, sender, None)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(sender.clone().unbind()))
    }

    #[pyo3(signature = (sender, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        sender: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        for (cached, receivers) in self.items(py)? {
            if cached.is(sender) {
                return Self::value(py, &receivers).map(Some);
            }
        }
        Ok(default)
    }

    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        let locked = self.signal.get().shared.lock(py);
        locked.write(|store, released| store.clear_sender_cache(|_| false, released))
    }

    /// A copy in Django's type: a `WeakKeyDictionary` with `use_caching`, a dict without.
    fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let copy = if self.signal.get().use_caching_enabled() {
            python::weakref_module(py)?
                .getattr(intern!(py, "WeakKeyDictionary"))?
                .call0()?
        } else {
            PyDict::new(py).into_any()
        };
        for (sender, receivers) in self.items(py)? {
            copy.set_item(sender, Self::value(py, &receivers)?)?;
        }
        Ok(copy)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<fastdispatch.SenderReceiversCache of {} senders>",
            self.__len__(py)?
        ))
    }
}
