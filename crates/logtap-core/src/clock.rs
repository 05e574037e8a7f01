//! Time as the state machines see it: asked of a [`Clock`] they are given,
//! never read by themselves, so they do no IO and tests can fix it. The
//! system clock is `logtap_runtime::SystemClock`.

/// Where a machine gets the time it stamps on what it makes (a change's
/// processing time, a snapshot read's time).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Microseconds since the Unix epoch.
    fn now_us(&self) -> i64;
}

/// A clock that always says the same time (for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_us(&self) -> i64 {
        self.0
    }
}
