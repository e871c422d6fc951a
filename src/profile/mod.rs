//! `profile`: how long each receiver takes, measured where it is called.
//!
//! Recording is off unless a `Profile` is running (`fastdispatch.profiling()`,
//! `FASTDISPATCH_PROFILE=1`, `manage.py signals --profile`, the debug
//! toolbar's panel). A send reads one counter to know: while it is zero,
//! nothing else on the path changes. While it is not, the sync receivers of
//! `send` and `send_robust` are timed natively (two clock reads around each
//! call, `signal/send.rs`), and the receivers run by `fastdispatch._glue`
//! (async receivers, `asend`'s sync receivers in their thread) are timed
//! there and recorded through `_profile_record`: one recording path for all.
//!
//! - `mod.rs`: the switch, the running profiles, recording a send's calls
//! - `session.rs`: one profile's rows, keyed by (signal, receiver)
//! - `report.rs`: the rows as data (`Profile`, `ReceiverTiming`) and JSON
//! - `render.rs`: the rows as a text table
//! - `clock.rs`: the clock of native timings, and its ticks in nanoseconds
//!
//! No lock is held while Python code runs: what needs Python (a receiver's
//! weak reference, a sender's label) is made before a profile's lock is
//! taken, and what a row releases is released after it is let go.

mod clock;
mod render;
mod report;
mod session;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use pyo3::prelude::*;
use smallvec::SmallVec;

pub use clock::ticks;
pub use report::{Profile, ReceiverTiming, SCHEMA_VERSION};
pub use session::Timed;
use session::{Batch, Session, Unit};

/// How many profiles are running: the one thing a send reads when none is.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// The running profiles; written only when one starts or stops.
static SESSIONS: RwLock<Vec<Arc<Session>>> = RwLock::new(Vec::new());

/// Whether calls are being recorded: one relaxed load.
#[inline(always)]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

/// How a receiver's call ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// It returned.
    Returned,
    /// It raised, and the error went on to the caller.
    Raised,
    /// It raised an `Exception`, which a robust send caught.
    Caught,
}

/// Record the calls of one send, timed in ticks (`ticks()`), in every
/// running profile. Never fails: a row that cannot be made (memory) is left out.
#[inline(never)]
pub fn record(signal: &Bound<'_, PyAny>, sender: &Bound<'_, PyAny>, calls: &[Timed<'_>]) {
    record_in(signal, sender, calls, Unit::Ticks);
}

/// A profile, and the calls of a batch it still has to count.
type Unrecorded = (Arc<Session>, SmallVec<[usize; 4]>);

fn record_in(signal: &Bound<'_, PyAny>, sender: &Bound<'_, PyAny>, calls: &[Timed<'_>], unit: Unit) {
    if calls.is_empty() {
        return;
    }
    let mut batch = Batch::new(signal, sender, calls, unit);
    // The calls whose rows are there are counted under the read lock (no
    // Python code runs there); the others after it is let go, as making
    // their rows may run Python code, which could start or stop a profile.
    let mut rest: SmallVec<[Unrecorded; 1]> = SmallVec::new();
    {
        let sessions = SESSIONS.read();
        for session in sessions.iter() {
            let missing = session.record_known(&batch);
            if !missing.is_empty() {
                rest.push((session.clone(), missing));
            }
        }
    }
    for (session, missing) in rest {
        for index in missing {
            session.record_new(&mut batch, index);
        }
    }
}

/// Start a profile: recording is on until it stops.
fn start() -> Arc<Session> {
    clock::init();
    let session = Arc::new(Session::default());
    SESSIONS.write().push(session.clone());
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    session
}

/// Stop `session`; recording goes off with the last one.
fn stop(session: &Arc<Session>) {
    let removed = {
        let mut sessions = SESSIONS.write();
        let before = sessions.len();
        sessions.retain(|s| !Arc::ptr_eq(s, session));
        before != sessions.len()
    };
    if removed {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
    session.freeze();
}

/// Whether receiver calls are being recorded in this process.
#[pyfunction]
pub fn _profiling_active() -> bool {
    active()
}

/// Record one receiver call timed in Python: `elapsed_ns` nanoseconds;
/// `raised` when it raised, `caught` when a robust send caught that.
#[pyfunction]
#[pyo3(signature = (signal, receiver, sender, elapsed_ns, raised = false, caught = false))]
pub fn _profile_record(
    signal: &Bound<'_, PyAny>,
    receiver: &Bound<'_, PyAny>,
    sender: &Bound<'_, PyAny>,
    elapsed_ns: u64,
    raised: bool,
    caught: bool,
) {
    let outcome = match (raised, caught) {
        (false, _) => Outcome::Returned,
        (true, false) => Outcome::Raised,
        (true, true) => Outcome::Caught,
    };
    let call = Timed {
        receiver: receiver.clone(),
        duration: elapsed_ns,
        outcome,
    };
    record_in(signal, sender, std::slice::from_ref(&call), Unit::Nanoseconds);
}

/// Start recording receiver calls into a new `Profile`, until its `stop()`.
#[pyfunction]
pub fn _profile_start() -> Profile {
    Profile::new(start())
}
