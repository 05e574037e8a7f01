//! The system clock, for the drivers and the binary (the machines get it as
//! a [`Clock`]).

use logtap_core::clock::Clock;

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> i64 {
        now_us()
    }
}

/// Microseconds since the epoch by the wall clock: what sources put in
/// `ChangeEvent::processed_at_us`.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A watermark run id, new for each start, so that a watermark written by
/// an earlier start (replayed after a restart) is never taken for this
/// one's.
pub fn run_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 40)
}
