//! The runtime side both sources share, kept out of `logtap-core` so that
//! crate does no IO: the handle on a snapshot's chunk task and the one
//! drive loop over it (tokio), and the system clock.

pub mod chunks;
pub mod clock;

pub use clock::{now_us, run_id, SystemClock};
