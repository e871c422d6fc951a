//! `describe`: the live signals and their receivers, as data.
//!
//! Gathered here once, into plain structs that serve every reader: the
//! Python objects of `fastdispatch.describe()` (`SignalInfo`, `ReceiverInfo`),
//! the JSON of `manage.py signals --format json` (serde; its schema ships as
//! `fastdispatch/signals.schema.json`, and `SCHEMA_VERSION` must change with
//! it) and the text table of the same command.

mod locate;
mod render;

use ahash::AHashMap;
use pyo3::exceptions::{PyLookupError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule, PyString, PyTuple, PyType};
use serde::Serialize;

use crate::keys::{make_id, native_make_id, ObjId, ReceiverKey};
use crate::receivers::Entry;
use crate::registry::{self, LiveSignal};
use crate::signal::Signal;
use crate::weak;

use locate::{attribute, locate, qualified_type_name, safe_repr};
pub(crate) use render::pretty_json;
pub use render::render_text;

/// The `schema_version` of the JSON report.
pub const SCHEMA_VERSION: u32 = 1;

pyo3::create_exception!(
    fastdispatch,
    SignalLookupError,
    PyLookupError,
    "No live signal has the name asked for, or more than one ends with it."
);

/// What kind of callable a receiver is; its name, file and line are those
/// of the code it runs (see `locate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverKind {
    /// A Python function (lambdas and coroutine functions included).
    Function,
    /// A bound method: its function is described.
    Method,
    /// A `functools.partial`: the function it wraps is described.
    Partial,
    /// An object whose class defines `__call__` in Python, which is described.
    CallableObject,
    /// A class, called to build an instance.
    Class,
    /// Native code (a builtin function, or an object whose `__call__` is
    /// native): no file or line.
    Builtin,
}

impl ReceiverKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::Function => "function",
            ReceiverKind::Method => "method",
            ReceiverKind::Partial => "partial",
            ReceiverKind::CallableObject => "callable_object",
            ReceiverKind::Class => "class",
            ReceiverKind::Builtin => "builtin",
        }
    }
}

/// One connected, live receiver of a signal.
#[pyclass(module = "fastdispatch", frozen, eq)]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReceiverInfo {
    /// Qualified name of the code that runs (`Handler.__call__`, `<lambda>`).
    #[pyo3(get)]
    pub qualname: String,
    /// Module of that code, when it tells.
    #[pyo3(get)]
    pub module: Option<String>,
    /// Source file of that code; None for native code.
    #[pyo3(get)]
    pub file: Option<String>,
    /// First line of its definition (its first decorator, if any).
    #[pyo3(get)]
    pub line: Option<u32>,
    pub kind: ReceiverKind,
    /// The sender the receiver is limited to; None for any sender.
    #[pyo3(get)]
    pub sender: Option<String>,
    /// Held through a weak reference (`connect(weak=True)`, the default).
    #[pyo3(get)]
    pub weak: bool,
    #[pyo3(get)]
    pub is_async: bool,
    /// The `dispatch_uid` it was connected with: a str as given, anything
    /// else as its `repr()`.
    #[pyo3(get)]
    pub dispatch_uid: Option<String>,
}

#[pymethods]
impl ReceiverInfo {
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.as_str()
    }

    fn __repr__(&self) -> String {
        let at = self.location().map(|l| format!(" at {l}")).unwrap_or_default();
        format!("<ReceiverInfo {} ({}){at}>", self.dotted_name(), self.kind.as_str())
    }
}

impl ReceiverInfo {
    pub(crate) fn dotted_name(&self) -> String {
        match &self.module {
            Some(module) => format!("{module}.{}", self.qualname),
            None => self.qualname.clone(),
        }
    }

    pub(crate) fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        Some(match self.line {
            Some(line) => format!("{file}:{line}"),
            None => file.clone(),
        })
    }
}

/// One live signal and its live receivers, in connection order.
#[pyclass(module = "fastdispatch", frozen, eq)]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignalInfo {
    /// `module.attribute` under which the signal can be imported, if any.
    #[pyo3(get)]
    pub name: Option<String>,
    /// The signal's class, `module.qualname`.
    #[pyo3(get, name = "type")]
    #[serde(rename = "type")]
    pub type_name: String,
    /// The module whose code created the signal, if Python code did.
    #[pyo3(get)]
    pub module: Option<String>,
    #[pyo3(get)]
    pub use_caching: bool,
    pub receivers: Vec<ReceiverInfo>,
}

#[pymethods]
impl SignalInfo {
    #[getter]
    fn receivers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.receivers.iter().cloned())
    }

    fn __repr__(&self) -> String {
        format!("<SignalInfo {} with {} receivers>", self.title(), self.receivers.len())
    }
}

impl SignalInfo {
    fn title(&self) -> String {
        match (&self.name, &self.module) {
            (Some(name), _) => name.clone(),
            (None, Some(module)) => format!("(no importable name, created in {module})"),
            (None, None) => "(no importable name)".to_owned(),
        }
    }
}

/// What `describe_all()` found: the signals listed, in creation order.
#[pyclass(module = "fastdispatch", frozen)]
pub struct SignalsReport {
    signals: Vec<SignalInfo>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    signals: &'a [SignalInfo],
}

#[pymethods]
impl SignalsReport {
    #[getter]
    fn schema_version(&self) -> u32 {
        SCHEMA_VERSION
    }

    #[getter]
    fn signals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.signals.iter().cloned())
    }

    /// The report as JSON (see `signals.schema.json`), indented by `indent`
    /// spaces, or on one line when `indent` is None.
    #[pyo3(signature = (indent = Some(2)))]
    fn to_json(&self, indent: Option<usize>) -> PyResult<String> {
        let report = JsonReport {
            schema_version: SCHEMA_VERSION,
            signals: &self.signals,
        };
        let json = match indent {
            None => serde_json::to_vec(&report),
            Some(width) => pretty_json(&report, width)?,
        };
        let json = json.map_err(|err| PyValueError::new_err(err.to_string()))?;
        String::from_utf8(json).map_err(|err| PyValueError::new_err(err.to_string()))
    }

    /// The report as a readable table per signal.
    fn to_text(&self) -> String {
        render_text(&self.signals)
    }

    fn __len__(&self) -> usize {
        self.signals.len()
    }

    fn __repr__(&self) -> String {
        format!("<SignalsReport of {} signals>", self.signals.len())
    }
}

/// Every live signal in the process, in creation order.
#[pyfunction]
pub fn live_signals(py: Python<'_>) -> Vec<Bound<'_, PyAny>> {
    registry::live_signals(py).into_iter().map(|live| live.signal).collect()
}

/// Describe one signal: its importable name and its live receivers, or
/// only those that would run for `sender` (limited to it, or to any sender).
#[pyfunction]
#[pyo3(signature = (signal, *, sender = None))]
pub fn describe(signal: &Bound<'_, PyAny>, sender: Option<&Bound<'_, PyAny>>) -> PyResult<SignalInfo> {
    let py = signal.py();
    let Ok(native) = signal.cast::<Signal>() else {
        return Err(PyTypeError::new_err(format!(
            "describe() takes a fastdispatch.Signal, not {}",
            qualified_type_name(&signal.get_type())?
        )));
    };
    let live = LiveSignal {
        signal: signal.clone(),
        module: registry::creating_module_of(signal),
    };
    let sender_key = sender.map(make_id).transpose()?;
    let names = importable_names(py, std::slice::from_ref(&live))?;
    let name = names.into_iter().next().flatten();
    signal_info(native, live.module.as_ref(), name, sender_key)
}

/// Describe every live signal, in creation order: all of them, or the one
/// called `name` (its full dotted name, or a dotted tail of it when only
/// one name ends so). With `sender`, each signal's receivers are those that
/// would run for it, and, unless `name` picks one, signals where none would
/// are left out.
#[pyfunction]
#[pyo3(signature = (*, name = None, sender = None))]
pub fn describe_all(py: Python<'_>, name: Option<&str>, sender: Option<&Bound<'_, PyAny>>) -> PyResult<SignalsReport> {
    let sender_key = sender.map(make_id).transpose()?;
    let live = registry::live_signals(py);
    let names = importable_names(py, &live)?;
    let chosen: Vec<usize> = match name {
        Some(wanted) => vec![select_by_name(&names, wanted)?],
        None => (0..live.len()).collect(),
    };
    let mut signals = Vec::with_capacity(chosen.len());
    for index in chosen {
        let Ok(native) = live[index].signal.cast::<Signal>() else {
            continue;
        };
        let info = signal_info(native, live[index].module.as_ref(), names[index].clone(), sender_key)?;
        if name.is_none() && sender_key.is_some() && info.receivers.is_empty() {
            continue;
        }
        signals.push(info);
    }
    Ok(SignalsReport { signals })
}

/// The index of the signal called `wanted`: its full name, or failing that
/// the only name ending with `.wanted`.
fn select_by_name(names: &[Option<String>], wanted: &str) -> PyResult<usize> {
    if let Some(index) = names.iter().position(|n| n.as_deref() == Some(wanted)) {
        return Ok(index);
    }
    let tail = format!(".{wanted}");
    let matches: Vec<(usize, &str)> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| n.as_deref().filter(|n| n.ends_with(&tail)).map(|n| (i, n)))
        .collect();
    match matches.as_slice() {
        [(index, _)] => Ok(*index),
        [] => Err(SignalLookupError::new_err(format!(
            "unknown signal '{wanted}': no live signal is named so, or with a name ending in '{tail}'"
        ))),
        several => {
            let mut candidates: Vec<&str> = several.iter().map(|(_, n)| *n).collect();
            candidates.sort_unstable();
            Err(SignalLookupError::new_err(format!(
                "signal name '{wanted}' is ambiguous: {}; give the full dotted name",
                candidates.join(", ")
            )))
        }
    }
}

fn signal_info(
    signal: &Bound<'_, Signal>,
    module: Option<&Bound<'_, PyString>>,
    name: Option<String>,
    sender_key: Option<ObjId>,
) -> PyResult<SignalInfo> {
    Ok(SignalInfo {
        name,
        type_name: qualified_type_name(&signal.get_type())?,
        module: module.map(|m| m.to_string()),
        use_caching: signal.get().use_caching_enabled(),
        receivers: receivers(signal, sender_key)?,
    })
}

/// The live receivers of `signal`, in connection order; with `sender_key`,
/// only those that would run for that sender.
fn receivers(signal: &Bound<'_, Signal>, sender_key: Option<ObjId>) -> PyResult<Vec<ReceiverInfo>> {
    let py = signal.py();
    let any_sender = ObjId::of_none();
    let mut found = Vec::new();
    for entry in signal.get().entries(py)? {
        if sender_key.is_some_and(|key| entry.sender != any_sender && entry.sender != key) {
            continue;
        }
        if let Some((_, info)) = entry_info(py, &entry)? {
            found.push(info);
        }
    }
    Ok(found)
}

/// One connection of a signal, described; None when its receiver, or the
/// sender it is limited to, is dead: it never runs again.
fn entry_info<'py>(py: Python<'py>, entry: &Entry) -> PyResult<Option<(Bound<'py, PyAny>, ReceiverInfo)>> {
    let Some(receiver) = weak::resolve(py, &entry.receiver)? else {
        return Ok(None);
    };
    let sender = if entry.sender == ObjId::of_none() {
        None
    } else {
        match &entry.sender_ref {
            Some(sender_ref) => match weak::resolve(py, sender_ref)? {
                Some(sender) => Some(sender_label(&sender)?),
                None => return Ok(None),
            },
            None => Some(unreferenced_sender_label(entry.sender)),
        }
    };
    let code = locate(&receiver)?;
    let info = ReceiverInfo {
        qualname: code.qualname,
        module: code.module,
        file: code.file,
        line: code.line,
        kind: code.kind,
        sender,
        weak: weak::is_weakref(&entry.receiver),
        is_async: entry.is_async,
        dispatch_uid: dispatch_uid(&entry.key, &receiver)?,
    };
    Ok(Some((receiver, info)))
}

/// `receiver` as `describe(signal)` shows it: its first live connection to
/// `signal`, told by `_make_id` as connections are; or, for a receiver no
/// longer connected, where its code is, with any sender, held strongly and
/// sync.
pub(crate) fn receiver_info(signal: &Bound<'_, PyAny>, receiver: &Bound<'_, PyAny>) -> PyResult<ReceiverInfo> {
    let py = signal.py();
    if let Ok(native) = signal.cast::<Signal>() {
        let wanted = native_make_id(receiver)?;
        for entry in native.get().entries(py)? {
            let Some(connected) = weak::resolve(py, &entry.receiver)? else {
                continue;
            };
            if connected.is(receiver) || native_make_id(&connected)? == wanted {
                if let Some((_, info)) = entry_info(py, &entry)? {
                    return Ok(info);
                }
            }
        }
    }
    let code = locate(receiver)?;
    Ok(ReceiverInfo {
        qualname: code.qualname,
        module: code.module,
        file: code.file,
        line: code.line,
        kind: code.kind,
        sender: None,
        weak: false,
        is_async: false,
        dispatch_uid: None,
    })
}

/// The names `describe` gives `signals` (see `importable_names`).
pub(crate) fn signal_names(py: Python<'_>, signals: &[Bound<'_, PyAny>]) -> PyResult<Vec<Option<String>>> {
    let live: Vec<LiveSignal<'_>> = signals
        .iter()
        .map(|signal| LiveSignal {
            signal: signal.clone(),
            module: registry::creating_module_of(signal),
        })
        .collect();
    let mut names = importable_names(py, &live)?;
    for (name, live) in names.iter_mut().zip(&live) {
        if name.is_none() {
            if let Some(module) = &live.module {
                *name = Some(format!("(created in {module})"));
            }
        }
    }
    Ok(names)
}

/// The uid a receiver was connected with, if any. An int uid (or pair of
/// ints) is stored as a receiver's identity would be: it is one when it is
/// not the identity of the receiver itself.
fn dispatch_uid(key: &ReceiverKey, receiver: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    match key {
        ReceiverKey::Uid { uid, .. } => {
            let uid = uid.bind(receiver.py());
            Ok(Some(match uid.cast::<PyString>() {
                Ok(text) => text.to_str()?.to_owned(),
                Err(_) => safe_repr(uid)?,
            }))
        }
        ReceiverKey::Target(id) => Ok(match make_id(receiver) {
            Ok(own) if own == *id => None,
            _ => Some(match id {
                ObjId::Single(n) => n.to_string(),
                ObjId::Pair(a, b) => format!("({a}, {b})"),
            }),
        }),
    }
}

/// A model as `app_label.Model` (its `_meta.label`), another class as
/// `module.qualname`, anything else as its `repr()`.
pub(crate) fn sender_label(sender: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = sender.py();
    let Ok(class) = sender.cast::<PyType>() else {
        return safe_repr(sender);
    };
    if let Some(meta) = attribute(sender, intern!(py, "_meta"))? {
        if let Some(label) = attribute(&meta, intern!(py, "label"))? {
            if let Ok(label) = label.cast::<PyString>() {
                return Ok(label.to_str()?.to_owned());
            }
        }
    }
    qualified_type_name(class)
}

/// A sender that cannot be weakly referenced (a str, an int) is not kept by
/// the signal, as in Django: only its id is.
fn unreferenced_sender_label(key: ObjId) -> String {
    match key {
        ObjId::Single(id) => format!("<object id {id:#x}>"),
        ObjId::Pair(owner, function) => format!("<bound method id ({owner:#x}, {function:#x})>"),
    }
}

/// Importable names (`module.attribute`) of the signals, found by identity:
/// in the module that created each first, so that the defining module wins
/// over modules that re-export the signal; then, for signals not found
/// there, in every loaded module, public ones first, in alphabetical order.
fn importable_names(py: Python<'_>, signals: &[LiveSignal<'_>]) -> PyResult<Vec<Option<String>>> {
    let modules = py.import("sys")?.getattr(intern!(py, "modules"))?;
    let modules = modules.cast::<PyDict>()?;
    let mut names = Vec::with_capacity(signals.len());
    // Address of each signal still unnamed -> its index in `signals`.
    let mut unnamed: AHashMap<usize, usize> = AHashMap::new();
    for (index, live) in signals.iter().enumerate() {
        let mut name = None;
        if let Some(module_name) = &live.module {
            if let Some(module) = modules.get_item(module_name)? {
                if let Ok(module) = module.cast::<PyModule>() {
                    name = attribute_holding(module, &live.signal)?.map(|attr| format!("{module_name}.{attr}"));
                }
            }
        }
        if name.is_none() {
            unnamed.insert(live.signal.as_ptr() as usize, index);
        }
        names.push(name);
    }
    if unnamed.is_empty() {
        return Ok(names);
    }

    let mut loaded: Vec<(String, Bound<'_, PyModule>)> = Vec::new();
    for item in modules.items() {
        let (key, module): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        if let (Ok(key), Ok(module)) = (key.cast::<PyString>(), module.cast_into::<PyModule>()) {
            loaded.push((key.to_str()?.to_owned(), module));
        }
    }
    loaded.sort_by(|(a, _), (b, _)| (is_private(a), a).cmp(&(is_private(b), b)));
    for (module_name, module) in loaded {
        for item in module.dict().items() {
            let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let Ok(key) = key.cast::<PyString>() else {
                continue;
            };
            if let Some(index) = unnamed.remove(&(value.as_ptr() as usize)) {
                names[index] = Some(format!("{module_name}.{}", key.to_str()?));
            }
        }
        if unnamed.is_empty() {
            break;
        }
    }
    Ok(names)
}

/// The first global of `module`, in definition order, that is `signal`.
fn attribute_holding(module: &Bound<'_, PyModule>, signal: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    for item in module.dict().items() {
        let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        if value.is(signal) {
            if let Ok(key) = key.cast::<PyString>() {
                return Ok(Some(key.to_str()?.to_owned()));
            }
        }
    }
    Ok(None)
}

fn is_private(module_name: &str) -> bool {
    module_name.split('.').any(|part| part.starts_with('_'))
}
