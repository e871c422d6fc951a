//! Receiver storage: the connected receivers in connection order, indexed by
//! lookup key (so `connect`/`disconnect` never scan the whole list) and by
//! sender (so `send` touches only the receivers that can match).
//!
//! Nothing here runs Python code: it is called with the signal's lock held,
//! and Python code could re-enter the signal or release the GIL. Objects that
//! leave the store are handed back to the caller, to be released after the
//! lock (their finalisers may run arbitrary code).

use std::sync::Arc;

use ahash::AHashMap;
use pyo3::prelude::*;
use smallvec::SmallVec;

use crate::keys::{ObjId, ReceiverKey};
use crate::weak;

/// One connected receiver, as Django's `receivers` tuple
/// `((receiver_key, sender_key), receiver_or_weakref, sender_weakref, is_async)`.
pub struct Entry {
    pub key: ReceiverKey,
    pub sender: ObjId,
    /// A `weakref.ref`/`WeakMethod` for weak receivers, the receiver itself otherwise.
    pub receiver: Py<PyAny>,
    /// A weak reference to the sender where it allows one.
    pub sender_ref: Option<Py<PyAny>>,
    pub is_async: bool,
}

impl Entry {
    pub fn clone_ref(&self, py: Python<'_>) -> Entry {
        Entry {
            key: self.key.clone_ref(py),
            sender: self.sender,
            receiver: self.receiver.clone_ref(py),
            sender_ref: self.sender_ref.as_ref().map(|r| r.clone_ref(py)),
            is_async: self.is_async,
        }
    }
}

/// What `send` needs of an entry.
pub struct Target {
    pub receiver: Py<PyAny>,
    pub sender_ref: Option<Py<PyAny>>,
    pub is_async: bool,
    /// How `resolve_natively` finds the receiver, worked out once when the
    /// snapshot is built rather than at every send.
    pub resolution: Resolution,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// The receiver itself (a strong connection), any sender or a plain weakref to it.
    Strong,
    /// A plain `weakref.ref` to the receiver, any sender or a plain weakref to it.
    WeakRef,
    /// A `WeakMethod` (or another weakref subclass) to the receiver or the
    /// sender: resolving it runs Python code.
    Python,
}

impl Target {
    pub fn new(receiver: Py<PyAny>, sender_ref: Option<Py<PyAny>>, is_async: bool) -> Target {
        let resolution = if !sender_ref.as_ref().is_none_or(weak::is_plain_weakref) {
            Resolution::Python
        } else if !weak::is_weakref(&receiver) {
            Resolution::Strong
        } else if weak::is_plain_weakref(&receiver) {
            Resolution::WeakRef
        } else {
            Resolution::Python
        };
        Target {
            receiver,
            sender_ref,
            is_async,
            resolution,
        }
    }

    /// Whether `resolve_natively` can resolve it: no Python code runs.
    #[inline]
    pub fn resolves_natively(&self) -> bool {
        self.resolution != Resolution::Python
    }

    /// The receiver, if it and the sender it is limited to are alive. Only
    /// for a target that `resolves_natively`.
    #[inline]
    pub fn resolve_natively<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        if !weak::sender_alive_natively(py, self.sender_ref.as_ref()) {
            return None;
        }
        match self.resolution {
            Resolution::WeakRef => weak::referent(py, &self.receiver),
            _ => Some(self.receiver.bind(py).clone()),
        }
    }
}

/// The receivers that match one sender, in connection order. Shared, so that
/// `send` can take it from under the lock with one reference-count increment.
pub type Snapshot = Arc<[Target]>;

/// Everything removed from the store under the lock, released after it.
#[derive(Default)]
pub struct Released {
    entries: SmallVec<[Entry; 1]>,
    snapshots: SmallVec<[Snapshot; 2]>,
    objects: SmallVec<[Py<PyAny>; 1]>,
}

/// One sender in the cache of a `use_caching` signal: Django's
/// `sender_receivers_cache[sender]`, held through a weak reference so that
/// it never keeps the sender alive.
pub struct CachedSender {
    pub sender_ref: Py<PyAny>,
    pub receivers: Snapshot,
}

type Slots = SmallVec<[usize; 1]>;

pub struct ReceiverStore {
    /// Connection order; `None` marks a removed entry until the next compaction.
    slots: Vec<Option<Entry>>,
    live: usize,
    /// Slots by lookup key, in connection order. One slot per key, unless
    /// user code assigned a receivers list with repeated keys.
    by_target: AHashMap<(ObjId, ObjId), Slots>,
    /// Uid keys by (Python hash, sender); equal hashes are told apart by the caller.
    by_uid: AHashMap<(isize, ObjId), Slots>,
    /// How many entries are limited to each sender (any sender excluded).
    per_sender: AHashMap<ObjId, usize>,
    any_sender: Option<Snapshot>,
    sender_snapshots: AHashMap<ObjId, Snapshot>,
    none_id: ObjId,
    /// `use_caching` signals: senders sent to since the last change, by address.
    sender_cache: AHashMap<usize, CachedSender>,
    /// The `receivers` list handed out, while it still shows the store.
    view: Option<Py<PyAny>>,
    /// Counts changes, so that work done between two lock sections can tell
    /// whether the store changed meanwhile.
    version: u64,
}

impl ReceiverStore {
    pub fn new() -> Self {
        ReceiverStore {
            slots: Vec::new(),
            live: 0,
            by_target: AHashMap::new(),
            by_uid: AHashMap::new(),
            per_sender: AHashMap::new(),
            any_sender: None,
            sender_snapshots: AHashMap::new(),
            none_id: ObjId::of_none(),
            sender_cache: AHashMap::new(),
            view: None,
            version: 0,
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn view(&self) -> Option<&Py<PyAny>> {
        self.view.as_ref()
    }

    /// Hand out `view` as the `receivers` list, if nothing changed since
    /// `version`.
    pub fn set_view(&mut self, view: Py<PyAny>, version: u64, released: &mut Released) {
        if self.version == version {
            released.objects.extend(self.view.replace(view));
        } else {
            released.objects.push(view);
        }
    }

    pub fn cached_sender(&self, address: usize) -> Option<&CachedSender> {
        self.sender_cache.get(&address)
    }

    pub fn cached_senders(&self) -> impl Iterator<Item = &CachedSender> {
        self.sender_cache.values()
    }

    pub fn cache_sender(&mut self, address: usize, entry: CachedSender, released: &mut Released) {
        if let Some(old) = self.sender_cache.insert(address, entry) {
            released.objects.push(old.sender_ref);
            released.snapshots.push(old.receivers);
        }
    }

    /// Forget cached senders (all of them, or those `keep` rejects).
    pub fn clear_sender_cache(&mut self, mut keep: impl FnMut(&CachedSender) -> bool, released: &mut Released) {
        let stale: SmallVec<[usize; 4]> = self
            .sender_cache
            .iter()
            .filter(|(_, c)| !keep(c))
            .map(|(a, _)| *a)
            .collect();
        for address in stale {
            if let Some(old) = self.sender_cache.remove(&address) {
                released.objects.push(old.sender_ref);
                released.snapshots.push(old.receivers);
            }
        }
    }

    /// Every change goes through here: outdated views and caches go.
    fn changed(&mut self, released: &mut Released) {
        self.version += 1;
        released.objects.extend(self.view.take());
        self.clear_sender_cache(|_| false, released);
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().flatten()
    }

    /// Entries with their slot numbers, for two-phase operations that must
    /// run Python code between finding and removing.
    pub fn slots(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(slot, entry)| entry.as_ref().map(|e| (slot, e)))
    }

    pub fn entry_at(&self, slot: usize) -> Option<&Entry> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// Whether some receiver is limited to a particular sender: only then does
    /// `send` need to compute the sender's key.
    pub fn has_sender_specific(&self) -> bool {
        !self.per_sender.is_empty()
    }

    pub fn find_target(&self, receiver: ObjId, sender: ObjId) -> Option<usize> {
        self.by_target
            .get(&(receiver, sender))
            .and_then(|slots| slots.first().copied())
    }

    /// Entries whose uid has this hash, for the caller to compare with `==`.
    pub fn uid_candidates(&self, py: Python<'_>, hash: isize, sender: ObjId) -> SmallVec<[(usize, Py<PyAny>); 1]> {
        let Some(slots) = self.by_uid.get(&(hash, sender)) else {
            return SmallVec::new();
        };
        slots
            .iter()
            .filter_map(|&slot| match self.entry_at(slot).map(|e| &e.key) {
                Some(ReceiverKey::Uid { uid, .. }) => Some((slot, uid.clone_ref(py))),
                _ => None,
            })
            .collect()
    }

    pub fn push(&mut self, entry: Entry, released: &mut Released) {
        let slot = self.slots.len();
        self.index(&entry, slot);
        if entry.sender != self.none_id {
            *self.per_sender.entry(entry.sender).or_insert(0) += 1;
        }
        self.invalidate(entry.sender, released);
        self.slots.push(Some(entry));
        self.live += 1;
        self.changed(released);
    }

    pub fn remove(&mut self, slot: usize, released: &mut Released) {
        let Some(entry) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        match &entry.key {
            ReceiverKey::Target(id) => unindex(&mut self.by_target, (*id, entry.sender), slot),
            ReceiverKey::Uid { hash, .. } => unindex(&mut self.by_uid, (*hash, entry.sender), slot),
        }
        if entry.sender != self.none_id {
            if let Some(count) = self.per_sender.get_mut(&entry.sender) {
                *count -= 1;
                if *count == 0 {
                    self.per_sender.remove(&entry.sender);
                }
            }
        }
        self.invalidate(entry.sender, released);
        released.entries.push(entry);
        self.live -= 1;
        self.changed(released);
    }

    /// Remove the entry at `slot` if it is still the one holding `receiver`
    /// (found earlier, before Python code ran and could change the store).
    pub fn remove_if_holds(
        &mut self,
        slot: usize,
        receiver: *mut pyo3::ffi::PyObject,
        released: &mut Released,
    ) -> bool {
        if self.entry_at(slot).is_some_and(|e| e.receiver.as_ptr() == receiver) {
            self.remove(slot, released);
            return true;
        }
        false
    }

    /// Remove every entry (a new `__init__`, a receivers list assigned, or GC).
    pub fn clear(&mut self, released: &mut Released) {
        released.entries.extend(self.slots.drain(..).flatten());
        released.snapshots.extend(self.any_sender.take());
        released.snapshots.extend(self.sender_snapshots.drain().map(|(_, s)| s));
        self.by_target.clear();
        self.by_uid.clear();
        self.per_sender.clear();
        self.live = 0;
        self.changed(released);
    }

    /// The snapshot `snapshot` would return, if it is built already.
    #[inline]
    pub fn built_snapshot(&self, sender: Option<ObjId>) -> Option<&Snapshot> {
        match sender {
            Some(key) if key != self.none_id => match self.sender_snapshots.get(&key) {
                // Built, so the sender has receivers of its own: one lookup.
                Some(snapshot) => Some(snapshot),
                None if self.per_sender.contains_key(&key) => None,
                None => self.any_sender.as_ref(),
            },
            _ => self.any_sender.as_ref(),
        }
    }

    /// The receivers for a sender: those for any sender, plus those limited to
    /// `sender` (its key, or `None` when no receiver is sender-specific or the
    /// sender is `None`), in connection order. Built once per change.
    pub fn snapshot(&mut self, py: Python<'_>, sender: Option<ObjId>) -> Snapshot {
        let none_id = self.none_id;
        match sender {
            Some(key) if key != none_id && self.per_sender.contains_key(&key) => {
                if let Some(snapshot) = self.sender_snapshots.get(&key) {
                    return snapshot.clone();
                }
                let snapshot = self.collect(py, |s| s == none_id || s == key);
                self.sender_snapshots.insert(key, snapshot.clone());
                snapshot
            }
            _ => {
                if let Some(snapshot) = &self.any_sender {
                    return snapshot.clone();
                }
                let snapshot = self.collect(py, |s| s == none_id);
                self.any_sender = Some(snapshot.clone());
                snapshot
            }
        }
    }

    fn collect(&self, py: Python<'_>, matches: impl Fn(ObjId) -> bool) -> Snapshot {
        self.entries()
            .filter(|e| matches(e.sender))
            .map(|e| {
                Target::new(
                    e.receiver.clone_ref(py),
                    e.sender_ref.as_ref().map(|r| r.clone_ref(py)),
                    e.is_async,
                )
            })
            .collect()
    }

    /// A change to the receivers of `sender` outdates its snapshot; a change
    /// to the any-sender receivers outdates them all.
    fn invalidate(&mut self, sender: ObjId, released: &mut Released) {
        if sender == self.none_id {
            released.snapshots.extend(self.any_sender.take());
            released.snapshots.extend(self.sender_snapshots.drain().map(|(_, s)| s));
        } else if let Some(snapshot) = self.sender_snapshots.remove(&sender) {
            released.snapshots.push(snapshot);
        }
    }

    /// Drop the holes left by removals once they outnumber the entries, so
    /// removal stays O(1) amortized and iteration O(live). Slot numbers change:
    /// called only at the end of a change, never between finding and removing.
    pub fn compact_if_sparse(&mut self) {
        let holes = self.slots.len() - self.live;
        if holes <= 16 || holes <= self.live {
            return;
        }
        let slots = std::mem::take(&mut self.slots);
        self.by_target.clear();
        self.by_uid.clear();
        self.slots = slots.into_iter().filter(Option::is_some).collect();
        for slot in 0..self.slots.len() {
            if let Some(entry) = self.slots[slot].take() {
                self.index(&entry, slot);
                self.slots[slot] = Some(entry);
            }
        }
    }

    fn index(&mut self, entry: &Entry, slot: usize) {
        match &entry.key {
            ReceiverKey::Target(id) => self.by_target.entry((*id, entry.sender)).or_default().push(slot),
            ReceiverKey::Uid { hash, .. } => self.by_uid.entry((*hash, entry.sender)).or_default().push(slot),
        }
    }

    /// Every Python object the store holds, for the garbage collector.
    pub fn for_each_object(&self, mut visit: impl FnMut(&Py<PyAny>)) {
        for entry in self.entries() {
            visit(&entry.receiver);
            if let Some(r) = &entry.sender_ref {
                visit(r);
            }
            if let ReceiverKey::Uid { uid, .. } = &entry.key {
                visit(uid);
            }
        }
        if let Some(view) = &self.view {
            visit(view);
        }
        for cached in self.sender_cache.values() {
            visit(&cached.sender_ref);
        }
        // A snapshot is shared between the indexes and the sender cache, but
        // holds one reference per receiver: visit each snapshot once.
        let cached = self.sender_cache.values().map(|c| &c.receivers);
        let mut seen = ahash::AHashSet::new();
        let snapshots = self
            .any_sender
            .iter()
            .chain(self.sender_snapshots.values())
            .chain(cached);
        for snapshot in snapshots {
            if !seen.insert(snapshot.as_ptr()) {
                continue;
            }
            for target in snapshot.iter() {
                visit(&target.receiver);
                if let Some(r) = &target.sender_ref {
                    visit(r);
                }
            }
        }
    }
}

fn unindex<K: std::hash::Hash + Eq>(index: &mut AHashMap<K, Slots>, key: K, slot: usize) {
    if let Some(slots) = index.get_mut(&key) {
        slots.retain(|s| *s != slot);
        if slots.is_empty() {
            index.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests;
