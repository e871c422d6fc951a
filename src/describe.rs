//! `describe`: the live signals and their receivers, as data.
//!
//! Gathered here once, into plain structs that serve every reader: the
//! Python objects of `fastdispatch.describe()` (`SignalInfo`, `ReceiverInfo`),
//! the JSON of `manage.py signals --format json` (serde; its schema ships as
//! `fastdispatch/signals.schema.json`, and `SCHEMA_VERSION` must change with
//! it) and the text table of the same command.

use std::fmt::Write as _;

use ahash::AHashMap;
use pyo3::exceptions::{PyException, PyLookupError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule, PyString, PyTuple, PyType};
use serde::Serialize;

use crate::keys::{bound_method_parts, make_id, ObjId, ReceiverKey};
use crate::python;
use crate::registry::{self, LiveSignal};
use crate::signal::{is_weakref, resolve, Signal};

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
    fn as_str(self) -> &'static str {
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
    fn dotted_name(&self) -> String {
        match &self.module {
            Some(module) => format!("{module}.{}", self.qualname),
            None => self.qualname.clone(),
        }
    }

    fn location(&self) -> Option<String> {
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
        // Dead receivers, and receivers of a dead sender, never run again.
        let Some(receiver) = resolve(py, &entry.receiver)? else {
            continue;
        };
        let sender = if entry.sender == any_sender {
            None
        } else {
            match &entry.sender_ref {
                Some(sender_ref) => match resolve(py, sender_ref)? {
                    Some(sender) => Some(sender_label(&sender)?),
                    None => continue,
                },
                None => Some(unreferenced_sender_label(entry.sender)),
            }
        };
        let code = locate(&receiver)?;
        found.push(ReceiverInfo {
            qualname: code.qualname,
            module: code.module,
            file: code.file,
            line: code.line,
            kind: code.kind,
            sender,
            weak: is_weakref(&entry.receiver),
            is_async: entry.is_async,
            dispatch_uid: dispatch_uid(&entry.key, &receiver)?,
        });
    }
    Ok(found)
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
fn sender_label(sender: &Bound<'_, PyAny>) -> PyResult<String> {
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

/// The code a receiver runs, and what kind of callable leads to it.
struct Code {
    kind: ReceiverKind,
    qualname: String,
    module: Option<String>,
    file: Option<String>,
    line: Option<u32>,
}

/// How many wrappers deep `locate` looks, against endless `__wrapped__` chains.
const MAX_UNWRAP: usize = 32;

/// Find the Python code behind a receiver: a bound method's function, a
/// partial's function, a callable object's `__call__`, and the innermost
/// function of a chain of decorators (`__wrapped__`).
fn locate(receiver: &Bound<'_, PyAny>) -> PyResult<Code> {
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
        // SAFETY: a type check of a live object.
        Some(code) if unsafe { ffi::PyCode_Check(code.as_ptr()) } != 0 => (
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
    let ptr = receiver.as_ptr();
    // SAFETY: type checks of a live object.
    let (function, class, native) = unsafe {
        (
            ffi::PyFunction_Check(ptr) != 0,
            ffi::PyType_Check(ptr) != 0,
            ffi::PyCFunction_Check(ptr) != 0,
        )
    };
    Ok(Some(if function {
        ReceiverKind::Function
    } else if method_function(receiver)?.is_some() {
        ReceiverKind::Method
    } else if is_partial(receiver)? {
        ReceiverKind::Partial
    } else if class {
        ReceiverKind::Class
    } else if native {
        ReceiverKind::Builtin
    } else {
        return Ok(None);
    }))
}

/// The function of a bound method (`__func__` beside `__self__`, as Django
/// tells bound methods).
fn method_function<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = obj.py();
    // SAFETY: `obj` is live; the parts are borrowed from it.
    if let Some((_, function)) = unsafe { bound_method_parts(obj.as_ptr()) } {
        return Ok(Some(unsafe { Bound::from_borrowed_ptr(py, function) }));
    }
    // SAFETY: a type check of a live object.
    if unsafe { ffi::PyFunction_Check(obj.as_ptr()) != 0 || ffi::PyType_Check(obj.as_ptr()) != 0 } {
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
    // SAFETY: type checks of a live object and of a bound method's borrowed
    // function.
    unsafe {
        ffi::PyFunction_Check(obj.as_ptr()) != 0
            || bound_method_parts(obj.as_ptr()).is_some_and(|(_, function)| ffi::PyFunction_Check(function) != 0)
    }
}

/// `getattr(obj, name)`, None when it raises: a receiver with odd attributes
/// is described as far as it can be rather than failing the whole report.
/// Only `Exception`s are taken for absence; `KeyboardInterrupt` and the like
/// go through.
fn attribute<'py>(obj: &Bound<'py, PyAny>, name: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
    match obj.getattr(name) {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_instance_of::<PyException>(obj.py()) => Ok(None),
        Err(err) => Err(err),
    }
}

fn text_attribute(obj: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> PyResult<Option<String>> {
    match attribute(obj, name)? {
        Some(value) => match value.cast::<PyString>() {
            Ok(text) => Ok(Some(text.to_str()?.to_owned())),
            Err(_) => Ok(None),
        },
        None => Ok(None),
    }
}

/// `repr(obj)`, or a stand-in when its `__repr__` raises.
fn safe_repr(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    match obj.repr() {
        Ok(text) => Ok(text.to_str()?.to_owned()),
        Err(err) if err.is_instance_of::<PyException>(obj.py()) => {
            Ok(format!("<{} object>", qualified_type_name(&obj.get_type())?))
        }
        Err(err) => Err(err),
    }
}

/// `module.qualname` of a class (just `qualname` for builtins).
fn qualified_type_name(class: &Bound<'_, PyType>) -> PyResult<String> {
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

/// The text report: per signal a title line, then a table of its receivers.
pub fn render_text(signals: &[SignalInfo]) -> String {
    const HEADER: [&str; 7] = [
        "receiver",
        "kind",
        "sender",
        "ref",
        "mode",
        "dispatch_uid",
        "defined at",
    ];
    let mut out = String::new();
    let mut receiver_count = 0;
    for signal in signals {
        let short_type = signal.type_name.rsplit('.').next().unwrap_or(&signal.type_name);
        let caching = if signal.use_caching { ", use_caching" } else { "" };
        let count = match signal.receivers.len() {
            0 => "no receivers".to_owned(),
            1 => "1 receiver".to_owned(),
            n => format!("{n} receivers"),
        };
        let _ = writeln!(out, "{}  [{short_type}{caching}]  {count}", signal.title());
        receiver_count += signal.receivers.len();
        if signal.receivers.is_empty() {
            out.push('\n');
            continue;
        }
        let rows: Vec<[String; 7]> = signal
            .receivers
            .iter()
            .map(|r| {
                [
                    r.dotted_name(),
                    r.kind.as_str().to_owned(),
                    r.sender.clone().unwrap_or_else(|| "any".to_owned()),
                    if r.weak { "weak" } else { "strong" }.to_owned(),
                    if r.is_async { "async" } else { "sync" }.to_owned(),
                    r.dispatch_uid.clone().unwrap_or_else(|| "-".to_owned()),
                    r.location().unwrap_or_else(|| "-".to_owned()),
                ]
            })
            .collect();
        let mut widths = HEADER.map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header = HEADER.map(str::to_owned);
        for row in std::iter::once(&header).chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            let line = format!("  {}", cells.join("  "));
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        out,
        "{}, {}",
        plural(signals.len(), "signal"),
        plural(receiver_count, "receiver")
    );
    out
}

/// `report` as indented JSON, `width` spaces per level. The output's size is
/// worked out first, so that an indent too large for memory is a
/// `MemoryError` rather than a failed allocation, which would abort the process.
fn pretty_json<T: Serialize>(report: &T, width: usize) -> PyResult<serde_json::Result<Vec<u8>>> {
    // Written with no indent, then with one space: the difference is the
    // sum of the lines' depths, each multiplied by `width` in the output.
    let flat = match counted_json(report, b"") {
        Ok(size) => size,
        Err(err) => return Ok(Err(err)),
    };
    let one = match counted_json(report, b" ") {
        Ok(size) => size,
        Err(err) => return Ok(Err(err)),
    };
    let depths = one.saturating_sub(flat);
    let spaces_needed = if depths == 0 { 0 } else { width };
    let size = depths
        .checked_mul(width)
        .and_then(|indent| indent.checked_add(flat))
        .filter(|size| isize::try_from(*size).is_ok())
        .ok_or_else(json_too_large)?;
    let mut spaces = Vec::new();
    spaces.try_reserve_exact(spaces_needed).map_err(|_| json_too_large())?;
    spaces.resize(spaces_needed, b' ');
    let mut out = Vec::new();
    out.try_reserve_exact(size).map_err(|_| json_too_large())?;
    let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    Ok(report.serialize(&mut serializer).map(|()| out))
}

/// How many bytes `report` takes as JSON indented by `indent`.
fn counted_json<T: Serialize>(report: &T, indent: &[u8]) -> serde_json::Result<usize> {
    let mut counter = ByteCounter(0);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut serializer = serde_json::Serializer::with_formatter(&mut counter, formatter);
    report.serialize(&mut serializer)?;
    Ok(counter.0)
}

/// A writer that only counts.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cold]
fn json_too_large() -> PyErr {
    pyo3::exceptions::PyMemoryError::new_err("the indented JSON would not fit in memory")
}
