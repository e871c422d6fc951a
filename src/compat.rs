//! Which Django's dispatcher the native `Signal` stands in for.
//!
//! Code in the wild reads a signal's internals the way its own Django lays
//! them out (it branches on `django.VERSION`), so the native `Signal` shows
//! the layout of the installed Django's `dispatcher.py`. The series is chosen
//! once, when the `fastdispatch` package is imported (`fastdispatch._compat`
//! reads `django.VERSION`), before any signal exists; what is stored inside
//! is the same for every series, only what Python sees differs:
//!
//! | series | `receivers` row | `_live_receivers` | async receivers | dead-receiver hook |
//! |---|---|---|---|---|
//! | 4.2 | `(key, receiver)` | a list | none (plain callables) | `_remove_receiver` |
//! | 5.0–5.2 | `(key, receiver, is_async)` | `(sync, async)` | `asgiref` | `_remove_receiver` |
//! | 6.0 | `(key, receiver, sender_ref, is_async)` | `(sync, async)` | `asgiref` | `_flag_dead_receivers` |
//! | 6.1 | `(key, receiver, sender_ref, is_async)` | `(sync, async)` | `inspect` | `_flag_dead_receivers` |

use std::sync::atomic::{AtomicU8, Ordering};

use pyo3::prelude::*;

/// A Django series whose dispatcher differs from the others in what code
/// outside it can see. 5.0 and 5.1 have 5.2's `dispatcher.py`, byte for byte.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub enum Series {
    Django42 = 1,
    Django5 = 2,
    Django60 = 3,
    Django61 = 4,
}

static SERIES: AtomicU8 = AtomicU8::new(Series::Django61 as u8);

impl Series {
    /// The series whose dispatcher Django `major.minor` has: older versions
    /// than 4.2 get 4.2's, newer than 6.1 get 6.1's.
    pub fn of_version(major: u32, minor: u32) -> Series {
        match (major, minor) {
            (..=4, _) => Series::Django42,
            (5, _) => Series::Django5,
            (6, 0) => Series::Django60,
            _ => Series::Django61,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Series::Django42 => "4.2",
            Series::Django5 => "5.2",
            Series::Django60 => "6.0",
            Series::Django61 => "6.1",
        }
    }
}

/// The series in force.
#[inline(always)]
pub fn series() -> Series {
    match SERIES.load(Ordering::Relaxed) {
        1 => Series::Django42,
        2 => Series::Django5,
        3 => Series::Django60,
        _ => Series::Django61,
    }
}

/// Whether `_live_receivers` returns `(sync, async)` (Django 5.0+) rather
/// than one list.
#[inline(always)]
pub fn live_receivers_split() -> bool {
    series() >= Series::Django5
}

/// Whether `send_robust` logs a failure through `_log_robust_failure`
/// (Django 5.0+, where a subclass may override it); 4.2 has no such method.
#[inline(always)]
pub fn has_log_robust_failure() -> bool {
    series() >= Series::Django5
}

/// Whether a `receivers` row carries the sender's weak reference (Django 6.0+).
#[inline(always)]
pub fn rows_have_sender_ref() -> bool {
    series() >= Series::Django60
}

/// `_set_django_version(major, minor)`: make the native `Signal` show the
/// internals of Django `major.minor`'s dispatcher; returns the series it
/// follows ("4.2", "5.2", "6.0" or "6.1"). Called by `fastdispatch._compat`,
/// which also gives the class that series' methods.
#[pyfunction]
pub fn _set_django_version(major: u32, minor: u32) -> &'static str {
    let series = Series::of_version(major, minor);
    SERIES.store(series as u8, Ordering::Relaxed);
    series.name()
}

/// The series in force, by name.
#[pyfunction]
pub fn _django_series() -> &'static str {
    series().name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_their_dispatcher() {
        assert_eq!(Series::of_version(3, 2), Series::Django42);
        assert_eq!(Series::of_version(4, 2), Series::Django42);
        assert_eq!(Series::of_version(5, 0), Series::Django5);
        assert_eq!(Series::of_version(5, 2), Series::Django5);
        assert_eq!(Series::of_version(6, 0), Series::Django60);
        assert_eq!(Series::of_version(6, 1), Series::Django61);
        assert_eq!(Series::of_version(7, 0), Series::Django61);
    }

    #[test]
    fn setting_a_version_sets_its_series() {
        assert_eq!(_set_django_version(5, 1), "5.2");
        assert_eq!(series(), Series::Django5);
        assert_eq!(_set_django_version(6, 1), "6.1");
        assert_eq!(series(), Series::Django61);
    }
}
