//! The clock of native timings: the processor's time-stamp counter where it
//! runs at a constant rate on every core (x86-64 with an invariant TSC: one
//! read costs about a third of a `clock_gettime`), the monotonic clock
//! elsewhere. Ticks become nanoseconds when a report is read, at the rate
//! measured between the first recording's start and that moment.

use std::sync::OnceLock;
use std::time::Instant;

/// When the clock was first read, in both units.
struct Epoch {
    instant: Instant,
    ticks: u64,
}

static EPOCH: OnceLock<Epoch> = OnceLock::new();
static USE_TSC: OnceLock<bool> = OnceLock::new();

/// Set the clock up (once); called when a recording starts, before any tick
/// is taken.
pub fn init() {
    USE_TSC.get_or_init(invariant_tsc);
    EPOCH.get_or_init(|| Epoch {
        instant: Instant::now(),
        ticks: raw_ticks(),
    });
}

/// Now, in ticks.
#[inline(always)]
pub fn ticks() -> u64 {
    raw_ticks()
}

#[inline(always)]
fn raw_ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if USE_TSC.get().copied().unwrap_or(false) {
            // SAFETY: RDTSC exists on every x86-64 processor; it reads a
            // counter and touches no memory.
            return unsafe { core::arch::x86_64::_rdtsc() };
        }
    }
    monotonic_ns()
}

/// Nanoseconds since the epoch on the monotonic clock (0 before it is set).
fn monotonic_ns() -> u64 {
    EPOCH.get().map_or(0, |epoch| {
        u64::try_from(epoch.instant.elapsed().as_nanos()).unwrap_or(u64::MAX)
    })
}

/// `ticks` in nanoseconds.
pub fn to_ns(ticks: u64) -> u64 {
    if !USE_TSC.get().copied().unwrap_or(false) {
        return ticks;
    }
    let Some(epoch) = EPOCH.get() else {
        return ticks;
    };
    let elapsed_ns = epoch.instant.elapsed().as_nanos();
    let elapsed_ticks = u128::from(raw_ticks().saturating_sub(epoch.ticks));
    if elapsed_ticks == 0 {
        return 0;
    }
    u64::try_from(u128::from(ticks) * elapsed_ns / elapsed_ticks).unwrap_or(u64::MAX)
}

/// Whether the time-stamp counter ticks at a constant rate, in every power
/// state, alike on all cores (CPUID's "invariant TSC").
#[cfg(target_arch = "x86_64")]
// `__cpuid` is a safe function from Rust 1.87 on, unsafe before.
#[allow(unused_unsafe)]
fn invariant_tsc() -> bool {
    use core::arch::x86_64::__cpuid;
    // SAFETY: CPUID exists on every x86-64 processor; leaf 0x8000_0007 is
    // asked for only when leaf 0x8000_0000 says it exists.
    unsafe { __cpuid(0x8000_0000).eax >= 0x8000_0007 && (__cpuid(0x8000_0007).edx >> 8) & 1 == 1 }
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::{init, ticks, to_ns};

    #[test]
    fn ticks_convert_to_about_the_time_that_passed() {
        init();
        let start = ticks();
        let began = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let measured = to_ns(ticks().saturating_sub(start));
        let real = began.elapsed().as_nanos() as u64;
        assert!(measured > real / 2 && measured < real * 2, "{measured} vs {real}");
    }
}
