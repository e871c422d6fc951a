//! One profile's rows: for each (signal, receiver) that ran, its calls, time,
//! errors and senders.
//!
//! A row is keyed as Django keys a receiver (`_make_id` of the receiver that
//! ran: a bound method by its object and function), beside the signal's
//! address. It holds weak references to what its key is made of (the object
//! itself where it allows none), so that an address taken over by a new
//! object is never mistaken for the old one: a row whose objects died is
//! dropped when its key comes round again and when the rows are read.

use ahash::AHashMap;
use parking_lot::Mutex;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyWeakrefReference;
use smallvec::SmallVec;

use super::Outcome;
use crate::describe;
use crate::keys::{native_make_id, ObjId};
use crate::weak;

/// How many distinct senders a row names; the others are counted together.
pub const MAX_SENDERS: usize = 16;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key {
    signal: usize,
    receiver: ObjId,
}

/// One call to record, and what recording it needs from Python, made at
/// most once for all the profiles running.
pub(super) struct Call<'a, 'py> {
    signal: &'a Bound<'py, PyAny>,
    receiver: &'a Bound<'py, PyAny>,
    sender: &'a Bound<'py, PyAny>,
    key: Key,
    sender_id: ObjId,
    elapsed_ns: u64,
    outcome: Outcome,
    label: Option<String>,
}

impl<'a, 'py> Call<'a, 'py> {
    /// None when a key cannot be made (a `__func__` that raises, say): such
    /// a call is not recorded.
    pub(super) fn new(
        signal: &'a Bound<'py, PyAny>,
        receiver: &'a Bound<'py, PyAny>,
        sender: &'a Bound<'py, PyAny>,
        elapsed_ns: u64,
        outcome: Outcome,
    ) -> Option<Self> {
        let receiver_id = native_make_id(receiver).ok()?;
        let sender_id = native_make_id(sender).ok()?;
        Some(Call {
            signal,
            receiver,
            sender,
            key: Key {
                signal: signal.as_ptr() as usize,
                receiver: receiver_id,
            },
            sender_id,
            elapsed_ns,
            outcome,
            label: None,
        })
    }

    /// The sender as `describe` names it, made once.
    fn label(&mut self) -> &str {
        self.label.get_or_insert_with(|| {
            describe::sender_label(self.sender).unwrap_or_else(|_| "<unnamed sender>".to_owned())
        })
    }
}

/// A reference a row holds: weak where the object allows it.
struct Held {
    object: Py<PyAny>,
    weak: bool,
}

impl Held {
    fn new(obj: &Bound<'_, PyAny>) -> PyResult<Held> {
        match PyWeakrefReference::new(obj) {
            Ok(weakref) => Ok(Held {
                object: weakref.into_any().unbind(),
                weak: true,
            }),
            Err(err) if err.is_instance_of::<PyTypeError>(obj.py()) => Ok(Held {
                object: obj.clone().unbind(),
                weak: false,
            }),
            Err(err) => Err(err),
        }
    }

    /// The object, while it lives. Runs no Python code.
    fn get<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        if self.weak {
            weak::referent(py, &self.object)
        } else {
            Some(self.object.bind(py).clone())
        }
    }

    /// Whether the object lives at `address`. Runs no Python code.
    fn is_at(&self, py: Python<'_>, address: usize) -> bool {
        if self.weak {
            weak::referent(py, &self.object).is_some_and(|obj| obj.as_ptr() as usize == address)
        } else {
            self.object.as_ptr() as usize == address
        }
    }
}

/// Calls, time and errors of one receiver of one signal.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub calls: u64,
    pub total_ns: u64,
    pub max_ns: u64,
    pub errors: u64,
    pub caught: u64,
    /// The senders seen, in the order first seen: (label, calls).
    pub senders: Vec<(String, u64)>,
    /// Calls from senders beyond the first `MAX_SENDERS`.
    pub other_senders: u64,
    sender_ids: Vec<ObjId>,
}

impl Stats {
    /// Count one call; false (and nothing counted) when its sender is new
    /// to the row and `label` is not given.
    fn add(&mut self, call: &Call<'_, '_>, label: Option<&str>) -> bool {
        match self.sender_ids.iter().position(|id| *id == call.sender_id) {
            Some(index) => self.senders[index].1 += 1,
            None if self.sender_ids.len() >= MAX_SENDERS => self.other_senders += 1,
            None => {
                let Some(label) = label else {
                    return false;
                };
                self.sender_ids.push(call.sender_id);
                self.senders.push((label.to_owned(), 1));
            }
        }
        self.calls += 1;
        self.total_ns = self.total_ns.saturating_add(call.elapsed_ns);
        self.max_ns = self.max_ns.max(call.elapsed_ns);
        if call.outcome != Outcome::Returned {
            self.errors += 1;
        }
        if call.outcome == Outcome::Caught {
            self.caught += 1;
        }
        true
    }
}

struct Row {
    signal: Held,
    /// What the receiver's key is made of: the receiver, or a bound method's
    /// object and function.
    receiver: SmallVec<[Held; 2]>,
    stats: Stats,
}

impl Row {
    fn new(call: &Call<'_, '_>) -> PyResult<Row> {
        let mut receiver = SmallVec::new();
        match call.key.receiver {
            ObjId::Single(_) => receiver.push(Held::new(call.receiver)?),
            ObjId::Pair(_, _) => {
                let py = call.receiver.py();
                receiver.push(Held::new(&call.receiver.getattr(intern!(py, "__self__"))?)?);
                receiver.push(Held::new(&call.receiver.getattr(intern!(py, "__func__"))?)?);
            }
        }
        Ok(Row {
            signal: Held::new(call.signal)?,
            receiver,
            stats: Stats::default(),
        })
    }

    /// Whether the objects of `key` are still the ones this row was made
    /// for. Runs no Python code.
    fn is_for(&self, py: Python<'_>, key: &Key) -> bool {
        let parts: SmallVec<[usize; 2]> = match key.receiver {
            ObjId::Single(id) => smallvec::smallvec![id],
            ObjId::Pair(owner, function) => smallvec::smallvec![owner, function],
        };
        self.signal.is_at(py, key.signal)
            && parts.len() == self.receiver.len()
            && parts.iter().zip(&self.receiver).all(|(id, held)| held.is_at(py, *id))
    }
}

/// A live row as read: its signal, what its receiver is made of, its counts.
pub struct Taken<'py> {
    pub signal: Bound<'py, PyAny>,
    /// The receiver, or a bound method's object and function.
    pub receiver: SmallVec<[Bound<'py, PyAny>; 2]>,
    pub stats: Stats,
}

#[derive(Default)]
struct State {
    frozen: bool,
    rows: AHashMap<Key, Row>,
}

/// One running (or stopped) profile.
#[derive(Default)]
pub struct Session {
    state: Mutex<State>,
}

impl Session {
    /// Count `call` in this profile (unless it stopped).
    pub(super) fn record(&self, call: &mut Call<'_, '_>) {
        let py = call.receiver.py();
        let new_row = {
            // Declared before the guard, so released after it is.
            let released: Option<Row>;
            let mut state = self.state.lock();
            if state.frozen {
                return;
            }
            match state.rows.get_mut(&call.key) {
                Some(row) if row.is_for(py, &call.key) => {
                    if row.stats.add(call, call.label.as_deref()) {
                        return;
                    }
                    false
                }
                Some(_) => {
                    released = state.rows.remove(&call.key);
                    drop(state);
                    drop(released);
                    true
                }
                None => true,
            }
        };
        // Outside the lock: what needs Python.
        call.label();
        let fresh = if new_row {
            match Row::new(call) {
                Ok(row) => Some(row),
                Err(_) => return,
            }
        } else {
            None
        };
        let mut released: SmallVec<[Row; 2]> = SmallVec::new();
        let mut state = self.state.lock();
        if state.frozen {
            released.extend(fresh);
            drop(state);
            return;
        }
        let key = call.key;
        let current = state.rows.get(&key).is_some_and(|row| row.is_for(py, &key));
        if !current {
            let Some(fresh) = fresh else {
                // Its objects died since the first look: nothing to count.
                return;
            };
            released.extend(state.rows.insert(key, fresh));
        } else {
            released.extend(fresh);
        }
        if let Some(row) = state.rows.get_mut(&key) {
            row.stats.add(call, call.label.as_deref());
        }
        drop(state);
        drop(released);
    }

    /// Record nothing more.
    pub(super) fn freeze(&self) {
        self.state.lock().frozen = true;
    }

    pub(super) fn is_frozen(&self) -> bool {
        self.state.lock().frozen
    }

    /// The live rows, copied; rows whose signal or receiver died are
    /// dropped.
    pub(super) fn take<'py>(&self, py: Python<'py>) -> Vec<Taken<'py>> {
        let mut released: Vec<Row> = Vec::new();
        let mut taken = Vec::new();
        let mut state = self.state.lock();
        let mut dead: Vec<Key> = Vec::new();
        for (key, row) in &state.rows {
            let signal = row.signal.get(py);
            let receiver: Option<SmallVec<[Bound<'py, PyAny>; 2]>> = row.receiver.iter().map(|h| h.get(py)).collect();
            match (signal, receiver) {
                (Some(signal), Some(receiver)) => taken.push(Taken {
                    signal,
                    receiver,
                    stats: row.stats.clone(),
                }),
                _ => dead.push(*key),
            }
        }
        for key in dead {
            released.extend(state.rows.remove(&key));
        }
        drop(state);
        drop(released);
        taken
    }
}
