//! A profile's rows as data: `Profile` (what `fastdispatch.profiling()`
//! yields) and its `ReceiverTiming` rows, which carry `describe`'s
//! `ReceiverInfo` fields for the receiver, and the JSON of
//! `fastdispatch/profile.schema.json` (`SCHEMA_VERSION` must change with it).

use std::sync::Arc;

use ahash::AHashMap;
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::clock;
use super::render::render_text;
use super::session::{Session, Taken};
use crate::describe::{self, pretty_json, ReceiverInfo};

/// The `schema_version` of a profile's JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// What one receiver of one signal cost while a profile recorded.
#[pyclass(module = "fastdispatch", frozen, eq)]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReceiverTiming {
    /// The receiver as `describe` shows it.
    #[serde(flatten)]
    pub info: ReceiverInfo,
    /// The signal's name, as `describe` gives it.
    #[pyo3(get)]
    pub signal: Option<String>,
    #[pyo3(get)]
    pub calls: u64,
    /// Wall time of all its calls, in nanoseconds.
    #[pyo3(get)]
    pub total_ns: u64,
    /// Its longest call, in nanoseconds.
    #[pyo3(get)]
    pub max_ns: u64,
    /// Calls that raised.
    #[pyo3(get)]
    pub errors: u64,
    /// Of those, the ones a robust send caught.
    #[pyo3(get)]
    pub caught: u64,
    /// Calls per sender (as `describe` names senders), most calls first.
    #[serde(serialize_with = "as_object")]
    pub senders: Vec<(String, u64)>,
    /// Calls from senders beyond the first named ones.
    #[pyo3(get)]
    pub other_senders: u64,
}

fn as_object<S: Serializer>(pairs: &[(String, u64)], serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(pairs.len()))?;
    for (label, calls) in pairs {
        map.serialize_entry(label, calls)?;
    }
    map.end()
}

#[pymethods]
impl ReceiverTiming {
    #[getter]
    fn qualname(&self) -> &str {
        &self.info.qualname
    }

    #[getter]
    fn module(&self) -> Option<&str> {
        self.info.module.as_deref()
    }

    #[getter]
    fn file(&self) -> Option<&str> {
        self.info.file.as_deref()
    }

    #[getter]
    fn line(&self) -> Option<u32> {
        self.info.line
    }

    #[getter]
    fn kind(&self) -> &'static str {
        self.info.kind.as_str()
    }

    /// The sender it is connected for; None for any sender.
    #[getter]
    fn sender(&self) -> Option<&str> {
        self.info.sender.as_deref()
    }

    #[getter]
    fn weak(&self) -> bool {
        self.info.weak
    }

    #[getter]
    fn is_async(&self) -> bool {
        self.info.is_async
    }

    #[getter]
    fn dispatch_uid(&self) -> Option<&str> {
        self.info.dispatch_uid.as_deref()
    }

    /// `{sender: calls}`, most calls first.
    #[getter]
    fn senders<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let senders = PyDict::new(py);
        for (label, calls) in &self.senders {
            senders.set_item(label, calls)?;
        }
        Ok(senders)
    }

    /// Mean time of a call, in nanoseconds.
    #[getter]
    fn mean_ns(&self) -> u64 {
        self.total_ns.checked_div(self.calls).unwrap_or(0)
    }

    /// The `ReceiverInfo` of the receiver.
    #[getter]
    fn receiver(&self) -> ReceiverInfo {
        self.info.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "<ReceiverTiming {} on {}: {} calls, {} ns>",
            self.info.dotted_name(),
            self.signal.as_deref().unwrap_or("?"),
            self.calls,
            self.total_ns
        )
    }
}

/// A recording of receiver calls: running from `fastdispatch.profiling()`
/// until `stop()`, its rows readable all along and final once stopped.
#[pyclass(module = "fastdispatch", frozen)]
pub struct Profile {
    session: Arc<Session>,
    /// The rows as they were when it stopped.
    stopped: Mutex<Option<Arc<Vec<ReceiverTiming>>>>,
}

#[derive(Serialize)]
struct JsonProfile<'a> {
    schema_version: u32,
    recording: bool,
    total_ns: u64,
    calls: u64,
    receivers: &'a [ReceiverTiming],
}

impl Profile {
    pub(super) fn new(session: Arc<Session>) -> Profile {
        Profile {
            session,
            stopped: Mutex::new(None),
        }
    }

    fn rows(&self, py: Python<'_>) -> PyResult<Arc<Vec<ReceiverTiming>>> {
        if let Some(rows) = self.stopped.lock().as_ref() {
            return Ok(rows.clone());
        }
        Ok(Arc::new(rows_of(py, self.session.take(py))?))
    }
}

#[pymethods]
impl Profile {
    /// The receivers that ran, most total time first.
    #[getter]
    fn receivers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.rows(py)?.iter().cloned())
    }

    /// Whether it is still recording.
    #[getter]
    fn recording(&self) -> bool {
        !self.session.is_frozen()
    }

    #[getter]
    fn schema_version(&self) -> u32 {
        SCHEMA_VERSION
    }

    /// Time spent in receivers, in nanoseconds.
    #[getter]
    fn total_ns(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self
            .rows(py)?
            .iter()
            .fold(0u64, |sum, row| sum.saturating_add(row.total_ns)))
    }

    /// Stop recording; the rows are final from now on. Stopping again does
    /// nothing.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        super::stop(&self.session);
        if self.stopped.lock().is_some() {
            return Ok(());
        }
        let rows = Arc::new(rows_of(py, self.session.take(py))?);
        let mut stopped = self.stopped.lock();
        if stopped.is_none() {
            *stopped = Some(rows);
        }
        Ok(())
    }

    /// The profile as JSON (see `profile.schema.json`), indented by `indent`
    /// spaces, or on one line when `indent` is None.
    #[pyo3(signature = (indent = Some(2)))]
    fn to_json(&self, py: Python<'_>, indent: Option<usize>) -> PyResult<String> {
        let rows = self.rows(py)?;
        let report = JsonProfile {
            schema_version: SCHEMA_VERSION,
            recording: self.recording(),
            total_ns: rows.iter().fold(0u64, |sum, row| sum.saturating_add(row.total_ns)),
            calls: rows.iter().fold(0u64, |sum, row| sum.saturating_add(row.calls)),
            receivers: &rows,
        };
        let json = match indent {
            None => serde_json::to_vec(&report),
            Some(width) => pretty_json(&report, width)?,
        };
        let json = json.map_err(|err| PyValueError::new_err(err.to_string()))?;
        String::from_utf8(json).map_err(|err| PyValueError::new_err(err.to_string()))
    }

    /// The profile as a table: one line per receiver, most total time first,
    /// with its share of all the time spent in receivers.
    fn to_text(&self, py: Python<'_>) -> PyResult<String> {
        Ok(render_text(&self.rows(py)?))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.rows(py)?.len())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = if self.recording() { "recording" } else { "stopped" };
        Ok(format!("<Profile ({state}) of {} receivers>", self.rows(py)?.len()))
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        // A profile nobody can read any more records nothing more.
        super::stop(&self.session);
    }
}

/// The rows of `taken`, described, most total time first.
fn rows_of(py: Python<'_>, taken: Vec<Taken<'_>>) -> PyResult<Vec<ReceiverTiming>> {
    let mut signals: Vec<Bound<'_, PyAny>> = Vec::new();
    let mut signal_index: AHashMap<usize, usize> = AHashMap::new();
    for row in &taken {
        signal_index.entry(row.signal.as_ptr() as usize).or_insert_with(|| {
            signals.push(row.signal.clone());
            signals.len() - 1
        });
    }
    let names = describe::signal_names(py, &signals)?;
    let method_type = py.import(intern!(py, "types"))?.getattr(intern!(py, "MethodType"))?;
    let mut rows = Vec::with_capacity(taken.len());
    for row in taken {
        let receiver = match row.receiver.as_slice() {
            [receiver] => receiver.clone(),
            [owner, function] => method_type
                .call1((function, owner))
                .unwrap_or_else(|_| function.clone()),
            _ => continue,
        };
        let info = describe::receiver_info(&row.signal, &receiver)?;
        let signal = signal_index
            .get(&(row.signal.as_ptr() as usize))
            .and_then(|index| names.get(*index).cloned().flatten());
        let stats = row.stats;
        let total_ns = clock::to_ns(stats.total_ticks).saturating_add(stats.total_ns);
        let max_ns = clock::to_ns(stats.max_ticks).max(stats.max_ns);
        // Senders of the same name counted together, most calls first.
        let mut senders: Vec<(String, u64)> = Vec::with_capacity(stats.senders.len());
        for (label, calls) in stats.senders {
            match senders.iter_mut().find(|(seen, _)| *seen == label) {
                Some((_, count)) => *count += calls,
                None => senders.push((label, calls)),
            }
        }
        senders.sort_by_key(|(_, calls)| std::cmp::Reverse(*calls));
        rows.push(ReceiverTiming {
            info,
            signal,
            calls: stats.calls,
            total_ns,
            max_ns,
            errors: stats.errors,
            caught: stats.caught,
            senders,
            other_senders: stats.other_senders,
        });
    }
    rows.sort_by(|a, b| {
        b.total_ns
            .cmp(&a.total_ns)
            .then(b.calls.cmp(&a.calls))
            .then_with(|| a.info.qualname.cmp(&b.info.qualname))
    });
    Ok(rows)
}
