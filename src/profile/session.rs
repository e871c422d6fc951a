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
use crate::ffi;
use crate::keys::{native_make_id, ObjId};
use crate::weak;

/// How many distinct senders a row names; the others are counted together.
pub const MAX_SENDERS: usize = 16;

/// Rows by key.
type Rows = AHashMap<Key, Row>;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key {
    signal: usize,
    receiver: ObjId,
}

/// How a batch's durations are counted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Unit {
    /// Ticks of the native clock (`clock.rs`).
    Ticks,
    /// Nanoseconds, timed in Python.
    Nanoseconds,
}

/// One call in a batch: the receiver, how long it took, how it ended.
pub struct Timed<'py> {
    pub receiver: Bound<'py, PyAny>,
    pub duration: u64,
    pub outcome: Outcome,
}

/// The calls of one send to record, with what recording them needs from
/// Python, made at most once for all the profiles running.
pub(super) struct Batch<'a, 'py> {
    signal: &'a Bound<'py, PyAny>,
    sender: &'a Bound<'py, PyAny>,
    calls: &'a [Timed<'py>],
    unit: Unit,
    /// Each receiver's key; None when it cannot be made (a `__func__` that
    /// raises, say): such a call is not recorded.
    keys: SmallVec<[Option<ObjId>; 8]>,
    label: Option<String>,
}

impl<'a, 'py> Batch<'a, 'py> {
    pub(super) fn new(
        signal: &'a Bound<'py, PyAny>,
        sender: &'a Bound<'py, PyAny>,
        calls: &'a [Timed<'py>],
        unit: Unit,
    ) -> Self {
        Batch {
            signal,
            sender,
            calls,
            unit,
            keys: calls.iter().map(|call| native_make_id(&call.receiver).ok()).collect(),
            label: None,
        }
    }

    fn key(&self, index: usize) -> Option<Key> {
        Some(Key {
            signal: self.signal.as_ptr() as usize,
            receiver: self.keys.get(index).copied().flatten()?,
        })
    }

    /// Senders are told apart by identity.
    fn sender_id(&self) -> usize {
        self.sender.as_ptr() as usize
    }

    /// The sender as `describe` names it, made once.
    fn label(&mut self) {
        if self.label.is_none() {
            self.label = Some(describe::sender_label(self.sender).unwrap_or_else(|_| "<unnamed sender>".to_owned()));
        }
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
    #[inline(always)]
    fn is_at(&self, address: usize) -> bool {
        if self.weak {
            ffi::weakref_refers_to_address(&self.object, address)
        } else {
            self.object.as_ptr() as usize == address
        }
    }
}

/// Calls, time and errors of one receiver of one signal.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub calls: u64,
    /// Time of the calls timed natively, in ticks.
    pub total_ticks: u64,
    pub max_ticks: u64,
    /// Time of the calls timed in Python, in nanoseconds.
    pub total_ns: u64,
    pub max_ns: u64,
    pub errors: u64,
    pub caught: u64,
    /// The senders seen, in the order first seen: (label, calls).
    pub senders: Vec<(String, u64)>,
    /// Calls from senders beyond the first `MAX_SENDERS`.
    pub other_senders: u64,
    sender_ids: Vec<usize>,
}

impl Stats {
    /// Count one call; false (and nothing counted) when its sender is new
    /// to the row and `label` is not given.
    #[inline]
    fn add(&mut self, sender_id: usize, label: Option<&str>, call: &Timed<'_>, unit: Unit) -> bool {
        match self.sender_ids.iter().position(|id| *id == sender_id) {
            Some(index) => self.senders[index].1 += 1,
            None if self.sender_ids.len() >= MAX_SENDERS => self.other_senders += 1,
            None => {
                let Some(label) = label else {
                    return false;
                };
                self.sender_ids.push(sender_id);
                self.senders.push((label.to_owned(), 1));
            }
        }
        self.calls += 1;
        let (total, max) = match unit {
            Unit::Ticks => (&mut self.total_ticks, &mut self.max_ticks),
            Unit::Nanoseconds => (&mut self.total_ns, &mut self.max_ns),
        };
        *total = total.saturating_add(call.duration);
        *max = (*max).max(call.duration);
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
    fn new(signal: &Bound<'_, PyAny>, called: &Bound<'_, PyAny>, key: &Key) -> PyResult<Row> {
        let mut receiver = SmallVec::new();
        match key.receiver {
            ObjId::Single(_) => receiver.push(Held::new(called)?),
            ObjId::Pair(_, _) => {
                let py = called.py();
                receiver.push(Held::new(&called.getattr(intern!(py, "__self__"))?)?);
                receiver.push(Held::new(&called.getattr(intern!(py, "__func__"))?)?);
            }
        }
        Ok(Row {
            signal: Held::new(signal)?,
            receiver,
            stats: Stats::default(),
        })
    }

    /// Whether the objects of `key` are still the ones this row was made
    /// for. Runs no Python code.
    #[inline(always)]
    fn is_for(&self, key: &Key) -> bool {
        self.signal.is_at(key.signal)
            && match (key.receiver, self.receiver.as_slice()) {
                (ObjId::Single(id), [held]) => held.is_at(id),
                (ObjId::Pair(owner, function), [held_owner, held_function]) => {
                    held_owner.is_at(owner) && held_function.is_at(function)
                }
                _ => false,
            }
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
    rows: Rows,
}

/// One running (or stopped) profile.
#[derive(Default)]
pub struct Session {
    state: Mutex<State>,
}

impl Session {
    /// Count the calls of `batch` whose row, and sender in it, are known,
    /// under one lock, running no Python code; the others' indices are
    /// returned, for `record_new`. Nothing once the profile stopped.
    pub(super) fn record_known(&self, batch: &Batch<'_, '_>) -> SmallVec<[usize; 4]> {
        let sender_id = batch.sender_id();
        let mut missing: SmallVec<[usize; 4]> = SmallVec::new();
        let mut state = self.state.lock();
        if state.frozen {
            return missing;
        }
        for (index, call) in batch.calls.iter().enumerate() {
            let Some(key) = batch.key(index) else {
                continue;
            };
            let counted = match state.rows.get_mut(&key) {
                Some(row) if row.is_for(&key) => row.stats.add(sender_id, batch.label.as_deref(), call, batch.unit),
                _ => false,
            };
            if !counted {
                missing.push(index);
            }
        }
        missing
    }

    /// Count call `index` of `batch`, whose row, or sender in its row, is
    /// new: what needs Python is made outside the lock.
    pub(super) fn record_new(&self, batch: &mut Batch<'_, '_>, index: usize) {
        let (Some(key), Some(call)) = (batch.key(index), batch.calls.get(index)) else {
            return;
        };
        let new_row = {
            // Declared before the guard, so released after it is.
            let released: Option<Row>;
            let mut state = self.state.lock();
            match state.rows.get(&key) {
                Some(row) if row.is_for(&key) => false,
                Some(_) => {
                    released = state.rows.remove(&key);
                    drop(state);
                    drop(released);
                    true
                }
                None => true,
            }
        };
        batch.label();
        let fresh = if new_row {
            match Row::new(batch.signal, &call.receiver, &key) {
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
        let current = state.rows.get(&key).is_some_and(|row| row.is_for(&key));
        if current {
            released.extend(fresh);
        } else {
            let Some(fresh) = fresh else {
                // Its objects died since the first look: nothing to count.
                return;
            };
            released.extend(state.rows.insert(key, fresh));
        }
        if let Some(row) = state.rows.get_mut(&key) {
            row.stats
                .add(batch.sender_id(), batch.label.as_deref(), call, batch.unit);
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
