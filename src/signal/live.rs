//! What a send reads: the live receivers of a signal for a sender, weak
//! references resolved, dead ones skipped, in connection order. Through the
//! signal's `_live_receivers` when user code replaced it, natively otherwise.

use std::sync::atomic::Ordering;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use smallvec::SmallVec;

use super::Signal;
use crate::compat;
use crate::ffi::{self, InstanceDict};
use crate::keys::make_id;
use crate::receivers::{CachedSender, Snapshot, Target};
use crate::weak;

/// What `resolve_built` found.
enum Built {
    /// The receivers, resolved into `live`.
    Resolved,
    /// The receivers' snapshot, to resolve outside the store.
    Snapshot(Snapshot),
    /// Nothing built for the sender (or dead receivers to clear first).
    Missing,
}

/// Live receivers for one send, split as Django's `_live_receivers` does.
#[derive(Default)]
pub struct Live<'py> {
    pub sync: SmallVec<[Bound<'py, PyAny>; 8]>,
    pub asynchronous: SmallVec<[Bound<'py, PyAny>; 2]>,
}

impl<'py> Live<'py> {
    pub fn is_empty(&self) -> bool {
        self.sync.is_empty() && self.asynchronous.is_empty()
    }

    #[inline]
    fn push(&mut self, receiver: Bound<'py, PyAny>, is_async: bool) {
        if is_async {
            self.asynchronous.push(receiver);
        } else {
            self.sync.push(receiver);
        }
    }
}

/// The live receivers of `signal` for `sender`, through `_live_receivers`
/// when user code replaced it (on the class, as sentry-sdk does, on a
/// subclass, or on the instance), natively otherwise.
pub fn live_receivers_of<'py>(signal: &Bound<'py, Signal>, sender: &Bound<'py, PyAny>) -> PyResult<Live<'py>> {
    let mut live = Live::default();
    live_receivers_of_into(signal, sender, &mut live)?;
    Ok(live)
}

/// `live_receivers_of`, filling `live` (empty) in place.
#[inline(always)]
pub fn live_receivers_of_into<'py>(
    signal: &Bound<'py, Signal>,
    sender: &Bound<'py, PyAny>,
    live: &mut Live<'py>,
) -> PyResult<()> {
    let py = signal.py();
    if !live_receivers_replaced(signal)? {
        return signal.get().live_receivers_into(py, sender, live);
    }
    let found = signal.call_method1(intern!(py, "_live_receivers"), (sender,))?;
    if !compat::live_receivers_split() {
        for receiver in found.try_iter()? {
            live.sync.push(receiver?);
        }
        return Ok(());
    }
    let (sync, asynchronous): (Bound<'py, PyAny>, Bound<'py, PyAny>) = found.extract()?;
    for receiver in sync.try_iter()? {
        live.sync.push(receiver?);
    }
    for receiver in asynchronous.try_iter()? {
        live.asynchronous.push(receiver?);
    }
    Ok(())
}

/// Whether `signal._live_receivers` is anything but the native method.
#[inline(always)]
fn live_receivers_replaced(signal: &Bound<'_, Signal>) -> PyResult<bool> {
    let py = signal.py();
    let name = intern!(py, "_live_receivers");
    let dict = match ffi::instance_dict(signal.as_any()) {
        InstanceDict::Slot(dict) => dict.map(|d| d.to_owned()),
        // An unusual layout: ask Python.
        InstanceDict::Elsewhere if signal.hasattr(intern!(py, "__dict__"))? => {
            Some(signal.getattr(intern!(py, "__dict__"))?)
        }
        InstanceDict::Elsewhere => None,
    };
    if let Some(dict) = dict {
        if dict.cast::<PyDict>()?.contains(name)? {
            return Ok(true);
        }
    }
    let this = signal.get();
    if let (tp, Some(tag)) = ffi::type_and_tag(signal.as_any()) {
        if this.native_live_type.load(Ordering::Relaxed) == tp && this.native_live_tag.load(Ordering::Relaxed) == tag {
            return Ok(false);
        }
    }
    let replaced = !signal.get_type().getattr(name)?.is(native_live_receivers(py)?);
    // The lookup gave the type a valid tag, if it can have one.
    if let (false, (tp, Some(tag))) = (replaced, ffi::type_and_tag(signal.as_any())) {
        this.native_live_type.store(tp, Ordering::Relaxed);
        this.native_live_tag.store(tag, Ordering::Relaxed);
    }
    Ok(replaced)
}

/// The native `Signal._live_receivers` method descriptor, to tell whether
/// user code replaced it. Taken when the module is made (`init_module`), so
/// that a replacement made before the first send is not taken for it.
pub fn native_live_receivers(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static DESCRIPTOR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    DESCRIPTOR
        .get_or_try_init(py, || {
            let signal_type = py.get_type::<Signal>();
            signal_type
                .getattr("__dict__")?
                .get_item("_live_receivers")
                .map(Bound::unbind)
        })
        .map(|d| d.bind(py))
}

impl Signal {
    /// Django's `not self.receivers`.
    #[inline(always)]
    pub(crate) fn has_no_receivers(&self) -> bool {
        self.shared.len.load(Ordering::Acquire) == 0
    }

    /// The first step of each of Django's sends: with no receivers at all,
    /// there is nothing to do (false). Otherwise the sender is looked up in
    /// the sender cache before anything else: a dict, so an unhashable sender
    /// is a `TypeError`; with `use_caching` a `WeakKeyDictionary`, which also
    /// refuses what it cannot weakly reference (dead receivers stay).
    #[inline]
    pub(crate) fn admits(&self, sender: &Bound<'_, PyAny>) -> PyResult<bool> {
        if self.has_no_receivers() {
            return Ok(false);
        }
        if !self.use_caching_enabled() {
            if !sender.is_none() {
                sender.hash()?;
            }
        } else {
            check_cacheable(sender)?;
        }
        Ok(true)
    }

    /// Django's `_live_receivers`: the receivers for `sender`, weak references
    /// resolved, dead ones skipped, split into sync and async.
    pub fn live_receivers<'py>(&self, py: Python<'py>, sender: &Bound<'py, PyAny>) -> PyResult<Live<'py>> {
        let mut live = Live::default();
        self.live_receivers_into(py, sender, &mut live)?;
        Ok(live)
    }

    /// `live_receivers`, filling `live` (empty) in place: the hot path of `send`.
    #[inline(always)]
    pub fn live_receivers_into<'py>(
        &self,
        py: Python<'py>,
        sender: &Bound<'py, PyAny>,
        live: &mut Live<'py>,
    ) -> PyResult<()> {
        if self.use_caching_enabled() {
            if self.dead.load(Ordering::Acquire) {
                // Django's `_live_receivers` clears the dead receivers before
                // its cache, a WeakKeyDictionary, refuses a sender: they are
                // gone even when this raises. (`send` checks the sender
                // first, as Django's does: `send.rs`.)
                self.clear_dead(py)?;
            }
            check_cacheable(sender)?;
        }
        let snapshot = match self.resolve_built(py, sender, live)? {
            Built::Resolved => return Ok(()),
            Built::Snapshot(snapshot) => snapshot,
            Built::Missing => self.build_snapshot(py, sender)?,
        };
        // Resolved all at once before any receiver runs, as in Django: a
        // receiver that disconnects or kills another does not stop it from
        // being called in this send.
        for target in snapshot.iter() {
            let Some(receiver) = weak::resolve(py, &target.receiver)? else {
                continue;
            };
            if !weak::sender_alive(py, target.sender_ref.as_ref())? {
                continue;
            }
            live.push(receiver, target.is_async);
        }
        Ok(())
    }

    /// The usual case of `live_receivers`: nothing flagged dead and the
    /// receivers for `sender` already built, found by reading the store (the
    /// sender's key, when needed, computed between two reads, since it may run
    /// Python code). When every one of them is a strong reference or a plain
    /// weakref, they are resolved during that read, without taking a
    /// reference to the snapshot; otherwise (a `WeakMethod` resolves by
    /// running Python code) the snapshot is returned. `live` is untouched
    /// unless `Resolved`.
    #[inline(always)]
    fn resolve_built<'py>(&self, py: Python<'py>, sender: &Bound<'py, PyAny>, live: &mut Live<'py>) -> PyResult<Built> {
        if self.dead.load(Ordering::Acquire) {
            return Ok(Built::Missing);
        }
        let caching = self.use_caching_enabled();
        // Computed before the read when it will be needed (the read decides).
        let mut sender_key = if !caching && self.shared.sender_specific.load(Ordering::Relaxed) && !sender.is_none() {
            Some(make_id(sender)?)
        } else {
            None
        };
        loop {
            let found = self.shared.read(py, |store| {
                let targets = if caching {
                    store
                        .cached_sender(sender.as_ptr() as usize)
                        .filter(|c| weak::refers_to(&c.sender_ref, sender))
                        .map(|c| &c.receivers)
                } else if sender_key.is_none() && store.has_sender_specific() {
                    return None;
                } else {
                    store.built_snapshot(sender_key)
                };
                Some(match targets {
                    Some(targets) if targets.iter().all(Target::resolves_natively) => {
                        live.sync.reserve(targets.len());
                        for target in targets.iter() {
                            if let Some(receiver) = target.resolve_natively(py) {
                                live.push(receiver, target.is_async);
                            }
                        }
                        Built::Resolved
                    }
                    Some(targets) => Built::Snapshot(targets.clone()),
                    None => Built::Missing,
                })
            })?;
            match found {
                Some(built) => return Ok(built),
                None => sender_key = Some(make_id(sender)?),
            }
        }
    }

    /// The receivers for `sender`, built (dead ones cleared first) and, with
    /// `use_caching`, cached for it.
    fn build_snapshot(&self, py: Python<'_>, sender: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
        let caching = self.use_caching_enabled();
        let address = sender.as_ptr() as usize;
        let locked = self.shared.lock(py);
        self.clear_dead_locked(py, &locked)?;
        if caching {
            let store = locked.read()?;
            if let Some(cached) = store
                .cached_sender(address)
                .filter(|c| weak::refers_to(&c.sender_ref, sender))
            {
                return Ok(cached.receivers.clone());
            }
        }
        let sender_key = if locked.read()?.has_sender_specific() {
            Some(make_id(sender)?)
        } else {
            None
        };
        let (snapshot, version) = locked.write(|store, _| (store.snapshot(py, sender_key), store.version()))?;
        if caching {
            // Weakly, as Django's WeakKeyDictionary: a collected sender flags
            // its entry for the next cleanup.
            let sender_ref = weak::to_object(sender, self.on_dead.bind(py).as_any())?;
            let receivers = snapshot.clone();
            locked.write(|store, released| {
                if store.version() == version {
                    let entry = CachedSender {
                        sender_ref: sender_ref.unbind(),
                        receivers,
                    };
                    store.cache_sender(address, entry, released);
                }
            })?;
        }
        Ok(snapshot)
    }
}

/// With `use_caching`, Django looks senders up in a `WeakKeyDictionary`, so a
/// sender that cannot be weakly referenced or hashed raises `TypeError`.
fn check_cacheable(sender: &Bound<'_, PyAny>) -> PyResult<()> {
    if !ffi::supports_weakrefs(sender) {
        // Let Python raise its own message.
        weak::refuse(sender)?;
    }
    sender.hash()?;
    Ok(())
}
